// Proves the test world's download mirror is real: what it serves checks out against its own checksums, the
// binaries run, the npm tarball matches its packument, the Alpine index matches its packages, and every
// injected fault really happens on the wire.
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureMirror, type Mirror, startMirror, worldDir } from './server.mjs';

const run = promisify(execFile);
const HERE = new URL('.', import.meta.url).pathname;
const MUSL_LOADER_X64 = '/lib/ld-musl-x86_64.so.1'; // Debian's musl: -> /lib/x86_64-linux-musl/libc.so
const QEMU_ARM64 = '/usr/bin/qemu-aarch64-static';
const ARM64_SYSROOT = join(worldDir(), 'cache', 'mirror', 'sysroot-aarch64-musl'); // made by prepare.sh

interface Got {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  error?: NodeJS.ErrnoException;
  ms: number;
}

/** One HTTP request on its own connection; never rejects: transport errors land in `error`. */
function get(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; timeoutMs?: number } = {},
): Promise<Got> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const chunks: Buffer[] = [];
    let status = 0;
    let headers: http.IncomingHttpHeaders = {};
    let settled = false;
    const done = (error?: NodeJS.ErrnoException) => {
      if (settled) return;
      settled = true;
      resolve({ status, headers, body: Buffer.concat(chunks), error, ms: performance.now() - t0 });
    };
    const req = http.request(url, { method: opts.method ?? 'GET', headers: opts.headers, agent: false }, (res) => {
      status = res.statusCode ?? 0;
      headers = res.headers;
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => done());
      res.on('error', (e) => done(e));
      res.on('aborted', () => done(Object.assign(new Error('response aborted'), { code: 'ECONNRESET' })));
    });
    req.setTimeout(opts.timeoutMs ?? 60_000, () =>
      req.destroy(Object.assign(new Error('client timeout'), { code: 'ETIMEDOUT' })),
    );
    req.on('error', (e) => done(e));
    req.end();
  });
}
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const text = async (url: string) => {
  const r = await get(url);
  expect(r.status, url).toBe(200);
  return r.body.toString('utf8');
};
/** SHASUMS256.txt -> Map(filename -> hex) */
const parseSums = (s: string) =>
  new Map(
    s
      .trim()
      .split('\n')
      .map((l) => {
        const m = l.match(/^([0-9a-f]{64}) {2}(\S+)$/);
        if (!m) throw new Error(`bad SHASUMS line: ${l}`);
        return [m[2]!, m[1]!] as [string, string];
      }),
  );

/** Splits concatenated gzip streams (apk v2 = [signature] + control + data) at their real boundaries. */
function gzipMembers(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  while (start < buf.length) {
    let end = -1;
    for (let i = start + 18; i <= buf.length; i++) {
      if (i < buf.length && !(buf[i] === 0x1f && buf[i + 1] === 0x8b)) continue;
      try {
        gunzipSync(buf.subarray(start, i));
        end = i;
        break;
      } catch {
        /* a 1f 8b inside compressed data, keep looking */
      }
    }
    if (end < 0) throw new Error(`no complete gzip member at offset ${start}`);
    out.push(buf.subarray(start, end));
    start = end;
  }
  return out;
}

interface TarEntry {
  name: string;
  type: string;
  data: Buffer;
  linkname: string;
  pax: Record<string, string>;
}
/** Minimal ustar/pax reader (tolerates a missing end-of-archive, as in apk control segments). */
function readTar(buf: Buffer): TarEntry[] {
  const out: TarEntry[] = [];
  let off = 0;
  let pax: Record<string, string> = {};
  const str = (a: number, n: number) => buf.toString('utf8', off + a, off + a + n).replace(/\0.*$/s, '');
  while (off + 512 <= buf.length) {
    if (buf.subarray(off, off + 512).every((x) => x === 0)) break;
    const size = parseInt(str(124, 12).trim() || '0', 8);
    const type = str(156, 1) || '0';
    const prefix = str(345, 155);
    const name = prefix ? `${prefix}/${str(0, 100)}` : str(0, 100);
    const linkname = str(157, 100);
    const data = buf.subarray(off + 512, off + 512 + size);
    off += 512 + Math.ceil(size / 512) * 512;
    if (type === 'x') {
      pax = {};
      for (const rec of data.toString('utf8').split('\n').filter(Boolean)) {
        const kv = rec.slice(rec.indexOf(' ') + 1);
        pax[kv.slice(0, kv.indexOf('='))] = kv.slice(kv.indexOf('=') + 1);
      }
      continue;
    }
    out.push({ name, type, data, linkname, pax });
    pax = {};
  }
  return out;
}

