import { existsSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImageReport } from '../../src/image/index.js';
import { runCli, startCli } from '../support/cli.js';
import { validateLeftovers as leftovers } from '../support/leaks.js';
import { tempDir } from '../support/tmp.js';
import { until } from '../support/wait.js';
import { IMAGES } from '../world/images.js';
import { CLI } from '../world/paths.js';

const run = (...args: string[]) => runCli(['validate', ...args]);
const start = (args: string[]) => startCli(['validate', ...args], {}, 60_000);

/** The seed-era images predate Memoh's contract: judged by the v3 rules unless a test says otherwise. */
const amd = ['--platform', 'linux/amd64', '--pull', 'never', '--memoh', 'v3'];

let dir: string;
beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
  dir = tempDir('validate-cli');
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('memoh-workspace validate: exit codes and output', () => {
  it('0 when every check passes; one line per check', async () => {
    const r = await run('--image', IMAGES.debianAmd64, ...amd);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      /^pass {2}memoh-test\/debian:amd64 \(docker\.io\/memoh-test\/debian:amd64\) linux\/amd64: glibc, user root, Memoh v3: --memoh v3/,
    );
    expect(r.stdout).toMatch(/^ {2}pass {2}image\.shell {17}\/bin\/sh → \/usr\/bin\/dash/m);
    expect(r.stdout).toMatch(/1 image×platform checked in \d+\.\ds: 1 pass, 0 warn, 0 fail\n$/);
  });

  it('1 when a check fails, with the reason and the fix', async () => {
    const r = await run('--image', IMAGES.noshellAmd64, ...amd);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^ {2}FAIL {2}image\.shell {17}no \/bin\/sh: /m);
    expect(r.stdout).toMatch(/^ {36}fix: use an image with a POSIX shell/m);
  });

  it('0 with warnings; 1 with --fail-on warning', async () => {
    expect((await run('--image', IMAGES.entrypointUserAmd64, ...amd)).code).toBe(0);
    expect((await run('--image', IMAGES.entrypointUserAmd64, ...amd, '--fail-on', 'warning')).code).toBe(1);
  });

  it('--json prints the typed reports on stdout only', async () => {
    const r = await run(
      '--image',
      IMAGES.muslArm64,
      '--image',
      IMAGES.debianAmd64,
      '--platform',
      'linux/arm64',
      '--pull',
      'never',
      '--memoh',
      'v3',
      '--json',
    );
    expect(r.code).toBe(1);
    const reports = JSON.parse(r.stdout) as ImageReport[];
    expect(reports.map((x) => [x.image.input, x.status, x.libc])).toEqual([
      [IMAGES.muslArm64, 'pass', 'musl'],
      [IMAGES.debianAmd64, 'fail', 'glibc'],
    ]);
  });

  it('--pull never on an absent image: 1, fast, with the fix', async () => {
    const r = await run('--image', 'memoh-test/absent:nope', ...amd);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(
      `FAIL  ${'image.pull'.padEnd(26)}  docker.io/memoh-test/absent:nope is not present locally and --pull never forbids pulling it`,
    );
    expect(r.stdout).toContain('fix: pull it, or load it with docker load, or use --pull missing');
    expect(r.ms).toBeLessThan(5000);
  });

  it("reads Memoh's config.toml: default_image when no --image, and the registry prefix", async () => {
    const memoh = join(dir, 'config.toml');
    await writeFile(memoh, `[server]\naddr = ":8080"\n\n[workspace]\ndefault_image = "${IMAGES.muslAmd64}"\n`);
    const r = await run('--config', memoh, ...amd);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`pass  ${IMAGES.muslAmd64} (docker.io/${IMAGES.muslAmd64}) linux/amd64: musl`);
    await writeFile(
      memoh,
      `[server]\naddr = ":8080"\n\n[workspace]\nregistry = "127.0.0.1:5999"\ndefault_image = "${IMAGES.muslAmd64}"\n`,
    );
    const mirrored = await run('--config', memoh, ...amd);
    expect(mirrored.code).toBe(1);
    // REGISTRY/IMAGE as Memoh builds it: no docker.io, no library/
    expect(mirrored.stdout).toContain(`127.0.0.1:5999/${IMAGES.muslAmd64} is not present locally`);
  });

  it.each([
    [['--image', '$(touch /tmp/memoh-validate-pwned)'], '--image'],
    [['--image', 'UPPER'], '--image'],
    [['--image', '../x'], '--image'],
    [['--image', 'a b'], '--image'],
    [['--image', 'debian', '--pull', 'sometimes'], '--pull'],
    [['--image', 'debian', '--platform', 'linux/s390x'], '--platform'],
    [['--image', 'debian', '--registry', 'https://memoh.cn'], '--registry'],
    [['--image', 'debian', '--concurrency', '0'], '--concurrency'],
    [['--image', 'debian', '--toolkit', '/nonexistent/toolkit'], '--toolkit'],
    [['--image', 'debian', '--memoh', 'v0.17'], '--memoh'],
  ])('2 for bad input %j, naming %s', async (args, input) => {
    const r = await run(...args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`^error: ${input.replace(/-/g, '\\-')}: `, 'm'));
    expect(r.stdout).toBe('');
    expect(existsSync('/tmp/memoh-validate-pwned')).toBe(false);
  });
});

