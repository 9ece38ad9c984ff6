import { rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type Dockerode from 'dockerode';
import { errorMessage } from './errors.js';

/**
 * Everything a run creates outside its own process is written here the moment it exists, as plain
 * data, so that whoever ends the run (the CLI on exit or signal, the Action's post step from saved
 * state) can remove it without knowing which stage made it.
 */
export type LedgerEntry =
  | { kind: 'container'; id: string; name?: string }
  | { kind: 'path'; path: string; what: 'socket-dir' | 'runtime-dir' | 'temp-dir' | 'file' };

export type LedgerListener = (entries: readonly LedgerEntry[]) => void;

export class CleanupLedger {
  private readonly items: LedgerEntry[] = [];
  private readonly listeners: LedgerListener[] = [];

  constructor(
    private readonly docker?: () => Dockerode,
    private readonly undoOptions: UndoOptions = {},
  ) {}

  /** A ledger holding what another process recorded (the Action's post step, from main's saved state). */
  static restore(entries: readonly LedgerEntry[], docker?: () => Dockerode, undoOptions?: UndoOptions): CleanupLedger {
    const ledger = new CleanupLedger(docker, undoOptions);
    ledger.items.push(...entries);
    return ledger;
  }

  /** Records an entry; returns a function that forgets it (once the stage removed it itself). */
  add(entry: LedgerEntry): () => void {
    this.items.push(entry);
    this.changed();
    return () => this.forget(entry);
  }

  forget(entry: LedgerEntry): void {
    const i = this.items.indexOf(entry);
    if (i >= 0) {
      this.items.splice(i, 1);
      this.changed();
    }
  }

  entries(): readonly LedgerEntry[] {
    return [...this.items];
  }

  onChange(listener: LedgerListener): void {
    this.listeners.push(listener);
  }

  /** Removes an entry's resource now and forgets it. */
  async release(entry: LedgerEntry): Promise<void> {
    await undo(entry, this.docker, this.undoOptions);
    this.forget(entry);
  }

  /**
   * Removes everything, newest first (containers before the dirs they mount). Never throws: what could
   * not be removed comes back as `errors`, one `what: why` each.
   */
  async drain(onRemoved?: (entry: LedgerEntry) => void): Promise<{ removed: number; errors: string[] }> {
    const errors: string[] = [];
    let removed = 0;
    for (const entry of [...this.items].reverse()) {
      try {
        await undo(entry, this.docker, this.undoOptions);
        removed++;
        onRemoved?.(entry);
      } catch (err) {
        errors.push(`${describe(entry)}: ${errorMessage(err)}`);
      }
      this.forget(entry);
    }
    return { removed, errors };
  }

  private changed(): void {
    for (const l of this.listeners) l(this.entries());
  }
}

export function describe(entry: LedgerEntry): string {
  return entry.kind === 'container' ? `container ${entry.name ?? entry.id}` : `${entry.what} ${entry.path}`;
}

/**
 * How long removing a container waits for an engine that does not answer. A daemon being restarted
 * (or stopped under a run) comes back within seconds and still holds the container; giving up at
 * once would leave it behind for good.
 */
export const ENGINE_WAIT_MS = 30_000;

export interface UndoOptions {
  engineWaitMs?: number;
  /** Told once per container when its removal starts waiting for the engine (a silent wait looks like a hang). */
  onWait?: (message: string) => void;
}

/** Removes one recorded resource; an already-gone resource is success. */
export async function undo(
  entry: LedgerEntry,
  docker?: () => Dockerode,
  { engineWaitMs = ENGINE_WAIT_MS, onWait }: UndoOptions = {},
): Promise<void> {
  if (entry.kind === 'path') {
    await rm(entry.path, { recursive: true, force: true });
    return;
  }
  if (!docker) throw new Error('no Docker engine connection to remove the container');
  const deadline = performance.now() + engineWaitMs;
  const what = describe(entry);
  for (let delay = 250; ; delay = Math.min(delay * 2, 2000)) {
    try {
      await docker().getContainer(entry.id).remove({ force: true, v: true });
      return;
    } catch (err) {
      const code = (err as { statusCode?: number }).statusCode;
      // 404: already gone; 409: removal already in progress (it will be gone).
      if (code === 404 || code === 409) return;
      if (!engineUnreachable(err)) throw err;
      const why = errorMessage(err);
      if (performance.now() + delay > deadline) {
        throw new Error(
          `the Docker engine did not answer for ${Math.round(engineWaitMs / 1000)} s (${why}); once it is back: docker rm -f ${entry.name ?? entry.id}`,
        );
      }
      if (delay === 250)
        onWait?.(
          `the Docker engine does not answer (${why}): waiting up to ${Math.round(engineWaitMs / 1000)} s to remove ${what}`,
        );
      await sleep(delay);
    }
  }
}

const UNREACHABLE = new Set([
  'ENOENT',
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

/** The engine's socket is missing, refuses or drops the connection (a forced removal is safe to ask again). */
export function engineUnreachable(err: unknown): boolean {
  return UNREACHABLE.has((err as NodeJS.ErrnoException | undefined)?.code ?? '');
}
