import type { Options } from '../config/index.js';
import type { Check } from '../core/check.js';
import type { Arch } from '../core/platform.js';
import type { IndexFile, RetryPolicy } from './fetch.js';
import type { FormatChoice, FormatMode } from './format.js';

export type { ArchiveFormat, FormatChoice, FormatMode } from './format.js';

/**
 * The halves of Memoh's toolkit: `glibc` is node-glibc (for glibc images), `musl` is node-musl with its
 * Alpine runtime-lib (for musl images). npm, uv and the wrappers are in every toolkit.
 */
export type Flavour = 'glibc' | 'musl';
export const FLAVOURS: readonly Flavour[] = ['glibc', 'musl'];

/** One toolkit build: the toolkit settings, where it goes and for which ONE architecture. */
export type ToolkitRequest = Options['toolkit'] & {
  out: string;
  arch: Arch;
  /** Retry and stall limits; the defaults suit real networks (tests and benchmarks shorten them). */
  retry?: Partial<RetryPolicy>;
  /**
   * Which flavours to build; default both (Memoh's whole layout). `run` passes those of its validated images
   * (see flavoursFor): a glibc-only build downloads no musl Node.js and no Alpine package.
   */
  flavours?: readonly Flavour[];
  /** The Node.js tarballs' format; default `auto` (measured on the line during the build). */
  archiveFormat?: FormatMode;
  /** `auto`'s threshold: a line slower than this (bytes/s, over the connections a large file gets) gets .tar.xz. Tests move it; default 32 MB/s. */
  xzBelowBytesPerSecond?: number;
  /** Connections per large archive (HTTP ranges, read in order); default 4, 1 for one connection per file. */
  connections?: number;
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
  /** The flavours this toolkit holds (manifests written before flavours existed hold both). */
  flavours: Flavour[];
  /** The format the Node.js tarballs came in, and why (absent in older manifests). */
  archives?: FormatChoice;
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
  /** The flavours the toolkit holds: those requested, or more when a fuller toolkit came from the cache. */
  flavours: Flavour[];
  durations: { totalMs: number; resolveMs: number; downloadMs: number; assembleMs: number };
  /** Bytes fetched from mirrors in this run (0 for a warm build). */
  downloadedBytes: number;
  warnings: string[];
  checks: Check[];
}
