import { type ChildProcess, spawn } from 'node:child_process';
import { docker } from '../../src/core/docker.js';
import { VALIDATE_LABEL } from '../../src/image/index.js';
import { CLI } from '../world/paths.js';

/** Containers validation created on behalf of process `pid` that still exist. */
export async function leftovers(pid: number): Promise<string[]> {
  const list = await docker().listContainers({ all: true, filters: { label: [`${VALIDATE_LABEL}.pid=${pid}`] } });
  return list.map((c) => c.Id);
}

/** Waits until `cond` holds, polling; fails with `what` after `ms`. */
export async function until(
  cond: () => Promise<boolean> | boolean,
  ms: number,
  what: string,
  every = 20,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, every));
  }
}

export interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Starts the built CLI's `validate` (dist/cli.js); `done` settles when it exits (killed after 60 s). */
export function startCli(
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): { child: ChildProcess; done: Promise<Ran> } {
  const started = performance.now();
  const child = spawn(process.execPath, [CLI, 'validate', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += String(d)));
  child.stderr!.on('data', (d) => (stderr += String(d)));
  const done = new Promise<Ran>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: performance.now() - started });
    });
  });
  return { child, done };
}

export const runCli = (...args: string[]): Promise<Ran> => startCli(args).done;
