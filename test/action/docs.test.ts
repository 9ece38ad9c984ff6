import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { BRANDING_COLORS, branding, inputs, outputs } from '../../src/action/meta.js';
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
