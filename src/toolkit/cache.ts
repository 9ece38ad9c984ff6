import { randomBytes } from 'node:crypto';
import {
  copyFileSync,
  createWriteStream,
  linkSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readlinkSync,
  symlinkSync,
} from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Expected } from './checksum.js';

/**
 * The local cache: `archives/<algo>-<hex>` holds verified downloads (looked up by the digest the source
 * publishes, re-verified on use), `toolkits/<key>/` holds finished toolkits. A warm build hardlinks a
 * finished toolkit into place, which takes milliseconds where copying ~300 MB takes about a second.
 * Each toolkit entry has a description (size, mtime and mode of every file) checked before use, so an
 * entry changed through one of its hardlinks is noticed and rebuilt instead of spread.
 */
/** A temp entry untouched this long belongs to a build that was killed (an active one keeps writing). */
const STALE_MS = 15 * 60_000;

/** Removes the `.tmp-*` leftovers of killed builds, so a SIGKILL costs disk only until the next build. */
async function sweepStale(dir: string): Promise<void> {
  const now = Date.now();
  for (const name of readdirSync(dir)) {
    if (!name.startsWith('.tmp-')) continue;
    const p = join(dir, name);
    const st = await stat(p).catch(() => undefined);
    if (st && now - st.mtimeMs > STALE_MS) await rm(p, { recursive: true, force: true }).catch(() => {});
  }
}

export class ArchiveCache {
  constructor(readonly dir: string) {}

  private path(e: Expected): string {
    return join(this.dir, `${e.algo}-${e.hex}`);
  }

  async lookup(e: Expected): Promise<string | undefined> {
    const p = this.path(e);
    return (await stat(p).then(
      (st) => st.isFile(),
      () => false,
    ))
      ? p
      : undefined;
  }

  /** A temp file the download is teed into; committed under its digest once verified. Never fails a build. */
  async writer(): Promise<{
    write(chunk: Buffer): Promise<void>;
    commit(e: Expected): Promise<void>;
    discard(): Promise<void>;
  }> {
    await mkdir(this.dir, { recursive: true });
    await sweepStale(this.dir);
    const tmp = join(this.dir, `.tmp-${randomBytes(6).toString('hex')}`);
    // Buffered generously: with the default 16 KB every network chunk would wait for its disk write.
    const out = createWriteStream(tmp, { highWaterMark: 8 << 20 });
    let failed = false;
    out.on('error', () => {
      failed = true;
    });
    return {
      write: async (chunk) => {
        if (failed) return;
        if (!out.write(chunk)) {
          await new Promise<void>((resolve) => {
            const done = () => {
              out.off('drain', done);
              out.off('error', done);
              resolve();
            };
            out.on('drain', done);
            out.on('error', done);
          });
        }
      },
      commit: async (e) => {
        if (!failed) {
          await new Promise<void>((resolve) => out.end(resolve));
          if (!failed) {
            await rename(tmp, this.path(e)).catch(() => {});
          }
        }
      },
      discard: async () => {
        out.destroy();
        await rm(tmp, { force: true });
      },
    };
  }
}

/**
 * A finished toolkit in the cache: `tree` (one JSON line per path) and `files/<n>`, the toolkit's files
 * hardlinked flat. Flat, because storing costs one link per file and not one mkdir per directory as well
 * (a Node distribution has ~1,800 directories, and mkdir is the slowest of these syscalls by far).
 */
export interface CachedToolkit {
  dir: string;
  tree: TreeEntry[];
  /** Where the entry keeps the toolkit's toolkit.json. */
  manifest: string;
}

/** A directory, a symlink (target), or a file (size, mtime, mode, number in files/). */
export type TreeEntry = ['d', string] | ['l', string, string] | ['f', string, number, number, number, number];

export class ToolkitCache {
  constructor(readonly dir: string) {}

  /** The entry for `key` if it is present and every file is as it was stored; a changed entry is dropped. */
  async lookup(key: string): Promise<CachedToolkit | undefined> {
    const dir = join(this.dir, key);
    let text: string;
    try {
      text = await readFile(join(dir, 'tree'), 'utf8');
    } catch {
      return undefined;
    }
    try {
      const tree = text
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as TreeEntry);
      const manifest = cachedFile({ dir, tree }, 'toolkit.json');
      if (manifest && unchanged(dir, tree)) return { dir, tree, manifest };
    } catch {
      // unreadable or damaged: treated as changed
    }
    await rm(dir, { recursive: true, force: true });
    return undefined;
  }

  /** Stores a finished toolkit (its files hardlinked, so nearly free). A cache failure is only reported. */
  async store(key: string, src: string): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await sweepStale(this.dir);
    const tmp = join(this.dir, `.tmp-${key}-${randomBytes(4).toString('hex')}`);
    try {
      mkdirSync(join(tmp, 'files'), { recursive: true });
      const copy = { on: false };
      let n = 0;
      const tree = describeTree(src, (e) => {
        if (e[0] !== 'f') return;
        e[5] = n++;
        linkOrCopy(join(src, e[1]), join(tmp, 'files', String(e[5])), copy);
      });
      await writeFile(join(tmp, 'tree'), `${tree.map((e) => JSON.stringify(e)).join('\n')}\n`);
      // Another build may have stored the same toolkit meanwhile, and may be linking from it: keep that one.
      if (await this.lookup(key)) return;
      const entry = join(this.dir, key);
      await rm(entry, { recursive: true, force: true });
      await rename(tmp, entry).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') throw err;
      });
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }
}