describe("memoh-workspace validate: the v0.18 era (Memoh's workspace contract)", () => {
  const v018 = ['--platform', 'linux/amd64', '--pull', 'never'];

  it('the good workspace image passes with the default era (auto), which names v0.18 from the contract', async () => {
    const r = await run('--image', IMAGES.workspaceAmd64, ...v018);
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toContain(
      'Memoh v0.18: the image carries /opt/memoh/workspace-contract.json with contract_version 2',
    );
    expect(r.stdout).toMatch(/^ {2}pass {2}image\.contract-executables {2}all 12 runtime executables are executable/m);
    expect(r.stdout).not.toMatch(/remove \/opt\/memoh\b(?!\/bridge)/);
  });

  it.each([
    ['workspaceNoContract', 'image.contract', 'read contract: not found'],
    ['workspaceContractV1', 'image.contract-version', 'contract version 1, want 2'],
    ['workspaceMusl', 'image.contract-platform', 'unsupported libc "musl"'],
    ['workspaceNoTini', 'image.contract-executables', 'stat runtime executable /usr/bin/tini: not found'],
    [
      'workspaceNoExec',
      'image.contract-executables',
      'runtime executable is not executable: /opt/memoh/toolkit/bin/uv',
    ],
  ] as const)(
    "--memoh v0.18: %s exits 1 with a FAIL line from %s in Memoh's words, and a fix",
    async (key, id, words) => {
      const r = await run('--image', IMAGES[key], ...v018, '--memoh', 'v0.18');
      expect(r.code, r.stdout).toBe(1);
      const lines = r.stdout.split('\n');
      const at = lines.findIndex((l) =>
        l.startsWith(`  FAIL  ${id.padEnd(26)}  workspace image is incompatible: ${words}`),
      );
      expect(at, r.stdout).toBeGreaterThan(0);
      expect(lines[at + 1]).toMatch(/^ {36}fix: \S/);
      expect(lines.filter((l) => l.startsWith('  FAIL'))).toHaveLength(1);
    },
  );

  it('a pre-contract image with nothing naming the era: v0.18 assumed, the refusal a warning (exit 0; 1 with --fail-on warning)', async () => {
    const r = await run('--image', IMAGES.debianAmd64, ...v018);
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toContain("Memoh v0.18 (a guess): nothing tells the era: today's Memoh (v0.18) assumed");
    expect(r.stdout).toMatch(
      /^ {2}WARN {2}image\.contract {14}workspace image is incompatible: read contract: not found: /m,
    );
    expect((await run('--image', IMAGES.debianAmd64, ...v018, '--fail-on', 'warning')).code).toBe(1);
  });

  it('--json carries the era and the contract verdict', async () => {
    const r = await run('--image', IMAGES.workspaceContractV1, ...v018, '--json');
    expect(r.code).toBe(1);
    const [report] = JSON.parse(r.stdout) as ImageReport[];
    expect(report!.era).toMatchObject({ era: 'v0.18', by: 'image', guess: false });
    expect(report!.eraHint?.why).toContain('a Memoh v0.17 image');
    expect(report!.contract).toEqual({
      version: 1,
      incompatible: 'workspace image is incompatible: contract version 1, want 2',
    });
  });
});

describe('memoh-workspace validate: interrupted', () => {
  it('SIGINT mid-run: exits 130 and no container labelled memoh.validate survives', async () => {
    const images = Object.values(IMAGES).flatMap((i) => ['--image', i]);
    const { child, done } = start([
      ...images,
      '--platform',
      'linux/amd64',
      '--platform',
      'linux/arm64',
      '--pull',
      'never',
      '--concurrency',
      '2',
    ]);
    const pid = child.pid!;
    let exited = false;
    void done.then(() => (exited = true));
    await until('a validation container to exist', 20_000, async () => exited || (await leftovers(pid)).length > 0, 10);
    expect(exited, 'the run ended before a container was seen').toBe(false);
    child.kill('SIGINT');
    const r = await done;
    expect(r.code).toBe(130);
    expect(r.stderr).toContain('SIGINT received: stopping and cleaning up');
    expect(await leftovers(pid)).toEqual([]);
  });
});
