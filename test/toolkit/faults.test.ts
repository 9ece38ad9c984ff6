// Every mirror fault the toolkit stage promises to handle, injected on the wire by the loopback mirror:
// transient ones are retried into a good toolkit, the others fail with an error that names the file, the
// URL or the option to change, and after every failure the output dir is byte-for-byte what it was.
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { linkTree } from '../../src/toolkit/cache.js';
import { buildToolkit } from '../../src/toolkit/index.js';
import type { ToolkitRequest } from '../../src/toolkit/types.js';
import { type TestContext, testContext } from '../support/context.js';
import { fileSha256, snapshot } from '../support/files.js';
import { rmrf } from '../support/tmp.js';
import { type Mirror, startMirror } from '../world/mirror/server.mjs';
import { corruptedSha256, request, tempDir } from './helpers.js';

let mirror: Mirror;
let work: string;
let seed: string;
const V = '24.14.0';
const GLIBC = `node-v${V}-linux-x64.tar.gz`;
const MUSL = `node-v${V}-linux-x64-musl.tar.gz`;
const UV = 'uv-x86_64-unknown-linux-musl.tar.gz';
const served = (rel: string) => join(mirror.root, rel);
/** Matches a file's path exactly at its end (`x.tar.gz`, not `x.tar.gz.sha256`). */
const only = (file: string) => new RegExp(`/${file.replace(/[.+]/g, '\\$&')}$`);

beforeAll(async () => {
  mirror = await startMirror();
  work = tempDir('faults');
  // One good build fills an archive cache; each test starts from a copy of it, minus the archive it faults,
  // so the test exercises its fault without paying for every download again.
  seed = join(work, 'seed');
  await buildToolkit(request(mirror, { out: join(work, 'seed-out'), arch: 'amd64', cacheDir: seed }), testContext());
}, 300_000);

afterAll(async () => {
  await mirror?.close();
  rmrf(work);
});

afterEach(() => {
  mirror.clearFaults();
  mirror.unhide();
});

let n = 0;
/** A fresh case: a cache holding the seed's archives except `drop`, and an out dir with an older toolkit in it. */
function setup(drop: string[] = []): { req: ToolkitRequest; out: string; before: string[]; ctx: TestContext } {
  const dir = join(work, `case${++n}`);
  const cacheDir = join(dir, 'cache');
  linkTree(join(seed, 'archives'), join(cacheDir, 'archives'));
  for (const d of drop) rmSync(join(cacheDir, 'archives', d), { force: true });
  const out = join(dir, 'toolkit');
  mkdirSync(join(out, 'node-glibc', 'bin'), { recursive: true });
  writeFileSync(join(out, 'toolkit.json'), '{"schema":1,"note":"the previous toolkit"}\n');
  writeFileSync(join(out, 'node-glibc', 'bin', 'node'), '#!/bin/sh\necho old\n', { mode: 0o755 });
  mirror.requests.length = 0;
  return { req: request(mirror, { out, arch: 'amd64', cacheDir }), out, before: snapshot(out), ctx: testContext() };
}

const archiveOf = (rel: string) => `sha256-${fileSha256(served(rel))}`;

/** Runs `fn` with the mirror behind a per-connection line, and puts loopback back after. */
async function onLine<T>(line: { bytesPerSecond: number }, fn: () => Promise<T>): Promise<T> {
  mirror.setLine({ ...line, shared: false });
  try {
    return await fn();
  } finally {
    mirror.setLine(undefined);
  }
}

/** After a failure: the old toolkit untouched, no temp dir beside it, nothing left in the ledger. */
function expectUnchanged(c: { out: string; before: string[]; ctx: TestContext }): void {
  expect(snapshot(c.out)).toEqual(c.before);
  expect(readdirSync(dirname(c.out)).filter((f) => f.startsWith(`.${basename(c.out)}.`))).toEqual([]);
  expect(c.ctx.ledger.entries()).toEqual([]);
}

