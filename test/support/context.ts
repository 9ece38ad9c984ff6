import type { StageContext } from '../../src/core/context.js';
import { docker } from '../../src/core/docker.js';
import { CleanupLedger } from '../../src/core/ledger.js';
import { recordingReporter } from '../../src/core/reporter.js';

export type TestContext = StageContext & {
  abort: AbortController;
  reporter: ReturnType<typeof recordingReporter>;
  ledger: CleanupLedger;
};

/**
 * A stage context for in-process tests: a recording reporter (silent, and its events can be asserted), a ledger
 * on the real engine unless one is given (so it can remove the containers a stage registers; the engine is only asked when there is
 * one to remove) and an abort handle; `timeoutMs` aborts the stage's signal by itself.
 */
export function testContext(opts: { timeoutMs?: number; ledger?: CleanupLedger } = {}): TestContext {
  const abort = new AbortController();
  const signal = opts.timeoutMs ? AbortSignal.any([abort.signal, AbortSignal.timeout(opts.timeoutMs)]) : abort.signal;
  return { reporter: recordingReporter(), ledger: opts.ledger ?? new CleanupLedger(docker), signal, abort };
}
