import { describe, expect, it } from 'vitest';
import { suiteCheckIds } from '../../src/bridge/index.js';
import type { ExecResult } from '../../src/bridge/client.js';
import { judgeExec, permissionBits } from '../../src/bridge/runner.js';
import { reaperVerdict } from '../../src/bridge/suite-exec.js';

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
  it('all exact → pass', () => {
    expect(reaperVerdict([3, 3, 3, 3], 3, 8)).toEqual({ status: 'pass', detail: '4/4 exact at 8 in parallel' });
  });
  it('only -1s → the named warning with the count', () => {
    const v = reaperVerdict([3, -1, 3, -1, 3, 3, 3, 3], 3, 8);
    expect(v.status).toBe('warn');
    expect(v.detail).toBe('2/8 Execs of "exit 3" (25 %) reported -1 at 8 in parallel: the PID-1 reaper race of v3 bridges (contract §5 item 41)');
  });
  it('any other wrong code or a missing EXIT → fail', () => {
    expect(reaperVerdict([3, 0, -1, 3], 3, 2)).toMatchObject({ status: 'fail', detail: '1/4 Execs of "exit 3" reported 0 at 2 in parallel' });
    expect(reaperVerdict([undefined, 3], 3, 2)).toMatchObject({ status: 'fail', detail: '1/2 Execs of "exit 3" reported no EXIT at 2 in parallel' });
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
    expect(v.detail).toBe('stdout "no\\n" does not match /^ok$/m; stderr "an error\\n" matches /error/; exit code 2, expected 0 (exit 2, stdout "no", stderr "an error")');
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