describe('transient faults are retried into a complete toolkit', () => {
  it('HTTP 500 once, a truncated transfer and a stalled one (three artefacts, one build): each retried, the build succeeds', async () => {
    const npmTgz = served('npm-registry/npm/-/npm-10.9.2.tgz');
    const c = setup([
      `sha512-${fileSha256(npmTgz, 'sha512')}`,
      archiveOf(`uv/releases/download/0.9.5/${UV}`),
      archiveOf(`node-musl/v${V}/${MUSL}`),
    ]);
    const f500 = mirror.fault(only('npm-10.9.2.tgz'), '500', { times: 1 });
    mirror.fault(only(UV), 'truncate', { times: 1 });
    mirror.fault(only(MUSL), 'stall', { times: 1 });
    const r = await buildToolkit(c.req, c.ctx);
    expect(f500.hits).toBe(1);
    const seen = (file: string) =>
      mirror.requests.filter((q) => q.path.endsWith(`/${file}`)).map((q) => q.fault ?? q.status);
    expect(seen('npm-10.9.2.tgz')).toEqual(['500', 200]);
    expect(seen(UV)).toEqual(['truncate', 200]);
    expect(seen(MUSL)).toEqual(['stall', 200]);
    const warned = (re: RegExp) => c.ctx.reporter.lines.some((l) => l.level === 'warn' && re.test(l.message));
    expect(warned(/^npm-10\.9\.2\.tgz: HTTP 500 .*retrying in/)).toBe(true);
    expect(warned(new RegExp(`^${UV.replace(/\./g, '\\.')}: connection lost after \\d+ of \\d+ bytes`))).toBe(true);
    expect(warned(new RegExp(`^${MUSL.replace(/\./g, '\\.')}: no data for 1\\.5 s`))).toBe(true);
    expect(r.manifest.verified).toBe(true);
    expect(snapshot(c.out)).toEqual(snapshot(join(work, 'seed-out')));
  });

  it('connection reset in the middle of the big Node tarball: retried from scratch, the tree is complete', async () => {
    const c = setup([archiveOf(`node/v${V}/${GLIBC}`)]);
    // Inside the plain GET's share (its first 4 MB; ranges of the rest, its parts, come over more connections).
    mirror.fault(only(GLIBC), 'reset', { times: 1, bytes: 2 << 20 });
    const r = await buildToolkit(c.req, c.ctx);
    const reqs = mirror.requests.filter((q) => q.path.endsWith(GLIBC));
    expect(reqs.filter((q) => !q.range).map((q) => q.fault ?? 'ok')).toEqual(['reset', 'ok']);
    expect(reqs.filter((q) => q.range).every((q) => !q.fault)).toBe(true);
    expect(r.manifest.artefacts[0]?.sha256).toBe(fileSha256(served(`node/v${V}/${GLIBC}`)));
    expect(snapshot(c.out)).toEqual(snapshot(join(work, 'seed-out')));
  });

  it('connection reset in one range of the big Node tarball: the file is retried from its start, the tree is complete', async () => {
    const c = setup([archiveOf(`node/v${V}/${GLIBC}`)]);
    mirror.fault(only(GLIBC), 'reset', { times: 1, bytes: 1 << 20, ranged: true });
    // A line slower than the 48 MB/s a single connection must beat to be left alone: the file is split.
    const r = await onLine({ bytesPerSecond: 16e6 }, () => buildToolkit(c.req, c.ctx));
    const reqs = mirror.requests.filter((q) => q.path.endsWith(GLIBC));
    const size = statSync(served(`node/v${V}/${GLIBC}`)).size;
    // Two transfers (two plain GETs), the first broken by the reset of one of its ranges.
    expect(reqs.filter((q) => !q.range)).toHaveLength(2);
    expect(reqs.filter((q) => q.fault === 'reset')).toHaveLength(1);
    expect(reqs.find((q) => q.fault === 'reset')?.range).toMatch(/^bytes=\d+-\d+$/);
    // The second transfer's ranges are whole and cover the file from where its GET stopped to the end.
    const second = reqs.slice(reqs.lastIndexOf(reqs.filter((q) => !q.range)[1] as (typeof reqs)[number]) + 1);
    const spans = second.map((q) => (q.range ?? '').replace('bytes=', '').split('-').map(Number) as [number, number]);
    expect(second.every((q) => q.status === 206 && q.complete)).toBe(true);
    spans.sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < spans.length; i++) expect(spans[i]?.[0]).toBe((spans[i - 1]?.[1] ?? 0) + 1);
    expect(spans.at(-1)?.[1]).toBe(size - 1);
    expect(
      c.ctx.reporter.lines.some(
        (l) => l.level === 'warn' && new RegExp(`^${GLIBC.replace(/\./g, '\\.')}: connection lost`).test(l.message),
      ),
    ).toBe(true);
    expect(r.manifest.artefacts[0]?.sha256).toBe(fileSha256(served(`node/v${V}/${GLIBC}`)));
    expect(snapshot(c.out)).toEqual(snapshot(join(work, 'seed-out')));
  });

  it('a server that announces ranges and then does not serve one: the file comes again on one connection', async () => {
    const c = setup([archiveOf(`node/v${V}/${GLIBC}`)]);
    // Every range request gets a plain 200 (as from a server whose If-Range no longer matches).
    mirror.fault(only(GLIBC), '200', { ranged: true });
    const r = await onLine({ bytesPerSecond: 16e6 }, () => buildToolkit(c.req, c.ctx));
    const reqs = mirror.requests.filter((q) => q.path.endsWith(GLIBC));
    const heads = reqs.filter((q) => !q.range && !q.fault);
    expect(heads).toHaveLength(2);
    // After the refusal, the second transfer is that one plain GET, whole.
    expect(reqs.slice(reqs.indexOf(heads[1] as (typeof reqs)[number]))).toEqual([heads[1]]);
    expect(heads[1]?.complete).toBe(true);
    expect(
      c.ctx.reporter.lines.some(
        (l) => l.level === 'warn' && l.message.startsWith(`${GLIBC}: range `) && /HTTP 200/.test(l.message),
      ),
    ).toBe(true);
    expect(r.manifest.artefacts[0]?.sha256).toBe(fileSha256(served(`node/v${V}/${GLIBC}`)));
    expect(snapshot(c.out)).toEqual(snapshot(join(work, 'seed-out')));
  });

  it('one connection per file when asked (connections: 1): no ranges at all', async () => {
    const c = setup([archiveOf(`node/v${V}/${GLIBC}`)]);
    const r = await onLine({ bytesPerSecond: 16e6 }, () => buildToolkit({ ...c.req, connections: 1 }, c.ctx));
    const reqs = mirror.requests.filter((q) => q.path.endsWith(GLIBC));
    expect(reqs.map((q) => q.range ?? q.status)).toEqual([200]);
    expect(r.manifest.artefacts[0]?.sha256).toBe(fileSha256(served(`node/v${V}/${GLIBC}`)));
    expect(snapshot(c.out)).toEqual(snapshot(join(work, 'seed-out')));
  });
});

