/**
 * The workspace stage: a Memoh workspace container for an image, built for one era × backend (spec.ts:
 * workspaceShape, decided once by decideEra), with its dirs, readiness, stop and cleanup, and the smoke run
 * that drives the bridge suite in it.
 */
export {
  type BridgeSource,
  bridgeEraFromBinary,
  DEFAULT_BRIDGE_PATH_IN_IMAGE,
  parseBridgeSource,
  type ResolvedBridge,
  resolveBridge,
} from './bridge-source.js';
export { dialBridge } from './dial.js';
export { hostResolvConf, serverTimezone } from './dirs.js';
export { checkElf, type ElfInfo } from './elf.js';
export {
  botIdsFor,
  decideEra,
  defaultBotId,
  type KeptWorkspace,
  type SmokeReport,
  type SmokeRequest,
  smokeMany,
  smokeOne,
} from './smoke.js';
export {
  containerName,
  type SpecInput,
  type WorkspaceShape,
  workspaceShape,
  workspaceSpec,
} from './spec.js';
export {
  type FailureContext,
  type Service,
  type StopResult,
  startWorkspace,
  type Workspace,
  type WorkspaceRequest,
  WorkspaceStartError,
} from './workspace.js';
