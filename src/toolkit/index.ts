// The toolkit stage: builds Memoh's toolkit (Node.js glibc + musl, pinned npm, uv, Alpine runtime libraries,
// wrappers) for one architecture from mirrors, verified. The logic lives in named files:
//   build.ts     buildToolkit: resolve → cache or assemble → swap into place
//   resolve.ts   versions and download sources          assemble.ts  fetch, verify, extract, lay out
//   fetch.ts     HTTP with retries (ranged.ts: one file over several connections)
//   stream.ts    hash + decompress + untar in one pass   format.ts    .tar.gz or .tar.xz, by measuring the line
//   cache.ts     archive and toolkit caches             outcome.ts   manifest, warnings, checks
export { buildToolkit, cacheKey } from './build.js';
export { readToolkitManifest, type ToolkitOnDisk, toolkitsByArch } from './manifest.js';
export { flavoursFor, normaliseFlavours } from './resolve.js';
export type {
  ArchiveFormat,
  Flavour,
  FormatChoice,
  FormatMode,
  ToolkitManifest,
  ToolkitRequest,
  ToolkitResult,
} from './types.js';
export { FLAVOURS } from './types.js';
