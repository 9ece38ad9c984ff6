import type { Check } from '../core/check.js';
import type { EraHints } from '../core/era.js';
import {
  BRIDGE_IN_CONTAINER,
  CONTRACT_PATH,
  RUNTIME_MOUNT,
  SCRIPTS_IN_CONTAINER,
  TINI,
  TOOLKIT_IN_CONTAINER,
} from '../era/index.js';
import { type GoJson, GoJsonSyntaxError, goEscapeRune, goFold, parseGoJson } from './gojson.js';

/**
 * Memoh v0.18's workspace contract (shared/memoh-current.md §3), as one pure evaluation shared by `validate`
 * (files read through the engine's archive API) and `smoke` (ReadRaw and Stat over the bridge): the caller
 * supplies how to read the file and how to stat a path; the rules, their order and their words live here.
 */

export { CONTRACT_PATH };
export const CONTRACT_VERSION = 2;
/** Memoh reads at most this much; a longer file is cut and then fails to decode. */
export const CONTRACT_READ_LIMIT = 64 * 1024;
const TOOLKIT_DIR = TOOLKIT_IN_CONTAINER;
const SCRIPTS_DIR = SCRIPTS_IN_CONTAINER;
/** Memoh's order: the first one that fails is the one Memoh names. */
export const REQUIRED_EXECUTABLES: readonly string[] = [
  TINI,
  `${TOOLKIT_DIR}/bin/node`,
  `${TOOLKIT_DIR}/bin/python3`,
  `${TOOLKIT_DIR}/bin/uv`,
  `${TOOLKIT_DIR}/bin/codex`,
  `${TOOLKIT_DIR}/bin/codex-acp`,
  `${TOOLKIT_DIR}/bin/claude-agent-acp`,
  `${TOOLKIT_DIR}/bin/hermes-acp`,
  `${TOOLKIT_DIR}/display/bin/a11y-cli`,
  `${SCRIPTS_DIR}/display-prepare.sh`,
  `${SCRIPTS_DIR}/display-apply-style.sh`,
  `${SCRIPTS_DIR}/desktop-style.sh`,
];
const INCOMPATIBLE = 'workspace image is incompatible';

/** The rules grouped as reported: one check each, in Memoh's order. */
export const CONTRACT_RULES = [
  'contract',
  'contract-version',
  'contract-platform',
  'contract-paths',
  'contract-executables',
] as const;
export type ContractRule = (typeof CONTRACT_RULES)[number];

const RULE_TITLE: Record<ContractRule, string> = {
  contract: 'the contract file is read and decoded',
  'contract-version': `contract_version is ${CONTRACT_VERSION}`,
  'contract-platform': 'platform is linux, glibc',
  'contract-paths': `paths are ${TOOLKIT_DIR} and ${SCRIPTS_DIR}`,
  'contract-executables': `the ${REQUIRED_EXECUTABLES.length} runtime executables are executable`,
};

/** The decoded file, as Go's zero values fill it. */
export interface WorkspaceContract {
  contractVersion: number;
  platform: { os: string; libc: string };
  paths: { toolkit: string; scripts: string };
}

/**
 * What reading the file gave. `error` is the reader's own error text in Memoh's mapped form where it has one
 * (the bridge's NOT_FOUND → `not found: open: open …: no such file or directory`).
 */
export type ContractRead =
  | { ok: true; bytes: Uint8Array; size?: number }
  | { ok: false; missing: boolean; error: string };

/** Stat (following links) of one path: the mode string as Go's os.FileMode.String() gives it. */
export type ExecutableStat =
  | { ok: true; isDir: boolean; mode: string }
  | { ok: false; missing: boolean; error: string };

interface ContractSource {
  read(): Promise<ContractRead>;
  stat(path: string): Promise<ExecutableStat>;
}

export interface RuleOutcome {
  rule: ContractRule;
  status: 'pass' | 'fail' | 'skip';
  detail: string;
  fix?: string;
  /** For a failure: Memoh's own error text (`workspace image is incompatible: …`). */
  memoh?: string;
}

export interface ContractVerdict {
  /** undefined: the file was missing or did not decode. */
  contract?: WorkspaceContract;
  /** Was there a file to read at all? */
  present: boolean;
  outcomes: RuleOutcome[];
  /** Memoh's error for this image, or undefined when Memoh accepts it. */
  memoh?: string;
}

// ---------------------------------------------------------------------------------------------------------
// Go semantics the rules depend on

