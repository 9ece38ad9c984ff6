import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect } from 'vitest';
import type { StageContext } from '../../src/core/context.js';
import { docker } from '../../src/core/docker.js';
import { CleanupLedger } from '../../src/core/ledger.js';
import { recordingReporter } from '../../src/core/reporter.js';

/** A stage context for in-process tests: recording reporter, a ledger on the real engine, an abort handle. */
export function testContext(): StageContext & {
  abort: AbortController;
  reporter: ReturnType<typeof recordingReporter>;
} {
  const abort = new AbortController();
  return { reporter: recordingReporter(), ledger: new CleanupLedger(docker), signal: abort.signal, abort };
}

/**
 * Points os.tmpdir() (TMPDIR) at a fresh dir for the test file, so "no temp dir remains" is a plain
 * emptiness check that other processes on the machine cannot disturb.
 */
export function privateTmp(label: string): { dir: string; restore: () => void; leftovers: () => string[] } {
  const before = process.env.TMPDIR;
  const dir = mkdtempSync(join(before ?? '/tmp', `memoh-test-${label}-`));
  process.env.TMPDIR = dir;
  return {
    dir,
    leftovers: () => readdirSync(dir),
    restore: () => {
      if (before === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = before;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Containers a workspace test may have made: workspaces (by label and bot id prefix) and bridge copies (by
 * name; `mine`: only those this process made, so other runs on a shared engine do not count).
 */
export function leftoverContainers(botIdPrefix = '', copies: 'all' | 'mine' = 'all'): string[] {
  const ps = (filter: string) =>
    execFileSync('docker', ['ps', '-a', '--filter', filter, '--format', '{{.Names}}'], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean);
  const workspaces = ps('label=memoh.workspace').filter((n) => n.startsWith(`workspace-${botIdPrefix}`));
  const copy = copies === 'mine' ? `memoh-bridge-copy-${process.pid}-` : 'memoh-bridge-copy-';
  return [...workspaces, ...ps(`name=${copy}`).filter((n) => n.startsWith(copy))];
}

export function removeContainers(names: string[]): void {
  if (names.length) execFileSync('docker', ['rm', '-f', ...names], { stdio: 'ignore' });
}

/**
 * A test file's own TMPDIR and bot-id prefix, with an afterAll that removes what the file left and then fails
 * it for anything left: containers under the prefix, entries in its TMPDIR.
 */
export function guardedFile(
  label: string,
  prefixStem: string,
  own: (entry: string) => boolean = () => false,
): { tmp: ReturnType<typeof privateTmp>; prefix: string } {
  const tmp = privateTmp(label);
  const prefix = `${prefixStem}-${randomBytes(3).toString('hex')}`;
  afterAll(() => {
    const left = leftoverContainers(prefix);
    removeContainers(left);
    // Entries the file made on purpose (`own`) are removed with its TMPDIR and not counted.
    const files = tmp.leftovers().filter((f) => !own(f));
    tmp.restore();
    expect(left, 'containers left behind').toEqual([]);
    expect(files, 'temp dirs left behind').toEqual([]);
  });
  return { tmp, prefix };
}
