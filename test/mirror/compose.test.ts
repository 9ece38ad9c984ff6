import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../../src/core/errors.js';
import { checkMirrors, composePairs, mirrorRows } from '../../src/mirror/index.js';
import { interpolate } from '../../src/mirror/compose.js';
import { IMAGES } from '../world/images.js';
import { type LocalRegistry, pushImage, startRegistry } from '../world/registry.js';
import { copy, ctx } from './helpers.js';

/**
 * A compose file and mirror overlay of the same shape as Memoh's docker/docker-compose.yml and
 * docker/docker-compose.cn.yml (services mapped to `<mirror>/...` images), with loopback registries
 * standing in for Docker Hub (`up`, via --upstream) and memoh.cn (`mi`).
 */
let up: LocalRegistry;
let mi: LocalRegistry;
let dir: string;

beforeAll(async () => {
  [up, mi] = await Promise.all([startRegistry(), startRegistry()]);
  dir = await mkdtemp(join(tmpdir(), 'memoh-mirror-compose-'));
  await pushImage(IMAGES.muslAmd64, up.host, 'library/postgres:18-alpine');
  await pushImage(IMAGES.noshellAmd64, up.host, 'memohai/server:latest');
  for (const [from, to] of [
    [`${up.host}/library/postgres:18-alpine`, `${mi.host}/postgres:18-alpine`],
    [`${up.host}/memohai/server:latest`, `${mi.host}/memohai/server:latest`],
    [`${up.host}/library/postgres:18-alpine`, `${up.host}/memohai/web:latest`],
    // The mirror's web is an older build: another image under the same tag.
    [`${up.host}/memohai/server:latest`, `${mi.host}/memohai/web:latest`],
  ] as const) {
    await copy(from, to);
  }
  await writeFile(
    join(dir, 'docker-compose.yml'),
    `name: "memoh"
services:
  postgres:
    image: postgres:18-alpine
    environment:
      POSTGRES_PASSWORD: \${POSTGRES_PASSWORD:-memoh123}
  migrate:
    build:
      context: .
      dockerfile: Dockerfile.server
  server:
    build:
      context: .
      dockerfile: Dockerfile.server
  web:
    image: memohai/web:\${MEMOH_WEB_TAG:-latest}
  qdrant:
    image: qdrant/qdrant:latest
    profiles: [qdrant]
volumes:
  postgres_data: {}
`,
  );
  await writeFile(
    join(dir, 'docker-compose.cn.yml'),
    `services:
  postgres:
    image: ${mi.host}/postgres:18-alpine
  migrate:
    image: ${mi.host}/memohai/server:latest
  server:
    image: ${mi.host}/memohai/server:latest
  web:
    image: ${mi.host}/memohai/web:latest
`,
  );
}, 300_000);

afterAll(async () => {
  await Promise.all([up?.stop(), mi?.stop()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('mirror --compose FILE --overlay FILE', () => {
  it('pairs services by name and checks every pair', async () => {
    const c = composePairs(join(dir, 'docker-compose.yml'), join(dir, 'docker-compose.cn.yml'), up.host, {});
    expect(c.pairs.map((p) => [p.service, p.mirror.ref, p.upstream.ref])).toEqual([
      ['postgres', `${mi.host}/postgres:18-alpine`, `${up.host}/library/postgres:18-alpine`],
      ['migrate', `${mi.host}/memohai/server:latest`, `${up.host}/memohai/server:latest`],
      ['server', `${mi.host}/memohai/server:latest`, `${up.host}/memohai/server:latest`],
      ['web', `${mi.host}/memohai/web:latest`, `${up.host}/memohai/web:latest`],
    ]);
    // Built locally in the base file: the upstream comes from the overlay's path (R/X ↔ X).
    expect(c.pairs.find((p) => p.service === 'server')?.note).toContain('derived from the overlay');
    expect(c.unpaired).toEqual([{ service: 'qdrant', reason: expect.stringContaining('has no image for qdrant') }]);

    const r = await checkMirrors({ ...c, platforms: 'all', insecure: [] }, ctx());
    expect(r.images.map((i) => [i.label, i.status])).toEqual([
      ['postgres', 'in-sync'],
      ['migrate', 'in-sync'],
      ['server', 'in-sync'],
      ['web', 'stale'],
    ]);
    const rows = mirrorRows(r);
    expect(rows.filter((x) => x.image === 'qdrant').flatMap((x) => x.checks)).toEqual([expect.objectContaining({ id: 'mirror.compose', status: 'warn' })]);
    expect(rows.find((x) => x.image === 'web' && x.platform === 'linux/amd64')?.status).toBe('fail');
  });

  it('interpolates variables as compose does, from the environment', () => {
    const c = composePairs(join(dir, 'docker-compose.yml'), join(dir, 'docker-compose.cn.yml'), up.host, { MEMOH_WEB_TAG: '1.2' });
    expect(c.pairs.find((p) => p.service === 'web')?.upstream.ref).toBe(`${up.host}/memohai/web:1.2`);
    expect(interpolate('a$${B}${C:-d}${E-f}$G', { C: '', E: '' }, 'x')).toBe('a${B}d');
    expect(() => interpolate('${NEED:?set it}', {}, 'input x')).toThrow(/NEED is required: set it/);
  });

  it('an overlay service the base file lacks is reported, not guessed', async () => {
    await writeFile(join(dir, 'extra.cn.yml'), `services:\n  sparse:\n    image: ${mi.host}/memohai/sparse:latest\n`);
    const c = composePairs(join(dir, 'docker-compose.yml'), join(dir, 'extra.cn.yml'), up.host, {});
    expect(c.pairs).toEqual([]);
    expect(c.unpaired.map((u) => u.service)).toEqual(['sparse', 'postgres', 'web', 'qdrant']);
  });

  it('input errors name the file and key', async () => {
    await writeFile(join(dir, 'bad.yml'), 'services: [1, 2');
    await writeFile(join(dir, 'noservices.yml'), 'volumes: {}\n');
    await writeFile(join(dir, 'badimage.yml'), 'services:\n  a:\n    image: "Not A Ref"\n');
    const base = join(dir, 'docker-compose.yml');
    expect(() => composePairs(base, join(dir, 'missing.yml'), '', {})).toThrow(/--overlay: cannot read/);
    expect(() => composePairs(join(dir, 'bad.yml'), base, '', {})).toThrow(/--compose: bad\.yml is not valid YAML/);
    expect(() => composePairs(base, join(dir, 'noservices.yml'), '', {})).toThrow(/no services mapping/);
    expect(() => composePairs(base, join(dir, 'badimage.yml'), '', {})).toThrow(InputError);
    expect(() => composePairs(base, join(dir, 'badimage.yml'), '', {})).toThrow(/services\.a\.image/);
  });
});
