import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { formatReports } from '../../src/cli/commands/smoke.js';
import { platformOf } from '../../src/core/platform.js';
import { type SmokeRequest, smokeMany, smokeOne } from '../../src/workspace/index.js';
import { testContext } from '../support/context.js';
import { guardedFile } from '../support/leaks.js';
import { IMAGES } from '../world/images.js';
import { standinBridge } from '../world/paths.js';

const { prefix } = guardedFile('smoke-one', 'onetest');

const request = (over: Partial<SmokeRequest>): SmokeRequest => ({
  image: IMAGES.debianAmd64,
  resolved: `docker.io/${IMAGES.debianAmd64}`,
  platform: platformOf('amd64'),
  bridgePath: standinBridge('amd64'),
  botId: `${prefix}-${randomBytes(2).toString('hex')}`,
  timeoutSeconds: 4,
  service: 'auto',
  memoh: 'auto',
  backend: 'containerd',
  keep: false,
  ...over,
});

describe('smokeOne', () => {
  it('a bridge that never listens fails readiness; the report carries state, exit code and the last log lines', async () => {
    const ctx = testContext();
    const report = await smokeOne(request({ extraRuntimeFiles: { 'standin-break': 'no-listen' } }), ctx);
    expect(report.status).toBe('fail');
    expect(report.service).toBeNull();
    expect(report.checks).toHaveLength(1);
    expect(report.checks[0]).toMatchObject({ id: 'workspace.ready', status: 'fail' });
    expect(report.checks[0]!.detail).toMatch(/did not answer within 4 s/);
    expect(report.failureContext?.state).toBe('running');
    expect(report.failureContext?.logs.join('\n')).toMatch(/STANDIN_BREAK=no-listen: deliberately NOT listening/);
    expect(report.failureContext!.logs.length).toBeLessThanOrEqual(50);
    // Serialisable as it is: the report stage gets JSON.
    expect(JSON.parse(JSON.stringify(report))).toEqual(report);
    const text = formatReports([report]);
    expect(text).toMatch(/FAIL {2}memoh-test\/debian:amd64 linux\/amd64/);
    expect(text).toMatch(/container: running; last \d+ log lines:\n {4}\| .*INFO|WARN|ERROR/);
    expect(text).toMatch(/\| .*deliberately NOT listening/);
    expect(ctx.ledger.entries()).toEqual([]);
  });

  it('an image missing from the engine is a failed start, not a crash', async () => {
    const ctx = testContext();
    const report = await smokeOne(request({ image: 'nope', resolved: `docker.io/memoh-test/none-${prefix}:x` }), ctx);
    expect(report.checks[0]).toMatchObject({ id: 'workspace.start', status: 'fail' });
    expect(report.checks[0]!.detail).toMatch(/is not in the engine/);
    expect(report.checks[0]!.fix).toMatch(/docker pull --platform linux\/amd64/);
    expect(ctx.ledger.entries()).toEqual([]);
  });

  it('starts nothing once the run is interrupted', async () => {
    const ctx = testContext();
    ctx.abort.abort(new Error('interrupted by SIGINT'));
    const report = await smokeOne(request({}), ctx);
    expect(report.checks).toEqual([
      { id: 'workspace.interrupted', status: 'skip', detail: 'not started: interrupted by SIGINT' },
    ]);
    expect(ctx.ledger.entries()).toEqual([]);
  });

  it('runs several at once, bounded, each in its own workspace', { timeout: 120_000 }, async () => {
    const ctx = testContext();
    const breakFile = { 'standin-break': 'no-listen' };
    const reqs = [1, 2, 3].map((i) =>
      request({ botId: `${prefix}-m${i}`, extraRuntimeFiles: breakFile, timeoutSeconds: 2 }),
    );
    const t0 = performance.now();
    const reports = await smokeMany(reqs, 3, ctx);
    const ms = performance.now() - t0;
    expect(reports.map((r) => r.botId)).toEqual(reqs.map((r) => r.botId));
    for (const r of reports) expect(r.failureContext?.logs.join('\n')).toMatch(/deliberately NOT listening/);
    // Three 2-second readiness waits in parallel, not in a row.
    expect(ms).toBeLessThan(5500);
    expect(ctx.ledger.entries()).toEqual([]);
  });
});
