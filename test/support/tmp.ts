import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A fresh dir `memoh-LABEL-XXXXXX` under os.tmpdir(); the caller removes it (rmrf). */
export function tempDir(label: string): string {
  return mkdtempSync(join(tmpdir(), `memoh-${label}-`));
}

export function rmrf(...dirs: string[]): void {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}

/**
 * Points os.tmpdir() (TMPDIR) at a fresh dir for the test file, so "no temp dir remains" is a plain
 * emptiness check that other processes on the machine cannot disturb.
 */
export function privateTmp(label: string): {
  dir: string;
  /** A new empty dir inside it (d0, d1, …). */
  fresh: () => string;
  restore: () => void;
  leftovers: () => string[];
} {
  const before = process.env.TMPDIR;
  const dir = mkdtempSync(join(before ?? '/tmp', `memoh-test-${label}-`));
  process.env.TMPDIR = dir;
  let n = 0;
  return {
    dir,
    fresh: () => {
      const d = join(dir, `d${n++}`);
      mkdirSync(d, { recursive: true });
      return d;
    },
    leftovers: () => readdirSync(dir),
    restore: () => {
      if (before === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = before;
      rmrf(dir);
    },
  };
}
