import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { create as createTar } from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { docker } from '../../src/core/docker.js';
import { platformOf } from '../../src/core/platform.js';
import { type ImageReport, type ValidateRequest, validateImages } from '../../src/image/index.js';
import { startCli } from '../support/cli.js';
import { testContext } from '../support/context.js';
import { validateLeftovers as leftovers } from '../support/leaks.js';
import { tempDir } from '../support/tmp.js';
import { CLI } from '../world/paths.js';
import { type LocalRegistry, pushImage, startRegistry } from '../world/registry.js';

/**
 * Pulls through a real registry (Debian's docker-registry on 127.0.0.1, htpasswd auth): the image is
 * made here with random content, pushed, and removed locally, so the engine really downloads it.
 */
const creds = { user: 'memoh', password: `pw-${randomBytes(8).toString('hex')}` };
const amd64 = platformOf('amd64');
let registry: LocalRegistry;
let dir: string;
let ref: string;
const localTag = `memoh-test/validate-pull:${process.pid}`;

const pullCheck = (r: ImageReport | undefined) => r?.checks.find((c) => c.id === 'image.pull');

function request(pull: ValidateRequest['pull'], auth = true): ValidateRequest {
  return {
    images: [ref],
    platforms: [amd64],
    registry: '',
    pull,
    concurrency: 1,
    // A musl image from before Memoh's contract: judged by the seed's rules.
    memoh: 'v3',
    ...(auth ? { auth: { [registry.host]: { username: creds.user, password: creds.password } } } : {}),
  };
}

async function removeLocal(name: string): Promise<void> {
  await docker()
    .getImage(name)
    .remove({ force: true })
    .catch((err: { statusCode?: number }) => {
      if (err.statusCode !== 404) throw err;
    });
}

beforeAll(async () => {
  dir = tempDir('validate-pull');
  const root = join(dir, 'rootfs');
  await mkdir(join(root, 'bin'), { recursive: true });
  await mkdir(join(root, 'lib'));
  // 3 MB of random bytes: no layer the engine already has, so the pull downloads (and reports progress).
  await writeFile(join(root, 'bin/busybox'), randomBytes(3_000_000), { mode: 0o755 });
  await symlink('/bin/busybox', join(root, 'bin/sh'));
  await writeFile(join(root, 'lib/ld-musl-x86_64.so.1'), randomBytes(1000), { mode: 0o755 });
  const tarFile = join(dir, 'rootfs.tar');
  await createTar({ file: tarFile, cwd: root, portable: true }, ['.']);
  const [repo, tag] = localTag.split(':') as [string, string];
  const res = (await docker().importImage(tarFile, { repo, tag })) as IncomingMessage;
  for await (const _ of res);
  registry = await startRegistry({ auth: creds });
  ({ ref } = await pushImage(localTag, registry.host, `memoh-test/validate-pull:${process.pid}`, creds));
  await removeLocal(localTag);
}, 120_000);

afterAll(async () => {
  if (ref) await removeLocal(ref);
  await removeLocal(localTag);
  await registry?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('pulling from a registry that wants a login', () => {
  it('never → fails (absent); missing → pulls with layer progress; missing again → no pull; always → up to date', async () => {
    const absent = await validateImages(request('never'), testContext());
    expect(pullCheck(absent[0])?.status).toBe('fail');

    const ctx = testContext();
    const [pulled] = await validateImages(request('missing'), ctx);
    expect(pullCheck(pulled)).toMatchObject({
      status: 'pass',
      detail: expect.stringMatching(/^pulled \d+\.\d MB for linux\/amd64 in \d+\.\ds: sha256:/),
    });
    expect(pulled?.status).toBe('pass');
    expect(pulled?.libc).toBe('musl');
    const progress = ctx.reporter.lines.filter((l) => l.level === 'progress').map((l) => l.message);
    // bytes and percent per layer, and the layer's completion
    expect(
      progress.some((m) =>
        /^pull 127\.0\.0\.1:\d+\/memoh-test\/validate-pull:\d+ [0-9a-f]{12}: \d+\.\d MB \/ 3\.0 MB \(\d+%\)$/.test(m),
      ),
      progress.join('\n'),
    ).toBe(true);
    expect(
      progress.some((m) => m.endsWith('3.0 MB downloaded (100%)')),
      progress.join('\n'),
    ).toBe(true);
    expect(ctx.reporter.lines).toContainEqual({
      level: 'info',
      message: `pulling ${ref} for linux/amd64 (with registry credentials)`,
    });
    // the credentials never reach the reporter
    const said = JSON.stringify(ctx.reporter.lines);
    expect(said).not.toContain(creds.password);
    expect(said).not.toContain(Buffer.from(`${creds.user}:${creds.password}`).toString('base64'));

    const [again] = await validateImages(request('missing'), testContext());
    expect(pullCheck(again)?.detail).toMatch(/^present locally, not pulled \(--pull missing\)/);
    const [always] = await validateImages(request('always'), testContext());
    expect(pullCheck(always)?.detail).toMatch(/^up to date for linux\/amd64/);
  });

  it('without credentials the pull fails with a login fix', async () => {
    const [r] = await validateImages(request('always', false), testContext());
    const c = pullCheck(r);
    expect(c?.status).toBe('fail');
    expect(c?.detail).toMatch(/no basic auth credentials|unauthorized|authentication required/i);
    expect(c?.fix, c?.detail).toBe(
      `log in to ${registry.host} (docker login ${registry.host}; credentials are read from the Docker config), or check the name`,
    );
  });

  it('the CLI takes the credentials from the Docker config (DOCKER_CONFIG) and prints no secret', async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
    await removeLocal(ref);
    const config = join(dir, 'docker-config');
    await mkdir(config, { recursive: true });
    const auth = Buffer.from(`${creds.user}:${creds.password}`).toString('base64');
    await writeFile(join(config, 'config.json'), JSON.stringify({ auths: { [registry.host]: { auth } } }));
    const { child, done } = startCli(
      ['validate', '--image', ref, '--platform', 'linux/amd64', '--pull', 'always', '--memoh', 'v3'],
      { DOCKER_CONFIG: config },
      60_000,
    );
    const r = await done;
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toMatch(/pass {2}image\.pull {18}pulled 3\.0 MB/);
    expect(r.stderr).toMatch(/pull 127\.0\.0\.1:\d+\/memoh-test\/validate-pull:\d+ [0-9a-f]{12}: /);
    for (const out of [r.stdout, r.stderr]) {
      expect(out).not.toContain(creds.password);
      expect(out).not.toContain(auth);
    }
    expect(await leftovers(child.pid!)).toEqual([]);
  });
});
