import { createHash } from 'node:crypto';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { errorMessage, StageError } from '../core/errors.js';
import type { Reporter } from '../core/reporter.js';
import { throttle } from '../core/reporter.js';
import { RangedBody } from './ranged.js';

/** "Where from": one file on one mirror, and the option that names that mirror (for error messages). */
export interface Source {
  /** The artefact's name as the user sees it in messages. */
  file: string;
  url: string;
  /** The CLI option (and config key) to change when this mirror is wrong: `--node-mirror`. */
  option: string;
  /** Accept header, for registries that serve a smaller document on request (npm's abbreviated packument). */
  accept?: string;
}

/** A metadata file this build read (an index, a checksum list): recorded in the manifest. */
export interface IndexFile {
  file: string;
  url: string;
  sha256: string;
}

export interface RetryPolicy {
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** No byte for this long: the connection counts as stalled (and the attempt as failed). */
  idleTimeoutMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 4, baseDelayMs: 300, maxDelayMs: 5_000, idleTimeoutMs: 30_000 };

/**
 * Connections per large file (see RangedBody): enough to multiply a per-connection line's rate past what
 * decoding takes (4 × 20 MB/s), few enough that a shared line loses nothing but the extra round trips, which
 * overlap the other connections' transfers. Files below RANGED_MIN_BYTES come on one connection.
 */
export const DEFAULT_CONNECTIONS = 4;
export const RANGED_MIN_BYTES = 16 << 20;
/** The plain GET serves this much, each range after it this much: a short head lets the ranges take over soon. */
const HEAD_BYTES = 4 << 20;
const PART_BYTES = 4 << 20;
/**
 * Faster than this on one connection, a file needs no more (no decoder here keeps up with it). Timed over
 * DECIDE_BYTES from the response. Both ways of misjudging are safe, only slower or larger: a busy process
 * reading a burst may leave a slow line on one connection (as before ranges), and a busy process reading
 * loopback late may split it (about 30 MB more peak memory). Timed over 1 MB, or from the request, loopback
 * on this loaded machine was split far more often; 512 KB kept it whole in most bench runs.
 */
const FAST_BYTES_PER_SECOND = 48e6;
const DECIDE_BYTES = 512 << 10;

/** What every fetch of one build shares: the abort signal, the reporter, pooled connections, counters. */
export class Fetcher {
  readonly stats = { bytes: 0, requests: 0 };
  readonly indexes: IndexFile[] = [];
  private readonly agents = {
    'http:': new http.Agent({ keepAlive: true, maxSockets: 8 }),
    'https:': new https.Agent({ keepAlive: true, maxSockets: 8 }),
  };

  /** Hosts that announced ranges and then refused one: their files come on one connection from then on. */
  private readonly noRanges = new Set<string>();

  constructor(
    readonly reporter: Reporter,
    readonly signal: AbortSignal,
    readonly retry: RetryPolicy = DEFAULT_RETRY,
    /** Connections per large file; 1 fetches every file on a single connection. */
    readonly connections = DEFAULT_CONNECTIONS,
  ) {}

  close(): void {
    this.agents['http:'].destroy();
    this.agents['https:'].destroy();
  }

