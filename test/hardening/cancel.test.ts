import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { LedgerEntry } from '../../src/core/ledger.js';
import { ensureBuilt } from '../support/cli.js';
import { containerState } from '../support/leaks.js';
import { mirrorFlags } from '../support/mirror.js';
import { postEnvFromState, runnerFiles, runStep, startStep } from '../support/runner.js';
import { tempDir } from '../support/tmp.js';
import { until, within } from '../support/wait.js';
import { IMAGES } from '../world/images.js';
import { type Mirror, startMirror } from '../world/mirror/server.mjs';
import {
  BRIDGE,
  type CliRun,
  firstValidateContainer,
  leftovers,
  removeWorkspaces,
  startRun,
  toolkitAt,
} from './harness.js';

/**
 * Cancellation at every stage, with real processes and real signals: SIGINT and SIGTERM to the CLI
 * during the toolkit download, during validation and during the smoke suite; the Action's main step
 * killed outright, and cancelled the way the runner does it, each followed by its post step. Afterwards
 * nothing of the run may remain: no workspace or validation container, no socket, runtime or temp dir
 * (each run has its own TMPDIR, so the count is exact), no half-written download in the cache.
 */
const prefix = `cancel-${randomBytes(3).toString('hex')}`;
const EXIT = { SIGINT: 130, SIGTERM: 143 } as const;
const GLIBC = /\/node-v24\.14\.0-linux-x64\.tar\.(gz|xz)$/;
// Five images validated one at a time: a window of a second or so in which validation is surely running.
const VALIDATED = [
  IMAGES.debianAmd64,
  IMAGES.muslAmd64,
  IMAGES.entrypointUserAmd64,
  IMAGES.legacyMcpAmd64,
  IMAGES.noshellAmd64,
];

let mirror: Mirror;
let work: string;
let toolkit: string;
/** Holds the finished toolkit: runs given it as --cache-dir take the toolkit from there in a second. */
let warmCache: string;

beforeAll(async () => {
  ensureBuilt();
  mirror = await startMirror();
  work = tempDir('cancel');
  warmCache = join(work, 'warm-cache');
  toolkit = await toolkitAt(join(work, 'toolkit'), mirror, warmCache);
}, 300_000);

afterEach(() => mirror.clearFaults());

afterAll(async () => {
  const left = removeWorkspaces(prefix);
  await mirror?.close();
  if (work) rmSync(work, { recursive: true, force: true });
  expect(left, 'workspace containers left behind').toEqual([]);
});

/** The temp dir a toolkit is assembled in (`<work dir>/toolkit/.amd64.tmp-*`), under `root`. */
function toolkitTempDir(root: string): string | undefined {
  if (!existsSync(root)) return undefined;
  for (const d of readdirSync(root)) {
    const dir = join(root, d, 'toolkit');
    const hit = existsSync(dir) ? readdirSync(dir).find((n) => n.startsWith('.amd64.tmp-')) : undefined;
    if (hit) return join(dir, hit);
  }
  return undefined;
}

/**
 * Sends `sig` and expects the signal's exit code, the warning, nothing left behind, and all of it
 * promptly. Returns what the run had printed when the signal went out (which stage it was in).
 */
async function interrupt(run: CliRun, sig: 'SIGINT' | 'SIGTERM'): Promise<string> {
  const at = run.stderr();
  const t = performance.now();
  run.kill(sig);
  const r = await run.finished(60_000);
  expect(r.code, r.stderr).toBe(EXIT[sig]);
  expect(r.stderr).toContain(`${sig} received: stopping and cleaning up`);
  expect(leftovers(run)).toEqual({ containers: [], temp: [] });
  // From the signal to the process gone, cleanup included.
  expect(performance.now() - t).toBeLessThan(20_000);
  return at;
}

