import { fileLayer, mirrorImages, type Options } from '../config/index.js';
import { type Status, worst } from '../core/check.js';
import type { StageContext } from '../core/context.js';
import { InputError } from '../core/errors.js';
import type { Platform } from '../core/platform.js';
import type { AuthOptions } from '../image/auth.js';
import { mirrorRows } from './checks.js';
import { composePairs } from './compose.js';
import { checkDownloads, type DownloadReport, downloadPlan } from './downloads.js';
import { type ImagePair, imagePair } from './refs.js';
import { checkMirrors } from './stage.js';
import type { MirrorReport, MirrorRow, Unpaired } from './types.js';

/** What the `mirror` command was asked to check, besides the configuration. */
export interface MirrorAsk {
  /** A compose file and its mirror overlay: their service images are paired (both or neither). */
  compose?: string | undefined;
  overlay?: string | undefined;
  /** Whether `--image` was given. */
  imageFlag: boolean;
  /** Whether `--platform` was given. */
  platformFlag: boolean;
  /** The config file given, whose own images and platforms count as asked for too. */
  config?: string | undefined;
  downloads: boolean;
}

/** What will be checked: image pairs, unpaired compose services, platforms, and the toolkit's downloads. */
export interface MirrorPlan {
  pairs: ImagePair[];
  unpaired: Unpaired[];
  platforms: Platform[] | 'all';
  downloads?: { name: string; url: string }[] | undefined;
}

export function planMirror(options: Options, ask: MirrorAsk, env: NodeJS.ProcessEnv = process.env): MirrorPlan {
  if (!!ask.compose !== !!ask.overlay) {
    throw new InputError(
      ask.compose ? '--compose' : '--overlay',
      'needs the other file too',
      'give both --compose FILE and --overlay FILE',
    );
  }
  const pairs: ImagePair[] = [];
  let unpaired: Unpaired[] = [];
  if (ask.compose && ask.overlay) {
    // The workspace default image is in no compose file, but mainland users pull it through the mirror too.
    const c = composePairs(ask.compose, ask.overlay, options.mirror.upstream, env, {
      image: options.workspace.defaultImage,
      registry: options.workspace.registry,
    });
    pairs.push(...c.pairs);
    unpaired = c.unpaired;
  }
  // Images: named ones always; the configured default only when nothing else was asked for.
  const namedImages = ask.imageFlag || configSets(ask.config, 'run.images');
  if (namedImages || (!ask.compose && !ask.downloads)) {
    for (const image of mirrorImages(options))
      pairs.push(imagePair(image, options.workspace.registry, options.mirror.upstream));
  }
  const namedPlatforms = ask.platformFlag || configSets(ask.config, 'run.platforms');
  return {
    pairs,
    unpaired,
    platforms: namedPlatforms ? options.run.platforms : 'all',
    downloads: ask.downloads ? downloadPlan(options.toolkit) : undefined,
  };
}

/** Whether the config file (not a default) sets a key, so that `run.images`/`run.platforms` count as asked for. */
function configSets(config: string | undefined, path: string): boolean {
  if (config === undefined) return false;
  const v = fileLayer(config, '--config').values.get(path);
  return Array.isArray(v) && v.length > 0;
}

export interface MirrorOutcome {
  report?: MirrorReport | undefined;
  rows: MirrorRow[];
  downloads?: DownloadReport | undefined;
  /** The worst status of every check (an empty set passes). */
  status: Status;
}

/** Runs the plan: the registry comparison when there are pairs, the download check when asked for. */
export async function checkMirrorPlan(
  plan: MirrorPlan,
  options: Options,
  auth: AuthOptions,
  ctx: StageContext,
): Promise<MirrorOutcome> {
  const { pairs, unpaired, platforms } = plan;
  let report: MirrorReport | undefined;
  if (pairs.length || unpaired.length) {
    report = await checkMirrors(
      { pairs, unpaired, platforms, insecure: options.mirror.insecure, auth, concurrency: options.run.concurrency * 2 },
      ctx,
    );
  }
  const downloads = plan.downloads ? await checkDownloads(options.toolkit, ctx) : undefined;
  const rows = report ? mirrorRows(report) : [];
  const checks = [...rows.flatMap((r) => r.checks), ...(downloads?.checks ?? [])];
  return { report, rows, downloads, status: worst(checks.map((c) => c.status)) };
}
