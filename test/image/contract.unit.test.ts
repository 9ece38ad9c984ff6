import { type ChildProcessWithoutNullStreams, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CONTRACT_PATH,
  CONTRACT_READ_LIMIT,
  type ContractRead,
  decodeContract,
  type ExecutableStat,
  evaluateContract,
  goFileMode,
  goModeString,
  goTrimSpace,
  imageEraHint,
  isExecutableEntry,
  judgeContractFile,
  judgeExecutables,
  REQUIRED_EXECUTABLES,
} from '../../src/image/contract.js';
import { tempDir } from '../support/tmp.js';
import { REPO, WORLD_DIR } from '../world/paths.js';

/**
 * The contract rules, pure. Go semantics are not assumed from memory: every JSON, mode and trim case is also
 * put to Go itself (test/image/go-oracle: encoding/json, os.FileMode.String(), os.Stat, strings.TrimSpace).
 */

const GO = ['/usr/lib/go-1.23/bin/go', '/usr/local/go/bin/go'].find((p) => existsSync(p));

const good = {
  contract_version: 2,
  platform: { os: 'linux', libc: 'glibc' },
  paths: { toolkit: '/opt/memoh/toolkit', scripts: '/opt/memoh/scripts' },
};
const GOOD = JSON.stringify(good, null, 2);
const enc = (s: string | Buffer): Buffer => (typeof s === 'string' ? Buffer.from(s, 'utf8') : s);
const file = (s: string | Buffer): ContractRead => ({ ok: true, bytes: enc(s) });

/** Payloads for the decoder, each also answered by Go. */
const JSON_CASES: (string | Buffer)[] = [
  GOOD,
  JSON.stringify({ ...good, contract_version: 1 }),
  '{"contract_version":2,"extra":{"a":[1,2,{"b":null}]},"platform":{"os":"linux","libc":"glibc","arch":"x"},"paths":{"toolkit":"/opt/memoh/toolkit","scripts":"/opt/memoh/scripts"}}',
  '{}',
  'null',
  '  null  ',
  '[]',
  '"x"',
  '2',
  'true',
  '{"contract_version":"2"}',
  '{"contract_version":2.0}',
  '{"contract_version":2e0}',
  '{"contract_version":-0}',
  '{"contract_version":99999999999999999999}',
  '{"contract_version":true}',
  '{"contract_version":[2]}',
  '{"contract_version":{"v":2}}',
  '{"CONTRACT_VERSION":2,"Platform":{"OS":"linux"}}',
  '{"contract_ver\u017fion":2}',
  '{"contract\\u005fversion":2}',
  '{"contract_version":2,"contract_version":1}',
  '{"contract_version":2,"CONTRACT_VERSION":1}',
  '{"contract_version":2,"contract_version":null}',
  '{"platform":{"os":"linux"},"platform":{"libc":"glibc"}}',
  '{"platform":{"os":"linux"},"platform":null}',
  '{"platform":"linux"}',
  '{"platform":[]}',
  '{"platform":{"os":1}}',
  '{"platform":{"os":false},"contract_version":"x"}',
  '{"paths":{"toolkit":null,"scripts":"/opt/memoh/scripts"}}',
  '{"platform":{"os":"li\\u006eux","libc":"\\ud83d\\ude00 \\ud800 x"}}',
  Buffer.concat([Buffer.from('{"platform":{"os":"li'), Buffer.from([0xff]), Buffer.from('nux"}}')]),
  '{"contract_version":2} x',
  '{"contract_version":2}\n\t ',
  '{"contract_version":2,}',
  '',
  '   ',
  '\ufeff{"contract_version":2}',
  '{"contract_version":02}',
  '{"a":tru}',
  '{"a":nul',
  'tr',
  '-',
  '1.',
  '1e',
  '1e-',
  '{"a":"\\',
  '{"a":"\\u12',
  '{"a":"abc',
  '{"a"',
  '{"a":',
  '[1,',
  '{"a":"\u0001"}',
  '{"a":"\\q"}',
  '{"a":"\\u12g4"}',
  '{"a" 1}',
  '[1 2]',
  '{"contract_version":-}',
  '{"contract_version":1.}',
  '{"contract_version":1e}',
  '{"contract_version":1e+}',
  '{"a":"unterminated',
  "{'a':1}",
  '{"a":1]',
  '[1}',
  '{"a":"\n"}',
  '\u00a0{}',
  // Go words an unexpected byte through strconv.Quote: printable Latin-1, escapes, \x and \u forms.
  ...[0x85, 0xa0, 0xad, 0xe9, 0xff, 0x7f, 0x5c, 0x27, 0x22, 0x07, 0x00].map((b) => Buffer.from([0x7b, b, 0x7d])),
  '['.repeat(10_000) + ']'.repeat(10_000),
  '['.repeat(10_001),
  '{"a":'.repeat(10_001),
];

