import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { platformOf } from '../../src/core/platform.js';
import { checkMirrors, type ImageResult, imagePair, type MirrorRequest, mirrorRows } from '../../src/mirror/index.js';
import { IMAGES } from '../world/images.js';
import { type LocalRegistry, pushImage, startRegistry } from '../world/registry.js';
import { type Child, child, copy, ctx, deleteManifest, putIndex } from './helpers.js';

/**
 * Two real registries on loopback (Debian's docker-registry): `up` stands for upstream (Docker Hub's
 * layout: official images under library/), `mi` for the mirror (Memoh's layout: memoh.cn/<image>).
 */
let up: LocalRegistry;
let mi: LocalRegistry;
const pushed: Record<string, string> = {};
let upChildren: Child[];

beforeAll(async () => {
  [up, mi] = await Promise.all([startRegistry(), startRegistry()]);
  // One export from the daemon per image; everything else is copied registry to registry (digests kept).
  const [amd, arm, other] = await Promise.all([
    pushImage(IMAGES.muslAmd64, up.host, 'library/app:1'),
    pushImage(IMAGES.muslArm64, up.host, 'library/multi:arm64'),
    pushImage(IMAGES.noshellAmd64, mi.host, 'scratch/other:1'),
  ]);
  pushed.amd = amd.digest;
  pushed.arm = arm.digest;
  pushed.other = other.digest;
  // One at a time: distribution 2.8 answered 500 to reads racing concurrent writes into the same repository.
  for (const [from, to] of [
    [`${up.host}/library/app:1`, `${up.host}/library/app:2`],
    [`${up.host}/library/app:1`, `${up.host}/library/app:3`],
    [`${up.host}/library/app:1`, `${up.host}/library/app:5`],
    [`${up.host}/library/app:1`, `${up.host}/library/multi:amd64`],
    [`${up.host}/library/app:1`, `${mi.host}/app:1`],
    [`${up.host}/library/app:1`, `${mi.host}/app:2`],
    [`${up.host}/library/app:1`, `${mi.host}/library/app:5`],
    [`${up.host}/library/app:1`, `${mi.host}/multi:amd64`],
    [`${up.host}/library/multi:arm64`, `${mi.host}/multi:arm64`],
  ] as const) {
    await copy(from, to);
  }
  upChildren = [
    await child(up.url, 'library/multi', 'amd64', 'amd64'),
    await child(up.url, 'library/multi', 'arm64', 'arm64'),
  ];
  const miChildren = [await child(mi.url, 'multi', 'amd64', 'amd64'), await child(mi.url, 'multi', 'arm64', 'arm64')];
  for (const tag of ['1', '2', '3']) await putIndex(up.url, 'library/multi', tag, upChildren);
  await putIndex(mi.url, 'multi', '1', miChildren);
  await putIndex(mi.url, 'multi', '2', miChildren.slice(0, 1));
  // multi:3: the mirror's index names another manifest for arm64 (any other manifest will do).
  await copy(`${mi.host}/scratch/other:1`, `${mi.host}/multi:other`);
  const other3 = await child(mi.url, 'multi', 'other', 'arm64');
  await putIndex(mi.url, 'multi', '3', [miChildren[0]!, other3]);
  // multi4: the same index on both sides, but the mirror no longer serves its arm64 manifest.
  await copy(`${up.host}/library/multi:1`, `${up.host}/library/multi4:4`);
  await copy(`${up.host}/library/multi:1`, `${mi.host}/multi4:4`);
  await deleteManifest(mi.url, 'multi4', pushed.arm!);
}, 300_000);

afterAll(async () => {
  await Promise.all([up?.stop(), mi?.stop()]);
});

async function check(image: string, opts: Partial<MirrorRequest> = {}): Promise<ImageResult> {
  const r = await checkMirrors(
    { pairs: [imagePair(image, mi.host, up.host)], platforms: 'all', insecure: [], ...opts },
    ctx(),
  );
  expect(r.images).toHaveLength(1);
  return r.images[0]!;
}

const platform = (r: ImageResult, p: string) => r.platforms.find((x) => x.platform === p);

