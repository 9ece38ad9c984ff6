import { setMaxListeners } from 'node:events';
import type { Check, Status } from '../core/check.js';
import { firstLine, timed } from '../core/check.js';
import type { StageContext } from '../core/context.js';
import { BridgeCallError, type BridgeClient, type ExecResult } from './client.js';

/**
 * Checks are data where they can be (a command and what its output must look like; a file and what it
 * must be), code where an RPC's behaviour needs it. The built-in suite and the user's checks file both
 * become CheckSpecs and go through the one runner below, which produces the one report shape (`Check`).
 */
interface SpecBase {
  /** Stable id, e.g. `exec.exit-code` or `user.node-works`. */
  id: string;
  /** Upper bound for the whole check (default 30 s): a check that hangs is failed and the rest go on. */
  timeoutMs?: number;
  /** Shown with a failure: what to do about it. */
  fix?: string;
  /**
   * The check mostly waits (timeouts, PTY sessions, reaping) and asserts no exit code but -1, which the
   * PID-1 reaper race (contract §5 item 41) cannot turn into a wrong verdict: it runs at the same time
   * as the neighbouring checks marked so. Exact-exit-code checks are never marked; they run alone.
   */
  waitsOnly?: boolean;
  /**
   * The check may run while an earlier group of `waitsOnly` checks is still waiting: it judges no exit
   * code (file RPCs, command output), so neither the waiting Execs nor the reaper race can change its
   * verdict, and the suite's time is not the sum of both.
   */
  alongside?: boolean;
}

export interface CommandCheck extends SpecBase {
  kind: 'command';
  command: string;
  env?: readonly string[];
  workDir?: string;
  stdin?: string;
  /** The Exec's own timeout (the bridge's default is 30 s). */
  timeoutSeconds?: number;
  /** Every pattern must match the whole stdout / stderr text. */
  stdout?: readonly RegExp[];
  stderr?: readonly RegExp[];
  /** No pattern may match. */
  notStdout?: readonly RegExp[];
  notStderr?: readonly RegExp[];
  /** Expected exit code; undefined: not checked. */
  exitCode?: number;
}

export interface FileCheck extends SpecBase {
  kind: 'file';
  path: string;
  exists: boolean;
  isDir?: boolean;
  /** Go-style mode text as the bridge reports it (`-rwxr-xr-x`), or octal permission bits (`0755`). */
  mode?: string;
  /** Every pattern must match the file's text. */
  contents?: readonly RegExp[];
}

export interface Outcome {
  status: Status;
  detail: string;
  fix?: string;
}

export interface CheckTools {
  /** The bridge client, bound to this check's time limit: its calls are cancelled when the check is. */
  client: BridgeClient;
  signal: AbortSignal;
  /** The suite's own directory, `/data/smoke-<random>`. */
  work: string;
}

export interface CustomCheck extends SpecBase {
  kind: 'custom';
  run(t: CheckTools): Promise<Outcome>;
}

export type CheckSpec = CommandCheck | FileCheck | CustomCheck;

/** Thrown inside a check: it fails with this one-line detail. */
export class CheckFailed extends Error {
  constructor(
    detail: string,
    readonly fix?: string,
  ) {
    super(detail);
  }
}

const DEFAULT_CHECK_TIMEOUT_MS = 30_000;
const CONTENTS_LIMIT = 4 * 1024 * 1024;

export const REAPER_NOTE = 'the PID-1 reaper race of v3 bridges (contract §5 item 41)';

/**
 * Runs the checks one after another, except that consecutive `waitsOnly` checks run together, and the
 * `alongside` checks after them run (one at a time) while that group still waits; the first check that is
 * neither waits for the group to end. Results keep the given order. A failing or hanging check never stops
 * the next.
 */