/** os.FileMode.String(): type/flag letters ("dalTLDpSugct?", bit 31 down) or "-", then rwxrwxrwx. */
export function goModeString(mode: number): string {
  const letters = 'dalTLDpSugct?';
  let out = '';
  for (let i = 0; i < letters.length; i++) if ((mode >>> (31 - i)) & 1) out += letters[i];
  if (out === '') out = '-';
  const rwx = 'rwxrwxrwx';
  for (let i = 0; i < 9; i++) out += (mode >>> (8 - i)) & 1 ? rwx[i] : '-';
  return out;
}

/** Go's FileMode bits from Unix st_mode (type + permissions + setuid/setgid/sticky), as os.Stat builds them. */
export function goFileMode(unixMode: number): number {
  const fmt = unixMode & 0o170000;
  let m = unixMode & 0o777;
  const types: Record<number, number> = {
    0o040000: 1 << 31,
    0o120000: 1 << 27,
    0o060000: 1 << 26,
    0o020000: (1 << 26) | (1 << 21),
    0o010000: 1 << 25,
    0o140000: 1 << 24,
  };
  m |= types[fmt] ?? 0;
  if (unixMode & 0o4000) m |= 1 << 23;
  if (unixMode & 0o2000) m |= 1 << 22;
  if (unixMode & 0o1000) m |= 1 << 20;
  return m >>> 0;
}

/** Memoh's executable rule on a Stat result (contract.go@v0.18.0:114-126). */
export function isExecutableEntry(isDir: boolean, mode: string): boolean {
  if (isDir || mode.length !== 10) return false;
  return [3, 6, 9].some((i) => 'xst'.includes(mode[i]!));
}

/** strings.TrimSpace: Go's unicode.IsSpace set (unlike String.trim it keeps U+FEFF and drops U+0085). */
export function goTrimSpace(s: string): string {
  const space = /[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/;
  let a = 0;
  let b = s.length;
  while (a < b && space.test(s[a]!)) a++;
  while (b > a && space.test(s[b - 1]!)) b--;
  return s.slice(a, b);
}

/** strings.EqualFold against an ASCII word: no other rune folds onto these letters. */
const equalFoldAscii = (s: string, word: string): boolean => s.replace(/[A-Z]/g, (c) => c.toLowerCase()) === word;

/** %q of a Go string (strconv.Quote) for the texts Memoh prints. */
function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) out += goEscapeRune(ch.codePointAt(0)!, '"') ?? ch;
  return `${out}"`;
}

const kindOf = (v: GoJson): string => (v.t === 'bool' ? 'bool' : v.t);
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** Go's field matching: the last key that names a field wins, exactly or else case-insensitively. */
function fields<T extends string>(
  obj: Extract<GoJson, { t: 'object' }>,
  names: readonly T[],
  set: (name: T, v: GoJson) => void,
): void {
  for (const [key, v] of obj.entries) {
    const name = names.find((f) => f === key) ?? names.find((f) => goFold(f) === goFold(key));
    if (name !== undefined) set(name, v);
  }
}

const structOf = (field: string): string =>
  field.startsWith('platform.')
    ? 'WorkspaceContractPlatform'
    : field.startsWith('paths.')
      ? 'WorkspaceContractPaths'
      : 'WorkspaceContract';

/**
 * json.Unmarshal(payload, &WorkspaceContract{}): syntax checked first, unknown fields ignored, keys matched
 * exactly or else case-insensitively (Go's fold), the last duplicate wins, null leaves a field as it was,
 * a type mismatch is remembered (the first one is the error) while decoding goes on.
 */
