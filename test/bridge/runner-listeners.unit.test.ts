import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BridgeClient } from '../../src/bridge/client.js';
import { type CheckSpec, runChecks } from '../../src/bridge/runner.js';
import { CleanupLedger } from '../../src/core/ledger.js';
import { recordingReporter } from '../../src/core/reporter.js';

/**
 * A suite runs its waiting checks together (dozens at once in the v0.18 era); each one must not add its own
 * abort listener to the stage's one signal, or Node prints a MaxListenersExceededWarning on every run.
 */
describe('the runner and the stage signal', () => {
  // The checks below touch no bridge: a stand-in client that only hands itself out.
  const client = { with: () => client } as unknown as BridgeClient;
  const warnings: Error[] = [];
  const collect = (w: Error): void => void warnings.push(w);
  beforeEach(() => {
    warnings.length = 0;
    process.on('warning', collect);
  });
  afterEach(() => void process.off('warning', collect));

  const waiting = (id: string, started: () => void, go: Promise<void>): CheckSpec => ({
    kind: 'custom',
    id,
    waitsOnly: true,
    timeoutMs: 5000,
    run: async ({ signal }) => {
      started();
      await Promise.race([go, new Promise((r) => signal.addEventListener('abort', r, { once: true }))]);
      return { status: signal.aborted ? 'skip' : 'pass', detail: id };
    },
  });

  const group = (n: number) => {
    let begun = 0;
    let allStarted!: () => void;
    const all = new Promise<void>((r) => (allStarted = r));
    let release!: () => void;
    const go = new Promise<void>((r) => (release = r));
    const specs = Array.from({ length: n }, (_, i) => waiting(`t.w${i}`, () => ++begun === n && allStarted(), go));
    return { specs, all, release };
  };

  it('40 waiting checks at once add no abort-listener warning, and the stage signal keeps no listener of theirs', async () => {
    const outer = new AbortController();
    const ctx = { reporter: recordingReporter(), ledger: new CleanupLedger(), signal: outer.signal };
    const { specs, all, release } = group(40);
    const run = runChecks(client, specs, ctx, { work: '/data' });
    await all; // every check is running: the most listeners there will be
    release();
    const checks = await run;
    await new Promise((r) => setImmediate(r)); // warnings are emitted on a later tick
    expect(checks.map((c) => c.status)).toEqual(Array(40).fill('pass'));
    expect(warnings.map((w) => `${w.name}: ${w.message}`)).toEqual([]);
  });

  it('aborting the stage signal still reaches every running check (one listener, fanned out)', async () => {
    const outer = new AbortController();
    const ctx = { reporter: recordingReporter(), ledger: new CleanupLedger(), signal: outer.signal };
    const { specs, all } = group(25);
    const run = runChecks(client, specs, ctx, { work: '/data' });
    await all;
    outer.abort();
    const checks = await run;
    await new Promise((r) => setImmediate(r));
    expect(checks.map((c) => c.status)).toEqual(Array(25).fill('skip'));
    expect(warnings).toEqual([]);
  });
});
