import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, linkSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Dockerode from 'dockerode';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { docker } from '../../src/core/docker.js';
import { CleanupLedger, undo } from '../../src/core/ledger.js';
import { recordingReporter } from '../../src/core/reporter.js';
import { runPipeline } from '../../src/pipeline.js';
import { describeFailure } from '../../src/workspace/workspace.js';
import { ensureBuilt } from '../support/cli.js';
import { expectPassedButRace } from '../support/eras.js';
import { fileSha256, snapshot } from '../support/files.js';
import { containerState } from '../support/leaks.js';
import { mirrorFlags } from '../support/mirror.js';
import { tempDir } from '../support/tmp.js';
import { until } from '../support/wait.js';
import { IMAGES } from '../world/images.js';
import { type Mirror, startMirror } from '../world/mirror/server.mjs';
import { REPO } from '../world/paths.js';
import {
  BRIDGE,
  checkOf,
  leftovers,
  optionsFor,
  removeWorkspaces,
  report,
  rowOf,
  startRun,
  toolkitAt,
} from './harness.js';

/**
 * Faults injected into real runs, each of which must end in a bounded retry that succeeds or in a named
 * failing check (exit 1) — never a hang, never a false pass, never a half-written toolkit, and nothing
 * left behind: mirror 5xx, resets, truncated, slow and silent bodies; a bridge that crashes after N calls;
 * a workspace container killed or OOM-killed mid-suite; a full disk under the toolkit; the Docker daemon
 * stopped and started again under a run (last, and always restarted).
 */
const prefix = `faults-${randomBytes(3).toString('hex')}`;
const V = '24.14.0';
// The faults are set on the .tar.gz archives: these runs pin the format (auto may take .tar.xz on a busy machine).
const GZ = ['--archive-format', 'gz'];
const MUSL_IMAGE = IMAGES.muslAmd64;
const GLIBC = `node-v${V}-linux-x64.tar.gz`;
const MUSL = `node-v${V}-linux-x64-musl.tar.gz`;
const UV = 'uv-x86_64-unknown-linux-musl.tar.gz';
const NPM = 'npm-10.9.2.tgz';
const IMAGE = IMAGES.debianAmd64;
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** A file's path exactly at its end (`x.tar.gz`, not `x.tar.gz.sha256`). */
const only = (file: string) => new RegExp(`/${esc(file)}$`);

let mirror: Mirror;
let work: string;
/** Filled by the first run (archives of every artefact); later cases link from it instead of downloading. */
let archives: string;
const images: string[] = [];

beforeAll(async () => {
  ensureBuilt();
  mirror = await startMirror();
  work = tempDir('faults');
  archives = join(work, 'cache-full', 'archives');
}, 300_000);

afterEach(() => {
  mirror.clearFaults();
  mirror.unhide();
});

afterAll(async () => {
  await engineAnswers().catch(() => restartEngine());
  const left = removeWorkspaces(prefix);
  if (images.length) execFileSync('docker', ['rmi', '-f', ...images], { stdio: 'ignore' });
  await mirror?.close();
  if (work) rmSync(work, { recursive: true, force: true });
  expect(left, 'workspace containers left behind').toEqual([]);
}, 180_000);

/** The toolkit the later cases mount: the first run's, else one built now. */
async function toolkit(): Promise<string> {
  const fromRun = join(work, 'full', 'toolkit', 'amd64');
  if (existsSync(join(fromRun, 'toolkit.json'))) return fromRun;
  return toolkitAt(join(work, 'toolkit'), mirror, join(work, 'cache-full'));
}

/** `run` arguments for `image` on that toolkit with the stand-in bridge, JSON out; `extra` goes before --json. */
async function onToolkit(image: string, extra: string[] = []): Promise<string[]> {
  return ['--toolkit', await toolkit(), '--image', image, '--pull', 'never', '--bridge', BRIDGE, ...extra, '--json'];
}

