import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { BlockedClock, lineMs } from './blocked.js';
import { RangeRefused, TransientError } from './fetch.js';

/**
 * A large file over several connections, read as one in-order stream. A CDN gives every connection its own
 * share of bandwidth (and every request its own round trip): one connection to a 20 MB/s-per-connection
 * line leaves a 64 MB archive line-bound at 3+ s while the decoder could take it in half that, so the file is
 * split into HTTP ranges fetched side by side. The bytes still leave in order, through one pass of hashing,
 * decompressing and extracting; nothing is written to disk first.
 *
 * Only a line that needs it gets more connections: the plain GET's first bytes are timed, and when they came
 * at `fastBytesPerSecond` or more (loopback, a LAN: decoding is the bottleneck) that one response is the
 * whole file, as without ranges. Time this process could not read (its own work, the machine's load) is not
 * the line's: a window that was mostly that is timed again, while the head's share leaves room for another.
 *
 * Memory stays bounded: the head response streams with backpressure; parts ahead of the reader are held in
 * memory, at most `connections - 1` of them (each `partBytes`), and the next part is asked for only when one
 * has been handed on. Any failure of any connection fails the whole stream (the caller retries the file from
 * its start, as it does for a single connection).
 */
export interface RangedOptions {
  /** The response to a plain GET of the file: it serves the first `headBytes`, then is dropped. */
  head: IncomingMessage;
  size: number;
  headBytes: number;
  partBytes: number;
  connections: number;
  /** The head's first `decideBytes` arriving at this rate or faster: no ranges. */
  fastBytesPerSecond: number;
  decideBytes: number;
  /** One GET with `Range: bytes=start-end` (inclusive); the response must be its 206. */
  part: (start: number, end: number, signal: AbortSignal) => Promise<IncomingMessage>;
}

interface Part {
  start: number;
  end: number; // exclusive
  chunks: Buffer[];
  got: number;
  done: boolean;
  res?: IncomingMessage;
}

export class RangedBody extends Readable {
  /** Bytes received on every connection so far (in order or not): what the line delivered. */
  received = 0;
  private readonly parts: Part[] = [];
  private queue: Part[] = [];
  private current = 0;
  private started = 1;
  /** Undecided until the head's first bytes are timed; then split into ranges, or not. */
  private split: boolean | undefined;
  private readonly blocked = new BlockedClock().start();
  /** The decision's window: from when, from which byte of the head, and the blocked time before it. */
  private window = { at: performance.now(), from: 0, blockedMs: 0 };
  private readonly stop = new AbortController();

  constructor(private readonly o: RangedOptions) {
    // Above the head's decideBytes: the head is timed before any backpressure can slow it.
    super({ highWaterMark: 2 << 20 });
    // A part may fail before anyone reads (the caller is still clearing its target dir): the reader learns of
    // it from the stream's errored state, and the process must not die of an 'error' nobody listened for.
    this.on('error', () => {});
    const head: Part = { start: 0, end: o.size, chunks: [], got: 0, done: false, res: o.head };
    this.parts.push(head);
    this.listen(head);
  }

  /** How many connections carry the file (1 until, and unless, it is split). */
  get connections(): number {
    return this.split ? this.o.connections : 1;
  }

  /**
   * Times the head's first bytes (from its response, so the request's round trip is not counted: a fast
   * line is never mistaken for a slow one) and splits the rest of the file into ranges if it is slow. The
   * reader cannot have paused the head yet (it holds less than the stream's buffer), so this is the line.
   */
  private decide(head: Part): void {
    const now = performance.now();
    const ms = now - this.window.at;
    const blockedMs = this.blocked.ms - this.window.blockedMs;
    const line = lineMs(ms, blockedMs);
    const fast = line <= 0 || ((head.got - this.window.from) / line) * 1000 >= this.o.fastBytesPerSecond;
    if (!fast && blockedMs * 3 >= ms && head.got + this.o.decideBytes <= this.o.headBytes) {
      this.window = { at: now, from: head.got, blockedMs: this.blocked.ms };
      return;
    }
    this.blocked.stop();
    this.split = !fast && head.got < this.o.headBytes;
    if (!this.split) return;
    head.end = this.o.headBytes;
    for (let s = head.end; s < this.o.size; s += this.o.partBytes) {
      this.parts.push({ start: s, end: Math.min(s + this.o.partBytes, this.o.size), chunks: [], got: 0, done: false });
    }
    this.queue = this.parts.slice(1);
    this.fill();
  }

