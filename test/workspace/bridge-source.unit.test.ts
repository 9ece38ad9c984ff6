import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/core/errors.js';
import { DEFAULT_BRIDGE_PATH_IN_IMAGE, parseBridgeSource } from '../../src/workspace/bridge-source.js';

// Parsing --bridge (no engine); resolving it from files, images and sources is in bridge-source.test.ts.

describe('parseBridgeSource', () => {
  it('reads the three kinds; image: defaults to where Memoh keeps the bridge', () => {
    expect(parseBridgeSource('./x')).toEqual({ kind: 'file', path: join(process.cwd(), 'x') });
    expect(parseBridgeSource('image:memohai/server:latest')).toEqual({
      kind: 'image',
      ref: 'memohai/server:latest',
      path: DEFAULT_BRIDGE_PATH_IN_IMAGE,
    });
    expect(DEFAULT_BRIDGE_PATH_IN_IMAGE).toBe('/opt/memoh/runtime/bridge');
    expect(parseBridgeSource('image:localhost:5000/s:1:/usr/bin/bridge')).toEqual({
      kind: 'image',
      ref: 'localhost:5000/s:1',
      path: '/usr/bin/bridge',
    });
    expect(parseBridgeSource('source:/src/memoh')).toEqual({ kind: 'source', dir: '/src/memoh' });
  });

  it('names --bridge when the value is unusable', () => {
    expect(() => parseBridgeSource('')).toThrow(InputError);
    expect(() => parseBridgeSource('image:NOT A REF')).toThrow(/--bridge: "NOT A REF" is not a valid image reference/);
    expect(() => parseBridgeSource('source:')).toThrow(/--bridge: source: needs a directory/);
  });
});
