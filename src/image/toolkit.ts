import { readToolkitManifest } from '../toolkit/manifest.js';
import type { ToolkitRef } from './types.js';

/** What validation needs of a toolkit dir: its arch and fallback, from toolkit.json. */
export async function loadToolkit(dir: string, input: string): Promise<ToolkitRef> {
  return readToolkitManifest(dir, input);
}
