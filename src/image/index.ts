/**
 * The validate stage: is each image fit to host a Memoh workspace, per platform, without running it
 * (validate.ts), judged by the era's rules (src/era/) and, for v0.18, Memoh's workspace contract (contract.ts).
 */
export * from './contract.js';
export { VALIDATE_LABEL } from './files.js';
export * from './types.js';
export { validateImages } from './validate.js';
