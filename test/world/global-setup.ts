import { execFileSync } from 'node:child_process';
import { REPO } from './paths.js';

/**
 * Builds (or finds cached) the offline test world once per test run, and afterwards checks that the
 * suite left no workspace container behind: a leak fails the run instead of going unnoticed.
 */
export function setup(): void {
  if (process.env.MEMOH_SKIP_WORLD_BUILD === '1') return;
  execFileSync('bash', [`${REPO}/test/world/build.sh`], { stdio: 'inherit', timeout: 45 * 60_000 });
}

export function teardown(): void {
  const out = execFileSync('docker', ['ps', '-aq', '--filter', 'label=memoh.workspace'], { encoding: 'utf8' }).trim();
  if (out) {
    execFileSync('docker', ['rm', '-f', ...out.split('\n')], { stdio: 'ignore' });
    throw new Error(`the test suite left ${out.split('\n').length} workspace container(s) behind (removed now)`);
  }
}
