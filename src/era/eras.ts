/**
 * One description of each of Memoh's eras (shared/design.md: "eras are data, not branches"): what Memoh mounts
 * and runs, which wire it dials, which contract the image must keep and which release the smoke suite's rules
 * take. The stages read it — validation (`image`), the workspace spec (`workspace`), the bridge suite
 * (`release`) — and do not branch on the era themselves. The era choice and its judging are src/core/era.ts.
 */
import type { WireName } from '../bridge/proto.js';
import type { Backend, Era } from '../core/era.js';
import { BRIDGE_IN_CONTAINER, RUNTIME_MOUNT, SOCKET_MOUNT, TINI } from './paths.js';
import type { Step } from './releases.js';

/** A path Memoh mounts over the image, as validation judges what the image has there. */
export interface EraMount {
  path: string;
  /** What Memoh puts there, in words for a report. */
  what: string;
  /** A bind of a file cannot land on a directory (runc refuses to start the container). */
  source: 'dir' | 'file';
}

/**
 * What validation needs to know about an era: which paths Memoh mounts over the image, whether the image must
 * carry the contract, who creates /data and what replaces the image's ENTRYPOINT.
 */
export interface ImageEra {
  mounts: readonly EraMount[];
  /** The image must pass Memoh's workspace contract (v0.18 §3). */
  contract: boolean;
  /** Only glibc images work: the toolkit the image carries is built glibc-only (MEMOH_TOOLKIT_GLIBC_ONLY=1). */
  glibcOnly: boolean;
  dataCreatedBy: string;
  process: string;
  /** What the user should be told to remove when something would be hidden. */
  hiddenFix: string;
}

/** The mounts a workspace can have, each as Memoh builds it; an era lists the ones it uses, in Memoh's order. */
export type MountKind = 'resolv-conf' | 'runtime-dir' | 'bridge-file' | 'socket-dir' | 'toolkit' | 'localtime' | 'mtls';
/** The env Memoh sets, by group, in the order it builds them. */
export type EnvKind = 'tz' | 'socket-path' | 'tls' | 'home-xdg' | 'skill-roots' | 'tcp-addr';

const LABEL_BOT_ID = 'memoh.bot_id';
const LABEL_WORKSPACE = 'memoh.workspace';
const LABEL_CPU = 'memoh.workspace.resource.cpu_millicores';
const LABEL_MEMORY = 'memoh.workspace.resource.memory_bytes';

/** How an era's Memoh builds the workspace container, whatever the backend (src/workspace/spec.ts adds it). */
export interface WorkspaceEra {
  /** Memoh's argv for the workspace's only process. */
  args: readonly string[];
  mounts: readonly MountKind[];
  env: readonly EnvKind[];
  labels: (botId: string) => Record<string, string>;
  /**
   * Which TZ Memoh passes: the seed only its server's $TZ; v0.18 also detects one from /etc/timezone or the
   * /etc/localtime link (internal/container/host.go).
   */
  tz: 'server-env' | 'server-detect';
  /**
   * v3: the host runtime dir brings the toolkit (so a built --toolkit is judged against the image); v0.18: the
   * image carries its own.
   */
  toolkitFrom: 'runtime-dir' | 'image';
  /** Where the stand-in bridge's break switch goes: next to the bridge (v3 runtime dir) or in the socket dir. */
  breakSwitchIn: 'runtime-dir' | 'socket-dir';
  /** Whether Memoh's [bridge_tls] exists in this era (≥v0.13.0). */
  tls: boolean;
}

export interface EraDescription {
  /** The release the era stands for among the suite's rules: the seed, or v0.18.0. */
  release: Step;
  /** The wire name this era's Memoh dials (the seed's stubs were never regenerated, bridge-contract.md). */
  wire: WireName;
  /** Where the era's Memoh ran workspaces: the docker backend arrived in v0.8.3, after the seed. */
  backends: readonly Backend[];
  image: ImageEra;
  workspace: WorkspaceEra;
}

const SOCKET_DIR: EraMount = { path: SOCKET_MOUNT, what: 'the socket dir mount', source: 'dir' };

export const ERA_DESCRIPTIONS: Record<Era, EraDescription> = {
  v3: {
    release: 'seed',
    wire: 'mcpcontainer',
    backends: ['containerd'],
    image: {
      mounts: [{ path: RUNTIME_MOUNT, what: 'the read-only runtime mount', source: 'dir' }, SOCKET_DIR],
      contract: false,
      glibcOnly: false,
      dataCreatedBy: 'the bridge creates it (0750)',
      process: `Memoh's command replaces it with ${BRIDGE_IN_CONTAINER}, so it never runs (a workspace start must reset it)`,
      hiddenFix: `remove ${RUNTIME_MOUNT} and ${SOCKET_MOUNT} from the image: Memoh mounts its runtime (bridge, toolkit, templates) and socket dir there`,
    },
    workspace: {
      args: [BRIDGE_IN_CONTAINER],
      // The seed mounts resolv.conf as well; Docker writes one for every container, so it is left to the engine.
      mounts: ['runtime-dir', 'socket-dir', 'toolkit', 'localtime'],
      env: ['tz', 'socket-path'],
      labels: (botId: string) => ({ [LABEL_BOT_ID]: botId, [LABEL_WORKSPACE]: 'v3' }),
      tz: 'server-env',
      toolkitFrom: 'runtime-dir',
      breakSwitchIn: 'runtime-dir',
      tls: false,
    },
  },
  'v0.18': {
    release: 'v0.18.0',
    wire: 'bridgepb',
    backends: ['containerd', 'docker'],
    image: {
      mounts: [{ path: BRIDGE_IN_CONTAINER, what: 'the read-only bridge mount', source: 'file' }, SOCKET_DIR],
      contract: true,
      glibcOnly: true,
      dataCreatedBy: 'Memoh creates it over the bridge at setup (Mkdir, 0750)',
      process: `the containerd backend replaces it with ${TINI} -g -- ${BRIDGE_IN_CONTAINER}, so it never runs; the docker backend keeps it and hands it that command as arguments, so it must exec them`,
      hiddenFix: `remove ${BRIDGE_IN_CONTAINER} and ${SOCKET_MOUNT} from the image: Memoh v0.18 mounts its bridge binary and socket dir there (the rest of ${RUNTIME_MOUNT} — toolkit, scripts, contract — is the image's own)`,
    },
    workspace: {
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
    },
  },
};
