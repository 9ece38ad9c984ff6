import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../support/tmp.js';
import { IMAGES } from '../world/images.js';
import { type Mirror, startMirror } from '../world/mirror/server.mjs';
import { CLI } from '../world/paths.js';
import { type LocalRegistry, pushImage, run, startRegistry } from '../world/registry.js';
import { copy } from './helpers.js';

/**
 * `memoh-workspace mirror` as users run it (the built CLI, dist/cli.js): exit codes, --json, the cn
 * preset and its overrides. Children are run asynchronously: the download mirror lives in this process.
 */
const cli = (args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv } = {}) =>
  run(process.execPath, [CLI, 'mirror', ...args], {
    timeoutMs: 90_000,
    env: { ...process.env, ...opts.env },
    ...(opts.input !== undefined ? { input: opts.input } : {}),
  });

let up: LocalRegistry;
let mi: LocalRegistry;
let locked: LocalRegistry;
let dl: Mirror;
let dir: string;
const creds = { user: 'memoh', password: `cli-${process.pid}-${Date.now()}` };

beforeAll(async () => {
  [up, mi, locked, dl] = await Promise.all([
    startRegistry(),
    startRegistry(),
    startRegistry({ auth: creds }),
    startMirror(),
  ]);
  dir = tempDir('mirror-cli');
  await pushImage(IMAGES.muslAmd64, up.host, 'library/app:1');
  await pushImage(IMAGES.noshellAmd64, up.host, 'library/app:2');
  await copy(`${up.host}/library/app:1`, `${mi.host}/app:1`);
  await copy(`${up.host}/library/app:1`, `${mi.host}/app:2`);
  await copy(`${up.host}/library/app:1`, `${locked.host}/app:1`, { dest: creds });
}, 300_000);

