import { readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import TOML from '@iarna/toml';
import defaultToml from '../../conf/default.toml?raw';
import cnToml from '../../conf/presets/cn.toml?raw';
import type { FailOn } from '../core/check.js';
import type { Backend, BridgeTls, EraChoice } from '../core/era.js';
import { errorCode, InputError } from '../core/errors.js';
import { type Arch, hostArch, type Platform, parseArch, parsePlatform, platformOf } from '../core/platform.js';
import { uniqueBy } from '../core/util.js';
import { SERVER_RUNTIME_DIR } from '../era/index.js';
import { FIELDS, type Field, fieldPath, fieldPlace } from './schema.js';
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

/** Memoh's image_pull_policy, normalised as Memoh does (anything unknown is if_not_present). */
export type ImagePullPolicy = 'always' | 'never' | 'if_not_present';

export interface Options {
  preset: string;
  /** Memoh's [container] (v0.18), or the seed's [workspace] read into it, with Memoh's meaning. */
  workspace: {
    backend: Backend;
    registry: string;
    /** default_image as written (the mirror stage pairs it with `registry/default_image`). */
    defaultImage: string;
    /** The reference Memoh pulls for the default image: `registry + "/" + default_image`, not normalised; without a registry, default_image. */
    defaultImageRef: string;
    imagePullPolicy: ImagePullPolicy;
    runtimeDir: string;
    /** Memoh's bridge_path; empty in the file → `<runtime_dir>/bridge`, as Memoh derives it. */
    bridgePath: string;
    dataRoot: string;
    snapshotter: string;
    cniBinDir: string;
    cniConfDir: string;
  };
  toolkit: {
    nodeVersion: string;
    npmVersion: string;
    uvVersion: string;
    alpineVersion: string;
    arches: Arch[];
    cacheDir: string;
    verify: boolean;
    archiveFormat: 'auto' | 'gz' | 'xz';
    mirrors: Mirrors;
  };
  run: {
    /** Which era's rules apply; `auto` is judged later from the image and the bridge (judgeEra in src/core/era.ts). */
    memoh: EraChoice;
    /**
     * The references checked (validate, smoke, plan), as they are pulled: the images listed, exactly as given;
     * with none listed, the default image as Memoh pulls it (`workspace.defaultImageRef`).
     */
    images: string[];
    /** True when `images` came from the user; false when it is the default image. */
    imagesListed: boolean;
    platforms: Platform[];
    pull: Pull;
    concurrency: number;
    failOn: FailOn;
  };
  smoke: {
    bridge: string;
    service: Service;
    checks: string;
    timeoutSeconds: number;
    botId: string;
    toolkit: string[];
    keep: boolean;
  };
  mirror: { upstream: string; insecure: string[] };
  /** Memoh's strict bridge mTLS (`[bridge_tls] mode = "strict"` + `instance_id`), checked; absent when disabled. */
  bridgeTls?: BridgeTls;
  /** Where each setting's value came from, by `table.key`, in the user's words (for later error messages). */
  origins: Record<string, string>;
}

/**
 * The images whose mirror copies the mirror stage asks about (paired X ↔ `registry/X`): the images listed, as
 * given; with none listed, the default image as written (not `defaultImageRef`, which already carries the registry).
 */
export function mirrorImages(o: Pick<Options, 'run' | 'workspace'>): string[] {
  return o.run.imagesListed ? o.run.images : [o.workspace.defaultImage];
}

/** One source of settings: where it came from (for error messages) and its values by `table.key`. */
export interface Layer {
  /** Names a value's origin in the user's words: `--node-version`, `input node-version`, `ci.toml [toolkit] node_version`. */
  origin: (f: Field) => string;
  values: Map<string, unknown>;
}

const PRESETS: Record<string, string> = { cn: cnToml };

function parseToml(text: string, name: string, input: string): Record<string, unknown> {
  try {
    return TOML.parse(text) as Record<string, unknown>;
  } catch (err) {
    const e = err as { line?: number; col?: number; message?: string };
    const where = e.line !== undefined ? ` at line ${e.line + 1}, column ${(e.col ?? 0) + 1}` : '';
    throw new InputError(
      input,
      `${name} is not valid TOML${where}: ${(e.message ?? '').split('\n')[0]}`,
      'fix the TOML syntax',
    );
  }
}

/** Tables of our own config file; `workspace` is the legacy name of [container] (the seed's, and ours before). */
const OUR_TABLES = new Set([...FIELDS.map((f) => f.table).filter(Boolean), 'workspace']);
/** The sections read from a Memoh config.toml; every other section of it is Memoh's own business. */
const MEMOH_TABLES = new Set(['container', 'workspace', 'bridge_tls']);
/** Memoh's WorkspaceConfig keys: what [workspace] may hold, and what [container] must not hold beside it (config.go@v0.18.0). */
const WORKSPACE_KEYS = [
  'registry',
  'default_image',
  'image_pull_policy',
  'snapshotter',
  'data_root',
  'cni_bin_dir',
  'cni_conf_dir',
  'bridge_path',
  'runtime_dir',
];

function isTable(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

/**
 * Turns a parsed TOML document into a layer. Our own file: unknown sections and keys are errors (typos must
 * not pass silently). A Memoh config.toml ([container] or [workspace] beside sections only Memoh has, e.g.
 * [server], [postgres], and none only we have) is read as Memoh reads it: [container] (backend + the workspace keys), the legacy [workspace] copied into [container],
 * [bridge_tls] and the top-level instance_id; everything else, and keys we do not use, are ignored. Memoh's
 * own refusals hold for both: [mcp] is an error, and so are workspace keys in both [container] and [workspace].
 */
function tomlLayer(doc: Record<string, unknown>, name: string): Layer {
  refuseRetired(doc, name);
  const memoh = isMemohFile(doc);
  const values = new Map<string, unknown>();
  const legacy = new Set<string>();
  for (const [section, body] of Object.entries(doc)) {
    if (!isTable(body)) {
      const f = FIELDS.find((x) => x.table === '' && x.key === section);
      if (f) values.set(fieldPath(f), body);
      else if (!memoh) {
        const top = FIELDS.filter((x) => x.table === '').map((x) => x.key);
        throw new InputError(
          `${name} ${section}`,
          'unknown top-level key',
          `put it under its [table], or use one of: ${top.join(', ')}`,
        );
      }
      continue;
    }
    if (memoh && !MEMOH_TABLES.has(section)) continue;
    if (!OUR_TABLES.has(section)) {
      const tables = [...OUR_TABLES].filter((t) => t !== 'workspace');
      throw new InputError(
        `${name} [${section}]`,
        'unknown section',
        `use one of: ${tables.map((t) => `[${t}]`).join(', ')}`,
      );
    }
    const table = section === 'workspace' ? 'container' : section;
    for (const [key, value] of Object.entries(body)) {
      const f =
        section === 'workspace' && !WORKSPACE_KEYS.includes(key)
          ? undefined
          : FIELDS.find((x) => x.table === table && x.key === key);
      if (!f) {
        if (memoh) continue;
        const known =
          section === 'workspace' ? WORKSPACE_KEYS : FIELDS.filter((x) => x.table === table).map((x) => x.key);
        throw new InputError(`${name} [${section}] ${key}`, 'unknown key', `use one of: ${known.join(', ')}`);
      }
      values.set(fieldPath(f), value);
      if (section === 'workspace') legacy.add(fieldPath(f));
    }
  }
  return {
    origin: (f) => (legacy.has(fieldPath(f)) ? `${name} [workspace] ${f.key}` : `${name} ${fieldPlace(f)}`),
    values,
  };
}

/** Sections Memoh itself refuses: the retired [mcp], and workspace keys in both [container] and [workspace]. */
function refuseRetired(doc: Record<string, unknown>, name: string): void {
  if ('mcp' in doc) {
    throw new InputError(
      `${name} [mcp]`,
      'was replaced by the workspace keys of [container] (Memoh refuses [mcp] too)',
      'move its keys into [container] (image becomes default_image) and remove [mcp]',
    );
  }
  const container = isTable(doc.container) ? doc.container : undefined;
  if (isTable(doc.workspace) && container) {
    const both = Object.keys(container).filter((k) => WORKSPACE_KEYS.includes(k));
    if (both.length) {
      throw new InputError(
        `${name} [container] ${both[0]}`,
        'workspace keys are set in both [container] and [workspace] (Memoh refuses this too)',
        'move the [workspace] keys into [container] and remove [workspace]',
      );
    }
  }
}

function isMemohFile(doc: Record<string, unknown>): boolean {
  // A Memoh file: Memoh's workspace section beside sections that are Memoh's alone, and none that are ours
  // alone (a typo in a section name of our own file must stay an error, not turn the file into Memoh's).
  const sections = Object.keys(doc).filter((t) => isTable(doc[t]));
  return (
    sections.some((t) => t === 'container' || t === 'workspace') &&
    sections.some((t) => !OUR_TABLES.has(t)) &&
    !sections.some((t) => OUR_TABLES.has(t) && !MEMOH_TABLES.has(t))
  );
}

/** Memoh's environment overrides of its mTLS settings (config.go@v0.18.0:807-822), applied after the config file, as Memoh does. */
const ENV_OVERRIDES: readonly (readonly [string, string])[] = [
  ['MEMOH_INSTANCE_ID', 'instance_id'],
  ['MEMOH_BRIDGE_TLS_MODE', 'bridge_tls.mode'],
  ['MEMOH_BRIDGE_TLS_SERVER_DIR', 'bridge_tls.server_dir'],
  ['MEMOH_BRIDGE_TLS_BRIDGE_DIR', 'bridge_tls.bridge_dir'],
  ['MEMOH_BRIDGE_TLS_SERVER_NAME', 'bridge_tls.server_name'],
];

function envLayer(env: NodeJS.ProcessEnv): Layer {
  const values = new Map<string, unknown>();
  const names = new Map<string, string>();
  for (const [name, path] of ENV_OVERRIDES) {
    const v = env[name]?.trim();
    if (v) {
      values.set(path, v);
      names.set(path, name);
    }
  }
  return { origin: (f) => `environment ${names.get(fieldPath(f)) ?? ''}`.trim(), values };
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
    throw new InputError(
      input,
      `cannot read config file ${path} (${errorCode(err)})`,
      'give the path of an existing TOML file',
    );
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
  layers.push(envLayer(env));
  layers.push({ origin: face.origin, values });
  return resolveOptions(layers, env, face.preset);
}

/** The layers merged (later wins): each value with its origin, read as its field's type or refused, named. */
class Merged {
  readonly winner = new Map<string, { value: unknown; origin: string; layer: number }>();

  constructor(layers: Layer[]) {
    layers.forEach((layer, i) => {
      for (const f of FIELDS) {
        const path = fieldPath(f);
        if (layer.values.has(path))
          this.winner.set(path, { value: layer.values.get(path), origin: layer.origin(f), layer: i });
      }
    });
  }

  get = (path: string) => {
    const f = FIELDS.find((x) => fieldPath(x) === path);
    const w = this.winner.get(path);
    if (!f || !w) throw new Error(`internal: no value for ${path}`);
    return { f, ...w };
  };

  str = (path: string): string => {
    const { f, value, origin } = this.get(path);
    if (typeof value !== 'string')
      throw new InputError(origin, `must be a string, got ${typeName(value)}`, 'quote the value');
    const v = value.trim();
    if (v.length > 4096) throw new InputError(origin, 'is longer than 4096 characters', 'give a shorter value');
    if (f.choices && !f.choices.includes(v)) {
      throw new InputError(origin, `"${v}" is not allowed`, `use one of: ${f.choices.join(', ')}`);
    }
    return v;
  };

  bool(path: string): boolean {
    const { value, origin } = this.get(path);
    if (typeof value !== 'boolean')
      throw new InputError(origin, `must be true or false, got ${typeName(value)}`, 'write true or false');
    return value;
  }

  int(path: string): number {
    const { f, value, origin } = this.get(path);
    if (typeof value !== 'number' || !Number.isInteger(value)) {
      throw new InputError(
        origin,
        `must be a whole number, got ${typeName(value)}`,
        `give a number from ${f.min} to ${f.max}`,
      );
    }
    if ((f.min !== undefined && value < f.min) || (f.max !== undefined && value > f.max)) {
      throw new InputError(origin, `${value} is out of range`, `give a number from ${f.min} to ${f.max}`);
    }
    return value;
  }

  list(path: string): { items: string[]; origin: string } {
    const { value, origin } = this.get(path);
    if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) {
      throw new InputError(origin, `must be a list of strings, got ${typeName(value)}`, 'write it as ["a", "b"]');
    }
    if (value.length > 256) throw new InputError(origin, `has ${value.length} entries`, 'give at most 256');
    return { items: (value as string[]).map((s) => s.trim()).filter((s) => s.length > 0), origin };
  }
}

/**
 * Merges layers (later wins) and validates every value, naming the source of the bad one. Values are judged
 * in a fixed order (the first bad one is the one reported): images, pull, mirrors, targets, smoke, mTLS, then
 * the rest as the sections are built.
 */
export function resolveOptions(layers: Layer[], env: NodeJS.ProcessEnv = process.env, preset = ''): Options {
  const v = new Merged([defaultLayer(), ...layers]);
  const { str, get } = v;
  const image = imageSettings(v);
  const { imagePullPolicy, pull, origins } = pullSettings(v);
  const runtimeDir = str('container.runtime_dir');
  const mirrors = mirrorSettings(v);
  const { imgs, platforms, arches } = targetSettings(v);
  const botId = str('smoke.bot_id');
  if (botId) validateBotId(botId, get('smoke.bot_id').origin);
  const upstream = str('mirror.upstream');
  if (upstream) validateRegistryHost(upstream, get('mirror.upstream').origin);
  const insecure = v.list('mirror.insecure');
  for (const h of insecure.items) validateRegistryHost(h, insecure.origin);
  const bridgeTls = str('bridge_tls.mode') === 'strict' ? strictBridgeTls(str, get) : undefined;
  const cacheDir = str('toolkit.cache_dir');
  return {
    preset,
    workspace: {
      backend: str('container.backend') as Backend,
      ...image,
      imagePullPolicy,
      runtimeDir,
      bridgePath: str('container.bridge_path') || `${(runtimeDir || SERVER_RUNTIME_DIR).replace(/\/+$/, '')}/bridge`,
      dataRoot: str('container.data_root'),
      snapshotter: str('container.snapshotter'),
      cniBinDir: str('container.cni_bin_dir'),
      cniConfDir: str('container.cni_conf_dir'),
    },
    toolkit: toolkitSection(v, arches, cacheDir ? resolve(cacheDir) : defaultCacheDir(env), mirrors),
    run: {
      memoh: str('run.memoh') as EraChoice,
      images: imgs.items.length ? imgs.items : [image.defaultImageRef],
      imagesListed: imgs.items.length > 0,
      platforms,
      pull,
      concurrency: v.int('run.concurrency'),
      failOn: str('run.fail_on') as FailOn,
    },
    smoke: {
      bridge: str('smoke.bridge'),
      service: str('smoke.service') as Service,
      checks: str('smoke.checks'),
      timeoutSeconds: v.int('smoke.timeout'),
      botId,
      toolkit: v.list('smoke.toolkit').items.map((d) => resolve(d)),
      keep: v.bool('smoke.keep'),
    },
    mirror: { upstream, insecure: insecure.items },
    ...(bridgeTls ? { bridgeTls } : {}),
    origins,
  };
}

/** The registry and the default image, as Memoh's ImageRef() builds it. */
function imageSettings({ str, get }: Merged): { registry: string; defaultImage: string; defaultImageRef: string } {
  const registry = str('container.registry');
  if (registry) validateRegistryHost(registry, get('container.registry').origin);
  const defaultImage = str('container.default_image');
  validateImageRef(defaultImage, get('container.default_image').origin);
  // Memoh's ImageRef(): the registry prefixes the configured default image only, and is not normalised.
  const defaultImageRef = registry ? `${registry}/${defaultImage}` : defaultImage;
  validateImageRef(defaultImageRef, get('container.registry').origin);
  return { registry, defaultImage, defaultImageRef };
}

/** Memoh's image_pull_policy and our pull are one setting: the later source wins ([run] pull within one file). */
function pullSettings(v: Merged): { imagePullPolicy: ImagePullPolicy; pull: Pull; origins: Record<string, string> } {
  const { str, get } = v;
  const imagePullPolicy = memohPullPolicy(str('container.image_pull_policy'));
  const pullFromMemoh = get('container.image_pull_policy').layer > get('run.pull').layer;
  const pull: Pull = pullFromMemoh ? PULL_OF_POLICY[imagePullPolicy] : (str('run.pull') as Pull);
  const origins = Object.fromEntries([...v.winner].map(([path, w]) => [path, w.origin]));
  if (pullFromMemoh) origins['run.pull'] = get('container.image_pull_policy').origin;
  return { imagePullPolicy, pull, origins };
}

function mirrorSettings({ str, get }: Merged): Mirrors {
  return {
    node: validateUrl(str('mirrors.node'), get('mirrors.node').origin),
    nodeMusl: validateUrl(str('mirrors.node_musl'), get('mirrors.node_musl').origin),
    npm: str('mirrors.npm') ? validateUrl(str('mirrors.npm'), get('mirrors.npm').origin) : '',
    uv: validateUrl(str('mirrors.uv'), get('mirrors.uv').origin),
    alpine: validateUrl(str('mirrors.alpine'), get('mirrors.alpine').origin),
  };
}

/** The images, the platforms (default: the host's) and the toolkit's architectures (default: the platforms'). */
function targetSettings(v: Merged): {
  imgs: { items: string[]; origin: string };
  platforms: Platform[];
  arches: Arch[];
} {
  const imgs = v.list('run.images');
  for (const img of imgs.items) validateImageRef(img, imgs.origin);
  const plats = v.list('run.platforms');
  const platforms = plats.items.length
    ? uniqueBy(
        plats.items.map((p) => parsePlatform(p, plats.origin)),
        (p) => p.arch,
      )
    : [platformOf(hostArch())];
  const archList = v.list('toolkit.arch');
  const arches = archList.items.length
    ? [...new Set(archList.items.map((a) => parseArch(a, archList.origin)))]
    : [...new Set(platforms.map((p) => p.arch))];
  return { imgs, platforms, arches };
}

function toolkitSection(v: Merged, arches: Arch[], cacheDir: string, mirrors: Mirrors): Options['toolkit'] {
  const { str, get } = v;
  return {
    nodeVersion: validateVersion(str('toolkit.node_version'), get('toolkit.node_version').origin, {
      allowMajor: true,
    }),
    npmVersion: validateVersion(str('toolkit.npm_version'), get('toolkit.npm_version').origin),
    uvVersion: validateVersion(str('toolkit.uv_version'), get('toolkit.uv_version').origin),
    alpineVersion: validateAlpine(str('toolkit.alpine_version'), get('toolkit.alpine_version').origin),
    arches,
    cacheDir,
    verify: v.bool('toolkit.verify'),
    archiveFormat: str('toolkit.archive_format') as Options['toolkit']['archiveFormat'],
    mirrors,
  };
}

const PULL_OF_POLICY: Record<ImagePullPolicy, Pull> = { always: 'always', never: 'never', if_not_present: 'missing' };

/** Memoh's normalisation (config.go@v0.18.0:471-482): the three known values, anything else if_not_present. */
function memohPullPolicy(v: string): ImagePullPolicy {
  const p = v.trim().toLowerCase();
  return p === 'always' || p === 'never' ? p : 'if_not_present';
}

/** What the client holds (server_dir) and what the bridge holds (bridge_dir, mounted into the workspace), by Memoh's names. */
export const SERVER_TLS_FILES = ['server-client.crt', 'server-client.key', 'bridge-server-ca.crt'] as const;
export const BRIDGE_TLS_FILES = ['bridge-server.crt', 'bridge-server.key', 'server-client-ca.crt'] as const;

type Got = (path: string) => { value: unknown; origin: string };

/**
 * Strict mTLS as Memoh checks it at startup (bridge_tls.go@v0.18.0): instance_id set, both dirs given and
 * different, server_dir holding the client's three files, bridge_dir holding exactly the bridge's three.
 */
function strictBridgeTls(str: (path: string) => string, get: Got): BridgeTls {
  const mode = get('bridge_tls.mode').origin;
  const instanceId = str('instance_id');
  if (!instanceId) {
    throw new InputError(
      'instance_id',
      `is required when ${mode} is "strict"`,
      'set the top-level instance_id in the config file (or --instance-id, input instance-id) to the id the certificates were made for',
    );
  }
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(instanceId)) {
    throw new InputError(
      get('instance_id').origin,
      `"${instanceId.slice(0, 80)}" is not an instance id`,
      'use letters, digits, ., _ or - (Memoh generates a UUID)',
    );
  }
  const serverDir = tlsDir(str, get, mode, 'bridge_tls.server_dir', SERVER_TLS_FILES, false);
  const bridgeDir = tlsDir(str, get, mode, 'bridge_tls.bridge_dir', BRIDGE_TLS_FILES, true);
  if (realpathSync(serverDir) === realpathSync(bridgeDir)) {
    throw new InputError(
      get('bridge_tls.bridge_dir').origin,
      'is the same directory as [bridge_tls] server_dir',
      "give the bridge its own directory: server_dir holds the client's key, which must not be mounted into workspaces",
    );
  }
  const serverName = str('bridge_tls.server_name') || `memoh-bridge.${instanceId}.bridge.memoh.internal`;
  if (!/^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/.test(serverName)) {
    throw new InputError(
      get('bridge_tls.server_name').origin,
      `"${serverName.slice(0, 80)}" is not a TLS server name`,
      'give a DNS name, or leave it empty for memoh-bridge.<instance_id>.bridge.memoh.internal',
    );
  }
  return { mode: 'strict', serverDir, bridgeDir, instanceId, serverName };
}

