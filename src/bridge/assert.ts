import { BridgeCallError, type BridgeClient } from './client.js';
import { CheckFailed, show } from './runner.js';

/** Small assertions for the built-in checks: the first broken expectation fails the check with its words. */
export function fail(detail: string, fix?: string): never {
  throw new CheckFailed(detail, fix);
}

export function expect(ok: boolean, detail: string | (() => string), fix?: string): asserts ok {
  if (!ok) fail(typeof detail === 'string' ? detail : detail(), fix);
}

export function expectEqual<T>(actual: T, expected: T, what: string, fix?: string): void {
  if (actual !== expected) {
    const f = (v: unknown): string => (typeof v === 'string' ? show(v) : String(v));
    fail(`${what}: got ${f(actual)}, expected ${f(expected)}`, fix);
  }
}

/** The call must fail with this gRPC status (and, when given, a message matching `message`). */
export async function expectStatus(
  call: Promise<unknown>,
  code: string,
  what: string,
  opts: { message?: RegExp | string; fix?: string } = {},
): Promise<BridgeCallError> {
  let result: unknown;
  try {
    result = await call;
  } catch (err) {
    if (!(err instanceof BridgeCallError)) throw err;
    if (err.codeName !== code)
      fail(`${what}: got ${err.codeName}${err.details ? ` (${err.details})` : ''}, expected ${code}`, opts.fix);
    const m = opts.message;
    if (m !== undefined && (typeof m === 'string' ? err.details !== m : !m.test(err.details))) {
      fail(
        `${what}: ${code} with message ${show(err.details)}, expected ${typeof m === 'string' ? show(m) : m}`,
        opts.fix,
      );
    }
    return err;
  }
  void result;
  return fail(`${what}: succeeded, expected ${code}`, opts.fix);
}

export const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });

/**
 * The path must not exist. Judged from its parent's listing, not from Stat, so that a Stat defect fails
 * stat.errors alone instead of every check that removes something.
 */
export async function expectAbsent(client: BridgeClient, path: string, what: string): Promise<void> {
  const cut = path.lastIndexOf('/');
  const parent = cut <= 0 ? '/' : path.slice(0, cut);
  let names: string[];
  try {
    names = (await client.listDir(parent)).map((e) => e.path);
  } catch (err) {
    if (err instanceof BridgeCallError && err.codeName === 'NOT_FOUND') return;
    throw err;
  }
  if (names.includes(path.slice(cut + 1))) fail(`${what}: ${path} still exists`);
}

/** The value must be one of those accepted (one, or two when the era leaves a behaviour open). */
export function expectOneOf<T>(actual: T, accepted: readonly T[], what: string, fix?: string): void {
  if (accepted.includes(actual)) return;
  const f = (v: unknown): string => (typeof v === 'string' ? show(v) : String(v));
  fail(`${what}: got ${f(actual)}, expected ${accepted.map(f).join(' or ')}`, fix);
}

/**
 * A call's outcome as one comparable word: the gRPC status name of a failure, or "OK" ("OK <n>" for a
 * number, "OK, <n> entries" for a list). Errors that are not bridge statuses stay errors.
 */
export async function outcomeOf(call: Promise<unknown>): Promise<string> {
  try {
    const v = await call;
    if (typeof v === 'number') return `OK ${v}`;
    if (Array.isArray(v)) return `OK, ${v.length} entries`;
    return 'OK';
  } catch (err) {
    if (err instanceof BridgeCallError) return err.codeName;
    throw err;
  }
}
