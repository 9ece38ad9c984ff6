import { createHash } from 'node:crypto';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import node from '../../docker/toolkit/bin/node?raw';
import npm from '../../docker/toolkit/bin/npm?raw';
import npx from '../../docker/toolkit/bin/npx?raw';
import uv from '../../docker/toolkit/bin/uv?raw';
import uvx from '../../docker/toolkit/bin/uvx?raw';

/** Memoh's wrapper scripts (docker/toolkit/bin), embedded so the bundle needs no repository files. */
export const WRAPPERS: Readonly<Record<string, string>> = { node, npm, npx, uv, uvx };

/** Part of the cache key: a changed wrapper must not be served from an old toolkit. */
export const wrappersDigest = createHash('sha256').update(JSON.stringify(WRAPPERS)).digest('hex');

export async function writeWrappers(toolkit: string): Promise<void> {
  const bin = join(toolkit, 'bin');
  await mkdir(bin, { recursive: true });
  for (const [name, text] of Object.entries(WRAPPERS)) {
    await writeFile(join(bin, name), text);
    await chmod(join(bin, name), 0o755);
  }
}
