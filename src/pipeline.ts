import { createHash } from 'node:crypto';
import { join } from 'node:path';
import pLimit from 'p-limit';
import { readUserChecks, type UserChecks } from './bridge/index.js';
import { mirrorImages, type Options } from './config/index.js';
import type { Check } from './core/check.js';
import type { StageContext } from './core/context.js';
import { type EraHints, type EraJudgement, judgeEra } from './core/era.js';
import { errorMessage, InputError } from './core/errors.js';
import { type Arch, formatPlatform, type Platform, platformOf } from './core/platform.js';
import type { AuthOptions } from './image/auth.js';
import { type ImageReport, validateImages } from './image/index.js';
import { checkMirrors, imagePair, type MirrorReport, mirrorRows } from './mirror/index.js';
import { finishReport, type RunReport, rowStatus, type StageRow } from './report/index.js';
import { buildToolkit, flavoursFor } from './toolkit/index.js';
import { type ToolkitOnDisk, toolkitsByArch } from './toolkit/manifest.js';
import { FLAVOURS, type Flavour, type ToolkitResult } from './toolkit/types.js';
import {
  type BridgeSource,
  botIdsFor,
  bridgeEraFromBinary,
  defaultBotId,
  parseBridgeSource,
  resolveBridge,
  type SmokeReport,
  type SmokeRequest,
  smokeMany,
  workspaceShape,
} from './workspace/index.js';

/**
 * The one orchestration both faces call: bridge → validate → toolkit → (mirror) → smoke, for every image ×
 * platform, with bounded concurrency. A stage that fails marks what depends on it skipped, with the
 * reason; nothing here prints or knows which face runs it.
 */
export const MODES = ['run', 'toolkit', 'validate', 'mirror', 'smoke', 'plan'] as const;
export type Mode = (typeof MODES)[number];

export interface PipelineRequest {
  options: Options;
  mode: Mode;
  /** Where toolkits are assembled (one dir per arch). */
  workDir: string;
  credentials?: { username: string; password: string } | undefined;
}

export interface Matrix {
  include: { image: string; platform: string }[];
}

export interface PipelineResult {
  report: RunReport;
  toolkitPaths: string[];
  matrix: Matrix;
  toolkits: ToolkitResult[];
  images: ImageReport[];
  smoke: SmokeReport[];
  mirror?: MirrorReport;
}

const TOOLKIT_ROW = 'toolkit';
// Defined by the bundler; the pipeline also runs unbundled (in-process from tests), where it is not.
const VERSION = typeof __VERSION__ === 'string' ? __VERSION__ : 'dev';

export function planMatrix(options: Options): Matrix {
  return {
    include: options.run.images.flatMap((image) =>
      options.run.platforms.map((p) => ({ image, platform: formatPlatform(p) })),
    ),
  };
}

/** The Actions cache key of the toolkit cache dir: everything that changes what the toolkit holds. */
export function toolkitCacheKey(options: Options): string {
  const t = options.toolkit;
  const what = JSON.stringify([
    t.nodeVersion,
    t.npmVersion,
    t.uvVersion,
    t.alpineVersion,
    [...t.arches].sort(),
    t.mirrors,
    t.verify,
  ]);
  return `memoh-toolkit-${[...t.arches].sort().join('-')}-${createHash('sha256').update(what).digest('hex').slice(0, 16)}`;
}

/** Everything the steps of one run share: what they were given and what the earlier steps found. */
interface RunState {
  req: PipelineRequest;
  ctx: StageContext;
  o: Options;
  rows: StageRow[];
  facts: Record<string, string>;
  result: Omit<PipelineResult, 'report'>;
  auth: AuthOptions | undefined;
  bridgeSource?: BridgeSource | undefined;
  userChecks?: UserChecks | undefined;
  /** The bridge of each architecture, resolved before validation: its binary also tells the era. */
  bridges: Map<Arch, { path: string } | { error: unknown; t0: number }>;
  bridgeHint?: EraHints['bridge'];
  validated: Map<string, ImageReport>;
  toolkitDirs: Map<Arch, ToolkitOnDisk>;
  toolkitFailed: Map<Arch, string>;
}

type Step = (s: RunState) => Promise<void>;

/**
 * Which steps each mode runs, in order. `run` validates before it builds a toolkit: only images judged by
 * the v3 era get one (v0.18 images carry theirs), in the flavours their C libraries need.
 */
const STEPS: Record<Mode, readonly Step[]> = {
  run: [bridgeStep, givenToolkitStep, validateStep, toolkitStep, mirrorStep, smokeStep],
  toolkit: [toolkitStep],
  validate: [givenToolkitStep, validateStep],
  mirror: [mirrorStep],
  smoke: [bridgeStep, givenToolkitStep, validateStep, smokeStep],
  plan: [],
};

