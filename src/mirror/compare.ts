import { formatPlatform, type Platform } from '../core/platform.js';
import { type ImagePair, libraryAlternative, type Side } from './refs.js';
import {
  type Descriptor,
  isNotFound,
  type Manifest,
  type RegistryClient,
  type RegistryFailure,
  type Result,
} from './registry.js';
import {
  type Failure,
  type ImageResult,
  type PlatformResult,
  type RefResult,
  SYNC_RANK,
  type SyncStatus,
} from './types.js';

/** What one comparison knows while it runs. */
interface Comparing {
  pair: ImagePair;
  client: RegistryClient;
  start: number;
  notes: string[];
  decisive: boolean;
  /** The platforms asked for, or undefined for all the upstream serves. */
  named: string[] | undefined;
}

/**
 * Compares one image pair: the tag's digest (the index, or the single manifest), then per platform
 * the manifest digest each side's index lists, and that the mirror actually serves that manifest.
 */
export async function compareImage(
  pair: ImagePair,
  client: RegistryClient,
  platforms: Platform[] | 'all',
): Promise<ImageResult> {
  const c: Comparing = {
    pair,
    client,
    start: performance.now(),
    notes: [],
    decisive: platforms === 'all',
    named: platforms === 'all' ? undefined : platforms.map(formatPlatform),
  };
  const { upstream, mirror } = pair;
  const [up, mi] = await Promise.all([get(client, upstream), get(client, mirror)]);
  if (!up.ok) return upstreamFailed(c, up.failure, mi);
  const upList = await listing(client, upstream, up.value, c.notes);
  const wanted = c.named ?? [...upList.keys()];
  if (!mi.ok) return mirrorFailed(c, mi.failure, up.value, upList, wanted);

  const same = up.value.digest === mi.value.digest;
  const ref: RefResult = {
    status: same ? 'in-sync' : 'stale',
    upstreamDigest: up.value.digest,
    mirrorDigest: mi.value.digest,
    upstreamKind: up.value.kind,
    mirrorKind: mi.value.kind,
    decisive: c.decisive,
    detail: same
      ? `${mirror.ref} and ${upstream.ref} are both ${up.value.digest}`
      : `${mirror.ref} is ${mi.value.digest} (${mi.value.kind}), ${upstream.ref} is ${up.value.digest} (${up.value.kind})`,
  };
  const miList = same ? upList : await listing(client, mirror, mi.value, c.notes);
  const lists = { up: upList, mirror: miList, mirrorKind: mi.value.kind };
  return finish(c, ref, await Promise.all(wanted.map((platform) => comparePlatform(c, platform, lists))));
}

function finish(c: Comparing, ref: RefResult, results: PlatformResult[]): ImageResult {
  const { pair } = c;
  const counted = [...results.map((p) => p.status), ...(ref.decisive || !results.length ? [ref.status] : [])];
  const status = counted.reduce<SyncStatus>((w, s) => (SYNC_RANK[s] > SYNC_RANK[w] ? s : w), 'in-sync');
  return {
    label: pair.label,
    ...(pair.service ? { service: pair.service } : {}),
    upstream: pair.upstream,
    mirror: pair.mirror,
    ...(pair.note ? { note: pair.note } : {}),
    status,
    ref,
    platforms: results,
    notes: c.notes,
    durationMs: Math.round(performance.now() - c.start),
  };
}

/** The upstream tag could not be read: every platform asked for shares its verdict. */
function upstreamFailed(c: Comparing, upFailure: RegistryFailure, mi: Result<Manifest>): ImageResult {
  const { upstream } = c.pair;
  const failure = failureOf(upFailure);
  const missing = isNotFound(upFailure);
  const status: SyncStatus = missing ? 'upstream-missing' : 'error';
  const mirrorHas = mi.ok ? `; the mirror serves ${mi.value.digest}` : '';
  const detail = missing
    ? `upstream ${upstream.ref} does not exist${mirrorHas}`
    : `upstream ${upstream.ref}: ${say(upFailure)}`;
  const ref: RefResult = {
    status,
    decisive: c.decisive,
    detail,
    ...(mi.ok ? { mirrorDigest: mi.value.digest, mirrorKind: mi.value.kind } : {}),
    ...(missing ? {} : { failure }),
  };
  return finish(
    c,
    ref,
    (c.named ?? []).map((platform) => ({ platform, status, detail, ...(missing ? {} : { failure }) })),
  );
}

/** The mirror's tag could not be read: each platform the upstream serves is missing (or an error) there. */
async function mirrorFailed(
  c: Comparing,
  miFailure: RegistryFailure,
  up: Manifest,
  upList: Map<string, string>,
  wanted: string[],
): Promise<ImageResult> {
  const { mirror } = c.pair;
  const missing = isNotFound(miFailure);
  if (missing) await hintLibrary(c.client, mirror, c.notes);
  const failure = failureOf(miFailure);
  const status: SyncStatus = missing ? 'missing' : 'error';
  const detail = missing
    ? `the mirror has no ${mirror.ref} (upstream: ${up.digest})`
    : `mirror ${mirror.ref}: ${say(miFailure)}`;
  const ref: RefResult = {
    status,
    decisive: c.decisive,
    detail,
    upstreamDigest: up.digest,
    upstreamKind: up.kind,
    ...(missing ? {} : { failure }),
  };
  return finish(
    c,
    ref,
    wanted.map((platform) => {
      const u = upList.get(platform);
      if (!u) return { platform, status: 'upstream-missing', detail: `upstream serves only ${list(upList)}` };
      return { platform, status, upstreamDigest: u, detail, ...(missing ? {} : { failure }) };
    }),
  );
}

