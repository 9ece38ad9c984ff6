/**
 * The workspace stage: a Memoh v3 workspace container for an image (runtime dir, socket dir, the
 * container spec, readiness, stop, cleanup), and the smoke run that drives the bridge suite in it.
 */
export { type BridgeSource, DEFAULT_BRIDGE_PATH_IN_IMAGE, type ResolvedBridge, parseBridgeSource, resolveBridge } from './bridge-source.js';
export { type ElfInfo, checkElf } from './elf.js';
export { type KeptWorkspace, type SmokeReport, type SmokeRequest, botIdsFor, defaultBotId, smokeMany, smokeOne } from './smoke.js';
export { type SpecInput, containerName, workspaceSpec } from './spec.js';
export {
  type FailureContext,
  type Service,
  type StopResult,
  type Workspace,
  type WorkspaceRequest,
  WorkspaceStartError,
  startWorkspace,
} from './workspace.js';
