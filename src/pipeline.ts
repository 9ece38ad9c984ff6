import { createHash } from 'node:crypto';
import { join } from 'node:path';
import pLimit from 'p-limit';
import { type UserChecks, readUserChecks } from './bridge/index.js';
import { type Options, mirrorImages } from './config/index.js';
import type { Check } from './core/check.js';
import type { StageContext } from './core/context.js';
import { InputError, errorMessage } from './core/errors.js';
import { type Arch, type Platform, formatPlatform, platformOf } from './core/platform.js';
import type { AuthOptions } from './image/auth.js';
import { type ImageReport, validateImages } from './image/index.js';
import { type MirrorReport, checkMirrors, imagePair, mirrorRows } from './mirror/index.js';
import { type RunReport, type StageRow, finishReport, rowStatus } from './report/index.js';
import { buildToolkit } from './toolkit/index.js';
import { type ToolkitOnDisk, toolkitsByArch } from './toolkit/manifest.js';
import type { ToolkitResult } from './toolkit/types.js';
import { type SmokeReport, type SmokeRequest, botIdsFor, defaultBotId, parseBridgeSource, resolveBridge, smokeMany } from './workspace/index.js';

/**
 * The one orchestration both faces call: toolkit → validate → (mirror) → smoke, for every image ×
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
    include: options.run.images.flatMap((image) => options.run.platforms.map((p) => ({ image, platform: formatPlatform(p) }))),
  };
}

/** The Actions cache key of the toolkit cache dir: everything that changes what the toolkit holds. */
export function toolkitCacheKey(options: Options): string {
  const t = options.toolkit;
  const what = JSON.stringify([t.nodeVersion, t.npmVersion, t.uvVersion, t.alpineVersion, [...t.arches].sort(), t.mirrors, t.verify]);
  return `memoh-toolkit-${[...t.arches].sort().join('-')}-${createHash('sha256').update(what).digest('hex').slice(0, 16)}`;
}

