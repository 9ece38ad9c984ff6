import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type Dockerode from 'dockerode';
import { type BridgeConnection, BridgeNotReady, connectBridge } from '../bridge/index.js';
import type { StageContext } from '../core/context.js';
import { docker } from '../core/docker.js';
import { StageError, errorMessage } from '../core/errors.js';
import { type LedgerEntry, engineUnreachable } from '../core/ledger.js';
import type { Platform } from '../core/platform.js';
import { ledgeredTempDir, populateRuntimeDir, prepareSocketDir } from './dirs.js';
import { containerRunning, firstRpc, socketExists, waitFor } from './readiness.js';
import { SOCKET_FILE, containerName, createRequest, workspaceSpec } from './spec.js';

export type Service = 'auto' | 'mcpcontainer' | 'bridgepb';

export interface WorkspaceRequest {
  /** Resolved image reference, present in the engine. */
  image: string;
  platform: Platform;
  /** A bridge binary on the host, already checked to be an ELF for `platform`. */
  bridgePath: string;
  toolkitDir?: string | undefined;
  botId: string;
  /** How long the bridge has to answer its first RPC. */
  timeoutSeconds: number;
  service: Service;
  /** Passed on as TZ only when set (the CLI passes the host's TZ, as Memoh passes its server's). */
  tz?: string | undefined;
  /** Template files for `templates/` (the bridge seeds them into /data). */
  templates?: readonly { name: string; content: string }[] | undefined;
  /** Extra files next to the bridge in the runtime dir (the stand-in's `standin-break`). */
  extraRuntimeFiles?: Readonly<Record<string, string>> | undefined;
  /** Leave container and dirs in place on failure too (the caller prints how to remove them). */
  keep: boolean;
}

export interface StopResult {
  exitCode: number;
  ms: number;
  socketGone: boolean;
}

/** What the user needs to see when a workspace never became ready or stopped badly. */
export interface FailureContext {
  state: string;
  exitCode: number | null;
  logs: string[];
}

export interface Workspace {
  botId: string;
  containerName: string;
  containerId: string;
  runtimeDir: string;
  socketDir: string;
  socketPath: string;
  connection: BridgeConnection;
  /** Container started → first RPC answered. */
  readyMs: number;
  /** Where the start went: runtime + socket dir, create, start, readiness. */
  timings: { prepareMs: number; createMs: number; startMs: number; readyMs: number };
  /** SIGTERM, then up to 10 s for the bridge to exit; longer is measured and reported, then SIGKILL. */
  stop(): Promise<StopResult>;
  logs(n?: number): Promise<string[]>;
  failureContext(): Promise<FailureContext>;
  /** Closes the connection, removes the container, the socket dir and the runtime dir. Never throws. */
  remove(): Promise<string[]>;
}

/** Readiness (or start) failed; the workspace was already removed unless `keep`. */
export class WorkspaceStartError extends StageError {
  constructor(
    message: string,
    readonly phase: 'prepare' | 'create' | 'start' | 'ready',
    readonly context?: FailureContext,
    fix?: string,
    readonly nameTaken = false,
  ) {
    super(message, fix);
  }
}

export const STOP_GRACE_MS = 10_000;
export const LOG_TAIL = 50;

/**
 * Starts one workspace exactly as Memoh does and waits until its bridge answers. Everything it
 * creates is in `ctx.ledger` from the moment it exists.
 */
