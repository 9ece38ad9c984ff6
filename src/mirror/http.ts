import type { LimitFunction } from 'p-limit';
import type { Reporter } from '../core/reporter.js';

/**
 * One HTTP exchange with the policies every mirror check shares: a deadline per attempt, bounded
 * retries with backoff for what is worth retrying (network errors, timeouts, 5xx, 429), one
 * concurrency limit for all requests, and a cap on how much body is read.
 */
export interface HttpPolicy {
  /** Per attempt, headers and body. */
  timeoutMs: number;
  /** Extra attempts after the first. */
  retries: number;
  /** Shared by every request of a run; each attempt holds one slot and never waits for another. */
  limit: LimitFunction;
  signal: AbortSignal;
  reporter: Reporter;
}

export interface HttpResponse {
  /** The final URL after redirects. */
  url: string;
  status: number;
  headers: Headers;
  body: Buffer;
}

export interface HttpRequest {
  method?: 'GET' | 'HEAD';
  headers?: Record<string, string>;
  /** Bodies beyond this are an error, not a truncation (default 8 MiB). */
  maxBytes?: number;
}

/** A request that failed without an HTTP answer, after all attempts. */
export class NetworkError extends Error {
  override readonly name = 'NetworkError';
}

const BACKOFF_MS = [300, 1_000, 3_000, 5_000];

export async function exchange(url: string, req: HttpRequest, policy: HttpPolicy): Promise<HttpResponse> {
  const attempts = 1 + Math.max(0, policy.retries);
  let last: HttpResponse | Error | undefined;
  for (let attempt = 0; attempt < attempts; attempt++) {
    if (attempt > 0) {
      const wait = retryAfterMs(last) ?? BACKOFF_MS[Math.min(attempt - 1, BACKOFF_MS.length - 1)]!;
      policy.reporter.debug(`retrying ${redact(url)} in ${wait} ms (${describeFailure(last)})`);
      await sleep(wait, policy.signal);
    }
    policy.signal.throwIfAborted();
    try {
      last = await policy.limit(() => once(url, req, policy));
    } catch (err) {
      if (policy.signal.aborted) throw policy.signal.reason;
      last = err instanceof Error ? err : new Error(String(err));
      if (last instanceof BodyTooLarge) throw last;
      continue;
    }
    if (last.status < 500 && last.status !== 429) return last;
  }
  if (last instanceof Error)
    throw new NetworkError(
      `${redact(url)}: ${describeFailure(last)}${attempts > 1 ? ` (after ${attempts} attempts)` : ''}`,
      { cause: last },
    );
  return last!;
}

class BodyTooLarge extends Error {}

async function once(url: string, req: HttpRequest, policy: HttpPolicy): Promise<HttpResponse> {
  const signal = AbortSignal.any([policy.signal, AbortSignal.timeout(policy.timeoutMs)]);
  const res = await fetch(url, { method: req.method ?? 'GET', headers: req.headers ?? {}, redirect: 'follow', signal });
  const max = req.maxBytes ?? 8 * 1024 * 1024;
  const chunks: Buffer[] = [];
  let size = 0;
  if (res.body) {
    for await (const chunk of res.body) {
      size += chunk.byteLength;
      if (size > max) {
        await res.body.cancel().catch(() => undefined);
        throw new BodyTooLarge(`${redact(url)}: response larger than ${max} bytes`);
      }
      chunks.push(Buffer.from(chunk));
    }
  }
  return { url: res.url || url, status: res.status, headers: res.headers, body: Buffer.concat(chunks) };
}

function retryAfterMs(last: HttpResponse | Error | undefined): number | undefined {
  if (!last || last instanceof Error) return undefined;
  const v = last.headers.get('retry-after');
  if (!v || !/^\d+$/.test(v.trim())) return undefined;
  // A registry asking for minutes is not worth waiting for inside a check; the cap keeps runs bounded.
  return Math.min(Number(v) * 1000, 10_000);
}

function describeFailure(last: HttpResponse | Error | undefined): string {
  if (!last) return 'no attempt';
  if (!(last instanceof Error)) return `HTTP ${last.status}`;
  if (last.name === 'TimeoutError') return 'timed out';
  const cause = (last as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code
    ? `${last.message} (${cause.code})`
    : cause?.message
      ? `${last.message}: ${cause.message}`
      : last.message;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** URLs in messages never carry credentials or query strings (token requests put scopes there). */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    u.search = '';
    return u.toString();
  } catch {
    return url;
  }
}

/** Loopback hosts, with or without a port: the only ones reached over plain HTTP unless marked insecure. */
export function isLoopback(host: string): boolean {
  const name = hostname(host);
  return name === 'localhost' || name === '::1' || /^127(?:\.\d{1,3}){3}$/.test(name);
}

/** `127.0.0.1:5000` → `127.0.0.1`; `[::1]:5000` → `::1`. */
export function hostname(host: string): string {
  const v6 = /^\[([^\]]+)\](?::\d+)?$/.exec(host);
  if (v6) return v6[1]!.toLowerCase();
  // A bare IPv6 address has colons of its own and no port.
  return (host.split(':').length > 2 ? host : host.replace(/:\d+$/, '')).toLowerCase();
}

export function schemeFor(host: string, insecure: readonly string[]): 'http' | 'https' {
  return isLoopback(host) || insecure.some((h) => h.toLowerCase() === host.toLowerCase()) ? 'http' : 'https';
}
