import { RUNTIME_MOUNT, TOOLKIT_IN_CONTAINER } from '../era/index.js';
import { expect, expectEqual, expectOneOf, expectStatus, fail, sleep } from './assert.js';
import { BridgeCallError, type BridgeClient, type ExecResult, execWithoutConfig } from './client.js';
import type { EraRules } from './eras.js';
import type { CheckSpec, CheckTools, Outcome } from './runner.js';
import { REAPER_NOTE, show } from './runner.js';
import { custom, pass, rel } from './suite-files.js';

/** Exec in pipe and PTY mode (contract §3.11, §5 items 29–41). Exact exit codes are checked one call at a time. */

export interface ExecSuiteOptions {
  /** Include the 30-second default-timeout check (§5 item 37). */
  slow?: boolean;
  /** Execs in flight at once for the reaper-race check (default 32), and at most how many in total (300). */
  parallel?: number;
  total?: number;
  /** The reaper-race check stops starting Execs after this long (default 300 ms), once it made `parallel`. */
  raceBudgetMs?: number;
}

/**
 * What the image's tools can do, found out once per suite by the checks that need it. Sub-second sleeps
 * keep the waiting checks short (issue 12); an image whose `sleep` takes only whole seconds gets those.
 */
export class ImageCaps {
  private fractional: Promise<boolean> | undefined;

  /** Seconds to pass to the image's `sleep`: as given when it takes fractions, else rounded up. */
  async sleepArg(client: BridgeClient, seconds: number): Promise<string> {
    // Judged from the output, not the exit code: the reaper race of v3 bridges can turn any exit code into -1.
    this.fractional ??= client
      .exec({ command: 'sleep 0.01 2>/dev/null && echo fractions' })
      .then((r) => r.stdout.toString().trim() === 'fractions')
      .catch(() => false);
    return (await this.fractional) ? String(seconds) : String(Math.max(1, Math.ceil(seconds)));
  }
}

const TOOLKIT_BIN = `${TOOLKIT_IN_CONTAINER}/bin`;
/** For checks that assert no exit code but -1 (see SpecBase.waitsOnly): they run together. */
const WAITS_ONLY = { waitsOnly: true } as const;

/** One Exec: it must end with exactly one EXIT message, the last one. */
async function exitOf(t: CheckTools, command: string): Promise<ExecResult> {
  const r = await t.client.exec({ command });
  expect(
    r.exitCode !== undefined,
    `${command}: the call ended OK without an EXIT message`,
    'the bridge ends every Exec with one EXIT message',
  );
  expect(
    r.exitMessages === 1 && r.afterExit === 0,
    `${command}: ${r.exitMessages} EXIT messages, ${r.afterExit} messages after EXIT`,
  );
  return r;
}

/**
 * Runs until the exit code is exactly `code`. Where the bridge has its own reaper (v3 up to v0.17), a -1 in
 * place of another code is run again (three runs at most): the race strikes at random even one call at a
 * time, a real -1 every time. A bridge without one gets one run.
 */
async function exactExit(
  t: CheckTools,
  command: string,
  codes: number | readonly number[],
  retried: string[],
  raced: boolean,
): Promise<ExecResult> {
  const want = typeof codes === 'number' ? [codes] : codes;
  for (let run = 1; ; run++) {
    const r = await exitOf(t, command);
    if (raced && r.exitCode === -1 && !want.includes(-1) && run < 3) {
      retried.push(command);
      continue;
    }
    expectOneOf(r.exitCode, want, `exit code of ${show(command)}`);
    return r;
  }
}

const retriedNote = (retried: string[]): string =>
  retried.length ? ` (${retried.length} run(s) gave -1 and were repeated: ${REAPER_NOTE})` : '';

const stdoutOf = (r: ExecResult): string => r.stdout.toString('utf8');