export function decodeContract(payload: Uint8Array): { contract: WorkspaceContract } | { error: string } {
  let root: GoJson;
  try {
    root = parseGoJson(payload);
  } catch (err) {
    if (err instanceof GoJsonSyntaxError) return { error: err.message };
    throw err;
  }
  const c: WorkspaceContract = {
    contractVersion: 0,
    platform: { os: '', libc: '' },
    paths: { toolkit: '', scripts: '' },
  };
  let firstError: string | undefined;
  // Go names the innermost struct and the full field path: WorkspaceContractPlatform.platform.os.
  const typeError = (value: string, field: string, type: string): void => {
    firstError ??= `json: cannot unmarshal ${value} into Go struct field ${structOf(field)}.${field} of type ${type}`;
  };
  const str = (v: GoJson, field: string, assign: (s: string) => void): void => {
    if (v.t === 'null') return;
    if (v.t === 'string') assign(v.v);
    else typeError(kindOf(v), field, 'string');
  };
  const struct = (
    v: GoJson,
    field: string,
    type: string,
    fill: (o: Extract<GoJson, { t: 'object' }>) => void,
  ): void => {
    if (v.t === 'null') return;
    if (v.t === 'object') fill(v);
    else typeError(kindOf(v), field, type);
  };

  if (root.t === 'null') return { contract: c };
  if (root.t !== 'object')
    return { error: `json: cannot unmarshal ${kindOf(root)} into Go value of type workspace.WorkspaceContract` };
  fields(root, ['contract_version', 'platform', 'paths'] as const, (name, v) => {
    if (name === 'contract_version') {
      if (v.t === 'null') return;
      if (v.t !== 'number') return typeError(kindOf(v), 'contract_version', 'int');
      const n = /^-?\d+$/.test(v.raw) ? BigInt(v.raw) : undefined;
      if (n === undefined || n < INT64_MIN || n > INT64_MAX)
        return typeError(`number ${v.raw}`, 'contract_version', 'int');
      c.contractVersion = Number(n);
    } else if (name === 'platform') {
      struct(v, 'platform', 'workspace.WorkspaceContractPlatform', (o) =>
        fields(o, ['os', 'libc'] as const, (f, fv) => str(fv, `platform.${f}`, (s) => (c.platform[f] = s))),
      );
    } else {
      struct(v, 'paths', 'workspace.WorkspaceContractPaths', (o) =>
        fields(o, ['toolkit', 'scripts'] as const, (f, fv) => str(fv, `paths.${f}`, (s) => (c.paths[f] = s))),
      );
    }
  });
  return firstError ? { error: firstError } : { contract: c };
}

// ---------------------------------------------------------------------------------------------------------
// The rules

const FROM_WORKSPACE = "build the image FROM memohai/workspace:debian (Memoh v0.18's workspace image)";

/** One rule's judgement: passed (with what was seen), or failed in Memoh's words, with the fix. */
type Judged = { pass: string } | { words: string; fix: string; detail?: string | undefined };

/**
 * The file's rules (read, decode, version, platform, paths) on its bytes: pure and synchronous, so they
 * can be tested rule by rule. Rules after the first failure are skipped with the reason, as Memoh stops there.
 */
export function judgeContractFile(read: ContractRead): { contract?: WorkspaceContract; outcomes: RuleOutcome[] } {
  const outcomes: RuleOutcome[] = [];
  const judged = (rule: ContractRule, j: Judged): boolean => {
    if ('pass' in j) {
      outcomes.push({ rule, status: 'pass', detail: j.pass });
      return true;
    }
    const memoh = `${INCOMPATIBLE}: ${j.words}`;
    outcomes.push({ rule, status: 'fail', detail: j.detail ? `${memoh} (${j.detail})` : memoh, fix: j.fix, memoh });
    outcomes.push(...skipRest(rule));
    return false;
  };
  const decoded = decodeRule(read);
  if (!judged('contract', decoded.judged) || !decoded.contract) return { outcomes };
  const c = decoded.contract;
  const rules = [
    ['contract-version', versionRule],
    ['contract-platform', platformRule],
    ['contract-paths', pathsRule],
  ] as const;
  for (const [rule, judge] of rules) if (!judged(rule, judge(c))) break;
  return { contract: c, outcomes };
}

/** Read and decode, as Memoh does: at most CONTRACT_READ_LIMIT bytes, then json.Unmarshal. */
function decodeRule(read: ContractRead): { judged: Judged; contract?: WorkspaceContract } {
  if (!read.ok) {
    const judged: Judged = {
      words: `read contract: ${read.error}`,
      fix: read.missing
        ? `${FROM_WORKSPACE}, or add ${CONTRACT_PATH} (contract_version ${CONTRACT_VERSION}) with the toolkit, scripts and ${TINI} it promises; for a seed-era (v3) Memoh, use --memoh v3`
        : `make ${CONTRACT_PATH} a readable regular file`,
      detail: read.missing ? `Memoh v0.18 refuses an image without ${CONTRACT_PATH}` : undefined,
    };
    return { judged };
  }
  // A reader may stop one byte past the limit: `size` is then the file's real length.
  const size = Math.max(read.size ?? 0, read.bytes.length);
  const cut = size > CONTRACT_READ_LIMIT;
  const decoded = decodeContract(cut ? read.bytes.subarray(0, CONTRACT_READ_LIMIT) : read.bytes);
  if ('error' in decoded) {
    const judged: Judged = {
      words: `decode contract: ${decoded.error}`,
      fix: `make ${CONTRACT_PATH} valid JSON of at most 64 KiB: {"contract_version": 2, "platform": {...}, "paths": {...}}`,
      detail: cut ? `Memoh reads only the first ${CONTRACT_READ_LIMIT} of its ${size} bytes` : undefined,
    };
    return { judged };
  }
  const pass = `${CONTRACT_PATH} decodes (${size} bytes${cut ? `, read as the first ${CONTRACT_READ_LIMIT}` : ''})`;
  return { judged: { pass }, contract: decoded.contract };
}

