/**
 * Every setting once: its TOML place, its CLI flag and its Action input. The config file, the CLI and
 * the Action all go through this table, so the three can never disagree on a name or a type.
 */
export type FieldType = 'string' | 'bool' | 'int' | 'list';

export interface Field {
  table: string;
  key: string;
  type: FieldType;
  /** CLI flag without dashes; a list flag may be repeated. */
  flag?: string;
  /** Action input name (action.yml). */
  input?: string;
  description: string;
  /** For ints: inclusive bounds. */
  min?: number;
  max?: number;
  /** For strings: the allowed values. */
  choices?: readonly string[];
}

export const FIELDS: readonly Field[] = [
  { table: 'workspace', key: 'registry', type: 'string', flag: 'registry', input: 'registry', description: "Registry mirror prefix for base images, as Memoh's [workspace] registry (e.g. memoh.cn)" },
  { table: 'workspace', key: 'default_image', type: 'string', flag: 'default-image', description: "Memoh's [workspace] default_image; the image checked when no images are given" },
  { table: 'workspace', key: 'runtime_dir', type: 'string', description: "Memoh's [workspace] runtime_dir (host dir mounted at /opt/memoh)" },
  { table: 'workspace', key: 'data_root', type: 'string', description: "Memoh's [workspace] data_root (host dir for bridge sockets)" },
  { table: 'workspace', key: 'snapshotter', type: 'string', description: "Memoh's [workspace] snapshotter (accepted, not used)" },

  { table: 'toolkit', key: 'node_version', type: 'string', flag: 'node-version', input: 'node-version', description: 'Node.js version: exact (24.14.0) or a major (24)' },
  { table: 'toolkit', key: 'npm_version', type: 'string', flag: 'npm-version', input: 'npm-version', description: 'npm version pinned into the toolkit' },
  { table: 'toolkit', key: 'uv_version', type: 'string', flag: 'uv-version', input: 'uv-version', description: 'uv version' },
  { table: 'toolkit', key: 'alpine_version', type: 'string', flag: 'alpine-version', input: 'alpine-version', description: 'Alpine release for the musl runtime libraries (X.Y)' },
  { table: 'toolkit', key: 'arch', type: 'list', flag: 'arch', input: 'arch', description: 'Toolkit architectures (amd64, arm64); default: those of the platforms' },
  { table: 'toolkit', key: 'cache_dir', type: 'string', flag: 'cache-dir', input: 'cache-dir', description: 'Local cache for verified downloads and finished toolkits' },
  { table: 'toolkit', key: 'verify', type: 'bool', flag: 'verify', input: 'verify', description: 'Verify checksums (false is reported as unverified)' },

  { table: 'mirrors', key: 'node', type: 'string', flag: 'node-mirror', input: 'node-mirror', description: 'Node.js glibc builds (nodejs.org/dist layout)' },
  { table: 'mirrors', key: 'node_musl', type: 'string', flag: 'node-musl-mirror', input: 'node-musl-mirror', description: 'Node.js musl builds (unofficial-builds layout)' },
  { table: 'mirrors', key: 'npm', type: 'string', flag: 'npm-mirror', input: 'npm-mirror', description: "npm registry; empty: the machine's npm registry" },
  { table: 'mirrors', key: 'uv', type: 'string', flag: 'uv-mirror', input: 'uv-mirror', description: 'uv release downloads (BASE/VERSION/uv-ARCH-unknown-linux-musl.tar.gz)' },
  { table: 'mirrors', key: 'alpine', type: 'string', flag: 'alpine-mirror', input: 'alpine-mirror', description: 'Alpine packages (BASE/vX.Y/main/ARCH/APKINDEX.tar.gz)' },

  { table: 'run', key: 'images', type: 'list', flag: 'image', input: 'images', description: 'Base images to check (repeat the flag; one per line as an input)' },
  { table: 'run', key: 'platforms', type: 'list', flag: 'platform', input: 'platforms', description: 'Platforms: linux/amd64, linux/arm64' },
  { table: 'run', key: 'pull', type: 'string', flag: 'pull', input: 'pull', choices: ['always', 'missing', 'never'], description: 'Pull policy for base images' },
  { table: 'run', key: 'concurrency', type: 'int', flag: 'concurrency', input: 'concurrency', min: 1, max: 16, description: 'Images × platforms processed at once' },
  { table: 'run', key: 'fail_on', type: 'string', flag: 'fail-on', input: 'fail-on', choices: ['error', 'warning'], description: 'What fails the run: errors only, or warnings too' },

  { table: 'smoke', key: 'bridge', type: 'string', flag: 'bridge', input: 'bridge', description: 'Bridge binary: a path, image:REF[:PATH] or source:DIR' },
  { table: 'smoke', key: 'service', type: 'string', flag: 'service', input: 'service', choices: ['auto', 'mcpcontainer', 'bridgepb'], description: 'Wire name of ContainerService; auto detects it' },
  { table: 'smoke', key: 'checks', type: 'string', flag: 'checks', input: 'checks', description: 'TOML file of user checks run through the bridge' },
  { table: 'smoke', key: 'timeout', type: 'int', flag: 'timeout', input: 'timeout', min: 1, max: 3600, description: 'Seconds the bridge has to become ready' },
  { table: 'smoke', key: 'bot_id', type: 'string', flag: 'bot-id', input: 'bot-id', description: 'Bot id (container workspace-<id>); default: generated' },
  { table: 'smoke', key: 'toolkit', type: 'list', flag: 'toolkit', description: 'Toolkit dir (with toolkit.json) mounted at /opt/memoh/toolkit; one per architecture' },
  { table: 'smoke', key: 'keep', type: 'bool', flag: 'keep', input: 'keep', description: 'Keep the workspace container and dirs for inspection' },

  { table: 'mirror', key: 'upstream', type: 'string', flag: 'upstream', input: 'upstream', description: 'Upstream registry to compare with (default docker.io)' },
  { table: 'mirror', key: 'insecure', type: 'list', flag: 'insecure-registry', input: 'insecure-registries', description: 'Registries reached over plain HTTP (loopback always is)' },
];

export const fieldPath = (f: Field): string => `${f.table}.${f.key}`;
