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

/**
 * Compares one image pair: the tag's digest (the index, or the single manifest), then per platform
 * the manifest digest each side's index lists, and that the mirror actually serves that manifest.
 */
export async function compareImage(
  pair: ImagePair,
  client: RegistryClient,
  platforms: Platform[] | 'all',
): Promise<ImageResult> {
  const start = performance.now();
  const { upstream, mirror } = pair;
  const notes: string[] = [];
  const [up, mi] = await Promise.all([get(client, upstream), get(client, mirror)]);
  const decisive = platforms === 'all';
  const named = platforms === 'all' ? undefined : platforms.map(formatPlatform);

  const finish = (ref: RefResult, results: PlatformResult[]): ImageResult => {
    const counted = [...results.map((p) => p.status), ...(ref.decisive || !results.length ? [ref.status] : [])];
    const status = counted.reduce<SyncStatus>((w, s) => (SYNC_RANK[s] > SYNC_RANK[w] ? s : w), 'in-sync');
    return {
      label: pair.label,
      ...(pair.service ? { service: pair.service } : {}),
      upstream,
      mirror,
      ...(pair.note ? { note: pair.note } : {}),
      status,
      ref,
      platforms: results,
      notes,
      durationMs: Math.round(performance.now() - start),
    };
  };

  if (!up.ok) {
    const failure = failureOf(up.failure);
    const missing = isNotFound(up.failure);
    const status: SyncStatus = missing ? 'upstream-missing' : 'error';
    const mirrorHas = mi.ok ? `; the mirror serves ${mi.value.digest}` : '';
    const detail = missing
      ? `upstream ${upstream.ref} does not exist${mirrorHas}`
      : `upstream ${upstream.ref}: ${say(up.failure)}`;
    const ref: RefResult = {
      status,
      decisive,
      detail,
      ...(mi.ok ? { mirrorDigest: mi.value.digest, mirrorKind: mi.value.kind } : {}),
      ...(missing ? {} : { failure }),
    };
    return finish(
      ref,
      (named ?? []).map((platform) => ({ platform, status, detail, ...(missing ? {} : { failure }) })),
    );
  }

  const upList = await listing(client, upstream, up.value, notes);
  const wanted = named ?? [...upList.keys()];

  if (!mi.ok) {
    const missing = isNotFound(mi.failure);
    if (missing) await hintLibrary(client, mirror, notes);
    const failure = failureOf(mi.failure);
    const status: SyncStatus = missing ? 'missing' : 'error';
    const detail = missing
      ? `the mirror has no ${mirror.ref} (upstream: ${up.value.digest})`
      : `mirror ${mirror.ref}: ${say(mi.failure)}`;
    const ref: RefResult = {
      status,
      decisive,
      detail,
      upstreamDigest: up.value.digest,
      upstreamKind: up.value.kind,
      ...(missing ? {} : { failure }),
    };
    return finish(
      ref,
      wanted.map((platform) => {
        const u = upList.get(platform);
        if (!u) return { platform, status: 'upstream-missing', detail: `upstream serves only ${list(upList)}` };
        return { platform, status, upstreamDigest: u, detail, ...(missing ? {} : { failure }) };
      }),
    );
  }

  const same = up.value.digest === mi.value.digest;
  const ref: RefResult = {
    status: same ? 'in-sync' : 'stale',
    upstreamDigest: up.value.digest,
    mirrorDigest: mi.value.digest,
    upstreamKind: up.value.kind,
    mirrorKind: mi.value.kind,
    decisive,
    detail: same
      ? `${mirror.ref} and ${upstream.ref} are both ${up.value.digest}`
      : `${mirror.ref} is ${mi.value.digest} (${mi.value.kind}), ${upstream.ref} is ${up.value.digest} (${up.value.kind})`,
  };
  const miList = same ? upList : await listing(client, mirror, mi.value, notes);

  const results = await Promise.all(
    wanted.map(async (platform): Promise<PlatformResult> => {
      const u = upList.get(platform);
      const m = miList.get(platform);
      if (!u)
        return {
          platform,
          status: 'upstream-missing',
          ...(m ? { mirrorDigest: m } : {}),
          detail: `upstream ${upstream.ref} serves only ${list(upList)}`,
        };
      if (!m)
        return {
          platform,
          status: 'missing',
          upstreamDigest: u,
          detail: `the mirror's ${mirror.ref} serves only ${list(miList)}`,
        };
      if (u !== m)
        return { platform, status: 'stale', upstreamDigest: u, mirrorDigest: m, detail: `mirror ${m}, upstream ${u}` };
      if (mi.value.kind === 'manifest')
        return { platform, status: 'in-sync', upstreamDigest: u, mirrorDigest: m, detail: `both ${u}` };
      // The index names the manifest; whether the mirror can hand it out is a separate question.
      const served = await client.manifest(mirror.host, mirror.repository, m, 'HEAD');
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
    }),
  );
  return finish(ref, results);
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
