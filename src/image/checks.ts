import type Dockerode from 'dockerode';
import type { Check } from '../core/check.js';
import { type Arch, formatPlatform, type Platform } from '../core/platform.js';
import { BRIDGE_IN_CONTAINER, ERA_DESCRIPTIONS, type ImageEra, SOCKET_MOUNT } from '../era/index.js';
import type { FileFacts, FoundLoader, PathProbe } from './facts.js';
import type { ImageRef } from './reference.js';
import type { CheckId, Libc, ToolkitRef } from './types.js';

/**
 * The checks, as pure functions of what was read from the engine (image config, file facts): no
 * engine here, so every reason and fix can be read side by side.
 */
export type Result = Omit<Check, 'id' | 'durationMs'>;

const oct = (n: number | undefined) => (n === undefined ? '?' : n.toString(8).padStart(4, '0'));

/** The image's config names `want`: os linux, same architecture, and a matching variant if it has one. */
export function platformMatches(image: Dockerode.ImageInspectInfo, want: Platform): boolean {
  // arm64 images often carry no variant; v8 is the only arm64 variant there is.
  const variantOk = !image.Variant || image.Variant === (want.variant ?? '');
  return image.Os === 'linux' && image.Architecture === want.arch && variantOk;
}

export function platformCheck(want: Platform, image: Dockerode.ImageInspectInfo, ref: ImageRef, pull: string): Result {
  const os = image.Os || '?';
  const arch = image.Architecture || '?';
  const variant = image.Variant ?? '';
  const have = `${os}/${arch}${variant ? `/${variant}` : ''}`;
  if (platformMatches(image, want)) return { status: 'pass', detail: `${have} matches ${formatPlatform(want)}` };
  const reason =
    os !== 'linux'
      ? `the image is for ${os}, Memoh workspaces are linux`
      : `the image is ${have}, not ${formatPlatform(want)}`;
  const fix =
    pull === 'always'
      ? `${ref.input} has no ${formatPlatform(want)} variant: build one, or drop ${formatPlatform(want)} from --platform`
      : `pull the ${formatPlatform(want)} variant (--pull always, or docker pull --platform ${formatPlatform(want)} ${ref.input}), or drop ${formatPlatform(want)} from --platform`;
  return { status: 'fail', detail: reason, fix };
}

/** The C library, decided from the loaders present for the image's own architecture. */
function libcOf(loaders: FoundLoader[], arch: Arch): Libc {
  const mine = loaders.filter((l) => l.arch === arch);
  if (mine.some((l) => l.libc === 'musl')) return 'musl';
  if (mine.some((l) => l.libc === 'glibc')) return 'glibc';
  return 'none';
}

export function libcCheck(
  facts: FileFacts,
  arch: Arch,
  era: ImageEra = ERA_DESCRIPTIONS.v3.image,
): { result: Result; libc: Libc } {
  const libc = libcOf(facts.loaders, arch);
  const mine = facts.loaders.filter((l) => l.arch === arch);
  const musl = facts.loaders.filter((l) => l.libc === 'musl');
  const show = (l: FoundLoader) => (l.chain.length > 1 ? `${l.path} → ${l.chain.at(-1)}` : l.path);
  if (musl.length > 1) {
    return {
      libc,
      result: {
        status: 'warn',
        detail: `several musl loaders (${musl.map((l) => l.path).join(', ')}): the toolkit wrappers' test of /lib/ld-musl-*.so.1 errors, so they pick node-glibc`,
        fix: 'keep only the musl loader of the image architecture in /lib',
      },
    };
  }
  if (libc === 'none') {
    return {
      libc,
      result: {
        status: 'warn',
        detail: `no dynamic loader for ${arch} (neither glibc nor musl): only static binaries run; the toolkit's node cannot`,
        fix: 'use a glibc (debian, ubuntu) or musl (alpine) base image if the bot needs node, npm or npx',
      },
    };
  }
  const primary = mine.find((l) => l.libc === libc)!;
  const gcompat = libc === 'musl' && mine.some((l) => l.libc === 'glibc') ? '; a glibc loader too (gcompat)' : '';
  if (libc === 'musl' && era.glibcOnly) {
    // Memoh reads only the contract's declaration, so a musl image that declares glibc gets through its check.
    return {
      libc,
      result: {
        status: 'warn',
        detail: `${libc} (loader ${show(primary)})${gcompat}: Memoh v0.18's toolkit is glibc-only, so its node and python cannot start here (Memoh checks only what the contract declares, not the files)`,
        fix: 'use a glibc base image (memohai/workspace:debian, or Debian/Ubuntu)',
      },
    };
  }
  return { libc, result: { status: 'pass', detail: `${libc} (loader ${show(primary)})${gcompat}` } };
}

