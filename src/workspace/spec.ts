import type Dockerode from 'dockerode';
import type { Platform } from '../core/platform.js';
import { formatPlatform } from '../core/platform.js';

/** Where Memoh puts things inside a workspace container (contract §1, §2). */
export const RUNTIME_MOUNT = '/opt/memoh';
export const SOCKET_MOUNT = '/run/memoh';
export const BRIDGE_IN_CONTAINER = `${RUNTIME_MOUNT}/bridge`;
export const SOCKET_IN_CONTAINER = `${SOCKET_MOUNT}/bridge.sock`;
export const SOCKET_FILE = 'bridge.sock';
export const LABEL_BOT_ID = 'memoh.bot_id';
export const LABEL_WORKSPACE = 'memoh.workspace';

export interface SpecInput {
  botId: string;
  image: string;
  platform: Platform;
  runtimeDir: string;
  socketDir: string;
  /** A toolkit dir (toolkit.json, bin/, node-glibc/ …), seen at /opt/memoh/toolkit. */
  toolkitDir?: string | undefined;
  /** The host's TZ, passed on only when set (Memoh passes its server's TZ the same way). */
  tz?: string | undefined;
  /** Host /etc/localtime, mounted only when it exists on the host. */
  localtime?: string | undefined;
}

export const containerName = (botId: string): string => `workspace-${botId}`;

/**
 * The one place that builds a workspace container: Memoh's v3 spec (`ensureBotWithImage`) in the
 * Docker engine's words. Pure, so it can be compared with the contract in a unit test.
 *
 * Differences from Memoh, on purpose: `/etc/resolv.conf` is left to the engine (Docker writes one for
 * every container; Memoh needs its own only because containerd doesn't); networking is Docker's
 * default bridge rather than CNI `cni0` (both give outbound traffic, neither exposes the bridge); and
 * the toolkit is a second read-only bind onto the runtime dir's `toolkit/` instead of a copy inside it:
 * the container sees the same tree, and a run does not copy or link ~10 000 files per workspace.
 */
export function workspaceSpec(s: SpecInput): Dockerode.ContainerCreateOptions {
  const env = [`BRIDGE_SOCKET_PATH=${SOCKET_IN_CONTAINER}`];
  if (s.tz) env.unshift(`TZ=${s.tz}`);
  const mounts: Dockerode.MountSettings[] = [
    { Type: 'bind', Source: s.runtimeDir, Target: RUNTIME_MOUNT, ReadOnly: true },
    { Type: 'bind', Source: s.socketDir, Target: SOCKET_MOUNT, ReadOnly: false },
  ];
  if (s.toolkitDir) mounts.push({ Type: 'bind', Source: s.toolkitDir, Target: `${RUNTIME_MOUNT}/toolkit`, ReadOnly: true });
  if (s.localtime) mounts.push({ Type: 'bind', Source: s.localtime, Target: '/etc/localtime', ReadOnly: true });
  return {
    name: containerName(s.botId),
    platform: formatPlatform(s.platform),
    Image: s.image,
    // Memoh's process spec replaces both the image's entrypoint and its cmd; [''] clears the entrypoint.
    Entrypoint: [''],
    Cmd: [BRIDGE_IN_CONTAINER],
    Env: env,
    Labels: { [LABEL_BOT_ID]: s.botId, [LABEL_WORKSPACE]: 'v3' },
    Tty: false,
    OpenStdin: false,
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    HostConfig: {
      Mounts: mounts,
      // The bridge must be PID 1 (it reaps zombies itself), whatever the daemon's `init` default is.
      Init: false,
      Privileged: false,
      CapAdd: [],
      AutoRemove: false,
      RestartPolicy: { Name: 'no' },
    },
  };
}

/** Splits the spec into the create call's query (name, platform) and body, as the Engine API wants them. */
export function createRequest(spec: Dockerode.ContainerCreateOptions): Dockerode.ContainerCreateOptions {
  const { name, platform, ...body } = spec;
  return { _query: { name, platform }, _body: body } as unknown as Dockerode.ContainerCreateOptions;
}
