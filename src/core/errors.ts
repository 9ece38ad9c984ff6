import { redact } from './redact.js';

/** Exit codes shared by every command and both faces. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** The exit code of a run that ended with a result (its checks judged by the fail-on rule). */
export function exitFor(result: 'success' | 'failure'): ExitCode {
  return result === 'success' ? EXIT.ok : EXIT.failed;
}

/**
 * Bad input from the user (flag, Action input, config key, file). Always exit 2.
 * `input` names where the value came from, in the user's words (`--node-version`, `input images`,
 * `config.toml [toolkit] node_version`), and `fix` says what to do instead.
 */
export class InputError extends Error {
  override readonly name = 'InputError';
  constructor(
    readonly input: string,
    readonly problem: string,
    readonly fix: string,
  ) {
    super(`${input}: ${problem}. Fix: ${fix}`);
  }
}

/** A stage could not do its work for a reason outside the user's input (network, engine, disk). */
export class StageError extends Error {
  override readonly name = 'StageError';
  constructor(
    message: string,
    readonly fix?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** A system error's code (ENOENT, EACCES…), else its message: what a "cannot read X (…)" names. */
export function errorCode(err: unknown): string {
  return (err as NodeJS.ErrnoException | undefined)?.code ?? errorMessage(err);
}

/**
 * What a face shows for the error that ended a command, and its exit code. Both faces print it, and an
 * error can quote an input, so the text is redacted here, once.
 */
export function describeError(err: unknown): { message: string; fix?: string; code: ExitCode } {
  if (err instanceof InputError) return { message: redact(err.message), code: EXIT.usage };
  if (err instanceof StageError)
    return { message: redact(err.message), ...(err.fix ? { fix: redact(err.fix) } : {}), code: EXIT.failed };
  return { message: redact(errorMessage(err)), code: EXIT.failed };
}
