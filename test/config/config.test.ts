import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type Layer, defaultLayer, fileLayer, presetLayer, resolveOptions } from '../../src/config/index.js';
import { FIELDS, fieldPath } from '../../src/config/schema.js';
import { InputError } from '../../src/core/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'memoh-config-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
const flags = (values: Record<string, unknown>): Layer => ({
  origin: (f) => `--${f.flag}`,
  values: new Map(Object.entries(values)),
});
const inputErr = (fn: () => unknown): InputError => {
  try {
    fn();
  } catch (err) {
    if (err instanceof InputError) return err;
    throw err;
  }
  throw new Error('expected an InputError');
};

describe('embedded default', () => {
  it('carries the documented defaults', () => {
    const o = resolveOptions([], { HOME: '/home/u' } as NodeJS.ProcessEnv);
    expect(o.workspace.defaultImage).toBe('debian:bookworm-slim');
    expect(o.toolkit.nodeVersion).toBe('24.14.0');
    expect(o.toolkit.npmVersion).toBe('10.9.2');
    expect(o.toolkit.mirrors.npm).toBe(''); // resolved from the machine's npm at build time
    expect(o.run.images).toEqual(['debian:bookworm-slim']);
    expect(o.run.platforms).toHaveLength(1);
    expect(o.toolkit.arches).toEqual([o.run.platforms[0]!.arch]);
    expect(o.toolkit.cacheDir).toBe('/home/u/.cache/memoh-workspace');
  });

  it('has a value for every schema field except the Memoh-only snapshotter', () => {
    const missing = FIELDS.map(fieldPath).filter((p) => !defaultLayer().values.has(p));
    expect(missing).toEqual(['workspace.snapshotter']);
  });
});

describe('layers', () => {
  it('later layers win, and each value names its origin when bad', () => {
    const cfg = fileLayer(file('a.toml', '[toolkit]\nnode_version = "24"\n[run]\nconcurrency = 4\n'), '--config');
    const o = resolveOptions([cfg, flags({ 'toolkit.npm_version': '11.0.0' })]);
    expect(o.toolkit.nodeVersion).toBe('24');
    expect(o.toolkit.npmVersion).toBe('11.0.0');
    expect(o.run.concurrency).toBe(4);
    const e = inputErr(() => resolveOptions([cfg, flags({ 'run.concurrency': 99 })]));
    expect(e.input).toBe('--concurrency');
    expect(e.fix).toMatch(/1 to 16/);
  });

  it('reads a Memoh config.toml as it is: only [workspace]', () => {
    const memoh = file(
      'config.toml',
      '[server]\naddr = ":8080"\n[postgres]\nhost = "db"\n[workspace]\nregistry = "memoh.cn"\ndefault_image = "alpine:3.20"\nsnapshotter = "overlayfs"\ndata_root = "/opt/memoh/data"\nruntime_dir = "/opt/memoh/runtime"\n',
    );
    const o = resolveOptions([fileLayer(memoh, '--config')]);
    expect(o.workspace.registry).toBe('memoh.cn');
    expect(o.run.images).toEqual(['alpine:3.20']);
  });

  it('rejects unknown sections and keys of our own file, naming them', () => {
    const e1 = inputErr(() => fileLayer(file('b.toml', '[toolkt]\nnode_version = "24"\n'), '--config'));
    expect(e1.input).toBe('b.toml [toolkt]');
    const e2 = inputErr(() => fileLayer(file('c.toml', '[toolkit]\nnode_versio = "24"\n'), '--config'));
    expect(e2.input).toBe('c.toml [toolkit] node_versio');
    expect(e2.fix).toMatch(/node_version/);
  });

  it('reports malformed TOML with its position', () => {
    const e = inputErr(() => fileLayer(file('d.toml', '[toolkit\nnode_version = 1\n'), '--config'));
    expect(e.input).toBe('--config');
    expect(e.problem).toMatch(/not valid TOML at line 1/);
  });

  it('a missing config file names the flag', () => {
    const e = inputErr(() => fileLayer(join(dir, 'nope.toml'), '--config'));
    expect(e.problem).toMatch(/ENOENT/);
  });

  it('wrong types name the key and the expected type', () => {
    const cfg = fileLayer(file('e.toml', '[run]\nimages = "debian"\n'), '--config');
    const e = inputErr(() => resolveOptions([cfg]));
    expect(e.input).toBe('e.toml [run] images');
    expect(e.problem).toMatch(/list of strings/);
  });
});

describe('validation of hostile values', () => {
  const cases: [string, unknown, RegExp][] = [
    ['mirrors.node', 'ftp://example.org/node', /scheme ftp: is not allowed/],
    ['mirrors.node', 'file:///etc/passwd', /scheme file: is not allowed/],
    ['mirrors.npm', 'https://user:secret@example.org/', /contains credentials/],
    ['mirrors.uv', 'not a url', /is not a URL/],
    ['toolkit.node_version', '24; rm -rf /', /is not a version/],
    ['toolkit.npm_version', '10', /is not a version/],
    ['run.pull', 'sometimes', /is not allowed/],
    ['run.platforms', ['linux/s390x'], /unknown architecture/],
    ['run.platforms', ['windows/amd64'], /unsupported platform/],
    ['run.images', ['$(touch /tmp/pwned)'], /not a valid image reference/],
    ['run.images', ['../../etc/passwd'], /not a valid image reference/],
    ['smoke.bot_id', '../escape', /not a valid bot id/],
    ['smoke.bot_id', 'a/b', /not a valid bot id/],
    ['workspace.registry', 'https://memoh.cn', /not a registry host/],
    ['smoke.timeout', 0, /out of range/],
    ['run.concurrency', 1.5, /whole number/],
    ['smoke.keep', 'yes', /true or false/],
    ['toolkit.alpine_version', 'edge', /not an Alpine release/],
    ['toolkit.cache_dir', 'x'.repeat(5000), /longer than 4096/],
  ];
  for (const [path, value, re] of cases) {
    it(`${path} = ${JSON.stringify(value).slice(0, 40)}`, () => {
      const e = inputErr(() => resolveOptions([flags({ [path]: value })]));
      expect(e.problem).toMatch(re);
      expect(e.input).toMatch(/^--/);
      expect(e.message).not.toContain('secret');
    });
  }
});

describe('presets', () => {
  it('cn sets the mirrors, and a later layer overrides any of them', () => {
    const o = resolveOptions([presetLayer('cn', '--preset')]);
    expect(o.workspace.registry).toBe('memoh.cn');
    expect(o.toolkit.mirrors.node).toMatch(/npmmirror/);
    const o2 = resolveOptions([presetLayer('cn', '--preset'), flags({ 'mirrors.node': 'http://127.0.0.1:9/node' })]);
    expect(o2.toolkit.mirrors.node).toBe('http://127.0.0.1:9/node');
  });
  it('an unknown preset names the flag and the choices', () => {
    const e = inputErr(() => presetLayer('mars', '--preset'));
    expect(e.input).toBe('--preset');
    expect(e.fix).toMatch(/cn/);
  });
});
