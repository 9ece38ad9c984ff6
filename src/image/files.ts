import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { posix } from 'node:path';
import type Dockerode from 'dockerode';
import { Parser, type ReadEntry } from 'tar';
import type { StageContext } from '../core/context.js';
import { docker } from '../core/docker.js';
import type { LedgerEntry } from '../core/ledger.js';

/** Label on every container validation creates, so a leak is findable (`docker ps -a --filter label=memoh.validate`). */
export const VALIDATE_LABEL = 'memoh.validate';

export type FileKind = 'file' | 'dir' | 'symlink' | 'other';

/** What the engine's archive API says about one path, without following a final symlink. */
export interface PathStat {
  path: string;
  kind: FileKind;
  /** Permission bits (0o7777). */
  perm: number;
  size: number;
  /** Go's os.FileMode bits as the engine's stat header carries them (its String() is what a bridge Stat shows). */
  mode: number;
  /** For a symlink: the target as the engine reports it (Docker: fully resolved inside the rootfs). */
  linkTarget?: string;
}

/** A file's first bytes, read like open(2) would: through symlinks. */
type FileRead =
  | { kind: 'file'; path: string; bytes: Buffer; size: number; chain: string[] }
  | { kind: 'missing' | 'dir' | 'other'; path: string; chain: string[] };

/** A tar header of an entry under a listed path. */
interface EntryInfo {
  path: string;
  kind: FileKind;
  perm: number;
  uid: number;
  gid: number;
}

// Go's os.FileMode bits as the stat header carries them (a uint32).
const bit = (mode: number, n: number): boolean => ((mode >>> n) & 1) === 1;
const MAX_HOPS = 16;

/**
 * Reads an image's files without running it: a container is created (never started) and paths are
 * read through the engine's archive API. The container is in the ledger before the engine is even
 * asked to create it (by its name), so an interrupt at any moment cannot leak it.
 */
export class ImageFiles {
  /** Our own signal, following the stage's: a dozen concurrent requests each listen on it. */
  private readonly abort = new AbortController();
  private readonly signal = this.abort.signal;
  private readonly follow = () => this.abort.abort(this.ctx.signal.reason);

  private constructor(
    private readonly container: Dockerode.Container,
    private readonly entry: LedgerEntry,
    private readonly ctx: StageContext,
  ) {
    setMaxListeners(64, this.signal);
    if (ctx.signal.aborted) this.follow();
    else ctx.signal.addEventListener('abort', this.follow, { once: true });
  }

  static async open(imageId: string, ctx: StageContext): Promise<ImageFiles> {
    ctx.signal.throwIfAborted();
    const name = `memoh-validate-${randomBytes(6).toString('hex')}`;
    const entry: LedgerEntry = { kind: 'container', id: name, name };
    ctx.ledger.add(entry);
    try {
      // No abort signal here: the create must finish (or fail) before anyone removes by name, or the
      // engine could create it after the removal and leak it. Creating takes milliseconds.
      const container = await docker().createContainer({
        name,
        Image: imageId,
        Entrypoint: [''],
        Cmd: ['/nonexistent'],
        Labels: { [VALIDATE_LABEL]: '1', [`${VALIDATE_LABEL}.pid`]: String(process.pid) },
        NetworkDisabled: true,
        HostConfig: { NetworkMode: 'none' },
      });
      return new ImageFiles(container, entry, ctx);
    } catch (err) {
      await ctx.ledger.release(entry).catch(() => {});
      throw err;
    }
  }

  /** Removes the container (always call it; the ledger is the safety net). */
  async close(): Promise<void> {
    this.ctx.signal.removeEventListener('abort', this.follow);
    await this.ctx.ledger.release(this.entry);
  }

  /** lstat: undefined when the path does not exist. */
  async lstat(path: string): Promise<PathStat | undefined> {
    let res: IncomingMessage;
    try {
      res = (await this.container.infoArchive({ path, abortSignal: this.signal })) as IncomingMessage;
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return undefined;
      throw err;
    }
    res.resume();
    const raw = res.headers['x-docker-container-path-stat'];
    if (typeof raw !== 'string') throw new Error(`the engine sent no path stat for ${path}`);
    const s = JSON.parse(Buffer.from(raw, 'base64').toString('utf8')) as {
      size: number;
      mode: number;
      linkTarget?: string;
    };
    return {
      path,
      kind: goKind(s.mode),
      perm: goPerm(s.mode),
      size: s.size,
      mode: s.mode >>> 0,
      ...(s.linkTarget ? { linkTarget: s.linkTarget } : {}),
    };
  }