function timing(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** What the exec checks know of the bridge and the image, decided once. */
interface ExecSuite {
  opts: ExecSuiteOptions;
  rules: EraRules;
  caps: ImageCaps;
  /** The bridge has its own reaper, which can turn an exit code into -1. */
  raced: boolean;
  /** The exit code(s) of a process killed by a signal: -1 before v0.10.0, 128+9 after. */
  signalled: number[];
}

export function execChecks(opts: ExecSuiteOptions, rules: EraRules, caps: ImageCaps): CheckSpec[] {
  // A bridge with its own wait4(-1) reaper can turn any exit code into -1 (contract §5 item 41).
  const raced = !rules.isNew('noOwnReaper');
  const signalled = rules.pick('signalExit', -1, 137);
  const s: ExecSuite = { opts, rules, caps, raced, signalled };
  const checks: CheckSpec[] = EXEC_CHECKS.flatMap((build) => build(s));

  // Placed by what they do: env control after exec.env; the group kill waits for its timeout, so it joins
  // exec.timeout's group of waiting checks (when no reaper race can turn its exact code).
  const after = (id: string, ...specs: CheckSpec[]): void => {
    checks.splice(checks.findIndex((c) => c.id === id) + 1, 0, ...specs);
  };
  if (rules.has('execEnvFields')) after('exec.env', ...envControlChecks(rules));
  if (rules.has('groupKill')) after('exec.timeout', groupKillCheck(rules, raced));
  return checks;
}

/** The checks in the order the suite runs them, each built from what the suite knows of the bridge. */
const EXEC_CHECKS: readonly ((s: ExecSuite) => CheckSpec | CheckSpec[])[] = [
  execExitCodeCheck,
  execSignalCheck,
  execStreamsCheck,
  execWorkdirCheck,
  execEmptyCommandCheck,
  execStdinCheck,
  execEnvCheck,
  execPathToolkitCheck,
  execChunkingCheck,
  execTimeoutCheck,
  execDefaultTimeoutCheck,
  execZombieReapingCheck,
  ptySizeCheck,
  ptyTermCheck,
  ptyHalfCloseCheck,
  ptyInteractiveCheck,
];

function execExitCodeCheck({ raced }: ExecSuite): CheckSpec {
  return custom('exec.exit-code', async (t) => {
    const cases: [string, number][] = [
      ['exit 3', 3],
      ['exit 0', 0],
      ['false', 1],
      ['exit 255', 255],
      ['no_such_cmd_xyz', 127],
    ];
    const seen: string[] = [];
    const retried: string[] = [];
    for (const [command, code] of cases) {
      await exactExit(t, command, code, retried, raced);
      seen.push(`${command}→${code}`);
    }
    return pass(seen.join(', ') + retriedNote(retried));
  });
}

function execSignalCheck({ rules, raced, signalled }: ExecSuite): CheckSpec {
  return custom('exec.signal', async (t) => {
    const retried: string[] = [];
    const own = await exactExit(t, 'kill -9 $$', signalled, retried, raced);
    await exactExit(t, "sh -c 'kill -9 $$'; exit $?", 137, retried, raced);
    return pass(
      `shell killed (kill -9 $$) → ${own.exitCode}; child killed, shell reports → 137${retriedNote(retried)}${rules.note('signalExit')}`,
    );
  });
}

function execStreamsCheck(): CheckSpec {
  return custom('exec.streams', async (t) => {
    const r = await t.client.exec({ command: 'echo out; echo err >&2' });
    expectEqual(stdoutOf(r), 'out\n', 'STDOUT data', 'stderr output must arrive as STDERR messages');
    expectEqual(r.stderr.toString(), 'err\n', 'STDERR data', 'stderr output must arrive as STDERR messages');
    const nf = await t.client.exec({ command: 'no_such_cmd_xyz' });
    expect(
      /not found/.test(nf.stderr.toString()) && nf.stdout.length === 0,
      `no_such_cmd_xyz: stdout ${show(stdoutOf(nf))}, stderr ${show(nf.stderr.toString())}; expected "not found" on STDERR only`,
    );
    return pass('"out\\n" on STDOUT, "err\\n" on STDERR; "not found" on STDERR');
  });
}

function execWorkdirCheck({ rules }: ExecSuite): CheckSpec {
  return custom('exec.workdir', async (t) => {
    const { client } = t;
    expectEqual(stdoutOf(await client.exec({ command: 'pwd' })), '/data\n', 'pwd with no work_dir');
    expectEqual(stdoutOf(await client.exec({ command: 'pwd', workDir: '/tmp' })), '/tmp\n', 'pwd with work_dir "/tmp"');
    const err = await expectStatus(
      client.exec({ command: 'pwd', workDir: '/no/such/dir' }),
      'INTERNAL',
      'Exec with work_dir "/no/such/dir"',
    );
    expect((err.partial?.exitMessages ?? 0) === 0, 'Exec with a missing work_dir sent an EXIT message before INTERNAL');
    let relative = '';
    // Before v0.8.3 a relative work_dir is taken from the bridge's own cwd (the image WORKDIR): nothing to expect.
    if (rules.isNew('relativeWorkDir')) {
      const sub = rel(t, '');
      expectEqual(
        stdoutOf(await client.exec({ command: 'pwd', workDir: sub })),
        `${t.work}\n`,
        `pwd with the relative work_dir ${show(sub)}`,
        '≥v0.8.3 joins a relative work_dir onto /data',
      );
      relative = `; relative ${show(sub)} → ${t.work}`;
    }
    return pass(`default /data; work_dir /tmp honoured; missing work_dir → INTERNAL, no EXIT${relative}`);
  });
}

function execEmptyCommandCheck(): CheckSpec {
  return custom('exec.empty-command', async ({ client }) => {
    await expectStatus(client.exec({ command: '' }), 'INVALID_ARGUMENT', 'Exec with an empty command', {
      message: 'command is required',
    });
    await expectStatus(execWithoutConfig(client), 'INVALID_ARGUMENT', 'Exec half-closed before any message', {
      message: 'failed to receive exec config',
    });
    return pass('empty command and no configuration → INVALID_ARGUMENT');
  });
}

function execStdinCheck({ rules }: ExecSuite): CheckSpec {
  return custom('exec.stdin', async ({ client }) => {
    const r = await client.exec({ command: 'cat', configStdin: 'A', stdin: ['B', 'C'] });
    const out = stdoutOf(r);
    expectOneOf(
      out,
      rules.pick('firstStdin', 'BC', 'ABC'),
      'cat of stdin "A" (in the first message), "B", "C", then half-close',
      "v3 ignores the first message's stdin, ≥v0.13.0 writes it; half-close gives EOF",
    );
    const first = out === 'ABC' ? 'first-message stdin written' : 'first-message stdin ignored';
    return pass(
      `stdin of later messages in order (${show(out)}), ${first}, half-close → EOF${rules.note('firstStdin')}`,
    );
  });
}

function execEnvCheck(): CheckSpec {
  return custom('exec.env', async ({ client }) => {
    expectEqual(
      stdoutOf(await client.exec({ command: 'echo "$FOO"', env: ['FOO=bar'] })),
      'bar\n',
      'echo $FOO with env FOO=bar',
    );
    expectEqual(
      stdoutOf(await client.exec({ command: 'echo "$FOO"', env: ['FOO=1', 'FOO=2'] })),
      '2\n',
      'echo $FOO with env FOO=1, FOO=2 (later wins)',
    );
    const path = '/smoke-env:/usr/bin:/bin';
    expectEqual(
      stdoutOf(await client.exec({ command: 'echo "$PATH"', env: [`PATH=${path}`] })),
      `${path}\n`,
      'echo $PATH with env PATH=… (env overrides)',
    );
    return pass('env added on top of the bridge environment; later duplicates win, PATH can be overridden');
  });
}

function execPathToolkitCheck(): CheckSpec {
  return custom('exec.path-toolkit', async ({ client }) => {
    const path = stdoutOf(await client.exec({ command: 'echo "$PATH"' })).trim();
    expect(
      path.endsWith(`:${TOOLKIT_BIN}`),
      `PATH is ${show(path)}; expected it to end with :${TOOLKIT_BIN}`,
      'the bridge appends the toolkit to PATH (image binaries win)',
    );
    return pass(`PATH ends with :${TOOLKIT_BIN}`);
  });
}

function execChunkingCheck(): CheckSpec {
  return custom('exec.chunking', async ({ client }) => {
    const r = await client.exec({ command: "head -c 10000 /dev/zero | tr '\\0' a" });
    const out = r.messages.filter((m) => m.stream === 'STDOUT');
    const sizes = out.map((m) => m.data.length);
    expect(r.stdout.equals(Buffer.alloc(10_000, 'a')), `stdout is ${r.stdout.length} bytes; expected 10000 "a"`);
    expect(
      sizes.every((s) => s <= 4096),
      `STDOUT messages of ${sizes.join(',')} bytes; each must be ≤ 4096`,
    );
    expect(sizes.length >= 3, `${sizes.length} STDOUT messages for 10000 bytes; expected at least 3`);
    return pass(`10000 bytes in ${sizes.length} STDOUT messages (largest ${Math.max(...sizes)})`);
  });
}

function execTimeoutCheck({ rules, caps, signalled }: ExecSuite): CheckSpec {
  return custom(
    'exec.timeout',
    async ({ client }) => {
      const fix = 'timeout_seconds must SIGKILL the shell (contract §3.11)';
      const code = signalled.join(' or ');
      // A lone command the shell may fork: a v3 bridge kills only the shell, and the child keeps the pipes
      // (and EXIT) open until it ends (told here, not judged: it depends on the shell); from v0.7.0 the pipes
      // are closed at the timeout, which is judged, so there the child sleeps long enough to tell for sure
      // and costs nothing (EXIT comes at 1 s).
      const closes = rules.isNew('pipesClosedOnTimeout');
      const child = await caps.sleepArg(client, closes ? 3 : 1.1);
      // Three independent Execs that only wait for their timeout: at once, judged in order.
      const [direct, held, forked] = await Promise.all([
        client.exec({ command: 'exec sleep 5', timeoutSeconds: 1 }, { deadlineMs: 8000 }).catch(noExit),
        client.exec({ command: 'exec cat', timeoutSeconds: 1, halfClose: false }, { deadlineMs: 8000 }).catch(noExit),
        client.exec({ command: `sleep ${child}`, timeoutSeconds: 1 }, { deadlineMs: 8000 }).catch(noExit),
      ]);
      expect(
        signalled.includes(direct.exitCode ?? NaN) && direct.ms < 3000,
        `exec sleep 5, timeout 1: exit ${direct.exitCode ?? '(none)'} after ${timing(direct.ms)}; expected ${code} after about 1 s`,
        fix,
      );
      expect(
        signalled.includes(held.exitCode ?? NaN) && held.ms >= 800 && held.ms < 3500,
        `exec cat without half-close, timeout 1: exit ${held.exitCode ?? '(none)'} after ${timing(held.ms)}; expected ${code} after about 1 s`,
        fix,
      );
      expectOneOf(forked.exitCode, signalled, `exit code of "sleep ${child}" with timeout 1`);
      const late = forked.ms >= (closes ? 2000 : Number(child) * 1000 - 100);
      if (closes)
        expect(
          !late,
          `"sleep ${child}", timeout 1: EXIT after ${timing(forked.ms)}; expected about 1 s (≥v0.7.0 closes the pipes at the timeout)`,
        );
      const how = late ? 'after the forked child (the shell forks, the pipes stay open)' : 'at the timeout';
      return pass(
        `${direct.exitCode} after ${timing(direct.ms)} and ${timing(held.ms)}; "sleep ${child}", timeout 1: ${forked.exitCode} ${how}, ${timing(forked.ms)}${rules.note('signalExit')}`,
      );
    },
    { timeoutMs: 30_000, ...WAITS_ONLY },
  );
}

function execDefaultTimeoutCheck({ opts, signalled }: ExecSuite): CheckSpec {
  return custom(
    'exec.default-timeout',
    async ({ client }) => {
      if (!opts.slow) return { status: 'skip', detail: 'slow (31 s): include slow checks to run it' };
      const r = await client.exec({ command: 'exec sleep 31' }, { deadlineMs: 40_000 });
      expect(
        signalled.includes(r.exitCode ?? NaN) && r.ms >= 28_000 && r.ms < 31_000,
        `exec sleep 31 with no timeout: exit ${r.exitCode ?? '(none)'} after ${timing(r.ms)}; expected ${signalled.join(' or ')} at about 30 s`,
      );
      return pass(`${r.exitCode} after ${timing(r.ms)} (default 30 s)`);
    },
    { timeoutMs: 45_000, ...WAITS_ONLY },
  );
}

function execZombieReapingCheck({ rules }: ExecSuite): CheckSpec {
  return custom(
    'exec.zombie-reaping',
    async (t) => {
      const { client } = t;
      const reaper = rules.era === 'v0.18' ? ' (by tini, PID 1)' : ' (by the bridge, PID 1)';
      const started = await client.exec({ command: '( sleep 0 & echo $! )' });
      const pid = Number(stdoutOf(started).trim());
      expect(Number.isInteger(pid) && pid > 1, `could not start an orphan: stdout ${show(stdoutOf(started))}`);
      let last = '';
      const t0 = performance.now();
      for (let i = 0; i < 50; i++) {
        const st = stdoutOf(await client.exec({ command: `cat /proc/${pid}/stat 2>/dev/null || echo gone` })).trim();
        // pid (comm) state ppid …: reaped when gone, or when the pid is now someone else's and alive.
        const m = /\) (\S) (\d+)/.exec(st);
        if (st === 'gone' || (m && m[1] !== 'Z'))
          return pass(`orphan ${pid} reaped within ${timing(performance.now() - t0)}${reaper}`);
        last = st;
        await sleep(100, t.signal);
      }
      return fail(
        `orphan PID ${pid} is still a zombie after 5 s (${show(last, 60)}): PID 1 does not reap`,
        rules.era === 'v0.18'
          ? 'Memoh v0.18 runs tini as PID 1 to reap orphans (the bridge no longer does)'
          : 'the bridge is PID 1 and must reap orphans (contract §1 step 4)',
      );
    },
    WAITS_ONLY,
  );
}