function versionRule(c: WorkspaceContract): Judged {
  if (c.contractVersion === CONTRACT_VERSION) return { pass: `contract_version ${CONTRACT_VERSION}` };
  const v17 = c.contractVersion === 1;
  return {
    words: `contract version ${c.contractVersion}, want ${CONTRACT_VERSION}`,
    fix: v17
      ? `rebuild the image from Memoh v0.18's Dockerfile.workspace (contract_version ${CONTRACT_VERSION}), or run it under Memoh v0.17`
      : `set contract_version to ${CONTRACT_VERSION}: Memoh v0.18 accepts exactly ${CONTRACT_VERSION}`,
    detail: v17 ? 'a v0.17 image: Memoh v0.18 refuses it' : undefined,
  };
}

function platformRule(c: WorkspaceContract): Judged {
  if (!equalFoldAscii(goTrimSpace(c.platform.os), 'linux')) {
    return {
      words: `unsupported operating system ${goQuote(c.platform.os)}`,
      fix: 'declare "platform": {"os": "linux", …}',
    };
  }
  if (!equalFoldAscii(goTrimSpace(c.platform.libc), 'glibc')) {
    const musl = equalFoldAscii(goTrimSpace(c.platform.libc), 'musl');
    return {
      words: `unsupported libc ${goQuote(c.platform.libc)}`,
      fix: musl
        ? `Memoh v0.18 accepts only glibc images (its toolkit is glibc-only): ${FROM_WORKSPACE} or another Debian/Ubuntu base`
        : 'declare "libc": "glibc" on a glibc (Debian, Ubuntu) image',
      detail: musl ? 'musl images are refused; only the declared value is checked' : undefined,
    };
  }
  return { pass: `platform ${goQuote(c.platform.os)}, ${goQuote(c.platform.libc)}` };
}

function pathsRule(c: WorkspaceContract): Judged {
  for (const [key, want] of [
    ['toolkit', TOOLKIT_DIR],
    ['scripts', SCRIPTS_DIR],
  ] as const) {
    if (goTrimSpace(c.paths[key]) !== want) {
      return {
        words: `${key} path ${goQuote(c.paths[key])}`,
        fix: `set "paths": {"${key}": "${want}"} (exactly; Memoh's paths are fixed)`,
      };
    }
  }
  return { pass: `toolkit ${TOOLKIT_DIR}, scripts ${SCRIPTS_DIR}` };
}

/**
 * The executables rule: Stat each (following links), in Memoh's order. Memoh stops at the first failure and
 * names it; every failure is listed after Memoh's words so one run shows all there is to fix.
 */
export function judgeExecutables(stats: readonly ExecutableStat[]): RuleOutcome {
  const problems: { path: string; memoh: string; short: string; fix: string }[] = [];
  REQUIRED_EXECUTABLES.forEach((path, i) => {
    const s = stats[i]!;
    if (!s.ok) {
      problems.push({
        path,
        memoh: `stat runtime executable ${path}: ${s.error}`,
        short: `${path} ${s.missing ? 'missing' : `unreadable (${s.error})`}`,
        fix:
          path === TINI
            ? `install tini (Debian: apt-get install tini): Memoh v0.18 runs ${TINI} -g -- ${BRIDGE_IN_CONTAINER}`
            : `install ${path}, executable`,
      });
    } else if (!isExecutableEntry(s.isDir, s.mode)) {
      const why = s.isDir
        ? 'a directory'
        : s.mode.length !== 10
          ? `mode ${s.mode}: ${s.mode.length} characters, Memoh wants 10 (e.g. setuid+setgid)`
          : `mode ${s.mode}`;
      problems.push({
        path,
        memoh: `runtime executable is not executable: ${path}`,
        short: `${path} ${why}`,
        fix: s.isDir
          ? `make ${path} an executable file, not a directory`
          : s.mode.length !== 10
            ? `drop the extra mode bits (chmod 0755 ${path})`
            : `chmod 0755 ${path}`,
      });
    }
  });
  const first = problems[0];
  if (!first)
    return {
      rule: 'contract-executables',
      status: 'pass',
      detail: `all ${REQUIRED_EXECUTABLES.length} runtime executables are executable (${TINI}, ${TOOLKIT_DIR}/bin/…, ${SCRIPTS_DIR}/…)`,
    };
  const memoh = `${INCOMPATIBLE}: ${first.memoh}`;
  const all =
    problems.length > 1
      ? `; ${problems.length} of ${REQUIRED_EXECUTABLES.length} fail: ${problems.map((p) => p.short).join(', ')}`
      : '';
  return {
    rule: 'contract-executables',
    status: 'fail',
    detail: `${memoh}${all}`,
    fix: [...new Set(problems.map((p) => p.fix))].join('; '),
    memoh,
  };
}

