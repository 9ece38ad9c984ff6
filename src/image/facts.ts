import type { Arch } from '../core/platform.js';
import { BRIDGE_IN_CONTAINER, RUNTIME_MOUNT, SOCKET_MOUNT } from '../era/index.js';
import { CONTRACT_PATH, CONTRACT_READ_LIMIT, type ContractRead } from './contract.js';
import type { FileKind, ImageFiles, PathStat } from './files.js';
import type { Libc } from './types.js';

/** Dynamic loaders that tell the C library apart. `interp`: the ELF interpreter path Node.js binaries name. */
export const LOADERS: readonly { path: string; libc: Exclude<Libc, 'none'>; arch: Arch; interp?: true }[] = [
  { path: '/lib/ld-musl-x86_64.so.1', libc: 'musl', arch: 'amd64' },
  { path: '/lib/ld-musl-aarch64.so.1', libc: 'musl', arch: 'arm64' },
  { path: '/lib64/ld-linux-x86-64.so.2', libc: 'glibc', arch: 'amd64', interp: true },
  { path: '/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2', libc: 'glibc', arch: 'amd64' },
  { path: '/lib/ld-linux-x86-64.so.2', libc: 'glibc', arch: 'amd64' },
  { path: '/lib/ld-linux-aarch64.so.1', libc: 'glibc', arch: 'arm64', interp: true },
  { path: '/lib/aarch64-linux-gnu/ld-linux-aarch64.so.1', libc: 'glibc', arch: 'arm64' },
  { path: '/lib64/ld-linux-aarch64.so.1', libc: 'glibc', arch: 'arm64' },
];

/**
 * Where Memoh mounts over the image, in either era: the seed's runtime dir, v0.17+'s bridge file, the socket
 * dir (which of them an era mounts is src/era/eras.ts).
 */
const MOUNT_POINTS = [RUNTIME_MOUNT, BRIDGE_IN_CONTAINER, SOCKET_MOUNT] as const;

export interface FoundLoader {
  path: string;
  libc: Exclude<Libc, 'none'>;
  arch: Arch;
  interp: boolean;
  /** The symlink chain down to the regular file. */
  chain: string[];
}

export interface PathProbe {
  path: string;
  exists: boolean;
  kind?: FileKind;
  perm?: number;
  uid?: number;
  gid?: number;
  linkTarget?: string;
  /** Entries below the path (relative names), the first few only. */
  entries?: string[];
  /** False when there were more entries than were read. */
  complete?: boolean;
}

/** Everything the checks need from the image's files: plain data, so the checks are pure. */
export interface FileFacts {
  /** `error`: the engine could not resolve the path (it answers a symlink loop with a bare HTTP 500). */
  shell: { chain: string[]; stat?: PathStat; error?: string };
  loaders: FoundLoader[];
  mounts: PathProbe[];
  data: PathProbe;
  /** `/`, with its owner: only read for a non-root USER (could it create /data?). */
  root?: PathProbe;
  /** /opt/memoh/workspace-contract.json as Memoh's ReadRaw would see it (v0.17+ images carry it). */
  contract: ContractRead;
}

const MAX_LISTED = 20;

export async function readFacts(files: ImageFiles, opts: { rootOwner: boolean }): Promise<FileFacts> {
  const [shell, loaders, mounts, data, root, contract] = await Promise.all([
    resolve(files, '/bin/sh'),
    findLoaders(files),
    Promise.all(MOUNT_POINTS.map((p) => probe(files, p, MAX_LISTED))),
    probe(files, '/data', 0),
    opts.rootOwner ? probe(files, '/', 0) : Promise.resolve(undefined),
    readContract(files),
  ]);
  return { shell, loaders, mounts, data, ...(root ? { root } : {}), contract };
}

/**
 * The contract file's bytes (one past Memoh's 64 KiB, so a cut is seen), or why there are none, worded as
 * the bridge's ReadRaw reports it to Memoh.
 */
async function readContract(files: ImageFiles): Promise<ContractRead> {
  let r: Awaited<ReturnType<ImageFiles['readFile']>>;
  try {
    r = await files.readFile(CONTRACT_PATH, CONTRACT_READ_LIMIT + 1);
  } catch (err) {
    const code = (err as { statusCode?: number }).statusCode;
    if (code !== undefined && code >= 500)
      return { ok: false, missing: false, error: `${CONTRACT_PATH}: the engine cannot resolve it (a symlink loop?)` };
    throw err;
  }
  if (r.kind === 'file') return { ok: true, bytes: r.bytes, size: r.size };
  if (r.kind === 'missing')
    return { ok: false, missing: true, error: `not found: open: open ${CONTRACT_PATH}: no such file or directory` };
  return {
    ok: false,
    missing: false,
    error: `${CONTRACT_PATH} is ${r.kind === 'dir' ? 'a directory' : 'not a regular file'}`,
  };
}

/** stat, where a path the engine cannot resolve (it answers a symlink loop with a bare 500) is a finding, not an error. */
async function resolve(files: ImageFiles, path: string): Promise<FileFacts['shell']> {
  try {
    return await files.stat(path);
  } catch (err) {
    const code = (err as { statusCode?: number }).statusCode;
    if (code !== undefined && code >= 500)
      return { chain: [path], error: 'the engine cannot resolve it (a symlink loop?)' };
    throw err;
  }
}

async function findLoaders(files: ImageFiles): Promise<FoundLoader[]> {
  const found = await Promise.all(
    LOADERS.map(async (l) => {
      // A loader path the engine cannot resolve (a loop) cannot be a loader the kernel finds either.
      const { stat, chain } = await resolve(files, l.path);
      // `[ -f ... ]` in the wrappers follows links and wants a regular file; so does the kernel's loader lookup.
      return stat?.kind === 'file'
        ? { path: l.path, libc: l.libc, arch: l.arch, interp: l.interp === true, chain }
        : undefined;
    }),
  );
  return found.filter((l): l is FoundLoader => l !== undefined);
}

/** lstat plus, for a directory, the owner and up to `list` entries from its archive headers. */
async function probe(files: ImageFiles, path: string, list: number): Promise<PathProbe> {
  const s = await files.lstat(path);
  if (!s) return { path, exists: false };
  const out: PathProbe = {
    path,
    exists: true,
    kind: s.kind,
    perm: s.perm,
    ...(s.linkTarget ? { linkTarget: s.linkTarget } : {}),
  };
  if (s.kind !== 'dir') return out;
  // The first header is the directory itself; the rest are what it holds.
  const { entries, complete } = await files.entries(path, list + 1);
  const self = entries[0];
  if (self) Object.assign(out, { uid: self.uid, gid: self.gid });
  if (list > 0) {
    out.entries = entries
      .slice(1)
      .map((e) => e.path.replace(/^[^/]*\/?/, '').replace(/\/$/, ''))
      .filter(Boolean);
    out.complete = complete;
  }
  return out;
}