function ptySizeCheck(): CheckSpec {
  return custom(
    'pty.size',
    async ({ client }) => {
      const plain = await client.exec({ command: 'stty size', pty: true, halfClose: false });
      expectEqual(stdoutOf(plain), '24 80\r\n', 'PTY stty size with no resize (default 80×24)');
      const sized = await client.exec({
        command: 'stty size',
        pty: true,
        resize: { cols: 120, rows: 40 },
        halfClose: false,
      });
      expectEqual(stdoutOf(sized), '40 120\r\n', 'PTY stty size with resize 120×40 in the first message');
      // The shell waits for a line; the resize rides in the same message as that line and is applied first
      // (contract §3.11), so no sleep is needed. The line may be echoed before `stty -echo` takes effect.
      const session = client.openExec({ command: 'stty -echo; echo ready; read x; stty size', pty: true });
      await session.waitForOutput(/ready\r\n/, 10_000);
      session.send({ resize: { cols: 100, rows: 30 }, stdin: '\n' });
      const later = await session.done;
      const tail = stdoutOf(later).replace(/^[\s\S]*?ready\r\n(\r\n)?/, '');
      expectEqual(tail, '30 100\r\n', 'PTY stty size after a resize message mid-session');
      return pass('80×24 by default; initial resize 120×40 and a mid-session resize 100×30 both applied');
    },
    WAITS_ONLY,
  );
}