let m: Mirror;
let tmp: string;
const servers: Mirror[] = [];

beforeAll(async () => {
  const t0 = Date.now();
  await ensureMirror();
  console.log(`mirror: prepare.sh took ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  m = await startMirror();
  servers.push(m);
  tmp = mkdtempSync(join(tmpdir(), 'memoh-mirror-test-'));
}, 1_200_000);

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('node/ (nodejs.org/dist layout, real binaries)', () => {
  it('index.json lists exactly the served versions and platforms, newest first', async () => {
    const idx = JSON.parse(await text(`${m.urls.node}/index.json`)) as Array<Record<string, unknown>>;
    expect(idx.map((r) => r.version)).toEqual(['v24.21.0', 'v24.14.0']);
    expect(idx[0]).toMatchObject({ files: ['linux-arm64', 'linux-x64'], lts: 'Krypton', security: false });
    expect(idx[1]).toMatchObject({ files: ['linux-x64'], lts: 'Krypton', modules: '137' });
    for (const r of idx)
      expect(Object.keys(r)).toEqual(expect.arrayContaining(['date', 'npm', 'v8', 'uv', 'zlib', 'openssl']));
  }, 30_000);

  it('every file matches its SHASUMS256.txt line; v24.14.0 linux-x64 extracts and runs', async () => {
    for (const v of ['v24.14.0', 'v24.21.0']) {
      const sums = parseSums(await text(`${m.urls.node}/${v}/SHASUMS256.txt`));
      const expected = v === 'v24.14.0' ? ['linux-x64'] : ['linux-arm64', 'linux-x64'];
      expect([...sums.keys()].sort()).toEqual(
        expected.flatMap((p) => [`node-${v}-${p}.tar.gz`, `node-${v}-${p}.tar.xz`]),
      );
      for (const [file, hex] of sums) {
        const r = await get(`${m.urls.node}/${v}/${file}`);
        expect(r.status).toBe(200);
        expect(r.body.length).toBe(Number(r.headers['content-length']));
        expect(sha256(r.body), file).toBe(hex);
        if (file === 'node-v24.14.0-linux-x64.tar.gz') writeFileSync(join(tmp, file), r.body);
      }
    }
    await run('tar', ['-xzf', join(tmp, 'node-v24.14.0-linux-x64.tar.gz'), '-C', tmp]);
    const dir = join(tmp, 'node-v24.14.0-linux-x64');
    const { stdout } = await run(join(dir, 'bin', 'node'), ['--version']);
    expect(stdout.trim()).toBe('v24.14.0');
    // looks like the real dist: bundled npm + corepack behind bin/ symlinks
    const npm = await run(join(dir, 'bin', 'node'), [join(dir, 'bin', 'npm'), '--version']);
    expect(npm.stdout.trim()).toBe('11.9.0');
    expect(existsSync(join(dir, 'include', 'node', 'node_version.h'))).toBe(true);
  }, 240_000);
});

describe('node-musl/ (unofficial-builds layout, stand-in node)', () => {
  it('index.json and SHASUMS256.txt are consistent', async () => {
    const idx = JSON.parse(await text(`${m.urls.nodeMusl}/index.json`)) as Array<{ version: string; files: string[] }>;
    expect(idx.map((r) => [r.version, r.files])).toEqual([
      ['v24.21.0', ['linux-arm64-musl', 'linux-x64-musl']],
      ['v24.14.0', ['linux-x64-musl']],
    ]);
    for (const r of idx) {
      const sums = parseSums(await text(`${m.urls.nodeMusl}/${r.version}/SHASUMS256.txt`));
      expect(sums.size).toBe(r.files.length * 2);
      for (const [file, hex] of sums)
        expect(sha256((await get(`${m.urls.nodeMusl}/${r.version}/${file}`)).body), file).toBe(hex);
    }
  }, 60_000);

  it('the x64 stand-in runs on musl with the Alpine runtime libs, and only with them', async () => {
    const file = 'node-v24.14.0-linux-x64-musl.tar.xz';
    const r = await get(`${m.urls.nodeMusl}/v24.14.0/${file}`);
    expect(sha256(r.body)).toBe(parseSums(await text(`${m.urls.nodeMusl}/v24.14.0/SHASUMS256.txt`)).get(file));
    writeFileSync(join(tmp, file), r.body);
    await run('tar', ['-xJf', join(tmp, file), '-C', tmp]);
    const dir = join(tmp, 'node-v24.14.0-linux-x64-musl');
    expect(readFileSync(join(dir, 'STAND-IN.txt'), 'utf8')).toMatch(/^STAND-IN/);
    const lib = join(tmp, 'alpine-x86_64');
    await run('mkdir', ['-p', lib]);
    for (const pkg of ['libgcc', 'libstdc++']) {
      const apk = await get(`${m.urls.alpine}/v3.23/main/x86_64/${pkg}-14.2.0-r6.apk`);
      writeFileSync(join(tmp, `${pkg}.apk`), apk.body);
      await run('tar', ['-xzf', join(tmp, `${pkg}.apk`), '-C', lib]);
    }
    const env = { ...process.env, LD_LIBRARY_PATH: join(lib, 'usr', 'lib') };
    const v = await run(MUSL_LOADER_X64, [join(dir, 'bin', 'node'), '--version'], { env });
    expect(v.stdout.trim()).toBe('v24.14.0');
    const e = await run(MUSL_LOADER_X64, [join(dir, 'bin', 'node'), '-e', '1'], { env });
    expect(e.stdout).toContain('node-musl stand-in v24.14.0 (x64, musl libc)');
    expect(e.stdout).toContain(`LD_LIBRARY_PATH=${env.LD_LIBRARY_PATH}`);
    expect(e.stdout).toContain('libstdc++.so.6.0.33 (Alpine libstdc++ 14.2.0-r6 x86_64)');
    // npm's `#!/usr/bin/env node` entry reaches the stand-in through PATH, as with the toolkit's npm wrapper
    const npm = await run(join(dir, 'bin', 'npm'), ['--version'], {
      env: { ...env, PATH: `${join(dir, 'bin')}:${process.env.PATH}` },
    });
    expect(npm.stdout.trim()).toBe('11.9.0');
    // like the real musl node: without libstdc++/libgcc_s on the library path it does not start
    const bare = await run(MUSL_LOADER_X64, [join(dir, 'bin', 'node'), '--version'], {
      env: { PATH: '/usr/bin:/bin' },
    }).catch((err) => err);
    expect(bare).toBeInstanceOf(Error);
    expect(String(bare.stderr)).toContain('libstdc++.so.6');
  }, 60_000);

  it.skipIf(!existsSync(QEMU_ARM64) || !existsSync(ARM64_SYSROOT))(
    'the arm64 stand-in (cross-built for musl) runs under qemu with the aarch64 Alpine libs',
    async () => {
      const file = 'node-v24.21.0-linux-arm64-musl.tar.gz';
      writeFileSync(join(tmp, file), (await get(`${m.urls.nodeMusl}/v24.21.0/${file}`)).body);
      await run('tar', ['-xzf', join(tmp, file), '-C', tmp]);
      const lib = join(tmp, 'alpine-aarch64');
      await run('mkdir', ['-p', lib]);
      for (const pkg of ['libgcc', 'libstdc++']) {
        writeFileSync(
          join(tmp, `a64-${pkg}.apk`),
          (await get(`${m.urls.alpine}/v3.23/main/aarch64/${pkg}-14.2.0-r6.apk`)).body,
        );
        await run('tar', ['-xzf', join(tmp, `a64-${pkg}.apk`), '-C', lib]);
      }
      const node = join(tmp, 'node-v24.21.0-linux-arm64-musl', 'bin', 'node');
      const { stdout } = await run(QEMU_ARM64, [
        '-L',
        ARM64_SYSROOT,
        '-E',
        `LD_LIBRARY_PATH=${join(lib, 'usr', 'lib')}`,
        node,
        '-e',
        '1',
      ]);
      expect(stdout).toContain('node-musl stand-in v24.21.0 (arm64, musl libc)');
      expect(stdout).toContain('(Alpine libgcc 14.2.0-r6 aarch64)');
    },
    60_000,
  );
});

