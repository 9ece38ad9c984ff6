import { closeSync, constants, linkSync, mkdirSync, openSync, symlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Header, type HeaderData, Pax } from 'tar';

/**
 * A streaming tar reader. Headers and pax/GNU long-name records are decoded by the `tar` package; the
 * state machine is ours so that a consumer can write files with plain synchronous syscalls. node-tar's
 * own Unpack does several thread-pool round trips per file, which makes the ~8,000 small files of a
 * toolkit cost seconds; this reader keeps it to open/write/close per file.
 */
export interface TarEntry {
  /** As in the archive (before any stripping), pax and GNU long names applied. */
  path: string;
  type: string;
  mode: number;
  size: number;
  linkpath: string;
}

/** What a consumer does with an entry's body: receives it in pieces, then `end`. */
export interface EntrySink {
  data(chunk: Buffer): void;
  end(): void;
}

const META_MAX = 1 << 20;

export class TarReader {
  private pending: Buffer | undefined;
  private remain = 0;
  private pad = 0;
  private sink: EntrySink | undefined;
  private meta: { type: string; chunks: Buffer[] } | undefined;
  private ex: HeaderData | undefined;
  private gex: HeaderData | undefined;
  private entries = 0;
  private lastWasNull = false;
  private eof = false;

  constructor(private readonly onEntry: (e: TarEntry) => EntrySink | undefined) {}

  /** Feeds uncompressed tar bytes; throws on a malformed archive (the consumer's errors pass through). */
  write(chunk: Buffer): void {
    let off = 0;
    while (off < chunk.length && !this.eof) {
      if (this.remain > 0) {
        const n = Math.min(this.remain, chunk.length - off);
        const piece = chunk.subarray(off, off + n);
        if (this.meta) this.meta.chunks.push(Buffer.from(piece));
        else this.sink?.data(piece);
        this.remain -= n;
        off += n;
        if (this.remain === 0) this.finishBody();
        continue;
      }
      if (this.pad > 0) {
        const n = Math.min(this.pad, chunk.length - off);
        this.pad -= n;
        off += n;
        continue;
      }
      // A header: 512 bytes, possibly split across chunks (only those bytes are copied, never the chunk).
      if (this.pending) {
        const take = chunk.subarray(off, off + 512 - this.pending.length);
        this.pending = Buffer.concat([this.pending, take]);
        off += take.length;
        if (this.pending.length < 512) return;
        const block = this.pending;
        this.pending = undefined;
        this.header(block);
        continue;
      }
      if (chunk.length - off < 512) {
        this.pending = Buffer.from(chunk.subarray(off));
        return;
      }
      this.header(chunk.subarray(off, off + 512));
      off += 512;
    }
  }

  /** Gives up midway (the transfer failed): releases the open entry, if any. */
  abort(): void {
    const sink = this.sink;
    this.sink = undefined;
    try {
      sink?.end();
    } catch {
      // already failing; the first error is the one reported
    }
  }

  /** The archive ended: it must not stop inside an entry, and must have held something. */
  end(): void {
    if (this.remain > 0 || this.pending) throw new Error('truncated tar archive');
    if (this.entries === 0) throw new Error('not a tar archive (no entries)');
  }

  private header(block: Buffer): void {
    const h = new Header(block, 0, this.ex, this.gex);
    if (h.nullBlock) {
      // Two zero blocks end the archive (what follows is record padding).
      this.eof = this.lastWasNull;
      this.lastWasNull = true;
      return;
    }
    this.lastWasNull = false;
    if (!h.cksumValid) throw new Error('tar header checksum mismatch (damaged archive)');
    const size = h.size ?? 0;
    if (!Number.isSafeInteger(size) || size < 0) throw new Error('tar header with an invalid size');
    this.remain = size;
    this.pad = (512 - (size % 512)) % 512;
    const type = h.type;
    if (
      type === 'ExtendedHeader' ||
      type === 'GlobalExtendedHeader' ||
      type === 'NextFileHasLongPath' ||
      type === 'OldGnuLongPath' ||
      type === 'NextFileHasLongLinkpath'
    ) {
      if (size > META_MAX) throw new Error(`tar ${type} record of ${size} bytes`);
      this.meta = { type, chunks: [] };
    } else {
      // Header joins a ustar prefix onto a pax path; the pax (or GNU long) name alone is the name.
      const path = this.ex?.path ?? h.path;
      const linkpath = this.ex?.linkpath ?? h.linkpath ?? '';
      this.ex = undefined;
      this.entries++;
      if (!path) throw new Error('tar entry without a path');
      this.sink = this.onEntry({ path, type, mode: (h.mode ?? 0o644) & 0o7777, size, linkpath });
    }
    if (size === 0) this.finishBody();
  }