function ptyTermCheck(): CheckSpec {
  return custom(
    'pty.term',
    async ({ client }) => {
      const r = await client.exec({
        command: 'echo "$TERM"; echo err >&2',
        pty: true,
        env: ['TERM=dumb'],
        halfClose: false,
      });
      expectEqual(
        stdoutOf(r),
        'xterm-256color\r\nerr\r\n',
        'PTY output of echo $TERM (env TERM=dumb) and a line on stderr',
        'PTY Exec sets TERM=xterm-256color last, over any TERM in env',
      );
      const kinds = new Set(r.messages.map((m) => m.stream));
      expect(!kinds.has('STDERR'), 'a PTY Exec sent STDERR messages (everything must be STDOUT)');
      return pass('TERM=xterm-256color over env TERM=dumb; stderr merged into STDOUT with \\r\\n');
    },
    WAITS_ONLY,
  );
}

function ptyInteractiveCheck({ raced }: ExecSuite): CheckSpec {
  return custom(
    'pty.interactive',
    async ({ client }) => {
      const session = async (): Promise<ExecResult> => {
        const s = client.openExec({ command: 'sh', pty: true });
        s.send({ stdin: 'echo hi\n' });
        // The typed-ahead input is echoed first; the shell's own "hi" may follow its prompt on that line.
        await s.waitForOutput(/(?<!echo )hi\r\n/, 5000);
        s.send({ stdin: 'exit 7\n' });
        const r = await s.done;
        expect(stdoutOf(r).includes('echo hi'), `the terminal did not echo the input: ${show(stdoutOf(r))}`);
        return r;
      };
      let r = await session();
      const again = raced && r.exitCode === -1;
      if (again) r = await session();
      expectEqual(r.exitCode, 7, `exit code after "exit 7"${again ? ' (second session; the first gave -1)' : ''}`);
      return pass(`input echoed, "hi\\r\\n", EXIT 7${again ? retriedNote(['sh']) : ''}`);
    },
    raced ? {} : WAITS_ONLY,
  );
}

