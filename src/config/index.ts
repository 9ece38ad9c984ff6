import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import TOML from '@iarna/toml';
import defaultToml from '../../conf/default.toml?raw';
import cnToml from '../../conf/presets/cn.toml?raw';
import { InputError } from '../core/errors.js';
import { type Arch, type Platform, hostArch, parseArch, parsePlatform, platformOf } from '../core/platform.js';
import { FIELDS, type Field, fieldPath } from './schema.js';
import { validateBotId, validateImageRef, validateRegistryHost, validateUrl, validateVersion } from './validate.js';

export type Pull = 'always' | 'missing' | 'never';
export type Service = 'auto' | 'mcpcontainer' | 'bridgepb';

export interface Mirrors {
  node: string;
  nodeMusl: string;
  /** Empty: the registry the machine's npm is configured with (resolved by the toolkit stage). */
  npm: string;
  uv: string;
  alpine: string;
}

export interface Options {
  preset: string;
  workspace: { registry: string; defaultImage: string; runtimeDir: string; dataRoot: string };
  toolkit: {
    nodeVersion: string;
    npmVersion: string;
    uvVersion: string;
    alpineVersion: string;
    arches: Arch[];
    cacheDir: string;
    verify: boolean;
    mirrors: Mirrors;
  };
  run: { images: string[]; platforms: Platform[]; pull: Pull; concurrency: number; failOn: 'error' | 'warning' };
  smoke: { bridge: string; service: Service; checks: string; timeoutSeconds: number; botId: string; toolkit: string[]; keep: boolean };
  mirror: { upstream: string; insecure: string[] };
  /** Where each setting's value came from, by `table.key`, in the user's words (for later error messages). */
  origins: Record<string, string>;
}

/** One source of settings: where it came from (for error messages) and its values by `table.key`. */
export interface Layer {
  /** Names a value's origin in the user's words: `--node-version`, `input node-version`, `ci.toml [toolkit] node_version`. */
  origin: (f: Field) => string;
  values: Map<string, unknown>;
}

export const PRESETS: Record<string, string> = { cn: cnToml };

function parseToml(text: string, name: string, input: string): Record<string, unknown> {
  try {
    return TOML.parse(text) as Record<string, unknown>;
  } catch (err) {
    const e = err as { line?: number; col?: number; message?: string };
    const where = e.line !== undefined ? ` at line ${e.line + 1}, column ${(e.col ?? 0) + 1}` : '';
    throw new InputError(input, `${name} is not valid TOML${where}: ${(e.message ?? '').split('\n')[0]}`, 'fix the TOML syntax');
  }
}

const ourTables = new Set(FIELDS.map((f) => f.table));

/**
 * Turns a parsed TOML document into a layer. Unknown keys in our tables are errors (typos must not
 * pass silently). A Memoh config.toml (a [workspace] table next to tables we don't know) is accepted
 * as it is: only its [workspace] section is read.
 */
export function tomlLayer(doc: Record<string, unknown>, name: string): Layer {
  const tables = Object.keys(doc);
  const foreign = tables.filter((t) => !ourTables.has(t));
  const isMemohConfig = foreign.length > 0 && tables.includes('workspace') && tables.every((t) => t === 'workspace' || !ourTables.has(t));
  const values = new Map<string, unknown>();
  for (const table of tables) {
    if (isMemohConfig && table !== 'workspace') continue;
    const body = doc[table];
    if (!ourTables.has(table)) {
      throw new InputError(`${name} [${table}]`, 'unknown section', `use one of: ${[...ourTables].map((t) => `[${t}]`).join(', ')}`);
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new InputError(`${name} ${table}`, 'must be a table', `write it as [${table}]`);
    }
    for (const [key, value] of Object.entries(body)) {
      const f = FIELDS.find((x) => x.table === table && x.key === key);
      if (!f) {
        const known = FIELDS.filter((x) => x.table === table).map((x) => x.key);
        throw new InputError(`${name} [${table}] ${key}`, 'unknown key', `use one of: ${known.join(', ')}`);
      }
      values.set(fieldPath(f), value);
    }
  }
  return { origin: (f) => `${name} [${f.table}] ${f.key}`, values };
}

