import pLimit from 'p-limit';
import type { StageContext } from '../core/context.js';
import { formatPlatform } from '../core/platform.js';
import { compareImage } from './compare.js';
import { RegistryClient } from './registry.js';
import { type MirrorReport, type MirrorRequest, SYNC_RANK, type SyncStatus } from './types.js';

/**
 * The mirror stage: for each image pair, whether the registry mirror serves exactly what upstream
 * serves, per platform, over the registry API (no pull, no daemon). See types.ts for the statuses
 * and checks.ts for how they read as checks.
 */
export async function checkMirrors(req: MirrorRequest, ctx: StageContext): Promise<MirrorReport> {
  const start = performance.now();
  const client = new RegistryClient({
    insecure: req.insecure,
    auth: req.auth ?? {},
    timeoutMs: req.timeoutMs ?? 30_000,
    retries: req.retries ?? 2,
    limit: pLimit(Math.max(1, req.concurrency ?? 4)),
    signal: ctx.signal,
    reporter: ctx.reporter,
  });
  const images = await Promise.all(
    req.pairs.map(async (pair) => {
      ctx.reporter.debug(`mirror: ${pair.mirror.ref} ↔ ${pair.upstream.ref}`);
      const r = await compareImage(pair, client, req.platforms);
      ctx.reporter.info(
        `mirror: ${pair.label}: ${r.status}${r.platforms.length ? ` (${r.platforms.map((p) => `${p.platform} ${p.status}`).join(', ')})` : ''}`,
      );
      return r;
    }),
  );
  const status = images.reduce<SyncStatus>((w, i) => (SYNC_RANK[i.status] > SYNC_RANK[w] ? i.status : w), 'in-sync');
  return {
    platforms: req.platforms === 'all' ? 'all' : req.platforms.map(formatPlatform),
    images,
    unpaired: req.unpaired ?? [],
    status,
    durationMs: Math.round(performance.now() - start),
  };
}