describe('npm-registry/', () => {
  it('packument points back at the mirror and the tarball matches its integrity and shasum', async () => {
    const doc = JSON.parse(await text(`${m.urls.npm}/npm`));
    expect(doc['dist-tags'].latest).toBe('10.9.2');
    const dist = doc.versions['10.9.2'].dist;
    expect(dist.tarball).toBe(`${m.url}/npm-registry/npm/-/npm-10.9.2.tgz`);
    const tgz = await get(dist.tarball);
    expect(tgz.status).toBe(200);
    expect(`sha512-${createHash('sha512').update(tgz.body).digest('base64')}`).toBe(dist.integrity);
    expect(createHash('sha1').update(tgz.body).digest('hex')).toBe(dist.shasum);
    const manifest = JSON.parse(await text(`${m.urls.npm}/npm/10.9.2`));
    expect(manifest.dist.integrity).toBe(dist.integrity);
  }, 30_000);

  it('the real npm client fetches npm@10.9.2 from it and verifies the integrity itself', async () => {
    const dest = join(tmp, 'npm-pack');
    await run('mkdir', ['-p', dest]);
    const { stdout } = await run(
      'npm',
      [
        'pack',
        'npm@10.9.2',
        `--registry=${m.urls.npm}/`,
        `--cache=${join(tmp, 'npm-cache')}`,
        '--no-update-notifier',
        '--json',
        '--pack-destination',
        dest,
      ],
      { timeout: 90_000 },
    );
    expect(JSON.parse(stdout)[0]).toMatchObject({ name: 'npm', version: '10.9.2' });
    expect(m.requests.some((r) => r.path === '/npm-registry/npm/-/npm-10.9.2.tgz' && r.status === 200)).toBe(true);
  }, 120_000);
});

