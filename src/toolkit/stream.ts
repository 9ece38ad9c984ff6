import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createReadStream } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import { Duplex, type Readable, type TransformOptions } from 'node:stream';
import { createGunzip, type ZlibOptions } from 'node:zlib';
import { errorMessage, StageError } from '../core/errors.js';
import { BlockedClock, lineMs } from './blocked.js';
import type { ArchiveCache } from './cache.js';
import { Digester, type Expected } from './checksum.js';
import { bodyError, checkComplete, type Fetcher, type Meter, type Source } from './fetch.js';
import { type ArchiveFormat, FormatSwitch, type Probe } from './format.js';
import { RangedBody } from './ranged.js';
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
  /** How the tar is compressed; default gz. */
  format?: ArchiveFormat;
  /** This download measures the line: its first bytes are held back and timed, then `probe.decide` says go on or switch. */
  probe?: Probe;
}

export interface Streamed {
  sha256: string;
  bytes: number;
  fromCache: boolean;
}

/**
 * Downloads a .tar.gz or .tar.xz and extracts it while it arrives: one pass through hash, decompression (zlib
 * on the thread pool, or an `xz -dc` child on another core) and tar, with backpressure end to end, so no
 * archive is ever held in memory (only a probe's first 8 MB, while it times the line). The digest is
 * checked when the last byte has gone through, before the caller moves anything into place. A verified
 * download is also kept in the archive cache, and a cached archive is re-verified on every use.
 */
export async function fetchAndExtract(f: Fetcher, spec: ExtractSpec, cache?: ArchiveCache): Promise<Streamed> {
  const cached = spec.expected && cache ? await cache.lookup(spec.expected) : undefined;
  if (cached) {
    try {
      const size = (await stat(cached)).size;
      const r = await extractOnce(spec, createReadStream(cached, { highWaterMark: 1 << 20 }), size, {
        signal: f.signal,
      });
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
    // A probe times the whole request, from asking to the bytes it holds: a line's latency is part of its cost,
    // and an instant taken before anything is sent cannot be late, as a first byte read by a busy process can.
    const asked = spec.probe ? { at: performance.now(), blocked: new BlockedClock().start() } : undefined;
    try {
      const { body, size } = await f.stream(spec.src);
      const r = await extractOnce(spec, body, size, {
        tee: keep,
        meter: f.meter(spec.src, size),
        probe: spec.probe,
        asked,
      });
      if (keep && spec.expected) await keep.commit(spec.expected);
      return { ...r, fromCache: false };
    } finally {
      asked?.blocked.stop();
      await keep?.discard();
    }
  });
}

