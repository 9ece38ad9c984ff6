import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { docker } from '../../src/core/docker.js';
import { platformOf } from '../../src/core/platform.js';
import { workspaceShape } from '../../src/workspace/spec.js';
import { startWorkspace, type WorkspaceRequest, WorkspaceStartError } from '../../src/workspace/workspace.js';
import { testContext } from '../support/context.js';
import { guardedFile } from '../support/leaks.js';
import { until } from '../support/wait.js';
import { IMAGES } from '../world/images.js';
import { standinBridge } from '../world/paths.js';

const { tmp, prefix } = guardedFile('workspace', 'wstest');

const request = (over: Partial<WorkspaceRequest> = {}): WorkspaceRequest => ({
  image: `docker.io/${IMAGES.debianAmd64}`,
  platform: platformOf('amd64'),
  shape: workspaceShape('v3', 'containerd'),
  bridgePath: standinBridge('amd64'),
  botId: `${prefix}-${randomBytes(2).toString('hex')}`,
  timeoutSeconds: 30,
  service: 'auto',
  keep: false,
  ...over,
});

describe('startWorkspace', () => {
  it("starts the container with Memoh's spec, answers over the socket, stops on SIGTERM, removes everything", async () => {
    const ctx = testContext();
    const ws = await startWorkspace(
      request({ templates: [{ name: 'PROBE.md', content: 'hi\n' }], tz: 'Europe/Berlin' }),
      ctx,
    );
    try {
      expect(ws.containerName).toBe(`workspace-${ws.botId}`);
      expect(ws.connection.service).toBe('mcpcontainer');
      expect(ws.readyMs).toBeGreaterThan(0);
      // Everything that exists is in the ledger: runtime dir, socket dir, container.
      expect(ctx.ledger.entries().map((e) => (e.kind === 'path' ? e.what : e.kind))).toEqual([
        'runtime-dir',
        'socket-dir',
        'container',
      ]);

      const info = await docker().getContainer(ws.containerId).inspect();
      expect(info.Name).toBe(`/${ws.containerName}`);
      expect(info.Path).toBe('/opt/memoh/bridge');
      expect(info.Args).toEqual([]);
      expect(info.Config.Entrypoint).toBeNull();
      expect(info.Config.Labels).toMatchObject({ 'memoh.bot_id': ws.botId, 'memoh.workspace': 'v3' });
      expect(info.Config.Env).toEqual(
        expect.arrayContaining(['TZ=Europe/Berlin', 'BRIDGE_SOCKET_PATH=/run/memoh/bridge.sock']),
      );
      expect(info.HostConfig.Privileged).toBe(false);
      const mounts = Object.fromEntries(info.Mounts.map((m) => [m.Destination, { src: m.Source, rw: m.RW }]));
      expect(mounts['/opt/memoh']).toEqual({ src: ws.runtimeDir, rw: false });
      expect(mounts['/run/memoh']).toEqual({ src: ws.socketDir, rw: true });

      // Memoh's runtime dir layout; the socket dir is 0750 and holds the bridge's socket.
      const runtimeDir = ws.runtimeDir!;
      expect(readdirSync(runtimeDir).sort()).toEqual(['bridge', 'templates']);
      expect(statSync(join(runtimeDir, 'bridge')).mode & 0o777).toBe(0o755);
      expect(readFileSync(join(runtimeDir, 'templates/PROBE.md'), 'utf8')).toBe('hi\n');
      expect(statSync(ws.socketDir).mode & 0o777).toBe(0o750);
      expect(ws.socketPath).toBe(join(ws.socketDir, 'bridge.sock'));
      expect(statSync(ws.socketPath).isSocket()).toBe(true);

      // The bridge is PID 1 and took the template from the read-only runtime mount.
      const top = execFileSync('docker', ['exec', ws.containerName, 'cat', '/proc/1/cmdline', '/data/PROBE.md'], {
        encoding: 'utf8',
      });
      expect(top).toBe('/opt/memoh/bridge\0hi\n');
      const st = await ws.connection.client.stat('/');
      expect(st.isDir).toBe(true);

      const stop = await ws.stop();
      expect(stop.exitCode).toBe(0);
      expect(stop.ms).toBeLessThan(10_000);
      expect(stop.socketGone).toBe(true);
      expect((await ws.logs()).join('\n')).toMatch(/bridge listening/);
    } finally {
      expect(await ws.remove()).toEqual([]);
    }
    expect(ctx.ledger.entries()).toEqual([]);
    expect(existsSync(ws.runtimeDir!) || existsSync(ws.socketDir)).toBe(false);
    await expect(docker().getContainer(ws.containerId).inspect()).rejects.toMatchObject({ statusCode: 404 });
  });

  it('shows the toolkit at /opt/memoh/toolkit, read-only, without copying it', async () => {
    const tk = join(tmp.dir, 'tk');
    execFileSync('sh', [
      '-c',
      `mkdir -p ${tk}/bin ${tk}/node-glibc/bin && printf '#!/bin/sh\\necho wrapped\\n' > ${tk}/bin/node && chmod 755 ${tk}/bin/node && ln -s ../../bin/node ${tk}/node-glibc/bin/node && echo '{}' > ${tk}/toolkit.json`,
    ]);
    const ctx = testContext();
    const ws = await startWorkspace(request({ toolkitDir: tk }), ctx);
    try {
      // The runtime dir holds only the mount point; the toolkit is not copied per workspace.
      expect(readdirSync(ws.runtimeDir!).sort()).toEqual(['bridge', 'toolkit']);
      expect(readdirSync(join(ws.runtimeDir!, 'toolkit'))).toEqual([]);
      const sh = (cmd: string) =>
        execFileSync('docker', ['exec', ws.containerName, 'sh', '-c', cmd], { encoding: 'utf8' });
      expect(sh('/opt/memoh/toolkit/node-glibc/bin/node; ls /opt/memoh/toolkit')).toBe(
        'wrapped\nbin\nnode-glibc\ntoolkit.json\n',
      );
      expect(sh('touch /opt/memoh/toolkit/x 2>&1 || true')).toMatch(/Read-only file system/);
    } finally {
      await ws.remove();
    }
    expect(existsSync(join(tk, 'bin/node'))).toBe(true);
    execFileSync('rm', ['-rf', tk]);
  });

  it('neutralises the image entrypoint; a bridge that exits is reported at once with state, exit code and logs', async () => {
    // entrypoint-user: ENTRYPOINT /usr/bin/false, USER 1000. The bridge runs (not false), but as uid 1000 it
    // cannot create its socket in the 0750 root-owned socket dir: exactly what Memoh would see.
    const ctx = testContext();
    const t0 = performance.now();
    const err = await startWorkspace(
      request({ image: `docker.io/${IMAGES.entrypointUserAmd64}`, timeoutSeconds: 60 }),
      ctx,
    ).catch((e: unknown) => e);
    const ms = performance.now() - t0;
    expect(err).toBeInstanceOf(WorkspaceStartError);
    const e = err as WorkspaceStartError;
    expect(e.phase).toBe('ready');
    expect(e.message).toMatch(/the bridge cannot become ready: the container is exited with exit code 0/);
    expect(e.context?.state).toBe('exited');
    expect(e.context?.exitCode).toBe(0);
    expect(e.context?.logs.join('\n')).toMatch(/failed to listen.*permission denied/);
    expect(ms).toBeLessThan(20_000);
    expect(ctx.ledger.entries()).toEqual([]);
  });

  it('a bridge that never listens fails readiness at the timeout, with the container still running and its logs', async () => {
    const ctx = testContext();
    const t0 = performance.now();
    const err = await startWorkspace(
      request({ extraRuntimeFiles: { 'standin-break': 'no-listen\n' }, timeoutSeconds: 3 }),
      ctx,
    ).catch((e: unknown) => e);
    const ms = performance.now() - t0;
    expect(err).toBeInstanceOf(WorkspaceStartError);
    const e = err as WorkspaceStartError;
    expect(e.message).toMatch(/did not answer within 3 s \(socket exists: no socket at .*bridge\.sock yet\)/);
    expect(e.fix).toMatch(/--timeout/);
    expect(e.context?.state).toBe('running');
    expect(e.context?.exitCode).toBeNull();
    expect(e.context?.logs.join('\n')).toMatch(/deliberately NOT listening/);
    expect(ms).toBeGreaterThanOrEqual(3000);
    expect(ms).toBeLessThan(15_000);
    expect(ctx.ledger.entries()).toEqual([]);
  });

  it('an abort while waiting stops at once and removes everything', async () => {
    const ctx = testContext();
    const p = startWorkspace(
      request({ extraRuntimeFiles: { 'standin-break': 'no-listen' }, timeoutSeconds: 60 }),
      ctx,
    ).catch((e: unknown) => e);
    // Abort once the container exists (it is in the ledger).
    await until('the container in the ledger', 20_000, () => ctx.ledger.entries().some((e) => e.kind === 'container'));
    await new Promise((r) => setTimeout(r, 500));
    const t0 = performance.now();
    ctx.abort.abort(new Error('test abort'));
    const err = await p;
    expect(performance.now() - t0).toBeLessThan(5000);
    expect((err as Error).message).toMatch(/interrupted while waiting for the bridge/);
    expect(ctx.ledger.entries()).toEqual([]);
  });

  it('keep: leaves container and dirs after a failure, registered in the ledger for whoever drains it', async () => {
    const ctx = testContext();
    const err = await startWorkspace(
      request({ extraRuntimeFiles: { 'standin-break': 'no-listen' }, timeoutSeconds: 1, keep: true }),
      ctx,
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkspaceStartError);
    const kinds = ctx.ledger.entries().map((e) => (e.kind === 'path' ? e.what : e.kind));
    expect(kinds).toEqual(['runtime-dir', 'socket-dir', 'container']);
    const { errors } = await ctx.ledger.drain();
    expect(errors).toEqual([]);
  });

  it('refuses a taken name without touching the other container', async () => {
    const ctx = testContext();
    const req = request();
    const first = await startWorkspace(req, ctx);
    try {
      const err = await startWorkspace(req, ctx).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WorkspaceStartError);
      expect((err as Error).message).toMatch(/a container named workspace-.* already exists/);
      expect((await docker().getContainer(first.containerId).inspect()).State.Running).toBe(true);
    } finally {
      await first.remove();
    }
    expect(ctx.ledger.entries()).toEqual([]);
  });
});
