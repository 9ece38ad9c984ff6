import type Dockerode from 'dockerode';
import type { WireName } from '../bridge/proto.js';
import type { Backend, BridgeTls, Era } from '../core/era.js';
import { InputError } from '../core/errors.js';
import type { Platform } from '../core/platform.js';
import { formatPlatform } from '../core/platform.js';
import {
  BRIDGE_IN_CONTAINER,
  type EnvKind,
  ERA_DESCRIPTIONS,
  type MountKind,
  MTLS_MOUNT,
  RUNTIME_MOUNT,
  SOCKET_IN_CONTAINER,
  SOCKET_MOUNT,
  TOOLKIT_IN_CONTAINER,
  type WorkspaceEra,
} from '../era/index.js';

export { SOCKET_FILE } from '../era/index.js';

/** The docker backend's bridge port (`BRIDGE_TCP_ADDR=:9090`, published on 127.0.0.1:<random>). */
export const BRIDGE_TCP_PORT = 9090;

/** containerd's default capability set (pkg/oci/spec.go@v2.2.1), bounding = permitted = effective. */
export const CONTAINERD_CAPS = [
  'CHOWN',
  'DAC_OVERRIDE',
  'FSETID',
  'FOWNER',
  'MKNOD',
  'NET_RAW',
  'SETGID',
  'SETUID',
  'SETFCAP',
  'SETPCAP',
  'NET_BIND_SERVICE',
  'SYS_CHROOT',
  'KILL',
  'AUDIT_WRITE',
] as const;

/**
 * What containerd's default OCI spec gives every container, in Docker Engine's words (memoh-current §2,
 * "Reproducing the containerd defaults under Docker Engine"). Memoh pinned the same containerd in both eras.
 * Docker's tmpfs default adds noexec,nodev, so `/run` names exec,dev to match containerd's mount.
 */
const CONTAINERD_HOST_CONFIG = {
  // Memoh's process is PID 1 (the bridge in v3, tini in v0.18), whatever the daemon's `init` default is.
  Init: false,
  CapDrop: ['ALL'],
  CapAdd: [...CONTAINERD_CAPS],
  SecurityOpt: ['no-new-privileges:true', 'seccomp=unconfined', 'apparmor=unconfined', 'label=disable'],
  Ulimits: [{ Name: 'nofile', Soft: 1024, Hard: 1024 }],
  Tmpfs: { '/run': 'rw,exec,dev,nosuid,strictatime,mode=755,size=65536k' },
  ShmSize: 64 * 1024 * 1024,
} as const satisfies Dockerode.HostConfig;

/**
 * One era × backend, as data: everything that differs between the Memoh v3 seed and v0.18, and between
 * the containerd and docker backends, is here and nowhere else. The stages read it; they do not branch on
 * the era themselves.
 */
export interface WorkspaceShape extends WorkspaceEra {
  era: Era;
  backend: Backend;
  /**
   * How the backend hands that argv to the engine: containerd replaces the process args entirely (any image
   * ENTRYPOINT is ignored); Memoh's docker backend sets Cmd only, so an image ENTRYPOINT is kept.
   */
  process: { Entrypoint?: string[]; Cmd: string[] };
  /** The backend's HostConfig settings: containerd's defaults, or nothing (Docker's own defaults). */
  hostConfig: Dockerode.HostConfig;
  /** How Memoh reaches the bridge: its socket in the socket dir, or TCP on the published port. */
  transport: 'unix' | 'tcp';
  /** The wire name this era's Memoh dials (the seed's stubs were never regenerated, bridge-contract.md). */
  wire: WireName;
}

const BACKEND_PARTS = {
  containerd: {
    // v3 as the seed did it ([''] clears the image entrypoint); v0.18 as the reference's Entrypoint override.
    process: (args: readonly string[]) =>
      args.length === 1 ? { Entrypoint: [''], Cmd: [...args] } : { Entrypoint: [args[0]!], Cmd: args.slice(1) },
    hostConfig: CONTAINERD_HOST_CONFIG as Dockerode.HostConfig,
    extraEnv: [] as EnvKind[],
    transport: 'unix',
  },
  docker: {
    process: (args: readonly string[]) => ({ Cmd: [...args] }),
    hostConfig: {},
    extraEnv: ['tcp-addr'] as EnvKind[],
    transport: 'tcp',
  },
} as const;

/** The one place an era × backend becomes a workspace shape; a pair Memoh never had is bad input. */
export function workspaceShape(era: Era, backend: Backend): WorkspaceShape {
  if (!ERA_DESCRIPTIONS[era].backends.includes(backend)) {
    throw new InputError(
      '--backend',
      `Memoh ${era} had no ${backend} backend (it arrived in v0.8.3; the seed ran workspaces on containerd only)`,
      `use --backend containerd with --memoh ${era}, or --memoh v0.18 with --backend ${backend}`,
    );
  }
  const { wire, workspace: e } = ERA_DESCRIPTIONS[era];
  const b = BACKEND_PARTS[backend];
  return {
    era,
    backend,
    args: e.args,
    process: b.process(e.args),
    hostConfig: b.hostConfig,
    mounts: e.mounts,
    env: [...e.env, ...b.extraEnv],
    labels: e.labels,
    transport: b.transport,
    tz: e.tz,
    toolkitFrom: e.toolkitFrom,
    breakSwitchIn: e.breakSwitchIn,
    tls: e.tls,
    wire,
  };
}

