import { chmod, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { docker } from '../../src/core/docker.js';
import { CleanupLedger } from '../../src/core/ledger.js';
import { type Platform, platformOf } from '../../src/core/platform.js';
import { ImageFiles } from '../../src/image/files.js';
import {
  CHECK_IDS,
  CONTRACT_CHECK_IDS,
  type ImageReport,
  type ToolkitRef,
  type ValidateRequest,
  validateImages,
} from '../../src/image/index.js';
import { testContext } from '../support/context.js';
import { checkOf as check, importTree, removeImages } from '../support/images.js';
import { validateLeftovers as leftovers } from '../support/leaks.js';
import { tempDir } from '../support/tmp.js';
import { DEFAULT_IMAGE_ALIAS, IMAGE_FACTS, IMAGE_KEYS, IMAGES } from '../world/images.js';

const amd64 = platformOf('amd64');
const arm64 = platformOf('arm64');

/** The seed era unless a test says otherwise: these images predate the contract (v0.18 tests are in contract-images.test.ts). */
function request(images: string[], platforms: Platform[], extra: Partial<ValidateRequest> = {}): ValidateRequest {
  return { images, platforms, registry: '', pull: 'never', concurrency: 2, memoh: 'v3', ...extra };
}

/** The images made before Memoh's contract existed (no workspace facts), and not the server stand-in. */
const SEED_KEYS = IMAGE_KEYS.filter((k) => !('workspace' in IMAGE_FACTS[k]) && k !== 'serverAmd64');
const SEED_IMAGES = SEED_KEYS.map((k) => IMAGES[k]);
const V3_IDS = CHECK_IDS.filter((id) => !CONTRACT_CHECK_IDS.includes(id));

describe('validate against the test-world images (--pull never, --memoh v3)', () => {
  let reports: ImageReport[];
  let elapsedMs: number;
  const ctx = testContext();
  const find = (image: string, p: Platform) =>
    reports.find((r) => r.image.input === image && r.platform.arch === p.arch);

  beforeAll(async () => {
    const started = performance.now();
    reports = await validateImages(request([...SEED_IMAGES, DEFAULT_IMAGE_ALIAS], [amd64, arm64]), ctx);
    elapsedMs = performance.now() - started;
    console.info(`validated ${reports.length} image×platform pairs in ${(elapsedMs / 1000).toFixed(1)}s`);
  });

  it('reports every image × platform, in request order, each with every check id in order', () => {
    expect(reports.map((r) => `${r.image.input} ${r.platform.arch}`)).toEqual(
      [...SEED_IMAGES, DEFAULT_IMAGE_ALIAS].flatMap((i) => [`${i} amd64`, `${i} arm64`]),
    );
    // The seed era has no contract: its checks are left out, not skipped.
    for (const r of reports) expect(r.checks.map((c) => c.id)).toEqual(V3_IDS);
    for (const r of reports) expect(r.era).toMatchObject({ era: 'v3', by: 'option', guess: false });
    // Serialisable as it is: the report stage and the smoke stage read it as JSON.
    expect(JSON.parse(JSON.stringify(reports))).toEqual(reports);
  });

  it("detects each image's C library from its files, as the world builder made it", () => {
    for (const key of SEED_KEYS) {
      const facts = IMAGE_FACTS[key];
      const r = find(facts.tag, platformOf(facts.arch));
      expect(r?.libc, facts.tag).toBe(facts.libc);
    }
    expect(check(find(IMAGES.muslAmd64, amd64), 'image.libc').detail).toContain(
      'musl (loader /lib/ld-musl-x86_64.so.1)',
    );
    expect(check(find(IMAGES.muslArm64, arm64), 'image.libc').detail).toContain('/lib/ld-musl-aarch64.so.1');
    // merged /usr: /lib64 and /lib are links into /usr; the chain is shown
    expect(check(find(IMAGES.debianAmd64, amd64), 'image.libc').detail).toMatch(
      /glibc \(loader \/lib64\/ld-linux-x86-64\.so\.2 → \/usr\/lib\/x86_64-linux-gnu\//,
    );
  });

  it('Debian (glibc) passes, and so does the embedded default debian:bookworm-slim', () => {
    for (const image of [IMAGES.debianAmd64, DEFAULT_IMAGE_ALIAS]) {
      const r = find(image, amd64)!;
      expect(r.status, JSON.stringify(r.checks)).toBe('pass');
      expect(r.checks.filter((c) => c.status !== 'pass').map((c) => c.id)).toEqual(['image.toolkit']);
      expect(check(r, 'image.shell').detail).toBe('/bin/sh → /usr/bin/dash (mode 0755)');
    }
    expect(find(DEFAULT_IMAGE_ALIAS, amd64)?.image.resolved).toBe('docker.io/library/debian:bookworm-slim');
  });

  it('arm64 images pass for linux/arm64 and fail the platform check for linux/amd64, and vice versa', () => {
    for (const image of [IMAGES.debianArm64, IMAGES.muslArm64]) {
      expect(find(image, arm64)?.status).toBe('pass');
      const wrong = find(image, amd64)!;
      expect(check(wrong, 'image.platform')).toMatchObject({
        status: 'fail',
        detail: 'the image is linux/arm64/v8, not linux/amd64',
      });
      expect(check(wrong, 'image.platform').fix).toMatch(/--pull always/);
      expect(wrong.actual).toEqual({ os: 'linux', arch: 'arm64', variant: 'v8' });
    }
    for (const image of [IMAGES.debianAmd64, IMAGES.muslAmd64]) {
      expect(find(image, amd64)?.status).toBe('pass');
      expect(check(find(image, arm64), 'image.platform')).toMatchObject({
        status: 'fail',
        detail: 'the image is linux/amd64, not linux/arm64',
      });
    }
  });

  it('the no-shell image fails image.shell with its reason (and has no C library)', () => {
    const r = find(IMAGES.noshellAmd64, amd64)!;
    expect(r.status).toBe('fail');
    expect(check(r, 'image.shell')).toMatchObject({
      status: 'fail',
      detail: expect.stringMatching(/^no \/bin\/sh: Exec runs every command through \/bin\/sh -c/),
    });
    expect(check(r, 'image.shell').fix).toMatch(/POSIX shell/);
    expect(check(r, 'image.libc').status).toBe('warn');
    expect(r.checks.filter((c) => c.status === 'fail').map((c) => c.id)).toEqual(['image.shell']);
  });

  it('the ENTRYPOINT + USER image warns with both reasons', () => {
    const r = find(IMAGES.entrypointUserAmd64, amd64)!;
    expect(r.status).toBe('warn');
    expect(r.entrypoint).toEqual(['/usr/bin/false']);
    expect(r.user).toBe('1000:1000');
    expect(check(r, 'image.entrypoint')).toMatchObject({
      status: 'warn',
      detail: expect.stringContaining('ENTRYPOINT ["/usr/bin/false"]'),
    });
    const user = check(r, 'image.user');
    expect(user.status).toBe('warn');
    expect(user.detail).toContain('image USER is 1000:1000 (not root)');
    // /data is absent and / is root's 0755: the bridge could not create it
    expect(user.detail).toContain('create /data (/ is owner 0, mode 0755: not writable by 1000)');
    expect(user.fix).toMatch(/drop USER/);
    expect(r.checks.filter((c) => c.status === 'warn').map((c) => c.id)).toEqual(['image.entrypoint', 'image.user']);
  });

  it('the legacy MCP image warns about content under /opt/memoh and /run/memoh, and its VOLUME /data', () => {
    const r = find(IMAGES.legacyMcpAmd64, amd64)!;
    expect(r.status).toBe('warn');
    const hidden = check(r, 'image.hidden-mounts');
    expect(hidden.status).toBe('warn');
    expect(hidden.detail).toMatch(
      /\/opt\/memoh holds 4 entries \(.*mcp-server.*\) hidden by the read-only runtime mount/,
    );
    expect(hidden.detail).toMatch(/\/run\/memoh holds 1 entry \(README\)/);
    expect(check(r, 'image.data')).toMatchObject({ status: 'warn', detail: expect.stringContaining('VOLUME /data') });
  });

  it('reports size and layers as information', () => {
    const r = find(IMAGES.debianAmd64, amd64)!;
    expect(r.layers).toBe(1);
    expect(r.sizeBytes).toBeGreaterThan(50e6);
    expect(check(r, 'image.size')).toMatchObject({
      status: 'pass',
      detail: expect.stringMatching(/^\d+\.\d MB in 1 layer$/),
    });
  });

  it('leaves no container behind and an empty ledger', async () => {
    expect(ctx.ledger.entries()).toEqual([]);
    expect(await leftovers(process.pid)).toEqual([]);
  });
});

describe('pull policy', () => {
  it('--pull never on an absent image fails fast with the fix, the rest skipped', async () => {
    const ctx = testContext();
    const started = performance.now();
    const [r] = await validateImages(request(['memoh-test/absent:nope'], [amd64]), ctx);
    expect(performance.now() - started).toBeLessThan(2000);
    expect(r?.status).toBe('fail');
    expect(check(r, 'image.pull')).toMatchObject({
      status: 'fail',
      detail: 'docker.io/memoh-test/absent:nope is not present locally and --pull never forbids pulling it',
      fix: 'pull it, or load it with docker load, or use --pull missing',
    });
    expect(r?.checks.slice(1).every((c) => c.status === 'skip' && c.detail.includes('not available'))).toBe(true);
    expect(r?.imageId).toBeUndefined();
  });

  it('--pull missing takes a present image of the right platform without pulling', async () => {
    const ctx = testContext();
    const [r] = await validateImages(request([IMAGES.muslAmd64], [amd64], { pull: 'missing' }), ctx);
    expect(check(r, 'image.pull').detail).toMatch(/^present locally, not pulled \(--pull missing\)/);
    expect(ctx.reporter.lines.some((l) => l.message.startsWith('pulling'))).toBe(false);
  });

  it('--pull missing tries a pull for an absent image and reports its failure with a fix', async () => {
    const ctx = testContext();
    const [r] = await validateImages(request(['memoh-test/absent:nope'], [amd64], { pull: 'missing' }), ctx);
    const pull = check(r, 'image.pull');
    expect(pull.status).toBe('fail');
    expect(pull.detail).toMatch(/^pull of docker\.io\/memoh-test\/absent:nope for linux\/amd64 failed: \S/);
    expect(pull.fix).toBeTruthy();
    expect(ctx.reporter.lines).toContainEqual({
      level: 'info',
      message: 'pulling docker.io/memoh-test/absent:nope for linux/amd64',
    });
  });

  it('--pull missing with only another platform present: tries the pull, then judges the local image', async () => {
    const ctx = testContext();
    // memoh-test/* exist nowhere but here: the pull fails, and the arm64 image present is what the platform check sees
    const [r] = await validateImages(request([IMAGES.debianArm64], [amd64], { pull: 'missing' }), ctx);
    expect(check(r, 'image.pull')).toMatchObject({
      status: 'warn',
      detail: expect.stringMatching(/^present locally as .*linux\/arm64\/v8\); pulling linux\/amd64 failed/),
    });
    expect(check(r, 'image.platform').status).toBe('fail');
  });
});

describe('toolkit compatibility (--toolkit)', () => {
  // toolkit.json as the toolkit stage writes it; only arch and fallback matter here
  const tk = (arch: 'amd64' | 'arm64', fallback: 'glibc' | null): ToolkitRef => ({
    dir: `/toolkits/${arch}`,
    manifest: { arch, fallback },
  });

  it('an arm64 musl image with a glibc-fallback node-musl fails with "install gcompat"; glibc images pass', async () => {
    const ctx = testContext();
    const reports = await validateImages(
      request([IMAGES.muslArm64, IMAGES.debianArm64], [arm64], { toolkit: tk('arm64', 'glibc') }),
      ctx,
    );
    const musl = check(reports[0], 'image.toolkit');
    expect(musl.status).toBe('fail');
    expect(musl.detail).toContain('no /lib/ld-linux-aarch64.so.1');
    expect(musl.fix).toBe('install gcompat in the image (apk add gcompat)');
    expect(check(reports[1], 'image.toolkit')).toMatchObject({
      status: 'pass',
      detail: 'the wrappers pick node-glibc; it starts through /lib/ld-linux-aarch64.so.1',
    });
  });

  it('a musl image with a real musl node-musl passes; an image with no loader fails; other arches are skipped', async () => {
    const ctx = testContext();
    const reports = await validateImages(
      request([IMAGES.muslAmd64, IMAGES.noshellAmd64], [amd64, arm64], { toolkit: [tk('amd64', null)] }),
      ctx,
    );
    expect(check(reports[0], 'image.toolkit')).toMatchObject({
      status: 'pass',
      detail: expect.stringContaining('node-musl'),
    });
    expect(check(reports[1], 'image.toolkit')).toMatchObject({
      status: 'skip',
      detail: 'no toolkit for arm64 given (have: amd64)',
    });
    expect(check(reports[2], 'image.toolkit')).toMatchObject({
      status: 'fail',
      detail: expect.stringContaining('node-glibc, and the image has no /lib64/ld-linux-x86-64.so.2'),
    });
  });
});

describe('odd images (built here from a few files with docker import)', () => {
  const tag = (n: string) => `memoh-test/validate-edge-${n}:${process.pid}`;
  let dir: string;

  beforeAll(async () => {
    dir = tempDir('validate-edge');
    // A: a /bin/sh symlink loop, /data a file, /opt/memoh a symlink, a dangling musl loader
    const a = join(dir, 'a');
    await mkdir(join(a, 'bin'), { recursive: true });
    await mkdir(join(a, 'opt'));
    await mkdir(join(a, 'lib'));
    await symlink('/bin/loop', join(a, 'bin/sh'));
    await symlink('/bin/sh', join(a, 'bin/loop'));
    await writeFile(join(a, 'data'), 'not a dir\n');
    await symlink('/srv/memoh', join(a, 'opt/memoh'));
    await symlink('gone', join(a, 'lib/ld-musl-x86_64.so.1'));
    await importTree(a, tag('a'), []);
    // B: /bin/sh not executable, two musl loaders, an empty /run/memoh, a root-only /data, USER 1000
    const b = join(dir, 'b');
    await mkdir(join(b, 'bin'), { recursive: true });
    await mkdir(join(b, 'lib'));
    await mkdir(join(b, 'run/memoh'), { recursive: true });
    await mkdir(join(b, 'data'));
    await chmod(join(b, 'data'), 0o700);
    await writeFile(join(b, 'bin/sh'), '#!/not/really\n');
    await chmod(join(b, 'bin/sh'), 0o644);
    await writeFile(join(b, 'lib/ld-musl-x86_64.so.1'), 'x');
    await writeFile(join(b, 'lib/ld-musl-aarch64.so.1'), 'x');
    await importTree(b, tag('b'), ['USER 1000', 'VOLUME /cache']);
  });

  afterAll(async () => {
    await removeImages(['a', 'b'].map(tag));
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('A: a /bin/sh loop fails image.shell, /data as a file fails image.data, a symlinked /opt/memoh warns, a dangling loader is no loader', async () => {
    const ctx = testContext();
    const [r] = await validateImages(request([tag('a')], [amd64]), ctx);
    expect(check(r, 'image.shell')).toMatchObject({ status: 'fail', detail: expect.stringContaining('symlink loop') });
    expect(check(r, 'image.data')).toMatchObject({
      status: 'fail',
      detail: expect.stringContaining('/data is a regular file'),
    });
    expect(check(r, 'image.hidden-mounts')).toMatchObject({
      status: 'warn',
      detail: expect.stringContaining('/opt/memoh is a symlink (→ /srv/memoh)'),
    });
    expect(r?.libc).toBe('none');
    expect(await leftovers(process.pid)).toEqual([]);
  });

  it('B: a non-executable /bin/sh fails, two musl loaders warn, an empty /run/memoh is fine, USER 1000 cannot write a 0700 /data', async () => {
    const ctx = testContext();
    const [r] = await validateImages(
      request([tag('b')], [amd64], { toolkit: { dir: '/tk', manifest: { arch: 'amd64', fallback: null } } }),
      ctx,
    );
    expect(check(r, 'image.shell')).toMatchObject({
      status: 'fail',
      detail: expect.stringContaining('/bin/sh is not executable (mode 0644)'),
    });
    expect(check(r, 'image.libc')).toMatchObject({
      status: 'warn',
      detail: expect.stringContaining('several musl loaders'),
    });
    // the wrappers' glob matches twice, their test errors, they pick node-glibc, which has no loader here
    expect(check(r, 'image.toolkit')).toMatchObject({
      status: 'fail',
      detail: expect.stringContaining('the wrappers pick node-glibc'),
    });
    expect(check(r, 'image.hidden-mounts')).toMatchObject({
      status: 'pass',
      detail: expect.stringContaining('/run/memoh exists, empty'),
    });
    expect(check(r, 'image.user').detail).toContain('write /data (owner 0, mode 0700: not writable by 1000)');
    expect(check(r, 'image.data')).toMatchObject({
      status: 'pass',
      detail: expect.stringContaining('VOLUMEs /cache are not mounted by Memoh'),
    });
  });
});

describe('reading files through a created container', () => {
  it('resolves symlinks in the rootfs, lists a large directory only up to its bound, and removes the container', async () => {
    const ctx = testContext();
    const image = await docker().getImage(IMAGES.debianAmd64).inspect();
    const files = await ImageFiles.open(image.Id, ctx);
    try {
      expect(await leftovers(process.pid)).toHaveLength(1);
      // merged /usr: /bin is a link to usr/bin, /bin/sh a link to dash
      const sh = await files.stat('/bin/sh');
      expect(sh.chain).toEqual(['/bin/sh', '/usr/bin/dash']);
      expect(sh.stat).toMatchObject({ kind: 'file', perm: 0o755 });
      expect(await files.lstat('/bin')).toMatchObject({ kind: 'symlink', linkTarget: '/usr/bin' });
      expect(await files.lstat('/no/such')).toBeUndefined();
      const big = await files.entries('/usr/lib', 5);
      expect(big).toMatchObject({ complete: false });
      expect(big.entries).toHaveLength(5);
      expect(big.entries[0]).toMatchObject({ path: 'lib/', kind: 'dir', uid: 0 });
      const small = await files.entries('/etc/debian_version', 5);
      expect(small).toMatchObject({ complete: true, entries: [{ path: 'debian_version', kind: 'file' }] });
    } finally {
      await files.close();
    }
    expect(ctx.ledger.entries()).toEqual([]);
    expect(await leftovers(process.pid)).toEqual([]);
  });
});

describe('interrupt', () => {
  it('aborting while a container exists rejects, and every created container is gone', async () => {
    const ledger = new CleanupLedger(docker);
    const ctx = testContext({ ledger });
    let created = 0;
    // Abort the moment the first container is recorded, before the engine has even created it.
    ledger.onChange((entries) => {
      if (entries.length > 0 && created++ === 0) ctx.abort.abort(new Error('test interrupt'));
    });
    const run = validateImages(request(Object.values(IMAGES), [amd64, arm64], { concurrency: 3 }), ctx);
    await expect(run).rejects.toThrow('test interrupt');
    expect(created).toBeGreaterThan(0);
    expect(ledger.entries()).toEqual([]);
    expect(await leftovers(process.pid)).toEqual([]);
  });
});
