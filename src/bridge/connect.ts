import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { PeerCertificate } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import type { BridgeTarget, BridgeTls, EraHints } from '../core/era.js';
import { errorMessage, InputError } from '../core/errors.js';
import { BridgeCallError, BridgeClient, CHANNEL_OPTIONS, codeName } from './client.js';
import { type ReflectionVersion, serviceName, WIRE_NAMES, type WireName } from './proto.js';

/**
 * What the bridge says about itself once connected, read from reflection (memoh-current.md §1): the wire
 * name dates it before/after v0.6.2, the method count 10 / 11 (Tunnel, ≥v0.8.3) / 12 (ReverseHTTP, ≥v0.10.0)
 * / 14 (NoFollow, v0.18.0), ExecInput fields 8/9 ≥v0.15.0, ListDirRequest field 6 v0.18.0.
 * Undefined: reflection could not tell (no reflection, or the descriptor lacks the message).
 */
export interface BridgeTraits {
  wire: WireName;
  reflection: ReflectionVersion | 'none';
  methods?: number | undefined;
  methodNames?: readonly string[] | undefined;
  /** ExecInput has clean_env=8 and unset_env=9. */
  execEnvFields?: boolean | undefined;
  /** ListDirRequest has max_entries=6. */
  listDirMaxEntries?: boolean | undefined;
}

export interface BridgeConnection {
  /** The wire name the bridge answered on. */
  service: WireName;
  client: BridgeClient;
  close(): void;
  /** Read from reflection after the first answer (absent only for connections made without it). */
  traits?: BridgeTraits | undefined;
  /** Where it was dialled. */
  target?: BridgeTarget | undefined;
}

/** The bridge is not answering yet (no socket, refused, no answer in time): worth another try. */
export class BridgeNotReady extends Error {
  override readonly name = 'BridgeNotReady';
}

/** The bridge answers, but not ContainerService under any name tried: final. */
export class NoContainerService extends Error {
  override readonly name = 'NoContainerService';
  constructor(
    message: string,
    readonly tried: readonly WireName[],
  ) {
    super(message);
  }
}

/** grpc-js wants `unix:///abs/path`; a relative socket path would be read as an authority (contract §4). */
function dialTarget(socketPath: string): string {
  return `unix://${resolve(socketPath)}`;
}

export interface ConnectOptions {
  service: 'auto' | WireName;
  deadlineMs: number;
  /** Read BridgeTraits from reflection after connecting (default true). */
  traits?: boolean;
}

/** Dials unix://socketPath: the containerd backend, and every v3 workspace. See connectBridgeTarget. */
export async function connectBridge(socketPath: string, opts: ConnectOptions): Promise<BridgeConnection> {
  return connectBridgeTarget({ kind: 'unix', socketPath }, opts);
}

/**
 * Dials the bridge where the workspace put it: the Unix socket (containerd backend) or a TCP host:port
 * (docker backend, BRIDGE_TCP_ADDR published on 127.0.0.1), over TCP optionally with Memoh's strict mTLS.
 * Then finds the wire name ContainerService answers on, with Stat("/") as the probe (the bridge has no
 * health service): with 'auto' it tries mcpcontainer (v3 bridges) then bridgepb; UNIMPLEMENTED means "not
 * under this name", any other answer means the service is there. Last, the bridge's traits from reflection.
 */
export async function connectBridgeTarget(target: BridgeTarget, opts: ConnectOptions): Promise<BridgeConnection> {
  let address: string;
  let where: string;
  let creds = grpc.credentials.createInsecure();
  let options: grpc.ChannelOptions = {};
  if (target.kind === 'unix') {
    const path = resolve(target.socketPath);
    await socketExists(path);
    address = dialTarget(path);
    where = path;
  } else {
    address = `${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}`;
    where = `tcp ${address}`;
    if (target.tls?.mode === 'strict') ({ creds, options } = await tlsCredentials(target.tls));
  }

  const channel = new grpc.Client(address, creds, { ...CHANNEL_OPTIONS, ...options });
  const candidates = opts.service === 'auto' ? WIRE_NAMES : [opts.service];
  const tried: WireName[] = [];
  try {
    for (const wire of candidates) {
      const client = new BridgeClient(channel, wire);
      try {
        await client.stat('/', { deadlineMs: opts.deadlineMs });
      } catch (err) {
        if (!(err instanceof BridgeCallError)) throw err;
        if (err.code === grpc.status.UNIMPLEMENTED) {
          tried.push(wire);
          continue;
        }
        if (err.code === grpc.status.UNAVAILABLE || err.code === grpc.status.DEADLINE_EXCEEDED) {
          throw new BridgeNotReady(
            `bridge at ${where} is not answering: ${codeName(err.code)}${err.details ? ` (${err.details})` : ''}`,
          );
        }
        // Any other status (even an error) came from ContainerService itself: it is there.
      }
      const traits = opts.traits === false ? undefined : await readTraits(client, opts.deadlineMs);
      return { service: wire, client, close: () => channel.close(), traits, target };
    }
    const names = tried.map(serviceName).join(' and ');
    const forced = opts.service === 'auto' ? '' : ` (forced by --service ${opts.service}; try --service auto)`;
    throw new NoContainerService(
      `bridge at ${where} answers neither name tried: ${names} gave UNIMPLEMENTED${forced}`,
      tried,
    );
  } catch (err) {
    channel.close();
    throw err;
  }
}

