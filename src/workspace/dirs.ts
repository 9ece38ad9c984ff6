import { chmod, copyFile, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CleanupLedger, LedgerEntry } from '../core/ledger.js';

export interface RuntimeFiles {
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