/** One platform of two readable tags: the digests each index lists, and that the mirror serves its own. */
async function comparePlatform(
  c: Comparing,
  platform: string,
  lists: { up: Map<string, string>; mirror: Map<string, string>; mirrorKind: Manifest['kind'] },
): Promise<PlatformResult> {
  const { upstream, mirror } = c.pair;
  const u = lists.up.get(platform);
  const m = lists.mirror.get(platform);
  if (!u)
    return {
      platform,
      status: 'upstream-missing',
      ...(m ? { mirrorDigest: m } : {}),
      detail: `upstream ${upstream.ref} serves only ${list(lists.up)}`,
    };
  if (!m)
    return {
      platform,
      status: 'missing',
      upstreamDigest: u,
      detail: `the mirror's ${mirror.ref} serves only ${list(lists.mirror)}`,
    };
  if (u !== m)
    return { platform, status: 'stale', upstreamDigest: u, mirrorDigest: m, detail: `mirror ${m}, upstream ${u}` };
  if (lists.mirrorKind === 'manifest')
    return { platform, status: 'in-sync', upstreamDigest: u, mirrorDigest: m, detail: `both ${u}` };
  // The index names the manifest; whether the mirror can hand it out is a separate question.
  const served = await c.client.manifest(mirror.host, mirror.repository, m, 'HEAD');
  if (served.ok) return { platform, status: 'in-sync', upstreamDigest: u, mirrorDigest: m, detail: `both ${u}` };
  if (isNotFound(served.failure)) {
    return {
      platform,
      status: 'missing',
      upstreamDigest: u,
      mirrorDigest: m,
      detail: `the mirror's index lists ${m} but the mirror does not serve it`,
    };
  }
  return {
    platform,
    status: 'error',
    upstreamDigest: u,
    mirrorDigest: m,
    detail: `mirror ${m}: ${say(served.failure)}`,
    failure: failureOf(served.failure),
  };
}

function get(client: RegistryClient, side: Side): Promise<Result<Manifest>> {
  return client.manifest(side.host, side.repository, side.reference);
}

const ATTESTATION = 'vnd.docker.reference.type';

/** `linux/amd64`, `linux/arm/v7`; arm64's `v8` is what arm64 means, so it is dropped to match either way of writing it. */
export function platformKey(p: NonNullable<Descriptor['platform']>): string {
  const os = p.os ?? 'unknown';
  const arch = p.architecture ?? 'unknown';
  const variant = arch === 'arm64' && p.variant === 'v8' ? undefined : p.variant;
  return variant ? `${os}/${arch}/${variant}` : `${os}/${arch}`;
}

/** Platform → manifest digest for what a tag points at; attestation entries are not platforms. */
async function listing(client: RegistryClient, side: Side, m: Manifest, notes: string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (m.kind === 'index') {
    for (const d of m.json.manifests ?? []) {
      if (
        d.annotations?.[ATTESTATION] ||
        !d.platform ||
        (d.platform.os === 'unknown' && d.platform.architecture === 'unknown')
      )
        continue;
      const key = platformKey(d.platform);
      if (!out.has(key)) out.set(key, d.digest);
    }
    return out;
  }
  // A single manifest says its platform only in its config blob.
  const config = m.json.config?.digest;
  const blob = config
    ? await client.blobJson<{ os?: string; architecture?: string; variant?: string }>(
        side.host,
        side.repository,
        config,
      )
    : undefined;
  if (blob?.ok) {
    out.set(platformKey(blob.value), m.digest);
  } else {
    notes.push(
      `${side.ref}: could not read the image config to learn its platform${blob && !blob.ok ? ` (${say(blob.failure)})` : ''}`,
    );
    out.set('unknown', m.digest);
  }
  return out;
}

/**
 * A mirror path like `memoh.cn/postgres` is what the engine asks for, literally: no `library/` is
 * added off Docker Hub. Some mirrors keep official images under `library/` only; say so when it helps.
 */
async function hintLibrary(client: RegistryClient, mirror: Side, notes: string[]): Promise<void> {
  const alt = libraryAlternative(mirror);
  if (!alt) return;
  const r = await client.manifest(alt.host, alt.repository, alt.reference, 'HEAD');
  if (r.ok) {
    notes.push(
      `the mirror serves ${alt.host}/${alt.repository} (${r.value.digest}) but not ${alt.host}/${mirror.repository}, the path the engine pulls for ${mirror.ref}; ` +
        `reference the image as library/${mirror.repository} or have the mirror serve both paths`,
    );
  }
}

function failureOf(f: RegistryFailure): Failure {
  return { httpStatus: f.status, ...(f.code ? { code: f.code } : {}), message: f.message };
}

function say(f: RegistryFailure): string {
  const status = f.status ? `HTTP ${f.status}` : 'no answer';
  return `${status}${f.code ? ` ${f.code}` : ''}: ${f.message}`;
}

function list(m: Map<string, string>): string {
  return m.size ? [...m.keys()].join(', ') : 'no platforms';
}
