import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inputs as ACTION_INPUTS } from '../../src/action/meta.js';
import { FIELDS } from '../../src/config/schema.js';
import type { RunReport } from '../../src/report/index.js';
import { containers, removeContainers } from '../support/leaks.js';
import { mirrorFlags } from '../support/mirror.js';
import { parseFileCommand, type RunnerFiles, runnerFiles, runStep } from '../support/runner.js';
import { tempDir } from '../support/tmp.js';
import { IMAGES } from '../world/images.js';
import { type Mirror, startMirror } from '../world/mirror/server.mjs';
import { CLI, standinBridge } from '../world/paths.js';

/**
 * Secrets in echoed input (issue 14): every input is fed a credential-bearing value, through the real
 * CLI (dist/cli.js) and the Action under the runner (dist/main.js on Node 24), and the secret must appear
 * nowhere: not on stdout or stderr, not in the JSON or JUnit report, not in the step summary or an
 * annotation. The one place it may appear is the runner's own `::add-mask::` command, which is how
 * the runner learns to mask it.
 *
 * The secret is a valid image tag, so that it can travel inside a value the tool accepts and echoes
 * (an image reference in a report row), not only inside values it refuses.
 */
const SECRET = 'Tr0ub4dor-s3cr3t-9f2c';
const URL_CRED = `https://bob:${SECRET}@registry.example/`;
const BARE_CRED = `bob:${SECRET}@registry.example`;

// Made when a test of this file runs, not when it is collected: a filtered run (`-t`) skips the hooks.
let root = '';
beforeAll(() => {
  root = tempDir('secrets');
});
const runners: RunnerFiles[] = [];
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
  for (const f of runners) rmSync(f.dir, { recursive: true, force: true });
});

const file = (name: string, text: string) => {
  const p = join(root, name);
  writeFileSync(p, text);
  return p;
};

/** The text with the runner's masking commands taken out: those must carry the secret. */
const withoutMaskCommands = (text: string) =>
  text
    .split('\n')
    .filter((l) => !l.startsWith('::add-mask::'))
    .join('\n');

/** Not the secret, nor its first 8 characters (what is left of a secret that a message cut short). */
function expectNoSecret(where: string, text: string): void {
  const at = text.indexOf(SECRET.slice(0, 8));
  expect(at, `${where} shows the secret: …${text.slice(Math.max(0, at - 120), at + 60)}…`).toBe(-1);
}

function cli(args: string[], opts: { input?: string; timeout?: number } = {}) {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    cwd: root,
    encoding: 'utf8',
    input: opts.input,
    env: cliEnv(),
    timeout: opts.timeout ?? 30_000,
  });
  return { status: r.status, out: `${r.stdout}\n${r.stderr}` };
}

/** The same, not blocking this process: for runs that talk to a server this process serves. */
async function cliAsync(args: string[], opts: { input?: string; timeout?: number; env?: NodeJS.ProcessEnv } = {}) {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: root,
    env: { ...cliEnv(), ...opts.env },
    stdio: ['pipe', 'pipe', 'pipe'],
    timeout: opts.timeout ?? 60_000,
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d));
  child.stderr.on('data', (d: Buffer) => (out += d));
  child.stdin.end(opts.input ?? '');
  const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { status, out };
}

const cliEnv = (): NodeJS.ProcessEnv => ({ ...process.env, HOME: root, DOCKER_CONFIG: join(root, 'docker') });

/** Fields whose values are hosts or image references: also given `user:password@host` without a scheme. */
const HOSTISH = new Set(['registry', 'upstream', 'insecure-registry', 'image', 'default-image', 'bridge']);

