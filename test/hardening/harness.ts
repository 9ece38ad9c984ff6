import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Options, resolveOptions } from '../../src/config/index.js';
import type { RunReport } from '../../src/report/index.js';
import { buildToolkit } from '../../src/toolkit/index.js';
import { type Ran, startCli } from '../support/cli.js';
import { testContext } from '../support/context.js';
import { containers, removeContainers } from '../support/leaks.js';
import { mirrorLayer } from '../support/mirror.js';
import type { Mirror } from '../world/mirror/server.mjs';
import { standinBridge } from '../world/paths.js';

/**
 * What the fault and cancellation tests share: the built CLI run as a real process against the test
 * world, each run with its own TMPDIR (so every temp, runtime and socket dir it makes can be counted)
 * and its own bot id (so its containers can be found by name), and waits that all have a deadline.
 */
export const BRIDGE = standinBridge('amd64');

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
  finished(ms: number): Promise<Ran>;
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

/**
 * What a run left behind: its workspace containers (by the bot id in their name, carrying the
 * memoh.workspace label), its validation containers (labelled with its pid), and everything in its TMPDIR.
 */
export function leftovers(run: Pick<CliRun, 'botId' | 'tmp' | 'pid'>): { containers: string[]; temp: string[] } {
  return {
    containers: [
      ...containers(['label=memoh.workspace', `name=workspace-${run.botId}`]),
      ...containers([`label=memoh.validate.pid=${run.pid}`]),
    ],
    temp: existsSync(run.tmp) ? readdirSync(run.tmp) : [],
  };
}

/** Safety net for afterAll: removes the containers of every bot id starting with `prefix`. */
export function removeWorkspaces(prefix: string): string[] {
  const names = containers([`name=workspace-${prefix}`]);
  removeContainers(names);
  return names;
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
  return resolveOptions([mirrorLayer(m, { 'toolkit.archive_format': 'gz', ...values })], {});
}

/**
 * A real amd64 toolkit at `dir`, built by the toolkit stage from the loopback mirror unless it is there.
 * With `cacheDir`, its archives and the finished toolkit go into that cache too.
 */
export async function toolkitAt(dir: string, m: Mirror, cacheDir = ''): Promise<string> {
  if (existsSync(join(dir, 'toolkit.json'))) return dir;
  const o = optionsFor(m);
  await buildToolkit({ ...o.toolkit, cacheDir, out: dir, arch: 'amd64' }, testContext());
  return dir;
}