export function shellCheck(facts: FileFacts): Result {
  const { stat, chain, error } = facts.shell;
  const path = chain.length > 1 ? chain.join(' → ') : '/bin/sh';
  const why = 'Exec runs every command through /bin/sh -c and the toolkit wrappers (node, npm, npx, uv) are sh scripts';
  const fix = 'use an image with a POSIX shell at /bin/sh (e.g. add a static busybox and link /bin/sh to it)';
  if (error) return { status: 'fail', detail: `/bin/sh: ${error}; ${why}`, fix };
  if (!stat) {
    return {
      status: 'fail',
      detail: chain.length > 1 ? `${path}: the target does not exist; ${why}` : `no /bin/sh: ${why}`,
      fix,
    };
  }
  if (stat.kind !== 'file')
    return { status: 'fail', detail: `${path} is a ${kindName(stat.kind)}, not a program; ${why}`, fix };
  if ((stat.perm & 0o111) === 0) {
    return {
      status: 'fail',
      detail: `${path} is not executable (mode ${oct(stat.perm)}); ${why}`,
      fix: `make it executable (chmod 0755 ${chain.at(-1)})`,
    };
  }
  return { status: 'pass', detail: `${path} (mode ${oct(stat.perm)})` };
}

export function entrypointCheck(image: Dockerode.ImageInspectInfo, era: ImageEra = ERA_DESCRIPTIONS.v3.image): Result {
  const ep = image.Config?.Entrypoint;
  const list = typeof ep === 'string' ? [ep] : (ep ?? []);
  if (list.length === 0 || (list.length === 1 && list[0] === '')) {
    return {
      status: 'pass',
      detail: era.contract
        ? `no ENTRYPOINT: tini runs ${BRIDGE_IN_CONTAINER}`
        : `no ENTRYPOINT: ${BRIDGE_IN_CONTAINER} runs as the only process`,
    };
  }
  return {
    status: 'warn',
    detail: `image sets ENTRYPOINT ${JSON.stringify(list)}: ${era.process}`,
    fix: 'do not rely on the entrypoint for setup: bake setup into the image (RUN) or run it through Exec',
  };
}

export function isRootUser(user: string): boolean {
  return user === '' || /^(root|0)(:.*)?$/.test(user);
}

export function userCheck(image: Dockerode.ImageInspectInfo, facts?: FileFacts): Result {
  const user = image.Config?.User ?? '';
  if (isRootUser(user)) return { status: 'pass', detail: user ? `USER ${user}` : 'no USER: the bridge runs as root' };
  const [u = '', g] = user.split(':');
  const uid = /^\d+$/.test(u) ? Number(u) : undefined;
  const gid = g !== undefined && /^\d+$/.test(g) ? Number(g) : undefined;
  const parts = [
    `image USER is ${user} (not root): the bridge runs as it and must create its socket in ${SOCKET_MOUNT} (a root-owned 0750 host dir)`,
  ];
  const data = facts?.data;
  if (uid === undefined || !data) parts.push('and write /data');
  else if (data.exists && data.kind === 'dir') {
    if (!writable(data, uid, gid))
      parts.push(`and write /data (owner ${data.uid}, mode ${oct(data.perm)}: not writable by ${uid})`);
  } else if (!data.exists && facts?.root && !writable(facts.root, uid, gid)) {
    parts.push(`and create /data (/ is owner ${facts.root.uid}, mode ${oct(facts.root.perm)}: not writable by ${uid})`);
  }
  return {
    status: 'warn',
    detail: parts.join(' '),
    fix: 'drop USER from the image (Memoh sets no user, so the image user runs the bridge); switch users inside Exec commands instead',
  };
}

function writable(p: PathProbe, uid: number, gid: number | undefined): boolean {
  const perm = p.perm ?? 0;
  if (p.uid === uid) return (perm & 0o200) !== 0;
  if (gid !== undefined && p.gid === gid) return (perm & 0o020) !== 0;
  return (perm & 0o002) !== 0;
}