/** FileMode bits (Go's layout) for String(). */
const D = 1 << 31;
const L = 1 << 27;
const U = 1 << 23;
const G = 1 << 22;
const T = 1 << 20;
const MODE_CASES: number[] = [
  0o755,
  0o644,
  0,
  D | 0o755,
  L | 0o777,
  U | 0o755,
  (U | G | 0o755) >>> 0,
  T | 0o755,
  (D | T | 0o1777) >>> 0,
  1 << 25,
  1 << 24,
  (1 << 26) | (1 << 21) | 0o620,
  1 << 19,
  1 << 30,
  0xffffffff,
];
// Deterministic spread over all 32 bits (a small LCG: no Math.random in a test).
for (let x = 12345, k = 0; k < 64; k++) {
  x = (Math.imul(x, 1103515245) + 12345) >>> 0;
  MODE_CASES.push(x);
}

const TRIM_CASES = [
  ' linux ',
  '\tglibc\n',
  '\u0085linux\u0085',
  '\ufefflinux',
  '\u00a0linux\u3000',
  '\u200blinux',
  'lin ux',
  '',
  '\v\f\r',
];

class Oracle {
  private readonly lines: AsyncIterableIterator<string>;
  private stderr = '';
  constructor(private readonly child: ChildProcessWithoutNullStreams) {
    this.lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    child.stderr.on('data', (d) => (this.stderr += String(d)));
  }
  async ask(
    req: object,
  ): Promise<{ error?: string; contract?: Record<string, unknown>; mode?: string; isDir?: boolean; text?: string }> {
    this.child.stdin.write(`${JSON.stringify(req)}\n`);
    const { value, done } = await this.lines.next();
    if (done) throw new Error(`the Go oracle exited: ${this.stderr}`);
    return JSON.parse(value);
  }
  close(): void {
    this.child.stdin.end();
  }
}

