// The toolkit stage against the test world's loopback mirror and real images: what it builds runs where
// Memoh mounts it, the wrappers pick the right Node build, and the cache makes a second build free.
import { execFileSync } from 'node:child_process';
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Fetcher } from '../../src/toolkit/fetch.js';
import { buildToolkit } from '../../src/toolkit/index.js';
import { resolvePlan } from '../../src/toolkit/resolve.js';
import type { ToolkitResult } from '../../src/toolkit/types.js';
import { testContext } from '../support/context.js';
import { fileSha256, snapshot } from '../support/files.js';
import { rmrf } from '../support/tmp.js';
import { IMAGES } from '../world/images.js';
import { type Mirror, startMirror } from '../world/mirror/server.mjs';
import { inImage, request, tempDir } from './helpers.js';

let mirror: Mirror;
let work: string;

beforeAll(async () => {
  mirror = await startMirror();
  work = tempDir('build');
});

afterAll(async () => {
  await mirror?.close();
  rmrf(work);
});

describe('amd64 toolkit (Node 24.14.0)', () => {
  let cold: ToolkitResult;
  const cache = () => join(work, 'cache');
  const out = () => join(work, 'amd64');

  beforeAll(async () => {
    const ctx = testContext();
    cold = await buildToolkit(request(mirror, { out: out(), arch: 'amd64', cacheDir: cache() }), ctx);
    expect(ctx.ledger.entries()).toEqual([]);
  }, 300_000);

  it("has Memoh's layout, a manifest with a sha256 for every artefact, and no fallback", () => {
    const names = readdirSync(out()).sort();
    expect(names).toEqual(['bin', 'node-glibc', 'node-musl', 'toolkit.json', 'uv']);
    expect(readdirSync(join(out(), 'bin')).sort()).toEqual(['node', 'npm', 'npx', 'uv', 'uvx']);
    for (const w of ['node', 'npm', 'npx', 'uv', 'uvx'])
      expect(lstatSync(join(out(), 'bin', w)).mode & 0o777).toBe(0o755);
    expect(lstatSync(out()).mode & 0o777).toBe(0o755);
    expect(readdirSync(join(out(), 'node-musl', 'runtime-lib')).sort()).toEqual([
      'libgcc_s.so.1',
      'libstdc++.so.6',
      'libstdc++.so.6.0.33',
    ]);
    const npmPkg = JSON.parse(readFileSync(join(out(), 'node-glibc/lib/node_modules/npm/package.json'), 'utf8'));
    expect(npmPkg.version).toBe('10.9.2');
    const muslNpm = JSON.parse(readFileSync(join(out(), 'node-musl/lib/node_modules/npm/package.json'), 'utf8'));
    expect(muslNpm.version).toBe('10.9.2');

    const m = JSON.parse(readFileSync(join(out(), 'toolkit.json'), 'utf8'));
    expect(m).toEqual(cold.manifest);
    expect(m).toMatchObject({
      arch: 'amd64',
      node: { version: '24.14.0' },
      npm: { version: '10.9.2' },
      uv: { version: '0.9.5' },
      fallback: null,
      verified: true,
    });
    expect(m.artefacts.map((a: { name: string }) => a.name)).toEqual([
      'node-glibc',
      'node-musl',
      'npm',
      'uv',
      'libgcc',
      'libstdc++',
    ]);
    const served = (url: string) => join(mirror.root, new URL(url).pathname.replace(/^\//, ''));
    for (const a of m.artefacts) expect(a.sha256, a.name).toBe(fileSha256(served(a.url)));
    expect(m.artefacts.find((a: { name: string }) => a.name === 'npm').verifiedBy).toBe('dist.integrity');
    expect(m.artefacts.find((a: { name: string }) => a.name === 'libgcc').verifiedBy).toBe('APKINDEX');
    expect(cold.fallback).toBeNull();
    expect(cold.fromCache).toBe(false);
    expect(cold.checks.every((c) => c.status === 'pass')).toBe(true);
  });

  it('node and npm run in the Debian image where Memoh mounts the toolkit, as root and as a plain user', () => {
    const r = inImage(
      IMAGES.debianAmd64,
      out(),
      '/opt/memoh/toolkit/bin/node --version && /opt/memoh/toolkit/bin/npm --version && /opt/memoh/toolkit/bin/npx --version',
    );
    expect(r).toEqual({ code: 0, out: 'v24.14.0\n10.9.2\n10.9.2\n' });
    const u = inImage(
      IMAGES.debianAmd64,
      out(),
      'PATH=$PATH:/opt/memoh/toolkit/bin; node -p "process.version + \' \' + process.arch" && uv --version && uvx --version',
      { user: '1000:1000' },
    );
    expect(u.out).toBe('v24.14.0 x64\nuv 0.9.5 (stand-in)\nuv 0.9.5 (stand-in)\n');
  });

  it('the wrappers find the toolkit from their own place: mounted elsewhere, or called through a symlink', () => {
    const args = [
      'run',
      '--rm',
      '--network',
      'none',
      '-v',
      `${out()}:/srv/tk:ro`,
      '--entrypoint',
      '/bin/sh',
      IMAGES.debianAmd64,
      '-c',
    ];
    const cmd =
      '/srv/tk/bin/node --version && ln -s /srv/tk/bin/npm /usr/local/bin/npm && cd / && npm --version && (cd /srv/tk/bin && sh ./uvx --version)';
    expect(execFileSync('docker', [...args, cmd], { encoding: 'utf8', timeout: 120_000 })).toBe(
      'v24.14.0\n10.9.2\nuv 0.9.5 (stand-in)\n',
    );
  });

  it('in the musl image the wrappers pick node-musl, with runtime-lib first on the library path', () => {
    // The musl node is a stand-in; it names itself and the LD_LIBRARY_PATH it was started with.
    const r = inImage(
      IMAGES.muslAmd64,
      out(),
      '/opt/memoh/toolkit/bin/node -e 1; /opt/memoh/toolkit/bin/node --version; /opt/memoh/toolkit/bin/npm --version',
    );
    const [first, version, npm] = r.out.split('\n');
    expect(first).toMatch(
      /^node-musl stand-in v24\.14\.0 \(x64, musl libc\) LD_LIBRARY_PATH=\/opt\/memoh\/toolkit\/node-musl\/runtime-lib libstdc\+\+=\[/,
    );
    expect([version, npm]).toEqual(['v24.14.0', '10.9.2']);
    // An existing library path is kept, after runtime-lib.
    const kept = inImage(IMAGES.muslAmd64, out(), '/opt/memoh/toolkit/bin/node -e 1', {
      env: ['LD_LIBRARY_PATH=/usr/local/lib'],
    });
    expect(kept.out).toMatch(/LD_LIBRARY_PATH=\/opt\/memoh\/toolkit\/node-musl\/runtime-lib:\/usr\/local\/lib /);
    // The Debian image has no musl loader: there the same wrapper runs the real glibc node.
    expect(
      inImage(IMAGES.debianAmd64, out(), '/opt/memoh/toolkit/bin/node -e "console.log(process.release.name)"').out,
    ).toBe('node\n');
  });

  it('a warm build downloads nothing, is several times faster than the cold one and gives the same tree', async () => {
    mirror.requests.length = 0;
    const warmOut = join(work, 'amd64-warm');
    const ctx = testContext();
    const warm = await buildToolkit(request(mirror, { out: warmOut, arch: 'amd64', cacheDir: cache() }), ctx);
    expect(mirror.requests).toEqual([]);
    expect(warm.fromCache).toBe(true);
    expect(warm.downloadedBytes).toBe(0);
    // The < 1 s target is measured by `npm run bench:toolkit`; on a shared test machine this only
    // asserts what cannot be noise: a warm build is a fraction of a cold one.
    expect(warm.durations.totalMs).toBeLessThan(Math.min(3000, cold.durations.totalMs / 3));
    expect(warm.manifest).toEqual(cold.manifest);
    expect(snapshot(warmOut)).toEqual(snapshot(out()));
    expect(inImage(IMAGES.debianAmd64, warmOut, '/opt/memoh/toolkit/bin/node --version').out).toBe('v24.14.0\n');
    rmrf(warmOut);
  });

  it('a cached toolkit changed through its hardlinks is not served again', async () => {
    const { writeFileSync } = await import('node:fs');
    // The cold build's files share inodes with the cache entry: writing one changes the entry.
    writeFileSync(join(out(), 'node-glibc', 'README.md'), 'changed\n');
    mirror.requests.length = 0;
    const again = await buildToolkit(
      request(mirror, { out: join(work, 'amd64-rebuilt'), arch: 'amd64', cacheDir: cache() }),
      testContext(),
    );
    expect(again.fromCache).toBe(false);
    // The archives are still cached and re-verified: only the small metadata files travel again.
    expect(mirror.requests.some((r) => r.path.endsWith('.tar.gz') && r.path.includes('/node'))).toBe(false);
    const detail = again.checks.find((c) => c.id === 'toolkit.build')?.detail ?? '';
    expect(detail).toMatch(/from the archive cache$/);
    for (const name of ['node-glibc', 'node-musl', 'npm', 'uv']) expect(detail).toContain(name);
    rmrf(join(work, 'amd64-rebuilt'));
  });
});

describe('Node version resolution', () => {
  it('a major resolves through index.json to the newest 24.x the mirror lists', async () => {
    const f = new Fetcher(testContext().reporter, new AbortController().signal);
    try {
      const { plan } = await resolvePlan(
        request(mirror, { out: join(work, 'x'), arch: 'amd64', nodeVersion: '24' }),
        f,
      );
      expect(plan.node).toBe('24.21.0');
      expect(plan.nodeRequested).toBe('24');
      const exact = await resolvePlan(
        request(mirror, { out: join(work, 'x'), arch: 'amd64', nodeVersion: '24.14.0' }),
        f,
      );
      expect(exact.plan.node).toBe('24.14.0');
    } finally {
      f.close();
    }
    expect(mirror.requests.filter((r) => r.path.endsWith('/index.json')).length).toBeGreaterThanOrEqual(2);
  });

  it("without an npm mirror, the registry is the one the machine's npm is configured with", async () => {
    const f = new Fetcher(testContext().reporter, new AbortController().signal);
    const before = process.env.npm_config_registry;
    // npm reads this like any of its config sources; a host nobody hard-coded proves where the value came from.
    process.env.npm_config_registry = 'http://127.0.0.1:9/registry-from-npm-config/';
    try {
      const req = request(mirror, { out: join(work, 'x'), arch: 'amd64' });
      const { plan } = await resolvePlan({ ...req, mirrors: { ...req.mirrors, npm: '' } }, f);
      expect(plan.mirrors.npm).toBe('http://127.0.0.1:9/registry-from-npm-config');
    } finally {
      if (before === undefined) delete process.env.npm_config_registry;
      else process.env.npm_config_registry = before;
      f.close();
    }
  });

  it('follows redirects, as GitHub serves release assets through one', async () => {
    const f = new Fetcher(testContext().reporter, new AbortController().signal);
    try {
      const file = 'uv-x86_64-unknown-linux-musl.tar.gz.sha256';
      const body = await f.buffer(
        { file, url: `${mirror.url}/uv/releases/latest/download/${file}`, option: '--uv-mirror' },
        1 << 16,
      );
      expect(body.toString()).toBe(readFileSync(join(mirror.root, 'uv/releases/download/0.9.5', file), 'utf8'));
      expect(
        mirror.requests
          .filter((q) => q.path.endsWith(file))
          .map((q) => q.status)
          .slice(-2),
      ).toEqual([302, 200]);
    } finally {
      f.close();
    }
  });

  it('a major the mirror does not list is an error naming --node-mirror', async () => {
    const f = new Fetcher(testContext().reporter, new AbortController().signal);
    try {
      await expect(
        resolvePlan(request(mirror, { out: join(work, 'x'), arch: 'amd64', nodeVersion: '22' }), f),
      ).rejects.toThrow(/no Node\.js 22\.x for linux-x64 .*index\.json/);
    } finally {
      f.close();
    }
  });
});

describe('verification turned off', () => {
  it('builds, and the manifest, the warnings and the checks all say unverified', async () => {
    const out = join(work, 'unverified');
    mirror.requests.length = 0;
    const ctx = testContext();
    const r = await buildToolkit(request(mirror, { out, arch: 'amd64', verify: false }), ctx);
    expect(r.manifest.verified).toBe(false);
    expect(r.manifest.artefacts.every((a) => a.verifiedBy === 'unverified')).toBe(true);
    expect(r.warnings.join('\n')).toMatch(/UNVERIFIED/);
    expect(r.checks.find((c) => c.id === 'toolkit.verified')).toMatchObject({ status: 'warn' });
    // No checksum list was even fetched.
    expect(mirror.requests.some((q) => /SHASUMS256\.txt|\.sha256$|\/npm$/.test(q.path))).toBe(false);
    expect(inImage(IMAGES.debianAmd64, out, '/opt/memoh/toolkit/bin/node --version').out).toBe('v24.14.0\n');
    rmrf(out);
  }, 300_000);
});

describe('arm64 toolkit (Node 24, resolved to 24.21.0)', () => {
  it('runs node in the arm64 Debian image under qemu, and picks node-musl in the arm64 musl image', async () => {
    const out = join(work, 'arm64');
    const r = await buildToolkit(request(mirror, { out, arch: 'arm64', nodeVersion: '24' }), testContext());
    expect(r.manifest.node).toEqual({ version: '24.21.0', requested: '24' });
    expect(r.fallback).toBeNull();
    expect(r.manifest.artefacts.find((a) => a.name === 'node-musl')?.file).toBe(
      'node-v24.21.0-linux-arm64-musl.tar.gz',
    );
    const deb = inImage(
      IMAGES.debianArm64,
      out,
      '/opt/memoh/toolkit/bin/node -p "process.version + \' \' + process.arch"',
    );
    expect(deb).toEqual({ code: 0, out: 'v24.21.0 arm64\n' });
    const musl = inImage(IMAGES.muslArm64, out, '/opt/memoh/toolkit/bin/node -e 1');
    expect(musl.out).toMatch(
      /^node-musl stand-in v24\.21\.0 \(arm64, musl libc\) LD_LIBRARY_PATH=\/opt\/memoh\/toolkit\/node-musl\/runtime-lib /,
    );
    rmrf(out);
  }, 300_000);

  it('falls back to the glibc build exactly when the musl index.json lacks linux-arm64-musl', async () => {
    const out = join(work, 'arm64-fallback');
    mirror.setOmitMuslArm64(['24.21.0']);
    mirror.requests.length = 0;
    try {
      const ctx = testContext();
      const r = await buildToolkit(request(mirror, { out, arch: 'arm64', nodeVersion: '24.21.0' }), ctx);
      expect(r.fallback).toBe('glibc');
      expect(r.manifest.fallback).toBe('glibc');
      expect(JSON.parse(readFileSync(join(out, 'toolkit.json'), 'utf8')).fallback).toBe('glibc');
      const muslRec = r.manifest.artefacts.find((a) => a.name === 'node-musl');
      expect(muslRec?.file).toBe('node-v24.21.0-linux-arm64.tar.gz');
      expect(fileSha256(join(out, 'node-musl/bin/node'))).toBe(fileSha256(join(out, 'node-glibc/bin/node')));
      expect(r.warnings.join('\n')).toMatch(
        /no linux-arm64-musl build of Node\.js v24\.21\.0.*glibc loader \(e\.g\. Alpine's gcompat\)/s,
      );
      expect(ctx.reporter.lines.some((l) => l.level === 'warn' && /gcompat/.test(l.message))).toBe(true);
      expect(r.checks.find((c) => c.id === 'toolkit.node-musl')).toMatchObject({ status: 'warn' });
      // No musl tarball was even asked for: the index said there is none.
      expect(mirror.requests.some((q) => q.path.includes('linux-arm64-musl'))).toBe(false);
      // It runs on a glibc image all the same.
      expect(inImage(IMAGES.debianArm64, out, '/opt/memoh/toolkit/bin/node --version').out).toBe('v24.21.0\n');
    } finally {
      mirror.setOmitMuslArm64([]);
      rmrf(out);
    }
  }, 300_000);

  it('does not fall back when the index lists the build but the file is missing: that is a 404 error', async () => {
    const out = join(work, 'arm64-missing');
    mirror.hide('/node-musl/v24.21.0/node-v24.21.0-linux-arm64-musl.tar.gz');
    try {
      await expect(
        buildToolkit(request(mirror, { out, arch: 'arm64', nodeVersion: '24.21.0' }), testContext()),
      ).rejects.toThrow(
        /node-v24\.21\.0-linux-arm64-musl\.tar\.gz: http:\/\/127\.0\.0\.1:\d+\/node-musl\/v24\.21\.0\/node-v24\.21\.0-linux-arm64-musl\.tar\.gz does not exist \(HTTP 404\)/,
      );
    } finally {
      mirror.unhide();
    }
    expect(() => lstatSync(out)).toThrow();
  }, 300_000);
});