  /**
   * Runs `attempt` until it succeeds, retrying (bounded, with backoff) only what can pass by itself:
   * 5xx, 429, resets, stalls, truncation. 404, other 4xx and checksum mismatches fail at once.
   */
  async withRetries<T>(src: Source, attempt: () => Promise<T>): Promise<T> {
    for (let n = 1; ; n++) {
      try {
        return await attempt();
      } catch (err) {
        if (this.signal.aborted) throw this.signal.reason ?? err;
        if (err instanceof RangeRefused) this.noRanges.add(new URL(src.url).host);
        if (!isTransient(err)) throw err;
        if (n >= this.retry.attempts) {
          throw new StageError(
            `${src.file}: download failed after ${n} attempts: ${errorMessage(err)} (${src.url})`,
            `check the network, or set ${src.option} to a mirror that answers`,
            { cause: err },
          );
        }
        const delay =
          Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** (n - 1)) * (0.75 + Math.random() / 2);
        this.reporter.warn(
          `${src.file}: ${errorMessage(err)}; retrying in ${(delay / 1000).toFixed(1)} s (attempt ${n + 1} of ${this.retry.attempts})`,
        );
        await sleep(delay, undefined, { signal: this.signal });
      }
    }
  }

  /**
   * A file to stream: one GET, and when the file is large and the server serves ranges, the rest of it over
   * more connections (RangedBody); `received` then counts what every connection delivered.
   */
  async stream(src: Source): Promise<{ body: IncomingMessage | RangedBody; size?: number }> {
    const { body, size, url } = await this.open(src);
    const ranged =
      this.connections > 1 &&
      size !== undefined &&
      size >= RANGED_MIN_BYTES &&
      body.headers['accept-ranges'] === 'bytes' &&
      !this.noRanges.has(new URL(src.url).host);
    if (!ranged) return { body, size };
    // A file replaced on the server between two requests must not be spliced from both versions.
    const validator = body.headers.etag ?? body.headers['last-modified'];
    const headers: Record<string, string> = validator ? { 'if-range': validator } : {};
    const ranges = new RangedBody({
      head: body,
      size,
      headBytes: HEAD_BYTES,
      partBytes: PART_BYTES,
      connections: this.connections,
      fastBytesPerSecond: FAST_BYTES_PER_SECOND,
      decideBytes: DECIDE_BYTES,
      part: (start, end, signal) => this.get(url, src.accept, { ...headers, range: `bytes=${start}-${end}` }, signal),
    });
    return { body: ranges, size };
  }

  /** One GET, redirects followed. Resolves with the 200 response; HTTP and socket failures are classified. */
  async open(src: Source): Promise<{ body: IncomingMessage; size?: number; url: string }> {
    let url = src.url;
    for (let hop = 0; hop <= 5; hop++) {
      const res = await this.get(url, src.accept);
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location) {
        res.resume();
        url = new URL(res.headers.location, url).toString();
        continue;
      }
      if (status === 200) {
        const len = Number(res.headers['content-length']);
        return { body: res, size: Number.isSafeInteger(len) && len >= 0 ? len : undefined, url };
      }
      res.resume();
      if (status === 404 || status === 410) {
        throw new NotFoundError(src, url, status);
      }
      if (status >= 500 || status === 429 || status === 408) throw new TransientError(`HTTP ${status} from ${url}`);
      throw new StageError(`${src.file}: HTTP ${status} from ${url}`, `check ${src.option}`);
    }
    throw new StageError(`${src.file}: too many redirects from ${src.url}`, `check ${src.option}`);
  }

  /** A small file (an index, a checksum list, an apk) into memory, with retries; refuses more than `max` bytes. */
  async buffer(src: Source, max: number): Promise<Buffer> {
    return this.withRetries(src, async () => {
      const { body, size } = await this.open(src);
      if (size !== undefined && size > max) {
        body.destroy();
        throw new StageError(
          `${src.file}: ${size} bytes is more than the ${max} expected (${src.url})`,
          `check ${src.option}`,
        );
      }
      const chunks: Buffer[] = [];
      let got = 0;
      try {
        for await (const chunk of body as AsyncIterable<Buffer>) {
          got += chunk.length;
          if (got > max) {
            body.destroy();
            throw new StageError(
              `${src.file}: more than the ${max} bytes expected (${src.url})`,
              `check ${src.option}`,
            );
          }
          chunks.push(chunk);
          this.stats.bytes += chunk.length;
        }
      } catch (err) {
        throw bodyError(err, got, size);
      }
      checkComplete(got, size);
      return Buffer.concat(chunks);
    });
  }

  /** A metadata file, recorded with its sha256 for the manifest. */
  async index(src: Source, max: number): Promise<Buffer> {
    const body = await this.buffer(src, max);
    this.indexes.push({ file: src.file, url: src.url, sha256: createHash('sha256').update(body).digest('hex') });
    return body;
  }

  /** Counts bytes and reports progress (percent and MB/s, at most once a second, only for long downloads). */
  meter(src: Source, size: number | undefined): Meter {
    const start = performance.now();
    const tick = throttle(1000);
    let got = 0;
    let shown = false;
    const line = () => {
      const secs = (performance.now() - start) / 1000;
      const rate = secs > 0 ? got / 1e6 / secs : 0;
      const pct = size ? ` (${Math.floor((got / size) * 100)}%)` : '';
      return `${(got / 1e6).toFixed(1)}${size ? ` of ${(size / 1e6).toFixed(1)}` : ''} MB${pct}, ${rate.toFixed(1)} MB/s`;
    };
    return {
      add: (n) => {
        got += n;
        this.stats.bytes += n;
        if (performance.now() - start < 1000) return;
        tick(() => {
          shown = true;
          this.reporter.progress(src.file, line());
        });
      },
      done: () => {
        if (shown) this.reporter.progress(src.file, `${line()}, done`);
      },
    };
  }

  private get(
    url: string,
    accept = '*/*',
    extra: Record<string, string> = {},
    signal?: AbortSignal,
  ): Promise<IncomingMessage> {
    const u = new URL(url);
    const mod = u.protocol === 'https:' ? https : http;
    const agent = this.agents[u.protocol as 'http:' | 'https:'];
    if (!agent) return Promise.reject(new StageError(`unsupported URL scheme in ${url}`));
    this.stats.requests++;
    return new Promise((resolve, reject) => {
      let res: IncomingMessage | undefined;
      const req = mod.get(
        u,
        {
          agent,
          signal: signal ? AbortSignal.any([this.signal, signal]) : this.signal,
          headers: { 'user-agent': 'memoh-workspace', accept, ...extra },
        },
        (r) => {
          res = r;
          resolve(r);
        },
      );
      // A stall before or during the body: the response (if any) fails with this reason, not a bare reset.
      // The socket also goes quiet when we stop reading (backpressure from a slow decoder or disk): with bytes
      // still unread in the response, the line is not the one stalling, so the watch starts over.
      const onIdle = () => {
        if (res && !res.destroyed && res.readableLength > 0) {
          req.setTimeout(this.retry.idleTimeoutMs, onIdle);
          return;
        }
        const err = new TransientError(`no data for ${this.retry.idleTimeoutMs / 1000} s from ${url}`);
        res?.destroy(err);
        req.destroy(err);
      };
      req.setTimeout(this.retry.idleTimeoutMs, onIdle);
      req.on('error', reject);
    });
  }
}

