import { chmod, copyFile, mkdir, mkdtemp, readFile, readlink, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import type { CleanupLedger, LedgerEntry } from '../core/ledger.js';

interface RuntimeFiles {
  bridgePath: string;
  /** Leaves an empty `toolkit/` as the mount point for the toolkit (see workspaceSpec). */
  toolkit?: boolean | undefined;
  /** Top-level template files (`templates/<name>`), seeded into /data by the bridge. */
  templates?: readonly { name: string; content: string }[] | undefined;
  /** Extra top-level files next to the bridge (the stand-in's `standin-break`). */
  extraFiles?: Readonly<Record<string, string>> | undefined;
}

/**
 * A temp dir registered in the ledger before anything is written into it, so an interruption at
 * any point still gets it removed.
 */
export async function ledgeredTempDir(
  ledger: CleanupLedger,
  prefix: string,
  what: 'socket-dir' | 'runtime-dir' | 'temp-dir',
): Promise<{ path: string; entry: LedgerEntry; forget: () => void }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  const entry: LedgerEntry = { kind: 'path', path, what };
  return { path, entry, forget: ledger.add(entry) };
}

/**
 * Lays out Memoh's runtime dir (contract §2): `bridge`, `toolkit/`, `templates/`. World-readable, so a
 * non-root image USER can still run the bridge and the toolkit.
 */
export async function populateRuntimeDir(dir: string, files: RuntimeFiles): Promise<void> {
  await chmod(dir, 0o755);
  await copyFile(files.bridgePath, join(dir, 'bridge'));
  await chmod(join(dir, 'bridge'), 0o755);
  if (files.toolkit) await mkdir(join(dir, 'toolkit'), { mode: 0o755 });
  if (files.templates?.length) {
    await mkdir(join(dir, 'templates'), { mode: 0o755 });
    for (const t of files.templates) await writeFile(join(dir, 'templates', t.name), t.content, { mode: 0o644 });
  }
  for (const [name, content] of Object.entries(files.extraFiles ?? {})) {
    await writeFile(join(dir, name), content, { mode: 0o644 });
  }
}

/** Memoh creates each bot's socket dir with mode 0750; set it explicitly, the umask may have narrowed it. */
export async function prepareSocketDir(dir: string): Promise<void> {
  await chmod(dir, 0o750);
}

/**
 * Lays out Memoh's data root (`[container].data_root`) for one workspace: `run/<botID>/`, the socket dir,
 * made 0750 as Memoh makes it. Returns the socket dir. The root itself is a temp dir of ours, never the
 * user's Memoh data root.
 */
export async function prepareDataRoot(root: string, botId: string): Promise<string> {
  const socketDir = join(root, 'run', botId);
  await mkdir(socketDir, { recursive: true, mode: 0o750 });
  await chmod(join(root, 'run'), 0o750);
  await prepareSocketDir(socketDir);
  return socketDir;
}

/** systemd-resolved's upstream list, which Memoh prefers when the server has it. */
export const SYSTEMD_RESOLV_CONF = '/run/systemd/resolve/resolv.conf';
export const FALLBACK_RESOLV_CONF = 'nameserver 1.1.1.1\nnameserver 8.8.8.8\n';

/**
 * The resolv.conf Memoh mounts (internal/container/host.go@v0.18.0:17-49): systemd-resolved's if it exists,
 * otherwise `<data_root>/resolv.conf`, created with public resolvers when missing and made 0644 every time.
 */
export async function hostResolvConf(dataRoot: string, systemd = SYSTEMD_RESOLV_CONF): Promise<string> {
  if (await isFile(systemd)) return systemd;
  const path = join(dataRoot, 'resolv.conf');
  await writeFile(path, FALLBACK_RESOLV_CONF, { flag: 'wx', mode: 0o644 }).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'EEXIST') throw err;
  });
  await chmod(path, 0o644);
  return path;
}

/**
 * The TZ Memoh passes into a workspace, by the era's rule. The seed passes its server's `$TZ` only; v0.18
 * (internal/container/host.go@v0.18.0:52-76) falls back to `/etc/timezone`, then to the zone an
 * `/etc/localtime` symlink points at under /usr/share/zoneinfo/. `root` lets a test stand in for `/`.
 */
export async function serverTimezone(
  rule: 'server-env' | 'server-detect',
  envTz: string | undefined,
  root = '/',
): Promise<string | undefined> {
  if (envTz) return envTz;
  if (rule === 'server-env') return undefined;
  const fromFile = (await readFile(join(root, 'etc/timezone'), 'utf8').catch(() => '')).trim();
  if (fromFile) return fromFile;
  const link = await readlink(join(root, 'etc/localtime')).catch(() => undefined);
  if (!link) return undefined;
  const target = posix.resolve('/etc', link);
  const zoneinfo = '/usr/share/zoneinfo/';
  return target.startsWith(zoneinfo) && target.length > zoneinfo.length ? target.slice(zoneinfo.length) : undefined;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}
