import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Options, resolveOptions } from '../../src/config/index.js';
import { CleanupLedger } from '../../src/core/ledger.js';
import { recordingReporter } from '../../src/core/reporter.js';
import { checkDownloads } from '../../src/mirror/index.js';
import { mirrorLayer } from '../support/mirror.js';
import { type Mirror, startMirror } from '../world/mirror/server.mjs';

// `mirror --downloads` against the test world's download mirror (test/world/mirror/server.mjs).
let m: Mirror;
beforeAll(async () => {
  m = await startMirror();
});
afterAll(async () => {
  await m?.close();
});

function toolkit(extra: [string, unknown][] = []): Options['toolkit'] {
  const layer = mirrorLayer(m);
  layer.values.set('toolkit.arch', ['amd64', 'arm64']);
  // The world serves 24.21.0 for both architectures (24.14.0 for amd64 only): a major resolves to it.
  layer.values.set('toolkit.node_version', '24');
  for (const [k, v] of extra) layer.values.set(k, v);
  return resolveOptions([layer]).toolkit;
}

const ctx = () => ({ reporter: recordingReporter(), ledger: new CleanupLedger(), signal: AbortSignal.timeout(60_000) });
const byId = (checks: { id: string; status: string; detail: string }[]) =>
  Object.fromEntries(checks.map((c) => [c.id, c]));

describe('mirror --downloads', () => {
  it('passes against the test world mirror, for both architectures, without downloading any archive', async () => {
    const before = m.requests.length;
    const r = await checkDownloads(toolkit(), ctx());
    const checks = byId(r.checks);
    const ids = ['node-glibc', 'node-musl', 'uv', 'runtime-lib']
      .flatMap((g) => [`downloads.${g}.amd64`, `downloads.${g}.arm64`])
      .concat('downloads.npm');
    expect(Object.keys(checks).sort()).toEqual(ids.sort());
    for (const id of ids) expect(checks[id]?.status, `${id}: ${checks[id]?.detail}`).toBe('pass');
    expect(r.plans.map((p) => p.node)).toEqual(['24.21.0', '24.21.0']);
    expect(checks['downloads.node-glibc.arm64']?.detail).toContain(
      'SHASUMS256.txt (Node.js glibc v24.21.0) lists node-v24.21.0-linux-arm64.tar.gz',
    );
    expect(checks['downloads.runtime-lib.amd64']?.detail).toMatch(
      /lists libgcc and libstdc\+\+; libgcc-.*\.apk served; libstdc\+\+-.*\.apk served/,
    );
    // Archives were asked for with HEAD only; small index files with GET.
    const asked = m.requests.slice(before);
    for (const a of asked.filter((x) => /\.(tar\.gz|tgz|apk)$/.test(x.path) && !x.path.endsWith('APKINDEX.tar.gz')))
      expect(a.method, a.path).toBe('HEAD');
    expect(asked.some((a) => a.method === 'GET' && a.path === '/node-musl/index.json')).toBe(true);
  });

  it('fails naming the file when the mirror lacks one archive, and only that check', async () => {
    const file = '/uv/releases/download/0.9.5/uv-aarch64-unknown-linux-musl.tar.gz';
    m.hide(file);
    try {
      const r = await checkDownloads(toolkit(), ctx());
      const failed = r.checks.filter((c) => c.status !== 'pass');
      expect(failed.map((c) => c.id)).toEqual(['downloads.uv.arm64']);
      expect(failed[0]?.detail).toContain('uv-aarch64-unknown-linux-musl.tar.gz');
      expect(failed[0]?.detail).toContain('HTTP 404');
      expect(failed[0]?.fix).toContain('--uv-mirror');
      expect(r.files.find((f) => f.url.endsWith(file))?.ok).toBe(false);
    } finally {
      m.unhide(file);
    }
  });

  it('fails naming the checksum list, or the apk package, when the mirror lacks it', async () => {
    const shasums = '/node/v24.21.0/SHASUMS256.txt';
    const apkDir = '/alpine/v3.23/main/x86_64';
    const r0 = await checkDownloads(toolkit([['toolkit.arch', ['amd64']]]), ctx());
    const libstdcxx = /(libstdc\+\+-[^ ;]+\.apk) served/.exec(
      byId(r0.checks)['downloads.runtime-lib.amd64']?.detail ?? '',
    )?.[1];
    expect(libstdcxx).toBeTruthy();
    m.hide(shasums);
    m.hide(`${apkDir}/${libstdcxx}`);
    try {
      const r = await checkDownloads(toolkit([['toolkit.arch', ['amd64']]]), ctx());
      const checks = byId(r.checks);
      expect(checks['downloads.node-glibc.amd64']?.status).toBe('fail');
      expect(checks['downloads.node-glibc.amd64']?.detail).toMatch(/SHASUMS256\.txt.*does not exist \(HTTP 404\)/);
      expect(checks['downloads.runtime-lib.amd64']?.status).toBe('fail');
      expect(checks['downloads.runtime-lib.amd64']?.detail).toContain(libstdcxx!);
      expect(checks['downloads.node-musl.amd64']?.status).toBe('pass');
    } finally {
      m.unhide();
    }
  });

  it('warns (the toolkit falls back to glibc) when the musl mirror has no arm64 build of the version', async () => {
    m.setOmitMuslArm64(['24.21.0']);
    try {
      const r = await checkDownloads(toolkit([['toolkit.node_version', '24.21.0']]), ctx());
      const c = byId(r.checks)['downloads.node-musl.arm64'];
      expect(c?.status).toBe('warn');
      expect(c?.detail).toContain('linux-arm64-musl');
      expect(byId(r.checks)['downloads.node-musl.amd64']?.status).toBe('pass');
    } finally {
      m.setOmitMuslArm64([]);
    }
  });

  it('skips the checksum files when verification is off, as the toolkit does', async () => {
    m.hide('/uv/releases/download/0.9.5/uv-x86_64-unknown-linux-musl.tar.gz.sha256');
    try {
      const r = await checkDownloads(
        toolkit([
          ['toolkit.arch', ['amd64']],
          ['toolkit.verify', false],
        ]),
        ctx(),
      );
      expect(
        r.checks.every((c) => c.status === 'pass'),
        JSON.stringify(r.checks),
      ).toBe(true);
      expect(r.files.some((f) => f.file.endsWith('.sha256'))).toBe(false);
    } finally {
      m.unhide();
    }
  });
});
