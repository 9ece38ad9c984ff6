import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { containers } from '../support/leaks.js';
import { tempDir } from '../support/tmp.js';
import { CLI, node24, REPO } from '../world/paths.js';

/**
 * Hostile input, fuzz-style: every case must exit 2 with a message naming the input, run nothing,
 * write nothing outside its work dirs, and never echo a secret. Each case runs in an empty cwd and
 * HOME, so anything written shows up; a canary file path in the payloads proves nothing executed.
 */
const SECRET = 's3cr3t-Pa55w0rd-XYZ';
const root = tempDir('hostile');
const canary = join(root, 'pwned');
afterAll(() => rmSync(root, { recursive: true, force: true }));

const file = (name: string, text: string) => {
  const p = join(root, name);
  writeFileSync(p, text);
  return p;
};

/** Everything below dir, with sizes and mtimes: compared before and after a case. */
function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      const s = statSync(p);
      out.push(`${p} ${s.size} ${s.mtimeMs}`);
      if (s.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out.sort();
}

const hostileWorkspaces = (): string => containers(['label=memoh.workspace', 'name=hostile']).join('\n');

interface Case {
  name: string;
  /** The case sets the bot id itself (else every run gets a bot id its containers are found by). */
  ownBotId?: boolean;
  args?: string[];
  inputs?: Record<string, string>;
  /** What the error must name. */
  names: RegExp;
}

const toml = {
  malformed: file('malformed.toml', '[toolkit\nnode_version = "24"\n'),
  types: file('types.toml', '[run]\nconcurrency = "many"\n'),
  unknown: file('unknown.toml', '[toolkit]\nnode_verison = "24"\n'),
  table: file('table.toml', 'toolkit = 3\n'),
  secret: file('secret.toml', `[mirrors]\nnpm = "https://bob:${SECRET}@registry.example/"\n`),
  huge: file('huge.toml', `[run]\nimages = [${Array.from({ length: 300 }, (_, i) => `"img${i}"`).join(',')}]\n`),
  checks: file('checks.toml', '[[command]]\nname = "x"\ncommand = 3\n'),
  checksBad: file('checks-bad.toml', '[[comand]]\nname = "x"\n'),
  checksTypo: file('checks-typo.toml', '[[command]]\nname = "x"\ncommand = "true"\nstdot = "^ok"\n'),
  traversal: file('traversal.toml', '[smoke]\nbot_id = "../../../etc"\n'),
};

const cases: Case[] = [
  { name: 'malformed TOML', args: ['--config', toml.malformed], names: /--config.*not valid TOML at line 1/ },
  {
    name: 'wrong type in config',
    args: ['--config', toml.types],
    names: /types\.toml \[run\] concurrency: must be a whole number/,
  },
  {
    name: 'unknown config key',
    args: ['--config', toml.unknown],
    names: /unknown\.toml \[toolkit\] node_verison: unknown key/,
  },
  {
    name: 'a table that is not a table',
    args: ['--config', toml.table],
    names: /table\.toml toolkit: unknown top-level key/,
  },
  {
    name: 'missing config file',
    args: ['--config', join(root, 'nope.toml')],
    names: /--config: cannot read config file/,
  },
  {
    name: 'credentials in a mirror URL (config)',
    args: ['--config', toml.secret],
    names: /secret\.toml \[mirrors\] npm: contains credentials/,
  },
  {
    name: 'credentials in a mirror URL (flag)',
    args: ['--npm-mirror', `https://u:${SECRET}@h/`],
    names: /--npm-mirror: contains credentials/,
  },
  {
    name: 'file:// mirror',
    args: ['--node-mirror', 'file:///etc/passwd'],
    names: /--node-mirror: scheme file: is not allowed/,
  },
  {
    name: 'javascript: mirror',
    args: ['--uv-mirror', 'javascript:alert(1)'],
    names: /--uv-mirror: scheme javascript: is not allowed/,
  },
  {
    name: 'shell in an image ref',
    args: ['--image', `$(touch ${canary})`],
    names: /--image: .* is not a valid image reference/,
  },
  {
    name: 'semicolon in an image ref',
    args: ['--image', `debian;touch ${canary}`],
    names: /--image: .* is not a valid image reference/,
  },
  {
    name: 'backticks in an image ref',
    args: ['--image', `\`touch ${canary}\``],
    names: /--image: .* is not a valid image reference/,
  },
  {
    name: 'traversal in an image ref',
    args: ['--image', '../../etc/passwd'],
    names: /--image: .* is not a valid image reference/,
  },
  {
    name: 'huge image ref',
    args: ['--image', 'a'.repeat(100_000)],
    names: /--image: .* is not a valid image reference/,
  },
  { name: 'too many images', args: ['--config', toml.huge], names: /huge\.toml \[run\] images: has 300 entries/ },
  {
    name: 'bot id traversal (flag)',
    args: ['--bot-id', '../../../tmp/x'],
    names: /--bot-id: .* is not a valid bot id/,
  },
  {
    name: 'bot id traversal (config)',
    ownBotId: true,
    args: ['--config', toml.traversal],
    names: /traversal\.toml \[smoke\] bot_id: .* is not a valid bot id/,
  },
  { name: 'bot id with a separator', args: ['--bot-id', 'a/b'], names: /--bot-id/ },
  { name: 'bad platform', args: ['--platform', 'linux/s390x'], names: /--platform: unknown architecture/ },
  { name: 'bad pull policy', args: ['--pull', 'sometimes'], names: /--pull: "sometimes" is not allowed/ },
  { name: 'huge concurrency', args: ['--concurrency', '99999999999'], names: /--concurrency: .* out of range/ },
  { name: 'negative timeout', args: ['--timeout', '-5'], names: /--timeout: -5 is out of range/ },
  { name: 'non-numeric timeout', args: ['--timeout', '10s'], names: /--timeout: must be a whole number/ },
  {
    name: 'registry with a scheme',
    args: ['--registry', 'https://memoh.cn'],
    names: /--registry: .* is not a registry host/,
  },
  { name: 'registry with shell', args: ['--registry', 'memoh.cn;id'], names: /--registry/ },
  { name: 'unknown preset', args: ['--preset', '../../etc/passwd'], names: /--preset: unknown preset/ },
  { name: 'unknown wire name', args: ['--service', 'grpc.health.v1'], names: /--service: .* is not allowed/ },
  {
    name: 'version with shell',
    args: ['--node-version', `24; touch ${canary}`],
    names: /--node-version: .* is not a version/,
  },
  { name: 'checks file missing', args: ['--checks', join(root, 'none.toml')], names: /--checks: cannot read/ },
  { name: 'checks file with a wrong type', args: ['--checks', toml.checks], names: /checks\.toml command\[1\]/ },
  {
    name: 'checks file with an unknown table',
    args: ['--checks', toml.checksBad],
    names: /checks-bad\.toml comand: unknown key/,
  },
  {
    name: 'checks file with an unknown key in a check',
    args: ['--checks', toml.checksTypo],
    names: /checks-typo\.toml command\[1\]\.stdot: unknown key\. Fix: use one of: name, command, stdout/,
  },
  { name: 'bridge source with an unknown scheme', args: ['--bridge', 'http://example/bridge'], names: /--bridge/ },
  { name: 'bridge image ref with shell', args: ['--bridge', `image:$(touch ${canary})`], names: /--bridge/ },
  { name: 'unknown flag', args: ['--nod-version', '24'], names: /unknown option '--nod-version'/ },
];

