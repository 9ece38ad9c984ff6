import { chmod, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Platform, platformOf } from '../../src/core/platform.js';
import {
  CHECK_IDS,
  CONTRACT_CHECK_IDS,
  type ImageReport,
  REQUIRED_EXECUTABLES,
  type ValidateRequest,
  validateImages,
} from '../../src/image/index.js';
import { testContext } from '../support/context.js';
import { checkOf as check, importTree, removeImages } from '../support/images.js';
import { validateLeftovers as leftovers } from '../support/leaks.js';
import { tempDir } from '../support/tmp.js';
import { IMAGE_FACTS, IMAGES, type ImageFacts, type ImageKey, type WorkspaceBreak } from '../world/images.js';

/**
 * `validate` in the v0.18 era: Memoh's workspace contract read from real images through the engine's archive
 * API (never run), on the test world's memohai/workspace-shaped images and on odd ones imported here.
 */

const amd64 = platformOf('amd64');
const arm64 = platformOf('arm64');
const ctx = () => testContext();
const request = (images: string[], platforms: Platform[], extra: Partial<ValidateRequest> = {}): ValidateRequest => ({
  images,
  platforms,
  registry: '',
  pull: 'never',
  concurrency: 2,
  ...extra,
});
const failing = (r: ImageReport) => r.checks.filter((c) => c.status === 'fail').map((c) => c.id);

/** Which of our checks names each rule a broken variant breaks. */
const RULE_OF: Record<WorkspaceBreak, string> = {
  'no-contract': 'image.contract',
  'contract-v1': 'image.contract-version',
  'libc-musl': 'image.contract-platform',
  'no-tini': 'image.contract-executables',
  noexec: 'image.contract-executables',
};
const BROKEN: ImageKey[] = [
  'workspaceNoContract',
  'workspaceContractV1',
  'workspaceMusl',
  'workspaceNoTini',
  'workspaceNoExec',
];