describe.each(['SIGINT', 'SIGTERM'] as const)('%s to `memoh-workspace run`', (sig) => {
  const bot = (stage: string) => `${prefix}-${stage}-${sig.toLowerCase()}`;

  it('during the toolkit download: the partial toolkit, the work dir and the partial download are gone', async () => {
    const archives = join(work, `cache-${sig}`, 'archives');
    const partial = () => (existsSync(archives) ? readdirSync(archives).filter((n) => n.startsWith('.tmp-')) : []);
    mirror.fault(GLIBC, 'slow', { times: 1, bytesPerSecond: 4 << 20 });
    const run = startRun(work, bot('toolkit'), [
      ...mirrorFlags(mirror),
      '--cache-dir',
      join(work, `cache-${sig}`),
      '--image',
      IMAGES.debianAmd64,
      '--pull',
      'never',
      '--bridge',
      BRIDGE,
    ]);
    // Mid-transfer: the slowed Node.js tarball is being served into a toolkit temp dir and the archive cache.
    await until('the Node.js tarball to be downloading', 30_000, () => toolkitTempDir(run.tmp) && partial().length > 0);
    const at = await interrupt(run, sig);
    // run validates first (only v3-era images get a toolkit, in the flavours they need), then builds it.
    expect(at).toMatch(/── validate[\s\S]*── toolkit/);
    expect(at).not.toContain('── smoke');
    expect(partial()).toEqual([]);
  });

  it('during validation: the (never started) validation containers are removed', async () => {
    let pid: number | undefined;
    const watch = firstValidateContainer(() => pid);
    try {
      const run = startRun(work, bot('validate'), [
        '--toolkit',
        toolkit,
        ...VALIDATED.flatMap((i) => ['--image', i]),
        '--concurrency',
        '1',
        '--pull',
        'never',
        '--bridge',
        BRIDGE,
      ]);
      pid = run.pid;
      const name = await within('a validation container', 30_000, watch.seen);
      const at = await interrupt(run, sig);
      expect(at).toContain('── validate');
      expect(at).not.toContain('── smoke');
      expect(containerState(name)).toBeUndefined();
    } finally {
      watch.stop();
    }
  });

  it('during the smoke stage: the workspace container, its socket dir and runtime dir are removed', async () => {
    const run = startRun(work, bot('smoke'), [
      '--toolkit',
      toolkit,
      '--image',
      IMAGES.debianAmd64,
      '--pull',
      'never',
      '--bridge',
      BRIDGE,
    ]);
    const name = `workspace-${run.botId}`;
    // SIGINT in the middle of the suite; SIGTERM as soon as the container runs (while the bridge comes up).
    if (sig === 'SIGINT')
      await until('the bridge suite to start', 60_000, () => run.stderr().includes('── bridge smoke suite'));
    else await until('the workspace container to run', 60_000, () => containerState(name) === 'running');
    expect(readdirSync(run.tmp).filter((n) => /^memoh-(run|runtime)-/.test(n))).toHaveLength(2);
    await interrupt(run, sig);
    expect(containerState(name)).toBeUndefined();
  });
});

describe('the Action cancelled, then its post step', () => {
  const inputs = (cacheDir: string, botId: string) => ({
    'node-mirror': mirror.urls.node,
    'node-musl-mirror': mirror.urls.nodeMusl,
    'npm-mirror': mirror.urls.npm,
    'uv-mirror': mirror.urls.uv,
    'alpine-mirror': mirror.urls.alpine,
    bridge: BRIDGE,
    platforms: 'linux/amd64',
    images: IMAGES.debianAmd64,
    pull: 'never',
    'cache-dir': cacheDir,
    'bot-id': botId,
  });

  it('main killed (SIGKILL) mid-download: post removes the toolkit temp dir, and does not save the cache of an unfinished main', async () => {
    const f = runnerFiles();
    const tmp = mkdtempSync(join(work, 'tmp-action-kill-'));
    try {
      // A cache service that is "available", so main asks post to save the cache. The loopback mirror stands in
      // for it: its 404 makes the restore fail at once (a refused port would be retried for seconds).
      const env = { TMPDIR: tmp, ACTIONS_CACHE_URL: `${mirror.url}/`, ACTIONS_RUNTIME_TOKEN: 'test-token' };
      mirror.fault(GLIBC, 'slow', { times: 1, bytesPerSecond: 4 << 20 });
      const step = startStep('main', f, inputs(join(f.dir, 'cache'), `${prefix}-action-kill`), env);
      const partial = await until('the toolkit temp dir', 60_000, () => toolkitTempDir(f.temp));
      step.child.kill('SIGKILL');
      await step.done;
      expect(existsSync(partial)).toBe(true);
      const state = postEnvFromState(f);
      const ledger = JSON.parse(state.STATE_ledger ?? '[]') as LedgerEntry[];
      expect(ledger).toContainEqual({ kind: 'path', path: partial, what: 'temp-dir' });
      expect(state.STATE_cache, 'main asked post to save the cache').toBeTruthy();

      const post = await runStep('post', f, {}, { ...state, ...env });
      expect(post.code, post.stdout).toBe(0);
      expect(post.stdout).toContain(`removed temp-dir ${partial}`);
      expect(post.stdout).toContain('toolkit cache: not saved, the main step did not finish');
      expect(existsSync(partial)).toBe(false);
      expect(readdirSync(tmp)).toEqual([]);
    } finally {
      rmSync(f.dir, { recursive: true, force: true });
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('main cancelled as the runner does (SIGINT) mid-suite: main removes everything itself, post finds nothing', async () => {
    const f = runnerFiles();
    const tmp = mkdtempSync(join(work, 'tmp-action-int-'));
    const botId = `${prefix}-action-int`;
    try {
      const step = startStep('main', f, inputs(warmCache, botId), { TMPDIR: tmp });
      await until('the workspace container to run', 120_000, () => containerState(`workspace-${botId}`) === 'running');
      const t = performance.now();
      step.child.kill('SIGINT');
      const main = await step.done;
      expect(performance.now() - t).toBeLessThan(20_000);
      expect(main.code, main.stdout).toBe(1);
      expect(main.stdout).toMatch(/SIGINT: cancelling/);
      expect(containerState(`workspace-${botId}`)).toBeUndefined();
      expect(readdirSync(tmp)).toEqual([]);

      const post = await runStep('post', f, {}, { ...postEnvFromState(f), TMPDIR: tmp });
      expect(post.code, post.stdout).toBe(0);
      expect(post.stdout).toContain('nothing to clean up');
    } finally {
      rmSync(f.dir, { recursive: true, force: true });
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
