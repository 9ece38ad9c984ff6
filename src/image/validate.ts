import type Dockerode from 'dockerode';
import pLimit from 'p-limit';
import { type Check, firstLine, worst } from '../core/check.js';
import type { StageContext } from '../core/context.js';
import { type Era, type EraChoice, type EraHints, type EraJudgement, judgeEra } from '../core/era.js';
import { errorMessage, InputError } from '../core/errors.js';
import { ARCHES, type Arch, formatPlatform, type Platform } from '../core/platform.js';
import { uniqueBy } from '../core/util.js';
import { ERA_DESCRIPTIONS, type ImageEra, RUNTIME_MOUNT } from '../era/index.js';
import {
  dataCheck,
  entrypointCheck,
  hiddenMountsCheck,
  isRootUser,
  libcCheck,
  platformCheck,
  type Result,
  shellCheck,
  sizeCheck,
  skipped,
  toolkitCheck,
  userCheck,
} from './checks.js';
import {
  CONTRACT_READ_LIMIT,
  type ContractVerdict,
  contractChecks,
  decodeContract,
  type ExecutableStat,
  evaluateContract,
  goModeString,
  imageEraHint,
} from './contract.js';
import { type FileFacts, readFacts } from './facts.js';
import { ImageFiles } from './files.js';
import { acquire } from './pull.js';
import { type ImageRef, resolveImage } from './reference.js';
import {
  CHECK_IDS,
  type CheckId,
  CONTRACT_CHECK_IDS,
  type ImageReport,
  type ToolkitRef,
  type ValidateRequest,
} from './types.js';

/**
 * Is each image fit to host a Memoh workspace, per platform, without running it: pull under the
 * policy, inspect, read files through a created (never started) container, judge. One report per
 * image × platform, in request order. Images × platforms run concurrently (bounded); the platforms
 * of one reference share its local tag, so their pulls take turns.
 */
export async function validateImages(req: ValidateRequest, ctx: StageContext): Promise<ImageReport[]> {
  if (req.platforms.length === 0)
    throw new InputError('platform', 'no platform given', 'give --platform linux/amd64 or linux/arm64');
  // Images are checked as given, as Memoh treats a listed image (normalised, never prefixed): the registry
  // prefixes only the default image, and the config stage has already applied it (Options.run.images).
  const refs = uniqueBy(
    req.images.map((image) => resolveImage(image, '', 'image')),
    (r) => r.input,
  );
  if (refs.length === 0) throw new InputError('image', 'no image given', 'give --image REF');
  const platforms = uniqueBy(req.platforms, formatPlatform);
  const toolkits = req.toolkit === undefined ? [] : Array.isArray(req.toolkit) ? req.toolkit : [req.toolkit];
  const limit = pLimit(Math.max(1, req.concurrency));
  const turn = keyedQueue();
  const jobs = refs.flatMap((ref) =>
    platforms.map((platform) =>
      limit(async () => {
        ctx.signal.throwIfAborted();
        return validateOne(ref, platform, { req, ctx, toolkits, turn });
      }),
    ),
  );
  // Every job settles before returning (or rethrowing the abort): a job still creating a container
  // when the caller drains the ledger could otherwise leave one behind.
  const settled = await Promise.allSettled(jobs);
  ctx.signal.throwIfAborted();
  return settled.map((s) => {
    if (s.status === 'rejected') throw s.reason;
    return s.value;
  });
}

interface Env {
  req: ValidateRequest;
  ctx: StageContext;
  toolkits: ToolkitRef[];
  turn: ReturnType<typeof keyedQueue>;
}

