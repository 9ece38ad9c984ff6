import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { errorCode, errorMessage, InputError } from '../core/errors.js';
import { ARCHES, type Arch } from '../core/platform.js';
import { FLAVOURS, type ToolkitManifest } from './types.js';

/** A finished toolkit on disk and its manifest, as every later stage sees it. */
export interface ToolkitOnDisk {
  dir: string;
  manifest: ToolkitManifest;
}

/** Reads DIR/toolkit.json (written by the toolkit stage); `input` names where DIR came from. */
export async function readToolkitManifest(dir: string, input = '--toolkit'): Promise<ToolkitOnDisk> {
  const abs = resolve(dir);
  const file = join(abs, 'toolkit.json');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = errorCode(err);
    throw new InputError(
      input,
      `cannot read ${file} (${code})`,
      'give the directory of a toolkit built by `memoh-workspace toolkit` (it holds toolkit.json)',
    );
  }
  try {
    const m = JSON.parse(text) as ToolkitManifest;
    if (!ARCHES.includes(m.arch)) throw new Error(`unknown arch ${JSON.stringify(m.arch)}`);
    if (!m.node?.version || !m.npm?.version || !m.uv?.version) throw new Error('missing node/npm/uv versions');
    if (m.fallback !== null && m.fallback !== undefined && m.fallback !== 'glibc')
      throw new Error(`unknown fallback ${JSON.stringify(m.fallback)}`);
    const flavours = m.flavours ?? [...FLAVOURS];
    if (!Array.isArray(flavours) || flavours.length === 0 || flavours.some((f) => !FLAVOURS.includes(f)))
      throw new Error(`unknown flavours ${JSON.stringify(m.flavours)}`);
    // Manifests from before flavours were recorded describe Memoh's whole layout.
    return { dir: abs, manifest: { ...m, fallback: m.fallback ?? null, flavours } };
  } catch (err) {
    throw new InputError(
      input,
      `${file} is not a toolkit manifest: ${errorMessage(err)}`,
      'rebuild the toolkit with `memoh-workspace toolkit`',
    );
  }
}

/** Toolkit dirs keyed by the architecture their manifest names; when any is given, every arch needs one. */
export async function toolkitsByArch(
  dirs: readonly string[],
  arches: readonly Arch[],
  input = '--toolkit',
): Promise<Map<Arch, ToolkitOnDisk>> {
  const out = new Map<Arch, ToolkitOnDisk>();
  for (const dir of dirs) {
    const t = await readToolkitManifest(dir, input);
    const had = out.get(t.manifest.arch);
    if (had)
      throw new InputError(
        input,
        `two toolkits for ${t.manifest.arch} (${had.dir} and ${t.dir})`,
        'give one toolkit dir per architecture',
      );
    out.set(t.manifest.arch, t);
  }
  if (out.size) {
    for (const a of arches) {
      if (!out.has(a)) {
        throw new InputError(
          input,
          `no toolkit for linux/${a} (have: ${[...out.keys()].join(', ')})`,
          `build one with \`memoh-workspace toolkit --arch ${a}\` and add it`,
        );
      }
    }
  }
  return out;
}