/** A fresh cache dir holding hard links to the archives of every artefact except `drop`. */
async function seededCache(name: string, drop: string[] = []): Promise<string> {
  if (!existsSync(archives)) await toolkit();
  const dir = join(work, name);
  mkdirSync(join(dir, 'archives'), { recursive: true });
  for (const a of readdirSync(archives)) if (!drop.includes(a)) linkSync(join(archives, a), join(dir, 'archives', a));
  return dir;
}

/** An older toolkit in `out` (as a previous build left it): a failed build must leave it exactly so. */
function olderToolkit(out: string): string {
  const dir = join(out, 'toolkit', 'amd64');
  mkdirSync(join(dir, 'node-glibc', 'bin'), { recursive: true });
  writeFileSync(join(dir, 'toolkit.json'), '{"schema":1,"note":"the previous toolkit"}\n');
  writeFileSync(join(dir, 'node-glibc', 'bin', 'node'), '#!/bin/sh\necho old\n', { mode: 0o755 });
  return dir;
}

/**
 * A full run whose toolkit build must fail, into `out` over an older toolkit: exit 1, toolkit.build failed,
 * smoke skipped for it, and never a half-written toolkit (the older one byte for byte, no temp dir, nothing left).
 */
async function failedToolkitRun(label: string, cacheDir: string, out: string) {
  const previous = olderToolkit(out);
  const before = snapshot(previous);
  const run = startRun(work, `${prefix}-${label}`, [
    ...mirrorFlags(mirror),
    ...GZ,
    '--cache-dir',
    cacheDir,
    '--out',
    out,
    '--image',
    IMAGE,
    '--pull',
    'never',
    '--bridge',
    BRIDGE,
    '--json',
  ]);
  const r = await run.finished(60_000);
  expect(r.code, r.stderr).toBe(1);
  const rep = report(r.stdout);
  const build = checkOf(rowOf(rep, 'toolkit', 'toolkit'), 'toolkit.build');
  expect(build.status).toBe('fail');
  expect(rowOf(rep, IMAGE, 'smoke')).toMatchObject({ status: 'skip', skipped: 'the toolkit build failed for amd64' });
  expect(snapshot(previous)).toEqual(before);
  expect(tempBeside(previous)).toEqual([]);
  expect(leftovers(run)).toEqual({ containers: [], temp: [] });
  return { build, stderr: r.stderr };
}

const tempBeside = (dir: string) => readdirSync(join(dir, '..')).filter((n) => n.startsWith('.amd64.'));
/** Each transfer of `file`: its plain GET (a large file's ranges, fetched over more connections, are parts of it). */
const seen = (file: string) =>
  mirror.requests.filter((q) => q.path.endsWith(`/${file}`) && !q.range).map((q) => q.fault ?? q.status);