export async function startWorkspace(req: WorkspaceRequest, ctx: StageContext): Promise<Workspace> {
  const t0 = performance.now();
  const marks: number[] = [];
  const entries: { entry: LedgerEntry; forget: () => void }[] = [];
  let container: Dockerode.Container | undefined;
  let connection: BridgeConnection | undefined;
  const name = containerName(req.botId);

  const remove = async (): Promise<string[]> => {
    const errors: string[] = [];
    connection?.close();
    for (const { entry, forget } of [...entries].reverse()) {
      try {
        await ctx.ledger.release(entry);
      } catch (err) {
        errors.push(errorMessage(err));
        forget();
      }
    }
    entries.length = 0;
    return errors;
  };
  const track = (entry: LedgerEntry) => entries.push({ entry, forget: ctx.ledger.add(entry) });
  const fail = async (err: WorkspaceStartError): Promise<never> => {
    if (!req.keep) await remove();
    throw err;
  };

  let runtimeDir: string;
  let socketDir: string;
  try {
    const rt = await ledgeredTempDir(ctx.ledger, 'memoh-runtime-', 'runtime-dir');
    entries.push(rt);
    runtimeDir = rt.path;
    const sd = await ledgeredTempDir(ctx.ledger, 'memoh-run-', 'socket-dir');
    entries.push(sd);
    socketDir = sd.path;
    await prepareSocketDir(socketDir);
    await populateRuntimeDir(runtimeDir, {
      bridgePath: req.bridgePath,
      toolkit: Boolean(req.toolkitDir),
      templates: req.templates,
      extraFiles: req.extraRuntimeFiles,
    });
  } catch (err) {
    return fail(new WorkspaceStartError(`preparing the runtime dir failed: ${errorMessage(err)}`, 'prepare'));
  }
  const socketPath = join(socketDir, SOCKET_FILE);

  const spec = workspaceSpec({
    botId: req.botId,
    image: req.image,
    platform: req.platform,
    runtimeDir,
    socketDir,
    toolkitDir: req.toolkitDir ? resolve(req.toolkitDir) : undefined,
    tz: req.tz,
    localtime: (await exists('/etc/localtime')) ? '/etc/localtime' : undefined,
  });
  marks.push(performance.now());
  // In the ledger by name before the engine is asked: an interrupt during the create cannot leak it.
  track({ kind: 'container', id: name, name });
  try {
    container = await docker().createContainer(createRequest(spec));
  } catch (err) {
    const e = createError(err, req, name);
    // A name clash means the container is someone else's: never remove it.
    if (e.nameTaken) entries.pop()?.forget();
    return fail(e);
  }

  marks.push(performance.now());
  try {
    await container.start();
  } catch (err) {
    return fail(new WorkspaceStartError(`starting ${name} failed: ${errorMessage(err)}`, 'start', await describeFailure(container)));
  }

  const started = performance.now();
  marks.push(started);
  const c = container;
  const outcome = await waitFor(
    [
      containerRunning(c),
      socketExists(socketPath),
      firstRpc(
        (deadlineMs) => connectBridge(socketPath, { service: req.service, deadlineMs }),
        (err) => err instanceof BridgeNotReady,
      ),
    ],
    { timeoutMs: req.timeoutSeconds * 1000, signal: ctx.signal, initialDelayMs: 50, maxDelayMs: 1000 },
  );
  if (!outcome.ready) {
    const why =
      outcome.why === 'timeout'
        ? `the bridge did not answer within ${req.timeoutSeconds} s (${outcome.probe}: ${outcome.reason})`
        : outcome.why === 'aborted'
          ? `interrupted while waiting for the bridge (${outcome.probe}: ${outcome.reason})`
          : `the bridge cannot become ready: ${outcome.reason}`;
    return fail(
      new WorkspaceStartError(
        why,
        'ready',
        await describeFailure(c),
        outcome.why === 'timeout' ? 'read the container log below; raise --timeout if the image is slow (e.g. under emulation)' : undefined,
      ),
    );
  }
  connection = outcome.values['first RPC answers'] as BridgeConnection;
  const readyMs = Math.round(performance.now() - started);

  return {
    botId: req.botId,
    containerName: name,
    containerId: c.id,
    runtimeDir,
    socketDir,
    socketPath,
    connection,
    readyMs,
    timings: {
      prepareMs: Math.round(marks[0]! - t0),
      createMs: Math.round(marks[1]! - marks[0]!),
      startMs: Math.round(marks[2]! - marks[1]!),
      readyMs,
    },
    stop: () => stopContainer(c, socketPath, ctx.signal),
    logs: (n = LOG_TAIL) => containerLogs(c, n),
    failureContext: () => describeFailure(c),
    remove,
  };
}

