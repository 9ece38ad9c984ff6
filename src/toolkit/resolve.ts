import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { validateUrl } from '../config/validate.js';
import { errorMessage, InputError, StageError } from '../core/errors.js';
import { type Arch, alpineArch, nodeArch, uvArch } from '../core/platform.js';
import type { Fetcher, Source } from './fetch.js';
import type { ArchiveFormat } from './format.js';
import { FLAVOURS, type Flavour, type ToolkitRequest } from './types.js';

/**
 * "Which artefact" and "where from". Every URL follows the real site's layout, so a mirror is only a
 * base URL; every Source names the option that sets its mirror, for error messages.
 */
export interface Plan {
  arch: Arch;
  /** Exact Node.js version (no v), after resolving a major. */
  node: string;
  nodeRequested: string;
  npm: string;
  uv: string;
  alpine: string;
  verify: boolean;
  mirrors: { node: string; nodeMusl: string; npm: string; uv: string; alpine: string };
  /** Sorted, no duplicates; absent means both (Memoh's whole layout). */
  flavours?: Flavour[];
}

/** The flavours of a request, checked and in a fixed order: both when none were asked for. */
export function normaliseFlavours(flavours: readonly string[] | undefined, input = 'flavours'): Flavour[] {
  if (flavours === undefined) return [...FLAVOURS];
  const bad = flavours.filter((f) => !(FLAVOURS as readonly string[]).includes(f));
  if (bad.length)
    throw new InputError(
      input,
      `unknown toolkit flavour ${bad.map((b) => JSON.stringify(b)).join(', ')}`,
      'give glibc, musl or both',
    );
  if (flavours.length === 0)
    throw new InputError(
      input,
      'no toolkit flavour',
      'give glibc, musl or both (a toolkit with neither node would be empty)',
    );
  return FLAVOURS.filter((f) => flavours.includes(f));
}

/**
 * The flavours a set of images needs, from the libc validation found in each: glibc images need node-glibc,
 * musl images node-musl; an image whose libc is unknown or absent could be either, so it needs both.
 */
export function flavoursFor(libcs: Iterable<string | undefined>): Flavour[] {
  const need = new Set<Flavour>();
  for (const l of libcs) {
    if (l === 'glibc' || l === 'musl') need.add(l);
    else for (const f of FLAVOURS) need.add(f);
  }
  return need.size ? FLAVOURS.filter((f) => need.has(f)) : [...FLAVOURS];
}

export const OPTION = {
  node: '--node-mirror',
  nodeMusl: '--node-musl-mirror',
  npm: '--npm-mirror',
  uv: '--uv-mirror',
  alpine: '--alpine-mirror',
} as const;

const src = (file: string, url: string, option: string): Source => ({ file, url, option });

export const sources = {
  nodeIndex: (base: string, musl: boolean) =>
    src(`${musl ? 'musl ' : ''}index.json`, `${base}/index.json`, musl ? OPTION.nodeMusl : OPTION.node),
  nodeShasums: (p: Plan, musl: boolean) =>
    src(
      `SHASUMS256.txt (Node.js ${musl ? 'musl' : 'glibc'} v${p.node})`,
      `${musl ? p.mirrors.nodeMusl : p.mirrors.node}/v${p.node}/SHASUMS256.txt`,
      musl ? OPTION.nodeMusl : OPTION.node,
    ),
  nodeTarball: (p: Plan, musl: boolean, format: ArchiveFormat = 'gz') => {
    const file = `node-v${p.node}-linux-${nodeArch(p.arch)}${musl ? '-musl' : ''}.tar.${format}`;
    return src(
      file,
      `${musl ? p.mirrors.nodeMusl : p.mirrors.node}/v${p.node}/${file}`,
      musl ? OPTION.nodeMusl : OPTION.node,
    );
  },
  npmPackument: (p: Plan): Source => ({
    ...src('npm packument', `${p.mirrors.npm}/npm`, OPTION.npm),
    accept: 'application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8',
  }),
  npmTarball: (p: Plan) => src(`npm-${p.npm}.tgz`, `${p.mirrors.npm}/npm/-/npm-${p.npm}.tgz`, OPTION.npm),
  uvTarball: (p: Plan) => {
    const file = `uv-${uvArch(p.arch)}-unknown-linux-musl.tar.gz`;
    return src(file, `${p.mirrors.uv}/${p.uv}/${file}`, OPTION.uv);
  },
  uvSha256: (p: Plan) => {
    const file = `uv-${uvArch(p.arch)}-unknown-linux-musl.tar.gz.sha256`;
    return src(file, `${p.mirrors.uv}/${p.uv}/${file}`, OPTION.uv);
  },
  apkRepo: (p: Plan) => `${p.mirrors.alpine}/v${p.alpine}/main/${alpineArch(p.arch)}`,
  apkIndex: (p: Plan) =>
    src(
      `APKINDEX.tar.gz (Alpine v${p.alpine} ${alpineArch(p.arch)})`,
      `${sources.apkRepo(p)}/APKINDEX.tar.gz`,
      OPTION.alpine,
    ),
  apk: (p: Plan, file: string) => src(file, `${sources.apkRepo(p)}/${file}`, OPTION.alpine),
};