describe('progress', () => {
  it('a long download reports percent and MB/s, about once a second, not per chunk', async () => {
    const c = setup([archiveOf(`uv/releases/download/0.9.5/${UV}`)]);
    mirror.fault(only(UV), 'slow', { bytesPerSecond: 400_000 });
    const t0 = performance.now();
    await buildToolkit(c.req, c.ctx);
    const secs = (performance.now() - t0) / 1000;
    const lines = c.ctx.reporter.lines
      .filter((l) => l.level === 'progress' && l.message.startsWith(`${UV}: `))
      .map((l) => l.message);
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(lines.length).toBeLessThanOrEqual(Math.ceil(secs) + 1);
    for (const l of lines) expect(l).toMatch(/: \d+\.\d of 1\.4 MB \(\d+%\), \d+\.\d MB\/s/);
    expect(lines.at(-1)).toMatch(/\(100%\), .* MB\/s, done$/);
  }, 120_000);
});

describe('hard failures name what to fix and leave the output dir as it was', () => {
  it('truncated on every attempt: a bounded number of retries, then an error naming the file and --uv-mirror', async () => {
    const c = setup([archiveOf(`uv/releases/download/0.9.5/${UV}`)]);
    mirror.fault(only(UV), 'truncate');
    const err = (await buildToolkit(c.req, c.ctx).catch((e: unknown) => e)) as Error & { fix?: string };
    expect(err.message).toMatch(
      new RegExp(`${UV}: download failed after 4 attempts: .*\\(http://127\\.0\\.0\\.1:\\d+/uv/`),
    );
    expect(err.fix).toMatch(/--uv-mirror/);
    expect(mirror.requests.filter((q) => q.path.endsWith(UV))).toHaveLength(4);
    expectUnchanged(c);
  });

  it('a corrupted download is a checksum error naming the file, the expected and the actual digest', async () => {
    const c = setup([archiveOf(`node-musl/v${V}/${MUSL}`)]);
    mirror.fault(only(MUSL), 'corrupt');
    const expected = fileSha256(served(`node-musl/v${V}/${MUSL}`));
    const actual = corruptedSha256(served(`node-musl/v${V}/${MUSL}`));
    await expect(buildToolkit(c.req, c.ctx)).rejects.toThrow(
      `checksum mismatch for ${MUSL}: expected sha256 ${expected} (from SHASUMS256.txt), got ${actual}`,
    );
    // Not retried (a whole, wrong file will be wrong again) and never cached.
    expect(mirror.requests.filter((q) => q.path.endsWith(MUSL))).toHaveLength(1);
    expect(existsSync(join(c.req.cacheDir, 'archives', `sha256-${actual}`))).toBe(false);
    expectUnchanged(c);
  });

  it('a corrupted Alpine package fails its APKINDEX checksum', async () => {
    const c = setup();
    mirror.fault(only('libstdc++-14.2.0-r6.apk'), 'corrupt');
    await expect(buildToolkit(c.req, c.ctx)).rejects.toThrow(
      /checksum mismatch for libstdc\+\+-14\.2\.0-r6\.apk.*expected sha(1|256) [0-9a-f]+ \(from APKINDEX\), got [0-9a-f]+/,
    );
    expectUnchanged(c);
  });

  it('404: an error naming the URL and --node-mirror', async () => {
    const c = setup([archiveOf(`node/v${V}/${GLIBC}`)]);
    mirror.hide(`/node/v${V}/${GLIBC}`);
    const err = (await buildToolkit(c.req, c.ctx).catch((e: unknown) => e)) as Error & { fix?: string };
    expect(err.message).toMatch(
      new RegExp(`${GLIBC}: http://127\\.0\\.0\\.1:\\d+/node/v${V}/${GLIBC} does not exist \\(HTTP 404\\)`),
    );
    expect(err.fix).toMatch(/--node-mirror/);
    // A 404 is not retried.
    expect(mirror.requests.filter((q) => q.path.endsWith(GLIBC))).toHaveLength(1);
    expectUnchanged(c);
  });

  it('404 of a checksum list names that list and its option (--uv-mirror)', async () => {
    const c = setup();
    mirror.hide(`/uv/releases/download/0.9.5/${UV}.sha256`);
    const err = (await buildToolkit(c.req, c.ctx).catch((e: unknown) => e)) as Error & { fix?: string };
    expect(err.message).toMatch(/\.sha256 does not exist \(HTTP 404\)/);
    expect(err.fix).toMatch(/--uv-mirror/);
    expectUnchanged(c);
  });

  it('HTTP 500 on every attempt: gives up after the bounded retries, naming --alpine-mirror', async () => {
    const c = setup();
    mirror.fault(only('APKINDEX.tar.gz'), '500');
    const err = (await buildToolkit(c.req, c.ctx).catch((e: unknown) => e)) as Error & { fix?: string };
    expect(err.message).toMatch(/APKINDEX\.tar\.gz .*download failed after 4 attempts: HTTP 500/);
    expect(err.fix).toMatch(/--alpine-mirror/);
    expectUnchanged(c);
  });

  it('an out dir that holds something else is refused before anything is fetched', async () => {
    const dir = join(work, 'not-a-toolkit');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'precious.txt'), 'mine\n');
    mirror.requests.length = 0;
    await expect(buildToolkit(request(mirror, { out: dir, arch: 'amd64' }), testContext())).rejects.toThrow(
      /--out: .* is not empty and holds no toolkit/,
    );
    expect(mirror.requests).toEqual([]);
    expect(readdirSync(dir)).toEqual(['precious.txt']);
  });
});

describe('the archive cache', () => {
  it('a damaged cached archive is noticed, dropped and fetched again', async () => {
    const c = setup();
    const cached = join(c.req.cacheDir, 'archives', archiveOf(`uv/releases/download/0.9.5/${UV}`));
    rmSync(cached);
    writeFileSync(cached, 'not the archive');
    const r = await buildToolkit(c.req, c.ctx);
    expect(
      c.ctx.reporter.lines.some((l) => l.level === 'warn' && l.message.startsWith(`${UV}: cached copy unusable`)),
    ).toBe(true);
    expect(mirror.requests.filter((q) => q.path.endsWith(UV))).toHaveLength(1);
    expect(fileSha256(cached)).toBe(r.manifest.artefacts.find((a) => a.name === 'uv')?.sha256);
  });
});