export async function runPipeline(req: PipelineRequest, ctx: StageContext): Promise<PipelineResult> {
  const started = performance.now();
  const { options: o, mode } = req;
  const runsSmoke = STEPS[mode].includes(smokeStep);
  // Inputs that can be judged without touching anything are judged first: a typo fails in a second.
  if (runsSmoke && o.run.memoh !== 'auto') workspaceShape(o.run.memoh, o.workspace.backend);
  const s: RunState = {
    req,
    ctx,
    o,
    rows: [],
    facts: {},
    result: { toolkitPaths: [], matrix: planMatrix(o), toolkits: [], images: [], smoke: [] },
    auth: authFor(o, req.credentials),
    bridgeSource: runsSmoke ? parseBridgeSource(o.smoke.bridge, o.origins['smoke.bridge']) : undefined,
    userChecks:
      runsSmoke && o.smoke.checks ? readUserChecks(o.smoke.checks, o.origins['smoke.checks'] ?? 'checks') : undefined,
    bridges: new Map(),
    validated: new Map(),
    toolkitDirs: new Map(),
    toolkitFailed: new Map(),
  };
  for (const step of STEPS[mode]) await step(s);
  const report = finishReport(
    {
      tool: { name: 'memoh-workspace', version: VERSION },
      mode,
      startedAt: new Date(Date.now() - (performance.now() - started)).toISOString(),
      failOn: o.run.failOn,
      rows: order(s.rows, o),
      facts: s.facts,
    },
    started,
  );
  return { report, ...s.result };
}

/** The bridge per architecture (a file, or copied out of an image), and what its binary says of the era. */
async function bridgeStep(s: RunState): Promise<void> {
  if (!s.bridgeSource) return;
  for (const arch of new Set(s.o.run.platforms.map((p) => p.arch))) {
    const t0 = performance.now();
    try {
      const path = (await resolveBridge(s.bridgeSource, arch, s.ctx)).path;
      s.bridges.set(arch, { path });
      s.bridgeHint ??= await bridgeEraFromBinary(path).catch(() => undefined);
    } catch (err) {
      // A bridge the user named that is missing or built for another arch is bad input, refused up front.
      if (s.ctx.signal.aborted || err instanceof InputError) throw err;
      s.bridges.set(arch, { error: err, t0 });
    }
  }
}

/** Every image × platform, without running it, by the era the user chose or the image and bridge tell. */
async function validateStep(s: RunState): Promise<void> {
  const { o, ctx } = s;
  const reports = await ctx.reporter.group('validate', () =>
    validateImages(
      {
        images: o.run.images,
        platforms: o.run.platforms,
        registry: o.workspace.registry,
        pull: o.run.pull,
        concurrency: o.run.concurrency,
        toolkit: [...s.toolkitDirs.values()],
        auth: s.auth,
        memoh: o.run.memoh,
        bridgeHint: s.bridgeHint,
      },
      ctx,
    ),
  );
  s.result.images = reports;
  for (const r of reports) {
    s.validated.set(key(r.image.input, r.platform), r);
    const era = judgeEra(o.run.memoh, { image: r.eraHint, bridge: s.bridgeHint });
    s.rows.push({
      image: r.image.input,
      platform: formatPlatform(r.platform),
      stage: 'validate',
      status: r.status,
      durationMs: r.durationMs,
      checks: r.checks,
      ...eraOf(era),
    });
  }
}

/** A ready-made toolkit (`--toolkit DIR`, one per architecture): validation judges the images against it. */
async function givenToolkitStep(s: RunState): Promise<void> {
  const { o } = s;
  if (!o.smoke.toolkit.length) return;
  const arches = [...new Set(o.run.platforms.map((p) => p.arch))];
  for (const [arch, t] of await toolkitsByArch(o.smoke.toolkit, arches, o.origins['smoke.toolkit'])) {
    s.toolkitDirs.set(arch, t);
    s.result.toolkitPaths.push(t.dir);
    s.facts[`toolkit ${arch}`] =
      `${t.dir} (given; node ${t.manifest.node.version}, npm ${t.manifest.npm.version}, uv ${t.manifest.uv.version})`;
  }
}

/**
 * The toolkit built: all of Memoh's layout for `toolkit`; for `run` only what the v3-era images need (v0.18
 * images carry their own), unless one was given.
 */