/**
 * A PTY session's input is the terminal, not a pipe: the client's half-close must not end it. Judged by its
 * output and its one EXIT, never by the exit code, so it waits with the others even where exit codes race.
 */
function ptyHalfCloseCheck({ caps }: ExecSuite): CheckSpec {
  return custom(
    'pty.half-close',
    async ({ client }) => {
      // It waits beside exec.timeout's second, so the sleep can be long enough to be sure of, at no cost.
      const nap = await caps.sleepArg(client, 0.5);
      const closed = client.openExec({ command: `sleep ${nap}; echo done`, pty: true });
      closed.halfClose();
      const after = await closed.done;
      expect(
        stdoutOf(after).includes('done') && after.exitMessages === 1,
        `PTY session half-closed at once: output ${show(stdoutOf(after))}, ${after.exitMessages} EXIT; expected "done" and EXIT`,
      );
      return pass(`half-close does not end a PTY session (sleep ${nap}; echo done → "done", one EXIT)`);
    },
    WAITS_ONLY,
  );
}

const envLines = (r: ExecResult): string[] => stdoutOf(r).split('\n').filter(Boolean);
const hasVar = (lines: readonly string[], name: string): boolean => lines.some((l) => l.startsWith(`${name}=`));

/** ≥v0.15.0: ExecInput clean_env and unset_env (names and PREFIX* wildcards). */
function envControlChecks(rules: EraRules): CheckSpec[] {
  return [
    custom('exec.clean-env', async ({ client }) => {
      // `env` by absolute-free name: with no PATH, dash and busybox fall back to their built-in default path.
      const r = await client.exec({ command: 'env', cleanEnv: true, env: ['SMOKE_ONLY=1'] });
      const lines = envLines(r);
      const inherited = ['PATH', 'HOME', 'BRIDGE_SOCKET_PATH'].filter((v) => hasVar(lines, v));
      expect(
        inherited.length === 0,
        `clean_env: the command still sees ${inherited.join(', ')} (env printed ${show(lines.join(' '), 160)})`,
        'clean_env starts from an empty environment, not even PATH or HOME',
      );
      expect(
        hasVar(lines, 'SMOKE_ONLY'),
        `clean_env: env SMOKE_ONLY=1 was not passed (env printed ${show(lines.join(' '), 160)})`,
      );
      return pass(`clean_env: only ${lines.map((l) => l.split('=')[0]).join(', ')}${rules.note('execEnvFields')}`);
    }),

    custom('exec.unset-env', async ({ client }) => {
      const base = envLines(await client.exec({ command: 'env' }));
      expect(
        hasVar(base, 'BRIDGE_SOCKET_PATH'),
        `the bridge's environment has no BRIDGE_SOCKET_PATH to unset (env: ${show(base.join(' '), 160)})`,
        'Memoh always sets BRIDGE_SOCKET_PATH',
      );
      const r = await client.exec({ command: 'env', unsetEnv: ['HOME', 'BRIDGE_*'], env: ['BRIDGE_SMOKE=kept'] });
      const lines = envLines(r);
      const left = lines.filter((l) => /^(HOME|BRIDGE_(?!SMOKE=))/.test(l));
      expect(
        left.length === 0,
        `unset_env HOME, BRIDGE_*: still set ${show(left.join(' '))}`,
        'unset_env removes names and PREFIX* wildcards from the inherited environment',
      );
      expect(
        hasVar(lines, 'BRIDGE_SMOKE'),
        'unset_env BRIDGE_* also removed BRIDGE_SMOKE from env (env is added after the unset)',
      );
      expect(hasVar(lines, 'PATH'), 'unset_env HOME, BRIDGE_* also removed PATH');
      const gone = base.filter((l) => /^(HOME|BRIDGE_)/.test(l)).map((l) => l.split('=')[0]);
      return pass(
        `unset_env HOME, BRIDGE_* removed ${gone.join(', ')}; env BRIDGE_SMOKE added after; PATH kept${rules.note('execEnvFields')}`,
      );
    }),
  ];
}