export interface NodeRelease {
  version: string;
  files: string[];
}

/** A Node dist `index.json`: the releases with their `files` list (`linux-x64`, `linux-arm64-musl`, ...). */
export async function nodeIndex(f: Fetcher, source: Source): Promise<NodeRelease[]> {
  const body = await f.index(source, 64 << 20);
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new StageError(`${source.file}: not JSON (${source.url}): ${errorMessage(err)}`, `check ${source.option}`);
  }
  if (!Array.isArray(doc))
    throw new StageError(`${source.file}: not a list of releases (${source.url})`, `check ${source.option}`);
  return doc
    .filter((r): r is { version: string; files: unknown } => typeof r?.version === 'string')
    .map((r) => ({ version: r.version.replace(/^v/, ''), files: Array.isArray(r.files) ? r.files.map(String) : [] }));
}

export const glibcFile = (a: Arch) => `linux-${nodeArch(a)}`;
export const muslFile = (a: Arch) => `linux-${nodeArch(a)}-musl`;

export function hasBuild(index: NodeRelease[], version: string, file: string): boolean {
  return index.some((r) => r.version === version && r.files.includes(file));
}

/**
 * A major (`24`) becomes the newest 24.x the Node mirror has for the architecture, preferring one the musl
 * mirror has too (unofficial musl builds can lag a release by days).
 */
export function pickMajor(
  major: string,
  arch: Arch,
  glibc: NodeRelease[],
  musl: NodeRelease[],
  mirror: string,
): string {
  const candidates = glibc
    .filter(
      (r) =>
        r.version.split('.')[0] === major && /^\d+\.\d+\.\d+$/.test(r.version) && r.files.includes(glibcFile(arch)),
    )
    .map((r) => r.version)
    .sort(compareVersions)
    .reverse();
  const best = candidates.find((v) => hasBuild(musl, v, muslFile(arch))) ?? candidates[0];
  if (!best) {
    throw new StageError(
      `no Node.js ${major}.x for linux-${nodeArch(arch)} in ${mirror}/index.json`,
      `give an exact --node-version, or set ${OPTION.node} to a mirror that lists Node.js ${major}`,
    );
  }
  return best;
}

export function compareVersions(a: string, b: string): number {
  const x = a.split('.').map(Number);
  const y = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0);
  return 0;
}

const run = promisify(execFile);

/** The registry the machine's npm uses (`npm config get registry`), so no registry host is hard-coded. */
export async function npmRegistry(): Promise<string> {
  let out: string;
  try {
    out = (await run('npm', ['config', 'get', 'registry'], { timeout: 20_000 })).stdout.trim();
  } catch (err) {
    throw new StageError(
      `cannot ask npm for its registry (npm config get registry): ${errorMessage(err).split('\n')[0]}`,
      `install npm, or set ${OPTION.npm}`,
    );
  }
  try {
    return validateUrl(out, 'npm config get registry');
  } catch {
    throw new StageError(`npm's configured registry "${out}" is not an http(s) URL`, `set ${OPTION.npm}`);
  }
}

/** Versions and mirrors, settled: everything the cache key and the downloads depend on. */
export async function resolvePlan(
  req: ToolkitRequest,
  f: Fetcher,
): Promise<{ plan: Plan; indexes?: { glibc: NodeRelease[]; musl: NodeRelease[] } }> {
  const npm = req.mirrors.npm || (await npmRegistry());
  const base: Plan = {
    arch: req.arch,
    node: req.nodeVersion,
    nodeRequested: req.nodeVersion,
    npm: req.npmVersion,
    uv: req.uvVersion,
    alpine: req.alpineVersion,
    verify: req.verify,
    mirrors: { ...req.mirrors, npm },
    flavours: normaliseFlavours(req.flavours),
  };
  if (/^\d+\.\d+\.\d+$/.test(req.nodeVersion)) return { plan: base };
  const [glibc, musl] = await Promise.all([
    nodeIndex(f, sources.nodeIndex(base.mirrors.node, false)),
    nodeIndex(f, sources.nodeIndex(base.mirrors.nodeMusl, true)),
  ]);
  return {
    plan: { ...base, node: pickMajor(req.nodeVersion, req.arch, glibc, musl, base.mirrors.node) },
    indexes: { glibc, musl },
  };
}
