import { type ChildProcess, execFileSync, type SpawnSyncReturns, spawn, spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, REPO } from '../world/paths.js';

/** How a spawned process ended, with everything it printed. */
export interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface Started {
  child: ChildProcess;
  /** Settles when the process has exited and its pipes are closed. */
  done: Promise<Ran>;
  /** What it printed so far (for a process still running). */
  output(): { stdout: string; stderr: string };
}

/** Spawns `file args` with piped output; `killAfterMs` is a safety net (SIGKILL) against a hang. */
export function startProcess(
  file: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; killAfterMs?: number } = {},
): Started {
  const started = performance.now();
  const child = spawn(file, args, { env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<Ran>((resolve) => {
    const timer = opts.killAfterMs ? setTimeout(() => child.kill('SIGKILL'), opts.killAfterMs) : undefined;
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: performance.now() - started });
    });
  });
  return { child, done, output: () => ({ stdout, stderr }) };
}

/** The built CLI (dist/cli.js) in the background; `env` is added to this process's environment. */
export function startCli(args: string[], env: NodeJS.ProcessEnv = {}, killAfterMs?: number): Started {
  return startProcess(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, killAfterMs });
}

/** The built CLI to its end (async: a loopback server in this process keeps serving meanwhile). */
export const runCli = (args: string[], env: NodeJS.ProcessEnv = {}, killAfterMs = 60_000): Promise<Ran> =>
  startCli(args, env, killAfterMs).done;

export type CliResult = SpawnSyncReturns<string>;

/** The built CLI to its end, blocking (only for runs that need no server in this process). */
export function runCliSync(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 60_000): CliResult {
  return spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: timeoutMs,
  });
}

/** Builds dist/ when any source file is newer than the bundle (the end-to-end tests run the built CLI). */
export function ensureBuilt(): void {
  let built = 0;
  try {
    built = statSync(CLI).mtimeMs;
  } catch {
    // not built yet
  }
  if (built && newest(join(REPO, 'src')) < built) return;
  execFileSync('npm', ['run', 'build'], { cwd: REPO, stdio: 'ignore', timeout: 300_000 });
}

function newest(dir: string): number {
  let max = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    max = Math.max(max, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return max;
}