describe('mirror: single-platform images', () => {
  it('in-sync when both registries serve the same manifest (mirror app:1 ↔ upstream library/app:1)', async () => {
    const r = await check('app:1');
    expect(r.mirror).toMatchObject({ ref: `${mi.host}/app:1`, host: mi.host, repository: 'app', reference: '1' });
    expect(r.upstream).toMatchObject({ ref: `${up.host}/library/app:1`, repository: 'library/app' });
    expect(r.status).toBe('in-sync');
    expect(r.ref).toMatchObject({
      status: 'in-sync',
      upstreamDigest: pushed.amd,
      mirrorDigest: pushed.amd,
      upstreamKind: 'manifest',
    });
    expect(r.platforms).toEqual([
      expect.objectContaining({
        platform: 'linux/amd64',
        status: 'in-sync',
        upstreamDigest: pushed.amd,
        mirrorDigest: pushed.amd,
      }),
    ]);
  });

  it('stale, with both digests, when the mirror tag is re-pushed with a different image', async () => {
    expect((await check('app:2')).status).toBe('in-sync');
    await copy(`${mi.host}/scratch/other:1`, `${mi.host}/app:2`);
    const r = await check('app:2');
    expect(r.status).toBe('stale');
    expect(r.ref).toMatchObject({ status: 'stale', upstreamDigest: pushed.amd, mirrorDigest: pushed.other });
    expect(r.ref.detail).toContain(pushed.amd);
    expect(r.ref.detail).toContain(pushed.other);
    expect(platform(r, 'linux/amd64')).toMatchObject({
      status: 'stale',
      upstreamDigest: pushed.amd,
      mirrorDigest: pushed.other,
    });
    const checks = mirrorRows({ platforms: 'all', images: [r], unpaired: [], status: r.status, durationMs: 0 }).flatMap(
      (x) => x.checks,
    );
    expect(checks.map((c) => [c.id, c.status])).toEqual([
      ['mirror.ref', 'fail'],
      ['mirror.linux/amd64', 'fail'],
    ]);
    expect(checks[1]?.fix).toContain(`skopeo copy --all docker://${up.host}/library/app:2 docker://${mi.host}/app:2`);
  });

  it('missing when the mirror lacks the tag', async () => {
    const r = await check('app:3');
    expect(r.status).toBe('missing');
    expect(r.ref).toMatchObject({ status: 'missing', upstreamDigest: pushed.amd });
    expect(platform(r, 'linux/amd64')).toMatchObject({ status: 'missing', upstreamDigest: pushed.amd });
    expect(r.notes).toEqual([]);
  });

  it('upstream-missing when upstream lacks the tag, saying what the mirror has', async () => {
    const gone = await checkMirrors(
      { pairs: [imagePair('app:404', mi.host, up.host)], platforms: 'all', insecure: [] },
      ctx(),
    );
    expect(gone.images[0]).toMatchObject({ status: 'upstream-missing', ref: { status: 'upstream-missing' } });
    const asked = await check('app:1', { platforms: [platformOf('arm64')] });
    expect(asked.status).toBe('upstream-missing');
    expect(platform(asked, 'linux/arm64')?.detail).toContain('serves only linux/amd64');
  });

  it('missing, with a note, when the mirror serves the image only under library/ (not the path the engine pulls)', async () => {
    const r = await check('app:5');
    expect(r.status).toBe('missing');
    expect(r.notes.join(' ')).toContain(`serves ${mi.host}/library/app`);
    expect(r.notes.join(' ')).toContain('reference the image as library/app');
    // Referenced as library/app, the literal path is used and found.
    expect((await check('library/app:5')).status).toBe('in-sync');
  });

  it('a digest-pinned reference is looked up by digest on both sides', async () => {
    const r = await check(`app@${pushed.amd}`);
    expect(r.mirror.reference).toBe(pushed.amd);
    expect(r.status).toBe('in-sync');
  });
});

