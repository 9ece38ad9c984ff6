import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { BRANDING_COLORS, branding, inputs, outputs } from '../../src/action/meta.js';
import type { ExecResult } from '../../src/bridge/client.js';
import { loadUserChecks } from '../../src/bridge/index.js';
import { type CommandCheck, judgeExec } from '../../src/bridge/runner.js';
import { FIELDS } from '../../src/config/schema.js';
import { REPO } from '../world/paths.js';

const action = YAML.parse(readFileSync(`${REPO}/action.yml`, 'utf8')) as {
  inputs: Record<string, { description: string; default?: string }>;
  outputs: Record<string, { description: string }>;
  runs: { using: string; main: string; post: string; 'post-if': string };
  branding?: { icon: string; color: string };
};
const readme = readFileSync(`${REPO}/README.md`, 'utf8');
const table = readme.split('<!-- inputs:begin -->')[1]!.split('<!-- inputs:end -->')[0]!;
const rows = (header: string) =>
  table
    .split(`| ${header} |`)[1]!
    .split('\n\n')[0]!
    .split('\n')
    .slice(2)
    .map((l) => /^\| `([^`]+)` \|/.exec(l)?.[1])
    .filter(Boolean);

describe('action.yml and README stay equal to the code', () => {
  it('runs on node24 with main and an always-run post step', () => {
    expect(action.runs).toEqual({ using: 'node24', main: 'dist/main.js', post: 'dist/post.js', 'post-if': 'always()' });
  });

  it('carries the Marketplace branding: a Feather icon name and one of the colours GitHub accepts', () => {
    expect(action.branding).toEqual(branding);
    expect(BRANDING_COLORS).toContain(action.branding!.color);
    expect(action.branding!.icon).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
  });

  it('declares exactly the inputs the code reads, with the same descriptions', () => {
    expect(Object.keys(action.inputs)).toEqual(inputs.map((i) => i.name));
    for (const i of inputs) expect(action.inputs[i.name]!.description).toBe(i.description);
    // Every schema field with an input name is an input.
    for (const f of FIELDS.filter((x) => x.input)) expect(action.inputs).toHaveProperty(f.input!);
  });

  it('gives no default to inputs that set config keys (a default would override the config file)', () => {
    for (const i of inputs.filter((x) => x.setting)) expect(action.inputs[i.name]!.default).toBeUndefined();
  });

  it('declares the outputs the main step sets', () => {
    expect(Object.keys(action.outputs)).toEqual(outputs.map((o) => o.name));
    const main = readFileSync(`${REPO}/src/action/main.ts`, 'utf8');
    for (const o of outputs) expect(main).toContain(`core.setOutput('${o.name}'`);
  });

  it("the README's table lists the same inputs and outputs in the same order", () => {
    expect(rows('Input')).toEqual(Object.keys(action.inputs));
    expect(rows('Output')).toEqual(Object.keys(action.outputs));
  });
});

describe("the README's checks file", () => {
  const example = readme.split('## Checks file')[1]!.split('```toml\n')[1]!.split('```')[0]!;

  it('is a valid checks file: every check of the example loads', () => {
    const { checks } = loadUserChecks('checks.toml', example);
    expect(checks.map((c) => c.id)).toEqual([
      'user.node-works',
      'user.npm-pinned',
      'user.reads-stdin',
      'user.toolkit-node',
      'user.data-is-a-dir',
      'user.no-leftover-socket',
    ]);
  });

  it('its command checks pass on the output the README says they expect, and fail on another', () => {
    const { checks } = loadUserChecks('checks.toml', example);
    const exec = (stdout: string): ExecResult => ({
      stdout: Buffer.from(stdout),
      stderr: Buffer.alloc(0),
      exitCode: 0,
      messages: [],
      afterExit: 0,
      exitMessages: 1,
      ms: 1,
    });
    const judge = (id: string, stdout: string) =>
      judgeExec(checks.find((c) => c.id === id) as CommandCheck, exec(stdout)).status;
    expect(judge('user.node-works', 'v24.14.0\n')).toBe('pass');
    expect(judge('user.npm-pinned', '10.9.2\nhello\n')).toBe('pass');
    expect(judge('user.reads-stdin', '       2\n')).toBe('pass');
    expect(judge('user.node-works', 'v22.1.0\n')).toBe('fail');
    expect(judge('user.npm-pinned', '11.0.0\nhello\n')).toBe('fail');
  });

  it("names the keys the loader allows, and the unknown-key error it shows is the loader's", () => {
    const section = readme.split('## Checks file')[1]!.split('\n## ')[0]!;
    const tables = section
      .split('\n')
      .filter((l) => l.startsWith('| '))
      .map((l) => l.split(' | ')[0])
      .join('\n');
    for (const key of [
      'name',
      'command',
      'stdout',
      'stderr',
      'not_stdout',
      'not_stderr',
      'exit_code',
      'env',
      'work_dir',
      'stdin',
      'timeout',
      'path',
      'exists',
      'is_dir',
      'mode',
      'contents',
    ]) {
      expect(tables, key).toContain(`\`${key}\``);
    }
    expect(() => loadUserChecks('checks.toml', '[[command]]\nname = "a"\ncommand = "true"\nstdot = "x"\n')).toThrow(
      /^checks\.toml command\[1\]\.stdot: unknown key\. Fix: use one of: name, command, stdout/,
    );
  });
});
