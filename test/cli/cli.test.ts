import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CLI, REPO } from '../world/paths.js';

const run = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });

describe('memoh-workspace CLI', () => {
  it('--help lists every command and exits 0', () => {
    const r = run(['--help']);
    expect(r.status).toBe(0);
    for (const c of ['run', 'toolkit', 'validate', 'smoke', 'mirror', 'doctor']) expect(r.stdout).toMatch(new RegExp(`^  ${c}\\b`, 'm'));
  });

  it('--version prints the package version', () => {
    const { version } = JSON.parse(readFileSync(`${REPO}/package.json`, 'utf8')) as { version: string };
    const r = run(['--version']);
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(version);
  });

  it('an unknown command or flag is a usage error (exit 2)', () => {
    const a = run(['frobnicate']);
    expect(a.status).toBe(2);
    expect(a.stderr).toMatch(/unknown command 'frobnicate'/);
    const b = run(['doctor', '--frob']);
    expect(b.status).toBe(2);
    expect(b.stderr).toMatch(/unknown option '--frob'/);
  });

  it('doctor --json reports the engine it found and exits 0', () => {
    const r = run(['doctor', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.engine.reachable).toBe(true);
    expect(report.engine.apiVersion).toMatch(/^1\.\d+$/);
    expect(report.engine.storageDriver).toBeTruthy();
    expect(['amd64', 'arm64']).toContain(report.host.arch);
    expect(report.disk.length).toBeGreaterThan(0);
    expect(report.disk[0].freeBytes).toBeGreaterThan(0);
  });

  it('doctor exits 2 with the fix when no engine answers', () => {
    const r = run(['doctor', '--json'], { DOCKER_HOST: 'unix:///nonexistent/docker.sock' });
    expect(r.status).toBe(2);
    const report = JSON.parse(r.stdout);
    expect(report.engine.reachable).toBe(false);
    expect(report.engine.source).toBe('DOCKER_HOST');
    const problem = report.problems.find((p: { id: string }) => p.id === 'engine');
    expect(problem.detail).toMatch(/unix:\/\/\/nonexistent\/docker.sock/);
    expect(problem.fix).toMatch(/DOCKER_HOST/);
  });

  it('doctor reports foreign-arch emulation as the kernel has it', () => {
    const r = run(['doctor', '--json']);
    const report = JSON.parse(r.stdout);
    const foreign = report.host.arch === 'amd64' ? 'aarch64' : 'x86_64';
    let registered = false;
    try {
      registered = /^enabled$/m.test(readFileSync(`/proc/sys/fs/binfmt_misc/qemu-${foreign}`, 'utf8'));
    } catch {}
    expect(report.emulation[0].registered).toBe(registered);
  });
});
