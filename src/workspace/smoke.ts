import { randomBytes } from 'node:crypto';
import pLimit from 'p-limit';
import { bridgeEraHint } from '../bridge/connect.js';
import {
  PROBE_TEMPLATE,
  runSmokeSuite,
  runUserChecks,
  type SuiteExpectations,
  type UserChecks,
  type WireName,
} from '../bridge/index.js';
import { type Check, type Status, worst } from '../core/check.js';
import type { StageContext } from '../core/context.js';
import { docker } from '../core/docker.js';
import {
  type Backend,
  type BridgeTls,
  type EraChoice,
  type EraHints,
  type EraJudgement,
  judgeEra,
} from '../core/era.js';
import { errorMessage } from '../core/errors.js';
import { engineUnreachable } from '../core/ledger.js';
import { type Arch, formatPlatform } from '../core/platform.js';
import { TOOLKIT_IN_CONTAINER } from '../era/index.js';
import { LOADERS } from '../image/facts.js';
import type { Libc } from '../image/types.js';
import { readToolkitManifest } from '../toolkit/manifest.js';
import type { ToolkitManifest } from '../toolkit/types.js';
import { bridgeEraFromBinary } from './bridge-source.js';
import { type WorkspaceShape, workspaceShape } from './spec.js';
import {
  type FailureContext,
  startWorkspace,
  type Workspace,
  type WorkspaceRequest,
  WorkspaceStartError,
} from './workspace.js';

/** A workspace request (the probe template is added here) plus what the checks need. */
export interface SmokeRequest extends Omit<WorkspaceRequest, 'image' | 'templates' | 'shape'> {
  /** The image as the user wrote it (for the report). */
  image: string;
  /** --memoh: the era to build the workspace for, or 'auto' (judged before the container is created). */
  memoh: EraChoice;
  /** --backend: which of Memoh's container backends to reproduce (docker exists in v0.18 only). */
  backend: Backend;
  /** Memoh's [bridge_tls] (strict: mTLS over the docker backend's TCP; v0.18 only). */
  bridgeTls?: BridgeTls | undefined;
  /** What validation read from the image about the era (its contract file, or none). */
  imageHint?: EraHints['image'];
  /** The reference the engine knows it by (Memoh's resolution), already present locally. */
  resolved: string;
  /** Loaded user checks (loadUserChecks), run before the built-in suite (which ends by stopping the workspace). */
  userChecks?: UserChecks | undefined;
  /** The image's C library if validation already found it; otherwise it is read from the container. */
  libc?: Libc | undefined;
}

export interface KeptWorkspace {
  containerName: string;
  socketPath: string;
  /** The docker backend's bridge address on the host (127.0.0.1:<port>). */
  tcp?: string;
  /** v3 only. */
  runtimeDir?: string;
  socketDir: string;
  /** One line that removes everything that was kept. */
  removeCommand: string;
}

/** One image × platform through the bridge: serialisable, consumed by the report stage. */
export interface SmokeReport {
  image: string;
  platform: string;
  botId: string;
  /** The wire name the bridge answered on; null when it never answered. */
  service: WireName | null;
  /** The era the workspace was built and judged by, and why; the report shows it per row (JSON `"memoh": "v0.18"`). */
  memoh: EraJudgement;
  backend: Backend;
  checks: Check[];
  status: Status;
  durationMs: number;
  /** Container start → first RPC answered. */
  readyMs?: number;
  /**
   * Where the time went: runtime and socket dir, container create, start, bridge readiness, the checks
   * (including the SIGTERM stop), removal.
   */
  timings?: {
    prepareMs: number;
    createMs: number;
    startMs: number;
    readyMs: number;
    suiteMs: number;
    cleanupMs: number;
  };
  failureContext?: FailureContext;
  kept?: KeptWorkspace;
}

/**
 * The era, decided once before anything is created (shared/design.md): the user's --memoh, else the image's
 * contract file (validation's hint), else what the bridge binary says about itself.
 */
export async function decideEra(
  req: Pick<SmokeRequest, 'memoh' | 'backend' | 'imageHint' | 'bridgePath'>,
): Promise<{ judgement: EraJudgement; shape: WorkspaceShape }> {
  const choice = req.memoh ?? 'auto';
  const bridge = choice === 'auto' ? await bridgeEraFromBinary(req.bridgePath).catch(() => undefined) : undefined;
  const judgement = judgeEra(choice, { image: req.imageHint, bridge });
  return { judgement, shape: workspaceShape(judgement.era, req.backend ?? 'containerd') };
}

