import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Options, resolveOptions } from '../../src/config/index.js';
import { CleanupLedger } from '../../src/core/ledger.js';
import { silentReporter } from '../../src/core/reporter.js';
import type { RunReport } from '../../src/report/index.js';
import { buildToolkit } from '../../src/toolkit/index.js';
import { type CliResult, startCli } from '../smoke/cli.js';
import type { Mirror } from '../world/mirror/server.mjs';
import { standinBridge } from '../world/paths.js';

/**
 * What the fault and cancellation tests share: the built CLI run as a real process against the test
 * world, each run with its own TMPDIR (so every temp, runtime and socket dir it makes can be counted)
 * and its own bot id (so its containers can be found by name), and waits that all have a deadline.
 */
export const BRIDGE = standinBridge('amd64');

export function mirrorFlags(m: Mirror): string[] {
  const u = m.urls;
  return [
    '--node-mirror',
    u.node,
    '--node-musl-mirror',
    u.nodeMusl,
    '--npm-mirror',
    u.npm,
    '--uv-mirror',
    u.uv,
    '--alpine-mirror',
    u.alpine,
  ];
}

export interface CliRun {
  pid: number;
  botId: string;
  /** The run's private TMPDIR. */
  tmp: string;
  startedAt: number;
  stderr(): string;
  running(): boolean;
  kill(signal: NodeJS.Signals): void;
  /** Resolves when the process ended; rejects (after SIGKILL) if that takes longer than `ms`. */
  finished(ms: number): Promise<CliResult & { ms: number }>;
}

