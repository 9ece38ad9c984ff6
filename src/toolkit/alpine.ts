import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { gunzipSync, inflateRawSync } from 'node:zlib';
import { errorMessage, StageError } from '../core/errors.js';
import { apkQ1, checkDigest, type Expected } from './checksum.js';
import type { Source } from './fetch.js';
import type { ArtefactRecord } from './types.js';
import { extractor, TarReader } from './untar.js';

/**
 * musl's C++ runtime for node-musl/runtime-lib: the `libgcc` and `libstdc++` packages of an Alpine
 * release, found through the repository's APKINDEX. Each package is checked the way apk itself does it:
 * the control segment against the index's Q1 (sha1) checksum, the data segment against the `datahash`
 * (sha256) the verified control segment carries. Packages are a few MB, so they are handled in memory.
 */
export const RUNTIME_PACKAGES = ['libgcc', 'libstdc++'] as const;

export interface IndexRecord {
  name: string;
  version: string;
  checksum: string;
  size?: number;
}

/** The records of an `APKINDEX.tar.gz` (signature segment, if any, ignored). */
export function parseApkIndex(gz: Buffer): Map<string, IndexRecord> {
  const text = tarEntries(gunzipSync(gz))
    .find((e) => e.name === 'APKINDEX')
    ?.data.toString('utf8');
  if (text === undefined) throw new Error('no APKINDEX file inside');
  const out = new Map<string, IndexRecord>();
  for (const block of text.split(/\n\s*\n/)) {
    const f = new Map<string, string>();
    for (const line of block.split('\n')) if (line[1] === ':') f.set(line[0] ?? '', line.slice(2));
    const name = f.get('P');
    const version = f.get('V');
    if (!name || !version) continue;
    const size = Number(f.get('S'));
    out.set(name, { name, version, checksum: f.get('C') ?? '', size: Number.isSafeInteger(size) ? size : undefined });
  }
  return out;
}

export function apkFile(r: IndexRecord): string {
  return `${r.name}-${r.version}.apk`;
}

/** Checks one downloaded package and extracts its `usr/lib/` into `dest`. */
export async function installApk(
  apk: Buffer,
  rec: IndexRecord,
  src: Source,
  dest: string,
  verify: boolean,
): Promise<ArtefactRecord> {
  const fail = (why: string) =>
    new StageError(
      `${src.file}: ${why} (${src.url})`,
      `the mirror serves a damaged or different package: fix or change ${src.option}`,
    );
  let members: Buffer[];
  try {
    members = gzipMembers(apk);
  } catch (err) {
    throw fail(`not an apk package: ${errorMessage(err)}`);
  }
  // An apk is gzip segments: [signature], control (.PKGINFO first), data.
  const first = members[0] ? (tarEntries(gunzipSync(members[0]))[0]?.name ?? '') : '';
  const ci = first.startsWith('.SIGN.') ? 1 : 0;
  const control = members[ci];
  if (!control || members.length < ci + 2) throw fail('not an apk package: no control and data segments');
  const data = apk.subarray(members.slice(0, ci + 1).reduce((n, m) => n + m.length, 0));
  let expected: Expected | undefined;
  if (verify) {
    expected = apkQ1(rec.checksum);
    if (!expected) throw fail(`APKINDEX has no usable checksum for ${rec.name} ("${rec.checksum}")`);
    checkDigest(control, src.file, expected);
    const pkginfo =
      tarEntries(gunzipSync(control))
        .find((e) => e.name === '.PKGINFO')
        ?.data.toString('utf8') ?? '';
    const datahash = /^datahash = ([0-9a-f]{64})$/m.exec(pkginfo)?.[1];
    if (!datahash) throw fail('its control segment has no datahash');
    checkDigest(data, `${src.file} (data segment)`, { algo: 'sha256', hex: datahash, source: 'APKINDEX' });
  }
  await mkdir(dest, { recursive: true });
  try {
    const tar = extractor({ dest, strip: 2, filter: (p) => p.startsWith('usr/lib/') });
    tar.write(gunzipSync(data));
    tar.end();
  } catch (err) {
    throw fail(`its data segment does not extract: ${errorMessage(err)}`);
  }
  return {
    name: rec.name,
    file: src.file,
    url: src.url,
    bytes: apk.length,
    sha256: createHash('sha256').update(apk).digest('hex'),
    verifiedBy: verify ? 'APKINDEX' : 'unverified',
    ...(verify ? { expected: rec.checksum } : {}),
  };
}

/** Splits concatenated gzip members (an apk's segments) without decompressing more than needed. */
export function gzipMembers(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let off = 0;
  while (off < buf.length) {
    if (buf[off] !== 0x1f || buf[off + 1] !== 0x8b || buf[off + 2] !== 8)
      throw new Error(`no gzip member at byte ${off}`);
    const flags = buf[off + 3] ?? 0;
    let p = off + 10;
    if (flags & 4) p += 2 + buf.readUInt16LE(p);
    if (flags & 8) p = buf.indexOf(0, p) + 1;
    if (flags & 16) p = buf.indexOf(0, p) + 1;
    if (flags & 2) p += 2;
    if (p <= off || p > buf.length) throw new Error('truncated gzip header');
    const { engine } = inflateRawSync(buf.subarray(p), { info: true }) as unknown as {
      engine: { bytesWritten: number };
    };
    const end = p + engine.bytesWritten + 8;
    if (end > buf.length) throw new Error('truncated gzip member');
    out.push(buf.subarray(off, end));
    off = end;
  }
  return out;
}

/** The entries of an uncompressed tar stream, in memory (for APKINDEX and .PKGINFO, a few KB each). */
export function tarEntries(tar: Buffer): { name: string; data: Buffer }[] {
  const out: { name: string; data: Buffer }[] = [];
  const reader = new TarReader((e) => {
    const chunks: Buffer[] = [];
    return {
      data: (c) => chunks.push(Buffer.from(c)),
      end: () => out.push({ name: e.path, data: Buffer.concat(chunks) }),
    };
  });
  reader.write(tar);
  // apk segments are tars cut short of their end blocks, so the reader's end-of-archive check does not apply.
  return out;
}