describe('uv/ (release assets, stand-in binaries)', () => {
  it.each(['x86_64', 'aarch64'])(
    '%s tarball matches its .sha256 and holds static uv + uvx',
    async (arch) => {
      const name = `uv-${arch}-unknown-linux-musl`;
      const base = `${m.urls.uv}/0.9.5/${name}.tar.gz`;
      const tgz = await get(base);
      const line = await text(`${base}.sha256`);
      expect(line).toBe(`${sha256(tgz.body)}  ${name}.tar.gz\n`);
      writeFileSync(join(tmp, `${name}.tar.gz`), tgz.body);
      await run('tar', ['-xzf', join(tmp, `${name}.tar.gz`), '-C', tmp]);
      const pre = arch === 'x86_64' ? [] : [QEMU_ARM64];
      if (pre.length && !existsSync(QEMU_ARM64)) return;
      const exec = (bin: string, args: string[]) =>
        run(pre[0] ?? join(tmp, name, bin), pre.length ? [join(tmp, name, bin), ...args] : args);
      expect((await exec('uv', ['--version'])).stdout).toBe('uv 0.9.5 (stand-in)\n');
      expect((await exec('uvx', ['--version'])).stdout).toBe('uvx 0.9.5 (stand-in)\n');
      expect((await exec('uv', ['tool', 'run', 'ruff', 'check'])).stdout).toBe(
        'uv 0.9.5 (stand-in): would run ruff check\n',
      );
      const { stdout } = await run('file', ['-b', join(tmp, name, 'uv')]);
      expect(stdout).toContain('statically linked');
    },
    60_000,
  );
});