describe('mirror faults during a full run', () => {
  it('500 once, a reset inside the Node.js tarball, a truncated uv, a slow musl Node.js: each retried, the run passes', {
    timeout: 240_000,
  }, async () => {
    mirror.requests.length = 0;
    mirror.fault(only(NPM), '500', { times: 1 });
    // Inside the plain GET's own share (src/toolkit/fetch.ts HEAD_BYTES, 4 MiB): a busy machine may split the file
    // into ranges, and then a reset at 4 MiB or later would never be reached; before it, it always is.
    mirror.fault(only(GLIBC), 'reset', { times: 1, bytes: 2 << 20 });
    mirror.fault(only(UV), 'truncate', { times: 1 });
    mirror.fault(only(MUSL), 'slow', { times: 1, bytesPerSecond: 2 << 20 });
    const run = startRun(work, `${prefix}-mirror`, [
      ...mirrorFlags(mirror),
      ...GZ,
      '--cache-dir',
      join(work, 'cache-full'),
      '--out',
      join(work, 'full'),
      // A musl image too: run builds only the flavours its images need, and the musl Node.js is faulted.
      '--image',
      IMAGE,
      '--image',
      MUSL_IMAGE,
      '--pull',
      'never',
      '--bridge',
      BRIDGE,
      '--json',
    ]);
    const r = await run.finished(180_000);
    expect(r.code, r.stderr).toBe(0);
    const rep = report(r.stdout);
    expect(rep.result).toBe('success');
    expect(rowOf(rep, 'toolkit', 'toolkit').status).toBe('pass');
    expectPassedButRace(rowOf(rep, IMAGE, 'smoke').checks);
    // Each fault hit once and was followed by one good transfer; nothing was fetched a third time.
    expect(seen(NPM)).toEqual(['500', 200]);
    expect(seen(GLIBC)).toEqual(['reset', 200]);
    expect(seen(UV)).toEqual(['truncate', 200]);
    expect(seen(MUSL)).toEqual(['slow']);
    expect(r.stderr).toMatch(new RegExp(`${esc(NPM)}: HTTP 500 .*retrying in`));
    expect(r.stderr).toMatch(new RegExp(`${esc(GLIBC)}: connection lost after \\d+ of \\d+ bytes.*retrying in`));
    expect(r.stderr).toMatch(new RegExp(`${esc(UV)}: (connection lost|truncated transfer).*retrying in`));
    // The toolkit that passed is the real one, byte for byte what the mirror serves.
    const manifest = JSON.parse(readFileSync(join(work, 'full', 'toolkit', 'amd64', 'toolkit.json'), 'utf8')) as {
      artefacts: { name: string; sha256: string }[];
    };
    expect(manifest.artefacts.find((a) => a.name === 'node-glibc')?.sha256).toBe(
      fileSha256(join(mirror.root, 'node', `v${V}`, GLIBC)),
    );
    expect(manifest.artefacts.find((a) => a.name === 'uv')?.sha256).toBe(
      fileSha256(join(mirror.root, 'uv', 'releases', 'download', '0.9.5', UV)),
    );
    expect(leftovers(run)).toEqual({ containers: [], temp: [] });
  });

  it('truncated on every attempt: bounded retries, then toolkit.build names the file and --uv-mirror; smoke is skipped; --out is untouched', async () => {
    const cacheDir = await seededCache('cache-truncated', [
      `sha256-${fileSha256(join(mirror.root, 'uv', 'releases', 'download', '0.9.5', UV))}`,
    ]);
    mirror.requests.length = 0;
    mirror.fault(only(UV), 'truncate');
    const { build } = await failedToolkitRun('trunc', cacheDir, join(work, 'truncated'));
    expect(build.detail).toMatch(
      new RegExp(`^${esc(UV)}: download failed after 4 attempts: .*\\(http://127\\.0\\.0\\.1:\\d+/uv/`),
    );
    expect(build.fix).toMatch(/--uv-mirror/);
    // Four attempts; one may die on a pooled connection the server had closed, before reaching it.
    expect(seen(UV).length).toBeGreaterThanOrEqual(3);
    expect(seen(UV)).toEqual(Array(seen(UV).length).fill('truncate'));
    expect(seen(UV).length).toBeLessThanOrEqual(4);
  });

  // Through the pipeline in-process, with the stall deadline shortened (30 s in production, no flag for it):
  // a silent mirror must end in a named failure within attempts × deadline, not wait for ever.
  it.each([
    ['answers nothing at all', NPM, 'npm-registry/npm/-/', 'hang'],
    ['stops sending mid-body', GLIBC, `node/v${V}/`, 'stall'],
  ] as const)(
    'a mirror that %s: toolkit.build fails within its deadline, naming the file',
    async (_what, file, dir, kind) => {
      const served = join(mirror.root, dir, file);
      const cacheDir = await seededCache(`cache-${kind}`, [
        file === NPM ? `sha512-${fileSha256(served, 'sha512')}` : `sha256-${fileSha256(served)}`,
      ]);
      const options = optionsFor(mirror, {
        'run.images': [IMAGE],
        'run.platforms': ['linux/amd64'],
        'run.pull': 'never',
        'smoke.bridge': BRIDGE,
        'smoke.bot_id': `${prefix}-${kind}`,
        'toolkit.cache_dir': cacheDir,
      });
      options.toolkit = Object.assign({}, options.toolkit, {
        retry: { attempts: 2, baseDelayMs: 50, maxDelayMs: 100, idleTimeoutMs: 1000 },
      });
      mirror.fault(only(file), kind);
      const ledger = new CleanupLedger(docker);
      const out = join(work, `silent-${kind}`);
      const t = performance.now();
      const { report: rep } = await runPipeline(
        { options, mode: 'run', workDir: out },
        { reporter: recordingReporter(), ledger, signal: new AbortController().signal },
      );
      expect(performance.now() - t).toBeLessThan(15_000);
      expect(rep.result).toBe('failure');
      const build = checkOf(rowOf(rep, 'toolkit', 'toolkit'), 'toolkit.build');
      expect(build.detail).toMatch(new RegExp(`^${esc(file)}: download failed after 2 attempts: no data for 1 s`));
      expect(rowOf(rep, IMAGE, 'smoke').status).toBe('skip');
      expect(
        existsSync(join(out, 'toolkit')) ? readdirSync(join(out, 'toolkit')) : [],
        'no toolkit, no temp dir',
      ).toEqual([]);
      expect(ledger.entries()).toEqual([]);
    },
  );
});

