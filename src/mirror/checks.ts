import { type Check, type Status, worst } from '../core/check.js';
import type { ImageResult, MirrorReport, MirrorRow, PlatformResult, SyncStatus } from './types.js';

/**
 * How mirror statuses read as checks (the report stage's shape):
 *
 * | status             | check |
 * | ------------------ | ----- |
 * | `in-sync`          | pass  |
 * | `stale`, `missing` | fail  |
 * | `upstream-missing` | fail: nothing to compare with is not a pass, and a mistyped tag must not pass |
 * | `error`            | fail: a mirror that could not be checked is not known to be good |
 *
 * `mirror.ref` (the tag as a whole: index digest, or the single manifest) is a `warn` instead of a
 * `fail` when platforms were named and each named platform is in sync: the images pulled are the
 * same, only the index differs (other platforms, attestations). An unpaired compose service is a `warn`.
 */
export const STATUS_CHECK: Record<SyncStatus, Status> = {
  'in-sync': 'pass',
  stale: 'fail',
  missing: 'fail',
  'upstream-missing': 'fail',
  error: 'fail',
};

/** Rows for the report: per image one `all` row (`mirror.ref`) and one row per platform (`mirror.<platform>`). */
export function mirrorRows(report: MirrorReport): MirrorRow[] {
  const rows: MirrorRow[] = [];
  for (const img of report.images) {
    rows.push(row(img.label, 'all', img.durationMs, [refCheck(img)]));
    for (const p of img.platforms) rows.push(row(img.label, p.platform, img.durationMs, [platformCheck(img, p)]));
  }
  for (const u of report.unpaired) {
    rows.push(
      row(u.service, 'all', 0, [
        {
          id: 'mirror.compose',
          status: 'warn',
          detail: u.reason,
          fix: 'add the service to the overlay, or leave it out on purpose',
        },
      ]),
    );
  }
  return rows;
}

/** All checks of one image, for callers that want a flat list. */
export function imageChecks(img: ImageResult): Check[] {
  return [refCheck(img), ...img.platforms.map((p) => platformCheck(img, p))];
}

function row(image: string, platform: string, durationMs: number, checks: Check[]): MirrorRow {
  return { image, platform, status: worst(checks.map((c) => c.status)), durationMs, checks };
}

function refCheck(img: ImageResult): Check {
  const r = img.ref;
  let status = STATUS_CHECK[r.status];
  if (
    r.status === 'stale' &&
    !r.decisive &&
    img.platforms.length > 0 &&
    img.platforms.every((p) => p.status === 'in-sync')
  )
    status = 'warn';
  const notes = [img.note, ...img.notes].filter(Boolean).join('; ');
  const detail = `${r.status}: ${r.detail}${notes ? ` (${notes})` : ''}`;
  const fix = fixFor(r.status, img);
  return { id: 'mirror.ref', status, detail, ...(status !== 'pass' && fix ? { fix } : {}), durationMs: img.durationMs };
}

function platformCheck(img: ImageResult, p: PlatformResult): Check {
  const status = STATUS_CHECK[p.status];
  const fix = fixFor(p.status, img);
  return {
    id: `mirror.${p.platform}`,
    status,
    detail: `${p.status}: ${p.detail}`,
    ...(status !== 'pass' && fix ? { fix } : {}),
  };
}

function fixFor(status: SyncStatus, img: ImageResult): string | undefined {
  const copy = `copy every platform again, e.g. skopeo copy --all docker://${img.upstream.ref} docker://${img.mirror.ref}`;
  switch (status) {
    case 'stale':
    case 'missing':
      return `the mirror lags behind upstream: ${copy}`;
    case 'upstream-missing':
      return `check the image name, tag and platform: upstream ${img.upstream.ref} does not serve it`;
    case 'error':
      return 'check that the registry is reachable, the credentials (--username/--password-stdin, docker login) and --insecure-registry for plain-HTTP registries';
    default:
      return undefined;
  }
}