describe('alpine/ (apk v2 packages + APKINDEX)', () => {
  it.each(['x86_64', 'aarch64'])(
    '%s: APKINDEX parses and C:, S:, datahash match each package',
    async (arch) => {
      const base = `${m.urls.alpine}/v3.23/main/${arch}`;
      const idx = readTar(gunzipSync((await get(`${base}/APKINDEX.tar.gz`)).body));
      expect(idx.map((e) => e.name)).toEqual(['DESCRIPTION', 'APKINDEX']);
      const blocks = idx[1]!.data
        .toString('utf8')
        .split('\n\n')
        .filter((b) => b.trim())
        .map((b) =>
          Object.fromEntries(
            b
              .trim()
              .split('\n')
              .map((l) => [l.slice(0, 1), l.slice(2)]),
          ),
        );
      expect(blocks.map((b) => b.P)).toEqual(['libgcc', 'libstdc++']);
      for (const b of blocks) {
        for (const k of ['C', 'P', 'V', 'A', 'S', 'I', 'T', 'U', 'L', 'o', 'm', 't', 'c', 'D', 'p'])
          expect(b[k], `${b.P} ${k}:`).toBeTruthy();
        expect(b.A).toBe(arch);
        const apk = await get(`${base}/${b.P}-${b.V}.apk`);
        expect(apk.status).toBe(200);
        expect(apk.body.length).toBe(Number(b.S));
        const [control, data, ...rest] = gzipMembers(apk.body);
        expect(rest).toEqual([]);
        expect(`Q1${createHash('sha1').update(control!).digest('base64')}`).toBe(b.C);
        const pkginfo = readTar(gunzipSync(control!));
        expect(pkginfo.map((e) => e.name)).toEqual(['.PKGINFO']);
        const info = pkginfo[0]!.data.toString('utf8');
        expect(info).toContain(`pkgname = ${b.P}\n`);
        expect(info).toContain(`arch = ${arch}\n`);
        expect(info).toContain(`datahash = ${sha256(data!)}\n`);
        const files = readTar(gunzipSync(data!));
        for (const f of files.filter((e) => e.type === '0')) {
          expect(f.pax['APK-TOOLS.checksum.SHA1']).toBe(createHash('sha1').update(f.data).digest('hex'));
          expect(f.data.readUInt16LE(18), `${f.name} e_machine`).toBe(arch === 'x86_64' ? 0x3e : 0xb7);
        }
        const names = files.map((e) => (e.type === '2' ? `${e.name} -> ${e.linkname}` : e.name));
        if (b.P === 'libgcc') expect(names).toContain('usr/lib/libgcc_s.so.1');
        else
          expect(names).toEqual(
            expect.arrayContaining(['usr/lib/libstdc++.so.6 -> libstdc++.so.6.0.33', 'usr/lib/libstdc++.so.6.0.33']),
          );
      }
    },
    60_000,
  );
});

