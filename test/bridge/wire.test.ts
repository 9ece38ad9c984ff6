import { afterAll, describe, expect, it } from 'vitest';
import {
  type BridgeConnection,
  BridgeNotReady,
  connectBridge,
  NoContainerService,
  PROBE_TEMPLATE,
  runSmokeSuite,
  suiteCheckIds,
} from '../../src/bridge/index.js';
import { ctx, type StandinWorkspace, startStandin } from './fixture.js';

const started: StandinWorkspace[] = [];
const open: BridgeConnection[] = [];
async function standin(opts: Parameters<typeof startStandin>[0]): Promise<StandinWorkspace> {
  const ws = await startStandin(opts);
  started.push(ws);
  return ws;
}
async function connect(ws: StandinWorkspace, service: 'auto' | 'mcpcontainer' | 'bridgepb'): Promise<BridgeConnection> {
  const c = await connectBridge(ws.socketPath, { service, deadlineMs: 5000 });
  open.push(c);
  return c;
}

afterAll(async () => {
  for (const c of open) c.close();
  await Promise.all(started.map((ws) => ws.remove()));
});

describe('wire-name detection', () => {
  it('a default stand-in (both names) is detected as mcpcontainer; forcing bridgepb works too', async () => {
    const ws = await standin({});
    expect((await connect(ws, 'auto')).service).toBe('mcpcontainer');
    const forced = await connect(ws, 'bridgepb');
    expect(forced.service).toBe('bridgepb');
    expect((await forced.client.stat('/')).isDir).toBe(true);
  });

  it('wire-bridgepb-only: auto finds bridgepb; forcing mcpcontainer is NoContainerService', async () => {
    const ws = await standin({ breaks: ['wire-bridgepb-only'] });
    const auto = await connect(ws, 'auto');
    expect(auto.service).toBe('bridgepb');
    expect((await auto.client.listDir('/')).some((e) => e.path === 'data')).toBe(true);
    const err = await connectBridge(ws.socketPath, { service: 'mcpcontainer', deadlineMs: 5000 }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(NoContainerService);
    expect((err as NoContainerService).tried).toEqual(['mcpcontainer']);
    expect((err as Error).message).toMatch(
      /mcpcontainer\.ContainerService gave UNIMPLEMENTED \(forced by --service mcpcontainer/,
    );
  });

  it('wire-none: NoContainerService naming both names tried', async () => {
    const ws = await standin({ breaks: ['wire-none'] });
    const err = await connectBridge(ws.socketPath, { service: 'auto', deadlineMs: 5000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NoContainerService);
    expect((err as NoContainerService).tried).toEqual(['mcpcontainer', 'bridgepb']);
    expect((err as Error).message).toContain(
      'mcpcontainer.ContainerService and bridgepb.ContainerService gave UNIMPLEMENTED',
    );
  });
});

describe('not ready', () => {
  it('no socket file: BridgeNotReady (retryable), at once', async () => {
    const t0 = Date.now();
    const err = await connectBridge('/tmp/memoh-no-such-dir/bridge.sock', { service: 'auto', deadlineMs: 5000 }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(BridgeNotReady);
    expect((err as Error).message).toContain('does not exist yet');
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it('no-listen: the container runs but never makes its socket → BridgeNotReady', async () => {
    const ws = await standin({ breaks: ['no-listen'], env: ['STANDIN_NO_LISTEN_SECONDS=20'], waitForSocket: false });
    await new Promise((r) => setTimeout(r, 1000));
    expect((await ws.container.inspect()).State.Running).toBe(true);
    await expect(connectBridge(ws.socketPath, { service: 'auto', deadlineMs: 2000 })).rejects.toBeInstanceOf(
      BridgeNotReady,
    );
  });

  it('a socket file nobody listens on: BridgeNotReady (UNAVAILABLE), not NoContainerService', async () => {
    const ws = await standin({});
    await ws.container.kill({ signal: 'SIGKILL' }); // the socket file stays behind
    const err = await connectBridge(ws.socketPath, { service: 'auto', deadlineMs: 2000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BridgeNotReady);
    expect((err as Error).message).toMatch(/UNAVAILABLE/);
  });
});

describe('a bridge that dies mid-suite (STANDIN_CRASH_AFTER)', () => {
  it('every check still gets a result, quickly, and the ones after the crash say UNAVAILABLE', async () => {
    const ws = await standin({ env: ['STANDIN_CRASH_AFTER=40'] });
    const conn = await connect(ws, 'auto');
    const t0 = performance.now();
    const checks = await runSmokeSuite(
      conn,
      { libc: 'glibc', probeTemplate: PROBE_TEMPLATE },
      { stopWorkspace: () => ws.stop() },
      ctx(),
    );
    const ms = performance.now() - t0;
    expect(checks.map((c) => c.id)).toEqual(suiteCheckIds());
    const firstFail = checks.findIndex((c) => c.status === 'fail');
    expect(firstFail).toBeGreaterThan(3);
    // Before the crash: passes, and the slow check the suite leaves out unless asked (skip).
    expect(checks.slice(0, firstFail).every((c) => c.status === 'pass' || c.id === 'exec.default-timeout')).toBe(true);
    const after = checks.slice(firstFail).filter((c) => c.status === 'fail');
    expect(after.length).toBeGreaterThan(20);
    for (const c of after.filter((x) => x.id !== 'lifecycle.sigterm'))
      expect(c.detail, c.id).toMatch(/UNAVAILABLE|Connection dropped|ECONNREFUSED/);
    expect(ms).toBeLessThan(30_000);
  });
});