export interface Meter {
  add(bytes: number): void;
  done(): void;
}

/** A failure worth another attempt (server trouble, a dropped or stalled connection, a short body). */
export class TransientError extends Error {
  override readonly name = 'TransientError';
}

/** A server that announced ranges and then did not serve one: the file is fetched again on one connection. */
export class RangeRefused extends TransientError {}

export class NotFoundError extends StageError {
  constructor(
    readonly src: Source,
    readonly url: string,
    status: number,
  ) {
    super(
      `${src.file}: ${url} does not exist (HTTP ${status})`,
      `check the version, or set ${src.option} to a mirror that has it`,
    );
  }
}

const TRANSIENT_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

export function isTransient(err: unknown): boolean {
  if (err instanceof TransientError) return true;
  // Includes checksum mismatches: a file that arrived whole and is wrong will be wrong again.
  if (err instanceof StageError) return false;
  const e = err as NodeJS.ErrnoException | undefined;
  if (e?.code && TRANSIENT_CODES.has(e.code)) return true;
  return /socket hang up|aborted|premature close|terminated/i.test(e?.message ?? '');
}

/** A transfer that broke off midway, said in words (Node reports a short body as a bare "aborted"). */
export function bodyError(err: unknown, got: number, size: number | undefined): unknown {
  const e = err as NodeJS.ErrnoException;
  if (e?.code === 'ECONNRESET' || e?.message === 'aborted') {
    return new TransientError(
      `connection lost after ${got}${size !== undefined ? ` of ${size}` : ''} bytes (${e.message})`,
    );
  }
  return err;
}

/** A body shorter than its Content-Length is a broken transfer, not a file: try again. */
export function checkComplete(got: number, size: number | undefined): void {
  if (size !== undefined && got !== size) throw new TransientError(`truncated transfer: got ${got} of ${size} bytes`);
}
