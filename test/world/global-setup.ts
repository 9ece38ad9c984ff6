import { execFileSync } from 'node:child_process';
import { containers, removeContainers } from '../support/leaks.js';
import { REPO } from './paths.js';

/**
 * Builds (or finds cached) the offline test world once per test run, and afterwards checks that the
 * suite left no workspace container behind: a leak fails the run instead of going unnoticed.
 * Containers that existed before the run are not ours to judge (another run may own them).
 */
const listWorkspaces = (): string[] => containers(['label=memoh.workspace'], '{{.ID}}');

let before = new Set<string>();

export function setup(): void {
  if (process.env.MEMOH_SKIP_WORLD_BUILD !== '1') {
    execFileSync('bash', [`${REPO}/test/world/build.sh`], { stdio: 'inherit', timeout: 45 * 60_000 });
  }
  before = new Set(listWorkspaces());
}

export function teardown(): void {
  // Several developers' runs on one engine (MEMOH_TEST_SHARED_ENGINE=1): another run's live containers are
  // indistinguishable from a leak here, so only the sole run on an engine (CI) judges and removes.
  if (process.env.MEMOH_TEST_SHARED_ENGINE === '1') return;
  const leaked = listWorkspaces().filter((id) => !before.has(id));
  if (leaked.length) {
    removeContainers(leaked);
    throw new Error(`the test suite left ${leaked.length} workspace container(s) behind (removed now)`);
  }
}
