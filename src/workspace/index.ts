/**
 * The workspace stage: a Memoh workspace container for an image, built for one era × backend (spec.ts:
 * workspaceShape, decided once by decideEra), with its dirs, readiness, stop and cleanup, and the smoke run
 * that drives the bridge suite in it.
 */
export {
  type BridgeSource,
  DEFAULT_BRIDGE_PATH_IN_IMAGE,
  type ResolvedBridge,
  bridgeEraFromBinary,
  parseBridgeSource,
  resolveBridge,
} from './bridge-source.js';
export { dialBridge } from './dial.js';
export { hostResolvConf, serverTimezone } from './dirs.js';
export { type ElfInfo, checkElf } from './elf.js';
export { type KeptWorkspace, type SmokeReport, type SmokeRequest, botIdsFor, decideEra, defaultBotId, smokeMany, smokeOne } from './smoke.js';
export { CONTAINERD_HOST_CONFIG, type SpecInput, type WorkspaceShape, containerName, workspaceShape, workspaceSpec } from './spec.js';
export {
  type FailureContext,
  type Service,
  type StopResult,
  type Workspace,
  type WorkspaceRequest,
  WorkspaceStartError,
  startWorkspace,
} from './workspace.js';
