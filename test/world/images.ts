import list from './images.json' with { type: 'json' };

/**
 * Test-world images built by `test/world/images.sh` (after `test/world/engine.sh`).
 * The tags are a contract: tests refer to them through `IMAGES`, never by literal strings.
 */

/**
 * The one list of test-world images is images.json (key for tests, build name for `images.sh NAME`, tag), which
 * images.sh reads too: a new image is added there (and its facts below, and its recipe in images.sh).
 */
// Checked against the facts' keys below (JSON has no literal types).
export const IMAGE_LIST = list as readonly { readonly key: ImageKey; readonly build: string; readonly tag: string }[];

export type ImageKey = keyof typeof FACTS;

/**
 * The product's embedded default image. images.sh tags `memoh-test/debian:amd64` with it when no image by that
 * name exists locally (an older memoh-test build of it is re-tagged; a real one is left alone).
 */
export const DEFAULT_IMAGE_ALIAS = 'debian:bookworm-slim' as const;

/**
 * Today's default workspace image (Memoh v0.18) and the server image the default bridge comes from. images.sh tags
 * `memoh-test/workspace:debian-amd64` and `memoh-test/server:amd64` with them, by the same rule as
 * DEFAULT_IMAGE_ALIAS: only when no image by that name exists or it is an older build of ours.
 */
export const WORKSPACE_IMAGE_ALIAS = 'memohai/workspace:debian' as const;
/**
 * Holds the v0.18 stand-in bridge (the v3 one only while no v0.18 binary was built) at SERVER_BRIDGE_PATH; the label
 * SERVER_BRIDGE_LABEL names which. amd64 only: the engine keeps one image per tag, so arm64 runs pass the bridge
 * file itself (paths.ts standinBridge('arm64', 'v0.18')).
 */
export const SERVER_IMAGE_ALIAS = 'memohai/server:latest' as const;
export const SERVER_BRIDGE_LABEL = 'memoh.test.bridge' as const;

/** Label every test-world image carries: sha256 of the recipe that built it. */
export const RECIPE_LABEL = 'memoh.test.recipe' as const;

export type DockerArch = 'amd64' | 'arm64';
export type Libc = 'glibc' | 'musl' | 'none';

export interface ImageFacts {
  readonly tag: string;
  /** `docker image inspect -f '{{.Architecture}}'` */
  readonly arch: DockerArch;
  /** `{{.Variant}}` ('' when unset) */
  readonly variant: '' | 'v8';
  /** `docker run --platform` value */
  readonly platform: 'linux/amd64' | 'linux/arm64/v8';
  /** `uname -m` inside a container (arm64 runs under qemu-user via binfmt) */
  readonly unameM: 'x86_64' | 'aarch64';
  readonly libc: Libc;
  /** The dynamic loader (`test -f` holds; for musl it is a real file, not a link). null: no dynamic loader at all */
  readonly loader: string | null;
  /** A loader that must NOT exist (e.g. no glibc loader in a musl image) */
  readonly absentLoaderGlob: string | null;
  /** /bin/sh exists */
  readonly hasShell: boolean;
  /** A command that runs in the image without a shell: argv for `docker run --entrypoint argv[0] IMG argv[1..]` */
  readonly probe: readonly string[];
  /** `/usr/local/bin/musl-hello` exists and prints `hello from musl` */
  readonly muslHello: boolean;
  /** Image config facts */
  readonly config: {
    readonly entrypoint: readonly string[] | null;
    readonly cmd: readonly string[] | null;
    readonly user: string;
    readonly workingDir: string;
    readonly volumes: readonly string[];
    /** Image ENV, in order (checked only when given) */
    readonly env?: readonly string[];
  };
  /** Files the image carries on purpose (absolute paths) */
  readonly files: readonly string[];
  /** Images shaped like memohai/workspace (v0.18): what they carry and how Memoh v0.18 judges them */
  readonly workspace?: WorkspaceFacts;
}

/** Where Memoh v0.18 reads the contract (memoh-current.md §3). */
export const WORKSPACE_CONTRACT_PATH = '/opt/memoh/workspace-contract.json' as const;

/** The contract file of the good workspace images, as memohai/workspace v0.18.0 ships it. */
export const WORKSPACE_CONTRACT = {
  contract_version: 2,
  platform: { os: 'linux', libc: 'glibc' },
  paths: { toolkit: '/opt/memoh/toolkit', scripts: '/opt/memoh/scripts' },
} as const;

export interface WorkspaceContract {
  readonly contract_version: number;
  readonly platform: { readonly os: string; readonly libc: string };
  readonly paths: { readonly toolkit: string; readonly scripts: string };
}

