import { join } from 'node:path';

/** Where the test world keeps what it built (bridge binaries, mirror tree, rootfs tarballs). */
export const WORLD_DIR = process.env.MEMOH_WORLD_DIR ?? '/var/cache/memoh-world';
export const standinBridge = (arch: 'amd64' | 'arm64') => join(WORLD_DIR, 'bridge', `bridge-linux-${arch}`);
export const node24 = join(WORLD_DIR, 'node24', 'bin', 'node');
export const REPO = new URL('../..', import.meta.url).pathname.replace(/\/$/, '');
export const CLI = join(REPO, 'dist', 'cli.js');