function createError(err: unknown, req: WorkspaceRequest, name: string): WorkspaceStartError {
  const msg = errorMessage(err);
  const code = (err as { statusCode?: number }).statusCode;
  if (code === 409) {
    return new WorkspaceStartError(`a container named ${name} already exists`, 'create', undefined, `remove it (docker rm -f ${name}) or choose another --bot-id`, true);
  }
  if (code === 404 && /platform/i.test(msg)) {
    return new WorkspaceStartError(`${req.image} has no variant for the requested platform: ${msg}`, 'create', undefined, 'pull the image for that platform, or choose a --platform the image provides');
  }
  if (code === 404) {
    return new WorkspaceStartError(`image ${req.image} is not in the engine: ${msg}`, 'create', undefined, `pull it first (docker pull --platform ${req.platform.os}/${req.platform.arch} ${req.image})`);
  }
  return new WorkspaceStartError(`creating ${name} failed: ${msg}`, 'create');
}

async function stopContainer(c: Dockerode.Container, socketPath: string, signal: AbortSignal): Promise<StopResult> {
  const start = performance.now();
  const grace = AbortSignal.any([signal, AbortSignal.timeout(STOP_GRACE_MS)]);
  const exited = c.wait({ condition: 'not-running', abortSignal: grace }).then(
    (r: { StatusCode: number }) => r.StatusCode,
    () => null,
  );
  await c.kill({ signal: 'SIGTERM' }).catch((err: { statusCode?: number }) => {
    // 409: not running any more; the wait below settles at once.
    if (err.statusCode !== 409) throw err;
  });
  let exitCode = await exited;
  const ms = Math.round(performance.now() - start);
  if (exitCode === null) {
    await c.kill({ signal: 'SIGKILL' }).catch(() => undefined);
    exitCode = (await c.inspect().catch(() => undefined))?.State.ExitCode ?? -1;
  }
  return { exitCode, ms, socketGone: !(await exists(socketPath)) };
}

export async function describeFailure(c: Dockerode.Container): Promise<FailureContext> {
  let lost = '';
  const info = await c.inspect().catch((err: unknown) => {
    // "gone" only when the engine says so; an engine that does not answer says nothing about the container.
    if (engineUnreachable(err)) lost = `unknown: the Docker engine does not answer (${errorMessage(err)})`;
    return undefined;
  });
  const state = info ? info.State.Status + (info.State.OOMKilled ? ' (OOM-killed)' : '') : lost || 'gone';
  const exitCode = info && !info.State.Running ? info.State.ExitCode : null;
  const logs = await containerLogs(c, LOG_TAIL).catch((err) => [`(logs unavailable: ${errorMessage(err)})`]);
  return { state, exitCode, logs };
}

export async function containerLogs(c: Dockerode.Container, tail: number): Promise<string[]> {
  const raw = (await c.logs({ stdout: true, stderr: true, tail, follow: false })) as unknown as Buffer;
  return demux(Buffer.isBuffer(raw) ? raw : Buffer.from(String(raw)))
    .split('\n')
    .filter((l, i, all) => l !== '' || i < all.length - 1)
    .slice(-tail);
}

/** Docker's multiplexed log stream (no TTY): 8-byte frame headers [stream,0,0,0,len32be]. */
export function demux(buf: Buffer): string {
  const parts: Buffer[] = [];
  let i = 0;
  while (i + 8 <= buf.length && buf[i]! <= 2 && buf[i + 1] === 0 && buf[i + 2] === 0 && buf[i + 3] === 0) {
    const len = buf.readUInt32BE(i + 4);
    parts.push(buf.subarray(i + 8, i + 8 + len));
    i += 8 + len;
  }
  if (i < buf.length) parts.push(buf.subarray(i));
  return Buffer.concat(parts).toString('utf8');
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