/** ≥v0.10.0: the timeout kills the whole process group, background children included. */
function groupKillCheck(rules: EraRules, raced: boolean): CheckSpec {
  return custom(
    'exec.group-kill',
    async (t) => {
      const { client } = t;
      const r = await client
        .exec({ command: 'sleep 7 & echo $!; sleep 7', timeoutSeconds: 1 }, { deadlineMs: 10_000 })
        .catch(noExit);
      const pid = Number(stdoutOf(r).trim());
      expect(Number.isInteger(pid) && pid > 1, `could not start a background child: stdout ${show(stdoutOf(r))}`);
      expect(
        r.exitCode !== undefined && r.ms < 3000,
        `"sleep 7 & …; sleep 7", timeout 1: exit ${r.exitCode ?? '(none)'} after ${timing(r.ms)}; expected EXIT after about 1 s`,
        '≥v0.10.0 kills the process group and closes the pipes at the timeout',
      );
      expectOneOf(r.exitCode, rules.pick('signalExit', -1, 137), 'exit code at the timeout');
      // The killed child is reparented to PID 1 and reaped there: gone, or a zombie for a moment.
      let st = '';
      for (let i = 0; i < 20; i++) {
        st = stdoutOf(await client.exec({ command: `cat /proc/${pid}/stat 2>/dev/null || echo gone` })).trim();
        const m = /\) (\S) /.exec(st);
        if (st === 'gone' || m?.[1] === 'Z' || !/\(sleep\)/.test(st))
          return pass(
            `EXIT ${r.exitCode} after ${timing(r.ms)}; the background sleep ${pid} was killed with the group${rules.note('groupKill')}`,
          );
        await sleep(100, t.signal);
      }
      return fail(
        `the background child ${pid} survived the timeout (${show(st, 60)})`,
        '≥v0.10.0 sends SIGKILL to the whole process group at the timeout',
      );
    },
    { timeoutMs: 20_000, waitsOnly: !raced },
  );
}

