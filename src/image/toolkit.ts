import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { InputError } from '../core/errors.js';
import { ARCHES, type Arch } from '../core/platform.js';
import type { ToolkitRef } from './types.js';

/** Reads what validation needs from DIR/toolkit.json (written by the toolkit stage). */
export async function loadToolkit(dir: string, input: string): Promise<ToolkitRef> {
  const abs = resolve(dir);
  const file = join(abs, 'toolkit.json');
  let doc: unknown;
  try {
    doc = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const problem = code ? `cannot read ${file} (${code})` : `${file} is not valid JSON`;
    throw new InputError(input, problem, 'give the directory of a toolkit built by `memoh-workspace toolkit` (it holds toolkit.json)');
  }
  const m = (typeof doc === 'object' && doc !== null ? doc : {}) as { arch?: unknown; fallback?: unknown };
  if (typeof m.arch !== 'string' || !ARCHES.includes(m.arch as Arch)) {
    throw new InputError(input, `${file} names no architecture (arch: ${JSON.stringify(m.arch)})`, 'rebuild the toolkit with `memoh-workspace toolkit`');
  }
  if (m.fallback !== undefined && m.fallback !== null && m.fallback !== 'glibc') {
    throw new InputError(input, `${file} has an unknown fallback ${JSON.stringify(m.fallback)}`, 'rebuild the toolkit with `memoh-workspace toolkit`');
  }
  return { dir: abs, manifest: { arch: m.arch as Arch, fallback: m.fallback === 'glibc' ? 'glibc' : null } };
}
