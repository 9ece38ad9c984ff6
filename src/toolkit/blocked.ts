/** Adds up the time the event loop was held past a short tick: how long this process could not read a socket. */
export class BlockedClock {
  private timer: NodeJS.Timeout | undefined;
  private total = 0;
  private last = 0;
  private static readonly TICK = 5;

  start(): this {
    this.last = performance.now();
    this.timer = setInterval(() => {
      const now = performance.now();
      const late = now - this.last - BlockedClock.TICK;
      if (late > BlockedClock.TICK) this.total += late;
      this.last = now;
    }, BlockedClock.TICK);
    // It only measures: it must never be what keeps a process alive.
    this.timer.unref();
    return this;
  }

  /** The total so far, including a block still under way. */
  get ms(): number {
    if (!this.timer) return this.total;
    const late = performance.now() - this.last - BlockedClock.TICK;
    return this.total + (late > BlockedClock.TICK ? late : 0);
  }

  /** Stops counting (idempotent); the total so far, including a block still under way. */
  stop(): number {
    this.total = this.ms;
    clearInterval(this.timer);
    this.timer = undefined;
    return this.total;
  }
}

/**
 * The line's share of a window `ms` long during which this process was blocked `blockedMs`: the kernel kept
 * receiving meanwhile, so counting the block would call a fast line slow on a busy machine. But what arrived
 * during a block is counted too, so discounting all of it would overrate a slow line: at most a third of the
 * window is discounted (a rate is overrated 1.5× at most).
 */
export function lineMs(ms: number, blockedMs: number): number {
  return Math.max(ms - blockedMs, ms / 1.5);
}