describe('Go semantics, checked against Go itself', () => {
  let dir: string;
  let oracle: Oracle;

  beforeAll(async () => {
    if (!GO) throw new Error('no Go toolchain (golang-1.23-go, installed by .ci/install-deps.sh): the oracle needs it');
    dir = tempDir('contract-oracle');
    const bin = join(dir, 'oracle');
    await promisify(execFile)(GO, ['build', '-C', join(REPO, 'test/image/go-oracle'), '-o', bin, '.'], {
      // The build cache lives with the test world's other caches: a cold one costs ~40 s of compiling the std library.
      env: {
        ...process.env,
        GOCACHE: process.env.GOCACHE || join(WORLD_DIR, 'go-oracle-cache'),
        GOFLAGS: '-mod=mod',
        GOTOOLCHAIN: 'local',
        GOPROXY: 'off',
        CGO_ENABLED: '0',
      },
    });
    oracle = new Oracle(spawn(bin, [], { stdio: ['pipe', 'pipe', 'pipe'] }));
  }, 120_000);

  afterAll(async () => {
    oracle?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('decodes every payload as json.Unmarshal into the contract struct does: same values, same error text', async () => {
    for (const payload of JSON_CASES) {
      const bytes = enc(payload);
      const go = await oracle.ask({ kind: 'json', b64: bytes.toString('base64') });
      const ours = decodeContract(bytes);
      const label = JSON.stringify(bytes.toString('utf8').slice(0, 60));
      if (go.error !== undefined) expect(ours, label).toEqual({ error: go.error });
      else {
        // The oracle writes the struct back with its own json tags: the contract's field names.
        const c = go.contract as {
          contract_version: number;
          platform: { os: string; libc: string };
          paths: { toolkit: string; scripts: string };
        };
        expect(ours, label).toEqual({
          contract: { contractVersion: c.contract_version, platform: c.platform, paths: c.paths },
        });
      }
    }
  });

  it('renders every mode as os.FileMode.String() does (type letters, two of them for setuid+setgid)', async () => {
    for (const mode of MODE_CASES.map((m) => m >>> 0))
      expect(goModeString(mode), `0x${mode.toString(16)}`).toBe((await oracle.ask({ kind: 'mode', mode })).mode);
    expect(goModeString((U | G | 0o755) >>> 0)).toBe('ugrwxr-xr-x');
  });

  it('reads real files as os.Stat does: Node st_mode → Go FileMode string, symlinks followed', async () => {
    const root = join(dir, 'files');
    await mkdir(root);
    const modes = [0o755, 0o644, 0o4755, 0o6755, 0o2755, 0o1755, 0o4644, 0o100, 0o010, 0o001, 0o000];
    const paths: string[] = [];
    for (const m of modes) {
      const p = join(root, `f${m.toString(8)}`);
      await writeFile(p, '#!/bin/sh\n');
      await chmod(p, m);
      paths.push(p);
    }
    await mkdir(join(root, 'dir'), { mode: 0o755 });
    paths.push(join(root, 'dir'));
    await symlink(join(root, 'f755'), join(root, 'link'));
    paths.push(join(root, 'link'));
    let judged = 0;
    for (const p of paths) {
      const go = await oracle.ask({ kind: 'stat', path: p });
      const st = await stat(p);
      const mode = goModeString(goFileMode(st.mode));
      expect(mode, p).toBe(go.mode);
      expect(st.isDirectory(), p).toBe(Boolean(go.isDir));
      judged++;
    }
    expect(judged).toBe(modes.length + 2);
    // Memoh's rule on those modes: setuid+setgid is 11 characters and fails; setuid alone passes.
    const verdict = (m: number) => isExecutableEntry(false, goModeString(goFileMode(0o100000 | m)));
    expect([0o755, 0o4755, 0o2755, 0o1755, 0o100, 0o010, 0o001].map(verdict)).toEqual([
      true,
      true,
      true,
      true,
      true,
      true,
      true,
    ]);
    expect([0o6755, 0o644, 0o4644, 0o000].map(verdict)).toEqual([false, false, false, false]);
  });

  it('trims as strings.TrimSpace does (keeps U+FEFF, drops U+0085)', async () => {
    for (const text of TRIM_CASES)
      expect(goTrimSpace(text), JSON.stringify(text)).toBe((await oracle.ask({ kind: 'trim', text })).text);
  });
});

describe("Memoh's rules, in Memoh's order", () => {
  const rules = (r: ContractRead) => judgeContractFile(r).outcomes.map((o) => `${o.rule}:${o.status}`);
  const failure = (r: ContractRead) => judgeContractFile(r).outcomes.find((o) => o.status === 'fail');
  const variant = (patch: (c: typeof good) => unknown) => file(JSON.stringify(patch(structuredClone(good))));

  it('a good contract passes the file rules', () => {
    expect(rules(file(GOOD))).toEqual([
      'contract:pass',
      'contract-version:pass',
      'contract-platform:pass',
      'contract-paths:pass',
    ]);
    expect(judgeContractFile(file(GOOD)).contract).toEqual({
      contractVersion: 2,
      platform: { os: 'linux', libc: 'glibc' },
      paths: { toolkit: '/opt/memoh/toolkit', scripts: '/opt/memoh/scripts' },
    });
  });

  it('a missing file fails the first rule in Memoh words; the rest are skipped because Memoh stops there', () => {
    const read: ContractRead = {
      ok: false,
      missing: true,
      error: `not found: open: open ${CONTRACT_PATH}: no such file or directory`,
    };
    const out = judgeContractFile(read).outcomes;
    expect(out.map((o) => `${o.rule}:${o.status}`)).toEqual([
      'contract:fail',
      'contract-version:skip',
      'contract-platform:skip',
      'contract-paths:skip',
      'contract-executables:skip',
    ]);
    expect(out[0]!.memoh).toBe(
      `workspace image is incompatible: read contract: not found: open: open ${CONTRACT_PATH}: no such file or directory`,
    );
    expect(out[0]!.fix).toMatch(/memohai\/workspace:debian.*--memoh v3/);
    expect(out[1]!.detail).toMatch(/^not checked: Memoh stops at the first failure \(contract\)/);
  });

  it('JSON that does not decode fails "decode contract" with Go\'s error', () => {
    expect(failure(file('{"contract_version":2,}'))?.memoh).toBe(
      "workspace image is incompatible: decode contract: invalid character '}' looking for beginning of object key string",
    );
    expect(failure(file('{"contract_version":"2"}'))?.memoh).toBe(
      'workspace image is incompatible: decode contract: json: cannot unmarshal string into Go struct field WorkspaceContract.contract_version of type int',
    );
  });

  it('only the first 64 KiB is read: trailing whitespace beyond it is harmless, a longer document fails to decode', () => {
    const padded = `${GOOD}${' '.repeat(CONTRACT_READ_LIMIT)}`;
    expect(rules(file(padded))[0]).toBe('contract:pass');
    expect(judgeContractFile(file(padded)).outcomes[0]!.detail).toContain(`read as the first ${CONTRACT_READ_LIMIT}`);
    const long = JSON.stringify({ ...good, note: 'x'.repeat(CONTRACT_READ_LIMIT) });
    expect(failure(file(long))).toMatchObject({
      rule: 'contract',
      memoh: 'workspace image is incompatible: decode contract: unexpected end of JSON input',
    });
    expect(failure(file(long))?.detail).toContain(`only the first ${CONTRACT_READ_LIMIT} of its`);
  });

  it('unknown fields are ignored and missing ones are zero values (so an empty object fails on the version)', () => {
    expect(rules(variant((c) => ({ ...c, extra: [1], platform: { ...c.platform, arch: 'amd64' } })))).not.toContain(
      'contract:fail',
    );
    expect(failure(file('{}'))).toMatchObject({
      rule: 'contract-version',
      memoh: 'workspace image is incompatible: contract version 0, want 2',
    });
    expect(failure(file('null'))?.rule).toBe('contract-version');
  });

  it('version 1 is a v0.17 image, refused; any other version is refused too', () => {
    const v1 = failure(variant((c) => ({ ...c, contract_version: 1 })))!;
    expect(v1).toMatchObject({
      rule: 'contract-version',
      memoh: 'workspace image is incompatible: contract version 1, want 2',
    });
    expect(v1.detail).toContain('a v0.17 image');
    expect(failure(variant((c) => ({ ...c, contract_version: 3 })))?.memoh).toBe(
      'workspace image is incompatible: contract version 3, want 2',
    );
  });

  it('platform: os linux and libc glibc, trimmed and case-insensitive; musl is refused', () => {
    expect(rules(variant((c) => ({ ...c, platform: { os: ' Linux\n', libc: '\tGLIBC ' } })))).toContain(
      'contract-platform:pass',
    );
    expect(failure(variant((c) => ({ ...c, platform: { os: 'darwin', libc: 'glibc' } })))?.memoh).toBe(
      'workspace image is incompatible: unsupported operating system "darwin"',
    );
    const musl = failure(variant((c) => ({ ...c, platform: { os: 'linux', libc: 'musl' } })))!;
    expect(musl).toMatchObject({
      rule: 'contract-platform',
      memoh: 'workspace image is incompatible: unsupported libc "musl"',
    });
    expect(musl.fix).toMatch(/only glibc/);
    expect(failure(variant((c) => ({ ...c, platform: { os: 'linux', libc: '\ufeffglibc' } })))?.memoh).toBe(
      'workspace image is incompatible: unsupported libc "\ufeffglibc"',
    );
    expect(failure(variant((c) => ({ ...c, platform: { os: 'linux' } })))?.memoh).toBe(
      'workspace image is incompatible: unsupported libc ""',
    );
  });

  it('paths: exact after trimming, case-sensitive, toolkit before scripts', () => {
    expect(
      rules(variant((c) => ({ ...c, paths: { toolkit: ' /opt/memoh/toolkit ', scripts: '/opt/memoh/scripts\n' } }))),
    ).toContain('contract-paths:pass');
    expect(failure(variant((c) => ({ ...c, paths: { toolkit: '/opt/memoh/toolkit/', scripts: 'x' } })))?.memoh).toBe(
      'workspace image is incompatible: toolkit path "/opt/memoh/toolkit/"',
    );
    expect(failure(variant((c) => ({ ...c, paths: { ...c.paths, scripts: '/OPT/memoh/scripts' } })))?.memoh).toBe(
      'workspace image is incompatible: scripts path "/OPT/memoh/scripts"',
    );
  });

  it('executables: Memoh names the first failure in its order; every failure is listed', () => {
    const ok: ExecutableStat = { ok: true, isDir: false, mode: '-rwxr-xr-x' };
    const stats = REQUIRED_EXECUTABLES.map((): ExecutableStat => ok);
    expect(judgeExecutables(stats)).toMatchObject({ rule: 'contract-executables', status: 'pass' });
    const broken = [...stats];
    broken[0] = { ok: false, missing: true, error: 'not found: not found' };
    broken[3] = { ok: true, isDir: false, mode: '-rw-r--r--' };
    broken[5] = { ok: true, isDir: false, mode: 'ugrwxr-xr-x' };
    broken[11] = { ok: true, isDir: true, mode: 'drwxr-xr-x' };
    const out = judgeExecutables(broken);
    expect(out.memoh).toBe(
      'workspace image is incompatible: stat runtime executable /usr/bin/tini: not found: not found',
    );
    expect(out.detail).toContain('4 of 12 fail: /usr/bin/tini missing, /opt/memoh/toolkit/bin/uv mode -rw-r--r--');
    expect(out.detail).toContain('mode ugrwxr-xr-x: 11 characters');
    expect(out.detail).toContain('/opt/memoh/scripts/desktop-style.sh a directory');
    expect(out.fix).toMatch(/apt-get install tini/);
    const second = [...stats];
    second[8] = { ok: true, isDir: false, mode: '-rw-------' };
    expect(judgeExecutables(second).memoh).toBe(
      'workspace image is incompatible: runtime executable is not executable: /opt/memoh/toolkit/display/bin/a11y-cli',
    );
  });

  it('the mode rule: ten characters, x/s/t at 3, 6 or 9, no directory', () => {
    expect(isExecutableEntry(false, '-rwxr-xr-x')).toBe(true);
    expect(isExecutableEntry(false, '----------')).toBe(false);
    expect(isExecutableEntry(false, '---x------')).toBe(true);
    expect(isExecutableEntry(false, '------x---')).toBe(true);
    expect(isExecutableEntry(false, '---------x')).toBe(true);
    expect(isExecutableEntry(false, '--------x-')).toBe(false);
    expect(isExecutableEntry(false, 'urwxr-xr-x')).toBe(true);
    expect(isExecutableEntry(false, 'ugrwxr-xr-x')).toBe(false);
    expect(isExecutableEntry(false, 'trw-r--r-t')).toBe(true);
    expect(isExecutableEntry(true, 'drwxr-xr-x')).toBe(false);
    expect(isExecutableEntry(false, 'Lrwxrwxrwx')).toBe(true);
  });

  it('evaluateContract reads, then stats only when the file rules pass', async () => {
    const asked: string[] = [];
    const src = (text: string) => ({
      read: async (): Promise<ContractRead> => file(text),
      stat: async (p: string): Promise<ExecutableStat> => {
        asked.push(p);
        return { ok: true, isDir: false, mode: '-rwxr-xr-x' };
      },
    });
    const bad = await evaluateContract(src('{"contract_version":1}'));
    expect(asked).toEqual([]);
    expect(bad.memoh).toBe('workspace image is incompatible: contract version 1, want 2');
    expect(bad.outcomes.at(-1)).toMatchObject({ rule: 'contract-executables', status: 'skip' });
    const fine = await evaluateContract(src(GOOD));
    expect(asked).toEqual([...REQUIRED_EXECUTABLES]);
    expect(fine.memoh).toBeUndefined();
    expect(fine.outcomes.map((o) => o.status)).toEqual(['pass', 'pass', 'pass', 'pass', 'pass']);
  });
});

describe('the era an image tells', () => {
  const missing: ContractRead = { ok: false, missing: true, error: 'not found' };
  it('contract 2 → v0.18; contract 1 → v0.17, judged by v0.18 rules; odd or broken contract → v0.18 guessed', () => {
    expect(imageEraHint(file(GOOD), { exists: true })).toEqual({
      era: 'v0.18',
      why: expect.stringContaining('contract_version 2'),
    });
    expect(imageEraHint(file('{"contract_version":1}'), { exists: true })).toMatchObject({
      era: 'v0.18',
      why: expect.stringMatching(/v0\.17 image.*refuse/),
    });
    expect(imageEraHint(file('{"contract_version":7}'), { exists: true })).toMatchObject({ era: 'v0.18', guess: true });
    expect(imageEraHint(file('{'), { exists: true })).toMatchObject({
      era: 'v0.18',
      guess: true,
      why: expect.stringContaining('does not decode'),
    });
  });
  it("no contract: v3 guessed only for a /opt/memoh shaped like the seed's runtime dir", () => {
    expect(
      imageEraHint(missing, { exists: true, isDir: true, entries: ['bridge', 'templates', 'toolkit'] }),
    ).toMatchObject({ era: 'v3', guess: true });
    expect(imageEraHint(missing, { exists: true, isDir: true, entries: ['bridge', 'toolkit'] })).toMatchObject({
      era: 'v3',
      guess: true,
    });
    expect(imageEraHint(missing, { exists: true, isDir: true, entries: ['mcp-server', 'bin'] })).toBeUndefined();
    expect(imageEraHint(missing, { exists: false })).toBeUndefined();
  });
});