describe('the workspace dies under the suite', () => {
  it('a bridge that crashes after 12 calls: workspace.alive names the exit, the log shows why, nothing is left', async () => {
    // Memoh passes the image's env to the bridge: an image that sets STANDIN_CRASH_AFTER is the way in.
    const tag = `memoh-fault/crash-after:${prefix}`;
    const base = `${prefix}-crash-base`;
    execFileSync('docker', ['create', '--name', base, IMAGE], { stdio: 'ignore' });
    try {
      execFileSync('docker', ['commit', '--change', 'ENV STANDIN_CRASH_AFTER=12', base, tag], { stdio: 'ignore' });
      images.push(tag);
    } finally {
      execFileSync('docker', ['rm', '-f', base], { stdio: 'ignore' });
    }
    const run = startRun(work, `${prefix}-crash`, await onToolkit(tag));
    const r = await run.finished(60_000);
    expect(r.code, r.stderr).toBe(1);
    const smoke = rowOf(report(r.stdout), tag, 'smoke');
    expect(smoke.status).toBe('fail');
    expect(smoke.checks[1]).toMatchObject({ id: 'workspace.alive', status: 'fail' });
    expect(smoke.checks[1]?.detail).toMatch(
      /^the workspace container stopped \(exited, exit code 2\) while the checks ran/,
    );
    expect(smoke.failureContext?.logs.join('\n')).toMatch(/STANDIN_CRASH_AFTER reached/);
    expect(r.ms).toBeLessThan(30_000);
    expect(leftovers(run)).toEqual({ containers: [], temp: [] });
  });

  it('the workspace container killed (docker kill) during a user check: workspace.alive says exit code 137', async () => {
    const checks = join(work, 'hold.toml');
    writeFileSync(checks, '[[command]]\nname = "hold"\ncommand = "sleep 3; echo held"\nstdout = "held"\n');
    const run = startRun(work, `${prefix}-kill`, await onToolkit(IMAGE, ['--checks', checks]));
    const name = `workspace-${run.botId}`;
    await until(
      'the user checks to start',
      60_000,
      () => run.stderr().includes('── user checks') && containerState(name) === 'running',
    );
    execFileSync('docker', ['kill', name], { stdio: 'ignore' });
    const r = await run.finished(60_000);
    expect(r.code, r.stderr).toBe(1);
    const smoke = rowOf(report(r.stdout), IMAGE, 'smoke');
    expect(checkOf(smoke, 'user.hold').status).toBe('fail');
    expect(checkOf(smoke, 'workspace.alive').detail).toMatch(/stopped \(exited, exit code 137\)/);
    expect(smoke.failureContext?.exitCode).toBe(137);
    expect(leftovers(run)).toEqual({ containers: [], temp: [] });
  });

  const LIMIT = 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max';
  it('a process in the workspace OOM-killed under a memory limit: its check fails, the failure context says OOM-killed', async (ctx) => {
    const checks = join(work, 'oom.toml');
    writeFileSync(
      checks,
      [
        // Waits (at most 10 s) for the limit the test sets; its exit code is not asserted (a long Exec may lose the
        // reaper race), the short check after it is.
        '[[command]]',
        'name = "wait-for-limit"',
        `command = "i=0; while [ \\"$(${LIMIT})\\" != 134217728 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done"`,
        '[[command]]',
        'name = "limit-set"',
        `command = "${LIMIT}"`,
        'stdout = "^134217728\\\\s*$"',
        '[[command]]',
        'name = "allocate"',
        'command = "head -c 400m /dev/zero | tail | wc -c"',
        'stdout = "^419430400\\\\s*$"',
      ].join('\n'),
    );
    const run = startRun(work, `${prefix}-oom`, await onToolkit(IMAGE, ['--checks', checks]));
    const name = `workspace-${run.botId}`;
    await until('the workspace container to run', 60_000, () => containerState(name) === 'running');
    // Memoh sets no memory limit; the engine can add one to the running container (cgroup v1 and v2 alike).
    try {
      execFileSync('docker', ['update', '--memory', '128m', '--memory-swap', '128m', name], {
        stdio: ['ignore', 'ignore', 'pipe'],
        encoding: 'utf8',
      });
    } catch (err) {
      run.kill('SIGTERM');
      await run.finished(60_000);
      ctx.skip(
        `this engine cannot limit a running container's memory: ${String((err as { stderr?: string }).stderr ?? err).trim()}`,
      );
    }
    const r = await run.finished(60_000);
    expect(r.code, r.stderr).toBe(1);
    const smoke = rowOf(report(r.stdout), IMAGE, 'smoke');
    expect(checkOf(smoke, 'user.limit-set').status, 'the limit was in place before the allocation').toBe('pass');
    const allocate = checkOf(smoke, 'user.allocate');
    expect(allocate.status).toBe('fail');
    expect(allocate.detail).toMatch(/Killed/);
    expect(smoke.failureContext?.state).toMatch(/OOM-killed/);
    // The bridge (PID 1) survived: the kernel took the biggest process, and the report does not blame the workspace.
    expect(smoke.checks.some((c) => c.id === 'workspace.alive')).toBe(false);
    expect(leftovers(run)).toEqual({ containers: [], temp: [] });
  });
});

