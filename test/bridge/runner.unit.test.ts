import { describe, expect, it } from 'vitest';
import type { BridgeClient, ExecResult } from '../../src/bridge/client.js';
import { suiteCheckIds } from '../../src/bridge/index.js';
import { type CheckSpec, judgeExec, permissionBits, runChecks } from '../../src/bridge/runner.js';
import { reaperVerdict } from '../../src/bridge/suite-exec.js';
import { CleanupLedger } from '../../src/core/ledger.js';
import { recordingReporter } from '../../src/core/reporter.js';
import { V3_RULES, V018_RULES } from '../support/eras.js';

const result = (exitCode: number | undefined, stdout = '', stderr = ''): ExecResult => ({
  stdout: Buffer.from(stdout),
  stderr: Buffer.from(stderr),
  exitCode,
  messages: [],
  afterExit: 0,
  exitMessages: exitCode === undefined ? 0 : 1,
  ms: 1,
});

describe('the built-in suite', () => {
  it('has at least 20 checks with unique, stable ids', () => {
    const ids = suiteCheckIds();
    expect(ids.length).toBeGreaterThanOrEqual(20);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.every((id) => /^[a-z]+\.[a-z0-9-]+$/.test(id))).toBe(true);
    expect(ids.at(-1)).toBe('lifecycle.sigterm');
  });
});

describe('reaper race verdict', () => {
  const v3 = V3_RULES;
  const v018 = V018_RULES;
  it('all exact → pass', () => {
    expect(reaperVerdict([3, 3, 3, 3], 3, 8, 400, v3)).toEqual({
      status: 'pass',
      detail: '4/4 exact at 8 in parallel (0.4 s)',
    });
  });
  it('only -1s → the named warning with the count where the bridge has its own reaper (v3)', () => {
    const v = reaperVerdict([3, -1, 3, -1, 3, 3, 3, 3], 3, 8, 400, v3);
    expect(v.status).toBe('warn');
    expect(v.detail).toBe(
      '2/8 Execs of "exit 3" (25 %) reported -1 at 8 in parallel (0.4 s): the PID-1 reaper race of v3 bridges (contract §5 item 41)',
    );
  });
  it('only -1s → a failure for a v0.18 bridge (tini reaps; nothing to race with)', () => {
    const v = reaperVerdict([3, -1, 3, 3], 3, 32, 400, v018);
    expect(v.status).toBe('fail');
    expect(v.detail).toMatch(
      /^1\/4 Execs of "exit 3" \(25 %\) reported -1 at 32 in parallel \(0\.4 s\): a v0\.18 bridge has no reaper/,
    );
  });
  it('any other wrong code or a missing EXIT → fail', () => {
    expect(reaperVerdict([3, 0, -1, 3], 3, 2, 100, v3)).toMatchObject({
      status: 'fail',
      detail: '1/4 Execs of "exit 3" reported 0 at 2 in parallel (0.1 s)',
    });
    expect(reaperVerdict([undefined, 3], 3, 2, 100, v3)).toMatchObject({
      status: 'fail',
      detail: '1/2 Execs of "exit 3" reported no EXIT within 10 s at 2 in parallel (0.1 s)',
    });
  });
});

describe('command check judgement', () => {
  const spec = { command: 'x', stdout: [/^ok$/m], notStderr: [/error/], exitCode: 0 };
  it('pass shows what was seen', () => {
    expect(judgeExec(spec, result(0, 'ok\n'))).toEqual({ status: 'pass', detail: 'exit 0, stdout "ok"' });
  });
  it('every broken expectation is named', () => {
    const v = judgeExec(spec, result(2, 'no\n', 'an error\n'));
    expect(v.status).toBe('fail');
    expect(v.detail).toBe(
      'stdout "no\\n" does not match /^ok$/m; stderr "an error\\n" matches /error/; exit code 2, expected 0 (exit 2, stdout "no", stderr "an error")',
    );
  });
  it('-1 with everything else right is the reaper race: a warning, not a failure', () => {
    const v = judgeExec(spec, result(-1, 'ok\n'));
    expect(v.status).toBe('warn');
    expect(v.detail).toMatch(/exit code -1 instead of 0: the PID-1 reaper race/);
  });
  it('no EXIT message fails', () => {
    expect(judgeExec(spec, result(undefined, 'ok\n')).detail).toMatch(/^the call ended without an EXIT message/);
  });
});

