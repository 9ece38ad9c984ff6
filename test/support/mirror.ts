import type { Layer } from '../../src/config/index.js';
import type { Mirror } from '../world/mirror/server.mjs';

/**
 * Pointing every download at the test world's loopback mirror, in each of the three ways a run is configured:
 * option keys (a config layer), CLI flags, Action inputs.
 */
const MIRRORS = [
  ['node', 'node'],
  ['node_musl', 'nodeMusl'],
  ['npm', 'npm'],
  ['uv', 'uv'],
  ['alpine', 'alpine'],
] as const;

const flagName = (key: string) => `${key.replace('_', '-')}-mirror`;

/** A config layer (origin "test KEY") holding the mirror settings and any other `values` by option key. */
export function mirrorLayer(m: Mirror, values: Record<string, unknown> = {}): Layer {
  const mirrors = Object.fromEntries(MIRRORS.map(([key, url]) => [`mirrors.${key}`, m.urls[url]]));
  return { origin: (f) => `test ${f.key}`, values: new Map(Object.entries({ ...mirrors, ...values })) };
}

/** `--node-mirror URL --node-musl-mirror URL …` */
export const mirrorFlags = (m: Mirror): string[] =>
  MIRRORS.flatMap(([key, url]) => [`--${flagName(key)}`, m.urls[url]]);

/** `{ 'node-mirror': URL, … }` as Action inputs. */
export const mirrorInputs = (m: Mirror): Record<string, string> =>
  Object.fromEntries(MIRRORS.map(([key, url]) => [flagName(key), m.urls[url]]));