const actionCases: Case[] = [
  {
    name: 'undeclared input',
    inputs: { 'node-verison': '24' },
    names: /input node-verison: is not an input of this action/,
  },
  { name: 'bad boolean', inputs: { keep: 'yes please' }, names: /input keep: "yes please" is not a boolean/ },
  { name: 'bad mode', inputs: { mode: 'deploy' }, names: /input mode: "deploy" is not a mode/ },
  {
    name: 'shell in images',
    inputs: { images: `debian\n$(touch ${canary})` },
    names: /input images: .* is not a valid image reference/,
  },
  {
    name: 'credentials in a mirror URL',
    inputs: { 'node-mirror': `https://u:${SECRET}@h/` },
    names: /input node-mirror: contains credentials/,
  },
  { name: 'password without a user', inputs: { 'registry-password': SECRET }, names: /input registry-username/ },
  { name: 'malformed config file', inputs: { config: toml.malformed }, names: /input config: .*not valid TOML/ },
  { name: 'huge concurrency', inputs: { concurrency: '1e9' }, names: /input concurrency: must be a whole number/ },
];

function sandbox() {
  const dir = mkdtempSync(join(root, 'case-'));
  const home = join(dir, 'home');
  const cwd = join(dir, 'cwd');
  mkdirSync(home);
  mkdirSync(cwd);
  return { home, cwd, env: { HOME: home, XDG_CACHE_HOME: join(home, '.cache'), DOCKER_CONFIG: join(home, '.docker') } };
}

function expectClean(
  c: Case,
  r: { status: number | null; stdout: string; stderr: string },
  before: string[],
  dir: string,
) {
  const out = r.stdout + r.stderr;
  expect(r.status, out).toBe(2);
  expect(out).toMatch(c.names);
  // A secret may reach the runner only inside its own masking commands.
  expect(
    out
      .split('\n')
      .filter((l) => !l.startsWith('::add-mask::'))
      .join('\n'),
  ).not.toContain(SECRET);
  expect(snapshot(dir)).toEqual(before);
  expect(() => statSync(canary)).toThrow();
  expect(hostileWorkspaces()).toBe('');
}

describe('hostile input to the CLI exits 2, names the input, runs and writes nothing', () => {
  for (const c of cases) {
    it(c.name, () => {
      const s = sandbox();
      const before = snapshot(join(s.home, '..'));
      const r = spawnSync(process.execPath, [CLI, 'run', ...(c.ownBotId ? [] : ['--bot-id', 'hostile']), ...c.args!], {
        cwd: s.cwd,
        env: { ...process.env, ...s.env },
        encoding: 'utf8',
        timeout: 30_000,
      });
      expectClean(c, r, before, join(s.home, '..'));
    });
  }
});

describe('hostile Action inputs fail the step with exit 2, naming the input', () => {
  for (const c of actionCases) {
    it(c.name, () => {
      const s = sandbox();
      const state = join(s.cwd, '..', 'state');
      writeFileSync(state, '');
      const before = snapshot(join(s.home, '..'));
      const inputs = Object.fromEntries(Object.entries(c.inputs!).map(([k, v]) => [`INPUT_${k.toUpperCase()}`, v]));
      const r = spawnSync(node24, [join(REPO, 'dist', 'main.js')], {
        cwd: s.cwd,
        env: {
          PATH: process.env.PATH,
          ...s.env,
          GITHUB_STATE: state,
          RUNNER_TEMP: join(s.cwd, '..', 'temp'),
          ...inputs,
        },
        encoding: 'utf8',
        timeout: 30_000,
      });
      expectClean(c, r, before, join(s.home, '..'));
    });
  }
});
