import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  BRIDGE_TLS_FILES,
  defaultLayer,
  fileLayer,
  type Layer,
  mirrorImages,
  optionsFromFace,
  presetLayer,
  resolveOptions,
  SERVER_TLS_FILES,
} from '../../src/config/index.js';
import { FIELDS, fieldPath } from '../../src/config/schema.js';
import { InputError } from '../../src/core/errors.js';
import { tempDir } from '../support/tmp.js';

const dir = tempDir('config-test');
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
  it("carries the documented defaults: today's Memoh", () => {
    const o = resolveOptions([], { HOME: '/home/u' } as NodeJS.ProcessEnv);
    expect(o.workspace).toMatchObject({
      backend: 'containerd',
      registry: '',
      defaultImage: 'memohai/workspace:debian',
      defaultImageRef: 'memohai/workspace:debian',
      imagePullPolicy: 'if_not_present',
      bridgePath: '/opt/memoh/runtime/bridge',
    });
    expect(o.run.memoh).toBe('auto');
    expect(o.run.pull).toBe('missing');
    expect(o.smoke.bridge).toBe('image:memohai/server:latest');
    expect(o.bridgeTls).toBeUndefined();
    expect(o.run.imagesListed).toBe(false);
    expect(o.toolkit.nodeVersion).toBe('24.14.0');
    expect(o.toolkit.npmVersion).toBe('10.9.2');
    expect(o.toolkit.mirrors.npm).toBe(''); // resolved from the machine's npm at build time
    expect(o.run.images).toEqual(['memohai/workspace:debian']);
    expect(o.run.platforms).toHaveLength(1);
    expect(o.toolkit.arches).toEqual([o.run.platforms[0]!.arch]);
    expect(o.toolkit.cacheDir).toBe('/home/u/.cache/memoh-workspace');
  });

  it('has a value for every schema field', () => {
    const missing = FIELDS.map(fieldPath).filter((p) => !defaultLayer().values.has(p));
    expect(missing).toEqual([]);
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

  it('reads a Memoh config.toml as it is: its [workspace], the registry on the default image only', () => {
    const memoh = file(
      'config.toml',
      '[server]\naddr = ":8080"\n[postgres]\nhost = "db"\n[workspace]\nregistry = "memoh.cn"\ndefault_image = "alpine:3.20"\nsnapshotter = "overlayfs"\ndata_root = "/opt/memoh/data"\nruntime_dir = "/opt/memoh/runtime"\n',
    );
    const o = resolveOptions([fileLayer(memoh, '--config')]);
    expect(o.workspace.registry).toBe('memoh.cn');
    expect(o.run.images).toEqual(['memoh.cn/alpine:3.20']);
    expect(mirrorImages(o)).toEqual(['alpine:3.20']);
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
    ['container.registry', 'https://memoh.cn', /not a registry host/],
    ['container.backend', 'apple', /is not allowed/],
    ['run.memoh', 'v4', /is not allowed/],
    ['bridge_tls.mode', 'loose', /is not allowed/],
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

/** Memoh's four config files (test/config/memoh/*.toml), optionally with the registry line uncommented as a mainland user would. */
const memohFile = (name: string, registry = false): string => {
  const text = readFileSync(join(__dirname, 'memoh', name), 'utf8');
  if (!registry) return join(__dirname, 'memoh', name);
  const changed = text.replace(/^# registry = "memoh\.cn".*$/m, 'registry = "memoh.cn"');
  expect(changed).not.toBe(text);
  return file(`cn-${name}`, changed);
};

describe("Memoh's config files as they are", () => {
  const cases = [
    [
      'seed.app.example.toml',
      {
        backend: 'containerd',
        defaultImage: 'debian:bookworm-slim',
        dataRoot: 'data',
        snapshotter: 'overlayfs',
        cniBinDir: '/opt/cni/bin',
        cniConfDir: '/etc/cni/net.d',
      },
    ],
    [
      'seed.app.docker.toml',
      {
        backend: 'containerd',
        defaultImage: 'debian:bookworm-slim',
        dataRoot: '/opt/memoh/data',
        runtimeDir: '/opt/memoh/runtime',
        bridgePath: '/opt/memoh/runtime/bridge',
      },
    ],
    [
      'v0.18.app.example.toml',
      {
        backend: 'docker',
        defaultImage: 'memohai/workspace:debian',
        dataRoot: 'data',
        bridgePath: '/opt/memoh/runtime/bridge',
        imagePullPolicy: 'if_not_present',
      },
    ],
    [
      'v0.18.app.docker.toml',
      {
        backend: 'containerd',
        defaultImage: 'memohai/workspace:debian',
        dataRoot: '/opt/memoh/data',
        runtimeDir: '/opt/memoh/runtime',
      },
    ],
  ] as const;
  for (const [name, want] of cases) {
    it(`${name}: its workspace settings, the rest ignored`, () => {
      const o = resolveOptions([fileLayer(memohFile(name), '--config')]);
      expect(o.workspace).toMatchObject(want);
      expect(o.run.images).toEqual([want.defaultImage]);
      expect(o.bridgeTls).toBeUndefined();
      // [server], [postgres]… are Memoh's: nothing of ours changed.
      expect(o.toolkit.nodeVersion).toBe('24.14.0');
    });
    it(`${name} with registry = "memoh.cn": the default image gets the prefix, a listed image does not`, () => {
      const cfg = fileLayer(memohFile(name, true), '--config');
      const o = resolveOptions([cfg]);
      expect(o.run.images).toEqual([`memoh.cn/${want.defaultImage}`]);
      expect(o.workspace.defaultImageRef).toBe(`memoh.cn/${want.defaultImage}`);
      expect(mirrorImages(o)).toEqual([want.defaultImage]);
      const listed = resolveOptions([cfg, flags({ 'run.images': ['ubuntu:24.04', 'memohai/workspace:debian'] })]);
      expect(listed.run.images).toEqual(['ubuntu:24.04', 'memohai/workspace:debian']);
      expect(listed.run.imagesListed).toBe(true);
      expect(mirrorImages(listed)).toEqual(['ubuntu:24.04', 'memohai/workspace:debian']);
    });
  }

  it("the v0.18 files' backend sets ours, and a flag still wins", () => {
    const cfg = fileLayer(memohFile('v0.18.app.example.toml'), '--config');
    expect(resolveOptions([cfg]).workspace.backend).toBe('docker');
    expect(resolveOptions([cfg, flags({ 'container.backend': 'containerd' })]).workspace.backend).toBe('containerd');
  });

  it("a backend we cannot run (Memoh's apple) names the key", () => {
    const cfg = fileLayer(file('apple.toml', '[server]\naddr = ":8080"\n[container]\nbackend = "apple"\n'), '--config');
    const e = inputErr(() => resolveOptions([cfg]));
    expect(e.input).toBe('apple.toml [container] backend');
    expect(e.fix).toBe('use one of: containerd, docker');
  });

  it('legacy [workspace] is read into [container], and errors name it', () => {
    const cfg = fileLayer(
      file(
        'legacy.toml',
        '[log]\nlevel = "info"\n[container]\nbackend = "docker"\n[workspace]\ndefault_image = "alpine:3.22"\nimage_pull_policy = "never"\nregistry = 5\n',
      ),
      '--config',
    );
    expect(cfg.values.get('container.default_image')).toBe('alpine:3.22');
    expect(cfg.values.get('container.backend')).toBe('docker');
    const e = inputErr(() => resolveOptions([cfg]));
    expect(e.input).toBe('legacy.toml [workspace] registry');
    expect(e.problem).toMatch(/must be a string/);
  });

  it('workspace keys in both [container] and [workspace] are an error, as in Memoh', () => {
    for (const key of [
      'default_image = "a:1"',
      'cni_bin_dir = "/x"',
      'bridge_path = "/b"',
      'image_pull_policy = "always"',
    ]) {
      const e = inputErr(() =>
        fileLayer(
          file(
            'both.toml',
            `[server]\naddr = ":8080"\n[container]\nbackend = "docker"\n${key}\n[workspace]\ndefault_image = "b:2"\n`,
          ),
          '--config',
        ),
      );
      expect(e.input).toBe(`both.toml [container] ${key.split(' ')[0]}`);
      expect(e.problem).toMatch(/both \[container\] and \[workspace\]/);
      expect(e.fix).toMatch(/remove \[workspace\]/);
    }
    // Our own file follows the same rule.
    expect(() =>
      fileLayer(file('both2.toml', '[container]\nregistry = "a.b"\n[workspace]\nregistry = "c.d"\n'), '--config'),
    ).toThrow(/both \[container\] and \[workspace\]/);
  });

  it('[mcp] is always an error, in a Memoh file and in ours', () => {
    for (const text of [
      '[server]\naddr = ":8080"\n[mcp]\nimage = "memohai/mcp:latest"\n',
      '[mcp]\nimage = "x"\n[workspace]\ndefault_image = "y"\n',
    ]) {
      const e = inputErr(() => fileLayer(file('mcp.toml', text), '--config'));
      expect(e.input).toBe('mcp.toml [mcp]');
      expect(e.fix).toMatch(/\[container\]/);
    }
  });

  it('our own file: [container] or the old [workspace]; unknown keys and top-level keys are errors', () => {
    const ours = resolveOptions([
      fileLayer(
        file('ours.toml', 'instance_id = "abc"\n[container]\ndefault_image = "alpine:3.22"\n[run]\nmemoh = "v3"\n'),
        '--config',
      ),
    ]);
    expect(ours.run.images).toEqual(['alpine:3.22']);
    expect(ours.run.memoh).toBe('v3');
    const old = resolveOptions([
      fileLayer(file('old.toml', '[workspace]\nregistry = "memoh.cn"\n[run]\nconcurrency = 3\n'), '--config'),
    ]);
    expect(old.run.images).toEqual(['memoh.cn/memohai/workspace:debian']);
    expect(inputErr(() => fileLayer(file('typo.toml', '[container]\nbakend = "docker"\n'), '--config')).input).toBe(
      'typo.toml [container] bakend',
    );
    expect(inputErr(() => fileLayer(file('typo2.toml', '[workspace]\nbackend = "docker"\n'), '--config')).input).toBe(
      'typo2.toml [workspace] backend',
    );
    // A misspelt section beside [container] does not make our file Memoh's.
    expect(
      inputErr(() =>
        fileLayer(
          file(
            'typo3.toml',
            '[container]\nbackend = "docker"\n[toolkt]\nnode_version = "24"\n[run]\nconcurrency = 2\n',
          ),
          '--config',
        ),
      ).input,
    ).toBe('typo3.toml [toolkt]');
    const top = inputErr(() =>
      fileLayer(file('top.toml', 'node_version = "24"\n[toolkit]\nnpm_version = "10.9.2"\n'), '--config'),
    );
    expect(top.input).toBe('top.toml node_version');
    expect(top.fix).toMatch(/instance_id/);
  });

  it('image_pull_policy maps to our pull as Memoh reads it; the later source wins', () => {
    const withPolicy = (v: string) =>
      resolveOptions([
        fileLayer(file('p.toml', `[server]\naddr = ":1"\n[container]\nimage_pull_policy = "${v}"\n`), '--config'),
      ]);
    expect(withPolicy('always').run.pull).toBe('always');
    expect(withPolicy('never').run.pull).toBe('never');
    expect(withPolicy('if_not_present').run.pull).toBe('missing');
    // Memoh: any other value is if_not_present.
    expect(withPolicy('sometimes').workspace.imagePullPolicy).toBe('if_not_present');
    expect(withPolicy('sometimes').run.pull).toBe('missing');
    const never = withPolicy('never');
    expect(never.origins['run.pull']).toBe('p.toml [container] image_pull_policy');
    // A flag after the file wins; inside one file of ours, [run] pull wins.
    const cfg = fileLayer(file('p2.toml', '[container]\nimage_pull_policy = "never"\n'), '--config');
    expect(resolveOptions([cfg, flags({ 'run.pull': 'always' })]).run.pull).toBe('always');
    expect(
      resolveOptions([
        fileLayer(file('p3.toml', '[container]\nimage_pull_policy = "never"\n[run]\npull = "always"\n'), '--config'),
      ]).run.pull,
    ).toBe('always');
  });

  it('memoh takes auto, v3 or v0.18, nothing else', () => {
    expect(resolveOptions([flags({ 'run.memoh': 'v0.18' })]).run.memoh).toBe('v0.18');
    const e = inputErr(() => resolveOptions([flags({ 'run.memoh': 'v0.17' })]));
    expect(e.input).toBe('--memoh');
    expect(e.fix).toBe('use one of: auto, v3, v0.18');
  });

  it('a registry that makes the default image invalid is refused by name', () => {
    const e = inputErr(() => resolveOptions([flags({ 'container.registry': 'https://memoh.cn' })]));
    expect(e.input).toBe('--registry');
  });
});

describe("strict bridge mTLS from Memoh's keys", () => {
  const tls = join(dir, 'tls');
  const makeDir = (name: string, files: readonly string[]) => {
    const d = join(tls, name);
    rmSync(d, { recursive: true, force: true });
    mkdirSync(d, { recursive: true });
    for (const f of files) writeFileSync(join(d, f), `stand-in ${f}\n`);
    return d;
  };
  const strict = (over: Record<string, unknown> = {}) =>
    flags({
      'bridge_tls.mode': 'strict',
      instance_id: '0b6c5a4e-7f1d-4c3b-9a2e-5d8f1e2c3b4a',
      'bridge_tls.server_dir': makeDir('server', SERVER_TLS_FILES),
      'bridge_tls.bridge_dir': makeDir('bridge', BRIDGE_TLS_FILES),
      ...over,
    });

  it('strict with both dirs and the instance id gives the BridgeTls the stages use', () => {
    const o = resolveOptions([strict()]);
    expect(o.bridgeTls).toEqual({
      mode: 'strict',
      serverDir: join(tls, 'server'),
      bridgeDir: join(tls, 'bridge'),
      instanceId: '0b6c5a4e-7f1d-4c3b-9a2e-5d8f1e2c3b4a',
      serverName: 'memoh-bridge.0b6c5a4e-7f1d-4c3b-9a2e-5d8f1e2c3b4a.bridge.memoh.internal',
    });
    expect(resolveOptions([strict({ 'bridge_tls.server_name': 'bridge.example' })]).bridgeTls?.serverName).toBe(
      'bridge.example',
    );
  });

  it('disabled ignores the other keys', () => {
    expect(
      resolveOptions([strict({ 'bridge_tls.mode': 'disabled', 'bridge_tls.bridge_dir': '/nonexistent' })]).bridgeTls,
    ).toBeUndefined();
  });

  it('strict without instance_id, or with a bad one, names the key', () => {
    const e = inputErr(() => resolveOptions([strict({ instance_id: '' })]));
    expect(e.input).toBe('instance_id');
    expect(e.fix).toMatch(/--instance-id/);
    expect(inputErr(() => resolveOptions([strict({ instance_id: '../x' })])).input).toBe('--instance-id');
  });

  it('strict without a dir names it', () => {
    const e = inputErr(() => resolveOptions([strict({ 'bridge_tls.bridge_dir': '' })]));
    expect(e.input).toBe('[bridge_tls] bridge_dir');
    expect(e.fix).toMatch(/bridge-server\.crt, bridge-server\.key, server-client-ca\.crt/);
  });

  it("bridge_dir holds exactly Memoh's three files", () => {
    const extra = makeDir('bridge-extra', [...BRIDGE_TLS_FILES, 'server-client.key']);
    const e = inputErr(() => resolveOptions([strict({ 'bridge_tls.bridge_dir': extra })]));
    expect(e.input).toBe('--bridge-tls-bridge-dir');
    expect(e.problem).toMatch(/also holds server-client\.key/);
    const missing = makeDir('bridge-missing', BRIDGE_TLS_FILES.slice(0, 2));
    expect(inputErr(() => resolveOptions([strict({ 'bridge_tls.bridge_dir': missing })])).problem).toMatch(
      /lacks server-client-ca\.crt/,
    );
  });

  it('server_dir needs the client files, and must differ from bridge_dir', () => {
    const noKey = makeDir('server-nokey', ['server-client.crt', 'bridge-server-ca.crt']);
    expect(inputErr(() => resolveOptions([strict({ 'bridge_tls.server_dir': noKey })])).problem).toMatch(
      /lacks server-client\.key/,
    );
    const both = makeDir('both', [...SERVER_TLS_FILES, ...BRIDGE_TLS_FILES]);
    const e = inputErr(() =>
      resolveOptions([strict({ 'bridge_tls.server_dir': both, 'bridge_tls.bridge_dir': both })]),
    );
    // The same dir holds more than the bridge's three files: refused before the equality rule.
    expect(e.input).toBe('--bridge-tls-bridge-dir');
    const same = makeDir('same', BRIDGE_TLS_FILES);
    const e2 = inputErr(() =>
      resolveOptions([strict({ 'bridge_tls.server_dir': same, 'bridge_tls.bridge_dir': same })]),
    );
    expect(e2.problem).toMatch(/lacks server-client\.crt/);
  });

  it("Memoh's file sets strict mode with its own keys; a missing dir is named in the file's words", () => {
    const cfg = fileLayer(
      file(
        'strict.toml',
        `instance_id = "inst-1"\n[server]\naddr = ":8080"\n[container]\nbackend = "docker"\n[bridge_tls]\nmode = "strict"\nserver_dir = "${join(tls, 'server')}"\nbridge_dir = "${join(tls, 'nope')}"\n`,
      ),
      '--config',
    );
    makeDir('server', SERVER_TLS_FILES);
    const e = inputErr(() => resolveOptions([cfg]));
    expect(e.input).toBe('strict.toml [bridge_tls] bridge_dir');
    expect(e.problem).toMatch(/ENOENT/);
  });

  it("Memoh's environment overrides apply after the config file, before flags", () => {
    const server = makeDir('server', SERVER_TLS_FILES);
    const bridge = makeDir('bridge', BRIDGE_TLS_FILES);
    const env = {
      HOME: '/home/u',
      MEMOH_BRIDGE_TLS_MODE: 'strict',
      MEMOH_INSTANCE_ID: 'env-inst',
      MEMOH_BRIDGE_TLS_SERVER_DIR: server,
      MEMOH_BRIDGE_TLS_BRIDGE_DIR: bridge,
    };
    const face = (values: Map<string, unknown>) =>
      optionsFromFace(
        {
          preset: '',
          presetInput: '--preset',
          config: file('c.toml', 'instance_id = "file-inst"\n'),
          configInput: '--config',
          values,
          origin: (f) => `--${f.flag}`,
        },
        env,
      );
    expect(face(new Map()).bridgeTls?.instanceId).toBe('env-inst');
    expect(face(new Map([['instance_id', 'flag-inst']])).bridgeTls?.instanceId).toBe('flag-inst');
    const e = inputErr(() =>
      optionsFromFace(
        { preset: '', presetInput: '', config: '', configInput: '', values: new Map(), origin: (f) => `--${f.flag}` },
        { ...env, MEMOH_BRIDGE_TLS_MODE: 'sometimes' },
      ),
    );
    expect(e.input).toBe('environment MEMOH_BRIDGE_TLS_MODE');
  });
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));
