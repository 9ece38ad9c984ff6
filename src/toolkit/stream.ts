import { once } from 'node:events';
import { createReadStream } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import type { Readable, TransformOptions } from 'node:stream';
import { type ZlibOptions, createGunzip } from 'node:zlib';
import { StageError, errorMessage } from '../core/errors.js';
import type { ArchiveCache } from './cache.js';
import { Digester, type Expected } from './checksum.js';
import { type Fetcher, type Meter, type Source, bodyError, checkComplete } from './fetch.js';
import { extractor as untar } from './untar.js';

export interface ExtractSpec {
  src: Source;
  /** Undefined only when the user turned verification off. */
  expected: Expected | undefined;
  /** Emptied before every attempt, so a retry never mixes two transfers. */
  dest: string;
  strip: number;
  /** Called with the archive path (before stripping); false skips the entry. */
  filter?: (path: string, type: string) => boolean;
}

export interface Streamed {
  sha256: string;
  bytes: number;
  fromCache: boolean;
}

/**
 * Downloads a .tar.gz and extracts it while it arrives: one pass through hash, gunzip (zlib on the
 * thread pool) and tar, with backpressure end to end, so no archive is ever held in memory. The digest is
 * checked when the last byte has gone through, before the caller moves anything into place. A verified
 * download is also kept in the archive cache, and a cached archive is re-verified on every use.
 */
export async function fetchAndExtract(f: Fetcher, spec: ExtractSpec, cache?: ArchiveCache): Promise<Streamed> {
  const cached = spec.expected && cache ? await cache.lookup(spec.expected) : undefined;
  if (cached) {
    try {
      const size = (await stat(cached)).size;
      const r = await extractOnce(spec, createReadStream(cached, { highWaterMark: 1 << 20 }), size, { signal: f.signal });
      return { ...r, fromCache: true };
    } catch (err) {
      // A full or read-only disk is not a damaged entry: dropping it would only cost a download that fails too.
      if (f.signal.aborted || err instanceof DiskError) throw err;
      // A damaged cache entry is dropped and the file fetched again; the user loses time, not correctness.
      f.reporter.warn(`${spec.src.file}: cached copy unusable (${errorMessage(err)}); downloading it again`);
      await rm(cached, { force: true });
    }
  }
  return f.withRetries(spec.src, async () => {
    const keep = spec.expected && cache ? await cache.writer() : undefined;
    try {
      const { body, size } = await f.open(spec.src);
      const r = await extractOnce(spec, body, size, { tee: keep, meter: f.meter(spec.src, size) });
      if (keep && spec.expected) await keep.commit(spec.expected);
      return { ...r, fromCache: false };
    } finally {
      await keep?.discard();
    }
  });
}

async function extractOnce(
  spec: ExtractSpec,
  body: Readable,
  size: number | undefined,
  { tee, meter, signal }: { tee?: { write(chunk: Buffer): Promise<void> }; meter?: Meter; signal?: AbortSignal },
): Promise<Omit<Streamed, 'fromCache'>> {
  await rm(spec.dest, { recursive: true, force: true });
  await mkdir(spec.dest, { recursive: true });
  const digester = new Digester(spec.expected);
  const sink = extractor(spec);
  // An extraction failure does not stop the transfer: the whole file is still hashed, so a damaged
  // download is reported as what it is (a checksum mismatch with both digests), not as a gzip error.
  let extractError: unknown;
  const feed = async (chunk: Buffer) => {
    if (extractError) return;
    try {
      await sink.write(chunk);
    } catch (err) {
      // The local disk failing is no fault of the archive: stop at once and say so, instead of blaming the mirror.
      if (isDiskError(err)) throw new DiskError(spec, err);
      extractError = err;
    }
  };
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      // A network body ends when its request is aborted; a cached file is read to its end unless stopped here.
      if (signal?.aborted) throw signal.reason;
      digester.update(chunk);
      meter?.add(chunk.length);
      await tee?.write(chunk);
      await feed(chunk);
    }
  } catch (err) {
    sink.abort();
    throw bodyError(err, digester.bytes, size);
  }
  if (!extractError) {
    try {
      await sink.end();
    } catch (err) {
      if (isDiskError(err)) throw new DiskError(spec, err);
      extractError = err;
    }
  }
  meter?.done();
  checkComplete(digester.bytes, size);
  const { sha256 } = digester.finish(spec.src.file);
  if (extractError) {
    const why = spec.expected ? `its ${spec.expected.source} checksum matches, but` : '';
    throw new StageError(
      `${spec.src.file}: ${why} it is not a valid .tar.gz: ${errorMessage(extractError)} (${spec.src.url})`,
      `the mirror publishes a broken file: set ${spec.src.option} to another mirror`,
    );
  }
  return { sha256, bytes: digester.bytes };
}