export function presetLayer(preset: string, input: string): Layer {
  const text = PRESETS[preset];
  if (text === undefined) {
    throw new InputError(input, `unknown preset "${preset}"`, `use one of: ${Object.keys(PRESETS).join(', ')}`);
  }
  return tomlLayer(parseToml(text, `preset ${preset}`, input), `preset ${preset}`);
}

export function fileLayer(path: string, input: string): Layer {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputError(input, `cannot read config file ${path} (${code ?? String(err)})`, 'give the path of an existing TOML file');
  }
  return tomlLayer(parseToml(text, basename(path), input), basename(path));
}

export function defaultLayer(): Layer {
  return tomlLayer(parseToml(defaultToml, 'embedded default', 'conf/default.toml'), 'conf/default.toml');
}

/**
 * What a face (the CLI, the Action) hands over: its preset and config file names, and its own values by
 * `table.key`, each named by `origin` in the face's words. Layered as embedded default → preset → config
 * file → the face's values. Whole-number text for int settings becomes a number here, once for both faces;
 * anything else is left for the resolver to reject with the input's name.
 */
export interface FaceSettings {
  preset: string;
  presetInput: string;
  config: string;
  configInput: string;
  values: Map<string, unknown>;
  origin: (f: Field) => string;
}

export function optionsFromFace(face: FaceSettings, env: NodeJS.ProcessEnv = process.env): Options {
  const layers: Layer[] = [];
  if (face.preset) layers.push(presetLayer(face.preset, face.presetInput));
  if (face.config) layers.push(fileLayer(face.config, face.configInput));
  const values = new Map<string, unknown>();
  for (const [path, v] of face.values) {
    const int = FIELDS.find((f) => fieldPath(f) === path)?.type === 'int';
    values.set(path, int && typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v) : v);
  }
  layers.push({ origin: face.origin, values });
  return resolveOptions(layers, env, face.preset);
}