describe('a full disk under the toolkit', () => {
  it('ENOSPC while extracting: toolkit.build names the disk (not the mirror), exit 1, the older toolkit and the cache are untouched', async (ctx) => {
    const cacheDir = await seededCache('cache-disk');
    const cached = readdirSync(join(cacheDir, 'archives')).sort();
    const disk = join(work, 'small-disk');
    mkdirSync(disk);
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=20m', 'tmpfs', disk], { stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (err) {
      ctx.skip(
        `cannot mount a small tmpfs here (needs root): ${String((err as { stderr?: Buffer }).stderr ?? err).trim()}`,
      );
    }
    try {
      const { build, stderr } = await failedToolkitRun('disk', cacheDir, disk);
      expect(build.detail).toMatch(/: writing into .* failed: ENOSPC: no space left on device/);
      expect(build.detail).not.toMatch(/not a valid \.tar\.gz/);
      expect(build.fix).toMatch(/free space/);
      // The disk's fault is not the cache's: every verified archive is still there, none was fetched again.
      expect(readdirSync(join(cacheDir, 'archives')).sort()).toEqual(cached);
      expect(stderr).not.toMatch(/cached copy unusable/);
      const used = execFileSync('df', ['--output=used', '-k', disk], { encoding: 'utf8' }).trim().split('\n').pop();
      expect(Number(used)).toBeLessThan(100);
    } finally {
      execFileSync('umount', [disk], { stdio: 'ignore' });
    }
  });
});