/**
 * Decide the era, start a workspace built for it, run the user's checks and the built-in suite over the
 * bridge (its socket, or TCP on the docker backend), stop it with SIGTERM (unless kept) and remove everything
 * it made, in every outcome.
 */
export async function smokeOne(req: SmokeRequest, ctx: StageContext): Promise<SmokeReport> {
  const started = performance.now();
  // Bad input (a backend the era never had) is refused before anything exists.
  const { judgement, shape } = await decideEra(req);
  const base = {
    image: req.image,
    platform: formatPlatform(req.platform),
    botId: req.botId,
    memoh: judgement,
    backend: shape.backend,
  };
  const finish = (
    r: Omit<SmokeReport, 'image' | 'platform' | 'botId' | 'status' | 'durationMs' | 'memoh' | 'backend'>,
  ): SmokeReport => ({
    ...base,
    ...r,
    status: worst(r.checks.map((c) => c.status)),
    durationMs: Math.round(performance.now() - started),
  });
  // Queued behind the concurrency limit when the run was interrupted: start nothing.
  if (ctx.signal.aborted) return finish({ service: null, checks: [notStartedInterrupted(ctx)] });
  const early = earlyChecks(req, shape);
  const runtimeToolkit = shape.toolkitFrom === 'runtime-dir';
  const toolkit = req.toolkitDir && runtimeToolkit ? (await readToolkitManifest(req.toolkitDir)).manifest : undefined;
  // The seed bridge seeds /data from the runtime dir's templates; from v0.17 the server does it over RPC.
  const templates = shape.mounts.includes('runtime-dir') ? [PROBE_TEMPLATE] : undefined;

  let ws: Workspace;
  try {
    ws = await startWorkspace(
      { ...req, image: req.resolved, shape, templates, toolkitDir: runtimeToolkit ? req.toolkitDir : undefined },
      ctx,
    );
  } catch (err) {
    if (!(err instanceof WorkspaceStartError)) throw err;
    return finish(notStarted(err, early, started));
  }

  const t1 = performance.now();
  const ready: Check = {
    id: 'workspace.ready',
    status: 'pass',
    detail: `${ws.containerName} started (Memoh ${shape.era}, ${shape.backend} backend); the bridge answered on ${ws.connection.service}.ContainerService ${where(ws)} after ${ws.readyMs} ms`,
    durationMs: ws.readyMs,
  };
  const checks: Check[] = [ready, ...early, ...eraAgreement(ws, judgement)];
  const expect = async (): Promise<SuiteExpectations> => suiteExpectations(req, ws, shape, templates, toolkit);
  const failureContext = await runChecksIn(ws, req, expect, checks, ctx);
  const t2 = performance.now();
  const kept = await keepOrRemove(ws, req, checks, ctx);
  return finish({
    service: ws.connection.service,
    checks,
    readyMs: ws.readyMs,
    timings: { ...ws.timings, suiteMs: ms(t2 - t1), cleanupMs: ms(performance.now() - t2) },
    ...(failureContext ? { failureContext } : {}),
    ...(kept ? { kept } : {}),
  });
}

/** A workspace that never started or never answered: the early checks and why, with what the user needs to see. */
function notStarted(
  err: WorkspaceStartError,
  early: Check[],
  started: number,
): Pick<SmokeReport, 'service' | 'checks' | 'failureContext'> {
  const check: Check = {
    id: err.phase === 'ready' ? 'workspace.ready' : 'workspace.start',
    status: 'fail',
    detail: err.message,
    durationMs: Math.round(performance.now() - started),
    ...(err.fix ? { fix: err.fix } : {}),
  };
  return {
    service: null,
    checks: [...early, check],
    ...(err.context ? { failureContext: err.context } : {}),
  };
}

const notStartedInterrupted = (ctx: StageContext): Check => ({
  id: 'workspace.interrupted',
  status: 'skip',
  detail: `not started: ${errorMessage(ctx.signal.reason)}`,
});

/** Said before anything starts: a --toolkit this era does not mount. */
function earlyChecks(req: SmokeRequest, shape: WorkspaceShape): Check[] {
  if (!req.toolkitDir || shape.toolkitFrom === 'runtime-dir') return [];
  return [
    {
      id: 'workspace.toolkit',
      status: 'warn',
      detail: `--toolkit ${req.toolkitDir} not mounted: in Memoh ${shape.era} the toolkit comes from the image (${TOOLKIT_IN_CONTAINER}); a toolkit dir is for the v3 era`,
      fix: 'drop --toolkit, or give --memoh v3 to prove a seed-era workspace with it',
    },
  ];
}