async function toolkitStep(s: RunState): Promise<void> {
  const { o, req, ctx } = s;
  const forRun = req.mode !== 'toolkit';
  if (forRun && o.smoke.toolkit.length) return;
  // run/smoke: the libcs of the images judged v3, per architecture; v0.18 workspaces use the image's toolkit.
  const needs = new Map<Arch, (string | undefined)[]>();
  if (forRun) {
    for (const v of s.validated.values()) {
      if (v.status === 'fail' || judgeEra(o.run.memoh, { image: v.eraHint, bridge: s.bridgeHint }).era !== 'v3')
        continue;
      needs.set(v.platform.arch, [...(needs.get(v.platform.arch) ?? []), v.libc]);
    }
    if (needs.size === 0) {
      s.facts.toolkit = 'not built: every workspace is judged by the v0.18 era, whose image carries the toolkit';
      return;
    }
  }
  const arches = forRun ? [...needs.keys()] : o.toolkit.arches;
  const limit = pLimit(Math.max(1, Math.min(o.run.concurrency, arches.length)));
  await ctx.reporter.group('toolkit', () =>
    Promise.all(
      arches.map((arch) => limit(() => buildOne(s, arch, forRun ? flavoursFor(needs.get(arch)!) : undefined))),
    ),
  );
}

async function buildOne(s: RunState, arch: Arch, flavours: Flavour[] | undefined): Promise<void> {
  const t0 = performance.now();
  const platform = formatPlatform(platformOf(arch));
  try {
    const r = await buildToolkit(
      { ...s.o.toolkit, out: join(s.req.workDir, 'toolkit', arch), arch, ...(flavours ? { flavours } : {}) },
      s.ctx,
    );
    const m = r.manifest;
    s.result.toolkits.push(r);
    s.result.toolkitPaths.push(r.dir);
    s.toolkitDirs.set(arch, { dir: r.dir, manifest: m });
    const held = r.flavours.length < FLAVOURS.length ? `, ${r.flavours.join(' + ')} only` : '';
    s.facts[`toolkit ${arch}`] =
      `${r.dir} (node ${m.node.version}, npm ${m.npm.version}, uv ${m.uv.version}${held}${r.fallback ? ', node-musl = glibc fallback' : ''}${r.fromCache ? ', from cache' : ''})`;
    s.rows.push({
      image: TOOLKIT_ROW,
      platform,
      stage: 'toolkit',
      status: rowStatus(r.checks),
      durationMs: r.durations.totalMs,
      checks: r.checks,
    });
    if (rowStatus(r.checks) === 'fail') s.toolkitFailed.set(arch, 'the toolkit build failed');
  } catch (err) {
    if (s.ctx.signal.aborted) throw err;
    s.toolkitFailed.set(arch, 'the toolkit build failed');
    s.rows.push(failedRow(TOOLKIT_ROW, platform, 'toolkit', 'toolkit.build', err, t0));
  }
}

/** Registry mirror: asked for directly, or in `run` when a registry mirror is configured. */
async function mirrorStep(s: RunState): Promise<void> {
  const { o, ctx } = s;
  if (s.req.mode === 'run' && !o.workspace.registry) return;
  const report = await ctx.reporter.group('mirror', () =>
    checkMirrors(
      {
        pairs: mirrorImages(o).map((image) =>
          imagePair(image, o.workspace.registry, o.mirror.upstream, o.origins['run.images']),
        ),
        platforms: o.run.platforms,
        insecure: o.mirror.insecure,
        auth: s.auth,
        concurrency: o.run.concurrency * 2,
      },
      ctx,
    ),
  );
  s.result.mirror = report;
  for (const r of mirrorRows(report)) s.rows.push({ ...r, stage: 'mirror' });
}

/** Why an image × platform is not smoked, or undefined when it is. Pure: the order of reasons is the rule. */
export function smokeSkip(t: {
  arch: Arch;
  validated?: Pick<ImageReport, 'status' | 'checks'> | undefined;
  bridge: boolean;
  toolkitFailed?: string | undefined;
}): string | undefined {
  if (t.toolkitFailed) return `${t.toolkitFailed} for ${t.arch}`;
  if (!t.validated) return 'not validated';
  if (t.validated.status === 'fail') return `validation failed (${failedIds(t.validated.checks)})`;
  if (!t.bridge) return 'no bridge';
  return undefined;
}

/** Starts a workspace per validated image × platform with the bridge and (v3) toolkit of its architecture. */
async function smokeStep(s: RunState): Promise<void> {
  const { o, ctx } = s;
  const targets = o.run.images.flatMap((image) => o.run.platforms.map((platform) => ({ image, platform })));
  const ids = botIdsFor(
    o.smoke.botId || defaultBotId(),
    targets.map((t) => ({ image: t.image, arch: t.platform.arch })),
  );
  const reqs: SmokeRequest[] = [];
  for (const [i, { image, platform }] of targets.entries()) {
    const req = smokeRequest(s, image, platform, ids[i]!);
    if (req) reqs.push(req);
  }
  const reports = await ctx.reporter.group('smoke', () => smokeMany(reqs, o.run.concurrency, ctx));
  s.result.smoke = reports;
  for (const r of reports) recordSmoke(s, r);
}