export async function runPipeline(req: PipelineRequest, ctx: StageContext): Promise<PipelineResult> {
  const started = performance.now();
  const { options: o, mode } = req;
  const matrix = planMatrix(o);
  const rows: StageRow[] = [];
  const facts: Record<string, string> = {};
  const result: Omit<PipelineResult, 'report'> = { toolkitPaths: [], matrix, toolkits: [], images: [], smoke: [] };
  const does = (...modes: Mode[]) => modes.includes(mode);

  // Inputs that can be judged without touching anything are judged first: a typo fails in a second.
  const bridgeSource = does('run', 'smoke') ? parseBridgeSource(o.smoke.bridge, o.origins['smoke.bridge']) : undefined;
  const userChecks: UserChecks | undefined = does('run', 'smoke') && o.smoke.checks ? readUserChecks(o.smoke.checks, o.origins['smoke.checks'] ?? 'checks') : undefined;
  const auth = authFor(o, req.credentials);

  // Toolkit: one per architecture, built, or given ready-made (`[smoke] toolkit`, --toolkit DIR).
  const toolkitFailed = new Map<Arch, string>();
  const toolkitDirs = new Map<Arch, ToolkitOnDisk>();
  if (o.smoke.toolkit.length && does('run', 'smoke')) {
    const arches = [...new Set(o.run.platforms.map((p) => p.arch))];
    for (const [arch, t] of await toolkitsByArch(o.smoke.toolkit, arches, o.origins['smoke.toolkit'])) {
      toolkitDirs.set(arch, t);
      result.toolkitPaths.push(t.dir);
      facts[`toolkit ${arch}`] = `${t.dir} (given; node ${t.manifest.node.version}, npm ${t.manifest.npm.version}, uv ${t.manifest.uv.version})`;
    }
  } else if (does('run', 'toolkit')) {
    const limit = pLimit(Math.max(1, Math.min(o.run.concurrency, o.toolkit.arches.length)));
    await ctx.reporter.group('toolkit', () =>
      Promise.all(
        o.toolkit.arches.map((arch) =>
          limit(async () => {
            const t0 = performance.now();
            const platform = formatPlatform(platformOf(arch));
            try {
              const r = await buildToolkit({ ...o.toolkit, out: join(req.workDir, 'toolkit', arch), arch }, ctx);
              result.toolkits.push(r);
              result.toolkitPaths.push(r.dir);
              toolkitDirs.set(arch, { dir: r.dir, manifest: r.manifest });
              facts[`toolkit ${arch}`] = `${r.dir} (node ${r.manifest.node.version}, npm ${r.manifest.npm.version}, uv ${r.manifest.uv.version}${r.fallback ? ', node-musl = glibc fallback' : ''}${r.fromCache ? ', from cache' : ''})`;
              rows.push({ image: TOOLKIT_ROW, platform, stage: 'toolkit', status: rowStatus(r.checks), durationMs: r.durations.totalMs, checks: r.checks });
              if (rowStatus(r.checks) === 'fail') toolkitFailed.set(arch, 'the toolkit build failed');
            } catch (err) {
              if (ctx.signal.aborted) throw err;
              toolkitFailed.set(arch, 'the toolkit build failed');
              rows.push(failedRow(TOOLKIT_ROW, platform, 'toolkit', 'toolkit.build', err, t0));
            }
          }),
        ),
      ),
    );
  }

  // Validation: every image × platform, judged against the toolkit of its architecture.
  const validated = new Map<string, ImageReport>();
  if (does('run', 'validate', 'smoke')) {
    const reports = await ctx.reporter.group('validate', () =>
      validateImages(
        {
          images: o.run.images,
          platforms: o.run.platforms,
          registry: o.workspace.registry,
          pull: o.run.pull,
          concurrency: o.run.concurrency,
          toolkit: [...toolkitDirs.values()],
          auth,
          memoh: o.run.memoh,
        },
        ctx,
      ),
    );
    result.images = reports;
    for (const r of reports) {
      validated.set(key(r.image.input, r.platform), r);
      rows.push({ image: r.image.input, platform: formatPlatform(r.platform), stage: 'validate', status: r.status, durationMs: r.durationMs, checks: r.checks });
    }
  }

  // Mirror: only with a registry mirror configured (or asked for directly).
  if (does('mirror') || (does('run') && o.workspace.registry)) {
    const report = await ctx.reporter.group('mirror', () =>
      checkMirrors(
        {
          pairs: mirrorImages(o).map((image) => imagePair(image, o.workspace.registry, o.mirror.upstream, o.origins['run.images'])),
          platforms: o.run.platforms,
          insecure: o.mirror.insecure,
          auth,
          concurrency: o.run.concurrency * 2,
        },
        ctx,
      ),
    );
    result.mirror = report;
    for (const r of mirrorRows(report)) rows.push({ ...r, stage: 'mirror' });
  }

  // Smoke: what validated, with the toolkit and bridge of its architecture.
  if (does('run', 'smoke') && bridgeSource) {
    const targets = o.run.images.flatMap((image) => o.run.platforms.map((platform) => ({ image, platform })));
    const ids = botIdsFor(o.smoke.botId || defaultBotId(), targets.map((t) => ({ image: t.image, arch: t.platform.arch })));
    const bridges = new Map<Arch, { path: string } | { error: unknown; t0: number }>();
    for (const arch of new Set(targets.map((t) => t.platform.arch))) {
      if (toolkitFailed.has(arch)) continue;
      const t0 = performance.now();
      try {
        bridges.set(arch, { path: (await resolveBridge(bridgeSource, arch, ctx)).path });
      } catch (err) {
        // A bridge the user named that is missing or built for another arch is bad input, refused up front.
        if (ctx.signal.aborted || err instanceof InputError) throw err;
        bridges.set(arch, { error: err, t0 });
      }
    }
    const reqs: SmokeRequest[] = [];
    targets.forEach(({ image, platform }, i) => {
      const p = formatPlatform(platform);
      const v = validated.get(key(image, platform));
      const bridge = bridges.get(platform.arch);
      const skip = (why: string) => rows.push({ image, platform: p, stage: 'smoke', status: 'skip', durationMs: 0, checks: [], skipped: why });
      if (toolkitFailed.has(platform.arch)) return skip(`${toolkitFailed.get(platform.arch)} for ${platform.arch}`);
      if (!v) return skip('not validated');
      if (v.status === 'fail') return skip(`validation failed (${failedIds(v.checks)})`);
      if (!bridge) return skip('no bridge');
      if ('error' in bridge) return rows.push(failedRow(image, p, 'smoke', 'smoke.bridge', bridge.error, bridge.t0));
      reqs.push({
        image,
        resolved: v.image.resolved,
        platform,
        bridgePath: bridge.path,
        toolkitDir: toolkitDirs.get(platform.arch)?.dir,
        botId: ids[i]!,
        timeoutSeconds: o.smoke.timeoutSeconds,
        service: o.smoke.service,
        memoh: o.run.memoh,
        backend: o.workspace.backend,
        bridgeTls: o.bridgeTls,
        imageHint: v.eraHint,
        tz: process.env.TZ,
        userChecks,
        libc: v.libc,
        keep: o.smoke.keep,
      });
    });
    const reports = await ctx.reporter.group('smoke', () => smokeMany(reqs, o.run.concurrency, ctx));
    result.smoke = reports;
    for (const r of reports) {
      const { image, platform, status, durationMs, checks, failureContext } = r;
      rows.push({ image, platform, stage: 'smoke', status, durationMs, checks, ...(failureContext ? { failureContext } : {}) });
      if (r.service) facts[`bridge ${r.image} ${r.platform}`] = `answered as ${r.service}.ContainerService`;
      if (r.kept) facts[`kept ${r.image} ${r.platform}`] = `${r.kept.containerName}, socket ${r.kept.socketPath}; remove with: ${r.kept.removeCommand}`;
    }
  }

  const report = finishReport(
    { tool: { name: 'memoh-workspace', version: VERSION }, mode, startedAt: new Date(Date.now() - (performance.now() - started)).toISOString(), failOn: o.run.failOn, rows: order(rows, o), facts },
    started,
  );
  return { report, ...result };
}

/** Rows in a stable order: toolkit first, then per image and platform as configured, stages in pipeline order. */
function order(rows: StageRow[], o: Options): StageRow[] {
  const stages = ['toolkit', 'validate', 'mirror', 'smoke'];
  const images = [TOOLKIT_ROW, ...o.run.images];
  const rank = (r: StageRow) => [images.indexOf(r.image), r.platform === 'all' ? '' : r.platform, stages.indexOf(r.stage)] as const;
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

function failedRow(image: string, platform: string, stage: StageRow['stage'], id: string, err: unknown, t0: number): StageRow {
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
