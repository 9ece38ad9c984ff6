import type { Pull } from '../config/index.js';
import type { Check, Status } from '../core/check.js';
import type { EraChoice, EraHints, EraJudgement } from '../core/era.js';
import type { Platform } from '../core/platform.js';
import type { ToolkitManifest } from '../toolkit/types.js';
import type { AuthOptions } from './auth.js';
import type { ImageRef } from './reference.js';

/** Check ids, in report order. They are a contract with the report stage and with users' tooling. */
export const CHECK_IDS = [
  'image.pull',
  'image.platform',
  // Memoh v0.18's workspace contract, one check per rule group in Memoh's order; only in the v0.18 era.
  'image.contract',
  'image.contract-version',
  'image.contract-platform',
  'image.contract-paths',
  'image.contract-executables',
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
  /**
   * Which Memoh the image must suit (`--memoh`; default auto): v0.18 applies the workspace contract and v0.18's
   * mounts, v3 the seed's; auto judges per image (its contract file, then `bridgeHint`), else assumes v0.18 and
   * then reports a refusal by the contract as a warning, not a failure.
   */
  memoh?: EraChoice;
  /** What the bridge says about the era, when the caller already knows (auto only). */
  bridgeHint?: EraHints['bridge'];
}

/** Check ids of the contract, which only the v0.18 era reports. */
export const CONTRACT_CHECK_IDS: readonly CheckId[] = CHECK_IDS.filter((id) => id.startsWith('image.contract'));

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
  /** What the image itself says about Memoh's era (its contract file, or a seed-shaped /opt/memoh). */
  eraHint?: EraHints['image'];
  /** The era this image was judged by, and why. */
  era?: EraJudgement;
  /** The contract: its version when the file decodes (either era), and Memoh v0.18's refusal when it refuses the image. */
  contract?: { version?: number; incompatible?: string };
  status: Status;
  checks: Check[];
  durationMs: number;
}