afterAll(async () => {
  await Promise.all([up?.stop(), mi?.stop(), locked?.stop(), dl?.close()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('memoh-workspace mirror (CLI)', () => {
  it('exit 0 and a JSON report when every image is in sync', async () => {
    const r = await cli(['--image', 'app:1', '--registry', mi.host, '--upstream', up.host, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.result).toBe('success');
    expect(out.report.images[0]).toMatchObject({ label: 'app:1', status: 'in-sync' });
    expect(out.rows.map((x: { platform: string; status: string }) => [x.platform, x.status])).toEqual([
      ['all', 'pass'],
      ['linux/amd64', 'pass'],
    ]);
  });

  it('exit 1 when one image is stale, naming both digests in the text output', async () => {
    const r = await cli(['--image', 'app:1', '--image', 'app:2', '--registry', mi.host, '--upstream', up.host]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toMatch(/^app:1: in-sync/m);
    expect(r.stdout).toMatch(/^app:2: stale/m);
    expect(r.stdout).toMatch(
      /FAIL mirror\.linux\/amd64 +stale: mirror sha256:[0-9a-f]{64}, upstream sha256:[0-9a-f]{64}/,
    );
  });

  it('exit 2 naming the input on bad input', async () => {
    const noRegistry = await cli(['--image', 'app:1']);
    expect(noRegistry.code).toBe(2);
    expect(noRegistry.stderr).toContain('--registry');
    const badPlatform = await cli(['--image', 'app:1', '--registry', mi.host, '--platform', 'linux/s390x']);
    expect(badPlatform.code).toBe(2);
    expect(badPlatform.stderr).toContain('--platform');
    const half = await cli(['--compose', join(dir, 'x.yml')]);
    expect(half.code).toBe(2);
    expect(half.stderr).toContain('--overlay');
  });

  it('basic auth with --username and --password-stdin; the password is never printed', async () => {
    const base = ['--image', 'app:1', '--registry', locked.host, '--upstream', up.host, '--json'];
    const r = await cli([...base, '--username', creds.user, '--password-stdin'], { input: `${creds.password}\n` });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).not.toContain(creds.password);
    const anon = await cli(base);
    expect(anon.code).toBe(1);
    expect(JSON.parse(anon.stdout).report.images[0].ref.failure.httpStatus).toBe(401);
  });

  it('--downloads passes against the test world mirror and fails naming a removed file', async () => {
    const flags = [
      '--downloads',
      '--arch',
      'amd64',
      '--node-mirror',
      dl.urls.node,
      '--node-musl-mirror',
      dl.urls.nodeMusl,
      '--npm-mirror',
      dl.urls.npm,
      '--uv-mirror',
      dl.urls.uv,
      '--alpine-mirror',
      dl.urls.alpine,
    ];
    const ok = await cli(flags);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^PASS downloads\.npm:/m);
    dl.hide('/node-musl/v24.14.0/node-v24.14.0-linux-x64-musl.tar.gz');
    try {
      const bad = await cli(flags);
      expect(bad.code).toBe(1);
      expect(bad.stdout).toMatch(
        /^FAIL downloads\.node-musl\.amd64: node-v24\.14\.0-linux-x64-musl\.tar\.gz: .* HTTP 404/m,
      );
    } finally {
      dl.unhide();
    }
  });
});

describe('the mainland-China preset', () => {
  const mirrorsOf = (stdout: string) => JSON.parse(stdout).configuration;

  it('--preset cn resolves memoh.cn and the mainland mirrors, and Memoh pairs for the default image', async () => {
    const r = await cli(['--preset', 'cn', '--dry-run', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.configuration.preset).toBe('cn');
    expect(out.configuration.workspace.registry).toBe('memoh.cn');
    expect(out.configuration.toolkit.mirrors).toEqual({
      node: 'https://npmmirror.com/mirrors/node',
      nodeMusl: 'https://unofficial-builds.nodejs.org/download/release',
      npm: 'https://registry.npmmirror.com',
      uv: 'https://github.com/astral-sh/uv/releases/download',
      alpine: 'https://mirrors.tuna.tsinghua.edu.cn/alpine',
    });
    // The default image (today's memohai/workspace:debian) as written, paired with registry + "/" + it.
    expect(out.pairs[0].mirror.ref).toBe('memoh.cn/memohai/workspace:debian');
    expect(out.pairs[0].upstream).toMatchObject({
      ref: 'docker.io/memohai/workspace:debian',
      host: 'registry-1.docker.io',
    });
  });

  it('every preset value can be overridden from the command line', async () => {
    const r = await cli([
      '--preset',
      'cn',
      '--dry-run',
      '--json',
      '--registry',
      'mirror.example:5000',
      '--node-mirror',
      'https://n.example/node',
      '--node-musl-mirror',
      'https://n.example/musl',
      '--npm-mirror',
      'https://n.example/npm',
      '--uv-mirror',
      'https://n.example/uv',
      '--alpine-mirror',
      'https://n.example/alpine',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const c = mirrorsOf(r.stdout);
    expect(c.workspace.registry).toBe('mirror.example:5000');
    expect(c.toolkit.mirrors).toEqual({
      node: 'https://n.example/node',
      nodeMusl: 'https://n.example/musl',
      npm: 'https://n.example/npm',
      uv: 'https://n.example/uv',
      alpine: 'https://n.example/alpine',
    });
  });

  it('every preset value can be overridden from the config file, and flags beat the file', async () => {
    const file = join(dir, 'ci.toml');
    await writeFile(
      file,
      `[workspace]
registry = "file.example"
[mirrors]
node = "https://f.example/node"
node_musl = "https://f.example/musl"
npm = ""
uv = "https://f.example/uv"
alpine = "https://f.example/alpine"
`,
    );
    const r = await cli(['--preset', 'cn', '--config', file, '--dry-run', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const c = mirrorsOf(r.stdout);
    expect(c.workspace.registry).toBe('file.example');
    // npm = "" means the machine's npm registry again, not the preset's.
    expect(c.toolkit.mirrors).toEqual({
      node: 'https://f.example/node',
      nodeMusl: 'https://f.example/musl',
      npm: '',
      uv: 'https://f.example/uv',
      alpine: 'https://f.example/alpine',
    });
    const both = await cli(['--preset', 'cn', '--config', file, '--registry', 'flag.example', '--dry-run', '--json']);
    expect(mirrorsOf(both.stdout).workspace.registry).toBe('flag.example');
  });
});