async function validateOne(ref: ImageRef, platform: Platform, env: Env): Promise<ImageReport> {
  const { req, ctx } = env;
  const started = performance.now();
  const choice: EraChoice = req.memoh ?? 'auto';
  const bridgeHint = req.bridgeHint ? { bridge: req.bridgeHint } : {};
  const checks: Check[] = [];
  const add = (id: CheckId, r: Result, durationMs?: number) =>
    checks.push({ id, ...r, ...(durationMs !== undefined ? { durationMs } : {}) });
  const finish = (extra: Partial<ImageReport> = {}): ImageReport => ({
    image: ref,
    platform,
    ...extra,
    status: worst(checks.map((c) => c.status)),
    checks,
    durationMs: ms(started),
  });

  const tPull = performance.now();
  const acquired = await env.turn(ref.resolved, () => acquire(ref, platform, req.pull, ctx, req.auth));
  add('image.pull', acquired.check, ms(tPull));
  const image = acquired.image;
  if (!image) {
    const era = judgeEra(choice, bridgeHint);
    for (const id of idsOf(era.era).slice(1)) checks.push(skipped(id, 'the image is not available (see image.pull)'));
    return finish({ era });
  }
  ctx.reporter.debug(`${ref.resolved} ${formatPlatform(platform)}: judging ${image.Id.slice(0, 19)}`);

  const about = aboutImage(image);
  const platformResult = platformCheck(platform, image, ref, req.pull);
  add('image.platform', platformResult);

  const tFiles = performance.now();
  const { facts, verdict, era, unreadable, contractMs, eraHint } = await readImage(image, choice, bridgeHint, ctx);
  if (facts) about.eraHint = eraHint;
  const filesMs = ms(tFiles) - contractMs;
  const rules = ERA_DESCRIPTIONS[era.era].image;
  about.era = era;

  if (!facts) {
    unreadableChecks(add, checks, image, rules, unreadable, filesMs);
    return finish(about);
  }
  if (verdict) addContractChecks(add, verdict, era, contractMs);
  const contract = contractAbout(facts, verdict);
  if (contract) about.contract = contract;
  // The image's own architecture decides which loaders count, even when it is not the one asked for.
  const arch: Arch = ARCHES.includes(image.Architecture as Arch) ? (image.Architecture as Arch) : platform.arch;
  const libc = libcCheck(facts, arch, rules);
  add('image.libc', libc.result, filesMs);
  add('image.shell', shellCheck(facts));
  add('image.entrypoint', entrypointCheck(image, rules));
  add('image.user', userCheck(image, facts));
  add('image.hidden-mounts', hiddenMountsCheck(facts, rules));
  add('image.data', dataCheck(image, facts, rules));
  const hostToolkit = ERA_DESCRIPTIONS[era.era].workspace.toolkitFrom === 'runtime-dir';
  const toolkit = toolkitSkip(env.toolkits, platform, hostToolkit, platformResult);
  if (typeof toolkit === 'string') checks.push(skipped('image.toolkit', toolkit));
  else add('image.toolkit', toolkitCheck(toolkit, facts));
  add('image.size', sizeCheck(image));
  return finish({ ...about, libc: libc.libc });
}

type Add = (id: CheckId, r: Result, durationMs?: number) => void;

/** The check ids of an era, in order: the contract's only where the era has one. */
const idsOf = (era: Era): CheckId[] =>
  CHECK_IDS.filter((id) => ERA_DESCRIPTIONS[era].image.contract || !CONTRACT_CHECK_IDS.includes(id));

/** What the inspect tells of the image, for the report. */
function aboutImage(image: Dockerode.ImageInspectInfo): Partial<ImageReport> {
  const user = image.Config?.User ?? '';
  return {
    imageId: image.Id,
    actual: { os: image.Os, arch: image.Architecture, ...(image.Variant ? { variant: image.Variant } : {}) },
    user: user || 'root',
    entrypoint: asList(image.Config?.Entrypoint),
    sizeBytes: image.Size,
    layers: image.RootFS?.Layers?.length ?? 0,
  };
}

/** What the image's files say, read through a created container: facts, the era they tell, the contract verdict. */
async function readImage(
  image: Dockerode.ImageInspectInfo,
  choice: EraChoice,
  bridgeHint: { bridge?: EraHints['bridge'] },
  ctx: StageContext,
): Promise<{
  facts?: FileFacts;
  verdict?: ContractVerdict;
  era: EraJudgement;
  unreadable: string;
  contractMs: number;
  eraHint?: EraHints['image'];
}> {
  let era = judgeEra(choice, bridgeHint);
  try {
    const files = await ImageFiles.open(image.Id, ctx);
    try {
      const facts = await readFacts(files, { rootOwner: !isRootUser(image.Config?.User ?? '') });
      const opt = facts.mounts.find((m) => m.path === RUNTIME_MOUNT);
      const eraHint = imageEraHint(facts.contract, {
        exists: Boolean(opt?.exists),
        isDir: opt?.kind === 'dir',
        entries: opt?.entries ?? [],
      });
      era = judgeEra(choice, { image: eraHint, ...bridgeHint });
      if (!ERA_DESCRIPTIONS[era.era].image.contract) return { facts, era, unreadable: '', contractMs: 0, eraHint };
      const t = performance.now();
      const contract = facts.contract;
      const verdict = await evaluateContract({
        read: async () => contract,
        stat: (path) => statExecutable(files, path),
      });
      return { facts, verdict, era, unreadable: '', contractMs: ms(t), eraHint };
    } finally {
      await files.close();
    }
  } catch (err) {
    ctx.signal.throwIfAborted();
    return { era, unreadable: `could not read the image's files: ${firstLine(errorMessage(err))}`, contractMs: 0 };
  }
}

