/**
 * Test-world images built by `test/world/images.sh` (after `test/world/engine.sh`).
 * The tags are a contract: tests refer to them through `IMAGES`, never by literal strings.
 */

export type ImageKey =
  | 'debianAmd64'
  | 'debianArm64'
  | 'muslAmd64'
  | 'muslArm64'
  | 'noshellAmd64'
  | 'entrypointUserAmd64'
  | 'legacyMcpAmd64';

export const IMAGES = {
  debianAmd64: 'memoh-test/debian:amd64',
  debianArm64: 'memoh-test/debian:arm64',
  muslAmd64: 'memoh-test/musl:amd64',
  muslArm64: 'memoh-test/musl:arm64',
  noshellAmd64: 'memoh-test/noshell:amd64',
  entrypointUserAmd64: 'memoh-test/entrypoint-user:amd64',
  legacyMcpAmd64: 'memoh-test/legacy-mcp:amd64',
} as const satisfies Record<ImageKey, string>;

export type ImageTag = (typeof IMAGES)[ImageKey];

/**
 * The product's embedded default image. images.sh tags `memoh-test/debian:amd64` with it when no image by that
 * name exists locally (an older memoh-test build of it is re-tagged; a real one is left alone).
 */
export const DEFAULT_IMAGE_ALIAS = 'debian:bookworm-slim' as const;

/** Label every test-world image carries: sha256 of the recipe that built it. */
export const RECIPE_LABEL = 'memoh.test.recipe' as const;

/** Default cache dir of the world (rootfs tarballs, .debs); `MEMOH_WORLD_DIR` overrides it. */
export const WORLD_DIR_DEFAULT = '/var/cache/memoh-world' as const;

export type DockerArch = 'amd64' | 'arm64';
export type Libc = 'glibc' | 'musl' | 'none';

export interface ImageFacts {
  readonly tag: ImageTag;
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
  };
  /** Files the image carries on purpose (absolute paths) */
  readonly files: readonly string[];
}

const glibcAmd64 = '/lib64/ld-linux-x86-64.so.2';
const glibcArm64 = '/lib/ld-linux-aarch64.so.1';

export const IMAGE_FACTS = {
  debianAmd64: {
    tag: IMAGES.debianAmd64,
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
    tag: IMAGES.debianArm64,
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
    tag: IMAGES.muslAmd64,
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
    tag: IMAGES.muslArm64,
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
    tag: IMAGES.noshellAmd64,
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
    tag: IMAGES.entrypointUserAmd64,
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
    tag: IMAGES.legacyMcpAmd64,
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
    files: [
      '/opt/memoh/mcp-server',
      '/opt/memoh/VERSION',
      '/opt/memoh/templates/IDENTITY.md',
      '/run/memoh/README',
    ],
  },
} as const satisfies Record<ImageKey, ImageFacts>;

export const IMAGE_KEYS = Object.keys(IMAGES) as ImageKey[];

/** `test/world/images.sh` argument naming an image (e.g. 'musl-arm64'). */
export const IMAGE_BUILD_NAMES = {
  debianAmd64: 'debian-amd64',
  debianArm64: 'debian-arm64',
  muslAmd64: 'musl-amd64',
  muslArm64: 'musl-arm64',
  noshellAmd64: 'noshell-amd64',
  entrypointUserAmd64: 'entrypoint-user-amd64',
  legacyMcpAmd64: 'legacy-mcp-amd64',
} as const satisfies Record<ImageKey, string>;
