import type { Options } from '../config/index.js';
import type { Check } from '../core/check.js';
import type { Arch } from '../core/platform.js';
import type { IndexFile, RetryPolicy } from './fetch.js';

/** One toolkit build: the toolkit settings, where it goes and for which ONE architecture. */
export type ToolkitRequest = Options['toolkit'] & {
  out: string;
  arch: Arch;
  /** Retry and stall limits; the defaults suit real networks (tests and benchmarks shorten them). */
  retry?: Partial<RetryPolicy>;
};

/** How an artefact's integrity was established. */
export type VerifiedBy = 'SHASUMS256.txt' | 'dist.integrity' | '.sha256' | 'APKINDEX' | 'unverified';

export interface ArtefactRecord {
  /** What it is in the toolkit: node-glibc, node-musl, npm, uv, libgcc, libstdc++, APKINDEX. */
  name: string;
  file: string;
  url: string;
  bytes: number;
  /** sha256 of the file as downloaded, always computed. */
  sha256: string;
  verifiedBy: VerifiedBy;
  /** The digest the source published, when it is not a sha256 (npm's sha512 integrity, apk's Q1 sha1). */
  expected?: string;
}

/**
 * toolkit.json at the toolkit's root. `fallback: "glibc"` means node-musl holds the glibc build because
 * the musl mirror publishes none for this architecture: it runs only on musl images with a glibc loader.
 */
export interface ToolkitManifest {
  schema: 1;
  builder: string;
  arch: Arch;
  node: { version: string; requested: string };
  npm: { version: string; registry: string };
  uv: { version: string };
  alpine: { version: string; packages: Record<string, string> };
  fallback: 'glibc' | null;
  verified: boolean;
  mirrors: { node: string; nodeMusl: string; npm: string; uv: string; alpine: string };
  artefacts: ArtefactRecord[];
  /** The metadata the checks relied on (checksum lists, indexes, packument), with their sha256. */
  indexes: IndexFile[];
}

export interface ToolkitResult {
  dir: string;
  arch: Arch;
  manifest: ToolkitManifest;
  fromCache: boolean;
  /** The arm64 musl fallback, as in the manifest; image validation judges each musl arm64 image by it. */
  fallback: 'glibc' | null;
  durations: { totalMs: number; resolveMs: number; downloadMs: number; assembleMs: number };
  /** Bytes fetched from mirrors in this run (0 for a warm build). */
  downloadedBytes: number;
  warnings: string[];
  checks: Check[];
}
