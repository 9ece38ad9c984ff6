import type { Pull } from '../config/index.js';
import type { Check, Status } from '../core/check.js';
import type { Platform } from '../core/platform.js';
import type { ToolkitManifest } from '../toolkit/types.js';
import type { AuthOptions } from './auth.js';
import type { ImageRef } from './reference.js';

/** Check ids, in report order. They are a contract with the report stage and with users' tooling. */
export const CHECK_IDS = [
  'image.pull',
  'image.platform',
  'image.libc',
  'image.shell',
  'image.entrypoint',
  'image.user',
  'image.hidden-mounts',
  'image.data',
  'image.toolkit',
  'image.size',
] as const;
export type CheckId = (typeof CHECK_IDS)[number];

export type Libc = 'glibc' | 'musl' | 'none';

/** A built toolkit (one architecture) and the part of its `toolkit.json` validation reads. */
export interface ToolkitRef {
  dir: string;
  manifest: Pick<ToolkitManifest, 'arch' | 'fallback'>;
}

export interface ValidateRequest {
  /** References as the user wrote them; resolved with Memoh's rules. */
  images: string[];
  platforms: Platform[];
  /** Memoh's `[workspace] registry`; empty: none. */
  registry: string;
  pull: Pull;
  /** Images × platforms validated at once. */
  concurrency: number;
  /** Toolkits to judge compatibility with: one per architecture (the toolkit stage builds one per arch). */
  toolkit?: ToolkitRef | ToolkitRef[];
  /** Registry credentials by host; the Docker config is read besides. */
  auth?: AuthOptions;
}

export interface ImageReport {
  image: ImageRef;
  /** The platform asked for. */
  platform: Platform;
  imageId?: string;
  /** The platform the image actually is (from its config). */
  actual?: { os: string; arch: string; variant?: string };
  libc?: Libc;
  user?: string;
  entrypoint?: string[];
  sizeBytes?: number;
  layers?: number;
  status: Status;
  checks: Check[];
  durationMs: number;
}