/**
 * Many Execs at once, every exit code exact (§5 item 41). Memoh's real v3 bridge loses about 23 % of them
 * to its wait4(-1) reaper at 32 in parallel (2 % at 8), so 32 at a time finds it within a few dozen Execs;
 * the check makes up to `total` in a time budget, and at least one round of `parallel` (under qemu one
 * round takes seconds: the budget bounds the work by the measured speed, not by the architecture). A bridge with its own reaper (v3 up to v0.17) gets a named warning; one
 * without (v0.18, tini reaps) must be exact, and a -1 fails.
 */
export function reaperRaceCheck(opts: ExecSuiteOptions, rules: EraRules): CheckSpec {
  const parallel = opts.parallel ?? 32;
  const total = opts.total ?? 300;
  const budgetMs = opts.raceBudgetMs ?? 300;
  const least = Math.min(total, parallel);
  return custom(
    'exec.reaper-race',
    async ({ client, signal }) => {
      const codes: (number | undefined)[] = [];
      let started = 0;
      const t0 = performance.now();
      const more = (): boolean =>
        !signal.aborted && started < total && (started < least || performance.now() - t0 < budgetMs);
      const worker = async (): Promise<void> => {
        while (more()) {
          started++;
          // A call that never ends is a finding too (no EXIT), not a reason to stop the others.
          const r = await client.exec({ command: 'exit 3' }, { deadlineMs: 10_000 }).catch(noExit);
          codes.push(r.exitCode);
        }
      };
      await Promise.all(Array.from({ length: parallel }, worker));
      const ms = Math.round(performance.now() - t0);
      const stuck = codes.includes(undefined) ? await killStuckForks(client) : undefined;
      return reaperVerdict(codes, 3, parallel, ms, rules, stuck);
    },
    { timeoutMs: 60_000 },
  );
}

/**
 * -1s alone are the known race: a warning by name where the bridge has its own reaper, a failure where it
 * must not (v0.18). Any other wrong code, or a missing EXIT, fails.
 */
