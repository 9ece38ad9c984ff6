import { execSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SmokeReport } from '../../src/workspace/index.js';
import { type CliResult, ensureBuilt, runCliSync as runCli, startCli } from '../support/cli.js';
import { expectPassedButRace } from '../support/eras.js';
import { containerState, leftoverContainers, removeContainers } from '../support/leaks.js';
import { privateTmp } from '../support/tmp.js';
import { until } from '../support/wait.js';
import { IMAGES } from '../world/images.js';
import { standinBridge } from '../world/paths.js';
import { ARM64_NODE, buildTestToolkit } from './toolkit.js';

// End to end through the built CLI, against the stand-in bridge in the test world's images, with a real
// toolkit built by the toolkit stage from the loopback mirror. TMPDIR is private to this file, so "nothing
// left behind" is an emptiness check.
const tmp = privateTmp('smoke-cli');
const run = randomBytes(3).toString('hex');
const botPrefix = `clitest-${run}`;
const toolkits = { amd64: join(tmp.dir, 'toolkit-amd64'), arm64: join(tmp.dir, 'toolkit-arm64') };
const cliTmp = join(tmp.dir, 'cli');
const env = { TMPDIR: cliTmp };
const OWN = new Set(['cli', 'toolkit-amd64', 'toolkit-arm64', 'checks.toml']);

interface Output {
  status: string;
  reports: SmokeReport[];
}

function parse(r: CliResult): Output {
  try {
    return JSON.parse(r.stdout) as Output;
  } catch {
    throw new Error(`no JSON on stdout (exit ${r.status}, signal ${r.signal}):\n${r.stderr.slice(-3000)}`);
  }
}
const failing = (r: SmokeReport) => r.checks.filter((c) => c.status === 'fail').map((c) => `${c.id}: ${c.detail}`);
const check = (r: SmokeReport, id: string) => r.checks.find((c) => c.id === id);

beforeAll(async () => {
  ensureBuilt();
  execSync(`mkdir -p ${cliTmp}`);
  await buildTestToolkit('amd64', toolkits.amd64);
  // A user check through --checks: the toolkit's real Node answers inside the workspace.
  writeFileSync(
    join(tmp.dir, 'checks.toml'),
    [
      '[[command]]',
      'name = "node-version"',
      'command = "node --version"',
      "stdout = '^v24\\.14\\.0\\n$'",
      'exit_code = 0',
      '',
    ].join('\n'),
  );
}, 600_000);

afterAll(() => {
  const left = leftoverContainers(botPrefix);
  removeContainers(left);
  const files = tmp.leftovers().filter((f) => !OWN.has(f));
  let cliFiles: string[] = [];
  try {
    cliFiles = execSync(`ls -A ${cliTmp}`, { encoding: 'utf8' }).split('\n').filter(Boolean);
  } catch {
    // gone already
  }
  tmp.restore();
  expect(left, 'containers left behind').toEqual([]);
  expect([...files, ...cliFiles], 'temp dirs left behind').toEqual([]);
});

