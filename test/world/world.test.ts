/**
 * Proves the test world is real: every image runs with the architecture and libc it claims, the special images
 * carry the config they claim, and local registries serve pushed images over the v2 API (with and without auth).
 *
 * Needs root, a docker engine and the images: test/world/engine.sh && test/world/images.sh (run here if missing).
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_IMAGE_ALIAS,
  IMAGE_FACTS,
  IMAGE_KEYS,
  IMAGE_LIST,
  IMAGES,
  type ImageFacts,
  type ImageKey,
  RECIPE_LABEL,
  SERVER_BRIDGE_LABEL,
  SERVER_BRIDGE_PATH,
  SERVER_IMAGE_ALIAS,
  WORKSPACE_CONTRACT,
  WORKSPACE_CONTRACT_PATH,
  WORKSPACE_ENV,
  WORKSPACE_IMAGE_ALIAS,
  WORKSPACE_NPM_VERSION,
  WORKSPACE_REQUIRED_EXECUTABLES,
  WORKSPACE_TOOLKIT_WRAPPERS,
  type WorkspaceFacts,
} from './images.js';
import { standinBridge } from './paths.js';
import { fetchManifest, type LocalRegistry, pushImage, startRegistry } from './registry.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const DOCKER = existsSync('/usr/bin/docker') ? '/usr/bin/docker' : 'docker';

interface Exec {
  code: number;
  stdout: string;
  stderr: string;
}

function exec(file: string, args: readonly string[], timeoutMs = 60_000): Promise<Exec> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 32 << 20 }, (err, stdout, stderr) => {
      if (err && typeof (err as { code?: unknown }).code !== 'number') {
        reject(new Error(`${file} ${args.join(' ')}: ${err.message}\n${stderr}`));
        return;
      }
      resolve({ code: err ? Number((err as { code: number }).code) : 0, stdout, stderr });
    });
  });
}

const docker = (args: readonly string[], timeoutMs?: number) => exec(DOCKER, args, timeoutMs);

const containers = new Set<string>();
/** `docker run --rm` with a known name (removed in afterAll if a timeout left it behind). */
async function run(image: string, entrypoint: string, args: readonly string[] = [], extra: readonly string[] = []) {
  const name = `memoh-world-test-${randomBytes(4).toString('hex')}`;
  containers.add(name);
  try {
    return await docker(['run', '--rm', '--name', name, ...extra, '--entrypoint', entrypoint, image, ...args], 90_000);
  } finally {
    containers.delete(name);
  }
}

/** Runs a POSIX script with the image's shell (busybox's sh applet in the image that has no /bin/sh). */
function sh(key: ImageKey, script: string) {
  const f = IMAGE_FACTS[key];
  return f.hasShell ? run(f.tag, '/bin/sh', ['-c', script]) : run(f.tag, f.probe[0]!, ['sh', '-c', script]);
}

interface InspectedImage {
  Id: string;
  Architecture: string;
  Variant?: string;
  Os: string;
  RootFS: { Layers: string[] };
  Config: {
    Env: string[] | null;
    ExposedPorts?: Record<string, object> | null;
    Entrypoint: string[] | null;
    Cmd: string[] | null;
    User: string;
    WorkingDir: string;
    Volumes: Record<string, object> | null;
    Labels: Record<string, string> | null;
  };
}

async function inspect(ref: string): Promise<InspectedImage> {
  const r = await docker(['image', 'inspect', ref]);
  expect(r.code, `docker image inspect ${ref}: ${r.stderr}`).toBe(0);
  return (JSON.parse(r.stdout) as InspectedImage[])[0]!;
}

beforeAll(async () => {
  const engine = await exec(join(HERE, 'engine.sh'), [], 90_000);
  expect(engine.code, `engine.sh failed:\n${engine.stdout}\n${engine.stderr}`).toBe(0);
  const missing: string[] = [];
  for (const tag of Object.values(IMAGES)) if ((await docker(['image', 'inspect', tag])).code !== 0) missing.push(tag);
  if (missing.length > 0) {
    // Cold world: build it (the debootstraps take minutes; afterwards everything is cached).
    const built = await exec(join(HERE, 'images.sh'), [], 590_000);
    expect(built.code, `images.sh failed:\n${built.stdout}\n${built.stderr}`).toBe(0);
  }
}, 600_000);