  private finishBody(): void {
    if (this.meta) {
      const text = Buffer.concat(this.meta.chunks).toString('utf8');
      const { type } = this.meta;
      this.meta = undefined;
      if (type === 'ExtendedHeader') this.ex = Pax.parse(text, this.ex, false);
      else if (type === 'GlobalExtendedHeader') this.gex = Pax.parse(text, this.gex, true);
      else if (type === 'NextFileHasLongLinkpath') this.ex = { ...this.ex, linkpath: text.replace(/\0.*/s, '') };
      else this.ex = { ...this.ex, path: text.replace(/\0.*/s, '') };
      return;
    }
    const sink = this.sink;
    this.sink = undefined;
    sink?.end();
  }
}

export interface ExtractOptions {
  dest: string;
  /** Leading path components to drop (entries with fewer are skipped), like tar --strip-components. */
  strip: number;
  /** Gets the archive path (before stripping); false skips the entry. */
  filter?: (path: string, type: string) => boolean;
}

const O_WRITE = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW;

/**
 * Extracts into `dest` (expected fresh): files, directories, symlinks and hardlinks. Paths that are
 * absolute, climb with `..`, or lead through a symlink the archive made are errors, so an archive can
 * only write inside `dest`. Modes are kept (less the umask); owners and mtimes are not.
 */
export function extractor(opts: ExtractOptions): TarReader {
  mkdirSync(opts.dest, { recursive: true });
  const made = new Set<string>(['']);
  const links = new Set<string>();
  const mkdirs = (rel: string) => {
    if (made.has(rel)) return;
    mkdirSync(join(opts.dest, rel), { recursive: true });
    for (let p = rel; p && !made.has(p); p = parent(p)) made.add(p);
  };
  const safe = (raw: string, what: string): string | undefined => {
    const parts = raw.split('/').filter((p) => p !== '' && p !== '.');
    if (raw.startsWith('/') || parts.includes('..')) throw new Error(`unsafe ${what} in archive: ${raw}`);
    if (parts.length <= opts.strip) return undefined;
    const rel = parts.slice(opts.strip).join('/');
    for (let p = parent(rel); p; p = parent(p))
      if (links.has(p)) throw new Error(`archive entry ${raw} leads through a symlink`);
    return rel;
  };
  return new TarReader((e) => {
    if (opts.filter && !opts.filter(e.path, e.type)) return undefined;
    const rel = safe(e.path, 'path');
    if (rel === undefined) return undefined;
    const abs = join(opts.dest, rel);
    switch (e.type) {
      case 'Directory':
        mkdirs(rel);
        return undefined;
      case 'SymbolicLink':
        mkdirs(parent(rel));
        symlinkSync(e.linkpath, abs);
        links.add(rel);
        return undefined;
      case 'Link': {
        const target = safe(e.linkpath, 'hardlink target');
        if (target === undefined) throw new Error(`hardlink ${e.path} points outside the extracted tree`);
        mkdirs(parent(rel));
        linkSync(join(opts.dest, target), abs);
        return undefined;
      }
      case 'File':
      case 'OldFile':
      case 'ContiguousFile': {
        mkdirs(parent(rel));
        const fd = openSync(abs, O_WRITE, e.mode & 0o777);
        return {
          data: (chunk) => {
            for (let off = 0; off < chunk.length; ) off += writeSync(fd, chunk, off, chunk.length - off);
          },
          end: () => closeSync(fd),
        };
      }
      default:
        throw new Error(`unsupported tar entry type ${e.type} for ${e.path}`);
    }
  });
}

function parent(rel: string): string {
  const i = rel.lastIndexOf('/');
  return i < 0 ? '' : rel.slice(0, i);
}
