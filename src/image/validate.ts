import type Dockerode from 'dockerode';
import pLimit from 'p-limit';
import { type Check, firstLine, worst } from '../core/check.js';
import type { StageContext } from '../core/context.js';
import { type Era, type EraChoice, judgeEra } from '../core/era.js';
import { errorMessage, InputError } from '../core/errors.js';
import { ARCHES, type Arch, formatPlatform, type Platform } from '../core/platform.js';
import { uniqueBy } from '../core/util.js';
import { ERA_DESCRIPTIONS, RUNTIME_MOUNT } from '../era/index.js';
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
  const idsOf = (era: Era): CheckId[] =>
    CHECK_IDS.filter((id) => ERA_DESCRIPTIONS[era].image.contract || !CONTRACT_CHECK_IDS.includes(id));

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

  const user = image.Config?.User ?? '';
  const entrypoint = asList(image.Config?.Entrypoint);
  const about: Partial<ImageReport> = {
    imageId: image.Id,
    actual: { os: image.Os, arch: image.Architecture, ...(image.Variant ? { variant: image.Variant } : {}) },
    user: user || 'root',
    entrypoint,
    sizeBytes: image.Size,
    layers: image.RootFS?.Layers?.length ?? 0,
  };
  const platformResult = platformCheck(platform, image, ref, req.pull);
  add('image.platform', platformResult);

  const tFiles = performance.now();
  let facts: FileFacts | undefined;
  let verdict: ContractVerdict | undefined;
  let era = judgeEra(choice, bridgeHint);
  let unreadable = '';
  let contractMs = 0;
  try {
    const files = await ImageFiles.open(image.Id, ctx);
    try {
      facts = await readFacts(files, { rootOwner: !isRootUser(user) });
      const opt = facts.mounts.find((m) => m.path === RUNTIME_MOUNT);
      about.eraHint = imageEraHint(facts.contract, {
        exists: Boolean(opt?.exists),
        isDir: opt?.kind === 'dir',
        entries: opt?.entries ?? [],
      });
      era = judgeEra(choice, { image: about.eraHint, ...bridgeHint });
      if (ERA_DESCRIPTIONS[era.era].image.contract) {
        const t = performance.now();
        const contract = facts.contract;
        verdict = await evaluateContract({ read: async () => contract, stat: (path) => statExecutable(files, path) });
        contractMs = ms(t);
      }
    } finally {
      await files.close();
    }
  } catch (err) {
    ctx.signal.throwIfAborted();
    unreadable = `could not read the image's files: ${firstLine(errorMessage(err))}`;
  }
  const filesMs = ms(tFiles) - contractMs;
  const rules = ERA_DESCRIPTIONS[era.era].image;
  about.era = era;

  // The image's own architecture decides which loaders count, even when it is not the one asked for.
  const arch: Arch = ARCHES.includes(image.Architecture as Arch) ? (image.Architecture as Arch) : platform.arch;
  if (!facts) {
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
    return finish(about);
  }
  if (verdict) {
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
  // The version is told in either era (a v3 judgement of a v0.18 image still shows what it carries).
  const decoded = facts.contract.ok ? decodeContract(facts.contract.bytes.subarray(0, CONTRACT_READ_LIMIT)) : undefined;
  const version = decoded && 'contract' in decoded ? decoded.contract.contractVersion : undefined;
  if (version !== undefined || verdict?.memoh) {
    about.contract = {
      ...(version !== undefined ? { version } : {}),
      ...(verdict?.memoh ? { incompatible: verdict.memoh } : {}),
    };
  }
  const libc = libcCheck(facts, arch, rules);
  add('image.libc', libc.result, filesMs);
  add('image.shell', shellCheck(facts));
  add('image.entrypoint', entrypointCheck(image, rules));
  add('image.user', userCheck(image, facts));
  add('image.hidden-mounts', hiddenMountsCheck(facts, rules));
  add('image.data', dataCheck(image, facts, rules));
  const toolkit = env.toolkits.find((t) => t.manifest.arch === platform.arch);
  if (!rules.hostToolkit) {
    checks.push(
      skipped(
        'image.toolkit',
        "Memoh v0.18 runs the image's own toolkit (see image.contract-executables): a built --toolkit is judged in the v3 era only",
      ),
    );
  } else if (env.toolkits.length === 0) checks.push(skipped('image.toolkit', 'no --toolkit given'));
  else if (!toolkit)
    checks.push(
      skipped(
        'image.toolkit',
        `no toolkit for ${platform.arch} given (have: ${env.toolkits.map((t) => t.manifest.arch).join(', ')})`,
      ),
    );
  else if (platformResult.status === 'fail')
    checks.push(skipped('image.toolkit', `the image is not ${formatPlatform(platform)} (see image.platform)`));
  else add('image.toolkit', toolkitCheck(toolkit, facts));
  add('image.size', sizeCheck(image));
  return finish({ ...about, libc: libc.libc });
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