/** What the suite expects of this workspace: its libc (found in it when validation did not say), era, toolkit. */
async function suiteExpectations(
  req: SmokeRequest,
  ws: Workspace,
  shape: WorkspaceShape,
  templates: readonly unknown[] | undefined,
  toolkit: ToolkitManifest | undefined,
): Promise<SuiteExpectations> {
  const libc = req.libc ?? (await detectLibc(ws, req.platform.arch));
  const expect: SuiteExpectations = { libc, era: shape.era, ...(templates ? { probeTemplate: PROBE_TEMPLATE } : {}) };
  if (toolkit) {
    expect.toolkit = {
      nodeVersion: toolkit.node.version,
      npmVersion: toolkit.npm.version,
      uvVersion: toolkit.uv.version,
    };
    if (toolkit.fallback) expect.toolkit.fallback = toolkit.fallback;
  }
  return expect;
}

/**
 * The user's checks, then the suite (which ends by stopping the workspace), appended to `checks`; a workspace
 * that died under them is said once, second. Returns what the user needs to see when something failed.
 */
async function runChecksIn(
  ws: Workspace,
  req: SmokeRequest,
  expectations: () => Promise<SuiteExpectations>,
  checks: Check[],
  ctx: StageContext,
): Promise<FailureContext | undefined> {
  let failureContext: FailureContext | undefined;
  let lost: Lost | undefined;
  let looked = false;
  try {
    const expect = await expectations();
    // User checks run first: the suite ends by stopping the workspace (the SIGTERM check).
    if (req.userChecks)
      checks.push(...(await abortable(runUserChecks(ws.connection, req.userChecks, ctx), ctx.signal)));
    // Looked at just before the suite's own stop: a workspace that died under the checks is the one cause of
    // every failure after it, and the report should say so once instead of leaving it to fifty UNAVAILABLEs.
    const hooks = req.keep
      ? {}
      : {
          stopWorkspace: async () => {
            looked = true;
            lost = await notRunning(ws);
            return ws.stop();
          },
        };
    checks.push(...(await abortable(runSmokeSuite(ws.connection, expect, hooks, ctx), ctx.signal)));
    if (checks.some((c) => c.status === 'fail')) failureContext = await ws.failureContext();
  } catch (err) {
    if (ctx.signal.aborted)
      checks.push({ id: 'workspace.interrupted', status: 'fail', detail: errorMessage(ctx.signal.reason ?? err) });
    else checks.push({ id: 'workspace.suite', status: 'fail', detail: `the suite stopped: ${errorMessage(err)}` });
    failureContext = await ws.failureContext().catch(() => undefined);
  }
  if (!ctx.signal.aborted && checks.some((c) => c.status === 'fail')) {
    // After the suite's stop the container is down by our hand: only look now if the suite never got there.
    if (!looked) lost = await notRunning(ws);
    if (lost) {
      checks.splice(1, 0, {
        id: 'workspace.alive',
        status: 'fail',
        detail: `${lost.why} while the checks ran; the failures after that follow from it`,
        fix: lost.engine
          ? 'check the Docker engine (docker info) and run again'
          : 'read the container log: the bridge (PID 1) crashed or the container was killed',
      });
    }
  }
  return failureContext;
}

/** --keep: the workspace stays, and how to remove it is said; else everything it made is removed. */
async function keepOrRemove(
  ws: Workspace,
  req: SmokeRequest,
  checks: Check[],
  ctx: StageContext,
): Promise<KeptWorkspace | undefined> {
  if (req.keep && !ctx.signal.aborted) {
    ws.connection.close();
    const dirs = ws.dataRoot ? [ws.dataRoot] : [ws.socketDir, ws.runtimeDir ?? ''].filter(Boolean);
    return {
      containerName: ws.containerName,
      socketPath: ws.socketPath,
      ...(ws.target.kind === 'tcp' ? { tcp: `${ws.target.host}:${ws.target.port}` } : {}),
      ...(ws.runtimeDir ? { runtimeDir: ws.runtimeDir } : {}),
      socketDir: ws.socketDir,
      removeCommand: `docker rm -f ${ws.containerName} && rm -rf ${dirs.join(' ')}`,
    };
  }
  const errors = await ws.remove();
  if (errors.length)
    checks.push({
      id: 'workspace.cleanup',
      status: 'warn',
      detail: errors.join('; '),
      fix: 'remove the leftovers by hand',
    });
  return undefined;
}