/** The smoke request of one image × platform, or undefined after recording why it is skipped or failed. */
function smokeRequest(s: RunState, image: string, platform: Platform, botId: string): SmokeRequest | undefined {
  const { o } = s;
  const p = formatPlatform(platform);
  const v = s.validated.get(key(image, platform));
  const bridge = s.bridges.get(platform.arch);
  const why = smokeSkip({
    arch: platform.arch,
    validated: v,
    bridge: Boolean(bridge),
    toolkitFailed: s.toolkitFailed.get(platform.arch),
  });
  if (why || !v || !bridge) {
    s.rows.push({
      image,
      platform: p,
      stage: 'smoke',
      status: 'skip',
      durationMs: 0,
      checks: [],
      skipped: why ?? 'no bridge',
    });
    return undefined;
  }
  if ('error' in bridge) {
    s.rows.push(failedRow(image, p, 'smoke', 'smoke.bridge', bridge.error, bridge.t0));
    return undefined;
  }
  return {
    image,
    resolved: v.image.resolved,
    platform,
    bridgePath: bridge.path,
    toolkitDir: s.toolkitDirs.get(platform.arch)?.dir,
    botId,
    timeoutSeconds: o.smoke.timeoutSeconds,
    service: o.smoke.service,
    memoh: o.run.memoh,
    backend: o.workspace.backend,
    bridgeTls: o.bridgeTls,
    imageHint: v.eraHint,
    tz: process.env.TZ,
    userChecks: s.userChecks,
    libc: v.libc,
    keep: o.smoke.keep,
  };
}

/** One smoke report as a row, and what it tells the reader beyond its checks (service answered, kept container). */
function recordSmoke(s: RunState, r: SmokeReport): void {
  const { image, platform, status, durationMs, checks, failureContext } = r;
  s.rows.push({
    image,
    platform,
    stage: 'smoke',
    status,
    durationMs,
    checks,
    ...eraOf(r.memoh),
    ...(failureContext ? { failureContext } : {}),
  });
  if (r.service)
    s.facts[`bridge ${r.image} ${r.platform}`] = `answered as ${r.service}.ContainerService (${r.backend} backend)`;
  if (r.kept) {
    const where = r.kept.tcp ? `bridge at ${r.kept.tcp}` : `socket ${r.kept.socketPath}`;
    s.facts[`kept ${r.image} ${r.platform}`] =
      `${r.kept.containerName}, ${where}; remove with: ${r.kept.removeCommand}`;
  }
}

/** A row's era, as the report shows it: `"memoh": "v0.18"` and why. */
function eraOf(j: EraJudgement): Pick<StageRow, 'memoh' | 'memohWhy'> {
  return { memoh: j.era, memohWhy: `${j.by}: ${j.why}${j.guess ? ' (a guess)' : ''}` };
}

/** Rows in a stable order: toolkit first, then per image and platform as configured, stages in pipeline order. */
function order(rows: StageRow[], o: Options): StageRow[] {
  const stages = ['toolkit', 'validate', 'mirror', 'smoke'];
  const images = [TOOLKIT_ROW, ...o.run.images];
  const rank = (r: StageRow) =>
    [images.indexOf(r.image), r.platform === 'all' ? '' : r.platform, stages.indexOf(r.stage)] as const;
  return [...rows].sort((a, b) => {
    const x = rank(a);
    const y = rank(b);
    return x[0] - y[0] || x[1].localeCompare(y[1]) || x[2] - y[2];
  });
}

function key(image: string, p: Platform): string {
  return `${image}\u0000${p.arch}`;
}

function failedIds(checks: Check[]): string {
  return checks
    .filter((c) => c.status === 'fail')
    .map((c) => c.id)
    .join(', ');
}

function failedRow(
  image: string,
  platform: string,
  stage: StageRow['stage'],
  id: string,
  err: unknown,
  t0: number,
): StageRow {
  const fix = (err as { fix?: string }).fix;
  const check: Check = { id, status: 'fail', detail: errorMessage(err).split('\n')[0] ?? '', ...(fix ? { fix } : {}) };
  return { image, platform, stage, status: 'fail', durationMs: Math.round(performance.now() - t0), checks: [check] };
}

/** Credentials from the faces go to the registry mirror, or to the upstream/Docker Hub when there is none. */
function authFor(o: Options, creds: PipelineRequest['credentials']): AuthOptions | undefined {
  if (!creds) return undefined;
  const hosts = [o.workspace.registry || 'docker.io', o.mirror.upstream].filter(Boolean);
  return Object.fromEntries(hosts.map((h) => [h, creds]));
}