/** Host paths and values one workspace's spec needs; which of them are read depends on the shape. */
export interface SpecInput {
  botId: string;
  image: string;
  platform: Platform;
  /** v3: the host runtime dir, mounted read-only at /opt/memoh. */
  runtimeDir?: string | undefined;
  /** v0.18: the bridge file, mounted read-only at /opt/memoh/bridge (Memoh's `bridge_path`). */
  bridgePath?: string | undefined;
  /** `<data_root>/run/<botID>` in v0.18; a temp dir in v3. */
  socketDir: string;
  /** v3: a toolkit dir (toolkit.json, bin/, node-glibc/ …), seen at /opt/memoh/toolkit. */
  toolkitDir?: string | undefined;
  /** The TZ the era's rule found on the server (this host); undefined: no TZ. */
  tz?: string | undefined;
  /** v3: host /etc/localtime, mounted only when it exists on the host. */
  localtime?: string | undefined;
  /** v0.18: the resolv.conf Memoh would mount (see hostResolvConf). */
  resolvConf?: string | undefined;
  /** v0.18: strict mTLS mounts bridgeDir and sets BRIDGE_TLS_*. */
  bridgeTls?: BridgeTls | undefined;
}

export const containerName = (botId: string): string => `workspace-${botId}`;

const strict = (t: BridgeTls | undefined): t is BridgeTls => t?.mode === 'strict';

function mountFor(kind: MountKind, s: SpecInput): Dockerode.MountSettings | undefined {
  const bind = (Source: string | undefined, Target: string, ReadOnly: boolean) =>
    Source ? { Type: 'bind' as const, Source, Target, ReadOnly } : undefined;
  switch (kind) {
    case 'resolv-conf':
      return bind(s.resolvConf, '/etc/resolv.conf', true);
    case 'runtime-dir':
      return bind(s.runtimeDir, RUNTIME_MOUNT, true);
    case 'bridge-file':
      return bind(s.bridgePath, BRIDGE_IN_CONTAINER, true);
    case 'socket-dir':
      return bind(s.socketDir, SOCKET_MOUNT, false);
    case 'toolkit':
      return bind(s.toolkitDir, TOOLKIT_IN_CONTAINER, true);
    case 'localtime':
      return bind(s.localtime, '/etc/localtime', true);
    case 'mtls':
      return strict(s.bridgeTls) ? bind(s.bridgeTls.bridgeDir, MTLS_MOUNT, true) : undefined;
  }
}

function envFor(kind: EnvKind, s: SpecInput): string[] {
  switch (kind) {
    case 'tz':
      return s.tz ? [`TZ=${s.tz}`] : [];
    case 'socket-path':
      return [`BRIDGE_SOCKET_PATH=${SOCKET_IN_CONTAINER}`];
    case 'tls':
      return strict(s.bridgeTls)
        ? [
            'BRIDGE_TLS_MODE=strict',
            `BRIDGE_TLS_CERT_FILE=${MTLS_MOUNT}/bridge-server.crt`,
            `BRIDGE_TLS_KEY_FILE=${MTLS_MOUNT}/bridge-server.key`,
            `BRIDGE_TLS_CLIENT_CA_FILE=${MTLS_MOUNT}/server-client-ca.crt`,
            `BRIDGE_TLS_EXPECTED_CLIENT_URI=spiffe://memoh/instance/${s.bridgeTls.instanceId}/server`,
          ]
        : [];
    case 'home-xdg':
      return [
        'HOME=/data',
        'XDG_CONFIG_HOME=/data/.config',
        'XDG_DATA_HOME=/data/.local/share',
        'XDG_CACHE_HOME=/data/.cache',
      ];
    case 'skill-roots':
      return ['MEMOH_SKILL_DISCOVERY_ROOTS=/data/.agents/skills:/root/.agents/skills'];
    case 'tcp-addr':
      return [`BRIDGE_TCP_ADDR=:${BRIDGE_TCP_PORT}`];
  }
}

/**
 * The one place that builds a workspace container: Memoh's spec for the shape's era and backend
 * (`ensureBotWithImage` / `buildWorkspaceContainerSpec`) in the Docker engine's words. Pure, so it can be
 * compared with the references in a unit test.
 *
 * Differences from Memoh, on purpose: networking is Docker's default bridge rather than CNI `cni0` (both
 * give outbound traffic); in v3 `/etc/resolv.conf` is left to the engine and the toolkit is a second
 * read-only bind onto the runtime dir's `toolkit/` instead of a copy inside it (the container sees the same
 * tree without ~10 000 files copied per workspace).
 */
export function workspaceSpec(shape: WorkspaceShape, s: SpecInput): Dockerode.ContainerCreateOptions {
  const mounts = shape.mounts.map((k) => mountFor(k, s)).filter((m): m is Dockerode.MountSettings => m !== undefined);
  const tcp = shape.transport === 'tcp';
  const port = `${BRIDGE_TCP_PORT}/tcp`;
  return {
    name: containerName(s.botId),
    platform: formatPlatform(s.platform),
    Image: s.image,
    ...shape.process,
    Env: shape.env.flatMap((k) => envFor(k, s)),
    Labels: shape.labels(s.botId),
    Tty: false,
    OpenStdin: false,
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    ...(tcp ? { ExposedPorts: { [port]: {} } } : {}),
    HostConfig: {
      ...structuredClone(shape.hostConfig),
      Mounts: mounts,
      Privileged: false,
      AutoRemove: false,
      RestartPolicy: { Name: 'no' },
      // An empty HostPort: the engine picks a free one, read back after start.
      ...(tcp ? { PortBindings: { [port]: [{ HostIp: '127.0.0.1', HostPort: '' }] } } : {}),
    },
  };
}

/** Splits the spec into the create call's query (name, platform) and body, as the Engine API wants them. */
export function createRequest(spec: Dockerode.ContainerCreateOptions): Dockerode.ContainerCreateOptions {
  const { name, platform, ...body } = spec;
  return { _query: { name, platform }, _body: body } as unknown as Dockerode.ContainerCreateOptions;
}