/** Memoh v0.18's required executables, in its order (§3 item 8). */
export const WORKSPACE_REQUIRED_EXECUTABLES = [
  '/usr/bin/tini',
  '/opt/memoh/toolkit/bin/node',
  '/opt/memoh/toolkit/bin/python3',
  '/opt/memoh/toolkit/bin/uv',
  '/opt/memoh/toolkit/bin/codex',
  '/opt/memoh/toolkit/bin/codex-acp',
  '/opt/memoh/toolkit/bin/claude-agent-acp',
  '/opt/memoh/toolkit/bin/hermes-acp',
  '/opt/memoh/toolkit/display/bin/a11y-cli',
  '/opt/memoh/scripts/display-prepare.sh',
  '/opt/memoh/scripts/display-apply-style.sh',
  '/opt/memoh/scripts/desktop-style.sh',
] as const;

/** The wrappers in `/opt/memoh/toolkit/bin` of memohai/workspace v0.18.0 (§4). */
export const WORKSPACE_TOOLKIT_WRAPPERS = [
  'node',
  'npm',
  'npx',
  'python',
  'python3',
  'pip',
  'pip3',
  'uv',
  'uvx',
  'codex',
  'codex-acp',
  'claude-agent-acp',
  'hermes-acp',
] as const;

/** Image ENV of memohai/workspace v0.18.0 (`Dockerfile.workspace@v0.18.0:53-56`; PATH keeps the base image's slot). */
export const WORKSPACE_ENV = [
  'PATH=/opt/memoh/toolkit/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  'DEBIAN_FRONTEND=noninteractive',
  'MEMOH_APT_COMMAND_TIMEOUT=1200',
  'MEMOH_TOOLKIT_DIR=/opt/memoh/toolkit',
] as const;

/**
 * The npm that replaces Node's bundled one in the toolkit (`npm --version`), as in memohai/workspace v0.18.0. Node's
 * own version is per image (WorkspaceFacts.nodeVersion).
 */
export const WORKSPACE_NPM_VERSION = '10.9.2' as const;

/** The one way a broken workspace variant differs from `workspaceAmd64`. */
export type WorkspaceBreak = 'no-contract' | 'contract-v1' | 'libc-musl' | 'no-tini' | 'noexec';

export interface WorkspaceFacts {
  readonly broken: WorkspaceBreak | null;
  /**
   * `node --version` through the toolkit wrapper: a REAL Node. Memoh pins 24.14.0; for arm64 no 24.14.0 build is
   * published on npm (the mirror's source), so the arm64 image carries the mirror's 24.21.0.
   */
  readonly nodeVersion: 'v24.14.0' | 'v24.21.0';
  /** Contents of the contract file; null: the file is absent */
  readonly contract: WorkspaceContract | null;
  /** `/usr/bin/tini` exists (Debian's tini package, for the image's architecture) */
  readonly tini: boolean;
  /** Required executables present but failing Memoh's mode rule (mode 0644) */
  readonly notExecutable: readonly string[];
  /**
   * The part of Memoh v0.18's refusal that names the rule (after "workspace image is incompatible: ", §3);
   * null: Memoh accepts the image
   */
  readonly refusal: string | null;
}

/** Where memohai/server keeps the bridge binary (`Dockerfile.server@v0.18.0:101`, the default `bridge_path`). */
export const SERVER_BRIDGE_PATH = '/opt/memoh/runtime/bridge' as const;

const glibcAmd64 = '/lib64/ld-linux-x86-64.so.2';
const glibcArm64 = '/lib/ld-linux-aarch64.so.1';

const workspaceFiles = [
  WORKSPACE_CONTRACT_PATH,
  '/usr/bin/tini',
  '/data',
  '/opt/memoh/toolkit/node-glibc/bin/node',
  '/opt/memoh/toolkit/node-glibc/lib/node_modules/npm/package.json',
  '/opt/memoh/toolkit/python-gnu',
  '/opt/memoh/toolkit/uv',
  '/opt/memoh/toolkit/glibc-lib/libssl.so.3',
  '/opt/memoh/toolkit/glibc-lib/libcrypto.so.3',
  '/opt/memoh/toolkit/certs/ca-certificates.crt',
  '/opt/memoh/toolkit/display/bin/a11y-cli',
  ...WORKSPACE_TOOLKIT_WRAPPERS.map((w) => `/opt/memoh/toolkit/bin/${w}`),
] as const;

const workspaceConfig = {
  entrypoint: null,
  cmd: ['bash'],
  user: '',
  workingDir: '/data',
  volumes: [],
  env: WORKSPACE_ENV,
} as const;

