import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { node24, REPO } from '../world/paths.js';
import { type Ran, type Started, startProcess } from './cli.js';
import { tempDir } from './tmp.js';

/**
 * Runs dist/main.js and dist/post.js the way the Actions runner does: inputs as INPUT_* variables,
 * file commands (GITHUB_OUTPUT, GITHUB_STATE, GITHUB_STEP_SUMMARY), RUNNER_TEMP, RUNNER_TOOL_CACHE,
 * and the state main saved handed to post as STATE_* variables — under a real Node 24.
 */
export interface RunnerFiles {
  dir: string;
  output: string;
  state: string;
  summary: string;
  temp: string;
  toolCache: string;
}

export function runnerFiles(): RunnerFiles {
  const dir = tempDir('runner');
  const f = {
    dir,
    output: join(dir, 'output'),
    state: join(dir, 'state'),
    summary: join(dir, 'summary.md'),
    temp: join(dir, 'temp'),
    toolCache: join(dir, 'tool-cache'),
  };
  for (const p of [f.output, f.state, f.summary]) writeFileSync(p, '');
  mkdirSync(f.temp);
  mkdirSync(f.toolCache);
  return f;
}

export function nodeForAction(): string {
  if (!existsSync(node24)) throw new Error(`no Node 24 at ${node24}: run npm run world:build`);
  return node24;
}

/** The runner's environment: a clean one, as a job step gets (no vitest, no npm variables). */
function env(files: RunnerFiles, inputs: Record<string, string>, extra: Record<string, string>): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    // A test that points os.tmpdir() at a private dir (privateTmp) sees the step's temp dirs there, not other runs'.
    ...(process.env.TMPDIR ? { TMPDIR: process.env.TMPDIR } : {}),
    GITHUB_ACTIONS: 'true',
    CI: 'true',
    GITHUB_OUTPUT: files.output,
    GITHUB_STATE: files.state,
    GITHUB_STEP_SUMMARY: files.summary,
    RUNNER_TEMP: files.temp,
    RUNNER_TOOL_CACHE: files.toolCache,
    ...extra,
  };
  for (const [k, v] of Object.entries(inputs)) e[`INPUT_${k.replace(/ /g, '_').toUpperCase()}`] = v;
  return e;
}

export type StepResult = Ran;

export function startStep(
  script: 'main' | 'post',
  files: RunnerFiles,
  inputs: Record<string, string>,
  extra: Record<string, string> = {},
): Started {
  return startProcess(nodeForAction(), [join(REPO, 'dist', `${script}.js`)], { env: env(files, inputs, extra) });
}

/** `main` then, as the runner does after any outcome, `post` with the state main saved. */
export async function runStep(
  script: 'main' | 'post',
  files: RunnerFiles,
  inputs: Record<string, string>,
  extra: Record<string, string> = {},
) {
  return startStep(script, files, inputs, extra).done;
}

export function postEnvFromState(files: RunnerFiles): Record<string, string> {
  const state = parseFileCommand(readFileSync(files.state, 'utf8'));
  return Object.fromEntries(Object.entries(state).map(([k, v]) => [`STATE_${k}`, v]));
}

/** Parses the runner's file-command format (`name<<DELIM\nvalue\nDELIM`); the last value of a name wins. */
export function parseFileCommand(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^([^<=]+)<<(.+)$/.exec(lines[i]!);
    if (m) {
      const [, name, delim] = m;
      const value: string[] = [];
      for (i++; i < lines.length && lines[i] !== delim; i++) value.push(lines[i]!);
      out[name!] = value.join('\n');
    } else if (lines[i]!.includes('=')) {
      const [name, ...rest] = lines[i]!.split('=');
      out[name!] = rest.join('=');
    }
  }
  return out;
}
