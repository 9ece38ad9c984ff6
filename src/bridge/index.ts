/**
 * The bridge stage: a client for both wires (client.ts, connect.ts), the built-in smoke suite over an open
 * connection (suite.ts and its parts suite-*.ts, judged by the era's rules in eras.ts) and the user's checks.
 */
export {
  BridgeCallError,
  BridgeClient,
  type ExecResult,
  type FileEntry,
  type ListDirPage,
  type ReverseHTTPSession,
  type TunnelSession,
} from './client.js';
export {
  type BridgeConnection,
  BridgeNotReady,
  type BridgeTraits,
  bridgeEraHint,
  type ConnectOptions,
  connectBridge,
  connectBridgeTarget,
  NoContainerService,
} from './connect.js';
export { dateBridge, EraRules, RULES, type RuleName, STEPS, type Verdict } from './eras.js';
export { serviceName, WIRE_NAMES, type WireName } from './proto.js';
export type { CheckSpec, CommandCheck, FileCheck } from './runner.js';
export {
  runSmokeSuite,
  runUserChecks,
  type SuiteOptions,
  suiteCheckIds,
} from './suite.js';
export { PROBE_TEMPLATE, type SuiteExpectations, type SuiteHooks } from './suite-env.js';
export { loadUserChecks, readUserChecks, type UserChecks } from './user-checks.js';