  /** Keeps `connections - 1` parts ahead of the one being read. */
  private fill(): void {
    while (this.started < this.parts.length && this.started - this.current < this.o.connections) {
      const p = this.queue.shift();
      if (!p) return;
      this.started++;
      this.o.part(p.start, p.end - 1, this.stop.signal).then(
        (res) => {
          if (this.destroyed) return void res.destroy();
          const want = `bytes ${p.start}-${p.end - 1}/${this.o.size}`;
          if (res.statusCode !== 206 || res.headers['content-range'] !== want) {
            res.destroy();
            return void this.destroy(
              new RangeRefused(
                `range ${p.start}-${p.end - 1}: HTTP ${res.statusCode} ${res.headers['content-range'] ?? ''}`,
              ),
            );
          }
          p.res = res;
          this.listen(p);
        },
        (err: Error) => {
          if (!this.destroyed) this.destroy(err);
        },
      );
    }
  }

  private listen(p: Part): void {
    const res = p.res as IncomingMessage;
    res.on('data', (c: Buffer) => {
      // The head is a whole-file response: what comes past its share belongs to the next part.
      const len = p.end - p.start;
      const chunk = p.got + c.length > len ? c.subarray(0, len - p.got) : c;
      p.got += chunk.length;
      this.received += chunk.length;
      if (this.parts[this.current] === p) {
        if (!this.push(chunk)) res.pause();
      } else p.chunks.push(chunk);
      if (this.split === undefined && p.got - this.window.from >= this.o.decideBytes) this.decide(p);
      if (p.got >= p.end - p.start) this.finish(p);
    });
    // A part ends only once: complete, or lost (the head's own end is ours, once its share is in).
    const lost = (err: Error) => {
      if (!p.done && !this.destroyed) this.destroy(this.lost(p, err));
    };
    res.on('end', () => lost(new Error('range ended early')));
    res.on('error', lost);
    // 'close' without an error of its own: the peer went away (Node calls that "aborted"). A stalled response
    // destroyed by the idle watch errs first, and its reason ("no data for N s") is the one reported.
    res.on('close', () => lost(res.errored ?? new Error('aborted')));
  }

  private offset(p: Part): number {
    return p.start + p.got;
  }

  private lost(p: Part, err: Error): Error {
    if (err instanceof TransientError) return err;
    return new TransientError(`connection lost after ${this.offset(p)} of ${this.o.size} bytes (${err.message})`);
  }

  private finish(p: Part): void {
    if (p.done) return;
    p.done = true;
    // The head's connection would go on sending the rest of the file: drop it (a new one costs a round trip).
    if (p === this.parts[0] && p.end < this.o.size) p.res?.destroy();
    if (this.parts[this.current] === p) this.advance();
  }

  /** The part being read is complete: hand on what the next ones hold, and ask for more. */
  private advance(): void {
    while (this.parts[this.current]?.done) {
      this.current++;
      const next = this.parts[this.current];
      if (!next) {
        this.push(null);
        return;
      }
      for (const c of next.chunks.splice(0)) this.push(c);
      if (!next.done) next.res?.resume();
    }
    this.fill();
  }

  override _read(): void {
    this.parts[this.current]?.res?.resume();
  }

  override _destroy(err: Error | null, cb: (err: Error | null) => void): void {
    this.blocked.stop();
    this.stop.abort();
    for (const p of this.parts) if (!p.done) p.res?.destroy();
    cb(err);
  }
}