describe('HTTP behaviour', () => {
  it('HEAD and Range', async () => {
    const url = `${m.urls.npm}/npm/-/npm-10.9.2.tgz`;
    const full = await get(url);
    const head = await get(url, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(Number(head.headers['content-length'])).toBe(full.body.length);
    expect(head.body.length).toBe(0);
    const part = await get(url, { headers: { range: 'bytes=100-199' } });
    expect(part.status).toBe(206);
    expect(part.headers['content-range']).toBe(`bytes 100-199/${full.body.length}`);
    expect(part.body.equals(full.body.subarray(100, 200))).toBe(true);
    const tail = await get(url, { headers: { range: 'bytes=-10' } });
    expect(tail.body.equals(full.body.subarray(-10))).toBe(true);
    expect((await get(url, { headers: { range: `bytes=${full.body.length + 5}-` } })).status).toBe(416);
    expect((await get(`${m.url}/nope`)).status).toBe(404);
    expect((await get(`${m.url}/.recipe`)).status).toBe(404);
  }, 30_000);
});

describe('fault injection', () => {
  const TGZ = '/npm-registry/npm/-/npm-10.9.2.tgz';
  const url = () => `${m.url}${TGZ}`;

  it('500 and 404', async () => {
    m.fault('SHASUMS256.txt', '500');
    expect((await get(`${m.urls.node}/v24.14.0/SHASUMS256.txt`)).status).toBe(500);
    m.clearFaults();
    m.fault(/index\.json$/, '404');
    expect((await get(`${m.urls.node}/index.json`)).status).toBe(404);
    m.clearFaults();
    expect((await get(`${m.urls.node}/index.json`)).status).toBe(200);
  }, 30_000);

  it('times: 1 fails once, then succeeds; hits are counted and logged', async () => {
    const h = m.fault(TGZ, '500', { times: 1 });
    expect((await get(url())).status).toBe(500);
    expect((await get(url())).status).toBe(200);
    expect(h.hits).toBe(1);
    const mine = m.requests.filter((r) => r.path === TGZ).slice(-2);
    expect(mine.map((r) => [r.status, r.fault])).toEqual([
      [500, '500'],
      [200, undefined],
    ]);
  }, 30_000);

  it('reset: the connection dies mid-body with a socket error', async () => {
    m.fault(TGZ, 'reset', { times: 1, bytes: 100_000 });
    const r = await get(url());
    expect(r.status).toBe(200);
    expect(r.error?.code).toBe('ECONNRESET');
    expect(r.body.length).toBeLessThanOrEqual(100_000);
    expect(r.body.length).toBeLessThan(Number(r.headers['content-length']));
  }, 30_000);

  it('truncate: fewer bytes arrive than content-length declares', async () => {
    m.fault(TGZ, 'truncate', { times: 1, bytes: 12_345 });
    const r = await get(url());
    expect(r.status).toBe(200);
    expect(Number(r.headers['content-length'])).toBe(2_714_270);
    expect(r.body.length).toBe(12_345);
    expect(r.error).toBeDefined(); // node's client notices the premature end
  }, 30_000);

  it('corrupt: same length, checksum mismatch', async () => {
    const good = await get(url());
    m.fault(TGZ, 'corrupt', { times: 1 });
    const bad = await get(url());
    expect(bad.status).toBe(200);
    expect(bad.error).toBeUndefined();
    expect(bad.body.length).toBe(good.body.length);
    expect(sha256(bad.body)).not.toBe(sha256(good.body));
    const diff = [...bad.body].filter((x, i) => x !== good.body[i]).length;
    expect(diff).toBe(1);
  }, 30_000);

  it('slow: the body trickles at the given rate', async () => {
    const range = { range: 'bytes=0-39999' }; // 40 000 bytes
    const fast = await get(url(), { headers: range });
    m.fault(TGZ, 'slow', { times: 1, bytesPerSecond: 20_000 });
    const slow = await get(url(), { headers: range });
    expect(slow.body.equals(fast.body)).toBe(true);
    expect(slow.ms).toBeGreaterThan(1_800);
    expect(fast.ms).toBeLessThan(1_000);
  }, 30_000);

  it('stall and hang: the client times out, close() still ends them', async () => {
    const s = await startMirror();
    servers.push(s);
    s.fault('index.json', 'stall', { bytes: 10 });
    s.fault('SHASUMS', 'hang');
    const [a, b] = await Promise.all([
      get(`${s.urls.node}/index.json`, { timeoutMs: 800 }),
      get(`${s.urls.node}/v24.14.0/SHASUMS256.txt`, { timeoutMs: 800 }),
    ]);
    expect([a.status, a.body.length, a.error?.code]).toEqual([200, 10, 'ETIMEDOUT']);
    expect([b.status, b.error?.code]).toEqual([0, 'ETIMEDOUT']);
    const pending = get(`${s.urls.node}/v24.14.0/SHASUMS256.txt`, { timeoutMs: 10_000 });
    await new Promise((r) => setTimeout(r, 200));
    const t0 = Date.now();
    await s.close();
    expect(Date.now() - t0).toBeLessThan(2_000);
    expect((await pending).error).toBeDefined();
  }, 30_000);

  it('hide(path) 404s one file until unhide()', async () => {
    m.hide('/uv/releases/download/0.9.5/uv-x86_64-unknown-linux-musl.tar.gz.sha256');
    expect((await get(`${m.urls.uv}/0.9.5/uv-x86_64-unknown-linux-musl.tar.gz.sha256`)).status).toBe(404);
    expect((await get(`${m.urls.uv}/0.9.5/uv-aarch64-unknown-linux-musl.tar.gz.sha256`)).status).toBe(200);
    m.unhide();
    expect((await get(`${m.urls.uv}/0.9.5/uv-x86_64-unknown-linux-musl.tar.gz.sha256`)).status).toBe(200);
  }, 30_000);

  it('omitMuslArm64 removes linux-arm64-musl for a version (option and at run time)', async () => {
    const s = await startMirror({ omitMuslArm64: ['24.21.0'] });
    servers.push(s);
    const idx = JSON.parse(await text(`${s.urls.nodeMusl}/index.json`)) as Array<{ version: string; files: string[] }>;
    expect(idx.find((r) => r.version === 'v24.21.0')?.files).toEqual(['linux-x64-musl']);
    const sums = await text(`${s.urls.nodeMusl}/v24.21.0/SHASUMS256.txt`);
    expect(sums).not.toContain('arm64');
    expect(sums).toContain('node-v24.21.0-linux-x64-musl.tar.xz');
    expect((await get(`${s.urls.nodeMusl}/v24.21.0/node-v24.21.0-linux-arm64-musl.tar.xz`)).status).toBe(404);
    expect(
      (await get(`${s.urls.nodeMusl}/v24.21.0/node-v24.21.0-linux-x64-musl.tar.xz`, { method: 'HEAD' })).status,
    ).toBe(200);
    s.setOmitMuslArm64([]);
    expect(
      (await get(`${s.urls.nodeMusl}/v24.21.0/node-v24.21.0-linux-arm64-musl.tar.xz`, { method: 'HEAD' })).status,
    ).toBe(200);
    await s.close();
  }, 30_000);
});

describe('line model (throttling)', () => {
  const GZ = '/node/v24.14.0/node-v24.14.0-linux-x64.tar.gz';
  const BYTES = 200_000;
  const range = { range: `bytes=0-${BYTES - 1}` };
  // Load can only make a throttled transfer slower: so only lower bounds on time are asserted, never upper ones.

  it('per connection: each connection gets the rate, every request waits the latency, bytes arrive intact', async () => {
    const s = await startMirror({ line: { bytesPerSecond: 1_000_000, latencyMs: 100 } });
    servers.push(s);
    const plain = await get(`${m.url}${GZ}`, { headers: range });
    const [a, b] = await Promise.all([
      get(`${s.url}${GZ}`, { headers: range }),
      get(`${s.url}${GZ}`, { headers: range }),
    ]);
    for (const r of [a, b]) {
      expect(r.status).toBe(206);
      expect(r.body.equals(plain.body)).toBe(true);
      expect(r.ms).toBeGreaterThanOrEqual(100 + (BYTES / 1_000_000) * 1000 - 20);
    }
    const served = s.requests.filter((r) => r.path === GZ);
    expect(served.map((r) => [r.latencyMs, Math.round(r.lineMs ?? 0)])).toEqual([
      [100, 200],
      [100, 200],
    ]);
    await s.close();
  }, 30_000);

  it('shared: concurrent connections split one rate (the last finishes no sooner than all bytes ÷ rate)', async () => {
    const s = await startMirror();
    servers.push(s);
    s.setLine({ bytesPerSecond: 1_000_000, shared: true, latencyMs: 50 });
    expect(s.line).toEqual({ bytesPerSecond: 1_000_000, shared: true, latencyMs: 50 });
    const t0 = performance.now();
    const got = await Promise.all([0, 1, 2].map(() => get(`${s.url}${GZ}`, { headers: range })));
    const all = performance.now() - t0;
    for (const r of got) expect(r.body.length).toBe(BYTES);
    expect(all).toBeGreaterThanOrEqual(50 + ((3 * BYTES) / 1_000_000) * 1000 - 20);
    // Back to loopback speed: no latency, no pacing recorded.
    s.setLine(undefined);
    expect(s.line).toBeUndefined();
    await get(`${s.url}${GZ}`, { headers: range });
    expect(s.requests.at(-1)).not.toHaveProperty('lineMs');
    expect(s.requests.at(-1)).not.toHaveProperty('latencyMs');
    await s.close();
  }, 30_000);

  it('refuses a line it cannot model', async () => {
    await expect(startMirror({ line: { bytesPerSecond: -1 } })).rejects.toThrow(
      /bytesPerSecond must be a positive number/,
    );
    await expect(startMirror({ line: { latencyMs: Number.NaN } })).rejects.toThrow(/latencyMs must be/);
    expect(() => m.setLine({ shared: true })).toThrow(/shared needs bytesPerSecond/);
    expect(m.line).toBeUndefined();
  });

  it('CLI: --rate, --shared and --latency start it on a line', async () => {
    const child = spawn(
      process.execPath,
      [join(HERE, 'server.mjs'), '--rate', '5000000', '--shared', '--latency', '200'],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let buf = '';
        const timer = setTimeout(() => reject(new Error('no URL line within 10s')), 10_000);
        child.stdout.on('data', (c: Buffer) => {
          buf += c.toString();
          if (buf.includes('\n')) {
            clearTimeout(timer);
            resolve(buf.split('\n')[0]!);
          }
        });
        child.on('exit', (code) => reject(new Error(`server exited ${code}`)));
      });
      const info = JSON.parse(line) as { url: string; line: unknown };
      expect(info.line).toEqual({ bytesPerSecond: 5_000_000, shared: true, latencyMs: 200 });
      const r = await get(`${info.url}/node/index.json`);
      expect(r.status).toBe(200);
      expect(r.ms).toBeGreaterThanOrEqual(190);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode === null ? child.once('exit', r) : r(null)));
    }
  }, 30_000);
});

describe('CLI mode', () => {
  it('prints its URLs as one JSON line and serves until killed', async () => {
    const child = spawn(process.execPath, [join(HERE, 'server.mjs'), '--port', '0'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let buf = '';
        const timer = setTimeout(() => reject(new Error('no URL line within 10s')), 10_000);
        child.stdout.on('data', (c: Buffer) => {
          buf += c.toString();
          if (buf.includes('\n')) {
            clearTimeout(timer);
            resolve(buf.split('\n')[0]!);
          }
        });
        child.on('exit', (code) => reject(new Error(`server exited ${code}`)));
      });
      const info = JSON.parse(line) as { url: string; urls: Record<string, string> };
      expect(info.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(Object.keys(info.urls).sort()).toEqual(['alpine', 'node', 'nodeMusl', 'npm', 'uv']);
      expect((await get(`${info.urls.node}/index.json`)).status).toBe(200);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode === null ? child.once('exit', r) : r(null)));
    }
  }, 30_000);
});
