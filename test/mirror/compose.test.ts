import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../../src/core/errors.js';
import { interpolate } from '../../src/mirror/compose.js';
import { checkMirrors, composePairs, mirrorRows } from '../../src/mirror/index.js';
import { tempDir } from '../support/tmp.js';
import { IMAGES } from '../world/images.js';
import { type LocalRegistry, pushImage, startRegistry } from '../world/registry.js';
import { copy, ctx } from './helpers.js';

/**
 * Memoh's root docker-compose.yml and its mainland overlay docker/docker-compose.cn.yml, as fixtures of the same
 * shape (test/mirror/fixtures). For the live checks the overlay's memoh.cn becomes a loopback registry (`mi`) and
 * a second one stands in for Docker Hub (`up`, via --upstream).
 */
const FIXTURES = join(__dirname, 'fixtures');
const BASE = join(FIXTURES, 'docker-compose.yml');
const OVERLAY = join(FIXTURES, 'docker-compose.cn.yml');
const DEFAULT = { image: 'memohai/workspace:debian', registry: '' };

let up: LocalRegistry;
let mi: LocalRegistry;
let dir: string;
let overlay: string;

beforeAll(async () => {
  [up, mi] = await Promise.all([startRegistry(), startRegistry()]);
  dir = tempDir('mirror-compose');
  await pushImage(IMAGES.muslAmd64, up.host, 'library/postgres:18-alpine');
  await pushImage(IMAGES.noshellAmd64, up.host, 'memohai/server:latest');
  await pushImage(IMAGES.debianAmd64, up.host, 'memohai/workspace:debian');
  for (const [from, to] of [
    [`${up.host}/library/postgres:18-alpine`, `${mi.host}/library/postgres:18-alpine`],
    [`${up.host}/memohai/server:latest`, `${mi.host}/memohai/server:latest`],
    [`${up.host}/library/postgres:18-alpine`, `${up.host}/memohai/web:latest`],
    // The mirror's web is an older build: another image under the same tag.
    [`${up.host}/memohai/server:latest`, `${mi.host}/memohai/web:latest`],
    [`${up.host}/memohai/workspace:debian`, `${mi.host}/memohai/workspace:debian`],
  ] as const) {
    await copy(from, to);
  }
  overlay = join(dir, 'docker-compose.cn.yml');
  await writeFile(overlay, (await readFile(OVERLAY, 'utf8')).replaceAll('memoh.cn/', `${mi.host}/`));
}, 300_000);

