import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type Dockerode from 'dockerode';
import { type BridgeConnection, PROBE_TEMPLATE } from '../../src/bridge/index.js';
import type { Check } from '../../src/core/check.js';
import { docker } from '../../src/core/docker.js';
import type { Backend, Era } from '../../src/core/era.js';
import { platformOf } from '../../src/core/platform.js';
import { workspaceShape } from '../../src/workspace/spec.js';
import { startWorkspace } from '../../src/workspace/workspace.js';
import { testContext } from '../support/context.js';
import { tempDir } from '../support/tmp.js';
import { IMAGES } from '../world/images.js';
import { standinBridge } from '../world/paths.js';

/**
 * The stand-in bridge in a real container, mounted the way Memoh mounts the real one: runtime dir at
 * /opt/memoh (ro) holding `bridge` and `templates/`, socket dir at /run/memoh (rw), the bridge as the only
 * command (PID 1). This is the test's own small copy of the workspace spec; src/workspace owns the real one.
 */
export interface StandinWorkspace {
  name: string;
  container: Dockerode.Container;
  socketPath: string;
  /** SIGTERM, then wait (SIGKILL after 12 s, like containerd after Memoh's stop timeout). */
  stop(): Promise<{ exitCode: number; ms: number; socketGone: boolean }>;
  logs(): Promise<string>;
  remove(): Promise<void>;
}

export async function startStandin(
  opts: { image?: string; breaks?: string[]; env?: string[]; waitForSocket?: boolean; toolkitDir?: string } = {},
): Promise<StandinWorkspace> {
  const id = randomBytes(4).toString('hex');
  const runtimeDir = tempDir(`bridge-test-rt-${id}`);
  const socketDir = tempDir(`bridge-test-run-${id}`);
  const name = `memoh-bridge-test-${id}`;
  let container: Dockerode.Container | undefined;
  const remove = async (): Promise<void> => {
    if (container) await container.remove({ force: true, v: true }).catch(() => {});
    await rm(runtimeDir, { recursive: true, force: true });
    await rm(socketDir, { recursive: true, force: true });
  };
  try {
    await copyFile(standinBridge('amd64'), join(runtimeDir, 'bridge'));
    await chmod(join(runtimeDir, 'bridge'), 0o755);
    await mkdir(join(runtimeDir, 'templates'));
    await writeFile(join(runtimeDir, 'templates', PROBE_TEMPLATE.name), PROBE_TEMPLATE.content);
    if (opts.toolkitDir) await mkdir(join(runtimeDir, 'toolkit')); // mount point of the toolkit (bound below)
    await chmod(socketDir, 0o750);
    const env = ['BRIDGE_SOCKET_PATH=/run/memoh/bridge.sock', ...(opts.env ?? [])];
    if (opts.breaks?.length) env.push(`STANDIN_BREAK=${opts.breaks.join(',')}`);
    container = await docker().createContainer({
      name,
      Image: opts.image ?? IMAGES.debianAmd64,
      Entrypoint: [''],
      Cmd: ['/opt/memoh/bridge'],
      Env: env,
      Labels: { 'memoh.workspace': 'test' },
      HostConfig: {
        Binds: [
          `${runtimeDir}:/opt/memoh:ro`,
          `${socketDir}:/run/memoh:rw`,
          ...(opts.toolkitDir ? [`${opts.toolkitDir}:/opt/memoh/toolkit:ro`] : []),
        ],
      },
    });
    await container.start();
  } catch (err) {
    await remove();
    throw err;
  }
  const c = container;
  const socketPath = join(socketDir, 'bridge.sock');
  const logs = async (): Promise<string> =>
    (await c.logs({ stdout: true, stderr: true, follow: false })).toString('utf8');
  if (opts.waitForSocket !== false) {
    const deadline = Date.now() + 15_000;
    while (!existsSync(socketPath)) {
      if (Date.now() > deadline) {
        const out = await logs().catch(() => '');
        await remove();
        throw new Error(`stand-in bridge made no socket within 15 s; logs:\n${out}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    name,
    container: c,
    socketPath,
    logs,
    remove,
    async stop() {
      const t0 = performance.now();
      await c.kill({ signal: 'SIGTERM' }).catch(() => {});
      const waited = await Promise.race([
        c.wait().then((r: { StatusCode: number }) => r.StatusCode),
        new Promise<undefined>((r) => setTimeout(r, 12_000)),
      ]);
      let exitCode = waited;
      if (exitCode === undefined) {
        await c.kill({ signal: 'SIGKILL' }).catch(() => {});
        exitCode = (await c.wait()).StatusCode as number;
      }
      return { exitCode, ms: Math.round(performance.now() - t0), socketGone: !existsSync(socketPath) };
    },
  };
}

// The ledger needs the engine to remove what startWorkspace registers: testContext's has it.
export const ctx = () => testContext();

export interface WorkspaceStandin extends StandinWorkspace {
  era: Era;
  /** The connection startWorkspace made (traits read from reflection); closed by remove(). */
  connection: BridgeConnection;
}

/**
 * The stand-in bridge of an era in a workspace started by src/workspace's startWorkspace, exactly as the
 * product starts one (v3: runtime dir with templates/; v0.18: tini, only the bridge file mounted). Breaks go
 * in a `standin-break` file where the stand-in looks for it. (startStandin above stays for the few wire tests
 * that need the stand-in's env knobs, which a Memoh workspace has no way to pass.)
 */
export async function startWorkspaceStandin(
  opts: { era?: Era; backend?: Backend; image?: string; breaks?: string[]; toolkitDir?: string } = {},
): Promise<WorkspaceStandin> {
  const era = opts.era ?? 'v3';
  const c = ctx();
  const ws = await startWorkspace(
    {
      image: opts.image ?? `docker.io/${era === 'v3' ? IMAGES.debianAmd64 : IMAGES.workspaceAmd64}`,
      platform: platformOf('amd64'),
      shape: workspaceShape(era, opts.backend ?? 'containerd'),
      bridgePath: standinBridge('amd64', era),
      toolkitDir: opts.toolkitDir,
      botId: `bridgetest-${randomBytes(4).toString('hex')}`,
      timeoutSeconds: 30,
      service: 'auto',
      templates: era === 'v3' ? [PROBE_TEMPLATE] : undefined,
      extraRuntimeFiles: opts.breaks?.length ? { 'standin-break': `${opts.breaks.join(',')}\n` } : undefined,
      keep: false,
    },
    c,
  );
  return {
    era,
    name: ws.containerName,
    container: docker().getContainer(ws.containerName),
    socketPath: ws.socketPath,
    connection: ws.connection,
    stop: () => ws.stop(),
    logs: async () => (await ws.logs()).join('\n'),
    remove: async () => {
      const errors = await ws.remove();
      if (errors.length > 0) throw new Error(`${ws.containerName} not removed: ${errors.join('; ')}`);
    },
  };
}

/** Checks that cannot pass here without their inputs: no toolkit in these tests, the 31-second exec. */
export const NOT_RUN = ['toolkit.node', 'toolkit.npm', 'toolkit.uv', 'toolkit.musl-selection', 'exec.default-timeout'];

export function table(checks: Check[]): string {
  return checks
    .map((c) => `${c.status.padEnd(4)} ${c.id.padEnd(26)} ${String(c.durationMs).padStart(6)} ms  ${c.detail}`)
    .join('\n');
}