export function reaperVerdict(
  codes: readonly (number | undefined)[],
  expected: number,
  parallel: number,
  ms: number,
  rules: EraRules,
  stuck?: StuckForks,
): Outcome {
  const total = codes.length;
  const what = `Execs of "exit ${expected}"`;
  const minus = codes.filter((c) => c === -1).length;
  const other = codes.filter((c) => c !== expected && c !== -1);
  const how = `at ${parallel} in parallel (${timing(ms)})`;
  const hung = codes.filter((c) => c === undefined).length;
  if (hung > 0 && hung === other.length && stuck && stuck.pids.length > 0) {
    const held =
      `${hung}/${total} ${what} got no EXIT within 10 s ${how}: the bridge's forked child ${stuck.pids.join(', ')} never reached exec ` +
      `and held their output pipes (killed)`;
    if (!stuck.emulated) {
      return {
        status: 'fail',
        detail: held,
        fix: 'every child the bridge forks must reach exec or exit, or the Execs in flight never end',
      };
    }
    // The emulator's fork, not the bridge's Exec: the same binary on arm64 hardware leaves no such child.
    const also =
      minus > 0
        ? `; ${minus} reported -1 (${rules.isNew('noOwnReaper') ? 'no reaper to race with in v0.18' : REAPER_NOTE})`
        : '';
    return {
      status: minus > 0 && rules.isNew('noOwnReaper') ? 'fail' : 'warn',
      detail: `${held}: a fork deadlock of qemu-user emulation${also}`,
      fix: 'A defect of the emulator, not of the image or the bridge: judge Exec under load on arm64 hardware (or with a qemu-user that has no fork deadlock)',
    };
  }
  if (other.length > 0) {
    const seen = [...new Set(other.map((c) => (c === undefined ? 'no EXIT within 10 s' : String(c))))].join(', ');
    return { status: 'fail', detail: `${other.length}/${total} ${what} reported ${seen} ${how}` };
  }
  if (minus > 0) {
    const share = `${minus}/${total} ${what} (${Math.round((minus / total) * 100)} %) reported -1 ${how}`;
    if (rules.isNew('noOwnReaper')) {
      return {
        status: 'fail',
        detail: `${share}: a v0.18 bridge has no reaper of its own to race with${rules.note('noOwnReaper')}`,
        fix: 'Memoh v0.18 runs tini as PID 1 and the bridge waits only for its own children: exit codes must be exact under concurrency',
      };
    }
    return {
      status: 'warn',
      detail: `${share}: ${REAPER_NOTE}${rules.note('noOwnReaper')}`,
      fix: 'Known defect of v3 bridges (fixed in v0.18, where tini reaps): do not trust the exit code of concurrent Execs',
    };
  }
  return { status: 'pass', detail: `${total}/${total} exact ${how}${rules.note('noOwnReaper')}` };
}

/** Copies of the bridge found stuck between fork and exec, and killed; `emulated` when they ran under qemu-user. */
interface StuckForks {
  pids: number[];
  emulated: boolean;
}

/**
 * Under qemu-user (Debian bookworm's 7.2, binfmt), a child forked by the multi-threaded bridge can deadlock
 * inside the emulator before it reaches exec: a copy of the bridge (same command line, the bridge its
 * parent) that holds every pipe open at the fork. The Execs whose pipes it holds never see EOF, so never
 * send EXIT (contract §3.11: EXIT follows EOF on both outputs), and a v3 bridge's graceful stop then waits
 * for them (§1 step 8). Such a copy is found (seen twice, a second apart: a fork in progress is not stuck)
 * and killed, which lets those Execs and the bridge's shutdown finish. (The bridge's path is split in the
 * script, so that the script's own subshells, copies of its shell, do not match.)
 */
async function killStuckForks(client: BridgeClient): Promise<StuckForks | undefined> {
  const list =
    'for d in /proc/[0-9]*; do p=${d#/proc/}; pp=$(sed -n "s/^PPid:[[:space:]]*//p" $d/status 2>/dev/null); ' +
    `c=$(tr "\\0" " " < $d/cmdline 2>/dev/null); case "$c" in *"${RUNTIME_MOUNT}/brid""ge"*) ;; *) continue;; esac; ` +
    '[ -n "$pp" ] && [ "$pp" != 0 ] && [ "$c" = "$(tr "\\0" " " < /proc/$pp/cmdline 2>/dev/null)" ] && echo "$p"; done';
  const script =
    `a=$(${list}); [ -z "$a" ] && exit 0; sleep 1; b=$(${list}); ` +
    'for p in $a; do case " $(echo $b) " in *" $p "*) c=$(tr "\\0" " " < /proc/$p/cmdline); kill -9 $p && echo "$p $c";; esac; done';
  try {
    const r = await client.exec({ command: script }, { deadlineMs: 15_000 });
    const lines = r.stdout
      .toString('utf8')
      .split('\n')
      .filter((l) => /^\d+ /.test(l));
    if (lines.length === 0) return undefined;
    return { pids: lines.map((l) => Number.parseInt(l, 10)), emulated: lines.some((l) => /qemu/.test(l)) };
  } catch {
    return undefined; // the finding stays what it was: Execs without EXIT
  }
}

/** A call that hit our deadline without EXIT: what it had, for the check to judge. Other errors stay errors. */
function noExit(err: unknown): ExecResult {
  if (err instanceof BridgeCallError && err.codeName === 'DEADLINE_EXCEEDED' && err.partial)
    return { ...err.partial, exitCode: undefined };
  throw err;
}