  /**
   * stat: follows symlinks inside the image's rootfs (absolute targets from the rootfs root,
   * relative ones from the link's directory), bounded against loops. `chain` lists every hop.
   */
  async stat(path: string): Promise<{ stat?: PathStat; chain: string[] }> {
    const chain = [path];
    let current = path;
    for (let hop = 0; hop <= MAX_HOPS; hop++) {
      const s = await this.lstat(current);
      if (s?.kind !== 'symlink') return s ? { stat: s, chain } : { chain };
      // Docker reports the target already resolved in scope; other engines may give the raw link text.
      const target = s.linkTarget ?? '';
      if (!target) return { stat: s, chain };
      const next = posix.resolve(posix.dirname(current), target);
      if (next === current) return { stat: s, chain };
      chain.push(next);
      current = next;
    }
    throw new Error(`${path}: more than ${MAX_HOPS} symlinks (a loop?)`);
  }

  /**
   * Up to `maxBytes` of a file's contents, following symlinks as stat() does (the archive API itself would
   * hand over the link, not what it points at).
   */
  async readFile(path: string, maxBytes: number): Promise<FileRead> {
    const { stat, chain } = await this.stat(path);
    if (!stat || stat.kind === 'symlink') return { kind: 'missing', path, chain };
    if (stat.kind !== 'file') return { kind: stat.kind === 'dir' ? 'dir' : 'other', path, chain };
    const stream = (await this.container.getArchive({ path: stat.path, abortSignal: this.signal })) as IncomingMessage;
    const parts: Buffer[] = [];
    let have = 0;
    await new Promise<void>((resolve, reject) => {
      let done = false;
      const finish = (err?: Error) => {
        if (done) return;
        done = true;
        stream.unpipe(parser);
        stream.destroy();
        if (err) reject(err);
        else resolve();
      };
      const parser = new Parser({
        onReadEntry: (e: ReadEntry) => {
          // The archive of one file holds that file alone; only its bytes up to the bound are kept.
          e.on('data', (chunk: Buffer) => {
            if (have >= maxBytes) return;
            const take = chunk.subarray(0, maxBytes - have);
            parts.push(take);
            have += take.length;
            if (have >= maxBytes) finish();
          });
          e.on('end', () => finish());
        },
      });
      parser.on('end', () => finish());
      parser.on('error', (err: Error) => finish(err));
      stream.on('error', (err) => finish(err));
      stream.pipe(parser);
    });
    return { kind: 'file', path, bytes: Buffer.concat(parts), size: stat.size, chain };
  }

  /**
   * Headers of the entries of a path's archive (the path itself first), reading no more than
   * `maxEntries` headers or `maxBytes` of the stream: a directory like /usr/lib is large.
   */
  async entries(
    path: string,
    maxEntries: number,
    maxBytes = 64 * 1024 * 1024,
  ): Promise<{ entries: EntryInfo[]; complete: boolean }> {
    const stream = (await this.container.getArchive({ path, abortSignal: this.signal })) as IncomingMessage;
    const entries: EntryInfo[] = [];
    return new Promise((resolve, reject) => {
      let bytes = 0;
      let done = false;
      const finish = (complete: boolean) => {
        if (done) return;
        done = true;
        stream.unpipe(parser);
        stream.destroy();
        resolve({ entries, complete });
      };
      const parser = new Parser({
        onReadEntry: (e: ReadEntry) => {
          e.resume();
          if (done) return;
          // One header past the bound says there is more; only then is the listing incomplete.
          if (entries.length >= maxEntries) return finish(false);
          entries.push({
            path: e.path,
            kind: tarKind(e.type),
            perm: (e.mode ?? 0) & 0o7777,
            uid: e.uid ?? 0,
            gid: e.gid ?? 0,
          });
        },
      });
      parser.on('end', () => finish(true));
      parser.on('error', (err: Error) => {
        if (!done) {
          done = true;
          stream.destroy();
          reject(err);
        }
      });
      stream.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        if (bytes > maxBytes) finish(false);
      });
      stream.on('error', (err) => {
        if (!done) {
          done = true;
          reject(err);
        }
      });
      stream.pipe(parser);
    });
  }
}

function goKind(mode: number): FileKind {
  if (bit(mode, 31)) return 'dir';
  if (bit(mode, 27)) return 'symlink';
  // device, named pipe, socket, char device, irregular
  if ([26, 25, 24, 21, 19].some((n) => bit(mode, n))) return 'other';
  return 'file';
}

function goPerm(mode: number): number {
  return (mode & 0o777) | (bit(mode, 23) ? 0o4000 : 0) | (bit(mode, 22) ? 0o2000 : 0) | (bit(mode, 20) ? 0o1000 : 0);
}

function tarKind(type: string): FileKind {
  if (type === 'File' || type === 'OldFile' || type === 'ContiguousFile' || type === 'Link') return 'file';
  if (type === 'Directory') return 'dir';
  if (type === 'SymbolicLink') return 'symlink';
  return 'other';
}