/** Writing the extracted tree failed for a reason of the local filesystem (full, read-only, no permission). */
export class DiskError extends StageError {
  constructor(spec: ExtractSpec, cause: unknown) {
    super(
      `${spec.src.file}: writing into ${spec.dest} failed: ${errorMessage(cause)}`,
      'free space on that filesystem (df -h), or build the toolkit on another one (--out)',
      { cause },
    );
  }
}

const DISK_CODES = new Set(['ENOSPC', 'EDQUOT', 'EROFS', 'EIO', 'EACCES', 'EPERM', 'EMFILE', 'ENFILE']);

function isDiskError(err: unknown): boolean {
  return DISK_CODES.has((err as NodeJS.ErrnoException | undefined)?.code ?? '');
}

/** Decompressed bytes waiting for the tar reader before gunzip is paused. */
const QUEUE_MAX = 8 << 20;

/**
 * gunzip (zlib, on the thread pool) → tar reader writing files, as a writer with backpressure. zlib runs
 * its next inflate step only after the previous output chunk's handlers return; so the output is queued
 * and written out from setImmediate, letting inflating (thread pool) and file writing (main thread) overlap
 * instead of taking turns. The queue is bounded: past QUEUE_MAX, gunzip pauses.
 */
function extractor(spec: ExtractSpec): { write(chunk: Buffer): Promise<void>; end(): Promise<void>; abort(): void } {
  // A large input buffer lets the transfer run ahead of inflating instead of waiting on it chunk by chunk.
  const opts: ZlibOptions & TransformOptions = { chunkSize: 1 << 18, writableHighWaterMark: 4 << 20 };
  const gunzip = createGunzip(opts);
  const tar = untar({ dest: spec.dest, strip: spec.strip, filter: spec.filter });
  const queue: Buffer[] = [];
  let queued = 0;
  let scheduled = false;
  let ended = false;
  let settle: { resolve: () => void; reject: (err: unknown) => void };
  const done = new Promise<void>((resolve, reject) => {
    settle = { resolve, reject };
  });
  done.catch(() => {}); // observed through write()/end()
  const drain = () => {
    scheduled = false;
    try {
      while (queue.length) {
        const chunk = queue.shift() as Buffer;
        queued -= chunk.length;
        tar.write(chunk);
      }
      if (ended) {
        tar.end();
        settle.resolve();
      } else if (gunzip.isPaused()) gunzip.resume();
    } catch (err) {
      gunzip.destroy(err as Error);
    }
  };
  const schedule = () => {
    if (!scheduled) {
      scheduled = true;
      setImmediate(drain);
    }
  };
  gunzip.on('data', (chunk: Buffer) => {
    queue.push(chunk);
    queued += chunk.length;
    if (queued > QUEUE_MAX) gunzip.pause();
    schedule();
  });
  gunzip.on('end', () => {
    ended = true;
    schedule();
  });
  gunzip.on('error', (err) => {
    queue.length = 0;
    tar.abort();
    settle.reject(err);
  });
  return {
    async write(chunk) {
      if (!gunzip.write(chunk)) await Promise.race([once(gunzip, 'drain'), done]);
    },
    async end() {
      gunzip.end();
      await done;
    },
    abort() {
      gunzip.destroy();
      tar.abort();
    },
  };
}
