import { describe, expect, it } from 'vitest';
import { type BridgeTraits, bridgeEraHint } from '../../src/bridge/connect.js';
import { dateBridge, EraRules, RULES, type RuleName } from '../../src/bridge/eras.js';
import { suiteCheckIds } from '../../src/bridge/index.js';

// Traits as reflection reports them for each release family (memoh-current.md §1).
const seed: BridgeTraits = { wire: 'mcpcontainer', reflection: 'v1alpha', methods: 10 };
const v062: BridgeTraits = {
  wire: 'bridgepb',
  reflection: 'v1',
  methods: 10,
  execEnvFields: false,
  listDirMaxEntries: false,
};
const v083: BridgeTraits = {
  wire: 'bridgepb',
  reflection: 'v1',
  methods: 11,
  execEnvFields: false,
  listDirMaxEntries: false,
};
const v010: BridgeTraits = {
  wire: 'bridgepb',
  reflection: 'v1',
  methods: 12,
  execEnvFields: false,
  listDirMaxEntries: false,
};
const v015: BridgeTraits = {
  wire: 'bridgepb',
  reflection: 'v1',
  methods: 12,
  execEnvFields: true,
  listDirMaxEntries: false,
};
const v018: BridgeTraits = {
  wire: 'bridgepb',
  reflection: 'v1',
  methods: 14,
  execEnvFields: true,
  listDirMaxEntries: true,
};
const blind: BridgeTraits = { wire: 'bridgepb', reflection: 'none' };

describe('the bridge dates itself', () => {
  it.each([
    [seed, 'seed', 'seed'],
    [v062, 'v0.6.2', 'v0.7.0'],
    [v083, 'v0.8.3', 'v0.8.3'],
    [v010, 'v0.10.0', 'v0.13.0'],
    [v015, 'v0.15.0', 'v0.17.0'],
    [v018, 'v0.18.0', 'v0.18.0'],
  ] as const)('%o → %s … %s', (traits, lo, hi) => {
    const d = dateBridge('v0.18', traits);
    const steps = [
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
    ];
    expect([steps[d.lo], steps[d.hi]]).toEqual([lo, hi]);
    expect(d.fromEra).toBe(false);
  });

  it('without reflection the judged era stands in, said to be a guess', () => {
    expect(dateBridge('v0.18', blind)).toMatchObject({
      fromEra: true,
      why: 'bridgepb without reflection: v0.18 assumed',
    });
    expect(dateBridge('v3', undefined)).toMatchObject({ lo: 0, hi: 0, fromEra: true });
    expect(new EraRules('v0.18', blind).note('signalExit')).toBe(
      ' [era a guess: bridgepb without reflection: v0.18 assumed]',
    );
  });

  it('era hints: mcpcontainer → v3; bridgepb with 14 methods → v0.18; fewer → v0.18, a guess', () => {
    expect(bridgeEraHint(seed)).toMatchObject({ era: 'v3' });
    expect(bridgeEraHint(seed)?.guess).toBeFalsy();
    expect(bridgeEraHint(v018)).toMatchObject({ era: 'v0.18' });
    expect(bridgeEraHint(v018)?.guess).toBeFalsy();
    expect(bridgeEraHint(v010)).toMatchObject({ era: 'v0.18', guess: true });
    expect(bridgeEraHint(v010)?.why).toMatch(/12 methods: between the eras/);
    expect(bridgeEraHint(blind)).toMatchObject({ era: 'v0.18', guess: true });
  });
});

describe('the era table', () => {
  const verdicts = (rules: EraRules): Record<string, string> =>
    Object.fromEntries((Object.keys(RULES) as RuleName[]).map((r) => [r, rules.verdict(r)]));

  it('a seed bridge in the v3 era: every change is old', () => {
    expect(new Set(Object.values(verdicts(new EraRules('v3', seed))))).toEqual(new Set(['old']));
  });

  it('a v0.18 bridge in the v0.18 era: every change is new', () => {
    expect(new Set(Object.values(verdicts(new EraRules('v0.18', v018))))).toEqual(new Set(['new']));
  });

  it('a bridge between the eras is judged change by change, by the trait that dates it', () => {
    const r = new EraRules('v0.18', v010);
    expect(r.verdict('readfileRaw')).toBe('new');
    expect(r.verdict('signalExit')).toBe('new'); // 12 methods: ≥ v0.10.0
    expect(r.verdict('firstStdin')).toBe('either'); // v0.13.0 lies inside v0.10.0–v0.13.0
    expect(r.verdict('execEnvFields')).toBe('old'); // ExecInput lacks fields 8/9
    expect(r.verdict('noFollow')).toBe('old');
    expect(r.verdict('noOwnReaper')).toBe('old'); // still races: a warning, not a failure
    expect(r.verdict('sortedWalk')).toBe('either'); // undated change
    expect(r.verdict('tini')).toBe('new'); // the workspace follows the judged era
    expect(r.pick('firstStdin', 'BC', 'ABC')).toEqual(['BC', 'ABC']);
    expect(r.note('firstStdin')).toMatch(
      /^ \[first-message stdin .*: the bridge \(bridgepb, 12 methods, .*v0\.10\.0–v0\.13\.0\) may or may not have it; either accepted\]$/,
    );
    expect(r.note('signalExit')).toBe('');
  });
});

describe('the suite per era', () => {
  const v3 = suiteCheckIds('v3');
  const now = suiteCheckIds('v0.18');

  it('v3 keeps its checks; v0.18 leaves out what does not exist there and adds what is new', () => {
    expect(v3).toContain('templates.seeded');
    expect(v3).toContain('mounts.runtime-readonly');
    expect(now).not.toContain('templates.seeded');
    expect(now).not.toContain('mounts.runtime-readonly');
    const added = [
      'listdir.paging',
      'listdir.collapse',
      'listdir.max-entries',
      'write.atomic',
      'writeraw.abort',
      'nofollow.read',
      'nofollow.write',
      'tunnel.loopback',
      'reversehttp.roundtrip',
      'exec.clean-env',
      'exec.unset-env',
      'exec.group-kill',
      'workspace.tini',
      'templates.not-seeded',
      'mounts.bridge-readonly',
    ];
    for (const id of added) {
      expect(now, id).toContain(id);
      expect(v3, id).not.toContain(id);
    }
    expect(now.length).toBeGreaterThanOrEqual(60);
    for (const ids of [v3, now]) {
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids.at(-1)).toBe('lifecycle.sigterm');
    }
  });

  it('a v0.10–v0.14 bridge gets Tunnel and ReverseHTTP but no NoFollow or env control', () => {
    const ids = suiteCheckIds('v0.18', v010);
    expect(ids).toContain('tunnel.loopback');
    expect(ids).toContain('reversehttp.roundtrip');
    expect(ids).toContain('exec.group-kill');
    expect(ids).not.toContain('nofollow.read');
    expect(ids).not.toContain('exec.clean-env');
    expect(ids).not.toContain('listdir.max-entries');
  });
});
