import { randomBytes } from 'node:crypto';
import type { Check } from '../core/check.js';
import type { StageContext } from '../core/context.js';
import type { Era } from '../core/era.js';
import { ERA_DESCRIPTIONS } from '../era/index.js';
import { type BridgeConnection, type BridgeTraits, bridgeEraHint } from './connect.js';
import { EraRules } from './eras.js';
import { type CheckSpec, runChecks } from './runner.js';
import { workspaceContractChecks } from './suite-contract.js';
import {
  cleanupCheck,
  lifecycleCheck,
  type SuiteExpectations,
  type SuiteHooks,
  serviceChecks,
  workdirCheck,
  workspaceChecks,
} from './suite-env.js';
import { type ExecSuiteOptions, execChecks, ImageCaps, reaperRaceCheck } from './suite-exec.js';
import { fileChecks } from './suite-files.js';
import { laterChecks } from './suite-later.js';
import type { UserChecks } from './user-checks.js';

export interface SuiteOptions extends ExecSuiteOptions {
  /** Run only the checks with these ids (the rest are left out of the result). */
  only?: readonly string[];
  /** Leave these check ids out. */
  exclude?: readonly string[];
}

/**
 * Every built-in check id, in the order the suite runs them, for an era and a bridge (default: the v3 era
 * with a seed bridge, or a v0.18 bridge for the v0.18 era).
 */
export function suiteCheckIds(
  era: Era = 'v3',
  traits?: BridgeTraits,
  opts: { target?: BridgeConnection['target'] } = {},
): string[] {
  const wire = ERA_DESCRIPTIONS[era].wire;
  const t =
    traits ??
    (era === 'v3'
      ? { wire, reflection: 'v1alpha', methods: 10 }
      : { wire, reflection: 'v1', methods: 14, execEnvFields: true, listDirMaxEntries: true });
  const unconnected = { service: t.wire, traits: t, target: opts.target } as BridgeConnection; // ids need no connection
  return builtinChecks(unconnected, { era, libc: 'glibc' }, {}, {}).map((c) => c.id);
}

/** The era's rules for this connection and these expectations (see eras.ts). */
function suiteRules(conn: BridgeConnection, exp: SuiteExpectations): EraRules {
  const traits = exp.traits ?? conn.traits;
  const era =
    exp.era ?? (traits ? bridgeEraHint(traits)?.era : undefined) ?? (conn.service === 'mcpcontainer' ? 'v3' : 'v0.18');
  return new EraRules(era, traits);
}

function builtinChecks(
  conn: BridgeConnection,
  exp: SuiteExpectations,
  hooks: SuiteHooks,
  options: SuiteOptions,
): CheckSpec[] {
  const rules = suiteRules(conn, exp);
  const caps = new ImageCaps();
  // The checks that wait (timeouts, PTY sessions, reaping) start first; every check that judges no exit code
  // (file RPCs, command output) runs while they wait. Exact exit codes run one at a time after them where the
  // bridge has its own reaper to race with (v3 up to v0.17); without one (v0.18) they need no quiet either.
  // The race check wants no quiet in any era: it provokes the race on purpose, and the waiting Execs beside it
  // only make a racing bridge show its defect more surely (it is judged by name, a warning in v3).
  const exec = execChecks(options, rules, caps);
  const quiet = !rules.isNew('noOwnReaper');
  const alongside = (specs: CheckSpec[]): CheckSpec[] => specs.map((s) => ({ ...s, alongside: true }));
  const exact = (specs: CheckSpec[]): CheckSpec[] => (quiet ? specs : alongside(specs));
  return [
    ...serviceChecks(conn, rules),
    workdirCheck(),
    ...exec.filter((s) => s.waitsOnly),
    ...alongside(fileChecks(rules)),
    ...alongside(laterChecks(rules)),
    ...alongside(workspaceChecks(exp, rules, conn)),
    // What Memoh v0.18 does once the bridge answers: the image contract, then the template bootstrap (after
    // templates.not-seeded, which must see /data as the bridge left it).
    ...(rules.era === 'v0.18' ? alongside(workspaceContractChecks()) : []),
    ...alongside([reaperRaceCheck(options, rules)]),
    ...exact(exec.filter((s) => !s.waitsOnly)),
    // SIGTERM ends the workspace, so it is last.
    cleanupCheck(),
    lifecycleCheck(hooks, rules, caps, conn),
  ];
}

/**
 * The built-in smoke suite over an open bridge connection: contract §5 as named checks, one at a time
 * (except those that only wait, which run together), each bounded in time, in `/data/smoke-<random>/`
 * (removed at the end). Never throws for a failing check; `lifecycle.sigterm` stops the workspace
 * through `hooks` and runs last.
 */
export async function runSmokeSuite(
  conn: BridgeConnection,
  expect: SuiteExpectations,
  hooks: SuiteHooks,
  ctx: StageContext,
  options: SuiteOptions = {},
): Promise<Check[]> {
  const work = `/data/smoke-${randomBytes(4).toString('hex')}`;
  // The working directory is made and removed whatever the selection: the other checks need it.
  const always = ['suite.workdir', 'suite.cleanup'];
  const specs = builtinChecks(conn, expect, hooks, options).filter(
    (s) =>
      always.includes(s.id) || ((!options.only || options.only.includes(s.id)) && !options.exclude?.includes(s.id)),
  );
  const era = suiteRules(conn, expect).era;
  return ctx.reporter.group(`bridge smoke suite (${conn.service}.ContainerService, ${era} era)`, () =>
    runChecks(conn.client, specs, ctx, { work }),
  );
}

/** The user's checks file, through the same runner and report shape as the built-in suite. */
export async function runUserChecks(conn: BridgeConnection, checks: UserChecks, ctx: StageContext): Promise<Check[]> {
  return ctx.reporter.group(`user checks (${checks.file})`, () =>
    runChecks(conn.client, checks.checks, ctx, { work: '/data' }),
  );
}
