import { constants } from 'node:os';
import type Dockerode from 'dockerode';
import type { StageContext } from './context.js';
import { describeError } from './errors.js';
import { CleanupLedger, describe, type LedgerListener } from './ledger.js';
import type { Reporter } from './reporter.js';

export type DescribedError = ReturnType<typeof describeError>;

export interface SessionOptions {
  reporter: Reporter;
  /** The engine the ledger removes containers from. */
  docker?: () => Dockerode;
  /** What the face tells the user when a signal arrives. */
  signalWarning: (sig: NodeJS.Signals) => string;
  /** What the stages see as the abort reason. */
  abortReason: (sig: NodeJS.Signals) => string;
  onLedgerChange?: LedgerListener;
}

const SIGNALS = ['SIGINT', 'SIGTERM'] as const;

/**
 * One run of a face, from start to exit: the ledger everything is recorded in, the abort signal the
 * stages watch, SIGINT/SIGTERM turned into that abort, an error turned into its exit code and message,
 * and the ledger drained on every way out. The CLI and the Action's main step both live in one.
 */
export class Session {
  readonly ledger: CleanupLedger;
  readonly context: StageContext;
  private readonly abort = new AbortController();
  private signalled: NodeJS.Signals | undefined;

  constructor(private readonly opts: SessionOptions) {
    this.ledger = new CleanupLedger(opts.docker, { onWait: (m) => opts.reporter.warn(m) });
    if (opts.onLedgerChange) this.ledger.onChange(opts.onLedgerChange);
    this.context = { reporter: opts.reporter, ledger: this.ledger, signal: this.abort.signal };
    for (const sig of SIGNALS) process.on(sig, this.onSignal);
  }

  /** The first signal aborts the run; later ones are ignored so that the cleanup it started can finish. */
  private readonly onSignal = (sig: NodeJS.Signals): void => {
    if (this.signalled) return;
    this.signalled = sig;
    this.opts.reporter.warn(this.opts.signalWarning(sig));
    this.abort.abort(new Error(this.opts.abortReason(sig)));
  };

  /** Runs the body; an error it throws becomes its exit code, after `onError` told the user. */
  async run(
    body: (ctx: StageContext) => Promise<number>,
    onError: (described: DescribedError, err: unknown) => void,
  ): Promise<number> {
    try {
      return await body(this.context);
    } catch (err) {
      const described = describeError(err);
      onError(described, err);
      return described.code;
    }
  }

  /**
   * Removes what the run created, or, with `keep` (unless a signal ended the run), names what is left.
   * Cleanup failures are warnings: the run's result stands.
   */
  async close(keep = false): Promise<void> {
    const { reporter } = this.opts;
    if (!keep || this.signalled) {
      const { errors } = await this.ledger.drain();
      for (const e of errors) reporter.warn(`cleanup: ${e}`);
    } else {
      for (const e of this.ledger.entries()) reporter.info(`kept ${describe(e)}`);
    }
    for (const sig of SIGNALS) process.off(sig, this.onSignal);
  }

  /** The process's exit code: the body's, or 128 + the signal's number when a signal ended the run. */
  exitCode(code: number): number {
    return this.signalled ? 128 + constants.signals[this.signalled] : code;
  }
}