/** One of the mTLS dirs: given, a readable directory holding `files` (and, `exact`, nothing else). */
function tlsDir(
  str: (path: string) => string,
  get: Got,
  mode: string,
  path: string,
  files: readonly string[],
  exact: boolean,
): string {
  const raw = str(path);
  const { origin } = get(path);
  const key = `[bridge_tls] ${path.split('.')[1]}`;
  if (!raw)
    throw new InputError(key, `is required when ${mode} is "strict"`, `give the directory holding ${files.join(', ')}`);
  const abs = resolve(raw);
  let entries: string[];
  try {
    if (!statSync(abs).isDirectory())
      throw new InputError(origin, `${abs} is not a directory`, `give the directory holding ${files.join(', ')}`);
    entries = readdirSync(abs);
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw new InputError(
      origin,
      `cannot read ${abs} (${errorCode(err)})`,
      `give an existing directory holding ${files.join(', ')}`,
    );
  }
  const missing = files.filter((f) => !entries.includes(f));
  if (missing.length)
    throw new InputError(
      origin,
      `${abs} lacks ${missing.join(', ')}`,
      `put Memoh's files there (cmd/gen-bridge-mtls makes them): ${files.join(', ')}`,
    );
  for (const f of files) {
    const st = statSync(join(abs, f));
    if (!st.isFile() || st.size === 0)
      throw new InputError(origin, `${join(abs, f)} is not a non-empty file`, 'regenerate the mTLS material');
  }
  const extra = entries.filter((e) => !files.includes(e));
  if (exact && extra.length) {
    throw new InputError(
      origin,
      `${abs} also holds ${extra.slice(0, 5).join(', ')} (Memoh refuses any file but ${files.join(', ')})`,
      'remove the other files: this directory is mounted into every workspace',
    );
  }
  return abs;
}

function validateAlpine(v: string, origin: string): string {
  if (!/^\d+\.\d+$/.test(v)) throw new InputError(origin, `"${v}" is not an Alpine release`, 'give X.Y, e.g. 3.23');
  return v;
}

function defaultCacheDir(env: NodeJS.ProcessEnv): string {
  const base = env.XDG_CACHE_HOME?.trim() || join(env.HOME?.trim() || homedir(), '.cache');
  return join(base, 'memoh-workspace');
}

function typeName(v: unknown): string {
  if (Array.isArray(v)) return 'a list';
  if (v === null || v === undefined) return 'nothing';
  if (v instanceof Date) return 'a date';
  return `a ${typeof v}`;
}
