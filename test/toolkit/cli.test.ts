// `memoh-workspace toolkit` as users run it: the bundled dist/cli.js in a subprocess, against the loopback
// mirror. Exit codes: 0 built, 1 download/verification failure, 2 bad input.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCli } from '../support/cli.js';
import { snapshot } from '../support/files.js';
import { mirrorFlags } from '../support/mirror.js';
import { rmrf } from '../support/tmp.js';
import { type Mirror, startMirror } from '../world/mirror/server.mjs';
import { CLI } from '../world/paths.js';
import { tempDir } from './helpers.js';

let mirror: Mirror;
let work: string;

beforeAll(async () => {
  expect(existsSync(CLI), `${CLI} missing: run npm run build`).toBe(true);
  mirror = await startMirror();
  work = tempDir('cli');
});

afterAll(async () => {
  await mirror?.close();
  rmrf(work);
});

/** Async (the mirror serves from this process, so a blocking spawnSync would starve it). */
const cli = (args: string[]) => startCli(['toolkit', ...args], { XDG_CACHE_HOME: join(work, 'xdg') }, 240_000).done;

const mirrors = () => mirrorFlags(mirror);

describe('memoh-workspace toolkit', () => {
  it('builds (exit 0), prints the result as JSON, and a second run is served from the cache', async () => {
    const out = join(work, 'tk');
    const args = [
      '--out',
      out,
      '--arch',
      'amd64',
      '--node-version',
      '24.14.0',
      '--cache-dir',
      join(work, 'cache'),
      '--json',
      ...mirrors(),
    ];
    const r = await cli(args);
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result).toMatchObject({
      dir: out,
      arch: 'amd64',
      fromCache: false,
      fallback: null,
      manifest: { node: { version: '24.14.0' }, npm: { version: '10.9.2' } },
    });
    expect(JSON.parse(readFileSync(join(out, 'toolkit.json'), 'utf8'))).toEqual(result.manifest);
    mirror.requests.length = 0;
    const again = await cli(args);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout).fromCache).toBe(true);
    expect(mirror.requests).toEqual([]);
    // Without --json: a human summary on stdout, one line per check.
    const plain = await cli(args.filter((a) => a !== '--json'));
    expect(plain.stdout).toMatch(/^toolkit amd64 → .* \(from cache\)\n {2}node 24\.14\.0, npm 10\.9\.2, uv 0\.9\.5/);
    expect(plain.stdout).toMatch(/ {2}pass {2}toolkit\.node-musl +Node\.js v24\.14\.0 linux-x64-musl/);
  }, 300_000);

  it('a download failure exits 1 and says which URL and which option; the output dir stays as it was', async () => {
    const out = join(work, 'fail');
    mkdirSync(out);
    writeFileSync(join(out, 'toolkit.json'), '{}\n');
    const before = snapshot(out);
    mirror.hide('/node/v24.14.0/SHASUMS256.txt');
    try {
      const r = await cli([
        '--out',
        out,
        '--arch',
        'amd64',
        '--node-version',
        '24.14.0',
        '--cache-dir',
        join(work, 'cache-fail'),
        ...mirrors(),
      ]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(
        /error: SHASUMS256\.txt \(Node\.js glibc v24\.14\.0\): http:\/\/127\.0\.0\.1:\d+\/node\/v24\.14\.0\/SHASUMS256\.txt does not exist \(HTTP 404\)/,
      );
      expect(r.stderr).toMatch(/fix: .*--node-mirror/);
      expect(r.stdout).toBe('');
    } finally {
      mirror.unhide();
    }
    expect(snapshot(out)).toEqual(before);
  }, 120_000);

  it('the arm64 musl fallback shows in the output: a warning on stderr, the summary line, the JSON', async () => {
    mirror.setOmitMuslArm64(['24.21.0']);
    try {
      const args = [
        '--out',
        join(work, 'arm64'),
        '--arch',
        'arm64',
        '--node-version',
        '24.21.0',
        '--cache-dir',
        join(work, 'cache-arm64'),
        ...mirrors(),
      ];
      const r = await cli([...args, '--json']);
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ arch: 'arm64', fallback: 'glibc', manifest: { fallback: 'glibc' } });
      expect(r.stderr).toMatch(
        /warning: .*no linux-arm64-musl build of Node\.js v24\.21\.0: node-musl holds the glibc build .*gcompat/,
      );
      const plain = await cli(args);
      expect(plain.stdout).toMatch(/node-musl = glibc build \(fallback\)/);
      expect(plain.stdout).toMatch(
        / {2}WARN {2}toolkit\.node-musl .*\n {8}.*fix: musl arm64 images need a glibc loader/,
      );
    } finally {
      mirror.setOmitMuslArm64([]);
    }
  }, 300_000);

  it.each([
    [['--arch', 'sparc'], /--arch: unknown architecture "sparc"/],
    [['--node-mirror', 'ftp://x'], /--node-mirror: scheme ftp: is not allowed/],
    [['--node-version', 'latest'], /--node-version: "latest" is not a version/],
  ])('bad input %j exits 2 naming the option', async (bad, message) => {
    const r = await cli(['--out', join(work, 'never'), ...mirrors(), ...bad]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(existsSync(join(work, 'never'))).toBe(false);
  });

  it('--out is required, and must not be a directory holding something else (exit 2)', async () => {
    const missing = await cli(['--arch', 'amd64']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/required option '--out <dir>'/);
    const other = join(work, 'other');
    mkdirSync(other);
    writeFileSync(join(other, 'notes.txt'), 'keep me\n');
    const r = await cli(['--out', other, '--arch', 'amd64', ...mirrors()]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--out: .*other is not empty and holds no toolkit/);
    expect(readFileSync(join(other, 'notes.txt'), 'utf8')).toBe('keep me\n');
  });
});
