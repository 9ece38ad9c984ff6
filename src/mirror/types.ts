import type { Check, Status } from '../core/check.js';
import type { Platform } from '../core/platform.js';
import type { AuthOptions } from '../image/auth.js';
import type { ImagePair, Side } from './refs.js';

/**
 * Per image and platform, what the mirror serves compared with upstream:
 * - `in-sync`: same digest on both, and the mirror serves it;
 * - `stale`: both serve something, the digests differ;
 * - `missing`: upstream has it, the mirror has no such tag or platform;
 * - `upstream-missing`: upstream has no such tag or platform, so there is nothing to compare with;
 * - `error`: a registry could not be asked (HTTP status and the registry's message kept).
 */
export type SyncStatus = 'in-sync' | 'stale' | 'missing' | 'upstream-missing' | 'error';

export const SYNC_RANK: Record<SyncStatus, number> = {
  'in-sync': 0,
  stale: 1,
  missing: 2,
  'upstream-missing': 3,
  error: 4,
};

export interface MirrorRequest {
  /** Pairs to compare: from `--image` (src/mirror/refs.ts imagePair) and from compose files. */
  pairs: ImagePair[];
  /**
   * Platforms to compare. `all`: every platform upstream serves (attestation entries aside), and the
   * index digest must match too: the mirror must serve exactly what upstream serves.
   */
  platforms: Platform[] | 'all';
  /** Hosts reached over plain HTTP besides loopback. */
  insecure: string[];
  /** Credentials by registry host; the Docker config is read besides. Never reported. */
  auth?: AuthOptions;
  /** Requests in flight at once, over all images. */
  concurrency?: number;
  timeoutMs?: number;
  retries?: number;
  /** Compose services that could not be paired (reported as warnings). */
  unpaired?: Unpaired[];
}

export interface Unpaired {
  service: string;
  reason: string;
}

/** A failed registry call, as the registry put it. */
export interface Failure {
  /** 0 when no HTTP answer came (network error, timeout). */
  httpStatus: number;
  code?: string;
  message: string;
}

export interface PlatformResult {
  /** `linux/amd64`, `linux/arm64`, `linux/arm/v7` (arm64's v8 variant is implied and not shown). */
  platform: string;
  status: SyncStatus;
  upstreamDigest?: string;
  mirrorDigest?: string;
  /** One line for people. */
  detail: string;
  failure?: Failure;
}

export interface RefResult {
  status: SyncStatus;
  /** Digest of what the tag points at: the index when there is one, else the single manifest. */
  upstreamDigest?: string;
  mirrorDigest?: string;
  upstreamKind?: 'index' | 'manifest';
  mirrorKind?: 'index' | 'manifest';
  /**
   * Whether this comparison decides the image's status. Only with platforms `all`: when platforms are
   * named, a differing index whose named platforms match is reported but does not fail the image.
   */
  decisive: boolean;
  detail: string;
  failure?: Failure;
}

export interface ImageResult {
  label: string;
  service?: string;
  upstream: Side;
  mirror: Side;
  note?: string;
  status: SyncStatus;
  ref: RefResult;
  platforms: PlatformResult[];
  /** Extra facts (e.g. the mirror serves `library/<name>` instead of the path Memoh pulls). */
  notes: string[];
  durationMs: number;
}

export interface MirrorReport {
  platforms: string[] | 'all';
  images: ImageResult[];
  unpaired: Unpaired[];
  /** Worst status over all images; `in-sync` when there were none. */
  status: SyncStatus;
  durationMs: number;
}

/** One report row: an image on one platform (or `all` for the reference as a whole), its checks. */
export interface MirrorRow {
  image: string;
  platform: string;
  status: Status;
  durationMs: number;
  checks: Check[];
}