describe('mirror: multi-platform index (amd64 + arm64)', () => {
  it('in-sync per platform when the mirror serves the same index', async () => {
    const r = await check('multi:1');
    expect(r.status).toBe('in-sync');
    expect(r.ref).toMatchObject({ status: 'in-sync', upstreamKind: 'index', mirrorKind: 'index' });
    expect(r.platforms.map((p) => [p.platform, p.status, p.mirrorDigest])).toEqual([
      ['linux/amd64', 'in-sync', upChildren[0]!.digest],
      ['linux/arm64', 'in-sync', upChildren[1]!.digest],
    ]);
  });

  it('a mirror index lacking arm64 reports missing for arm64 only', async () => {
    const r = await check('multi:2');
    expect(platform(r, 'linux/amd64')?.status).toBe('in-sync');
    expect(platform(r, 'linux/arm64')).toMatchObject({ status: 'missing', upstreamDigest: upChildren[1]!.digest });
    expect(platform(r, 'linux/arm64')?.detail).toContain('serves only linux/amd64');
    expect(r.ref.status).toBe('stale');
    expect(r.status).toBe('missing');
  });

  it('with --platform linux/amd64 the same image is in sync; the differing index is a warning', async () => {
    const r = await check('multi:2', { platforms: [platformOf('amd64')] });
    expect(r.platforms.map((p) => [p.platform, p.status])).toEqual([['linux/amd64', 'in-sync']]);
    expect(r.status).toBe('in-sync');
    expect(r.ref).toMatchObject({ status: 'stale', decisive: false });
    const checks = mirrorRows({
      platforms: ['linux/amd64'],
      images: [r],
      unpaired: [],
      status: r.status,
      durationMs: 0,
    }).flatMap((x) => x.checks);
    expect(checks.map((c) => [c.id, c.status])).toEqual([
      ['mirror.ref', 'warn'],
      ['mirror.linux/amd64', 'pass'],
    ]);
  });

  it('stale for arm64 only when the mirror index names another arm64 manifest', async () => {
    const r = await check('multi:3');
    expect(platform(r, 'linux/amd64')?.status).toBe('in-sync');
    expect(platform(r, 'linux/arm64')).toMatchObject({
      status: 'stale',
      upstreamDigest: upChildren[1]!.digest,
      mirrorDigest: pushed.other,
    });
    expect(r.status).toBe('stale');
  });

  it('missing when the mirror index names a manifest the mirror does not serve', async () => {
    const r = await check('multi4:4');
    expect(r.ref.status).toBe('in-sync');
    expect(platform(r, 'linux/amd64')?.status).toBe('in-sync');
    expect(platform(r, 'linux/arm64')).toMatchObject({ status: 'missing' });
    expect(platform(r, 'linux/arm64')?.detail).toContain('does not serve it');
  });

  it('checks many images at once with bounded concurrency', async () => {
    const images = ['app:1', 'app:3', 'multi:1', 'multi:2', 'multi:3', 'multi4:4'];
    const r = await checkMirrors(
      { pairs: images.map((i) => imagePair(i, mi.host, up.host)), platforms: 'all', insecure: [], concurrency: 2 },
      ctx(),
    );
    expect(r.images.map((i) => [i.label, i.status])).toEqual([
      ['app:1', 'in-sync'],
      ['app:3', 'missing'],
      ['multi:1', 'in-sync'],
      ['multi:2', 'missing'],
      ['multi:3', 'stale'],
      ['multi4:4', 'missing'],
    ]);
    expect(r.status).toBe('missing');
  });
});

describe('mirror: registry errors', () => {
  it('error with the cause when a registry does not answer', async () => {
    await withStoppedRegistry(async (host) => {
      const r = await checkMirrors(
        { pairs: [imagePair('app:1', host, up.host)], platforms: 'all', insecure: [], retries: 1, timeoutMs: 3_000 },
        ctx(),
      );
      const img = r.images[0]!;
      expect(img.status).toBe('error');
      expect(img.ref.failure?.httpStatus).toBe(0);
      expect(img.ref.detail).toMatch(/ECONNREFUSED|fetch failed/);
    });
  });
});

/** A loopback port with nothing listening: a registry that was stopped. */
async function withStoppedRegistry(fn: (host: string) => Promise<void>): Promise<void> {
  const r = await startRegistry();
  await r.stop();
  await fn(r.host);
}
