import { join } from 'node:path';
import type { Era } from '../../src/core/era.js';

/** Where the test world keeps what it built (bridge binaries, mirror tree, rootfs tarballs). */
export const WORLD_DIR = process.env.MEMOH_WORLD_DIR ?? '/var/cache/memoh-world';
/** The stand-in bridge binary for one arch and one Memoh era (test/bridge-standin/build.sh builds all four). */
export const standinBridge = (arch: 'amd64' | 'arm64', era: Era = 'v3') =>
  join(WORLD_DIR, 'bridge', era === 'v3' ? `bridge-linux-${arch}` : `bridge-${era}-linux-${arch}`);
export const node24 = join(WORLD_DIR, 'node24', 'bin', 'node');
export const REPO = new URL('../..', import.meta.url).pathname.replace(/\/$/, '');
export const CLI = join(REPO, 'dist', 'cli.js');