async function socketExists(path: string): Promise<void> {
  try {
    const st = await stat(path);
    if (!st.isSocket()) throw new BridgeNotReady(`${path} exists but is not a socket`);
  } catch (err) {
    if (err instanceof BridgeNotReady) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new BridgeNotReady(
      code === 'ENOENT' ? `socket ${path} does not exist yet` : `socket ${path}: ${errorMessage(err)}`,
    );
  }
}

/**
 * The bridge's own descriptor of ContainerService, through reflection v1 then v1alpha. Never throws: a
 * bridge without reflection (a defect the suite reports) just tells nothing beyond its wire name.
 */
async function readTraits(client: BridgeClient, deadlineMs: number): Promise<BridgeTraits> {
  const wire = client.service;
  const symbol = serviceName(wire);
  for (const version of ['v1', 'v1alpha'] as const) {
    let files: Awaited<ReturnType<typeof client.fileContainingSymbol>>;
    try {
      files = await client.fileContainingSymbol(version, symbol, { deadlineMs });
    } catch (err) {
      if (err instanceof BridgeCallError && err.code === grpc.status.UNIMPLEMENTED) continue;
      return { wire, reflection: 'none' };
    }
    const own =
      files.find((f) => f.package === wire && f.services.some((s) => s.name === 'ContainerService')) ?? files[0];
    const service = own?.services.find((s) => s.name === 'ContainerService');
    const fields = (message: string): number[] | undefined =>
      own?.messages.find((m) => m.name === message)?.fields.map((f) => f.number);
    const exec = fields('ExecInput');
    const list = fields('ListDirRequest');
    return {
      wire,
      reflection: version,
      methods: service?.methods.length,
      methodNames: service?.methods,
      execEnvFields: exec ? exec.includes(8) && exec.includes(9) : undefined,
      listDirMaxEntries: list ? list.includes(6) : undefined,
    };
  }
  return { wire, reflection: 'none' };
}

/**
 * What the bridge says about the era (memoh-current.md §1): mcpcontainer is the seed (v3); bridgepb with
 * 14 methods is v0.18; bridgepb with fewer is a bridge between the eras (v0.6.2–v0.17), judged v0.18 as a
 * guess (its behaviours are then dated one by one from the traits, see eras.ts).
 */
export function bridgeEraHint(traits: BridgeTraits): EraHints['bridge'] {
  const methods =
    traits.methods === undefined ? 'an unknown number of methods (no reflection)' : `${traits.methods} methods`;
  if (traits.wire === 'mcpcontainer') {
    return { era: 'v3', why: `the bridge answers as mcpcontainer.ContainerService (${methods}): the seed era` };
  }
  if (traits.methods !== undefined && traits.methods >= 14) {
    return {
      era: 'v0.18',
      why: `the bridge answers as bridgepb.ContainerService with ${methods} (NoFollow RPCs): v0.18`,
    };
  }
  return {
    era: 'v0.18',
    why: `the bridge answers as bridgepb.ContainerService with ${methods}: between the eras (v0.6.2–v0.17), judged as v0.18`,
    guess: true,
  };
}

const SERVER_AUTH_EKU = '1.3.6.1.5.5.7.3.1';

/**
 * Memoh's server side of strict mTLS (memoh-current.md §5 TLS row; `bridge/tls.go@v0.18.0:50-105`): present
 * server-client.crt/.key, trust only bridge-server-ca.crt, pin the authority
 * memoh-bridge.<instance>.bridge.memoh.internal (or [bridge_tls].server_name), and require the ServerAuth
 * EKU and the URI SAN spiffe://memoh/instance/<instance>/bridge on the bridge's certificate.
 */
async function tlsCredentials(
  tls: BridgeTls,
): Promise<{ creds: grpc.ChannelCredentials; options: grpc.ChannelOptions }> {
  if (!tls.instanceId)
    throw new InputError(
      'instance_id',
      'strict bridge TLS needs the instance id',
      'set instance_id (or MEMOH_INSTANCE_ID) as Memoh does',
    );
  const read = (name: string): Promise<Buffer> =>
    readFile(join(tls.serverDir, name)).catch((err: NodeJS.ErrnoException) => {
      throw new InputError(
        'bridge_tls.server_dir',
        `cannot read ${join(tls.serverDir, name)}: ${err.code ?? err.message}`,
        'give the directory cmd/gen-bridge-mtls made for the server (server-client.crt, server-client.key, bridge-server-ca.crt)',
      );
    });
  const [ca, key, cert] = await Promise.all([
    read('bridge-server-ca.crt'),
    read('server-client.key'),
    read('server-client.crt'),
  ]);
  const authority = tls.serverName || `memoh-bridge.${tls.instanceId}.bridge.memoh.internal`;
  const uri = `URI:spiffe://memoh/instance/${tls.instanceId}/bridge`;
  const creds = grpc.credentials.createSsl(ca, key, cert, {
    checkServerIdentity: (host: string, peer: PeerCertificate) => {
      const sans = (peer.subjectaltname ?? '').split(', ');
      if (!sans.includes(`DNS:${host}`))
        return new Error(`the bridge certificate is not for ${host} (SANs: ${peer.subjectaltname || 'none'})`);
      if (!sans.includes(uri)) return new Error(`the bridge certificate lacks the URI SAN ${uri.slice(4)}`);
      if (!(peer.ext_key_usage ?? []).includes(SERVER_AUTH_EKU))
        return new Error('the bridge certificate lacks the ServerAuth extended key usage');
      return undefined;
    },
  });
  return { creds, options: { 'grpc.ssl_target_name_override': authority, 'grpc.default_authority': authority } };
}
