import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { tempDir } from '../support/tmp.js';
import { REPO } from '../world/paths.js';

/**
 * The release workflow's tag move (scripts/move-major-tag.sh), run with real git against a real bare
 * remote: v1 follows the newest v1.x.y, and nothing else moves it.
 */
const root = tempDir('release');
const remote = join(root, 'remote.git');
const work = join(root, 'work');
afterAll(() => rmSync(root, { recursive: true, force: true }));

const git = (...args: string[]) => execFileSync('git', args, { cwd: work, encoding: 'utf8' }).trim();
const env = {
  ...process.env,
  GIT_AUTHOR_NAME: 't',
  GIT_AUTHOR_EMAIL: 't@t',
  GIT_COMMITTER_NAME: 't',
  GIT_COMMITTER_EMAIL: 't@t',
};
function commitAndTag(tag: string): string {
  writeFileSync(join(work, 'file'), tag);
  execFileSync('git', ['commit', '-qam', tag], { cwd: work, env });
  execFileSync('git', ['tag', '-a', tag, '-m', tag], { cwd: work, env });
  git('push', '-q', 'origin', 'HEAD', `refs/tags/${tag}`);
  return git('rev-parse', 'HEAD');
}
function move(tag: string) {
  const r = spawnSync('bash', [join(REPO, 'scripts', 'move-major-tag.sh'), tag], { cwd: work, env, encoding: 'utf8' });
  expect(r.status, r.stdout + r.stderr).toBe(0);
  return r.stdout;
}
/** What v1 points at on the remote, as a user's `uses: …@v1` resolves it. */
const remoteMajor = (major = 'v1') =>
  execFileSync('git', ['rev-parse', `${major}^{commit}`], { cwd: remote, encoding: 'utf8' }).trim();

beforeAll(() => {
  execFileSync('git', ['init', '-q', '--bare', remote]);
  execFileSync('git', ['clone', '-q', remote, work], { stdio: 'ignore' }); // an empty remote: git says so on stderr
  writeFileSync(join(work, 'file'), 'start');
  execFileSync('git', ['add', 'file'], { cwd: work });
  execFileSync('git', ['commit', '-qm', 'start'], { cwd: work, env });
  git('push', '-q', 'origin', 'HEAD');
});

describe('the major tag follows each v1.x.y release', () => {
  it('a first release creates v1; a later one moves it; running again changes nothing', () => {
    const first = commitAndTag('v1.0.0');
    expect(move('v1.0.0')).toMatch(/v1 now points at v1\.0\.0/);
    expect(remoteMajor()).toBe(first);
    const second = commitAndTag('v1.1.0');
    move('v1.1.0');
    expect(remoteMajor()).toBe(second);
    expect(move('v1.1.0')).toMatch(/already at v1\.1\.0/);
  });

  it('an older line, a pre-release or another major leaves v1 where it is', () => {
    const before = remoteMajor();
    commitAndTag('v1.0.1');
    expect(move('v1.0.1')).toMatch(/older than v1\.1\.0: v1 stays/);
    commitAndTag('v1.2.0-rc.1');
    expect(move('v1.2.0-rc.1')).toMatch(/not vMAJOR\.MINOR\.PATCH/);
    const two = commitAndTag('v2.0.0');
    move('v2.0.0');
    expect(remoteMajor()).toBe(before);
    expect(remoteMajor('v2')).toBe(two);
  });

  it('the workflow runs the script on published releases and v*.*.* tags, allowed to push tags', () => {
    const wf = YAML.parse(readFileSync(join(REPO, '.github/workflows/release.yml'), 'utf8')) as {
      on: { release: { types: string[] }; push: { tags: string[] } };
      permissions: Record<string, string>;
      jobs: Record<string, { steps: { run?: string }[] }>;
    };
    expect(wf.on.release.types).toEqual(['published']);
    expect(wf.on.push.tags).toEqual(['v*.*.*']);
    expect(wf.permissions.contents).toBe('write');
    const runs = Object.values(wf.jobs)
      .flatMap((j) => j.steps.map((s) => s.run ?? ''))
      .join('\n');
    expect(runs).toContain('bash scripts/move-major-tag.sh "$TAG"');
  });
});