/** Several images × platforms, at most `concurrency` workspaces at once; results in request order. */
export async function smokeMany(
  reqs: readonly SmokeRequest[],
  concurrency: number,
  ctx: StageContext,
): Promise<SmokeReport[]> {
  // Every era and backend is judged before the first workspace starts: bad input stops the run with nothing to undo.
  await Promise.all(reqs.map((r) => decideEra(r)));
  const limit = pLimit(Math.max(1, concurrency));
  return Promise.all(reqs.map((r) => limit(() => smokeOne(r, ctx))));
}

/** `smoke-<8 hex>`, generated once per run. */
export function defaultBotId(): string {
  return `smoke-${randomBytes(4).toString('hex')}`;
}

/**
 * Bot ids for several images × platforms: the base id alone for one, otherwise the base plus a
 * readable, unique suffix (image name, arch), so container names never collide within a run.
 */
export function botIdsFor(base: string, targets: readonly { image: string; arch: Arch }[]): string[] {
  if (targets.length === 1) return [base];
  const used = new Set<string>();
  return targets.map(({ image, arch }) => {
    const name = image.replace(/@.*$/, '').split('/').pop() ?? 'image';
    const slug = (name.includes(arch) ? name : `${name}-${arch}`)
      .replace(/[^A-Za-z0-9_-]+/g, '-')
      .replace(/^-+|-+$/g, '');
    // 60 leaves room for a counter within Memoh's 64.
    const stem = `${base}-${slug}`.slice(0, 60).replace(/-+$/, '');
    let id = stem;
    for (let n = 2; used.has(id); n++) id = `${stem}-${n}`;
    used.add(id);
    return id;
  });
}

/**
 * The image's C library as the toolkit wrappers decide it (a musl loader wins), read through the
 * engine's archive API from the workspace container itself: no extra container, no Exec.
 */
async function detectLibc(ws: Workspace, arch: Arch): Promise<Libc> {
  const c = docker().getContainer(ws.containerId);
  const present = await Promise.all(
    LOADERS.filter((l) => l.arch === arch).map(async (l) => {
      try {
        await c.infoArchive({ path: l.path });
        return l.libc;
      } catch {
        return undefined;
      }
    }),
  );
  if (present.includes('musl')) return 'musl';
  if (present.includes('glibc')) return 'glibc';
  return 'none';
}

function where(ws: Workspace): string {
  const t = ws.target;
  return t.kind === 'unix'
    ? 'over its socket'
    : `over TCP ${t.host}:${t.port}${t.tls?.mode === 'strict' ? ' (strict mTLS)' : ''}`;
}

/**
 * The bridge as it describes itself once connected (wire name and reflection) against the era the workspace
 * was built for. Memoh of each era dials one wire name only (the connection asked under it first), so a
 * bridge that does not answer under it cannot work with that Memoh. How each behaviour is judged for a
 * bridge between the eras is the suite's business (its traits).
 */
export function eraAgreement(ws: Workspace, judged: EraJudgement): Check[] {
  const conn = ws.connection;
  const seen = conn.traits ? bridgeEraHint(conn.traits) : undefined;
  if (conn.service !== ws.shape.wire) {
    return [
      {
        id: 'workspace.era',
        status: 'fail',
        detail: `Memoh ${judged.era} dials ${ws.shape.wire}.ContainerService, but this bridge answers only as ${conn.service}.ContainerService${seen ? ` (${seen.why})` : ''}: it cannot work with a ${judged.era} workspace (era judged by ${judged.by}: ${judged.why})`,
        fix:
          judged.era === 'v0.18'
            ? 'use the bridge of Memoh v0.18 (image:memohai/server:latest), or --memoh v3 for a seed-era setup'
            : 'use a seed-era bridge, or --memoh v0.18 with a v0.18 image',
      },
    ];
  }
  return [];
}

interface Lost {
  why: string;
  /** The engine, not the container, is what went away. */
  engine: boolean;
}

/** Why the workspace container is not running any more; undefined while it runs. */
async function notRunning(ws: Workspace): Promise<Lost | undefined> {
  try {
    const s = (await docker().getContainer(ws.containerId).inspect()).State;
    if (s.Running) return undefined;
    return {
      why: `the workspace container stopped (${s.Status}, exit code ${s.ExitCode}${s.OOMKilled ? ', OOM-killed' : ''})`,
      engine: false,
    };
  } catch (err) {
    const engine = engineUnreachable(err);
    return {
      why: engine
        ? `the Docker engine stopped answering (${errorMessage(err)})`
        : `the workspace container is gone (${errorMessage(err)})`,
      engine,
    };
  }
}

const ms = (x: number): number => Math.round(x);

/** Stops waiting for `p` when the run is interrupted (its RPCs fail anyway once the workspace goes). */
function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