afterAll(async () => {
  for (const name of containers) await docker(['rm', '-f', name], 30_000).catch(() => undefined);
});

describe('test-world images', () => {
  it('images.sh builds exactly the images of IMAGE_LIST (both read images.json)', async () => {
    const r = await exec(join(HERE, 'images.sh'), ['no-such-image']);
    expect(r.code).toBe(1);
    const known = /unknown image 'no-such-image' \(known: ([^)]*)\)/.exec(r.stderr)?.[1];
    expect(known?.split(' ')).toEqual(IMAGE_LIST.map((i) => i.build));
  });

  describe.each(IMAGE_KEYS.map((k) => [IMAGES[k], k] as const))('%s', (_tag, key) => {
    const f: ImageFacts = IMAGE_FACTS[key];

    it('has the architecture, config and recipe label it claims', async () => {
      const img = await inspect(f.tag);
      expect(img.Os).toBe('linux');
      expect(img.Architecture).toBe(f.arch);
      expect(img.Variant ?? '').toBe(f.variant);
      expect(img.Config.Labels?.[RECIPE_LABEL]).toMatch(/^[0-9a-f]{64}$/);
      expect(img.Config.Entrypoint ?? null).toEqual(f.config.entrypoint);
      expect(img.Config.Cmd ?? null).toEqual(f.config.cmd);
      expect(img.Config.User).toBe(f.config.user);
      expect(img.Config.WorkingDir).toBe(f.config.workingDir);
      expect(Object.keys(img.Config.Volumes ?? {})).toEqual(f.config.volumes);
      if (f.config.env) expect(img.Config.Env).toEqual(f.config.env);
    });

    it(`runs and reports uname -m = ${f.unameM}, libc = ${f.libc}`, async () => {
      const script = [
        'echo "arch=$(uname -m)"',
        'for f in /lib/ld-musl-*.so.1; do [ -e "$f" ] || continue; if [ -L "$f" ]; then echo "musl=$f link"; elif [ -f "$f" ]; then echo "musl=$f file"; fi; done',
        'for f in /lib*/ld-linux-*.so.*; do [ -e "$f" ] && echo "glibc=$f"; done',
        'if [ -e /bin/sh ]; then echo sh=yes; else echo sh=no; fi',
        'true',
      ].join('\n');
      const r = await sh(key, script);
      expect(r.code, r.stderr).toBe(0);
      const lines = r.stdout.trim().split('\n');
      expect(lines).toContain(`arch=${f.unameM}`);
      expect(lines).toContain(`sh=${f.hasShell ? 'yes' : 'no'}`);
      const musl = lines.filter((l) => l.startsWith('musl='));
      const glibc = lines.filter((l) => l.startsWith('glibc='));
      if (f.libc === 'musl') {
        // a regular file, not a link: the toolkit's wrappers test `-f /lib/ld-musl-*.so.1`
        expect(musl).toEqual([`musl=${f.loader} file`]);
        expect(glibc).toEqual([]);
      } else if (f.libc === 'glibc') {
        expect(glibc).toContain(`glibc=${f.loader}`);
        expect(musl).toEqual([]);
      } else {
        expect(musl).toEqual([]);
        expect(glibc).toEqual([]);
      }
    });

    it('runs its probe command without a shell', async () => {
      const r = await run(f.tag, f.probe[0]!, f.probe.slice(1));
      expect(r.code, r.stderr).toBe(0);
    });

    it('carries its files', async () => {
      const r = await sh(key, f.files.map((p) => `[ -e '${p}' ] || { echo "missing ${p}"; exit 1; }`).join('\n'));
      expect(r.code, r.stdout + r.stderr).toBe(0);
    });

    if (f.muslHello) {
      it('runs the musl-linked musl-hello', async () => {
        const r = await run(f.tag, '/usr/local/bin/musl-hello');
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).toBe('hello from musl\n');
      });
    }
  });

  it('noshell: /bin/sh cannot be started', async () => {
    const r = await run(IMAGES.noshellAmd64, '/bin/sh', ['-c', 'true']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/no such file|not found/i);
  });

  it('entrypoint-user: runs /usr/bin/false as user 1000', async () => {
    const plain = await docker(['run', '--rm', IMAGES.entrypointUserAmd64], 90_000);
    expect(plain.code).toBe(1);
    const id = await run(IMAGES.entrypointUserAmd64, '/usr/bin/id', []);
    expect(id.code, id.stderr).toBe(0);
    expect(id.stdout).toMatch(/^uid=1000\(memoh\) gid=1000\(memoh\)/);
  });

  it('legacy-mcp: pre-bridge layout with its own /opt/memoh, /run/memoh and a /data volume', async () => {
    const r = await run(IMAGES.legacyMcpAmd64, '/bin/sh', [
      '-c',
      'test -x /opt/memoh/mcp-server && test ! -e /opt/memoh/bridge && test -d /run/memoh && pwd',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('/data');
  });

  it('debian amd64 is a Debian bookworm minbase', async () => {
    const r = await run(IMAGES.debianAmd64, '/bin/sh', [
      '-c',
      '. /etc/os-release && echo "$ID $VERSION_CODENAME" && dpkg --print-architecture',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('debian bookworm\namd64\n');
  });

  it('debian arm64 is a Debian bookworm for arm64 (under qemu)', async () => {
    const r = await run(IMAGES.debianArm64, '/bin/sh', [
      '-c',
      '. /etc/os-release && echo "$ID $VERSION_CODENAME" && dpkg --print-architecture',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('debian bookworm\narm64\n');
  });

  it(`${DEFAULT_IMAGE_ALIAS} exists locally (ours, or a real one left alone)`, async () => {
    const alias = await inspect(DEFAULT_IMAGE_ALIAS);
    if (alias.Config.Labels?.[RECIPE_LABEL]) expect(alias.Id).toBe((await inspect(IMAGES.debianAmd64)).Id);
  });
});

describe('workspace images shaped like memohai/workspace v0.18 (memoh-current.md §3, §4, §7)', () => {
  const facts = (key: ImageKey): ImageFacts => IMAGE_FACTS[key];
  const ws = (key: ImageKey): WorkspaceFacts => facts(key).workspace!;
  const WORKSPACE_KEYS = IMAGE_KEYS.filter((k) => facts(k).workspace);
  const BROKEN_KEYS = WORKSPACE_KEYS.filter((k) => ws(k).broken);
  const bash = (key: ImageKey, script: string) => run(facts(key).tag, '/bin/bash', ['-c', script]);

  /** Memoh's mode rule (contract.go@v0.18.0:114-126) on a `stat -c %A` string: not a directory, 10 characters, x/s/t at 3, 6 or 9. */
  const memohExecutable = (mode: string) =>
    mode.length === 10 && !mode.startsWith('d') && [3, 6, 9].some((i) => 'xst'.includes(mode[i]!));

  it('lists the workspace images and one broken variant per contract rule', () => {
    expect(WORKSPACE_KEYS).toEqual(expect.arrayContaining(['workspaceAmd64', 'workspaceArm64']));
    expect(BROKEN_KEYS.map((k) => ws(k).broken).sort()).toEqual([
      'contract-v1',
      'libc-musl',
      'no-contract',
      'no-tini',
      'noexec',
    ]);
    for (const k of BROKEN_KEYS) expect(facts(k).arch).toBe('amd64');
    expect(WORKSPACE_REQUIRED_EXECUTABLES).toHaveLength(12);
  });

  describe.each(WORKSPACE_KEYS.map((k) => [IMAGES[k], k] as const))('%s', (_tag, key) => {
    const f = facts(key);
    const w = ws(key);

    const carries = w.contract
      ? `contract v${w.contract.contract_version} (libc ${w.contract.platform.libc})`
      : 'no contract';

    it(`carries ${carries}, ${w.tini ? 'tini' : 'no tini'} and the required executables by Memoh's mode rule`, async () => {
      const script = [
        `for p in ${WORKSPACE_REQUIRED_EXECUTABLES.join(' ')}; do`,
        '  if [ -e "$p" ]; then echo "exe $(stat -L -c %A "$p") $p"; else echo "exe missing $p"; fi',
        'done',
        `if [ -e ${WORKSPACE_CONTRACT_PATH} ]; then echo "contract $(base64 -w0 < ${WORKSPACE_CONTRACT_PATH})"; else echo "contract absent"; fi`,
        'if [ -e /usr/bin/tini ]; then echo "tini $(/usr/bin/tini --version)"; else echo "tini absent"; fi',
        'echo "data $(stat -c "%a %u" /data) $(pwd)"',
      ].join('\n');
      const r = await bash(key, script);
      expect(r.code, r.stderr).toBe(0);
      const lines = r.stdout.trim().split('\n');
      const exe = new Map(lines.filter((l) => l.startsWith('exe ')).map((l) => [l.split(' ')[2]!, l.split(' ')[1]!]));
      expect([...exe.keys()]).toEqual([...WORKSPACE_REQUIRED_EXECUTABLES]);
      const missing = [...exe].filter(([, m]) => m === 'missing').map(([p]) => p);
      const refused = [...exe].filter(([, m]) => m !== 'missing' && !memohExecutable(m)).map(([p]) => p);
      expect(missing).toEqual(w.tini ? [] : ['/usr/bin/tini']);
      expect(refused).toEqual(w.notExecutable);

      const contract = lines.find((l) => l.startsWith('contract '))!.slice('contract '.length);
      if (w.contract === null) expect(contract).toBe('absent');
      else {
        const text = Buffer.from(contract, 'base64').toString('utf8');
        expect(JSON.parse(text)).toEqual(w.contract);
        // Memoh's CI greps this exact spelling (docker.yml@v0.18.0:200-217)
        expect(text.includes(`"contract_version": ${w.contract.contract_version}`)).toBe(true);
      }
      const tini = lines.find((l) => l.startsWith('tini '))!;
      if (w.tini) expect(tini).toMatch(/^tini tini version 0\.19\.0/);
      else expect(tini).toBe('tini absent');
      expect(lines).toContain('data 755 0 /data');
    });

    it(`runs the real Node (${w.nodeVersion}) through the toolkit wrapper on PATH, and the labelled stand-ins`, async () => {
      const script = [
        'echo "path $PATH"',
        'echo "node-at $(command -v node)"',
        'echo "node $(node --version) $(node -p "process.arch + \' \' + process.release.name")"',
        'echo "npm $(npm --version)"',
        'echo "python $(python3 --version 2>&1 | tr "\\n" " ")"',
        'out=$(uv --version 2>&1); rc=$?; echo "uv rc=$rc $out" | tr "\\n" " "; echo',
        'for t in codex codex-acp claude-agent-acp; do echo "$t $($t --version)"; done',
        'echo "a11y $(/opt/memoh/toolkit/display/bin/a11y-cli --version)"',
        'for s in /opt/memoh/scripts/*.sh; do sh -n "$s" && grep -q "STAND-IN" "$s" && echo "script ${s##*/}"; done',
        `for t in ${WORKSPACE_TOOLKIT_WRAPPERS.join(' ')}; do [ -x /opt/memoh/toolkit/bin/$t ] || echo "wrapper $t"; done`,
        'readlink /opt/memoh/toolkit/python-gnu',
      ].join('\n');
      const r = await bash(key, script);
      expect(r.code, r.stderr).toBe(0);
      const lines = r.stdout.trim().split('\n');
      expect(lines).toContain(`path ${WORKSPACE_ENV[0].slice('PATH='.length)}`);
      expect(lines).toContain('node-at /opt/memoh/toolkit/bin/node');
      expect(lines).toContain(`node ${w.nodeVersion} ${f.arch === 'amd64' ? 'x64' : 'arm64'} node`);
      expect(lines).toContain(`npm ${WORKSPACE_NPM_VERSION}`);
      expect(lines).toContain('python Python 3.14.6 (memoh-test stand-in: not a real Python) ');
      // the noexec variant's uv wrapper is mode 0644: the shell refuses it (126), as Memoh's Stat rule would
      const uv = lines.find((l) => l.startsWith('uv '))!;
      if (w.notExecutable.includes('/opt/memoh/toolkit/bin/uv'))
        expect(uv).toMatch(/^uv rc=126 .*uv: Permission denied $/);
      else expect(uv).toBe('uv rc=0 uv 0.9.5 (stand-in) ');
      expect(lines).toContain('codex codex 0.147.0 (memoh-test stand-in)');
      expect(lines).toContain('codex-acp codex-acp 1.2.0 (memoh-test stand-in)');
      expect(lines).toContain('claude-agent-acp claude-agent-acp 0.64.2 (memoh-test stand-in)');
      expect(lines).toContain('a11y a11y-cli 0.0.0 (memoh-test stand-in)');
      expect(lines.filter((l) => l.startsWith('script ')).sort()).toEqual([
        'script desktop-style.sh',
        'script display-apply-style.sh',
        'script display-prepare.sh',
      ]);
      expect(lines.filter((l) => l.startsWith('wrapper '))).toEqual(
        w.notExecutable.includes('/opt/memoh/toolkit/bin/uv') ? ['wrapper uv'] : [],
      );
      expect(lines.at(-1)).toBe(`python-gnu-${f.unameM}`);
    });
  });

  it("Memoh's own CI smoke step (docker.yml@v0.18.0:200-217) passes the good images and misses what it does not check", async () => {
    const step = [
      `grep -q '"contract_version": 2' ${WORKSPACE_CONTRACT_PATH}`,
      'ldd --version',
      'node --version',
      'python3 --version',
      'uv --version',
      'test -x /opt/memoh/toolkit/bin/codex',
      'test -x /opt/memoh/toolkit/bin/codex-acp',
      'test -x /opt/memoh/toolkit/bin/claude-agent-acp',
      'test -x /opt/memoh/toolkit/bin/hermes-acp',
      'test -x /opt/memoh/toolkit/display/bin/a11y-cli',
      'sh -n /opt/memoh/scripts/display-prepare.sh',
      'sh -n /opt/memoh/scripts/display-apply-style.sh',
      'sh -n /opt/memoh/scripts/desktop-style.sh',
    ].join('\n');
    const passed: string[] = [];
    for (const key of WORKSPACE_KEYS.filter((k) => facts(k).arch === 'amd64')) {
      const r = await run(facts(key).tag, '/bin/sh', ['-eux', '-c', step]);
      if (r.code === 0) passed.push(ws(key).broken ?? 'good');
    }
    // tini and the contract's platform fields are not checked there (§7 "Not checked")
    expect(passed.sort()).toEqual(['good', 'libc-musl', 'no-tini']);
  });

  describe.each(BROKEN_KEYS.map((k) => [IMAGES[k], k] as const))('%s', (_tag, key) => {
    const w = ws(key);
    const changed = [
      ...(JSON.stringify(w.contract) === JSON.stringify(WORKSPACE_CONTRACT) ? [] : [WORKSPACE_CONTRACT_PATH]),
      ...(w.tini ? [] : ['/usr/bin/tini']),
      ...w.notExecutable,
    ];

    it(`is the good amd64 image plus one layer, same config, differing only at ${changed.join(', ')}`, async () => {
      const [good, bad] = await Promise.all([inspect(IMAGES.workspaceAmd64), inspect(facts(key).tag)]);
      expect(bad.RootFS.Layers.slice(0, -1)).toEqual(good.RootFS.Layers);
      expect(bad.RootFS.Layers).toHaveLength(good.RootFS.Layers.length + 1);
      const cfg = (i: InspectedImage) => ({
        arch: i.Architecture,
        os: i.Os,
        env: i.Config.Env,
        cmd: i.Config.Cmd,
        entrypoint: i.Config.Entrypoint,
        workingDir: i.Config.WorkingDir,
        user: i.Config.User,
        volumes: i.Config.Volumes ?? null,
        ports: i.Config.ExposedPorts ?? null,
      });
      expect(cfg(bad)).toEqual(cfg(good));

      const [a, b] = await Promise.all([treeOf(IMAGES.workspaceAmd64), treeOf(facts(key).tag)]);
      expect(a.size).toBeGreaterThan(5000);
      const onlyIn = (x: Set<string>, y: Set<string>) => [...x].filter((l) => !y.has(l));
      const differing = new Set([...onlyIn(a, b), ...onlyIn(b, a)].map((l) => l.split('\t')[0]!));
      expect([...differing].sort()).toEqual(changed);
      expect(changed).toHaveLength(1);
    });
  });

  it("the toolkit wrappers behave as v0.18's: musl picked by `ls`, codex falls back on PATH, hermes-acp seeds its cache", async () => {
    const r = await bash(
      'workspaceAmd64',
      [
        // a dangling musl loader link: v0.18's `ls` test sees it (the seed's `[ -f ]` did not), so node-musl is wanted
        'ln -s /nowhere /lib/ld-musl-x86_64.so.1',
        'node --version; echo "musl-node rc=$?"',
        'rm /lib/ld-musl-x86_64.so.1',
        'rm -r /opt/memoh/toolkit/acp/lib/node_modules/@openai/codex',
        'printf "#!/bin/sh\\necho other codex \\"\\$@\\"\\n" > /usr/local/bin/codex; chmod 755 /usr/local/bin/codex',
        'codex --version',
        'rm /usr/local/bin/codex; codex --version; echo "no-codex rc=$?"',
        'XDG_CACHE_HOME=/data/.cache hermes-acp --help',
        'ls /data/.cache/memoh-hermes-acp/0.19.0',
        'python3 -c "print(1)"; echo "python-c rc=$?"',
      ].join('\n'),
    );
    const out = r.stdout + r.stderr;
    expect(out).toMatch(/no Node\.js runtime at \/opt\/memoh\/toolkit\/node-musl/);
    expect(r.stdout).toContain('musl-node rc=127');
    expect(r.stdout).toContain('other codex --version');
    expect(r.stdout).toContain('no-codex rc=127');
    expect(r.stdout).toContain(
      'uv 0.9.5 (stand-in): would run --offline --from hermes-agent[acp,mcp]==0.19.0 hermes-acp --help',
    );
    expect(r.stdout).toMatch(/uv-cache\nuv-tools/);
    // the Python stand-in runs no code, so nothing can mistake it for Python
    expect(r.stdout).toContain('python-c rc=2');
  });

  it(`${WORKSPACE_IMAGE_ALIAS} is the host-arch workspace image (or a real one left alone)`, async () => {
    const alias = await inspect(WORKSPACE_IMAGE_ALIAS);
    if (alias.Config.Labels?.[RECIPE_LABEL]) expect(alias.Id).toBe((await inspect(IMAGES.workspaceAmd64)).Id);
  });

  it(`${SERVER_IMAGE_ALIAS} holds the stand-in bridge at ${SERVER_BRIDGE_PATH}, the v0.18 one once it is built`, async () => {
    const alias = await inspect(SERVER_IMAGE_ALIAS);
    if (!alias.Config.Labels?.[RECIPE_LABEL]) return; // a real memohai/server: not ours to judge
    const img = await inspect(IMAGES.serverAmd64);
    expect(alias.Id).toBe(img.Id);
    const labelled = img.Config.Labels?.[SERVER_BRIDGE_LABEL];
    const v018 = standinBridge('amd64', 'v0.18');
    expect(labelled, `stale memoh-test/server: run test/world/images.sh server-amd64`).toBe(
      existsSync(v018) ? 'bridge-v0.18-linux-amd64' : 'bridge-linux-amd64',
    );
    const script = `stat -c '%a %s' ${SERVER_BRIDGE_PATH} && sha256sum ${SERVER_BRIDGE_PATH}`;
    const r = await run(IMAGES.serverAmd64, '/bin/busybox', ['sh', '-c', script]);
    expect(r.code, r.stderr).toBe(0);
    const host = readFileSync(labelled === 'bridge-linux-amd64' ? standinBridge('amd64') : v018);
    expect(r.stdout).toBe(
      `755 ${host.length}\n${createHash('sha256').update(host).digest('hex')}  ${SERVER_BRIDGE_PATH}\n`,
    );
  });
});

/** Every path of an image (mode, size, link target) and checksums of /opt/memoh's small files and tini: `path\t...` lines. */
async function treeOf(image: string): Promise<Set<string>> {
  const script = [
    // Docker's own mounts differ per container by design
    'find / -xdev \\( -path /proc -o -path /sys -o -path /dev \\',
    '  -o -path /etc/hosts -o -path /etc/hostname -o -path /etc/resolv.conf \\) -prune \\',
    "  -o -type d -printf '%p\\td\\t%m\\n' -o -type l -printf '%p\\tl\\t%l\\n' -o -printf '%p\\t%y\\t%m\\t%s\\n'",
    'find /opt/memoh /usr/bin/tini -path /opt/memoh/toolkit/node-glibc -prune -o -type f -size -1024k -print0 2>/dev/null |',
    '  xargs -0 sha256sum | awk \'{ print $2 "\\tsha256\\t" $1 }\'',
  ].join('\n');
  const r = await run(image, '/bin/bash', ['-c', script]);
  expect(r.code, r.stderr).toBe(0);
  return new Set(r.stdout.trim().split('\n'));
}

describe('local registries', () => {
  const started: LocalRegistry[] = [];
  afterAll(async () => {
    for (const r of started) await r.stop();
  });

  it('serves a pushed image over the v2 API without auth (docker v2 and OCI manifests)', async () => {
    const reg = await startRegistry();
    started.push(reg);
    expect(reg.host).toMatch(/^127\.0\.0\.1:\d+$/);

    const pushed = await pushImage(IMAGES.muslAmd64, reg.host, 'memoh-test/musl:amd64');
    expect(pushed.ref).toBe(`${reg.host}/memoh-test/musl:amd64`);
    const m = await fetchManifest(reg.url, 'memoh-test/musl', 'amd64');
    expect(m.status).toBe(200);
    expect(m.contentType).toBe('application/vnd.docker.distribution.manifest.v2+json');
    expect(m.digestHeader).toBe(m.bodyDigest);
    expect(m.digestHeader).toBe(pushed.digest);
    // by digest too
    const byDigest = await fetchManifest(reg.url, 'memoh-test/musl', pushed.digest);
    expect(byDigest.status).toBe(200);
    expect(byDigest.bodyDigest).toBe(pushed.digest);

    const oci = await pushImage(IMAGES.muslAmd64, reg.host, 'memoh-test/musl:oci', undefined, { format: 'oci' });
    const mo = await fetchManifest(reg.url, 'memoh-test/musl', 'oci');
    expect(mo.status).toBe(200);
    expect(mo.contentType).toBe('application/vnd.oci.image.manifest.v1+json');
    expect(mo.digestHeader).toBe(mo.bodyDigest);
    expect(mo.digestHeader).toBe(oci.digest);

    const catalog = (await (await fetch(`${reg.url}/v2/_catalog`, { signal: AbortSignal.timeout(10_000) })).json()) as {
      repositories: string[];
    };
    expect(catalog.repositories).toContain('memoh-test/musl');
  });

  it('keeps the arm64 architecture through a push', async () => {
    const reg = await startRegistry();
    started.push(reg);
    await pushImage(IMAGES.muslArm64, reg.host, 'memoh-test/musl:arm64');
    const m = await fetchManifest(reg.url, 'memoh-test/musl', 'arm64');
    expect(m.status).toBe(200);
    expect(m.digestHeader).toBe(m.bodyDigest);
    const manifest = JSON.parse(m.body.toString('utf8')) as { config: { digest: string } };
    const cfg = (await (
      await fetch(`${reg.url}/v2/memoh-test/musl/blobs/${manifest.config.digest}`, {
        signal: AbortSignal.timeout(10_000),
      })
    ).json()) as { architecture: string; variant?: string };
    expect(cfg.architecture).toBe('arm64');
    expect(cfg.variant).toBe('v8');
  });

  it('requires basic auth when started with credentials', async () => {
    const auth = { user: 'memoh', password: `pw-${randomBytes(6).toString('hex')}` };
    const reg = await startRegistry({ auth });
    started.push(reg);

    const anon = await fetch(`${reg.url}/v2/`, { signal: AbortSignal.timeout(10_000) });
    await anon.arrayBuffer();
    expect(anon.status).toBe(401);
    expect(anon.headers.get('www-authenticate') ?? '').toMatch(/^Basic /);

    await expect(pushImage(IMAGES.noshellAmd64, reg.host, 'memoh-test/noshell:amd64')).rejects.toThrow(/skopeo copy/);
    const pushed = await pushImage(IMAGES.noshellAmd64, reg.host, 'memoh-test/noshell:amd64', auth);

    const without = await fetchManifest(reg.url, 'memoh-test/noshell', 'amd64');
    expect(without.status).toBe(401);
    const wrong = await fetchManifest(reg.url, 'memoh-test/noshell', 'amd64', { user: auth.user, password: 'wrong' });
    expect(wrong.status).toBe(401);
    const ok = await fetchManifest(reg.url, 'memoh-test/noshell', 'amd64', auth);
    expect(ok.status).toBe(200);
    expect(ok.digestHeader).toBe(ok.bodyDigest);
    expect(ok.digestHeader).toBe(pushed.digest);
  });

  it('stop() kills the registry and removes its temp dir', async () => {
    const reg = await startRegistry();
    expect(existsSync(reg.dir)).toBe(true);
    await reg.stop();
    expect(existsSync(reg.dir)).toBe(false);
    await expect(fetch(`${reg.url}/v2/`, { signal: AbortSignal.timeout(2_000) })).rejects.toThrow();
    await reg.stop(); // idempotent
  });
});
