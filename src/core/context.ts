import type { CleanupLedger } from './ledger.js';
import type { Reporter } from './reporter.js';

/** What every stage entry point gets besides its own typed request. */
export interface StageContext {
  reporter: Reporter;
  ledger: CleanupLedger;
  /** Aborted on Ctrl-C / SIGTERM / job cancel: stages stop waiting and return or throw promptly. */
  signal: AbortSignal;
}
