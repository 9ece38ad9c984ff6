/** Memoh's eras as one description, read by the stages: paths, per-era description, release history. */
export * from './eras.js';
export * from './paths.js';
export * from './releases.js';