function skipRest(failed: ContractRule): RuleOutcome[] {
  return CONTRACT_RULES.slice(CONTRACT_RULES.indexOf(failed) + 1).map((rule) => ({
    rule,
    status: 'skip' as const,
    detail: `not checked: Memoh stops at the first failure (${failed}) before this rule (${RULE_TITLE[rule]})`,
  }));
}

/** Every rule in Memoh's order, reading and stating through `src`. */
export async function evaluateContract(src: ContractSource): Promise<ContractVerdict> {
  const read = await src.read();
  const file = judgeContractFile(read);
  const present = read.ok || !read.missing;
  if (file.outcomes.some((o) => o.status === 'fail')) {
    return {
      ...(file.contract ? { contract: file.contract } : {}),
      present,
      outcomes: file.outcomes,
      memoh: file.outcomes.find((o) => o.memoh)!.memoh!,
    };
  }
  // Stat is read-only: all twelve at once; the verdict keeps Memoh's order.
  const stats = await Promise.all(REQUIRED_EXECUTABLES.map((p) => src.stat(p)));
  const exec = judgeExecutables(stats);
  const outcomes = [...file.outcomes, exec];
  return { contract: file.contract!, present, outcomes, ...(exec.memoh ? { memoh: exec.memoh } : {}) };
}

/** The outcomes as report checks, ids prefixed per face (`image.` for validate, `contract.` over the bridge). */
export function contractChecks(verdict: ContractVerdict, prefix: string): Check[] {
  return verdict.outcomes.map((o) => ({
    id: `${prefix}${o.rule}`,
    status: o.status,
    detail: o.detail,
    ...(o.fix ? { fix: o.fix } : {}),
  }));
}

// ---------------------------------------------------------------------------------------------------------
// The era an image tells

/** What /opt/memoh holds in the image, for the seed-runtime-dir test. */
interface OptMemoh {
  exists: boolean;
  isDir?: boolean;
  /** Top-level names under /opt/memoh. */
  entries?: readonly string[];
}

/**
 * The image's era hint: a contract file says v0.17+ (version 2 → v0.18; version 1 → v0.17, judged by v0.18's
 * rules, which refuse it); no contract but a /opt/memoh shaped like the seed's runtime dir → a v3 guess;
 * otherwise the image says nothing.
 */
export function imageEraHint(read: ContractRead, opt: OptMemoh): EraHints['image'] {
  if (read.ok || !read.missing) {
    const decoded = read.ok ? decodeContract(read.bytes.subarray(0, CONTRACT_READ_LIMIT)) : undefined;
    const version = decoded && 'contract' in decoded ? decoded.contract.contractVersion : undefined;
    if (version === CONTRACT_VERSION)
      return {
        era: 'v0.18',
        why: `the image carries ${CONTRACT_PATH} with contract_version ${CONTRACT_VERSION} (Memoh v0.18)`,
      };
    if (version === 1) {
      return {
        era: 'v0.18',
        why: `the image carries ${CONTRACT_PATH} with contract_version 1: a Memoh v0.17 image, judged by v0.18's rules, which refuse it`,
      };
    }
    const what =
      version === undefined ? 'that does not decode' : `with contract_version ${version}, which no Memoh release uses`;
    return { era: 'v0.18', why: `the image carries ${CONTRACT_PATH} ${what}: a v0.17+ image`, guess: true };
  }
  const names = new Set(opt.entries ?? []);
  if (opt.exists && opt.isDir && (names.has('templates') || (names.has('bridge') && names.has('toolkit')))) {
    const seen = ['templates', 'toolkit', 'bridge'].filter((n) => names.has(n)).join(', ');
    return {
      era: 'v3',
      why: `no ${CONTRACT_PATH}, and ${RUNTIME_MOUNT} holds ${seen} like the seed's runtime dir`,
      guess: true,
    };
  }
  return undefined;
}
