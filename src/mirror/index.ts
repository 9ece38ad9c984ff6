/** The mirror stage: registry mirrors compared with upstream, and download mirrors checked for the toolkit. */
export { imageChecks, mirrorRows, STATUS_CHECK } from './checks.js';
export { composePairs } from './compose.js';
export { type CredentialFlags, mirrorCredentials } from './credentials.js';
export type { DownloadReport, FileResult } from './downloads.js';
export { checkDownloads, downloadPlan } from './downloads.js';
export { checkMirrorPlan, type MirrorAsk, type MirrorOutcome, type MirrorPlan, planMirror } from './plan.js';
export type { ImagePair, Side } from './refs.js';
export { imagePair } from './refs.js';
export { checkMirrors } from './stage.js';
export type * from './types.js';
