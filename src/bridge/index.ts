import { randomBytes } from 'node:crypto';
import type { Check } from '../core/check.js';
import type { StageContext } from '../core/context.js';
import type { BridgeConnection } from './connect.js';
import { runChecks, type CheckSpec } from './runner.js';
import { execChecks, reaperRaceCheck, type ExecSuiteOptions } from './suite-exec.js';
import {
  cleanupCheck,
  lifecycleCheck,
  serviceChecks,
  workdirCheck,
  workspaceChecks,
  type SuiteExpectations,
  type SuiteHooks,
} from './suite-env.js';
import { fileChecks } from './suite-files.js';
import type { UserChecks } from './user-checks.js';

export { BridgeCallError, BridgeClient, type ExecResult, type FileEntry } from './client.js';
export { BridgeNotReady, NoContainerService, connectBridge, dialTarget, type BridgeConnection } from './connect.js';
export { WIRE_NAMES, serviceName, type WireName } from './proto.js';
export type { CheckSpec, CommandCheck, FileCheck } from './runner.js';
export { PROBE_TEMPLATE, type SuiteExpectations, type SuiteHooks } from './suite-env.js';
export { loadUserChecks, readUserChecks, type UserChecks } from './user-checks.js';

export interface SuiteOptions extends ExecSuiteOptions {
  /** Run only the checks with these ids (the rest are left out of the result). */
  only?: readonly string[];
  /** Leave these check ids out. */
  exclude?: readonly string[];
}

/** Every built-in check id, in the order the suite runs them. */
export function suiteCheckIds(): string[] {
  const unconnected = { service: 'mcpcontainer' } as BridgeConnection; // ids need no connection
  return builtinChecks(unconnected, { libc: 'glibc' }, {}, {}).map((c) => c.id);
}

function builtinChecks(conn: BridgeConnection, exp: SuiteExpectations, hooks: SuiteHooks, options: SuiteOptions): CheckSpec[] {
  return [
    ...serviceChecks(conn),
    workdirCheck(),
    ...fileChecks(),
    ...execChecks(options),
    ...workspaceChecks(exp),
    // Concurrency after the exact one-at-a-time checks; SIGTERM ends the workspace, so it is last.
    reaperRaceCheck(options),
    cleanupCheck(),
    lifecycleCheck(hooks),
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
    (s) => always.includes(s.id) || ((!options.only || options.only.includes(s.id)) && !options.exclude?.includes(s.id)),
  );
  return ctx.reporter.group(`bridge smoke suite (${conn.service}.ContainerService)`, () => runChecks(conn.client, specs, ctx, { work }));
}

/** The user's checks file, through the same runner and report shape as the built-in suite. */
export async function runUserChecks(conn: BridgeConnection, checks: UserChecks, ctx: StageContext): Promise<Check[]> {
  return ctx.reporter.group(`user checks (${checks.file})`, () => runChecks(conn.client, checks.checks, ctx, { work: '/data' }));
}
