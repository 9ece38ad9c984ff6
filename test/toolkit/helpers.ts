import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolveOptions } from '../../src/config/index.js';
import type { Arch } from '../../src/core/platform.js';
import type { ToolkitRequest } from '../../src/toolkit/types.js';
import { mirrorLayer } from '../support/mirror.js';
import { tempDir as supportTempDir } from '../support/tmp.js';
import type { Mirror } from '../world/mirror/server.mjs';

/** A toolkit request against the loopback mirror, through the real option resolver (defaults included). */
export function request(mirror: Mirror, over: Partial<ToolkitRequest> & { out: string; arch: Arch }): ToolkitRequest {
  const o = resolveOptions([mirrorLayer(mirror)], {});
  // Quick retries: a test waits for the behaviour, not for production backoff. The archive format is pinned
  // to gz for tests about other things (their faults name .tar.gz files); line.test.ts tests the choice itself.
  return {
    ...o.toolkit,
    cacheDir: '',
    retry: { baseDelayMs: 20, maxDelayMs: 100, idleTimeoutMs: 1500 },
    archiveFormat: 'gz',
    ...over,
  };
}

/** The toolkit tests' temp dirs keep their own prefix (memoh-toolkit-test-), apart from the product's memoh-toolkit-. */
export const tempDir = (label: string): string => supportTempDir(`toolkit-test-${label}`);

/** Runs a command in a throwaway container with the toolkit mounted where Memoh mounts it. */
export function inImage(
  image: string,
  toolkit: string,
  cmd: string,
  opts: { env?: string[]; user?: string } = {},
): { code: number; out: string } {
  const args = ['run', '--rm', '--network', 'none', '-v', `${toolkit}:/opt/memoh/toolkit:ro`];
  for (const e of opts.env ?? []) args.push('-e', e);
  if (opts.user) args.push('--user', opts.user);
  args.push('--entrypoint', '/bin/sh', image, '-c', cmd);
  try {
    return {
      code: 0,
      out: execFileSync('docker', args, { encoding: 'utf8', timeout: 120_000, stdio: ['ignore', 'pipe', 'pipe'] }),
    };
  } catch (err) {
    const e = err as { status?: number; stdout?: string; stderr?: string };
    return { code: e.status ?? -1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

/** The sha256 of a mirror file as served with the `corrupt` fault (byte at the middle flipped). */
export function corruptedSha256(file: string): string {
  const b = readFileSync(file);
  b[Math.floor(b.length / 2)] = (b[Math.floor(b.length / 2)] ?? 0) ^ 0xff;
  return createHash('sha256').update(b).digest('hex');
}