describe('the test-world workspace images (memohai/workspace-shaped)', () => {
  let auto: ImageReport[];
  let v018: ImageReport[];
  const c = ctx();

  beforeAll(async () => {
    auto = await validateImages(
      request(
        [IMAGES.workspaceAmd64, ...BROKEN.map((k) => IMAGES[k]), IMAGES.debianAmd64, IMAGES.legacyMcpAmd64],
        [amd64],
      ),
      c,
    );
    v018 = await validateImages(
      request(
        BROKEN.map((k) => IMAGES[k]),
        [amd64],
        { memoh: 'v0.18' },
      ),
      c,
    );
  });
  const autoOf = (tag: string) => auto.find((r) => r.image.input === tag)!;

  it('the good image passes with auto: judged v0.18 by its contract, every contract rule passes, nothing hidden', () => {
    const r = autoOf(IMAGES.workspaceAmd64);
    expect(r.status, JSON.stringify(r.checks, null, 1)).toBe('pass');
    expect(r.checks.map((x) => x.id)).toEqual([...CHECK_IDS]);
    expect(r.era).toMatchObject({ era: 'v0.18', by: 'image', guess: false });
    expect(r.eraHint).toMatchObject({ era: 'v0.18', why: expect.stringContaining('contract_version 2') });
    expect(r.contract).toEqual({ version: 2 });
    for (const id of CONTRACT_CHECK_IDS) expect(check(r, id).status, id).toBe('pass');
    expect(check(r, 'image.contract-executables').detail).toContain(
      `all ${REQUIRED_EXECUTABLES.length} runtime executables`,
    );
    // The image's /opt/memoh (toolkit, scripts, contract) is expected in v0.18: nobody is told to remove it.
    const hidden = check(r, 'image.hidden-mounts');
    expect(hidden.status).toBe('pass');
    expect(`${hidden.detail} ${hidden.fix ?? ''}`).not.toMatch(/remove \/opt\/memoh\b(?!\/bridge)/);
    expect(check(r, 'image.toolkit')).toMatchObject({
      status: 'skip',
      detail: expect.stringContaining("the image's own toolkit"),
    });
    expect(check(r, 'image.entrypoint').detail).toContain('tini');
  });

  it('the arm64 image passes for linux/arm64 too', async () => {
    const [r] = await validateImages(request([IMAGES.workspaceArm64], [arm64]), ctx());
    expect(r!.status, JSON.stringify(r!.checks, null, 1)).toBe('pass');
    expect(r!.era?.era).toBe('v0.18');
  });

  it.each(BROKEN)("--memoh v0.18: %s fails the check naming the rule, in Memoh's words; later rules skipped", (key) => {
    const facts = (IMAGE_FACTS[key] as ImageFacts).workspace!;
    const r = v018.find((x) => x.image.input === IMAGES[key])!;
    const rule = RULE_OF[facts.broken!];
    expect(r.status).toBe('fail');
    expect(failing(r)).toEqual([rule]);
    const failed = check(r, rule);
    expect(failed.detail).toContain(`workspace image is incompatible: ${facts.refusal}`);
    expect(failed.fix).toBeTruthy();
    for (const id of CONTRACT_CHECK_IDS.slice(CONTRACT_CHECK_IDS.indexOf(rule as never) + 1)) {
      expect(check(r, id)).toMatchObject({
        status: 'skip',
        detail: expect.stringContaining('Memoh stops at the first failure'),
      });
    }
    expect(r.era).toMatchObject({ era: 'v0.18', by: 'option' });
  });

  it('the refusals read as Memoh writes them', () => {
    const memoh = (key: ImageKey) => v018.find((x) => x.image.input === IMAGES[key])!.contract?.incompatible;
    expect(
      check(
        v018.find((x) => x.image.input === IMAGES.workspaceNoContract),
        'image.contract',
      ).detail,
    ).toMatch(
      /^workspace image is incompatible: read contract: not found: open: open \/opt\/memoh\/workspace-contract\.json: no such file or directory/,
    );
    expect(memoh('workspaceContractV1')).toBe('workspace image is incompatible: contract version 1, want 2');
    expect(memoh('workspaceMusl')).toBe('workspace image is incompatible: unsupported libc "musl"');
    expect(memoh('workspaceNoTini')).toBe(
      'workspace image is incompatible: stat runtime executable /usr/bin/tini: not found: not found',
    );
    expect(memoh('workspaceNoExec')).toBe(
      'workspace image is incompatible: runtime executable is not executable: /opt/memoh/toolkit/bin/uv',
    );
  });

  it('with auto, a version-1 contract is a v0.17 image judged (and refused) by v0.18 rules', () => {
    const r = autoOf(IMAGES.workspaceContractV1);
    expect(r.era).toMatchObject({ era: 'v0.18', by: 'image' });
    expect(r.era?.why).toMatch(/contract_version 1: a Memoh v0\.17 image, judged by v0\.18's rules, which refuse it/);
    expect(check(r, 'image.contract-version')).toMatchObject({
      status: 'fail',
      detail: expect.stringContaining('a v0.17 image'),
    });
  });

  it('with auto, an image with no contract and nothing seed-like: v0.18 assumed, so the refusal is a warning that says so', () => {
    for (const tag of [IMAGES.workspaceNoContract, IMAGES.debianAmd64]) {
      const r = autoOf(tag);
      expect(r.eraHint, tag).toBeUndefined();
      expect(r.era, tag).toMatchObject({ era: 'v0.18', by: 'default', guess: true });
      expect(failing(r), tag).toEqual([]);
      expect(r.status, tag).toBe('warn');
      const contract = check(r, 'image.contract');
      expect(contract.status, tag).toBe('warn');
      expect(contract.detail, tag).toMatch(/^workspace image is incompatible: read contract: not found: /);
      expect(contract.detail, tag).toContain(
        "[era: nothing tells the era: today's Memoh (v0.18) assumed; --memoh v0.18 makes this a failure",
      );
      expect(contract.fix, tag).toContain('--memoh v3');
      expect(r.contract?.incompatible, tag).toMatch(/^workspace image is incompatible: read contract/);
    }
  });

  it('the same images with a bridge that says v0.18 (the pipeline passes its hint): a failure', async () => {
    const [r] = await validateImages(
      request([IMAGES.debianAmd64], [amd64], { bridgeHint: { era: 'v0.18', why: 'bridgepb with 14 methods' } }),
      ctx(),
    );
    expect(r!.era).toMatchObject({ era: 'v0.18', by: 'bridge' });
    expect(failing(r!)).toEqual(['image.contract']);
  });

  it('with auto, the legacy MCP image (a seed-shaped /opt/memoh) is a v3 guess: no contract checks, its /opt/memoh hidden as before', () => {
    const r = autoOf(IMAGES.legacyMcpAmd64);
    expect(r.era).toMatchObject({ era: 'v3', by: 'image', guess: true });
    expect(r.checks.map((x) => x.id)).not.toContain('image.contract');
    expect(check(r, 'image.hidden-mounts')).toMatchObject({
      status: 'warn',
      fix: expect.stringMatching(/^remove \/opt\/memoh and \/run\/memoh/),
    });
  });

  it('--memoh v3 on the good workspace image: no contract checks, and the runtime mount would hide its /opt/memoh', async () => {
    const [r] = await validateImages(request([IMAGES.workspaceAmd64], [amd64], { memoh: 'v3' }), ctx());
    expect(r!.checks.map((x) => x.id)).not.toContain('image.contract');
    expect(check(r, 'image.hidden-mounts')).toMatchObject({
      status: 'warn',
      detail: expect.stringMatching(/\/opt\/memoh holds .* hidden by the read-only runtime mount/),
    });
    expect(r!.eraHint?.era).toBe('v0.18');
    expect(r!.contract).toEqual({ version: 2 });
  });

  it('an image that is not there: the era still decides which checks are listed (skipped)', async () => {
    const [r] = await validateImages(request(['memoh-test/absent:nope'], [amd64], { memoh: 'v0.18' }), ctx());
    expect(r!.checks.map((x) => x.id)).toEqual([...CHECK_IDS]);
    expect(r!.checks.slice(1).every((x) => x.status === 'skip')).toBe(true);
    const [v3] = await validateImages(request(['memoh-test/absent:nope'], [amd64], { memoh: 'v3' }), ctx());
    expect(v3!.checks.map((x) => x.id)).not.toContain('image.contract');
  });

  it('leaves no container behind', async () => {
    expect(c.ledger.entries()).toEqual([]);
    expect(await leftovers(process.pid)).toEqual([]);
  });
});

describe('odd v0.18 images (built here from a few files with docker import)', () => {
  const tag = (n: string) => `memoh-test/contract-edge-${n}:${process.pid}`;
  let dir: string;
  const CONTRACT = {
    contract_version: 2,
    platform: { os: 'linux', libc: 'glibc' },
    paths: { toolkit: '/opt/memoh/toolkit', scripts: '/opt/memoh/scripts' },
  };

  /** Every required executable as a 0755 file, except those `override` makes something else. */
  async function executables(root: string, override: Record<string, (p: string) => Promise<void>> = {}): Promise<void> {
    for (const path of REQUIRED_EXECUTABLES) {
      const p = join(root, path);
      await mkdir(join(p, '..'), { recursive: true });
      if (override[path]) await override[path]!(p);
      else {
        await writeFile(p, '#!/bin/sh\n');
        await chmod(p, 0o755);
      }
    }
  }

  beforeAll(async () => {
    dir = tempDir('contract-edge');
    // C: the contract is a link (followed) with Go-tolerated oddities; modes Memoh refuses and accepts;
    //    /opt/memoh/bridge a directory, which the bridge file cannot be mounted over.
    const c = join(dir, 'c');
    await mkdir(join(c, 'etc'), { recursive: true });
    await writeFile(
      join(c, 'etc/contract.json'),
      `{"Contract_Version": 2, "extra": [1, {"x": null}],\r\n "platform": {"os": " Linux ", "libc": "GLIBC\\n"},\r\n "paths": {"toolkit": "/opt/memoh/toolkit", "scripts": "\\t/opt/memoh/scripts"}}\r\n`,
    );
    await mkdir(join(c, 'opt/memoh/bridge'), { recursive: true });
    await symlink('/etc/contract.json', join(c, 'opt/memoh/workspace-contract.json'));
    const mode = (m: number) => async (p: string) => {
      await writeFile(p, '#!/bin/sh\n');
      await chmod(p, m);
    };
    await executables(c, {
      '/opt/memoh/toolkit/bin/node': async (p) => {
        await mkdir(join(c, 'opt/memoh/toolkit/node-glibc/bin'), { recursive: true });
        await mode(0o755)(join(c, 'opt/memoh/toolkit/node-glibc/bin/node'));
        await symlink('../node-glibc/bin/node', p);
      },
      '/opt/memoh/toolkit/bin/python3': mode(0o6755),
      '/opt/memoh/toolkit/bin/uv': (p) => mkdir(p),
      '/opt/memoh/toolkit/bin/codex': (p) => symlink('/nowhere/codex', p),
      '/opt/memoh/toolkit/display/bin/a11y-cli': mode(0o4755),
      '/opt/memoh/scripts/display-prepare.sh': mode(0o644),
      // Memoh's rule asks for an x in any of the three classes: group-only passes.
      '/opt/memoh/scripts/desktop-style.sh': mode(0o010),
    });
    await importTree(c, tag('c'));
    // D: a valid contract longer than Memoh's 64 KiB read.
    const d = join(dir, 'd');
    await mkdir(join(d, 'opt/memoh'), { recursive: true });
    await writeFile(
      join(d, 'opt/memoh/workspace-contract.json'),
      JSON.stringify({ ...CONTRACT, notes: 'n'.repeat(70_000) }),
    );
    await executables(d);
    await importTree(d, tag('d'));
    // E: no contract, and /opt/memoh shaped like the seed's runtime dir.
    const e = join(dir, 'e');
    await mkdir(join(e, 'opt/memoh/templates'), { recursive: true });
    await mkdir(join(e, 'opt/memoh/toolkit'));
    await writeFile(join(e, 'opt/memoh/templates/IDENTITY.md'), '# seed\n');
    await writeFile(join(e, 'opt/memoh/bridge'), 'not really\n');
    await importTree(e, tag('e'));
    // F: a musl image whose contract declares glibc.
    const f = join(dir, 'f');
    await mkdir(join(f, 'opt/memoh'), { recursive: true });
    await mkdir(join(f, 'lib'));
    await writeFile(join(f, 'lib/ld-musl-x86_64.so.1'), 'x');
    await writeFile(join(f, 'opt/memoh/workspace-contract.json'), JSON.stringify(CONTRACT));
    await executables(f);
    await importTree(f, tag('f'));
  });

  afterAll(async () => {
    await removeImages(['c', 'd', 'e', 'f'].map(tag));
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('C: a linked contract is followed and decoded as Go does; the executables rule names the first failure and lists all', async () => {
    const [r] = await validateImages(request([tag('c')], [amd64]), ctx());
    expect(r!.era).toMatchObject({ era: 'v0.18', by: 'image' });
    for (const id of ['image.contract', 'image.contract-version', 'image.contract-platform', 'image.contract-paths'])
      expect(check(r, id).status, id).toBe('pass');
    const exec = check(r, 'image.contract-executables');
    expect(exec.status).toBe('fail');
    // node (a link to a 0755 file) and a11y-cli (setuid: "urwxr-xr-x", ten characters) pass; python3 is first to fail
    expect(exec.detail).toMatch(
      /^workspace image is incompatible: runtime executable is not executable: \/opt\/memoh\/toolkit\/bin\/python3; 4 of 12 fail: /,
    );
    expect(exec.detail).toContain('/opt/memoh/toolkit/bin/python3 mode ugrwxr-xr-x: 11 characters');
    expect(exec.detail).toContain('/opt/memoh/toolkit/bin/uv a directory');
    expect(exec.detail).toContain('/opt/memoh/toolkit/bin/codex missing');
    expect(exec.detail).toContain('/opt/memoh/scripts/display-prepare.sh mode -rw-r--r--');
    expect(exec.detail).not.toContain('desktop-style.sh');
    expect(exec.detail).not.toContain('node');
    expect(exec.detail).not.toContain('a11y-cli');
    expect(check(r, 'image.hidden-mounts')).toMatchObject({
      status: 'fail',
      detail: expect.stringContaining('/opt/memoh/bridge is a directory'),
    });
  });

  it('D: a contract longer than 64 KiB is cut where Memoh cuts it and fails to decode', async () => {
    const [r] = await validateImages(request([tag('d')], [amd64], { memoh: 'v0.18' }), ctx());
    expect(check(r, 'image.contract')).toMatchObject({
      status: 'fail',
      detail: expect.stringMatching(
        /^workspace image is incompatible: decode contract: unexpected end of JSON input \(Memoh reads only the first 65536 of its 70\d{3} bytes\)/,
      ),
    });
    expect(check(r, 'image.contract-executables').status).toBe('skip');
  });

  it("F: a musl image declaring glibc passes Memoh's contract (it reads only the declaration); image.libc warns that the toolkit cannot start", async () => {
    const [r] = await validateImages(request([tag('f')], [amd64]), ctx());
    for (const id of CONTRACT_CHECK_IDS) expect(check(r, id).status, id).toBe('pass');
    expect(check(r, 'image.libc')).toMatchObject({
      status: 'warn',
      detail: expect.stringContaining("Memoh v0.18's toolkit is glibc-only"),
    });
    const [v3] = await validateImages(request([tag('f')], [amd64], { memoh: 'v3' }), ctx());
    expect(check(v3, 'image.libc').status).toBe('pass');
  });

  it('E: no contract but a seed-shaped /opt/memoh: auto guesses v3; --memoh v0.18 refuses it', async () => {
    const [guess] = await validateImages(request([tag('e')], [amd64]), ctx());
    expect(guess!.era).toMatchObject({
      era: 'v3',
      by: 'image',
      guess: true,
      why: expect.stringContaining('templates, toolkit, bridge'),
    });
    expect(guess!.checks.map((x) => x.id)).not.toContain('image.contract');
    const [forced] = await validateImages(request([tag('e')], [amd64], { memoh: 'v0.18' }), ctx());
    expect(check(forced, 'image.contract').status).toBe('fail');
    // v0.18 mounts the bridge file over the image's /opt/memoh/bridge: that one is replaced (warned), the rest is the image's
    expect(check(forced, 'image.hidden-mounts')).toMatchObject({
      status: 'warn',
      detail: expect.stringContaining('/opt/memoh/bridge is a regular file that the read-only bridge mount replaces'),
    });
  });
});
