/**
 * The era-dependent expectations of the smoke suite: the release history's rules (src/era/releases.ts: when
 * each behaviour changed, and whether the bridge or the workspace decides it) applied to one era and one
 * bridge. Checks ask which behaviour to expect (old, new, or either when nothing dates it) instead of testing
 * eras themselves.
 *
 * Bridge behaviours are dated by the bridge's traits (wire name, method count, ExecInput 8/9, ListDirRequest
 * 6), so a bridge between the eras (v0.6.2–v0.17) is judged release by release; without traits (no
 * reflection) by the judged era, said to be a guess. Workspace behaviours (tini, what is mounted) follow the
 * judged era: they are how the workspace was started.
 */
import type { Era } from '../core/era.js';
import { ERA_DESCRIPTIONS, RULES, type Rule, type RuleName, STEPS, type Step } from '../era/index.js';
import type { BridgeTraits } from './connect.js';

export { RULES, type Rule, type RuleName, STEPS, type Step } from '../era/index.js';

const at = (s: Step): number => STEPS.indexOf(s);
const LAST = STEPS.length - 1;
/** The release an era stands for, as an index into STEPS: where its workspace and an undated bridge sit. */
const eraAt = (era: Era): number => at(ERA_DESCRIPTIONS[era].release);

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
  if (!traits) {
    const r = eraAt(era);
    return range(r, r, r === 0 ? 'no traits: the v3 era assumed' : 'no traits: v0.18 assumed', true);
  }
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
    // The workspace was started as the judged era's Memoh starts it: the era's own release decides.
    if (rule.by === 'workspace') return eraAt(this.era) >= since ? 'new' : 'old';
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
