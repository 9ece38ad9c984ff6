/**
 * The one table of era-dependent expectations of the smoke suite (memoh-current.md §1 and §5 against
 * bridge-contract.md §3–§5). Every behaviour that changed between the seed (v3) and v0.18 is a row: when it
 * changed, and whether the bridge or the workspace (the container spec) decides it. Checks ask the table
 * which behaviour to expect (old, new, or either when nothing dates it) instead of testing eras themselves.
 *
 * Bridge behaviours are dated by the bridge's traits (wire name, method count, ExecInput 8/9, ListDirRequest
 * 6), so a bridge between the eras (v0.6.2–v0.17) is judged release by release; without traits (no
 * reflection) by the judged era, said to be a guess. Workspace behaviours (tini, what is mounted) follow the
 * judged era: they are how the workspace was started.
 */
import type { Era } from '../core/era.js';
import type { BridgeTraits } from './connect.js';

/** Releases where something the suite can see changed; 'seed' is Memoh d5b410d7e3 (the v3 era). */
export const STEPS = [
  'seed',
  'v0.6.0',
  'v0.6.2',
  'v0.7.0',
  'v0.8.3',
  'v0.10.0',
  'v0.13.0',
  'v0.15.0',
  'v0.17.0',
  'v0.18.0',
] as const;
export type Step = (typeof STEPS)[number];
const at = (s: Step): number => STEPS.indexOf(s);
const LAST = STEPS.length - 1;

export interface Rule {
  /** The first release with the new behaviour. */
  since: Step;
  /** What changed, in the words the check details use. */
  what: string;
  /** Decided by the workspace (container spec of the judged era), not by the bridge binary. */
  by?: 'workspace';
  /** memoh-current.md gives no release for the change: only the seed (old) and v0.18 (new) are sure. */
  undated?: boolean;
}

export const RULES = {
  readfileRaw: { since: 'v0.6.0', what: 'ReadFile without line-number prefixes (7d7d0e4b5)' },
  listDirPaging: { since: 'v0.6.2', what: 'ListDir offset/limit/collapse, total_count/truncated (c1e6e0cc7)' },
  readfileLimits: { since: 'v0.7.0', what: 'ReadFile 2000 lines, no byte budget, no line cut (a40207ab6)' },
  bigMessages: { since: 'v0.7.0', what: '16 MiB messages (a40207ab6)' },
  pipesClosedOnTimeout: { since: 'v0.7.0', what: 'output pipes closed on timeout (f2fa845e1)' },
  tunnel: { since: 'v0.8.3', what: 'the Tunnel RPC (ce7bd4adf)' },
  relativeWorkDir: { since: 'v0.8.3', what: 'relative work_dir resolved under /data (c18b0ed1a)' },
  reverseHTTP: { since: 'v0.10.0', what: 'the ReverseHTTP RPC and the tools proxy (988b20c44)' },
  signalExit: { since: 'v0.10.0', what: 'exit code 128+signal instead of -1 (595218077)' },
  groupKill: { since: 'v0.10.0', what: 'timeout kills the whole process group (f6479a2b1)' },
  firstStdin: { since: 'v0.13.0', what: 'first-message stdin written in pipe mode (2b8000068)' },
  execEnvFields: { since: 'v0.15.0', what: 'ExecInput clean_env/unset_env (4597f38f0)' },
  atomicWriteFile: { since: 'v0.15.0', what: 'atomic WriteFile, always 0600 (4934f52a1)' },
  atomicWriteRaw: { since: 'v0.17.0', what: 'atomic WriteRaw, 0600, zero messages refused (7ade26bda)' },
  noSeeding: { since: 'v0.17.0', what: 'no template seeding by the bridge (bbf26b0c6)' },
  noFollow: { since: 'v0.18.0', what: 'the NoFollow RPCs (4b5cb7e64)' },
  maxEntries: { since: 'v0.18.0', what: 'ListDir max_entries (4b5cb7e64)' },
  writeRawAbort: { since: 'v0.18.0', what: 'WriteRawChunk.abort (4b5cb7e64)' },
  renameNotFound: { since: 'v0.18.0', what: 'Rename of a missing source → NOT_FOUND (cfdb36e97)' },
  noOwnReaper: {
    since: 'v0.18.0',
    what: 'no wait4(-1) reaper in the bridge: exact exit codes under concurrency (69ed9578b)',
  },
  hardStop: { since: 'v0.18.0', what: 'SIGTERM stops hard, cutting calls in flight (69ed9578b)' },
  sortedWalk: { since: 'v0.18.0', undated: true, what: 'recursive ListDir sorted by path, a bad root → NOT_FOUND' },
  hugeLineCounted: { since: 'v0.18.0', undated: true, what: 'a line of 1 MiB or more counted in total_lines' },
  // Real bridges of both eras are built with a grpc-go that serves v1 too; the v3 stand-in (Debian's grpc-go
  // 1.33) has v1alpha only, so only v0.18 insists.
  reflectionV1: { since: 'v0.18.0', undated: true, what: 'server reflection v1 besides v1alpha' },
  tini: { since: 'v0.18.0', by: 'workspace', what: 'tini as PID 1 (69ed9578b)' },
  bridgeFileMount: {
    since: 'v0.17.0',
    by: 'workspace',
    what: 'only the bridge file mounted at /opt/memoh/bridge (bbf26b0c6)',
  },
} as const satisfies Record<string, Rule>;
export type RuleName = keyof typeof RULES;