async function extractOnce(
  spec: ExtractSpec,
  body: Readable,
  size: number | undefined,
  {
    tee,
    meter,
    signal,
    probe,
    asked,
  }: {
    tee?: { write(chunk: Buffer): Promise<void> };
    meter?: Meter;
    signal?: AbortSignal;
    probe?: Probe;
    asked?: { at: number; blocked: BlockedClock };
  },
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
  const ranged = body instanceof RangedBody ? body : undefined;
  const received = () => ranged?.received ?? 0;
  // While probing, chunks are only counted and held: the time they take to arrive is the line's alone, not
  // the decoder's (whose backpressure would otherwise slow the transfer it is meant to measure).
  let held: Buffer[] | undefined = probe ? [] : undefined;
  let heldBytes = 0;
  const firstAt = asked?.at ?? performance.now();
  const blocked = asked?.blocked;
  const verdict = async (ended: boolean) => {
    const chunks = held ?? [];
    held = undefined;
    // Time this process could not read (its own synchronous work, or the machine's load) is not the line's
    // (see lineMs: overrated 1.5× at most, never past the threshold for a line of 5 MB/s).
    const ms = performance.now() - firstAt;
    const line = lineMs(ms, blocked?.stop() ?? 0);
    // Over several connections the line is what all of them delivered, not only the bytes already in order.
    const bytes = Math.max(heldBytes, received());
    const format =
      probe?.decide({ file: spec.src.file, bytes, ms: line, ended, connections: ranged?.connections ?? 1 }) ??
      spec.format;
    // A body that already arrived whole is kept, whatever the verdict.
    if (!ended && format !== (spec.format ?? 'gz')) throw new FormatSwitch(format ?? 'gz');
    for (const c of chunks) await feed(c);
  };
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      // A network body ends when its request is aborted; a cached file is read to its end unless stopped here.
      if (signal?.aborted) throw signal.reason;
      digester.update(chunk);
      meter?.add(chunk.length);
      await tee?.write(chunk);
      if (held && probe) {
        held.push(chunk);
        heldBytes += chunk.length;
        const ms = performance.now() - firstAt;
        const got = Math.max(heldBytes, received());
        // Several connections pay their round trips at the start: measured over twice the bytes, the rate
        // is the line's sustained one, not mostly latency.
        if (got >= probe.bytes * ((ranged?.connections ?? 1) > 1 ? 2 : 1) || (ms >= probe.ms && got >= probe.minBytes))
          await verdict(false);
        continue;
      }
      await feed(chunk);
    }
    if (held) await verdict(true);
  } catch (err) {
    blocked?.stop();
    sink.abort();
    if (err instanceof FormatSwitch || err instanceof DiskError) throw err;
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
      `${spec.src.file}: ${why} it is not a valid .tar.${spec.format ?? 'gz'}: ${errorMessage(extractError)} (${spec.src.url})`,
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
 * `xz -dc` as a child process, as a Duplex: compressed bytes in, tar bytes out, backpressure both ways. A child
 * and not an npm decoder: the one pure-JS/WASM streaming decoder that works on Node 20 (xz-decompress) decodes
 * on the main thread, about 1.4× slower than xz here, and serialises every decode in the process behind one
 * global lock (the glibc and musl tarballs arrive together); native bindings either need Node ≥ 22 or cannot
 * ride in the Action's single-file bundle. xz runs beside us on another core, multi-threaded where the archive
 * has several blocks. Its exit status is the verdict: the stream only ends after xz exited 0.
 */
function xzDecoder(): Duplex {
  const child = spawn('xz', ['-dc', '-T0', '-q'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => {
    if (stderr.length < 4096) stderr += c.toString();
  });
  // EPIPE when xz quit early: its exit status and stderr say why, through 'close' below.
  child.stdin.on('error', () => {});
  const d = new Duplex({
    writableHighWaterMark: 4 << 20,
    readableHighWaterMark: 1 << 20,
    write(chunk: Buffer, _enc, cb) {
      if (child.stdin.write(chunk)) cb();
      else child.stdin.once('drain', () => cb());
    },
    final(cb) {
      child.stdin.end();
      cb();
    },
    read() {
      child.stdout.resume();
    },
    destroy(err, cb) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      cb(err);
    },
  });
  child.stdout.on('data', (c: Buffer) => {
    if (!d.push(c)) child.stdout.pause();
  });
  child.on('error', (err) => d.destroy(new Error(`xz -dc does not start: ${err.message}`)));
  child.on('close', (code, sig) => {
    if (d.destroyed) return;
    if (code === 0) d.push(null);
    else d.destroy(new Error(`xz -dc: ${stderr.trim().replace(/^xz: \(stdin\): /, '') || `exited ${code ?? sig}`}`));
  });
  return d;
}

/**
 * gunzip (zlib, on the thread pool) or xz → tar reader writing files, as a writer with backpressure. zlib runs
 * its next inflate step only after the previous output chunk's handlers return; so the output is queued
 * and written out from setImmediate, letting inflating (thread pool) and file writing (main thread) overlap
 * instead of taking turns. The queue is bounded: past QUEUE_MAX, gunzip pauses.
 */
function extractor(spec: ExtractSpec): { write(chunk: Buffer): Promise<void>; end(): Promise<void>; abort(): void } {
  // A large input buffer lets the transfer run ahead of inflating instead of waiting on it chunk by chunk.
  const opts: ZlibOptions & TransformOptions = { chunkSize: 1 << 18, writableHighWaterMark: 4 << 20 };
  const gunzip: Duplex = spec.format === 'xz' ? xzDecoder() : createGunzip(opts);
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