describe('memoh-workspace smoke', () => {
  it("passes the whole suite in Debian and musl amd64 at once, with the toolkit's real Node", {
    timeout: 300_000,
  }, () => {
    const r = runCli(
      [
        'smoke',
        '--image',
        IMAGES.debianAmd64,
        '--image',
        IMAGES.muslAmd64,
        '--concurrency',
        '2',
        '--bridge',
        standinBridge('amd64'),
        '--toolkit',
        toolkits.amd64,
        '--checks',
        join(tmp.dir, 'checks.toml'),
        '--bot-id',
        `${botPrefix}-a`,
        '--pull',
        'never',
        '--json',
      ],
      env,
      280_000,
    );
    const out = parse(r);
    for (const rep of out.reports) expect(failing(rep), `${rep.image}\n${r.stderr}`).toEqual([]);
    expect(r.status).toBe(0);
    // A v3 bridge's reaper race is the one warning a passing v3 suite may carry (the stand-in keeps it).
    for (const rep of out.reports) expectPassedButRace(rep.checks);
    expect(out.status).toMatch(/^(pass|warn)$/);
    expect(out.reports.map((x) => [x.image, x.platform, x.botId, x.service])).toEqual([
      [IMAGES.debianAmd64, 'linux/amd64', `${botPrefix}-a-debian-amd64`, 'mcpcontainer'],
      [IMAGES.muslAmd64, 'linux/amd64', `${botPrefix}-a-musl-amd64`, 'mcpcontainer'],
    ]);
    const [debian, musl] = out.reports as [SmokeReport, SmokeReport];
    expect(check(debian, 'toolkit.node')?.detail).toMatch(/node --version → v24\.14\.0/);
    for (const rep of out.reports) expect(check(rep, 'user.node-version')?.status).toBe('pass');
    expect(check(debian, 'toolkit.musl-selection')?.detail).toMatch(/glibc/);
    expect(check(musl, 'toolkit.musl-selection')?.detail).toMatch(/musl/);
    expect(check(debian, 'lifecycle.sigterm')?.status).toBe('pass');
    expect(debian.timings!.startMs).toBeGreaterThan(0);
  });

  it.each(['containerd', 'docker'] as const)(
    'passes the v0.18 suite (≥ 40 checks) on a v0.18 image and bridge, %s backend, naming the era',
    { timeout: 180_000 },
    (backend) => {
      const r = runCli(
        [
          'smoke',
          '--image',
          IMAGES.workspaceAmd64,
          '--bridge',
          standinBridge('amd64', 'v0.18'),
          '--backend',
          backend,
          '--bot-id',
          `${botPrefix}-v18${backend[0]}`,
          '--pull',
          'never',
          '--json',
        ],
        env,
        170_000,
      );
      const out = parse(r);
      const [rep] = out.reports as [SmokeReport];
      expect(failing(rep), r.stderr).toEqual([]);
      expect(r.status).toBe(0);
      expect(rep.memoh).toMatchObject({ era: 'v0.18' });
      expect(rep.backend).toBe(backend);
      expect(rep.service).toBe('bridgepb');
      expect(rep.checks.filter((c) => c.status === 'pass').length).toBeGreaterThanOrEqual(40);
      for (const id of [
        'workspace.tini',
        'nofollow.read',
        'reversehttp.roundtrip',
        'contract.executables',
        'exec.reaper-race',
      ]) {
        expect(check(rep, id)?.status, id).toBe('pass');
      }
    },
  );

  it('passes the v0.18 suite on arm64 under emulation: tini seen through qemu, NoFollow without openat2 a warning', {
    timeout: 400_000,
  }, () => {
    const r = runCli(
      [
        'smoke',
        '--image',
        IMAGES.workspaceArm64,
        '--platform',
        'linux/arm64',
        '--bridge',
        standinBridge('arm64', 'v0.18'),
        '--bot-id',
        `${botPrefix}-v18arm`,
        '--pull',
        'never',
        '--timeout',
        '300',
        '--json',
      ],
      env,
      390_000,
    );
    const [rep] = parse(r).reports as [SmokeReport];
    expect(failing(rep), r.stderr).toEqual([]);
    expect(r.status).toBe(0);
    expect(rep.memoh).toMatchObject({ era: 'v0.18' });
    expect(check(rep, 'workspace.tini')?.status).toBe('pass');
    // qemu-user 7.2 has no openat2: the bridge answers ENOSYS, which says nothing about the image or bridge.
    for (const c of rep.checks.filter((x) => x.status === 'warn')) {
      expect(c.id).toMatch(/^nofollow\./);
      expect(c.detail).toMatch(/function not implemented.*openat2 is not available/);
    }
  });

  it('refuses a wrong-arch bridge up front: exit 2, no container, no temp dir', () => {
    const r = runCli(
      ['smoke', '--image', IMAGES.debianAmd64, '--bridge', standinBridge('arm64'), '--bot-id', `${botPrefix}-w`],
      env,
      60_000,
    );
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/error: --bridge: .*bridge-linux-arm64 is an ELF for aarch64, not for linux\/amd64/);
    expect(containerState(`workspace-${botPrefix}-w`)).toBeUndefined();
  });

  it('refuses a toolkit of the wrong architecture and a bad bot id with exit 2', () => {
    const a = runCli(
      [
        'smoke',
        '--image',
        IMAGES.debianArm64,
        '--platform',
        'linux/arm64',
        '--bridge',
        standinBridge('arm64'),
        '--toolkit',
        toolkits.amd64,
      ],
      env,
      60_000,
    );
    expect(a.status).toBe(2);
    expect(a.stderr).toMatch(/--toolkit: no toolkit for linux\/arm64 \(have: amd64\)/);
    const b = runCli(['smoke', '--bridge', standinBridge('amd64'), '--bot-id', '../etc'], env, 60_000);
    expect(b.status).toBe(2);
    expect(b.stderr).toMatch(/--bot-id: "..\/etc" is not a valid bot id/);
  });

  it('Ctrl-C mid-suite removes the container, socket dir and runtime dir and exits 130', {
    timeout: 120_000,
  }, async () => {
    const bot = `${botPrefix}-int`;
    const name = `workspace-${bot}`;
    const cli = startCli(
      ['smoke', '--image', IMAGES.debianAmd64, '--bridge', standinBridge('amd64'), '--bot-id', bot, '--pull', 'never'],
      env,
    );
    // Mid-suite: the suite group has started (the bridge answered) and the container is running.
    await until('the bridge smoke suite to start', 60_000, () => /bridge smoke suite/.test(cli.output().stderr), 100);
    expect(containerState(name)).toBe('running');
    await new Promise((r) => setTimeout(r, 1000));
    cli.child.kill('SIGINT');
    const r = await cli.done;
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toMatch(/SIGINT received/);
    expect(containerState(name)).toBeUndefined();
    expect(execSync(`ls -A ${cliTmp}`, { encoding: 'utf8' })).toBe('');
  });

  it('--keep leaves the workspace running and prints how to reach and remove it', { timeout: 120_000 }, () => {
    const bot = `${botPrefix}-keep`;
    const r = runCli(
      [
        'smoke',
        '--image',
        IMAGES.debianAmd64,
        '--bridge',
        standinBridge('amd64'),
        '--bot-id',
        bot,
        '--pull',
        'never',
        '--keep',
      ],
      env,
      110_000,
    );
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/skip\s+lifecycle\.sigterm/);
    expect(containerState(`workspace-${bot}`)).toBe('running');
    const socket = /socket\s+(\S+bridge\.sock)/.exec(r.stderr)?.[1];
    expect(socket, r.stderr).toBeTruthy();
    const remove = /remove\s+(docker rm -f workspace-\S+ && rm -rf .+)$/m.exec(r.stderr)?.[1];
    expect(remove, r.stderr).toBeTruthy();
    expect(execSync(`test -S ${socket} && echo yes`, { encoding: 'utf8' }).trim()).toBe('yes');
    execSync(remove!, { stdio: 'ignore' });
    expect(containerState(`workspace-${bot}`)).toBeUndefined();
    expect(execSync(`ls -A ${cliTmp}`, { encoding: 'utf8' })).toBe('');
  });

  it("passes in Debian and musl arm64 under emulation, with the arm64 toolkit's real Node", {
    timeout: 900_000,
  }, async () => {
    await buildTestToolkit('arm64', toolkits.arm64);
    const r = runCli(
      [
        'smoke',
        '--image',
        IMAGES.debianArm64,
        '--image',
        IMAGES.muslArm64,
        '--concurrency',
        '2',
        '--platform',
        'linux/arm64',
        '--bridge',
        standinBridge('arm64'),
        '--toolkit',
        toolkits.arm64,
        '--bot-id',
        `${botPrefix}-arm`,
        '--pull',
        'never',
        '--timeout',
        '300',
        '--json',
      ],
      env,
      850_000,
    );
    const out = parse(r);
    for (const rep of out.reports) expect(failing(rep), `${rep.image}\n${r.stderr}`).toEqual([]);
    expect(r.status).toBe(0);
    expect(out.reports.map((x) => [x.image, x.platform])).toEqual([
      [IMAGES.debianArm64, 'linux/arm64'],
      [IMAGES.muslArm64, 'linux/arm64'],
    ]);
    const [debian, musl] = out.reports as [SmokeReport, SmokeReport];
    // Debian gets the real Node 24 arm64 build; musl the mirror's stand-in musl build, chosen by the wrapper.
    expect(check(debian, 'toolkit.node')?.detail).toContain(`node --version → v${ARM64_NODE}`);
    expect(check(musl, 'toolkit.musl-selection')?.detail).toMatch(/musl/);
  });
});
