import type { MethodDefinition, PackageDefinition, ServiceDefinition } from '@grpc/proto-loader';
import { fromJSON } from '@grpc/proto-loader';
import protobuf from 'protobufjs';
import bridgeProto from './bridge.proto?raw';
import reflectionProto from './reflection.proto?raw';

/** The package prefix ContainerService answers on: `mcpcontainer` for v3 (seed-era) bridges, `bridgepb` later. */
export type WireName = 'mcpcontainer' | 'bridgepb';
export const WIRE_NAMES: readonly WireName[] = ['mcpcontainer', 'bridgepb'];
export const serviceName = (wire: WireName): string => `${wire}.ContainerService`;

// int64 as strings (converted with a range check in client.ts), the missing enum value as its name
// (STDOUT, contract §3.11), defaults filled in, and which oneof member is set (reflection responses).
const LOADER_OPTIONS = { longs: String, enums: String, bytes: Buffer, defaults: true, oneofs: true } as const;

function parse(text: string): protobuf.Root {
  return protobuf.parse(text, { keepCase: false }).root;
}
function load(root: protobuf.Root): PackageDefinition {
  return fromJSON(root.toJSON(), LOADER_OPTIONS);
}

/** The same service definition under another package name: only the method paths change. */
function renamed(def: ServiceDefinition, fullServiceName: string): ServiceDefinition {
  const out: ServiceDefinition = {};
  for (const [name, method] of Object.entries(def)) out[name] = { ...method, path: `/${fullServiceName}/${name}` };
  return out;
}

const reflectionRoot = parse(reflectionProto);
const bridge = load(parse(bridgeProto));
const reflection = load(reflectionRoot);
const bridgeService = bridge['bridgepb.ContainerService'] as ServiceDefinition;
const reflectionService = reflection['grpc.reflection.v1.ServerReflection'] as ServiceDefinition;

export const containerServices: Record<WireName, ServiceDefinition> = {
  mcpcontainer: renamed(bridgeService, serviceName('mcpcontainer')),
  bridgepb: renamed(bridgeService, serviceName('bridgepb')),
};

export type ReflectionVersion = 'v1' | 'v1alpha';
export const reflectionMethods: Record<ReflectionVersion, MethodDefinition<object, object>> = {
  v1: reflectionService.ServerReflectionInfo as MethodDefinition<object, object>,
  v1alpha: renamed(reflectionService, 'grpc.reflection.v1alpha.ServerReflection')
    .ServerReflectionInfo as MethodDefinition<object, object>,
};

/** What a bridge's own file descriptor (from reflection) says: its services' methods and its messages' fields. */
export interface FileDescriptor {
  name: string;
  package: string;
  messages: { name: string; fields: { name: string; number: number }[] }[];
  services: { name: string; methods: string[] }[];
}

const fileDescriptorType = reflectionRoot.lookupType('grpc.reflection.v1.FileDescriptorProto');

export function decodeFileDescriptor(bytes: Uint8Array): FileDescriptor {
  const raw = fileDescriptorType.toObject(fileDescriptorType.decode(bytes), { defaults: true, arrays: true }) as {
    name: string;
    package: string;
    messageType: { name: string; field: { name: string; number: number }[] }[];
    service: { name: string; method: { name: string }[] }[];
  };
  return {
    name: raw.name,
    package: raw.package,
    messages: raw.messageType.map((m) => ({
      name: m.name,
      fields: m.field.map((f) => ({ name: f.name, number: f.number })),
    })),
    services: raw.service.map((s) => ({ name: s.name, methods: s.method.map((m) => m.name) })),
  };
}