describe('the CLI never prints a credential it was given', () => {
  it('reproduces issue 14: mirror --registry with userinfo', () => {
    const r = cli(['mirror', '--registry', `https://user:${SECRET}@host`]);
    expect(r.status).toBe(2);
    expect(r.out).toMatch(/--registry: "https:\/\/\*\*\*@host" is not a registry host/);
    expectNoSecret('stderr', r.out);
  });

  // Every flag of `run`, from the one schema, so a flag added later is covered without editing this list.
  // `--toolkit` pointing nowhere stops a run whose values were all accepted before it fetches anything.
  const values = FIELDS.filter((f) => f.flag).flatMap((f) => {
    const form = f.type === 'bool' ? [`--${f.flag}=${URL_CRED}`] : [`--${f.flag}`, URL_CRED];
    const bare = HOSTISH.has(f.flag!) ? [[`--${f.flag}`, BARE_CRED]] : [];
    return [form, ...bare].map((args) => ({ name: args.join(' '), args }));
  });
  for (const v of values) {
    it(`run ${v.name}`, () => {
      const r = cli(['run', '--platform', 'linux/amd64', '--toolkit', join(root, 'no-toolkit'), ...v.args]);
      expect([1, 2], r.out).toContain(r.status);
      expectNoSecret('output', r.out);
    });
  }

  const configs: [string, string][] = [
    ['a mirror URL in the config file', `[mirrors]\nnpm = "${URL_CRED}"\n`],
    ['a registry in the config file', `[mirror]\nupstream = "${URL_CRED}"\n`],
    ['an unknown key whose value is a credential', `[toolkit]\nnode_verison = "${URL_CRED}"\n`],
    ['malformed TOML around a credential', `[mirrors\nnpm = "${URL_CRED}"\n`],
  ];
  for (const [name, text] of configs) {
    it(`--config with ${name}`, () => {
      const r = cli(['run', '--config', file(`${randomBytes(3).toString('hex')}.toml`, text)]);
      expect(r.status, r.out).toBe(2);
      expectNoSecret('output', r.out);
    });
  }

  it('paths, presets and commands that are URLs with userinfo', () => {
    for (const args of [
      ['run', '--config', URL_CRED],
      ['run', '--checks', URL_CRED],
      ['run', '--preset', URL_CRED],
      ['mirror', '--compose', URL_CRED, '--overlay', URL_CRED],
      [URL_CRED],
      ['run', URL_CRED],
    ]) {
      const r = cli(args);
      expect(r.status, `${args.join(' ')}: ${r.out}`).toBe(2);
      expectNoSecret(args.join(' '), r.out);
    }
  });
});