const workspaceAmd64Base = {
  arch: 'amd64',
  variant: '',
  platform: 'linux/amd64',
  unameM: 'x86_64',
  libc: 'glibc',
  loader: glibcAmd64,
  absentLoaderGlob: '/lib/ld-musl-*.so.1',
  hasShell: true,
  probe: ['/bin/true'],
  muslHello: false,
  config: workspaceConfig,
} as const;

const good = {
  broken: null,
  nodeVersion: 'v24.14.0',
  contract: WORKSPACE_CONTRACT,
  tini: true,
  notExecutable: [],
  refusal: null,
} as const;

/** What each image is, by key; the tag comes from images.json (IMAGE_FACTS has both). */
const FACTS = {
  debianAmd64: {
    arch: 'amd64',
    variant: '',
    platform: 'linux/amd64',
    unameM: 'x86_64',
    libc: 'glibc',
    loader: glibcAmd64,
    absentLoaderGlob: '/lib/ld-musl-*.so.1',
    hasShell: true,
    probe: ['/bin/true'],
    muslHello: false,
    config: { entrypoint: null, cmd: ['/bin/bash'], user: '', workingDir: '', volumes: [] },
    files: ['/bin/bash', '/etc/debian_version'],
  },
  debianArm64: {
    arch: 'arm64',
    variant: 'v8',
    platform: 'linux/arm64/v8',
    unameM: 'aarch64',
    libc: 'glibc',
    loader: glibcArm64,
    absentLoaderGlob: '/lib/ld-musl-*.so.1',
    hasShell: true,
    probe: ['/bin/true'],
    muslHello: false,
    config: { entrypoint: null, cmd: ['/bin/bash'], user: '', workingDir: '', volumes: [] },
    files: ['/bin/bash', '/etc/debian_version'],
  },
  muslAmd64: {
    arch: 'amd64',
    variant: '',
    platform: 'linux/amd64',
    unameM: 'x86_64',
    libc: 'musl',
    loader: '/lib/ld-musl-x86_64.so.1',
    absentLoaderGlob: '/lib*/ld-linux-*.so.*',
    hasShell: true,
    probe: ['/bin/busybox', 'true'],
    muslHello: true,
    config: { entrypoint: null, cmd: ['/bin/sh'], user: '', workingDir: '', volumes: [] },
    files: ['/bin/busybox', '/bin/sh', '/usr/local/bin/musl-hello', '/etc/passwd'],
  },
  muslArm64: {
    arch: 'arm64',
    variant: 'v8',
    platform: 'linux/arm64/v8',
    unameM: 'aarch64',
    libc: 'musl',
    loader: '/lib/ld-musl-aarch64.so.1',
    absentLoaderGlob: '/lib*/ld-linux-*.so.*',
    hasShell: true,
    probe: ['/bin/busybox', 'true'],
    muslHello: true,
    config: { entrypoint: null, cmd: ['/bin/sh'], user: '', workingDir: '', volumes: [] },
    files: ['/bin/busybox', '/bin/sh', '/usr/local/bin/musl-hello', '/etc/passwd'],
  },
  noshellAmd64: {
    arch: 'amd64',
    variant: '',
    platform: 'linux/amd64',
    unameM: 'x86_64',
    libc: 'none',
    loader: null,
    absentLoaderGlob: '/lib*/ld-*.so*',
    hasShell: false,
    // a static busybox; only callable by its full name (no applet links, no /bin/sh)
    probe: ['/usr/local/bin/busybox', 'true'],
    muslHello: false,
    config: { entrypoint: null, cmd: ['/usr/local/bin/busybox', 'true'], user: '', workingDir: '', volumes: [] },
    files: ['/usr/local/bin/busybox', '/etc/passwd'],
  },
  entrypointUserAmd64: {
    arch: 'amd64',
    variant: '',
    platform: 'linux/amd64',
    unameM: 'x86_64',
    libc: 'glibc',
    loader: glibcAmd64,
    absentLoaderGlob: '/lib/ld-musl-*.so.1',
    hasShell: true,
    probe: ['/bin/true'],
    muslHello: false,
    // user 1000 = memoh (home /home/memoh) in /etc/passwd; running the image as is exits 1 (/usr/bin/false)
    config: { entrypoint: ['/usr/bin/false'], cmd: null, user: '1000:1000', workingDir: '/home/memoh', volumes: [] },
    files: ['/home/memoh'],
  },
  legacyMcpAmd64: {
    arch: 'amd64',
    variant: '',
    platform: 'linux/amd64',
    unameM: 'x86_64',
    libc: 'glibc',
    loader: glibcAmd64,
    absentLoaderGlob: '/lib/ld-musl-*.so.1',
    hasShell: true,
    probe: ['/bin/true'],
    muslHello: false,
    // pre-bridge layout: its own /opt/memoh (no bridge binary), /run/memoh baked in, a /data volume, EXPOSE 9090
    config: {
      entrypoint: null,
      cmd: ['/opt/memoh/mcp-server'],
      user: '',
      workingDir: '/data',
      volumes: ['/data'],
    },
    files: ['/opt/memoh/mcp-server', '/opt/memoh/VERSION', '/opt/memoh/templates/IDENTITY.md', '/run/memoh/README'],
  },
  workspaceAmd64: {
    ...workspaceAmd64Base,
    files: workspaceFiles,
    workspace: good,
  },
  workspaceArm64: {
    arch: 'arm64',
    variant: 'v8',
    platform: 'linux/arm64/v8',
    unameM: 'aarch64',
    libc: 'glibc',
    loader: glibcArm64,
    absentLoaderGlob: '/lib/ld-musl-*.so.1',
    hasShell: true,
    probe: ['/bin/true'],
    muslHello: false,
    config: workspaceConfig,
    files: workspaceFiles,
    workspace: { ...good, nodeVersion: 'v24.21.0' },
  },
  workspaceNoContract: {
    ...workspaceAmd64Base,
    files: workspaceFiles.filter((f) => f !== WORKSPACE_CONTRACT_PATH),
    workspace: { ...good, broken: 'no-contract', contract: null, refusal: 'read contract' },
  },
  workspaceContractV1: {
    ...workspaceAmd64Base,
    files: workspaceFiles,
    workspace: {
      ...good,
      broken: 'contract-v1',
      contract: { ...WORKSPACE_CONTRACT, contract_version: 1 },
      refusal: 'contract version 1, want 2',
    },
  },
  workspaceMusl: {
    // Only the declared libc differs: the files are still Debian's glibc (Memoh checks the declaration, not ldd).
    ...workspaceAmd64Base,
    files: workspaceFiles,
    workspace: {
      ...good,
      broken: 'libc-musl',
      contract: { ...WORKSPACE_CONTRACT, platform: { os: 'linux', libc: 'musl' } },
      refusal: 'unsupported libc "musl"',
    },
  },
  workspaceNoTini: {
    ...workspaceAmd64Base,
    files: workspaceFiles.filter((f) => f !== '/usr/bin/tini'),
    workspace: { ...good, broken: 'no-tini', tini: false, refusal: 'stat runtime executable /usr/bin/tini' },
  },
  workspaceNoExec: {
    ...workspaceAmd64Base,
    files: workspaceFiles,
    workspace: {
      ...good,
      broken: 'noexec',
      notExecutable: ['/opt/memoh/toolkit/bin/uv'],
      refusal: 'runtime executable is not executable: /opt/memoh/toolkit/bin/uv',
    },
  },
  serverAmd64: {
    // memohai/server stand-in: a static busybox for a shell and the stand-in bridge; no C library at all.
    arch: 'amd64',
    variant: '',
    platform: 'linux/amd64',
    unameM: 'x86_64',
    libc: 'none',
    loader: null,
    absentLoaderGlob: '/lib*/ld-*.so*',
    hasShell: true,
    probe: ['/bin/busybox', 'true'],
    muslHello: false,
    config: { entrypoint: null, cmd: null, user: '', workingDir: '', volumes: [] },
    files: [SERVER_BRIDGE_PATH, '/bin/busybox', '/bin/sh'],
  },
} as const satisfies Record<string, Omit<ImageFacts, 'tag'>>;

// images.json and the facts must name the same images: a mismatch fails every test file at import.
const listed = list.map((r) => r.key).join(' ');
const described = Object.keys(FACTS).join(' ');
if (listed !== described) throw new Error(`images.json lists ${listed}; images.ts describes ${described}`);

export const IMAGES = Object.fromEntries(list.map((r) => [r.key, r.tag])) as { readonly [K in ImageKey]: string };

export const IMAGE_FACTS = Object.fromEntries(IMAGE_LIST.map((r) => [r.key, { ...FACTS[r.key], tag: r.tag }])) as {
  readonly [K in ImageKey]: (typeof FACTS)[K] & { readonly tag: string };
};

export const IMAGE_KEYS: ImageKey[] = IMAGE_LIST.map((r) => r.key);

/** `test/world/images.sh` argument naming an image (e.g. 'musl-arm64'). */
export const IMAGE_BUILD_NAMES = Object.fromEntries(IMAGE_LIST.map((r) => [r.key, r.build])) as {
  readonly [K in ImageKey]: string;
};
