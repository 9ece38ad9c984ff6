/**
 * The config stage: one Options from layers (defaults, a preset, Memoh's config.toml, a file, the environment,
 * the face's flags), each value remembering where it came from.
 */
export {
  BRIDGE_TLS_FILES,
  defaultLayer,
  type FaceSettings,
  fileLayer,
  type ImagePullPolicy,
  type Layer,
  type Mirrors,
  mirrorImages,
  type Options,
  optionsFromFace,
  type Pull,
  presetLayer,
  resolveOptions,
  SERVER_TLS_FILES,
  type Service,
} from './resolve.js';