/** Merges layers (later wins) and validates every value, naming the source of the bad one. */
export function resolveOptions(layers: Layer[], env: NodeJS.ProcessEnv = process.env, preset = ''): Options {
  const all = [defaultLayer(), ...layers];
  const winner = new Map<string, { value: unknown; origin: string }>();
  for (const layer of all) {
    for (const f of FIELDS) {
      const path = fieldPath(f);
      if (layer.values.has(path)) winner.set(path, { value: layer.values.get(path), origin: layer.origin(f) });
    }
  }
  const get = (path: string) => {
    const f = FIELDS.find((x) => fieldPath(x) === path);
    const w = winner.get(path);
    if (!f || !w) throw new Error(`internal: no value for ${path}`);
    return { f, ...w };
  };
  const str = (path: string): string => {
    const { f, value, origin } = get(path);
    if (typeof value !== 'string') throw new InputError(origin, `must be a string, got ${typeName(value)}`, 'quote the value');
    const v = value.trim();
    if (v.length > 4096) throw new InputError(origin, 'is longer than 4096 characters', 'give a shorter value');
    if (f.choices && !f.choices.includes(v)) {
      throw new InputError(origin, `"${v}" is not allowed`, `use one of: ${f.choices.join(', ')}`);
    }
    return v;
  };
  const bool = (path: string): boolean => {
    const { value, origin } = get(path);
    if (typeof value !== 'boolean') throw new InputError(origin, `must be true or false, got ${typeName(value)}`, 'write true or false');
    return value;
  };
  const int = (path: string): number => {
    const { f, value, origin } = get(path);
    if (typeof value !== 'number' || !Number.isInteger(value)) {
      throw new InputError(origin, `must be a whole number, got ${typeName(value)}`, `give a number from ${f.min} to ${f.max}`);
    }
    if ((f.min !== undefined && value < f.min) || (f.max !== undefined && value > f.max)) {
      throw new InputError(origin, `${value} is out of range`, `give a number from ${f.min} to ${f.max}`);
    }
    return value;
  };
  const list = (path: string): { items: string[]; origin: string } => {
    const { value, origin } = get(path);
    if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) {
      throw new InputError(origin, `must be a list of strings, got ${typeName(value)}`, 'write it as ["a", "b"]');
    }
    if (value.length > 256) throw new InputError(origin, `has ${value.length} entries`, 'give at most 256');
    return { items: (value as string[]).map((s) => s.trim()).filter((s) => s.length > 0), origin };
  };

  const registry = str('workspace.registry');
  if (registry) validateRegistryHost(registry, get('workspace.registry').origin);
  const defaultImage = str('workspace.default_image');
  validateImageRef(defaultImage, get('workspace.default_image').origin);

  const mirrors: Mirrors = {
    node: validateUrl(str('mirrors.node'), get('mirrors.node').origin),
    nodeMusl: validateUrl(str('mirrors.node_musl'), get('mirrors.node_musl').origin),
    npm: str('mirrors.npm') ? validateUrl(str('mirrors.npm'), get('mirrors.npm').origin) : '',
    uv: validateUrl(str('mirrors.uv'), get('mirrors.uv').origin),
    alpine: validateUrl(str('mirrors.alpine'), get('mirrors.alpine').origin),
  };

  const imgs = list('run.images');
  for (const img of imgs.items) validateImageRef(img, imgs.origin);
  const plats = list('run.platforms');
  const platforms = plats.items.length ? dedupe(plats.items.map((p) => parsePlatform(p, plats.origin))) : [platformOf(hostArch())];
  const archList = list('toolkit.arch');
  const arches = archList.items.length
    ? [...new Set(archList.items.map((a) => parseArch(a, archList.origin)))]
    : [...new Set(platforms.map((p) => p.arch))];

  const botId = str('smoke.bot_id');
  if (botId) validateBotId(botId, get('smoke.bot_id').origin);
  const upstream = str('mirror.upstream');
  if (upstream) validateRegistryHost(upstream, get('mirror.upstream').origin);
  const insecure = list('mirror.insecure');
  for (const h of insecure.items) validateRegistryHost(h, insecure.origin);

  const cacheDir = str('toolkit.cache_dir');
  return {
    preset,
    workspace: { registry, defaultImage, runtimeDir: str('workspace.runtime_dir'), dataRoot: str('workspace.data_root') },
    toolkit: {
      nodeVersion: validateVersion(str('toolkit.node_version'), get('toolkit.node_version').origin, { allowMajor: true }),
      npmVersion: validateVersion(str('toolkit.npm_version'), get('toolkit.npm_version').origin),
      uvVersion: validateVersion(str('toolkit.uv_version'), get('toolkit.uv_version').origin),
      alpineVersion: validateAlpine(str('toolkit.alpine_version'), get('toolkit.alpine_version').origin),
      arches,
      cacheDir: cacheDir ? resolve(cacheDir) : defaultCacheDir(env),
      verify: bool('toolkit.verify'),
      mirrors,
    },
    run: {
      images: imgs.items.length ? imgs.items : [defaultImage],
      platforms,
      pull: str('run.pull') as Pull,
      concurrency: int('run.concurrency'),
      failOn: str('run.fail_on') as 'error' | 'warning',
    },
    smoke: {
      bridge: str('smoke.bridge'),
      service: str('smoke.service') as Service,
      checks: str('smoke.checks'),
      timeoutSeconds: int('smoke.timeout'),
      botId,
      toolkit: list('smoke.toolkit').items.map((d) => resolve(d)),
      keep: bool('smoke.keep'),
    },
    mirror: { upstream, insecure: insecure.items },
    origins: Object.fromEntries([...winner].map(([path, w]) => [path, w.origin])),
  };
}

function validateAlpine(v: string, origin: string): string {
  if (!/^\d+\.\d+$/.test(v)) throw new InputError(origin, `"${v}" is not an Alpine release`, 'give X.Y, e.g. 3.23');
  return v;
}

function defaultCacheDir(env: NodeJS.ProcessEnv): string {
  const base = env.XDG_CACHE_HOME?.trim() || join(env.HOME?.trim() || homedir(), '.cache');
  return join(base, 'memoh-workspace');
}

function dedupe(ps: Platform[]): Platform[] {
  const seen = new Set<string>();
  return ps.filter((p) => (seen.has(p.arch) ? false : (seen.add(p.arch), true)));
}

function typeName(v: unknown): string {
  if (Array.isArray(v)) return 'a list';
  if (v === null || v === undefined) return 'nothing';
  if (v instanceof Date) return 'a date';
  return `a ${typeof v}`;
}
