/**
 * Every setting once: its TOML place, its CLI flag and its Action input. The config file, the CLI and
 * the Action all go through this table, so the three can never disagree on a name or a type.
 */

import { BACKENDS, ERA_CHOICES } from '../core/era.js';
import { BRIDGE_IN_CONTAINER, RUNTIME_MOUNT, TOOLKIT_IN_CONTAINER } from '../era/index.js';

export type FieldType = 'string' | 'bool' | 'int' | 'list';

export interface Field {
  /** TOML table; '' for a top-level key (Memoh's `instance_id`). */
  table: string;
  key: string;
  type: FieldType;
  /** CLI flag without dashes; a list flag may be repeated. */
  flag?: string;
  /** Action input name (action.yml). */
  input?: string;
  /**
   * Which commands carry the flag: addFieldFlags picks fields by this name (default: the table). Memoh's
   * [container] keys keep the commands' `workspace` group, so renaming the table to today's Memoh naming
   * did not move a flag.
   */
  group?: string;
  description: string;
  /** For ints: inclusive bounds. */
  min?: number;
  max?: number;
  /** For strings: the allowed values. */
  choices?: readonly string[];
}

export const FIELDS: readonly Field[] = [
  // Memoh's [container] (v0.18; the seed's [workspace] is read into it), with Memoh's meaning.
  {
    table: 'container',
    key: 'backend',
    type: 'string',
    flag: 'backend',
    input: 'backend',
    group: 'smoke',
    choices: BACKENDS,
    description:
      "Memoh's [container] backend the workspace is created as: containerd (Memoh's compose deployment) or docker",
  },
  {
    table: 'container',
    key: 'registry',
    type: 'string',
    flag: 'registry',
    input: 'registry',
    group: 'workspace',
    description:
      "Registry mirror prefix for the default image, as Memoh's [container] registry (e.g. memoh.cn); listed images are checked as given",
  },
  {
    table: 'container',
    key: 'default_image',
    type: 'string',
    flag: 'default-image',
    group: 'workspace',
    description: "Memoh's [container] default_image; the image checked when no images are given",
  },
  {
    table: 'container',
    key: 'image_pull_policy',
    type: 'string',
    description:
      "Memoh's [container] image_pull_policy (always, never, if_not_present; anything else is if_not_present): sets [run] pull",
  },
  {
    table: 'container',
    key: 'runtime_dir',
    type: 'string',
    description: `Memoh's [container] runtime_dir (seed: host dir mounted at ${RUNTIME_MOUNT}; v0.18: only derives bridge_path)`,
  },
  {
    table: 'container',
    key: 'bridge_path',
    type: 'string',
    description: `Memoh's [container] bridge_path (host file mounted at ${BRIDGE_IN_CONTAINER}; informational here)`,
  },
  {
    table: 'container',
    key: 'data_root',
    type: 'string',
    description: "Memoh's [container] data_root (host dir for bridge sockets; informational here)",
  },
  {
    table: 'container',
    key: 'snapshotter',
    type: 'string',
    description: "Memoh's [container] snapshotter (accepted, not used)",
  },
  {
    table: 'container',
    key: 'cni_bin_dir',
    type: 'string',
    description: "Memoh's [container] cni_bin_dir (accepted, not used)",
  },
  {
    table: 'container',
    key: 'cni_conf_dir',
    type: 'string',
    description: "Memoh's [container] cni_conf_dir (accepted, not used)",
  },

  // Memoh's strict bridge mTLS (TCP bridge, docker backend), from Memoh's own keys and key files.
  {
    table: '',
    key: 'instance_id',
    type: 'string',
    flag: 'instance-id',
    input: 'instance-id',
    group: 'smoke',
    description:
      "Memoh's instance_id: the bridge expects the client URI SAN spiffe://memoh/instance/<id>/server (strict mTLS)",
  },
  {
    table: 'bridge_tls',
    key: 'mode',
    type: 'string',
    flag: 'bridge-tls',
    input: 'bridge-tls',
    group: 'smoke',
    choices: ['disabled', 'strict'],
    description: "Memoh's [bridge_tls] mode: strict mTLS between client and a TCP bridge",
  },
  {
    table: 'bridge_tls',
    key: 'server_dir',
    type: 'string',
    flag: 'bridge-tls-server-dir',
    input: 'bridge-tls-server-dir',
    group: 'smoke',
    description: 'Dir with server-client.crt, server-client.key, bridge-server-ca.crt (the client side; strict mTLS)',
  },
  {
    table: 'bridge_tls',
    key: 'bridge_dir',
    type: 'string',
    flag: 'bridge-tls-bridge-dir',
    input: 'bridge-tls-bridge-dir',
    group: 'smoke',
    description:
      'Dir with exactly bridge-server.crt, bridge-server.key, server-client-ca.crt, mounted into the workspace (strict mTLS)',
  },
  {
    table: 'bridge_tls',
    key: 'server_name',
    type: 'string',
    flag: 'bridge-tls-server-name',
    input: 'bridge-tls-server-name',
    group: 'smoke',
    description: 'TLS server name the client expects; empty: memoh-bridge.<instance_id>.bridge.memoh.internal',
  },

  {
    table: 'toolkit',
    key: 'node_version',
    type: 'string',
    flag: 'node-version',
    input: 'node-version',
    description: 'Node.js version: exact (24.14.0) or a major (24)',
  },
  {
    table: 'toolkit',
    key: 'npm_version',
    type: 'string',
    flag: 'npm-version',
    input: 'npm-version',
    description: 'npm version pinned into the toolkit',
  },
  {
    table: 'toolkit',
    key: 'uv_version',
    type: 'string',
    flag: 'uv-version',
    input: 'uv-version',
    description: 'uv version',
  },
  {
    table: 'toolkit',
    key: 'alpine_version',
    type: 'string',
    flag: 'alpine-version',
    input: 'alpine-version',
    description: 'Alpine release for the musl runtime libraries (X.Y)',
  },
  {
    table: 'toolkit',
    key: 'arch',
    type: 'list',
    flag: 'arch',
    input: 'arch',
    description: 'Toolkit architectures (amd64, arm64); default: those of the platforms',
  },
  {
    table: 'toolkit',
    key: 'cache_dir',
    type: 'string',
    flag: 'cache-dir',
    input: 'cache-dir',
    description: 'Local cache for verified downloads and finished toolkits',
  },
  {
    table: 'toolkit',
    key: 'verify',
    type: 'bool',
    flag: 'verify',
    input: 'verify',
    description: 'Verify checksums (false is reported as unverified)',
  },
  {
    table: 'toolkit',
    key: 'archive_format',
    type: 'string',
    flag: 'archive-format',
    input: 'archive-format',
    choices: ['auto', 'gz', 'xz'],
    description: 'Node.js archives: auto measures the line (xz when bytes cost most), or always gz / xz',
  },

  {
    table: 'mirrors',
    key: 'node',
    type: 'string',
    flag: 'node-mirror',
    input: 'node-mirror',
    description: 'Node.js glibc builds (nodejs.org/dist layout)',
  },
  {
    table: 'mirrors',
    key: 'node_musl',
    type: 'string',
    flag: 'node-musl-mirror',
    input: 'node-musl-mirror',
    description: 'Node.js musl builds (unofficial-builds layout)',
  },
  {
    table: 'mirrors',
    key: 'npm',
    type: 'string',
    flag: 'npm-mirror',
    input: 'npm-mirror',
    description: "npm registry; empty: the machine's npm registry",
  },
  {
    table: 'mirrors',
    key: 'uv',
    type: 'string',
    flag: 'uv-mirror',
    input: 'uv-mirror',
    description: 'uv release downloads (BASE/VERSION/uv-ARCH-unknown-linux-musl.tar.gz)',
  },
  {
    table: 'mirrors',
    key: 'alpine',
    type: 'string',
    flag: 'alpine-mirror',
    input: 'alpine-mirror',
    description: 'Alpine packages (BASE/vX.Y/main/ARCH/APKINDEX.tar.gz)',
  },

  {
    table: 'run',
    key: 'memoh',
    type: 'string',
    flag: 'memoh',
    input: 'memoh',
    choices: ERA_CHOICES,
    description:
      'Memoh era whose rules apply: v3 (the seed), v0.18 (today), or auto (judged from the image and the bridge)',
  },
  {
    table: 'run',
    key: 'images',
    type: 'list',
    flag: 'image',
    input: 'images',
    description: 'Base images to check (repeat the flag; one per line as an input)',
  },
  {
    table: 'run',
    key: 'platforms',
    type: 'list',
    flag: 'platform',
    input: 'platforms',
    description: 'Platforms: linux/amd64, linux/arm64',
  },
  {
    table: 'run',
    key: 'pull',
    type: 'string',
    flag: 'pull',
    input: 'pull',
    choices: ['always', 'missing', 'never'],
    description: 'Pull policy for base images',
  },
  {
    table: 'run',
    key: 'concurrency',
    type: 'int',
    flag: 'concurrency',
    input: 'concurrency',
    min: 1,
    max: 16,
    description: 'Images × platforms processed at once',
  },
  {
    table: 'run',
    key: 'fail_on',
    type: 'string',
    flag: 'fail-on',
    input: 'fail-on',
    choices: ['error', 'warning'],
    description: 'What fails the run: errors only, or warnings too',
  },

  {
    table: 'smoke',
    key: 'bridge',
    type: 'string',
    flag: 'bridge',
    input: 'bridge',
    description: 'Bridge binary: a path, image:REF[:PATH] or source:DIR',
  },
  {
    table: 'smoke',
    key: 'service',
    type: 'string',
    flag: 'service',
    input: 'service',
    choices: ['auto', 'mcpcontainer', 'bridgepb'],
    description: 'Wire name of ContainerService; auto detects it',
  },
  {
    table: 'smoke',
    key: 'checks',
    type: 'string',
    flag: 'checks',
    input: 'checks',
    description: 'TOML file of user checks run through the bridge',
  },
  {
    table: 'smoke',
    key: 'timeout',
    type: 'int',
    flag: 'timeout',
    input: 'timeout',
    min: 1,
    max: 3600,
    description: 'Seconds the bridge has to become ready',
  },
  {
    table: 'smoke',
    key: 'bot_id',
    type: 'string',
    flag: 'bot-id',
    input: 'bot-id',
    description: 'Bot id (container workspace-<id>); default: generated',
  },
  {
    table: 'smoke',
    key: 'toolkit',
    type: 'list',
    flag: 'toolkit',
    description: `Toolkit dir (with toolkit.json) mounted at ${TOOLKIT_IN_CONTAINER}; one per architecture`,
  },
  {
    table: 'smoke',
    key: 'keep',
    type: 'bool',
    flag: 'keep',
    input: 'keep',
    description: 'Keep the workspace container and dirs for inspection',
  },

  {
    table: 'mirror',
    key: 'upstream',
    type: 'string',
    flag: 'upstream',
    input: 'upstream',
    description: 'Upstream registry to compare with (default docker.io)',
  },
  {
    table: 'mirror',
    key: 'insecure',
    type: 'list',
    flag: 'insecure-registry',
    input: 'insecure-registries',
    description: 'Registries reached over plain HTTP (loopback always is)',
  },
];

/** `table.key`, or just `key` for a top-level key. */
export const fieldPath = (f: Field): string => (f.table ? `${f.table}.${f.key}` : f.key);

/** Where a field lives in a TOML file, in the user's words: `[toolkit] node_version`, or `instance_id`. */
export const fieldPlace = (f: Field): string => (f.table ? `[${f.table}] ${f.key}` : f.key);
