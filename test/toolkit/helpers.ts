import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Layer, resolveOptions } from '../../src/config/index.js';
import type { StageContext } from '../../src/core/context.js';
import { CleanupLedger } from '../../src/core/ledger.js';
import type { Arch } from '../../src/core/platform.js';
import { recordingReporter } from '../../src/core/reporter.js';
import type { ToolkitRequest } from '../../src/toolkit/types.js';
import type { Mirror } from '../world/mirror/server.mjs';

export type TestContext = StageContext & { reporter: ReturnType<typeof recordingReporter>; ledger: CleanupLedger };

export function testContext(): TestContext {
  return { reporter: recordingReporter(), ledger: new CleanupLedger(), signal: new AbortController().signal };
}

/** A toolkit request against the loopback mirror, through the real option resolver (defaults included). */
/** Settings that point every download of the toolkit at the loopback mirror. */
export function mirrorLayer(mirror: Mirror): Layer {
  const values = new Map<string, unknown>([
    ['mirrors.node', mirror.urls.node],
    ['mirrors.node_musl', mirror.urls.nodeMusl],
    ['mirrors.npm', mirror.urls.npm],
    ['mirrors.uv', mirror.urls.uv],
    ['mirrors.alpine', mirror.urls.alpine],
  ]);
  return { origin: (f) => `test ${f.key}`, values };
}

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

export function tempDir(label: string): string {
  return mkdtempSync(join(tmpdir(), `memoh-toolkit-test-${label}-`));
}

export function rmrf(...dirs: string[]): void {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}

/** Every path under `dir` with its type, mode and content hash: equal snapshots mean byte-for-byte equal trees. */
export function snapshot(dir: string): string[] {
  const out: string[] = [];
  const visit = (rel: string) => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const p = join(dir, r);
      const s = lstatSync(p);
      if (s.isSymbolicLink()) out.push(`l ${r} -> ${readlinkSync(p)}`);
      else if (s.isDirectory()) {
        out.push(`d ${r} ${(s.mode & 0o7777).toString(8)}`);
        visit(r);
      } else
        out.push(
          `f ${r} ${(s.mode & 0o7777).toString(8)} ${createHash('sha256').update(readFileSync(p)).digest('hex')}`,
        );
    }
  };
  visit('');
  return out;
}

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

export function fileSha256(file: string, algo: 'sha256' | 'sha512' = 'sha256'): string {
  return createHash(algo).update(readFileSync(file)).digest('hex');
}