describe('a password the registry echoes back is masked', () => {
  // A stand-in for a registry that quotes the credentials it refused (registries and token services in
  // the wild do): no real registry here can be made to do it.
  let server: Server;
  let host = '';
  beforeAll(async () => {
    server = createServer((req, res) => {
      const auth = req.headers.authorization ?? '';
      const said = auth.startsWith('Basic ') ? Buffer.from(auth.slice(6), 'base64').toString('utf8') : 'none';
      res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Basic realm="standin"' });
      res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: `credentials ${said} rejected` }] }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('mirror --password-stdin: the registry said it, the output does not', async () => {
    const r = await cliAsync(
      [
        'mirror',
        '--registry',
        host,
        '--upstream',
        host,
        '--image',
        'debian:12',
        '--username',
        'bob',
        '--password-stdin',
        '--json',
      ],
      {
        input: `${SECRET}\n`,
      },
    );
    expect(r.status, r.out).toBe(1);
    // The registry's words are shown, its quote of the password is not.
    expect(r.out).toContain('credentials bob:*** rejected');
    expectNoSecret('output', r.out);
  });

  it('mirror --password: the same, and the warning to prefer stdin', async () => {
    const r = await cliAsync([
      'mirror',
      '--registry',
      host,
      '--upstream',
      host,
      '--image',
      'debian:12',
      '--username',
      'bob',
      '--password',
      SECRET,
    ]);
    expect(r.status, r.out).toBe(1);
    expect(r.out).toMatch(/prefer --password-stdin/);
    expect(r.out).toContain('credentials bob:*** rejected');
    expectNoSecret('output', r.out);
  });

  it('credentials from the Docker config: the same', async () => {
    const dockerConfig = join(root, 'docker-with-auths');
    mkdirSync(dockerConfig);
    writeFileSync(
      join(dockerConfig, 'config.json'),
      JSON.stringify({ auths: { [host]: { auth: Buffer.from(`bob:${SECRET}`).toString('base64') } } }),
    );
    const r = await cliAsync(['mirror', '--registry', host, '--upstream', host, '--image', 'debian:12'], {
      env: { DOCKER_CONFIG: dockerConfig },
    });
    expect(r.status, r.out).toBe(1);
    expect(r.out).toContain('credentials bob:*** rejected');
    expectNoSecret('output', r.out);
  });
});

describe('the Action never prints a credential it was given, and masks it with the runner', () => {
  function runner(): RunnerFiles {
    const f = runnerFiles();
    runners.push(f);
    return f;
  }
  const everything = (f: RunnerFiles, r: { stdout: string; stderr: string }) =>
    [withoutMaskCommands(r.stdout), r.stderr, readFileSync(f.summary, 'utf8'), readFileSync(f.output, 'utf8')].join(
      '\n',
    );

  // Every declared input, in mode plan (inputs are all judged; nothing runs). `mode` itself, in its own case.
  for (const input of ACTION_INPUTS.map((i) => i.name)) {
    it(`input ${input}`, async () => {
      const f = runner();
      const r = await runStep('main', f, { ...(input === 'mode' ? {} : { mode: 'plan' }), [input]: URL_CRED });
      expect([0, 2], r.stdout + r.stderr).toContain(r.code);
      expect(r.stdout).toContain(`::add-mask::${SECRET}\n`);
      expectNoSecret('the step', everything(f, r));
    });
  }

  it('a config file with a credential, and a password alone', async () => {
    const f = runner();
    const cfg = file('action-config.toml', `[toolkit]\nnode_verison = "${URL_CRED}"\n`);
    const r = await runStep('main', f, { mode: 'plan', config: cfg });
    expect(r.code).toBe(2);
    expectNoSecret('the step', everything(f, r));
    const p = await runStep('main', runner(), { mode: 'plan', 'registry-password': SECRET });
    expect(p.code).toBe(2);
    expect(p.stdout).toContain(`::add-mask::${SECRET}\n`);
    expectNoSecret('the step', withoutMaskCommands(p.stdout) + p.stderr);
  });

  it('a secret inside an accepted value: masked in the reports, summary and annotations', async () => {
    const f = runner();
    // The password is also the tag of an image that is not there: the image reference is echoed in every
    // renderer (rows, check details, annotation titles), so each must mask it.
    const image = `memoh-test/nothere:${SECRET}`;
    const r = await runStep('main', f, {
      mode: 'validate',
      images: image,
      platforms: 'linux/amd64',
      pull: 'never',
      'registry-username': 'bob',
      'registry-password': SECRET,
    });
    const out = parseFileCommand(readFileSync(f.output, 'utf8'));
    expect(out.result, r.stdout + r.stderr).toBe('failure');
    const report = readFileSync(out.report!, 'utf8');
    const junit = readFileSync(out.junit!, 'utf8');
    const summary = readFileSync(f.summary, 'utf8');
    // The row is there, under its masked name: the secret was redacted, not left out.
    expect((JSON.parse(report) as RunReport).rows.map((row) => row.image)).toContain('memoh-test/nothere:***');
    expect(junit).toContain('memoh-test/nothere:***');
    expect(summary).toContain('memoh-test/nothere:***');
    expect(r.stdout).toMatch(/::error title=[^\n]*memoh-test\/nothere%3A\*\*\*/);
    for (const [where, text] of Object.entries({
      stdout: withoutMaskCommands(r.stdout),
      stderr: r.stderr,
      report,
      junit,
      summary,
    }))
      expectNoSecret(where, text);
  });
});

describe('a run whose checks print credentials: reports, JUnit and summary of the CLI', () => {
  let mirror: Mirror;
  beforeAll(async () => {
    mirror = await startMirror();
  });
  const botId = `secrets-${randomBytes(3).toString('hex')}`;
  afterAll(async () => {
    await mirror?.close();
    removeContainers(containers([`name=workspace-${botId}`]));
  });

  it('user checks whose output carries a URL with userinfo and the bare password, whole or cut short', async () => {
    // As `git remote -v` or `npm config get registry` would print a credential someone baked into an image.
    // The second check's output is longer than a check detail quotes (80 characters): the password is cut.
    const filler = '0123456789'.repeat(7);
    const checks = file(
      'checks.toml',
      [
        '[[command]]\nname = "prints-credentials"',
        `command = "echo token ${SECRET}; echo ${URL_CRED}"`,
        'stdout = "^nothing like this"',
        '[[command]]\nname = "cuts-credentials"',
        `command = "echo ${filler} ${SECRET}"`,
        'stdout = "^nothing like this"',
        '',
      ].join('\n'),
    );
    const out = join(root, 'cli-reports');
    const args = [
      'run',
      '--memoh',
      'v3',
      '--bot-id',
      botId,
      '--platform',
      'linux/amd64',
      '--image',
      IMAGES.debianAmd64,
      '--pull',
      'never',
      '--bridge',
      standinBridge('amd64'),
      '--cache-dir',
      join(root, 'cache'),
      ...mirrorFlags(mirror),
      '--checks',
      checks,
      '--report',
      `${out}.json`,
      '--junit',
      `${out}.xml`,
      '--summary',
      `${out}.md`,
    ];
    // In the background: the loopback mirror this process serves must keep answering.
    const { status: code, out: text } = await cliAsync(args, { timeout: 300_000 });
    expect(code, text.slice(-3000)).toBe(1);
    const report = readFileSync(`${out}.json`, 'utf8');
    const results = (JSON.parse(report) as RunReport).rows.flatMap((r) => r.checks);
    const whole = results.find((c) => c.id === 'user.prints-credentials');
    const cut = results.find((c) => c.id === 'user.cuts-credentials');
    // The checks ran and their output reached the report, masked every way.
    expect(whole?.status, report).toBe('fail');
    expect(whole?.detail).toContain('token ***');
    expect(whole?.detail).toContain('https://***@registry.example/');
    expect(cut?.detail).toContain(`${filler} ***…`);
    for (const [where, t] of Object.entries({
      output: text,
      report,
      junit: readFileSync(`${out}.xml`, 'utf8'),
      summary: readFileSync(`${out}.md`, 'utf8'),
    })) {
      expectNoSecret(where, t);
    }
  });
});