/** `memoh-workspace run ARGS --bot-id BOT --platform linux/amd64`, in the background, with a private TMPDIR under `work`. */
export function startRun(work: string, botId: string, args: string[], env: NodeJS.ProcessEnv = {}): CliRun {
  const tmp = mkdtempSync(join(work, `tmp-${botId}-`));
  const startedAt = performance.now();
  const cli = startCli(['run', '--bot-id', botId, '--platform', 'linux/amd64', ...args], { ...env, TMPDIR: tmp });
  const pid = cli.child.pid;
  if (pid === undefined) throw new Error('the CLI did not start');
  return {
    pid,
    botId,
    tmp,
    startedAt,
    stderr: () => cli.output().stderr,
    running: () => cli.child.exitCode === null && cli.child.signalCode === null,
    kill: (signal) => cli.child.kill(signal),
    async finished(ms) {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          cli.child.kill('SIGKILL');
          reject(
            new Error(
              `the CLI did not end within ${ms / 1000} s (a hang); stderr:\n${cli.output().stderr.slice(-3000)}`,
            ),
          );
        }, ms);
      });
      try {
        const r = await Promise.race([cli.done, late]);
        return { ...r, ms: Math.round(performance.now() - startedAt) };
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

export function report(stdout: string): RunReport {
  return JSON.parse(stdout) as RunReport;
}

export function rowOf(r: RunReport, image: string, stage: string) {
  const row = r.rows.find((x) => x.image === image && x.stage === stage);
  if (!row) throw new Error(`no ${image} ${stage} row in ${r.rows.map((x) => `${x.image}/${x.stage}`).join(', ')}`);
  return row;
}

export function checkOf(row: { checks: { id: string; status: string; detail: string; fix?: string }[] }, id: string) {
  const c = row.checks.find((x) => x.id === id);
  if (!c) throw new Error(`no check ${id} in ${row.checks.map((x) => x.id).join(', ')}`);
  return c;
}

function docker(args: string[]): string[] {
  return execFileSync('docker', args, { encoding: 'utf8', timeout: 30_000, stdio: ['ignore', 'pipe', 'ignore'] })
    .split('\n')
    .filter(Boolean);
}

/**
 * What a run left behind: its workspace containers (by the bot id in their name, carrying the
 * memoh.workspace label), its validation containers (labelled with its pid), and everything in its TMPDIR.
 */
export function leftovers(run: Pick<CliRun, 'botId' | 'tmp' | 'pid'>): { containers: string[]; temp: string[] } {
  const containers = [
    ...docker([
      'ps',
      '-a',
      '--filter',
      'label=memoh.workspace',
      '--filter',
      `name=workspace-${run.botId}`,
      '--format',
      '{{.Names}}',
    ]),
    ...docker(['ps', '-a', '--filter', `label=memoh.validate.pid=${run.pid}`, '--format', '{{.Names}}']),
  ];
  return { containers, temp: existsSync(run.tmp) ? readdirSync(run.tmp) : [] };
}

/** Safety net for afterAll: removes the containers of every bot id starting with `prefix`. */
export function removeWorkspaces(prefix: string): string[] {
  const names = docker(['ps', '-a', '--filter', `name=workspace-${prefix}`, '--format', '{{.Names}}']);
  if (names.length) docker(['rm', '-f', ...names]);
  return names;
}

export function containerStatus(name: string): string | undefined {
  try {
    return docker(['inspect', '--format', '{{.State.Status}}', name])[0];
  } catch {
    return undefined;
  }
}

/** Polls `probe` every 50 ms until it returns something truthy; throws naming `what` after `ms`. */
export async function until<T>(what: string, ms: number, probe: () => T | Promise<T>): Promise<NonNullable<T>> {
  const deadline = performance.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v as NonNullable<T>;
    if (performance.now() > deadline) throw new Error(`gave up after ${ms / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** `p`, or an error naming `what` after `ms`. */
export async function within<T>(what: string, ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`gave up after ${ms / 1000} s waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Resolves with the name of the first validation container `docker events` reports created by the
 * process `pid()`. Listening starts before the run, so even a container that lives for 100 ms is seen.
 */
export function firstValidateContainer(pid: () => number | undefined): { seen: Promise<string>; stop: () => void } {
  const format = '{{.Actor.Attributes.name}} {{index .Actor.Attributes "memoh.validate.pid"}}';
  const p = spawn(
    'docker',
    ['events', '--filter', 'label=memoh.validate', '--filter', 'event=create', '--format', format],
    {
      stdio: ['ignore', 'pipe', 'ignore'],
    },
  );
  const seen = new Promise<string>((resolve, reject) => {
    let buf = '';
    p.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      for (const line of buf.split('\n').slice(0, -1)) {
        const [name, owner] = line.trim().split(' ');
        if (name && owner === String(pid())) resolve(name);
      }
      buf = buf.slice(buf.lastIndexOf('\n') + 1);
    });
    p.on('close', () => reject(new Error('docker events ended before a validation container was created')));
  });
  seen.catch(() => {});
  return { seen, stop: () => p.kill('SIGTERM') };
}

/**
 * Options as the resolver makes them (defaults included), downloading from the loopback mirror, plus `values` by
 * `table.key`. The Node.js archives are pinned to .tar.gz: the faults are set on those files, and `auto` may take
 * .tar.xz on a busy machine (a cache seeded by such a build would then hold the other format).
 */
export function optionsFor(m: Mirror, values: Record<string, unknown> = {}): Options {
  const mirrors = {
    'mirrors.node': m.urls.node,
    'mirrors.node_musl': m.urls.nodeMusl,
    'mirrors.npm': m.urls.npm,
    'mirrors.uv': m.urls.uv,
    'mirrors.alpine': m.urls.alpine,
  };
  const pinned = { 'toolkit.archive_format': 'gz' };
  return resolveOptions(
    [{ origin: (f) => `test ${f.key}`, values: new Map(Object.entries({ ...mirrors, ...pinned, ...values })) }],
    {},
  );
}

/**
 * A real amd64 toolkit at `dir`, built by the toolkit stage from the loopback mirror unless it is there.
 * With `cacheDir`, its archives and the finished toolkit go into that cache too.
 */
export async function toolkitAt(dir: string, m: Mirror, cacheDir = ''): Promise<string> {
  if (existsSync(join(dir, 'toolkit.json'))) return dir;
  const o = optionsFor(m);
  const ctx = { reporter: silentReporter, ledger: new CleanupLedger(), signal: new AbortController().signal };
  await buildToolkit({ ...o.toolkit, cacheDir, out: dir, arch: 'amd64' }, ctx);
  return dir;
}

export function workDir(label: string): string {
  return mkdtempSync(join(tmpdir(), `memoh-${label}-`));
}
