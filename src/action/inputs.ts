import * as core from '@actions/core';
import { type Options, optionsFromFace } from '../config/index.js';
import { FIELDS, type Field, fieldPath } from '../config/schema.js';
import { InputError } from '../core/errors.js';
import { addSecret, addSecretsFrom, addSecretsFromFile } from '../core/redact.js';
import { MODES, type Mode } from '../pipeline.js';
import { inputs } from './meta.js';

const ALL_INPUTS: readonly string[] = inputs.map((i) => i.name);

export interface ActionInputs {
  options: Options;
  mode: Mode;
  cache: boolean;
  credentials?: { username: string; password: string };
}

const inputName = (name: string) => `INPUT_${name.replace(/ /g, '_').toUpperCase()}`;

/**
 * Inputs → the same typed Options the CLI builds. A `with:` key that action.yml does not declare
 * still arrives as INPUT_*: refuse it by name instead of ignoring a typo.
 */
export function readInputs(env: NodeJS.ProcessEnv = process.env): ActionInputs {
  // First, so that no error below can quote a credential: URL userinfo in any input or in the files
  // inputs name, and the password input whole.
  addSecretsFrom(Object.entries(env).flatMap(([k, v]) => (k.startsWith('INPUT_') && v ? [v] : [])));
  const password = core.getInput('registry-password').trim();
  if (password) addSecret(password);
  for (const name of ['config', 'checks']) {
    const file = core.getInput(name).trim();
    if (file) addSecretsFromFile(file);
  }
  const declared = new Set(ALL_INPUTS.map(inputName));
  for (const key of Object.keys(env)) {
    if (key.startsWith('INPUT_') && !declared.has(key) && env[key]) {
      const name = key.slice(6).toLowerCase();
      throw new InputError(`input ${name}`, 'is not an input of this action', `use one of: ${ALL_INPUTS.join(', ')}`);
    }
  }
  const get = (name: string) => core.getInput(name).trim();

  const values = new Map<string, unknown>();
  for (const f of FIELDS) {
    const raw = f.input ? get(f.input) : '';
    if (raw !== '') values.set(fieldPath(f), parseInput(f, raw));
  }
  const options = optionsFromFace(
    {
      preset: get('preset'),
      presetInput: 'input preset',
      config: get('config'),
      configInput: 'input config',
      values,
      origin: (f: Field) => `input ${f.input}`,
    },
    env,
  );

  const mode = (get('mode') || 'run') as Mode;
  if (!MODES.includes(mode))
    throw new InputError('input mode', `"${mode}" is not a mode`, `use one of: ${MODES.join(', ')}`);
  const cache = parseBool(get('cache') || 'true', 'input cache');
  const username = get('registry-username');
  if (!!username !== !!password) {
    throw new InputError(
      'input registry-username',
      'and registry-password must be given together',
      'set both, or neither',
    );
  }
  return { options, mode, cache, ...(username ? { credentials: { username, password } } : {}) };
}

function parseInput(f: Field, raw: string): unknown {
  const name = `input ${f.input}`;
  switch (f.type) {
    case 'string':
    case 'int':
      return raw;
    case 'bool':
      return parseBool(raw, name);
    case 'list':
      return raw
        .split(/[\n,]/)
        .map((s) => s.trim())
        .filter((s) => s && !s.startsWith('#'));
  }
}

function parseBool(raw: string, name: string): boolean {
  // The YAML 1.2 core schema booleans, as @actions/core's getBooleanInput accepts them.
  if (['true', 'True', 'TRUE'].includes(raw)) return true;
  if (['false', 'False', 'FALSE'].includes(raw)) return false;
  throw new InputError(name, `"${raw.slice(0, 40)}" is not a boolean`, 'use true or false');
}