export function hiddenMountsCheck(facts: FileFacts, era: ImageEra = ERA_DESCRIPTIONS.v3.image): Result {
  const hidden: string[] = [];
  const seen: string[] = [];
  const blocked: string[] = [];
  for (const m of facts.mounts) {
    const point = era.mounts.find((p) => p.path === m.path);
    if (!point || !m.exists) continue;
    const mount = point.what;
    if (point.source === 'file' && m.kind === 'dir') {
      blocked.push(
        `${m.path} is a directory: ${mount} is a file, which cannot be bind-mounted over a directory, so the workspace container would not start`,
      );
      continue;
    }
    if (m.kind === 'dir') {
      const n = m.entries?.length ?? 0;
      if (n === 0) {
        seen.push(`${m.path} exists, empty`);
        continue;
      }
      const shown = (m.entries ?? []).slice(0, 4).join(', ');
      const more = n > 4 || m.complete === false ? ', …' : '';
      hidden.push(
        `${m.path} holds ${m.complete === false ? `more than ${n}` : n} entr${n === 1 ? 'y' : 'ies'} (${shown}${more}) hidden by ${mount}`,
      );
    } else {
      hidden.push(
        `${m.path} is a ${kindName(m.kind)}${m.linkTarget ? ` (→ ${m.linkTarget})` : ''} that ${mount} replaces`,
      );
    }
  }
  const where = era.mounts.map((p) => p.path).join(' or ');
  if (blocked.length > 0) return { status: 'fail', detail: [...blocked, ...hidden].join('; '), fix: era.hiddenFix };
  if (hidden.length === 0) {
    return {
      status: 'pass',
      detail: seen.length
        ? `${seen.join('; ')}: nothing hidden by Memoh's mounts`
        : `nothing at ${where} for the mounts to hide`,
    };
  }
  return {
    status: 'warn',
    detail: `${hidden.join('; ')}${era.contract ? '' : ' (a legacy MCP image?)'}`,
    fix: era.hiddenFix,
  };
}

export function dataCheck(
  image: Dockerode.ImageInspectInfo,
  facts: FileFacts,
  era: ImageEra = ERA_DESCRIPTIONS.v3.image,
): Result {
  const volumes = Object.keys(image.Config?.Volumes ?? {}).sort();
  const d = facts.data;
  if (d.exists && d.kind !== 'dir') {
    return {
      status: 'fail',
      detail: `/data is a ${kindName(d.kind)}: the bridge keeps its data there and runs commands in it`,
      fix: 'remove /data from the image, or make it a directory',
    };
  }
  const state = d.exists
    ? `/data exists (owner ${d.uid ?? '?'}, mode ${oct(d.perm)})`
    : `/data absent: ${era.dataCreatedBy}`;
  if (volumes.includes('/data')) {
    return {
      status: 'warn',
      detail: `${state}; the image declares VOLUME /data: Memoh (containerd) ignores it and keeps /data in the container snapshot, docker makes it an anonymous volume`,
      fix: 'drop VOLUME /data from the image: Memoh keeps /data in the container, so a volume only changes behaviour between engines',
    };
  }
  const others = volumes.length
    ? `; VOLUMEs ${volumes.join(', ')} are not mounted by Memoh (they stay in the snapshot)`
    : '';
  return { status: 'pass', detail: `${state}${others}` };
}

/** Which node the wrappers pick in this image, and whether it can start there. */
export function toolkitCheck(toolkit: ToolkitRef, facts: FileFacts): Result {
  const { arch } = toolkit.manifest;
  const fallback = toolkit.manifest.fallback === 'glibc';
  const musl = facts.loaders.filter((l) => l.libc === 'musl');
  const interp = facts.loaders.find((l) => l.libc === 'glibc' && l.arch === arch && l.interp);
  const interpPath = arch === 'amd64' ? '/lib64/ld-linux-x86-64.so.2' : '/lib/ld-linux-aarch64.so.1';
  // The wrappers' rule: exactly one regular /lib/ld-musl-*.so.1 → node-musl, anything else → node-glibc.
  if (musl.length === 1) {
    if (!fallback) return { status: 'pass', detail: 'the wrappers pick node-musl (musl build, with its runtime-lib)' };
    if (interp)
      return {
        status: 'pass',
        detail: `the wrappers pick node-musl, a glibc build for ${arch}; it starts through ${interpPath} (gcompat)`,
      };
    return {
      status: 'fail',
      detail: `the wrappers pick node-musl, which for ${arch} is a glibc build (no official musl Node.js for ${arch}), and the image has no ${interpPath}`,
      fix: 'install gcompat in the image (apk add gcompat)',
    };
  }
  if (interp) return { status: 'pass', detail: `the wrappers pick node-glibc; it starts through ${interpPath}` };
  return {
    status: 'fail',
    detail: `the wrappers pick node-glibc, and the image has no ${interpPath}: node, npm and npx cannot start`,
    fix: 'use a glibc (debian, ubuntu) or musl (alpine) base image',
  };
}

export function sizeCheck(image: Dockerode.ImageInspectInfo): Result {
  const layers = image.RootFS?.Layers?.length ?? 0;
  return { status: 'pass', detail: `${megabytes(image.Size)} in ${layers} layer${layers === 1 ? '' : 's'}` };
}

export function megabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

export function skipped(id: CheckId, reason: string): Check {
  return { id, status: 'skip', detail: reason };
}

function kindName(kind: string | undefined): string {
  return kind === 'dir'
    ? 'directory'
    : kind === 'symlink'
      ? 'symlink'
      : kind === 'file'
        ? 'regular file'
        : 'special file';
}