describe('Go mode text → permission bits', () => {
  it.each([
    ['-rw-r--r--', 0o644],
    ['drwxr-x---', 0o750],
    ['Lrwxrwxrwx', 0o777],
    ['dtrwxrwxrwx', 0o1777],
    ['urwxr-xr-x', 0o4755],
    ['ugrwxr-xr-x', 0o6755],
    ['Dcrw-rw-rw-', 0o666],
  ])('%s → %o', (mode, bits) => {
    expect(permissionBits(mode)).toBe(bits);
  });
  it('rejects what is not a mode', () => {
    expect(permissionBits('rwx')).toBeUndefined();
  });
});

describe('the runner: waiting checks together, everything else alone', () => {
  // The checks below touch no bridge: a stand-in client that only hands itself out.
  const client = { with: () => client } as unknown as BridgeClient;
  const ctx = { reporter: recordingReporter(), ledger: new CleanupLedger(), signal: new AbortController().signal };
  const gate = () => {
    let open!: () => void;
    const opened = new Promise<void>((r) => (open = r));
    return { open, opened };
  };

  it('runs consecutive waitsOnly checks at once, keeps the order, and starts the next check only after them', async () => {
    const events: string[] = [];
    const a = gate();
    const b = gate();
    // a waits for b to have started and b for a: only concurrency lets both pass before their 2 s limit.
    const waiting = (id: string, mine: ReturnType<typeof gate>, other: ReturnType<typeof gate>): CheckSpec => ({
      kind: 'custom',
      id,
      waitsOnly: true,
      timeoutMs: 2000,
      run: async () => {
        events.push(`${id} start`);
        mine.open();
        await other.opened;
        events.push(`${id} end`);
        return { status: 'pass', detail: id };
      },
    });
    const alone = (id: string): CheckSpec => ({
      kind: 'custom',
      id,
      run: async () => {
        events.push(`${id} start`);
        await new Promise((r) => setTimeout(r, 5));
        events.push(`${id} end`);
        return { status: 'pass', detail: id };
      },
    });
    const checks = await runChecks(
      client,
      [alone('t.first'), waiting('t.a', a, b), waiting('t.b', b, a), alone('t.last')],
      ctx,
      { work: '/data' },
    );
    expect(checks.map((c) => `${c.id} ${c.status}`)).toEqual(['t.first pass', 't.a pass', 't.b pass', 't.last pass']);
    expect(events.slice(0, 2)).toEqual(['t.first start', 't.first end']);
    expect(new Set(events.slice(2, 6))).toEqual(new Set(['t.a start', 't.b start', 't.a end', 't.b end']));
    expect(events.slice(6)).toEqual(['t.last start', 't.last end']);
  });

  it('never runs a check without waitsOnly alongside another', async () => {
    const a = gate();
    const b = gate();
    const spec = (id: string, mine: ReturnType<typeof gate>, other: ReturnType<typeof gate>): CheckSpec => ({
      kind: 'custom',
      id,
      timeoutMs: 300,
      run: async () => {
        mine.open();
        await other.opened;
        return { status: 'pass', detail: id };
      },
    });
    const checks = await runChecks(client, [spec('t.a', a, b), spec('t.b', b, a)], ctx, { work: '/data' });
    // One at a time: t.a waits for a check that has not started, hits its limit; then t.b finds t.a's gate open.
    expect(checks.map((c) => `${c.id} ${c.status}`)).toEqual(['t.a fail', 't.b pass']);
    expect(checks[0]!.detail).toMatch(/did not finish within 0.3 s/);
  });
});
