import type Dockerode from 'dockerode';
import type { WireName } from '../bridge/proto.js';
import type { Backend, BridgeTls, Era } from '../core/era.js';
import { InputError } from '../core/errors.js';
import type { Platform } from '../core/platform.js';
import { formatPlatform } from '../core/platform.js';

/** Where Memoh puts things inside a workspace container (bridge-contract §1–§2, memoh-current §2). */
export const RUNTIME_MOUNT = '/opt/memoh';
export const SOCKET_MOUNT = '/run/memoh';
export const BRIDGE_IN_CONTAINER = `${RUNTIME_MOUNT}/bridge`;
export const SOCKET_IN_CONTAINER = `${SOCKET_MOUNT}/bridge.sock`;
export const SOCKET_FILE = 'bridge.sock';
export const MTLS_MOUNT = `${SOCKET_MOUNT}/mtls/bridge`;
export const TINI = '/usr/bin/tini';
/** The docker backend's bridge port (`BRIDGE_TCP_ADDR=:9090`, published on 127.0.0.1:<random>). */
export const BRIDGE_TCP_PORT = 9090;
export const LABEL_BOT_ID = 'memoh.bot_id';
export const LABEL_WORKSPACE = 'memoh.workspace';
export const LABEL_CPU = 'memoh.workspace.resource.cpu_millicores';
export const LABEL_MEMORY = 'memoh.workspace.resource.memory_bytes';

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
export const CONTAINERD_HOST_CONFIG = {
  // Memoh's process is PID 1 (the bridge in v3, tini in v0.18), whatever the daemon's `init` default is.
  Init: false,
  CapDrop: ['ALL'],
  CapAdd: [...CONTAINERD_CAPS],
  SecurityOpt: ['no-new-privileges:true', 'seccomp=unconfined', 'apparmor=unconfined', 'label=disable'],
  Ulimits: [{ Name: 'nofile', Soft: 1024, Hard: 1024 }],
  Tmpfs: { '/run': 'rw,exec,dev,nosuid,strictatime,mode=755,size=65536k' },
  ShmSize: 64 * 1024 * 1024,
} as const satisfies Dockerode.HostConfig;

/** The mounts a workspace can have, each as Memoh builds it; an era lists the ones it uses, in Memoh's order. */
export type MountKind = 'resolv-conf' | 'runtime-dir' | 'bridge-file' | 'socket-dir' | 'toolkit' | 'localtime' | 'mtls';
/** The env Memoh sets, by group, in the order it builds them. */
export type EnvKind = 'tz' | 'socket-path' | 'tls' | 'home-xdg' | 'skill-roots' | 'tcp-addr';

/**
 * One era × backend, as data: everything that differs between the Memoh v3 seed and v0.18, and between
 * the containerd and docker backends, is here and nowhere else. The stages read it; they do not branch on
 * the era themselves.
 */
export interface WorkspaceShape {
  era: Era;
  backend: Backend;
  /** Memoh's argv for the workspace's only process. */
  args: readonly string[];
  /**
   * How the backend hands that argv to the engine: containerd replaces the process args entirely (any image
   * ENTRYPOINT is ignored); Memoh's docker backend sets Cmd only, so an image ENTRYPOINT is kept.
   */
  process: { Entrypoint?: string[]; Cmd: string[] };
  /** The backend's HostConfig settings: containerd's defaults, or nothing (Docker's own defaults). */
  hostConfig: Dockerode.HostConfig;
  mounts: readonly MountKind[];
  env: readonly EnvKind[];
  labels: (botId: string) => Record<string, string>;
  /** How Memoh reaches the bridge: its socket in the socket dir, or TCP on the published port. */
  transport: 'unix' | 'tcp';
  /**
   * Which TZ Memoh passes: the seed only its server's $TZ; v0.18 also detects one from /etc/timezone or the
   * /etc/localtime link (internal/container/host.go).
   */
  tz: 'server-env' | 'server-detect';
  /** v3: the host runtime dir brings the toolkit; v0.18: the image carries its own. */
  toolkitFrom: 'runtime-dir' | 'image';
  /** Where the stand-in bridge's break switch goes: next to the bridge (v3 runtime dir) or in the socket dir. */
  breakSwitchIn: 'runtime-dir' | 'socket-dir';
  /** Whether Memoh's [bridge_tls] exists in this era (≥v0.13.0). */
  tls: boolean;
  /** The wire name this era's Memoh dials (the seed's stubs were never regenerated, bridge-contract.md). */
  wire: WireName;
}

const ERA_PARTS = {
  v3: {
    args: [BRIDGE_IN_CONTAINER],
    // The seed mounts resolv.conf as well; Docker writes one for every container, so it is left to the engine.
    mounts: ['runtime-dir', 'socket-dir', 'toolkit', 'localtime'],
    env: ['tz', 'socket-path'],
    labels: (botId: string) => ({ [LABEL_BOT_ID]: botId, [LABEL_WORKSPACE]: 'v3' }),
    tz: 'server-env',
    toolkitFrom: 'runtime-dir',
    breakSwitchIn: 'runtime-dir',
    tls: false,
    wire: 'mcpcontainer',
  },
  'v0.18': {
    args: [TINI, '-g', '--', BRIDGE_IN_CONTAINER],
    mounts: ['resolv-conf', 'bridge-file', 'socket-dir', 'mtls'],
    env: ['tz', 'socket-path', 'tls', 'home-xdg', 'skill-roots'],
    // `memoh.workspace=v3` is unchanged at v0.18; the resource labels are always written, "0" when unset.
    labels: (botId: string) => ({
      [LABEL_BOT_ID]: botId,
      [LABEL_WORKSPACE]: 'v3',
      [LABEL_CPU]: '0',
      [LABEL_MEMORY]: '0',
    }),
    tz: 'server-detect',
    toolkitFrom: 'image',
    breakSwitchIn: 'socket-dir',
    tls: true,
    wire: 'bridgepb',
  },
} as const satisfies Record<Era, Omit<WorkspaceShape, 'era' | 'backend' | 'process' | 'hostConfig' | 'transport'>>;

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

/** The eras each backend existed in: Memoh's docker backend arrived in v0.8.3, after the seed. */
const BACKEND_ERAS: Record<Backend, readonly Era[]> = { containerd: ['v3', 'v0.18'], docker: ['v0.18'] };

/** The one place an era × backend becomes a workspace shape; a pair Memoh never had is bad input. */
export function workspaceShape(era: Era, backend: Backend): WorkspaceShape {
  if (!BACKEND_ERAS[backend].includes(era)) {
    throw new InputError(
      '--backend',
      `Memoh ${era} had no ${backend} backend (it arrived in v0.8.3; the seed ran workspaces on containerd only)`,
      `use --backend containerd with --memoh ${era}, or --memoh v0.18 with --backend ${backend}`,
    );
  }
  const e = ERA_PARTS[era];
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
    wire: e.wire,
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
      return bind(s.toolkitDir, `${RUNTIME_MOUNT}/toolkit`, true);
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