/** The image's files could not be read: what needs them fails, what the inspect alone tells is still judged. */
function unreadableChecks(
  add: Add,
  checks: Check[],
  image: Dockerode.ImageInspectInfo,
  rules: ImageEra,
  unreadable: string,
  filesMs: number,
): void {
  const fail: Result = {
    status: 'fail',
    detail: unreadable,
    fix: 'check the engine (docker info) and that the image is intact (docker image inspect)',
  };
  if (rules.contract) for (const id of CONTRACT_CHECK_IDS) add(id, fail);
  add('image.libc', fail, filesMs);
  add('image.shell', fail);
  add('image.entrypoint', entrypointCheck(image, rules));
  add('image.user', userCheck(image));
  add('image.hidden-mounts', fail);
  add('image.data', fail);
  checks.push(skipped('image.toolkit', 'the image files could not be read'));
  add('image.size', sizeCheck(image));
}

function addContractChecks(add: Add, verdict: ContractVerdict, era: EraJudgement, contractMs: number): void {
  // Nothing named the era (no --memoh, no contract file, no bridge yet): v0.18 is only assumed, so Memoh's
  // refusal is told as a warning; the option, the image or the bridge make it a failure.
  const assumed = era.by === 'default';
  contractChecks(verdict, 'image.').forEach((c, i) => {
    const status = assumed && c.status === 'fail' ? 'warn' : c.status;
    const why =
      assumed && c.status === 'fail'
        ? ` [era: ${era.why}; --memoh v0.18 makes this a failure, --memoh v3 drops the contract]`
        : '';
    add(
      c.id as CheckId,
      { status, detail: `${c.detail}${why}`, ...(c.fix ? { fix: c.fix } : {}) },
      i === 0 ? contractMs : undefined,
    );
  });
}

/** The version is told in either era (a v3 judgement of a v0.18 image still shows what it carries). */
function contractAbout(facts: FileFacts, verdict: ContractVerdict | undefined): ImageReport['contract'] {
  const decoded = facts.contract.ok ? decodeContract(facts.contract.bytes.subarray(0, CONTRACT_READ_LIMIT)) : undefined;
  const version = decoded && 'contract' in decoded ? decoded.contract.contractVersion : undefined;
  if (version === undefined && !verdict?.memoh) return undefined;
  return {
    ...(version !== undefined ? { version } : {}),
    ...(verdict?.memoh ? { incompatible: verdict.memoh } : {}),
  };
}

/** The toolkit to judge the image against, or why none is. */
function toolkitSkip(
  toolkits: ToolkitRef[],
  platform: Platform,
  hostToolkit: boolean,
  platformResult: Result,
): ToolkitRef | string {
  const toolkit = toolkits.find((t) => t.manifest.arch === platform.arch);
  if (!hostToolkit)
    return "Memoh v0.18 runs the image's own toolkit (see image.contract-executables): a built --toolkit is judged in the v3 era only";
  if (toolkits.length === 0) return 'no --toolkit given';
  if (!toolkit)
    return `no toolkit for ${platform.arch} given (have: ${toolkits.map((t) => t.manifest.arch).join(', ')})`;
  if (platformResult.status === 'fail') return `the image is not ${formatPlatform(platform)} (see image.platform)`;
  return toolkit;
}

/** Stat as the bridge does it for Memoh (following links), with the bridge's words for a missing path. */
async function statExecutable(files: ImageFiles, path: string): Promise<ExecutableStat> {
  try {
    const { stat } = await files.stat(path);
    // A link whose target is gone is what os.Stat calls "no such file".
    if (!stat || stat.kind === 'symlink') return { ok: false, missing: true, error: 'not found: not found' };
    return { ok: true, isDir: stat.kind === 'dir', mode: goModeString(stat.mode) };
  } catch (err) {
    const code = (err as { statusCode?: number }).statusCode;
    if (code !== undefined && code >= 500)
      return { ok: false, missing: false, error: 'the engine cannot resolve it (a symlink loop?)' };
    if (err instanceof Error && /more than \d+ symlinks/.test(err.message))
      return { ok: false, missing: false, error: err.message };
    throw err;
  }
}

/** Runs tasks with the same key one after another, tasks with different keys freely. */
function keyedQueue() {
  const tails = new Map<string, Promise<unknown>>();
  return <T>(key: string, fn: () => Promise<T>): Promise<T> => {
    const next = (tails.get(key) ?? Promise.resolve()).then(fn);
    tails.set(
      key,
      next.catch(() => undefined),
    );
    return next;
  };
}

function asList(v: Dockerode.ImageInspectInfo['Config']['Entrypoint'] | undefined): string[] {
  if (!v) return [];
  return typeof v === 'string' ? [v] : v;
}

function ms(since: number): number {
  return Math.round(performance.now() - since);
}