export async function runChecks(
  client: BridgeClient,
  specs: readonly CheckSpec[],
  ctx: StageContext,
  opts: { work: string },
): Promise<Check[]> {
  const results: Check[] = [];
  const stage = new AbortFanOut(ctx.signal);
  const one = async (spec: CheckSpec): Promise<Check> => {
    if (ctx.signal.aborted) return { id: spec.id, status: 'skip', detail: 'cancelled' };
    const check = await runOne(client, spec, ctx, opts.work, stage);
    ctx.reporter.debug(`${check.id}: ${check.status} (${check.durationMs} ms) ${check.detail}`);
    return check;
  };
  const slots: (Check | undefined)[] = new Array(specs.length);
  let waiting: Promise<void> | undefined;
  try {
    for (let i = 0; i < specs.length; ) {
      const spec = specs[i]!;
      if (spec.waitsOnly) {
        let end = i + 1;
        while (end < specs.length && specs[end]!.waitsOnly) end++;
        await waiting;
        const group = specs.slice(i, end).map(async (s, k) => {
          slots[i + k] = await one(s);
        });
        waiting = Promise.all(group).then(() => undefined);
        i = end;
        continue;
      }
      if (!spec.alongside) {
        await waiting;
        waiting = undefined;
      }
      slots[i] = await one(spec);
      i++;
    }
    await waiting;
  } finally {
    stage.close();
  }
  results.push(...(slots as Check[]));
  return results;
}

/**
 * One abort listener on the stage's signal, passed on to every check running at the time: a group of waiting
 * checks runs dozens at once, and one listener each would exceed Node's limit of 10 per signal (a
 * MaxListenersExceededWarning on every run) without any leak to warn about.
 */
class AbortFanOut {
  private readonly running = new Set<AbortController>();
  private readonly onAbort = (): void => {
    for (const ac of this.running) ac.abort();
  };

  constructor(private readonly signal: AbortSignal) {
    signal.addEventListener('abort', this.onAbort, { once: true });
  }

  /** Aborts `ac` with the stage; the returned function lets go of it. */
  add(ac: AbortController): () => void {
    if (this.signal.aborted) ac.abort();
    this.running.add(ac);
    return () => this.running.delete(ac);
  }

  close(): void {
    this.signal.removeEventListener('abort', this.onAbort);
    this.running.clear();
  }
}

async function runOne(
  client: BridgeClient,
  spec: CheckSpec,
  ctx: StageContext,
  work: string,
  stage?: AbortFanOut,
): Promise<Check> {
  const ac = new AbortController();
  // Every call of a check listens to its signal; the reaper-race check has dozens in flight at once.
  setMaxListeners(0, ac.signal);
  const own = stage ? undefined : new AbortFanOut(ctx.signal);
  const release = (stage ?? own!).add(ac);
  const limit = spec.timeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS;
  const tools: CheckTools = { client: client.with({ signal: ac.signal }), signal: ac.signal, work };
  let timer: NodeJS.Timeout | undefined;
  try {
    return await timed(spec.id, () =>
      Promise.race([
        execute(spec, tools),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            ac.abort();
            reject(new Error(`did not finish within ${limit / 1000} s (calls cancelled)`));
          }, limit);
        }),
      ]),
    );
  } finally {
    clearTimeout(timer);
    ac.abort();
    release();
    own?.close();
  }
}

async function execute(spec: CheckSpec, t: CheckTools): Promise<Outcome> {
  try {
    if (spec.kind === 'command') return await commandCheck(spec, t);
    if (spec.kind === 'file') return await fileCheck(spec, t);
    return await spec.run(t);
  } catch (err) {
    if (err instanceof CheckFailed) return { status: 'fail', detail: firstLine(err.message), fix: err.fix ?? spec.fix };
    throw err;
  }
}

export const show = (s: string, max = 120): string => JSON.stringify(s.length > max ? `${s.slice(0, max)}…` : s);
const pattern = (re: RegExp): string => `/${re.source}/${re.flags}`;

function matchProblems(
  what: string,
  text: string,
  must: readonly RegExp[] = [],
  mustNot: readonly RegExp[] = [],
): string[] {
  const out: string[] = [];
  for (const re of must) if (!re.test(text)) out.push(`${what} ${show(text)} does not match ${pattern(re)}`);
  for (const re of mustNot) if (re.test(text)) out.push(`${what} ${show(text)} matches ${pattern(re)}`);
  return out;
}

/** Pipe-mode Exec of the command, half-closed after its stdin; then the expectations. */
async function commandCheck(spec: CommandCheck, t: CheckTools): Promise<Outcome> {
  const execTimeout = spec.timeoutSeconds ?? 30;
  const r = await t.client.exec(
    {
      command: spec.command,
      env: spec.env,
      workDir: spec.workDir,
      timeoutSeconds: spec.timeoutSeconds,
      stdin: spec.stdin !== undefined && spec.stdin !== '' ? [spec.stdin] : [],
    },
    { deadlineMs: (execTimeout + 5) * 1000 },
  );
  return judgeExec(spec, r);
}

