import { execSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Backend, Era } from '../../src/core/era.js';
import { platformOf } from '../../src/core/platform.js';
import { type SmokeRequest, smokeOne } from '../../src/workspace/smoke.js';
import { testContext } from '../support/context.js';
import { guardedFile } from '../support/leaks.js';
import { IMAGES } from '../world/images.js';
import { standinBridge } from '../world/paths.js';

/**
 * The whole smoke run per era × backend on the real engine: the era is judged before the container exists
 * (image hint, bridge binary), the workspace is built for it, the suite runs with it, and the report names it.
 */
const { prefix } = guardedFile('smoke-era', 'sera');

const request = (era: Era, backend: Backend): SmokeRequest => {
  const v018 = era === 'v0.18';
  const image = v018 ? IMAGES.workspaceAmd64 : IMAGES.debianAmd64;
  return {
    image,
    resolved: `docker.io/${image}`,
    platform: platformOf('amd64'),
    bridgePath: standinBridge('amd64', era),
    botId: `${prefix}-${randomBytes(2).toString('hex')}`,
    timeoutSeconds: 30,
    service: 'auto',
    memoh: 'auto',
    backend,
    // What validation reads from the image: a contract file (v0.18), or none (judged by the bridge).
    imageHint: v018 ? { era: 'v0.18', why: '/opt/memoh/workspace-contract.json has contract_version 2' } : undefined,
    libc: 'glibc',
    keep: false,
  };
};

describe('smokeOne per era and backend', () => {
  // The v3 stand-in reproduces the seed's PID-1 reaper race, which the suite reports as a warning in v3 only.
  for (const [era, backend, by, warned] of [
    ['v0.18', 'containerd', 'image', []],
    ['v0.18', 'docker', 'image', []],
    ['v3', 'containerd', 'bridge', ['exec.reaper-race']],
  ] as const) {
    it(`${era} on ${backend}: judged by the ${by}, built for it, every check passes`, async () => {
      const ctx = testContext();
      const r = await smokeOne(request(era, backend), ctx);
      const failed = r.checks
        .filter(
          (c) =>
            c.status !== 'pass' &&
            c.status !== 'skip' &&
            !(c.status === 'warn' && (warned as readonly string[]).includes(c.id)),
        )
        .map((c) => `${c.id} ${c.status}: ${c.detail}`);
      expect(r.memoh).toMatchObject({ era, by });
      expect(r.backend).toBe(backend);
      expect(r.checks[0]).toMatchObject({
        id: 'workspace.ready',
        status: 'pass',
        detail: expect.stringContaining(`Memoh ${era}, ${backend} backend`),
      });
      expect(r.checks.some((c) => c.id === 'workspace.era')).toBe(false);
      expect(failed).toEqual([]);
      expect(r.checks.length).toBeGreaterThanOrEqual(40);
      expect(ctx.ledger.entries()).toEqual([]);
    }, 120_000);
  }

  it('a bridge the chosen era cannot dial: a bridgepb-only bridge in a v3 workspace fails with the reason', async () => {
    const ctx = testContext();
    const r = await smokeOne(
      { ...request('v3', 'containerd'), memoh: 'v3', extraRuntimeFiles: { 'standin-break': 'wire-bridgepb-only\n' } },
      ctx,
    );
    expect(r.memoh).toMatchObject({ era: 'v3', by: 'option' });
    expect(r.service).toBe('bridgepb');
    expect(r.checks.find((c) => c.id === 'workspace.era')).toMatchObject({
      status: 'fail',
      detail: expect.stringMatching(
        /^Memoh v3 dials mcpcontainer\.ContainerService, but this bridge answers only as bridgepb\.ContainerService/,
      ),
    });
    expect(r.status).toBe('fail');
    expect(ctx.ledger.entries()).toEqual([]);
  }, 120_000);

  it('keep on the docker backend: the kept workspace says where its bridge listens, and one command removes it', async () => {
    const ctx = testContext();
    const r = await smokeOne({ ...request('v0.18', 'docker'), keep: true }, ctx);
    expect(r.kept).toMatchObject({
      containerName: `workspace-${r.botId}`,
      tcp: expect.stringMatching(/^127\.0\.0\.1:\d+$/),
    });
    expect(r.kept?.runtimeDir).toBeUndefined();
    expect(r.kept?.removeCommand).toMatch(/^docker rm -f workspace-\S+ && rm -rf \S+memoh-data-\w+$/);
    const dataRoot = r.kept!.removeCommand.split(' ').at(-1)!;
    expect(r.kept?.socketDir).toBe(`${dataRoot}/run/${r.botId}`);
    execSync(r.kept!.removeCommand, { stdio: 'ignore' });
    expect(existsSync(dataRoot)).toBe(false);
    // Still in the ledger for whoever drains it; with everything gone already, that is quiet.
    expect(ctx.ledger.entries().map((e) => (e.kind === 'path' ? e.what : e.kind))).toEqual(['socket-dir', 'container']);
    expect((await ctx.ledger.drain()).errors).toEqual([]);
  }, 120_000);

  it('a toolkit dir in the v0.18 era is not mounted, and the report says so', async () => {
    const ctx = testContext();
    const r = await smokeOne({ ...request('v0.18', 'containerd'), toolkitDir: '/nonexistent-toolkit' }, ctx);
    expect(r.checks.find((c) => c.id === 'workspace.toolkit')).toMatchObject({
      status: 'warn',
      detail: expect.stringMatching(/not mounted: in Memoh v0\.18 the toolkit comes from the image/),
    });
    expect(ctx.ledger.entries()).toEqual([]);
  }, 120_000);
});
