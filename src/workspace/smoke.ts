import { randomBytes } from 'node:crypto';
import pLimit from 'p-limit';
import {
  PROBE_TEMPLATE,
  type SuiteExpectations,
  type UserChecks,
  type WireName,
  runSmokeSuite,
  runUserChecks,
} from '../bridge/index.js';
import { type Check, type Status, worst } from '../core/check.js';
import type { StageContext } from '../core/context.js';
import { docker } from '../core/docker.js';
import { errorMessage } from '../core/errors.js';
import { engineUnreachable } from '../core/ledger.js';
import { type Arch, formatPlatform } from '../core/platform.js';
import { LOADERS } from '../image/facts.js';
import type { Libc } from '../image/types.js';
import { readToolkitManifest } from '../toolkit/manifest.js';
import { type FailureContext, type Workspace, type WorkspaceRequest, WorkspaceStartError, startWorkspace } from './workspace.js';

/** A workspace request (the probe template is added here) plus what the checks need. */
export interface SmokeRequest extends Omit<WorkspaceRequest, 'image' | 'templates'> {
  /** The image as the user wrote it (for the report). */
  image: string;
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
  runtimeDir: string;
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
  checks: Check[];
  status: Status;
  durationMs: number;
  /** Container start → first RPC answered. */
  readyMs?: number;
  /**
   * Where the time went: runtime and socket dir, container create, start, bridge readiness, the checks
   * (including the SIGTERM stop), removal.
   */
  timings?: { prepareMs: number; createMs: number; startMs: number; readyMs: number; suiteMs: number; cleanupMs: number };
  failureContext?: FailureContext;
  kept?: KeptWorkspace;
}

/**
 * Start a workspace, run the built-in suite and the user's checks over the socket, stop it with
 * SIGTERM (unless kept) and remove everything it made, in every outcome.
 */
export async function smokeOne(req: SmokeRequest, ctx: StageContext): Promise<SmokeReport> {
  const started = performance.now();
  const base = { image: req.image, platform: formatPlatform(req.platform), botId: req.botId };
  const finish = (r: Omit<SmokeReport, 'image' | 'platform' | 'botId' | 'status' | 'durationMs'>): SmokeReport => ({
    ...base,
    ...r,
    status: worst(r.checks.map((c) => c.status)),
    durationMs: Math.round(performance.now() - started),
  });
  // Queued behind the concurrency limit when the run was interrupted: start nothing.
  if (ctx.signal.aborted) {
    return finish({ service: null, checks: [{ id: 'workspace.interrupted', status: 'skip', detail: `not started: ${errorMessage(ctx.signal.reason)}` }] });
  }
  const toolkit = req.toolkitDir ? (await readToolkitManifest(req.toolkitDir)).manifest : undefined;

  let ws: Workspace;
  try {
    ws = await startWorkspace({ ...req, image: req.resolved, templates: [PROBE_TEMPLATE] }, ctx);
  } catch (err) {
    if (!(err instanceof WorkspaceStartError)) throw err;
    const check: Check = {
      id: err.phase === 'ready' ? 'workspace.ready' : 'workspace.start',
      status: 'fail',
      detail: err.message,
      durationMs: Math.round(performance.now() - started),
      ...(err.fix ? { fix: err.fix } : {}),
    };
    return finish({ service: null, checks: [check], ...(err.context ? { failureContext: err.context } : {}) });
  }

  const t1 = performance.now();
  const checks: Check[] = [
    {
      id: 'workspace.ready',
      status: 'pass',
      detail: `${ws.containerName} started; the bridge answered on ${ws.connection.service}.ContainerService after ${ws.readyMs} ms`,
      durationMs: ws.readyMs,
    },
  ];
  let failureContext: FailureContext | undefined;
  let lost: Lost | undefined;
  let looked = false;
  try {
    const libc = req.libc ?? (await detectLibc(ws, req.platform.arch));
    const expect: SuiteExpectations = { libc, probeTemplate: PROBE_TEMPLATE };
    if (toolkit) {
      expect.toolkit = { nodeVersion: toolkit.node.version, npmVersion: toolkit.npm.version, uvVersion: toolkit.uv.version };
      if (toolkit.fallback) expect.toolkit.fallback = toolkit.fallback;
    }
    // User checks run first: the suite ends by stopping the workspace (the SIGTERM check).
    if (req.userChecks) checks.push(...(await abortable(runUserChecks(ws.connection, req.userChecks, ctx), ctx.signal)));
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
    if (ctx.signal.aborted) checks.push({ id: 'workspace.interrupted', status: 'fail', detail: errorMessage(ctx.signal.reason ?? err) });
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
        fix: lost.engine ? 'check the Docker engine (docker info) and run again' : 'read the container log: the bridge (PID 1) crashed or the container was killed',
      });
    }
  }

  const t2 = performance.now();
  let kept: KeptWorkspace | undefined;
  if (req.keep && !ctx.signal.aborted) {
    ws.connection.close();
    kept = {
      containerName: ws.containerName,
      socketPath: ws.socketPath,
      runtimeDir: ws.runtimeDir,
      socketDir: ws.socketDir,
      removeCommand: `docker rm -f ${ws.containerName} && rm -rf ${ws.socketDir} ${ws.runtimeDir}`,
    };
  } else {
    const errors = await ws.remove();
    if (errors.length) checks.push({ id: 'workspace.cleanup', status: 'warn', detail: errors.join('; '), fix: 'remove the leftovers by hand' });
  }
  return finish({
    service: ws.connection.service,
    checks,
    readyMs: ws.readyMs,
    timings: { ...ws.timings, suiteMs: ms(t2 - t1), cleanupMs: ms(performance.now() - t2) },
    ...(failureContext ? { failureContext } : {}),
    ...(kept ? { kept } : {}),
  });
}

/** Several images × platforms, at most `concurrency` workspaces at once; results in request order. */
export async function smokeMany(reqs: readonly SmokeRequest[], concurrency: number, ctx: StageContext): Promise<SmokeReport[]> {
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
    const slug = (name.includes(arch) ? name : `${name}-${arch}`).replace(/[^A-Za-z0-9_-]+/g, '-').replace(/^-+|-+$/g, '');
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
    return { why: `the workspace container stopped (${s.Status}, exit code ${s.ExitCode}${s.OOMKilled ? ', OOM-killed' : ''})`, engine: false };
  } catch (err) {
    const engine = engineUnreachable(err);
    return { why: engine ? `the Docker engine stopped answering (${errorMessage(err)})` : `the workspace container is gone (${errorMessage(err)})`, engine };
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