/** Compares one Exec result with a command check's expectations. */
export function judgeExec(spec: Omit<CommandCheck, 'id' | 'kind'>, r: ExecResult): Outcome {
  const stdout = r.stdout.toString('utf8');
  const stderr = r.stderr.toString('utf8');
  const problems = [
    ...matchProblems('stdout', stdout, spec.stdout, spec.notStdout),
    ...matchProblems('stderr', stderr, spec.stderr, spec.notStderr),
  ];
  let reaper = false;
  if (r.exitCode === undefined) problems.push('the call ended without an EXIT message');
  else if (spec.exitCode !== undefined && r.exitCode !== spec.exitCode) {
    // -1 for a command that should have exited normally is what the reaper race looks like; anything
    // else is a plain wrong exit code.
    if (r.exitCode === -1 && spec.exitCode !== -1) reaper = true;
    else problems.push(`exit code ${r.exitCode}, expected ${spec.exitCode}`);
  }
  const seen = `exit ${r.exitCode ?? '(none)'}, stdout ${show(stdout.trim(), 80)}${stderr ? `, stderr ${show(stderr.trim(), 80)}` : ''}`;
  if (problems.length > 0) return { status: 'fail', detail: `${problems.join('; ')} (${seen})`, fix: spec.fix };
  if (reaper) {
    return {
      status: 'warn',
      detail: `output as expected but exit code -1 instead of ${spec.exitCode}: ${REAPER_NOTE}`,
      fix: 'Known defect of v3 bridges (fixed when Memoh moved reaping to tini); run again to confirm it is not the command',
    };
  }
  return { status: 'pass', detail: seen };
}

/** Permission bits of a Go-style mode text: the last nine rwx characters plus the u/g/t letters. */
export function permissionBits(mode: string): number | undefined {
  const perm = mode.slice(-9);
  if (!/^[r-][w-][x-][r-][w-][x-][r-][w-][x-]$/.test(perm)) return undefined;
  let bits = 0;
  for (let i = 0; i < 9; i++) if (perm[i] !== '-') bits |= 1 << (8 - i);
  const letters = mode.slice(0, -9);
  if (letters.includes('u')) bits |= 0o4000;
  if (letters.includes('g')) bits |= 0o2000;
  if (letters.includes('t')) bits |= 0o1000;
  return bits;
}

export const OCTAL_MODE = /^0?[0-7]{3,4}$/;

function modeMatches(expected: string, actual: string): boolean {
  if (OCTAL_MODE.test(expected)) return permissionBits(actual) === Number.parseInt(expected, 8);
  return expected === actual;
}

/** Stat (follows links) and, for contents, ReadRaw: the same calls Memoh makes. */
async function fileCheck(spec: FileCheck, t: CheckTools): Promise<Outcome> {
  let entry: Awaited<ReturnType<typeof t.client.stat>>;
  try {
    entry = await t.client.stat(spec.path);
  } catch (err) {
    if (err instanceof BridgeCallError && err.codeName === 'NOT_FOUND') {
      if (!spec.exists) return { status: 'pass', detail: `${spec.path} does not exist` };
      return { status: 'fail', detail: `${spec.path} does not exist`, fix: spec.fix };
    }
    throw err;
  }
  if (!spec.exists)
    return { status: 'fail', detail: `${spec.path} exists (${entry.mode}, ${entry.size} bytes)`, fix: spec.fix };
  const problems: string[] = [];
  if (spec.isDir !== undefined && entry.isDir !== spec.isDir)
    problems.push(entry.isDir ? 'is a directory' : 'is not a directory');
  if (spec.mode !== undefined && !modeMatches(spec.mode, entry.mode))
    problems.push(`mode ${entry.mode}, expected ${spec.mode}`);
  if (spec.contents?.length) {
    if (entry.isDir) problems.push('contents: it is a directory');
    else {
      const text = Buffer.concat(await t.client.readRaw(spec.path, { maxBytes: CONTENTS_LIMIT })).toString('utf8');
      problems.push(...matchProblems('contents', text, spec.contents));
    }
  }
  const seen = `${entry.mode}, ${entry.size} bytes`;
  if (problems.length > 0) return { status: 'fail', detail: `${spec.path}: ${problems.join('; ')}`, fix: spec.fix };
  return { status: 'pass', detail: `${spec.path}: ${seen}` };
}
