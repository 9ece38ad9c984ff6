import { spawn } from 'node:child_process';

/** The archive format of the Node.js tarballs: nodejs.org and unofficial-builds publish both, in one SHASUMS256.txt. */
export type ArchiveFormat = 'gz' | 'xz';
/** `auto` measures the line during the build; `gz` and `xz` are for tests and for users who know their line. */
export type FormatMode = 'auto' | ArchiveFormat;

/** Which format the Node.js tarballs were fetched in, and why: recorded in toolkit.json and in a check. */
export interface FormatChoice {
  format: ArchiveFormat;
  why: string;
  /** The line as measured on the first tarball (absent when nothing had to be measured). */
  line?: { file: string; bytes: number; ms: number; bytesPerSecond: number };
}

/**
 * Below this rate (bytes per second, over all the connections a large archive gets: see RangedBody) the smaller
 * .tar.xz wins; above it, decoding xz becomes the
 * slower part and the .tar.gz wins. A Node.js distribution's .tar.gz is ~1.6× its .tar.xz; `xz -dc -T0` (a child,
 * on the other core, several threads for multi-block archives) takes about 16 MB/s of input on this 2-core
 * machine, against zlib's 30–40: the costs meet at ~26 MB/s. Measured side by side (BENCHMARKS.md, loaded
 * machine): at 20 MB/s per connection xz took 5.5 s where gz took 7.4 s; on loopback gz 4.2 s, xz 9.8 s. The
 * threshold sits above the meeting point because choosing gz on a slow line costs far more (60% more bytes)
 * than choosing xz on a fast one. Since large archives come over 4 connections, a 20 MB/s-per-connection line
 * measures ~40-60 MB/s and gets .tar.gz; a shared line measures what it is, however many connections share it.
 */
export const XZ_BELOW_BYTES_PER_SECOND = 32e6;
/** The probe: decide once this much has arrived, or after PROBE_MS with at least PROBE_MIN_BYTES. */
// Timed from the request, a probe pays the line's start-up (a round trip, the server opening the file) once:
// 8 MB keep that cost small next to a fast line's transfer, and cost 8 MB of memory for a moment.
export const PROBE_BYTES = 8 << 20;
export const PROBE_MS = 1000;
export const PROBE_MIN_BYTES = 128 << 10;

/** What one download measures while it holds its first bytes back, and whom it tells. */
export interface Probe {
  bytes: number;
  ms: number;
  minBytes: number;
  /** Called once with what arrived (timed from the request); returns the format to go on with. */
  decide(m: { file: string; bytes: number; ms: number; ended: boolean; connections?: number }): ArchiveFormat;
}

/**
 * One decision per build: the first Node.js tarball that has to come over the network is fetched as .tar.xz
 * and its first bytes measure the line (a fast line then costs one extra request of a few MB; a slow one
 * wastes nothing); every other tarball waits for the verdict. `fixed` skips the measurement.
 */
export class FormatChooser {
  private settled: FormatChoice | undefined;
  private probing = false;
  private readonly waiters: ((c: FormatChoice) => void)[] = [];
  /** Told the verdict the moment there is one (the build reports it while the downloads go on). */
  onSettle?: (c: FormatChoice) => void;

  constructor(
    fixed?: FormatChoice,
    private readonly xzBelow = XZ_BELOW_BYTES_PER_SECOND,
    /** Why xz cannot be used here, if so; asked only when a tarball has to be fetched (a warm build never asks). */
    private readonly xzMissing: () => Promise<string | undefined> = async () => undefined,
  ) {
    this.settled = fixed;
  }

  get choice(): FormatChoice | undefined {
    return this.settled;
  }

  /** The format to fetch in, with a probe for the caller that is to measure the line. */
  async claim(): Promise<{ format: ArchiveFormat; probe?: Probe }> {
    if (this.settled) return { format: this.settled.format };
    if (!this.probing) {
      this.probing = true;
      const missing = await this.xzMissing();
      if (missing) {
        this.settle({ format: 'gz', why: `${missing}: .tar.gz` });
        return { format: 'gz' };
      }
      return {
        format: 'xz',
        probe: {
          bytes: PROBE_BYTES,
          ms: PROBE_MS,
          minBytes: PROBE_MIN_BYTES,
          decide: (m) => {
            if (this.settled) return this.settled.format;
            const rate = m.ms > 0 ? (m.bytes * 1000) / m.ms : Number.POSITIVE_INFINITY;
            const line = {
              file: m.file,
              bytes: m.bytes,
              ms: Math.round(m.ms),
              bytesPerSecond: Math.round(Math.min(rate, 1e12)),
            };
            const over = (m.connections ?? 1) > 1 ? ` over ${m.connections} connections` : '';
            const measured = `${mbps(rate)} measured from asking for ${m.file} to its first ${(m.bytes / 1e6).toFixed(1)} MB${m.ended ? ' (all of it)' : ''}${over}`;
            const c: FormatChoice =
              rate < this.xzBelow
                ? {
                    format: 'xz',
                    why: `the line is the bottleneck: ${measured}, below ${mbps(this.xzBelow)}; fewer bytes beat faster decoding`,
                    line,
                  }
                : {
                    format: 'gz',
                    why: `the CPU is the bottleneck: ${measured}, at or above ${mbps(this.xzBelow)}; gzip decodes faster than xz`,
                    line,
                  };
            this.settle(c);
            return c.format;
          },
        },
      };
    }
    return { format: (await new Promise<FormatChoice>((resolve) => this.waiters.push(resolve))).format };
  }

  /** Settles without a measurement (the probe could not be made: no .tar.xz on the mirror, a cached archive...). */
  settle(c: FormatChoice): void {
    if (this.settled) return;
    this.settled = c;
    this.onSettle?.(c);
    for (const w of this.waiters.splice(0)) w(c);
  }
}

/** Thrown by the probing download when the verdict is the other format: the caller fetches that one instead. */
export class FormatSwitch extends Error {
  override readonly name = 'FormatSwitch';
  constructor(readonly format: ArchiveFormat) {
    super(`switching to .tar.${format}`);
  }
}

const mbps = (bytesPerSecond: number) => `${(bytesPerSecond / 1e6).toFixed(1)} MB/s`;

let xzProbe: Promise<string | undefined> | undefined;

/** The xz decoder, once per process: undefined when there is one, else why not. */
export function xzMissing(): Promise<string | undefined> {
  xzProbe ??= new Promise((resolve) => {
    const child = spawn('xz', ['--version'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.on('error', (err: NodeJS.ErrnoException) =>
      resolve(err.code === 'ENOENT' ? 'xz is not installed (no xz on PATH)' : `xz does not start (${err.message})`),
    );
    child.on('close', (code) => resolve(code === 0 && /xz/i.test(out) ? undefined : `xz --version exited ${code}`));
  });
  return xzProbe;
}