export type Verdict = 'old' | 'new' | 'either';

/** The releases a bridge can be, from its traits (indices into STEPS), and how that was decided. */
export interface BridgeDating {
  lo: number;
  hi: number;
  /** e.g. "bridgepb, 12 methods: v0.10.0–v0.17.0". */
  why: string;
  /** No traits to go by: the judged era stood in. */
  fromEra: boolean;
}

export function dateBridge(era: Era, traits: BridgeTraits | undefined): BridgeDating {
  const range = (lo: number, hi: number, why: string, fromEra = false): BridgeDating => ({ lo, hi, why, fromEra });
  if (!traits)
    return era === 'v3'
      ? range(0, 0, 'no traits: the v3 era assumed', true)
      : range(LAST, LAST, 'no traits: v0.18 assumed', true);
  if (traits.wire === 'mcpcontainer') {
    // Strictly an mcpcontainer bridge is the seed or v0.6.0/v0.6.1 (7d7d0e4b5 came before the stubs were
    // regenerated); those two point releases are taken as the seed, whose contract the v3 era holds.
    return range(0, 0, 'mcpcontainer: the seed');
  }
  let lo = at('v0.6.2');
  let hi = LAST;
  const parts = ['bridgepb'];
  if (traits.methods !== undefined) {
    parts.push(`${traits.methods} methods`);
    if (traits.methods >= 14) lo = LAST;
    else if (traits.methods >= 12) [lo, hi] = [at('v0.10.0'), at('v0.17.0')];
    else if (traits.methods === 11) [lo, hi] = [at('v0.8.3'), at('v0.8.3')];
    else hi = at('v0.7.0');
  }
  if (traits.execEnvFields !== undefined) {
    parts.push(`ExecInput ${traits.execEnvFields ? 'has' : 'lacks'} clean_env/unset_env`);
    if (traits.execEnvFields) lo = Math.max(lo, at('v0.15.0'));
    else hi = Math.min(hi, at('v0.13.0'));
  }
  if (traits.listDirMaxEntries !== undefined) {
    parts.push(`ListDirRequest ${traits.listDirMaxEntries ? 'has' : 'lacks'} max_entries`);
    if (traits.listDirMaxEntries) lo = LAST;
    else hi = Math.min(hi, at('v0.17.0'));
  }
  if (lo > hi) hi = lo; // contradicting traits: the newest evidence wins
  if (traits.methods === undefined && traits.execEnvFields === undefined) {
    // bridgepb without reflection: only the wire name, so the judged era decides within it.
    if (era === 'v3')
      return range(lo, lo, 'bridgepb without reflection: the oldest bridgepb assumed (v3 era judged)', true);
    return range(LAST, LAST, 'bridgepb without reflection: v0.18 assumed', true);
  }
  return range(lo, hi, `${parts.join(', ')}: ${STEPS[lo]}${hi > lo ? `–${STEPS[hi]}` : ''}`);
}

/** The table applied to one era and one bridge. */
export class EraRules {
  readonly dating: BridgeDating;

  constructor(
    readonly era: Era,
    readonly traits: BridgeTraits | undefined,
  ) {
    this.dating = dateBridge(era, traits);
  }

  verdict(name: RuleName): Verdict {
    const rule: Rule = RULES[name];
    const since = at(rule.since);
    if (rule.by === 'workspace') return this.era === 'v0.18' ? 'new' : 'old';
    const { lo, hi } = this.dating;
    if (rule.undated) {
      if (hi === 0 || (lo === 0 && hi <= at('v0.6.0'))) return 'old';
      if (lo === LAST) return 'new';
      return 'either';
    }
    if (lo >= since) return 'new';
    if (hi < since) return 'old';
    return 'either';
  }

  /** The behaviour of the rule exists (new, or perhaps). */
  has(name: RuleName): boolean {
    return this.verdict(name) !== 'old';
  }

  /** Only the new behaviour is accepted. */
  isNew(name: RuleName): boolean {
    return this.verdict(name) === 'new';
  }

  /** What is accepted: the old value, the new one, or both when nothing dates the change. */
  pick<T>(name: RuleName, old: T, now: T): T[] {
    const v = this.verdict(name);
    return v === 'old' ? [old] : v === 'new' ? [now] : [old, now];
  }

  /**
   * Said in a check's detail when the verdict was not certain: either behaviour accepted, or the era stood
   * in for traits the bridge did not give. Empty when the bridge dated itself.
   */
  note(name: RuleName): string {
    const v = this.verdict(name);
    const rule: Rule = RULES[name];
    if (rule.by === 'workspace') return '';
    if (v === 'either')
      return ` [${rule.what}: the bridge (${this.dating.why}) may or may not have it; either accepted]`;
    if (this.dating.fromEra) return ` [era a guess: ${this.dating.why}]`;
    return '';
  }

  /** One line for the report: how the suite judged this bridge. */
  describe(): string {
    return `era ${this.era}; bridge ${this.dating.why}`;
  }
}
