import type { Era } from '../core/era.js';

/**
 * What validation needs to know about an era, as data (shared/design.md: eras are data, not branches):
 * which paths Memoh mounts over the image, whether the image must carry the contract, where the toolkit
 * comes from, who creates /data and what replaces the image's ENTRYPOINT.
 */
export interface EraMount {
  path: string;
  /** What Memoh puts there, in words for a report. */
  what: string;
  /** A bind of a file cannot land on a directory (runc refuses to start the container). */
  source: 'dir' | 'file';
}

export interface ImageEra {
  mounts: readonly EraMount[];
  /** The image must pass Memoh's workspace contract (v0.18 §3). */
  contract: boolean;
  /** The toolkit is the host's, mounted at /opt/memoh/toolkit (so --toolkit can be judged against the image). */
  hostToolkit: boolean;
  /** Only glibc images work: the toolkit the image carries is built glibc-only (MEMOH_TOOLKIT_GLIBC_ONLY=1). */
  glibcOnly: boolean;
  dataCreatedBy: string;
  process: string;
  /** What the user should be told to remove when something would be hidden. */
  hiddenFix: string;
}

const SOCKET_DIR: EraMount = { path: '/run/memoh', what: 'the socket dir mount', source: 'dir' };

export const IMAGE_ERAS: Record<Era, ImageEra> = {
  v3: {
    mounts: [{ path: '/opt/memoh', what: 'the read-only runtime mount', source: 'dir' }, SOCKET_DIR],
    contract: false,
    hostToolkit: true,
    glibcOnly: false,
    dataCreatedBy: 'the bridge creates it (0750)',
    process: "Memoh's command replaces it with /opt/memoh/bridge, so it never runs (a workspace start must reset it)",
    hiddenFix:
      'remove /opt/memoh and /run/memoh from the image: Memoh mounts its runtime (bridge, toolkit, templates) and socket dir there',
  },
  'v0.18': {
    mounts: [{ path: '/opt/memoh/bridge', what: 'the read-only bridge mount', source: 'file' }, SOCKET_DIR],
    contract: true,
    hostToolkit: false,
    glibcOnly: true,
    dataCreatedBy: 'Memoh creates it over the bridge at setup (Mkdir, 0750)',
    process:
      'the containerd backend replaces it with /usr/bin/tini -g -- /opt/memoh/bridge, so it never runs; the docker backend keeps it and hands it that command as arguments, so it must exec them',
    hiddenFix:
      "remove /opt/memoh/bridge and /run/memoh from the image: Memoh v0.18 mounts its bridge binary and socket dir there (the rest of /opt/memoh — toolkit, scripts, contract — is the image's own)",
  },
};