/** Where a cached toolkit keeps the file that is `rel` in the toolkit. */
function cachedFile(hit: Pick<CachedToolkit, 'dir' | 'tree'>, rel: string): string | undefined {
  const e = hit.tree.find((x) => x[1] === rel);
  return e?.[0] === 'f' ? join(hit.dir, 'files', String(e[5])) : undefined;
}

/** Whether `dir` already is exactly the cached toolkit (same paths, sizes, mtimes and modes). */
export function sameTree(hit: CachedToolkit, dir: string): boolean {
  try {
    const now = describeTree(dir);
    return (
      now.length === hit.tree.length &&
      now.every((e, i) => JSON.stringify(e.slice(0, 5)) === JSON.stringify(hit.tree[i]?.slice(0, 5)))
    );
  } catch {
    return false;
  }
}

/** Recreates a cached toolkit at `dest` from its stored description: hardlinks, no directory scans. */
export function materialise(hit: CachedToolkit, dest: string): void {
  mkdirSync(dest, { recursive: true });
  const copy = { on: false };
  for (const e of hit.tree) {
    const to = join(dest, e[1]);
    if (e[0] === 'd') mkdirSync(to);
    else if (e[0] === 'l') symlinkSync(e[2], to);
    else linkOrCopy(join(hit.dir, 'files', String(e[5])), to, copy);
  }
}

// The tree functions below use synchronous syscalls on purpose: they run when nothing else is in flight,
// and a sync lstat/link costs microseconds where a thread-pool round trip costs tens of them (×8,000 files).

/** Walks `root` in name order; `each` sees every entry as it is described (files numbered -1, for it to set). */
function describeTree(root: string, each?: (e: TreeEntry) => void): TreeEntry[] {
  const out: TreeEntry[] = [];
  const visit = (rel: string): void => {
    const entries = readdirSync(join(root, rel), { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const d of entries) {
      const r = rel ? `${rel}/${d.name}` : d.name;
      const p = join(root, r);
      let e: TreeEntry | undefined;
      if (d.isDirectory()) e = ['d', r];
      else if (d.isSymbolicLink()) e = ['l', r, readlinkSync(p)];
      else if (d.isFile()) {
        const st = lstatSync(p);
        e = ['f', r, st.size, Math.trunc(st.mtimeMs), st.mode & 0o7777, -1];
      }
      if (!e) continue;
      each?.(e);
      out.push(e);
      if (e[0] === 'd') visit(r);
    }
  };
  visit('');
  return out;
}

/** Checks the stored files without scanning directories: what a warm build links must be what was stored. */
function unchanged(entry: string, tree: TreeEntry[]): boolean {
  for (const e of tree) {
    if (e[0] !== 'f') continue;
    const st = lstatSync(join(entry, 'files', String(e[5])), { throwIfNoEntry: false });
    if (!st?.isFile() || st.size !== e[2] || Math.trunc(st.mtimeMs) !== e[3] || (st.mode & 0o7777) !== e[4])
      return false;
  }
  return true;
}

/** Recreates `src` at `dest` with every regular file hardlinked (copied across filesystems). */
export function linkTree(src: string, dest: string): void {
  mkdirSync(dest, { recursive: true });
  const copy = { on: false };
  const visit = (rel: string): void => {
    for (const e of readdirSync(join(src, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      const from = join(src, r);
      const to = join(dest, r);
      if (e.isDirectory()) {
        mkdirSync(to);
        visit(r);
      } else if (e.isSymbolicLink()) symlinkSync(readlinkSync(from), to);
      else if (e.isFile()) linkOrCopy(from, to, copy);
    }
  };
  visit('');
}

function linkOrCopy(from: string, to: string, copy: { on: boolean }): void {
  if (!copy.on) {
    try {
      linkSync(from, to);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
      copy.on = true;
    }
  }
  copyFileSync(from, to);
}
