import { stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type Dockerode from 'dockerode';
import { type BridgeConnection, BridgeNotReady } from '../bridge/index.js';
import type { StageContext } from '../core/context.js';
import { docker } from '../core/docker.js';
import type { BridgeTarget, BridgeTls } from '../core/era.js';
import { errorMessage, StageError } from '../core/errors.js';
import { engineUnreachable, type LedgerEntry } from '../core/ledger.js';
import type { Platform } from '../core/platform.js';
import { dialBridge } from './dial.js';
import {
  hostResolvConf,
  ledgeredTempDir,
  populateRuntimeDir,
  prepareDataRoot,
  prepareSocketDir,
  serverTimezone,
} from './dirs.js';
import { containerRunning, firstRpc, type Probe, socketExists, waitFor } from './readiness.js';
import {
  BRIDGE_TCP_PORT,
  containerName,
  createRequest,
  SOCKET_FILE,
  type SpecInput,
  type WorkspaceShape,
  workspaceSpec,
} from './spec.js';

export type Service = 'auto' | 'mcpcontainer' | 'bridgepb';

export interface WorkspaceRequest {
  /** Resolved image reference, present in the engine. */
  image: string;
  platform: Platform;
  /** The era × backend the container is built for (workspaceShape), decided once by the caller. */
  shape: WorkspaceShape;
  /** Memoh's [bridge_tls]: strict mounts the bridge's certificates and sets BRIDGE_TLS_* (v0.18). */
  bridgeTls?: BridgeTls | undefined;
  /** A bridge binary on the host, already checked to be an ELF for `platform`. */
  bridgePath: string;
  /** v3 only: a toolkit dir seen at /opt/memoh/toolkit (a v0.18 image carries its own). */
  toolkitDir?: string | undefined;
  botId: string;
  /** How long the bridge has to answer its first RPC. */
  timeoutSeconds: number;
  service: Service;
  /** The server process's $TZ (the CLI passes its own); the shape's rule decides what reaches the container. */
  tz?: string | undefined;
  /** v3: template files for `templates/` (the seed bridge seeds them into /data). */
  templates?: readonly { name: string; content: string }[] | undefined;
  /**
   * Extra files for the bridge (the stand-in's `standin-break`): next to it in the v3 runtime dir, in the
   * socket dir (/run/memoh) in v0.18, where only the bridge file is mounted.
   */
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
  shape: WorkspaceShape;
  containerName: string;
  containerId: string;
  /** v3: the runtime dir mounted at /opt/memoh. */
  runtimeDir?: string | undefined;
  /** v0.18: Memoh's data root (run/<botID>/, resolv.conf). */
  dataRoot?: string | undefined;
  socketDir: string;
  /** The socket on the host (the docker backend's bridge listens on TCP and makes none). */
  socketPath: string;
  /** Where the client dialled the bridge. */
  target: BridgeTarget;
  connection: BridgeConnection;
  /** Container started → first RPC answered. */
  readyMs: number;
  /** Where the start went: runtime + socket dir, create, start, readiness. */
  timings: { prepareMs: number; createMs: number; startMs: number; readyMs: number };
  /** SIGTERM, then up to 10 s for the bridge to exit; longer is measured and reported, then SIGKILL. */
  stop(): Promise<StopResult>;
  logs(n?: number): Promise<string[]>;
  failureContext(): Promise<FailureContext>;
  /** Closes the connection, removes the container and every dir made for it. Never throws. */
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

const STOP_GRACE_MS = 10_000;
const LOG_TAIL = 50;

/** Everything one start has made so far, in the ledger, released in reverse on failure (unless kept). */
class Made {
  private readonly entries: { entry: LedgerEntry; forget: () => void }[] = [];
  connection: BridgeConnection | undefined;

  constructor(
    private readonly ctx: StageContext,
    private readonly keep: boolean,
  ) {}

  add(made: { entry: LedgerEntry; forget: () => void }): void {
    this.entries.push(made);
  }

  track(entry: LedgerEntry): void {
    this.entries.push({ entry, forget: this.ctx.ledger.add(entry) });
  }

  /** The last thing tracked is not ours after all (a name clash: someone else's container). */
  disown(): void {
    this.entries.pop()?.forget();
  }

  /** Closes the connection, releases every entry; never throws. */
  remove = async (): Promise<string[]> => {
    const errors: string[] = [];
    this.connection?.close();
    for (const { entry, forget } of [...this.entries].reverse()) {
      try {
        await this.ctx.ledger.release(entry);
      } catch (err) {
        errors.push(errorMessage(err));
        forget();
      }
    }
    this.entries.length = 0;
    return errors;
  };

  async fail(err: WorkspaceStartError): Promise<never> {
    if (!this.keep) await this.remove();
    throw err;
  }
}

/** Host-side paths of one workspace: the era's runtime dir or data root, and the socket dir. */
type HostDirs = Partial<SpecInput> & { dataRoot?: string; socketDir: string };

/**
 * Starts one workspace exactly as Memoh does and waits until its bridge answers. Everything it
 * creates is in `ctx.ledger` from the moment it exists.
 */
export async function startWorkspace(req: WorkspaceRequest, ctx: StageContext): Promise<Workspace> {
  const t0 = performance.now();
  const made = new Made(ctx, req.keep);
  const name = containerName(req.botId);
  const shape = req.shape;
  let host: HostDirs;
  try {
    host = await prepareDirs(req, ctx, made);
  } catch (err) {
    return made.fail(new WorkspaceStartError(`preparing the workspace dirs failed: ${errorMessage(err)}`, 'prepare'));
  }
  const { socketDir } = host;
  const socketPath = join(socketDir, SOCKET_FILE);
  // sun_path holds 107 bytes: Memoh's client could not dial a longer socket path either.
  if (shape.transport === 'unix' && Buffer.byteLength(socketPath) > 107) {
    return made.fail(
      new WorkspaceStartError(
        `the socket path ${socketPath} is longer than a Unix socket allows (107 bytes)`,
        'prepare',
        undefined,
        'use a shorter --bot-id or a shorter TMPDIR',
      ),
    );
  }
  const spec = await specFor(req, host);
  const marks = [performance.now()];
  const c = await createAndStart(req, spec, name, made, marks);
  const started = performance.now();
  marks.push(started);
  const target = await bridgeTarget(c, req, name, socketPath, made);
  const connection = await awaitBridge(c, req, target, socketPath, ctx, made);
  made.connection = connection;
  const readyMs = Math.round(performance.now() - started);

  return {
    botId: req.botId,
    shape,
    containerName: name,
    containerId: c.id,
    runtimeDir: host.runtimeDir,
    dataRoot: host.dataRoot,
    socketDir,
    socketPath,
    target,
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
    remove: made.remove,
  };
}

/** The era's host dirs: v3 a runtime dir and a socket dir; v0.18 a data root holding run/<botID>. */
async function prepareDirs(req: WorkspaceRequest, ctx: StageContext, made: Made): Promise<HostDirs> {
  const shape = req.shape;
  let host: HostDirs;
  if (shape.mounts.includes('runtime-dir')) {
    const rt = await ledgeredTempDir(ctx.ledger, 'memoh-runtime-', 'runtime-dir');
    made.add(rt);
    const sd = await ledgeredTempDir(ctx.ledger, 'memoh-run-', 'socket-dir');
    made.add(sd);
    host = { runtimeDir: rt.path, socketDir: sd.path };
    await prepareSocketDir(sd.path);
    await populateRuntimeDir(rt.path, {
      bridgePath: req.bridgePath,
      toolkit: Boolean(req.toolkitDir),
      templates: req.templates,
      extraFiles: shape.breakSwitchIn === 'runtime-dir' ? req.extraRuntimeFiles : undefined,
    });
  } else {
    const dr = await ledgeredTempDir(ctx.ledger, 'memoh-data-', 'socket-dir');
    made.add(dr);
    host = { dataRoot: dr.path, socketDir: await prepareDataRoot(dr.path, req.botId) };
    if (shape.mounts.includes('resolv-conf')) host.resolvConf = await hostResolvConf(dr.path);
    host.bridgePath = resolve(req.bridgePath);
  }
  if (shape.breakSwitchIn === 'socket-dir') {
    for (const [file, content] of Object.entries(req.extraRuntimeFiles ?? {}))
      await writeFile(join(host.socketDir, file), content, { mode: 0o644 });
  }
  return host;
}

async function specFor(req: WorkspaceRequest, host: HostDirs): Promise<Dockerode.ContainerCreateOptions> {
  const shape = req.shape;
  return workspaceSpec(shape, {
    botId: req.botId,
    image: req.image,
    platform: req.platform,
    runtimeDir: host.runtimeDir,
    bridgePath: host.bridgePath,
    socketDir: host.socketDir,
    resolvConf: host.resolvConf,
    toolkitDir: req.toolkitDir && shape.toolkitFrom === 'runtime-dir' ? resolve(req.toolkitDir) : undefined,
    tz: await serverTimezone(shape.tz, req.tz),
    localtime: shape.mounts.includes('localtime') && (await exists('/etc/localtime')) ? '/etc/localtime' : undefined,
    bridgeTls: shape.tls ? req.bridgeTls : undefined,
  });
}

/** Creates and starts the container; `marks` gets the time the create ended. */
async function createAndStart(
  req: WorkspaceRequest,
  spec: Dockerode.ContainerCreateOptions,
  name: string,
  made: Made,
  marks: number[],
): Promise<Dockerode.Container> {
  // In the ledger by name before the engine is asked: an interrupt during the create cannot leak it.
  made.track({ kind: 'container', id: name, name });
  let container: Dockerode.Container;
  try {
    container = await docker().createContainer(createRequest(spec));
  } catch (err) {
    const e = createError(err, req, name);
    // A name clash means the container is someone else's: never remove it.
    if (e.nameTaken) made.disown();
    return made.fail(e);
  }
  marks.push(performance.now());
  try {
    await container.start();
  } catch (err) {
    return made.fail(
      new WorkspaceStartError(
        `starting ${name} failed: ${errorMessage(err)}`,
        'start',
        await describeFailure(container),
      ),
    );
  }
  return container;
}

/** Where to dial the bridge: its socket, or (docker backend) the host port the engine published. */
async function bridgeTarget(
  c: Dockerode.Container,
  req: WorkspaceRequest,
  name: string,
  socketPath: string,
  made: Made,
): Promise<BridgeTarget> {
  const shape = req.shape;
  if (shape.transport !== 'tcp') return { kind: 'unix', socketPath };
  // The engine binds the host port at start; an empty HostPort asked it to choose one.
  const port = await publishedPort(c);
  if (!port)
    return made.fail(
      new WorkspaceStartError(
        `${name} started without its bridge port ${BRIDGE_TCP_PORT}/tcp published on 127.0.0.1`,
        'start',
        await describeFailure(c),
      ),
    );
  return {
    kind: 'tcp',
    host: '127.0.0.1',
    port,
    tls: shape.tls && req.bridgeTls?.mode === 'strict' ? req.bridgeTls : undefined,
  };
}

/** Waits until the container runs, its socket exists (unix) and the bridge answers its first RPC. */
async function awaitBridge(
  c: Dockerode.Container,
  req: WorkspaceRequest,
  target: BridgeTarget,
  socketPath: string,
  ctx: StageContext,
  made: Made,
): Promise<BridgeConnection> {
  const waits: Probe[] = [containerRunning(c)];
  if (target.kind === 'unix') waits.push(socketExists(socketPath));
  waits.push(
    firstRpc(
      (deadlineMs) => dialBridge(target, { service: req.service, deadlineMs, prefer: req.shape.wire }),
      (err) => err instanceof BridgeNotReady && !tlsRefused(err),
    ),
  );
  const outcome = await waitFor(waits, {
    timeoutMs: req.timeoutSeconds * 1000,
    signal: ctx.signal,
    initialDelayMs: 50,
    maxDelayMs: 1000,
  });
  if (outcome.ready) return outcome.values['first RPC answers'] as BridgeConnection;
  const why =
    outcome.why === 'timeout'
      ? `the bridge did not answer within ${req.timeoutSeconds} s (${outcome.probe}: ${outcome.reason})`
      : outcome.why === 'aborted'
        ? `interrupted while waiting for the bridge (${outcome.probe}: ${outcome.reason})`
        : `the bridge cannot become ready: ${outcome.reason}`;
  return made.fail(
    new WorkspaceStartError(
      why,
      'ready',
      await describeFailure(c),
      outcome.why === 'timeout'
        ? 'read the container log below; raise --timeout if the image is slow (e.g. under emulation)'
        : TLS_REFUSED.test(outcome.reason)
          ? "give the bridge and the client certificates from one cmd/gen-bridge-mtls run, for this instance_id (the bridge wants the client's ClientAuth EKU and URI SAN spiffe://memoh/instance/<id>/server)"
          : undefined,
    ),
  );
}

/** A TLS alert or a certificate the other side refused: no later attempt will do better. */
const TLS_REFUSED = /alert|certificate/i;
const tlsRefused = (err: unknown): boolean => err instanceof Error && TLS_REFUSED.test(err.message);

/** The host port the engine bound to the bridge's 9090/tcp on 127.0.0.1. */
async function publishedPort(c: Dockerode.Container): Promise<number | undefined> {
  const ports = (await c.inspect()).NetworkSettings.Ports as
    | Record<string, { HostIp: string; HostPort: string }[] | null>
    | undefined;
  const hostPort = ports?.[`${BRIDGE_TCP_PORT}/tcp`]?.find((b) => b.HostIp === '127.0.0.1')?.HostPort;
  const port = Number(hostPort);
  return Number.isInteger(port) && port > 0 ? port : undefined;
}

function createError(err: unknown, req: WorkspaceRequest, name: string): WorkspaceStartError {
  const msg = errorMessage(err);
  const code = (err as { statusCode?: number }).statusCode;
  if (code === 409) {
    return new WorkspaceStartError(
      `a container named ${name} already exists`,
      'create',
      undefined,
      `remove it (docker rm -f ${name}) or choose another --bot-id`,
      true,
    );
  }
  if (code === 404 && /platform/i.test(msg)) {
    return new WorkspaceStartError(
      `${req.image} has no variant for the requested platform: ${msg}`,
      'create',
      undefined,
      'pull the image for that platform, or choose a --platform the image provides',
    );
  }
  if (code === 404) {
    return new WorkspaceStartError(
      `image ${req.image} is not in the engine: ${msg}`,
      'create',
      undefined,
      `pull it first (docker pull --platform ${req.platform.os}/${req.platform.arch} ${req.image})`,
    );
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

async function containerLogs(c: Dockerode.Container, tail: number): Promise<string[]> {
  const raw = (await c.logs({ stdout: true, stderr: true, tail, follow: false })) as unknown as Buffer;
  return demux(Buffer.isBuffer(raw) ? raw : Buffer.from(String(raw)))
    .split('\n')
    .filter((l, i, all) => l !== '' || i < all.length - 1)
    .slice(-tail);
}

/** Docker's multiplexed log stream (no TTY): 8-byte frame headers [stream,0,0,0,len32be]. */
function demux(buf: Buffer): string {
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
