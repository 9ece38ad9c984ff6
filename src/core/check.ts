import { errorMessage } from './errors.js';

/** The one result shape every stage reports: the built-in suites, user checks and validation alike. */
export type Status = 'pass' | 'warn' | 'fail' | 'skip';

/** What fails a run: a failed check only, or a warning too. */
export type FailOn = 'error' | 'warning';

export interface Check {
  /** Stable id, e.g. `platform`, `exec.exit-code`, `user.node-works`. */
  id: string;
  status: Status;
  /** One line: what was seen. */
  detail: string;
  /** For warn/fail: what to do about it. */
  fix?: string;
  durationMs?: number;
}

const rank: Record<Status, number> = { skip: 0, pass: 1, warn: 2, fail: 3 };

/** The worst status of a set; an empty set passes. */
export function worst(statuses: Iterable<Status>): Status {
  let w: Status = 'pass';
  for (const s of statuses) if (rank[s] > rank[w]) w = s;
  return w;
}

/** Runs `fn` and times it; an exception becomes a failing check instead of hiding the checks after it. */
export async function timed(id: string, fn: () => Promise<Omit<Check, 'id' | 'durationMs'>>): Promise<Check> {
  const start = performance.now();
  try {
    const r = await fn();
    return { id, ...r, durationMs: Math.round(performance.now() - start) };
  } catch (err) {
    const detail = errorMessage(err);
    return { id, status: 'fail', detail: firstLine(detail), durationMs: Math.round(performance.now() - start) };
  }
}

export function firstLine(s: string, max = 300): string {
  const line = s.split('\n', 1)[0] ?? '';
  return line.length > max ? `${line.slice(0, max)}…` : line;
}
