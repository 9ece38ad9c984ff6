import { stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type Dockerode from 'dockerode';
import { errorMessage } from '../core/errors.js';

/**
 * Readiness as small composable waits (after testcontainers-node): each probe says "ready", "not yet,
 * because …", or "never, because …". `waitFor` runs them in order each round, with backoff, until all
 * are ready, one gives up for good, or the deadline passes — and always says why it stopped.
 */
export type ProbeResult<T = unknown> = { ready: true; value?: T } | { ready: false; reason: string; final?: boolean };

export interface Probe<T = unknown> {
  name: string;
  check(ctx: ProbeContext): Promise<ProbeResult<T>>;
}

export interface ProbeContext {
  /** Milliseconds left before the overall deadline. */
  remainingMs: number;
  signal: AbortSignal;
}

export interface WaitOptions {
  timeoutMs: number;
  signal: AbortSignal;
  /** First pause between rounds; doubles up to `maxDelayMs`. */
  initialDelayMs?: number;
  maxDelayMs?: number;
}

type WaitOutcome =
  | { ready: true; values: Record<string, unknown>; ms: number; rounds: number }
  | { ready: false; probe: string; reason: string; why: 'final' | 'timeout' | 'aborted'; ms: number; rounds: number };

export async function waitFor(probes: readonly Probe[], opts: WaitOptions): Promise<WaitOutcome> {
  const start = performance.now();
  const deadline = start + opts.timeoutMs;
  let delay = opts.initialDelayMs ?? 50;
  const maxDelay = opts.maxDelayMs ?? 1000;
  let rounds = 0;
  let last = { probe: probes[0]?.name ?? 'none', reason: 'not checked yet' };
  const ms = () => Math.round(performance.now() - start);
  for (;;) {
    rounds++;
    const values: Record<string, unknown> = {};
    let allReady = true;
    for (const p of probes) {
      if (opts.signal.aborted) return { ready: false, ...last, why: 'aborted', ms: ms(), rounds };
      let r: ProbeResult;
      try {
        r = await p.check({ remainingMs: Math.max(0, deadline - performance.now()), signal: opts.signal });
      } catch (err) {
        r = { ready: false, reason: errorMessage(err) };
      }
      if (r.ready) {
        values[p.name] = r.value;
        continue;
      }
      last = { probe: p.name, reason: r.reason };
      if (r.final) return { ready: false, ...last, why: 'final', ms: ms(), rounds };
      allReady = false;
      break;
    }
    if (allReady) return { ready: true, values, ms: ms(), rounds };
    const left = deadline - performance.now();
    if (left <= 0) return { ready: false, ...last, why: 'timeout', ms: ms(), rounds };
    try {
      await sleep(Math.min(delay, left), undefined, { signal: opts.signal });
    } catch {
      return { ready: false, ...last, why: 'aborted', ms: ms(), rounds };
    }
    delay = Math.min(delay * 2, maxDelay);
  }
}

/** "The container is still running": an exited container will never open the socket. */
export function containerRunning(container: Dockerode.Container): Probe {
  return {
    name: 'container running',
    async check() {
      const info = await container.inspect();
      const s = info.State;
      if (s.Running) return { ready: true };
      const status = s.Status || 'not running';
      return {
        ready: false,
        final: status !== 'created',
        reason: `the container is ${status}${status === 'exited' ? ` with exit code ${s.ExitCode}` : ''}${s.Error ? ` (${s.Error})` : ''}`,
      };
    },
  };
}

/** "The socket exists": the bridge has called listen(). */
export function socketExists(path: string): Probe {
  return {
    name: 'socket exists',
    async check() {
      try {
        const st = await stat(path);
        return st.isSocket() ? { ready: true } : { ready: false, reason: `${path} exists but is not a socket` };
      } catch {
        return { ready: false, reason: `no socket at ${path} yet` };
      }
    },
  };
}

/**
 * "The first RPC answers": `attempt` dials and makes one call within the time it is given; it throws
 * `retryable` errors while the bridge is still coming up, anything else ends the wait.
 */
export function firstRpc<T>(
  attempt: (deadlineMs: number) => Promise<T>,
  retryable: (err: unknown) => boolean,
  perAttemptMs = 5000,
): Probe<T> {
  return {
    name: 'first RPC answers',
    async check(ctx) {
      try {
        const value = await attempt(Math.max(100, Math.min(perAttemptMs, ctx.remainingMs)));
        return { ready: true, value };
      } catch (err) {
        const reason = errorMessage(err);
        return { ready: false, reason, final: !retryable(err) };
      }
    },
  };
}
