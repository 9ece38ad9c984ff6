import { createHash, type Hash } from 'node:crypto';
import { StageError } from '../core/errors.js';
import type { VerifiedBy } from './types.js';

/** "Is it intact": the digest a source publishes for a file, and where that digest came from. */
export interface Expected {
  algo: 'sha1' | 'sha256' | 'sha512';
  hex: string;
  source: Exclude<VerifiedBy, 'unverified'>;
}

export class ChecksumError extends StageError {
  constructor(
    readonly file: string,
    readonly expected: Expected,
    readonly actual: string,
  ) {
    super(
      `checksum mismatch for ${file}: expected ${expected.algo} ${expected.hex} (from ${expected.source}), got ${actual}`,
      'the mirror serves a damaged or different file: fix or change the mirror; nothing was installed',
    );
  }
}

/** Hashes what flows through: always sha256 (for the manifest), plus the published algorithm if another. */
export class Digester {
  private readonly sha256 = createHash('sha256');
  private readonly other?: Hash;
  bytes = 0;

  constructor(private readonly expected?: Expected) {
    if (expected && expected.algo !== 'sha256') this.other = createHash(expected.algo);
  }

  update(chunk: Buffer): void {
    this.sha256.update(chunk);
    this.other?.update(chunk);
    this.bytes += chunk.length;
  }

  /** Finishes the hashes; throws ChecksumError when the published digest does not match. */
  finish(file: string): { sha256: string } {
    const sha256 = this.sha256.digest('hex');
    if (this.expected) {
      const actual = this.other ? this.other.digest('hex') : sha256;
      if (actual !== this.expected.hex) throw new ChecksumError(file, this.expected, actual);
    }
    return { sha256 };
  }
}

export function checkDigest(data: Buffer, file: string, expected: Expected): void {
  const d = new Digester(expected);
  d.update(data);
  d.finish(file);
}

const HEX = { sha1: 40, sha256: 64, sha512: 128 } as const;

function hexOf(algo: Expected['algo'], s: string): string | undefined {
  const h = s.toLowerCase();
  return new RegExp(`^[0-9a-f]{${HEX[algo]}}$`).test(h) ? h : undefined;
}

/** `SHASUMS256.txt` (nodejs.org and unofficial-builds): `<hex>  <file>` lines; the file may carry `*`. */
export function shasumsEntry(text: string, file: string): Expected | undefined {
  for (const line of text.split('\n')) {
    const m = /^([0-9a-fA-F]{64})\s+\*?(\S+)\s*$/.exec(line.trim());
    if (m?.[2] === file) return { algo: 'sha256', hex: (m[1] ?? '').toLowerCase(), source: 'SHASUMS256.txt' };
  }
  return undefined;
}

/** uv's `<asset>.sha256`: `<hex> *<asset>` (a bare hex is accepted too). */
export function uvSha256(text: string): Expected | undefined {
  const hex = hexOf('sha256', text.trim().split(/\s+/)[0] ?? '');
  return hex ? { algo: 'sha256', hex, source: '.sha256' } : undefined;
}

/** npm's `dist.integrity` (Subresource Integrity): the strongest sha512/sha256 entry. */
export function sriDigest(integrity: string): Expected | undefined {
  const entries = integrity
    .trim()
    .split(/\s+/)
    .map((e) => /^(sha512|sha256)-([A-Za-z0-9+/]+=*)$/.exec(e));
  const best = entries.find((m) => m?.[1] === 'sha512') ?? entries.find((m) => m?.[1] === 'sha256');
  if (!best) return undefined;
  const algo = best[1] as 'sha512' | 'sha256';
  const hex = hexOf(algo, Buffer.from(best[2] ?? '', 'base64').toString('hex'));
  return hex ? { algo, hex, source: 'dist.integrity' } : undefined;
}

/** apk's `Q1<base64 sha1>` checksum of a package's control segment, as APKINDEX lists it. */
export function apkQ1(checksum: string): Expected | undefined {
  const m = /^Q1([A-Za-z0-9+/]+=*)$/.exec(checksum.trim());
  const hex = m ? hexOf('sha1', Buffer.from(m[1] ?? '', 'base64').toString('hex')) : undefined;
  return hex ? { algo: 'sha1', hex, source: 'APKINDEX' } : undefined;
}