afterAll(async () => {
  await Promise.all([up?.stop(), mi?.stop()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("mirror --compose docker-compose.yml --overlay docker/docker-compose.cn.yml (Memoh's files)", () => {
  it('pairs the services by name, and adds the workspace default image, which is in no compose file', () => {
    const c = composePairs(BASE, OVERLAY, '', {}, DEFAULT);
    expect(c.pairs.map((p) => [p.label, p.upstream.ref, p.mirror.ref])).toEqual([
      ['postgres', 'docker.io/library/postgres:18-alpine', 'memoh.cn/library/postgres:18-alpine'],
      ['migrate', 'docker.io/memohai/server:latest', 'memoh.cn/memohai/server:latest'],
      ['server', 'docker.io/memohai/server:latest', 'memoh.cn/memohai/server:latest'],
      ['web', 'docker.io/memohai/web:latest', 'memoh.cn/memohai/web:latest'],
      ['memohai/workspace:debian', 'docker.io/memohai/workspace:debian', 'memoh.cn/memohai/workspace:debian'],
    ]);
    const d = c.pairs.at(-1)!;
    expect(d.service).toBeUndefined();
    expect(d.note).toMatch(
      /in no compose file.*memoh\.cn\/memohai\/workspace:debian.*the registry of docker-compose\.cn\.yml's images/,
    );
    // Optional services the overlay leaves to upstream are reported, not guessed.
    expect(c.unpaired.map((u) => u.service)).toEqual(['sparse', 'qdrant', 'browser']);
  });

  it("the configured registry, when given, is the default image's mirror, as Memoh builds it", () => {
    const c = composePairs(
      BASE,
      OVERLAY,
      '',
      {},
      { image: 'memohai/workspace:debian', registry: 'mirror.example:5000' },
    );
    expect(c.pairs.at(-1)).toMatchObject({
      label: 'memohai/workspace:debian',
      mirror: {
        ref: 'mirror.example:5000/memohai/workspace:debian',
        host: 'mirror.example:5000',
        repository: 'memohai/workspace',
      },
      upstream: { host: 'registry-1.docker.io', repository: 'memohai/workspace', reference: 'debian' },
    });
  });

  it('without a registry and an overlay of mixed registries, the default image is unpaired with the fix', async () => {
    const mixed = join(dir, 'mixed.cn.yml');
    await writeFile(
      mixed,
      'services:\n  postgres:\n    image: a.example/library/postgres:18-alpine\n  web:\n    image: b.example/memohai/web:latest\n',
    );
    const c = composePairs(BASE, mixed, '', {}, DEFAULT);
    expect(c.pairs.map((p) => p.label)).toEqual(['postgres', 'web']);
    expect(c.unpaired.find((u) => u.service === 'memohai/workspace:debian')?.reason).toMatch(
      /a\.example, b\.example.*give --registry/,
    );
  });

  it('checks every pair against the registries: in sync, and a stale mirror', async () => {
    const c = composePairs(BASE, overlay, up.host, {}, DEFAULT);
    expect(c.pairs.at(-1)?.mirror.ref).toBe(`${mi.host}/memohai/workspace:debian`);
    const r = await checkMirrors({ ...c, platforms: 'all', insecure: [] }, ctx());
    expect(r.images.map((i) => [i.label, i.status])).toEqual([
      ['postgres', 'in-sync'],
      ['migrate', 'in-sync'],
      ['server', 'in-sync'],
      ['web', 'stale'],
      ['memohai/workspace:debian', 'in-sync'],
    ]);
    const rows = mirrorRows(r);
    expect(rows.filter((x) => x.image === 'qdrant').flatMap((x) => x.checks)).toEqual([
      expect.objectContaining({ id: 'mirror.compose', status: 'warn' }),
    ]);
    expect(rows.find((x) => x.image === 'web' && x.platform === 'linux/amd64')?.status).toBe('fail');
    expect(rows.find((x) => x.image === 'memohai/workspace:debian' && x.platform === 'linux/amd64')?.status).toBe(
      'pass',
    );
  });

  it('a service the base file only builds takes its upstream from the overlay path (R/X ↔ X)', async () => {
    const base = join(dir, 'build.yml');
    await writeFile(
      base,
      'services:\n  server:\n    build:\n      context: .\n      dockerfile: docker/Dockerfile.server\n',
    );
    const c = composePairs(base, overlay, up.host, {});
    const server = c.pairs.find((p) => p.service === 'server');
    expect(server?.upstream.ref).toBe(`${up.host}/memohai/server:latest`);
    expect(server?.note).toContain('derived from the overlay');
  });

  it('interpolates variables as compose does, from the environment', async () => {
    const base = join(dir, 'vars.yml');
    await writeFile(base, 'services:\n  web:\n    image: memohai/web:${MEMOH_WEB_TAG:-latest}\n');
    expect(composePairs(base, overlay, up.host, {}).pairs.find((p) => p.service === 'web')?.upstream.ref).toBe(
      `${up.host}/memohai/web:latest`,
    );
    expect(
      composePairs(base, overlay, up.host, { MEMOH_WEB_TAG: '1.2' }).pairs.find((p) => p.service === 'web')?.upstream
        .ref,
    ).toBe(`${up.host}/memohai/web:1.2`);
    expect(interpolate('a$${B}${C:-d}${E-f}$G', { C: '', E: '' }, 'x')).toBe('a${B}d');
    expect(() => interpolate('${NEED:?set it}', {}, 'input x')).toThrow(/NEED is required: set it/);
  });

  it('an overlay service the base file lacks is reported, not guessed', async () => {
    await writeFile(join(dir, 'extra.cn.yml'), `services:\n  sparse2:\n    image: ${mi.host}/memohai/sparse:latest\n`);
    const c = composePairs(BASE, join(dir, 'extra.cn.yml'), up.host, {});
    expect(c.pairs).toEqual([]);
    expect(c.unpaired.map((u) => u.service)).toEqual([
      'sparse2',
      'postgres',
      'migrate',
      'server',
      'web',
      'sparse',
      'qdrant',
      'browser',
    ]);
  });

  it('input errors name the file and key', async () => {
    await writeFile(join(dir, 'bad.yml'), 'services: [1, 2');
    await writeFile(join(dir, 'noservices.yml'), 'volumes: {}\n');
    await writeFile(join(dir, 'badimage.yml'), 'services:\n  a:\n    image: "Not A Ref"\n');
    expect(() => composePairs(BASE, join(dir, 'missing.yml'), '', {})).toThrow(/--overlay: cannot read/);
    expect(() => composePairs(join(dir, 'bad.yml'), BASE, '', {})).toThrow(/--compose: bad\.yml is not valid YAML/);
    expect(() => composePairs(BASE, join(dir, 'noservices.yml'), '', {})).toThrow(/no services mapping/);
    expect(() => composePairs(BASE, join(dir, 'badimage.yml'), '', {})).toThrow(InputError);
    expect(() => composePairs(BASE, join(dir, 'badimage.yml'), '', {})).toThrow(/services\.a\.image/);
    expect(() => composePairs(BASE, OVERLAY, '', {}, { image: 'Not A Ref', registry: '' })).toThrow(
      /\[container\] default_image/,
    );
  });
});
