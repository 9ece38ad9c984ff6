import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, expect } from 'vitest';
import { docker } from '../../src/core/docker.js';
import { VALIDATE_LABEL } from '../../src/image/index.js';
import { privateTmp } from './tmp.js';

/**
 * What tests left on the engine. Every test that starts containers names them (bot id prefix, its pid in a
 * label) so that only its own count: other runs may share the engine (MEMOH_TEST_SHARED_ENGINE=1).
 */

/** `docker ps -a` names (or ids, `format: '{{.ID}}'`) of the containers matching every filter. */
export function containers(filters: string[], format = '{{.Names}}'): string[] {
  const args = ['ps', '-a', '--no-trunc', ...filters.flatMap((f) => ['--filter', f]), '--format', format];
  return execFileSync('docker', args, { encoding: 'utf8', timeout: 30_000, stdio: ['ignore', 'pipe', 'pipe'] })
    .split('\n')
    .filter(Boolean);
}

export function removeContainers(names: string[]): void {
  if (names.length) execFileSync('docker', ['rm', '-f', ...names], { stdio: 'ignore', timeout: 60_000 });
}

/** `{{.State.Status}}` of a container, undefined when there is none by that name. */
export function containerState(name: string): string | undefined {
  try {
    return execFileSync('docker', ['inspect', '--format', '{{.State.Status}}', name], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return undefined;
  }
}

/** Workspace containers (label memoh.workspace) of every bot id starting with `botIdPrefix`. */
export const workspaces = (botIdPrefix = ''): string[] =>
  containers(['label=memoh.workspace', `name=workspace-${botIdPrefix}`]).filter((n) =>
    n.startsWith(`workspace-${botIdPrefix}`),
  );

/** Containers validation created on behalf of process `pid` that still exist (ids). */
export async function validateLeftovers(pid: number): Promise<string[]> {
  const list = await docker().listContainers({ all: true, filters: { label: [`${VALIDATE_LABEL}.pid=${pid}`] } });
  return list.map((c) => c.Id);
}

/**
 * Containers a workspace test may have made: workspaces (by label and bot id prefix) and bridge copies (by
 * name; `mine`: only those this process made, so other runs on a shared engine do not count).
 */
export function leftoverContainers(botIdPrefix = '', copies: 'all' | 'mine' = 'all'): string[] {
  const copy = copies === 'mine' ? `memoh-bridge-copy-${process.pid}-` : 'memoh-bridge-copy-';
  return [...workspaces(botIdPrefix), ...containers([`name=${copy}`]).filter((n) => n.startsWith(copy))];
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