describe('the Docker engine goes away', () => {
  it('removal waits a bounded time for an engine that never answers, then names the container and the command', async () => {
    const absent = new Dockerode({ socketPath: join(work, 'no-engine.sock') });
    const waits: string[] = [];
    const t = performance.now();
    await expect(
      undo({ kind: 'container', id: 'c0ffee', name: 'workspace-never-back' }, () => absent, {
        engineWaitMs: 2000,
        onWait: (m) => waits.push(m),
      }),
    ).rejects.toThrow(
      /^the Docker engine did not answer for 2 s \(connect ENOENT .*no-engine\.sock\); once it is back: docker rm -f workspace-never-back$/,
    );
    expect(performance.now() - t).toBeGreaterThan(1500);
    expect(performance.now() - t).toBeLessThan(5000);
    expect(waits).toEqual([
      expect.stringMatching(
        /^the Docker engine does not answer \(connect ENOENT .*\): waiting up to 2 s to remove container workspace-never-back$/,
      ),
    ]);
    // And a workspace whose engine is silent is not reported as "gone": nobody knows.
    expect((await describeFailure(absent.getContainer('c0ffee'))).state).toMatch(
      /^unknown: the Docker engine does not answer \(connect ENOENT/,
    );
  });

  // Last in this file: it stops the daemon every other test needs, and always starts it again.
  it('the daemon stopped mid-suite and started again: workspace.alive names the engine, exit 1, the removal waits for the engine and nothing is left', {
    timeout: 240_000,
  }, async (ctx) => {
    const pid = process.getuid?.() === 0 ? dockerdPid() : undefined;
    if (!pid)
      return ctx.skip(
        'not root, or no dockerd behind /var/run/docker.pid (test/world/engine.sh starts one): cannot stop and restart the engine',
      );
    const run = startRun(work, `${prefix}-engine`, await onToolkit(IMAGE));
    const waiting = /the Docker engine does not answer \(.*\): waiting up to 30 s to remove container workspace-/;
    await until('the bridge suite to start', 60_000, () => run.stderr().includes('── bridge smoke suite'));
    let downMs = 0;
    try {
      // dockerd keeps answering while it stops its containers, and a run that fails fast often cleans up
      // through the dying daemon. The hard case is an engine that is already gone when the run cleans up:
      // the run is paused (SIGSTOP, a very slow machine) until dockerd has exited, so that is what it meets.
      run.kill('SIGSTOP');
      try {
        process.kill(pid, 'SIGTERM');
        await until('dockerd to exit', 60_000, () => !existsSync(`/proc/${pid}`));
      } finally {
        run.kill('SIGCONT');
      }
      // The engine stays down until the run says it is waiting for it (or ends).
      const t = performance.now();
      await until('the run to wait for the engine', 60_000, () => waiting.test(run.stderr()) || !run.running());
      downMs = performance.now() - t;
    } finally {
      await restartEngine();
    }
    const r = await run.finished(120_000);
    expect(r.stderr).toMatch(waiting);
    expect(r.code, r.stderr).toBe(1);
    const smoke = rowOf(report(r.stdout), IMAGE, 'smoke');
    expect(smoke.status).toBe('fail');
    expect(checkOf(smoke, 'workspace.alive').detail).toMatch(
      /^the Docker engine stopped answering \(connect (ENOENT|ECONNREFUSED) .*docker\.sock\) while the checks ran/,
    );
    expect(smoke.failureContext?.state).toMatch(/^unknown: the Docker engine does not answer/);
    // The removal waited for the engine to come back instead of leaving the container behind.
    expect(smoke.checks.some((c) => c.id === 'workspace.cleanup')).toBe(false);
    expect(leftovers(run)).toEqual({ containers: [], temp: [] });
    expect(downMs).toBeLessThan(30_000);
  });
});

function dockerdPid(): number | undefined {
  try {
    const pid = Number(readFileSync('/var/run/docker.pid', 'utf8').trim());
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'dockerd' ? pid : undefined;
  } catch {
    return undefined;
  }
}

async function engineAnswers(): Promise<void> {
  await docker().ping();
}

/** test/world/engine.sh starts dockerd when none answers and waits (bounded) until it does. */
async function restartEngine(): Promise<void> {
  execFileSync('bash', [join(REPO, 'test', 'world', 'engine.sh')], { stdio: 'ignore', timeout: 120_000 });
  await until('the engine to answer', 60_000, () =>
    engineAnswers().then(
      () => true,
      () => false,
    ),
  );
}
