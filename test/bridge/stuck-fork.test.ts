import { afterAll, describe, expect, it } from 'vitest';
import { PROBE_TEMPLATE, runSmokeSuite } from '../../src/bridge/index.js';
import { reaperVerdict } from '../../src/bridge/suite-exec.js';
import { V3_RULES, V018_RULES } from '../support/eras.js';
import { ctx, startWorkspaceStandin, table, type WorkspaceStandin } from './fixture.js';

/**
 * Under qemu-user (bookworm's 7.2) a child forked by the multi-threaded bridge now and then deadlocks inside
 * the emulator before exec: a copy of the bridge holding the pipes of every Exec in flight, which then never
 * end (contract §3.11), and a v3 bridge's graceful stop waits for them (§1 step 8). The race check finds
 * such a copy, kills it, and names it. The stand-in's `exec-fork-stuck` break makes the same copy natively.
 */
const v3 = V3_RULES;
const v018 = V018_RULES;

describe('race verdict with a stuck fork', () => {
  const codes = [3, undefined, -1, undefined, 3];
  it('under emulation: a warning naming the copy and the emulator, the -1s as the known race', () => {
    const v = reaperVerdict(codes, 3, 32, 10_000, v3, { pids: [412], emulated: true });
    expect(v.status).toBe('warn');
    expect(v.detail).toBe(
      '2/5 Execs of "exit 3" got no EXIT within 10 s at 32 in parallel (10.0 s): the bridge\'s forked child 412 never reached exec and held ' +
        'their output pipes (killed): a fork deadlock of qemu-user emulation; 1 reported -1 (the PID-1 reaper race of v3 bridges (contract §5 item 41))',
    );
  });
  it('under emulation with v0.18: still a failure when a -1 shows too (nothing to race with)', () => {
    expect(reaperVerdict(codes, 3, 32, 10_000, v018, { pids: [412], emulated: true }).status).toBe('fail');
    expect(reaperVerdict([3, undefined], 3, 32, 10_000, v018, { pids: [412], emulated: true }).status).toBe('warn');
  });
  it('natively: a failure that names the copy', () => {
    const v = reaperVerdict([3, undefined], 3, 32, 10_000, v3, { pids: [7, 9], emulated: false });
    expect(v).toMatchObject({
      status: 'fail',
      detail: expect.stringMatching(/forked child 7, 9 never reached exec and held their output pipes \(killed\)$/),
    });
  });
  it('without a stuck copy, an Exec without EXIT stays a plain failure', () => {
    expect(reaperVerdict([3, undefined], 3, 32, 10_000, v3)).toMatchObject({
      status: 'fail',
      detail: '1/2 Execs of "exit 3" reported no EXIT within 10 s at 32 in parallel (10.0 s)',
    });
  });
});

describe('a stand-in whose fork gets stuck (exec-fork-stuck), in a real workspace', () => {
  let ws: WorkspaceStandin | undefined;
  afterAll(async () => ws?.remove());

  it('the race check finds the copy and kills it, so the bridge still stops gracefully on SIGTERM', {
    timeout: 120_000,
  }, async () => {
    ws = await startWorkspaceStandin({ era: 'v3', breaks: ['exec-fork-stuck'] });
    const checks = await runSmokeSuite(
      ws.connection,
      { era: 'v3', libc: 'glibc', probeTemplate: PROBE_TEMPLATE },
      { stopWorkspace: () => ws!.stop() },
      ctx(),
      { only: ['exec.reaper-race', 'lifecycle.sigterm'] },
    );
    const by = Object.fromEntries(checks.map((c) => [c.id, c]));
    expect(by['exec.reaper-race'], table(checks)).toMatchObject({
      status: 'fail',
      detail: expect.stringMatching(
        /^\d+\/\d+ Execs of "exit 3" got no EXIT within 10 s .*: the bridge's forked child \d+ never reached exec and held their output pipes \(killed\)$/,
      ),
    });
    // Without the kill the graceful stop would wait for the held Execs until Memoh's SIGKILL (exit 137).
    expect(by['lifecycle.sigterm'], table(checks)).toMatchObject({
      status: 'pass',
      detail: expect.stringMatching(/^exit 0 after \d\.\d s/),
    });
    expect(await ws.logs()).toMatch(/exec-fork-stuck: a copy of the bridge that never reaches exec/);
  });
});
