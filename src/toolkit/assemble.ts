import { access, mkdir, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import pLimit, { type LimitFunction } from 'p-limit';
import { errorMessage, StageError } from '../core/errors.js';
import { apkFile, installApk, parseApkIndex, RUNTIME_PACKAGES } from './alpine.js';
import { type ArchiveCache, linkTree } from './cache.js';
import { type Expected, shasumsEntry, sriDigest, uvSha256 } from './checksum.js';
import { type Fetcher, NotFoundError, type Source } from './fetch.js';
import { type ArchiveFormat, type FormatChooser, FormatSwitch, type Probe } from './format.js';
import {
  hasBuild,
  muslFile,
  type NodeRelease,
  nodeIndex,
  normaliseFlavours,
  OPTION,
  type Plan,
  sources,
} from './resolve.js';
import { fetchAndExtract } from './stream.js';
import type { ArtefactRecord } from './types.js';
import { writeWrappers } from './wrappers.js';

export interface Assembled {
  artefacts: ArtefactRecord[];
  fallback: 'glibc' | null;
  alpinePackages: Record<string, string>;
  /** Artefacts that came from the archive cache instead of the network. */
  fromArchiveCache: string[];
  downloadMs: number;
}

// The node tarballs' own npm is replaced by the pinned one: not extracting it saves ~2,500 file writes.
const bundledNpm = /^[^/]+\/lib\/node_modules\/npm(\/|$)/;

/** What every step of one assembly shares. */
interface Assembly {
  plan: Plan;
  dir: string;
  f: Fetcher;
  opts: AssembleOptions;
  limit: LimitFunction;
  t0: number;
  fromArchiveCache: string[];
  glibcDir: string;
  muslDir: string;
}

export interface AssembleOptions {
  archives?: ArchiveCache;
  indexes?: { musl: NodeRelease[] };
  concurrency?: number;
  abort: () => void;
  formats: FormatChooser;
}

type Musl = { rec: ArtefactRecord; fallback: boolean } | 'fallback-from-glibc' | undefined;
type Libs = { record: ArtefactRecord; version: string }[];

/**
 * Builds the toolkit's tree in `dir` (a fresh temp dir): every artefact is fetched, verified and
 * extracted concurrently (bounded), then moved to Memoh's layout. On any failure the other transfers are
 * stopped, and the caller throws the temp dir away.
 */
export async function assemble(plan: Plan, dir: string, f: Fetcher, opts: AssembleOptions): Promise<Assembled> {
  const a: Assembly = {
    plan,
    dir,
    f,
    opts,
    limit: pLimit(opts.concurrency ?? 4),
    t0: performance.now(),
    fromArchiveCache: [],
    glibcDir: join(dir, 'node-glibc'),
    muslDir: join(dir, 'node-musl'),
  };
  const flavours = normaliseFlavours(plan.flavours);
  const wantGlibc = flavours.includes('glibc');
  const wantMusl = flavours.includes('musl');
  // Each piece is put in place as soon as what it needs is there, so the small artefacts' placing overlaps
  // the big glibc transfer. A directory is only written into after its own extraction has finished (a
  // retried extraction empties its directory first). A flavour not asked for is not downloaded at all.
  const npmTask = npmChecked(a);
  const muslTask: Promise<Musl> = wantMusl ? muslPlaced(a, npmTask, wantGlibc) : Promise.resolve(undefined);
  const glibcTask = wantGlibc ? glibcPlaced(a, npmTask, muslTask) : Promise.resolve(undefined);
  const uvTask = uvPlaced(a);
  const libsTask: Promise<Libs> = wantMusl ? runtimeLib(a) : Promise.resolve([]);
  const [glibcRec, musl, npmRec, uvRec, libs] = await allOrFirstFailure(
    [glibcTask, muslTask, npmTask, uvTask, libsTask] as const,
    opts.abort,
  );
  const downloadMs = performance.now() - a.t0;

  const { muslRec, fallback } = muslOutcome(musl, glibcRec);
  const artefacts = [glibcRec, muslRec, npmRec, uvRec, ...libs.map((l) => l.record)].filter(
    (x): x is ArtefactRecord => x !== undefined,
  );
  if (wantMusl) await rename(join(dir, '.runtime-lib'), join(a.muslDir, 'runtime-lib'));
  await writeWrappers(dir);

  const alpinePackages = Object.fromEntries(libs.map((l) => [l.record.name, l.version]));
  return { artefacts, fallback, alpinePackages, fromArchiveCache: a.fromArchiveCache, downloadMs };
}

/** Stops the other transfers at the first failure, and waits for all of them before the temp dir goes. */
async function allOrFirstFailure<T extends readonly unknown[]>(
  tasks: { [K in keyof T]: Promise<T[K]> },
  abort: () => void,
): Promise<T> {
  for (const t of tasks) t.catch(() => abort());
  const settled = await Promise.allSettled(tasks);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected' && !isAbort(s.reason));
  const firstFailure = failed ?? settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (firstFailure) throw firstFailure.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<unknown>).value) as unknown as T;
}

/** What node-musl ended up as: its own record, or (no musl build) the glibc one under its name. */
function muslOutcome(musl: Musl, glibcRec: ArtefactRecord | undefined) {
  let muslRec: ArtefactRecord | undefined;
  let fallback: 'glibc' | null = null;
  if (musl === 'fallback-from-glibc') {
    fallback = 'glibc';
    if (glibcRec) muslRec = { ...glibcRec, name: 'node-musl' };
  } else if (musl) {
    muslRec = musl.rec;
    if (musl.fallback) fallback = 'glibc';
  }
  return { muslRec, fallback };
}

/** One artefact fetched (or taken from the archive cache), verified and extracted into `dest`. */
async function extract(
  a: Assembly,
  name: string,
  src: Source,
  expected: Expected | undefined,
  dest: string,
  strip: number,
  filter?: (p: string) => boolean,
  how: { format?: ArchiveFormat; probe?: Probe } = {},
): Promise<ArtefactRecord> {
  const r = await a.limit(() => fetchAndExtract(a.f, { src, expected, dest, strip, filter, ...how }, a.opts.archives));
  a.f.reporter.debug(
    `${name}: ${src.file} ${r.fromCache ? 'from the archive cache' : 'downloaded'}, verified and extracted at +${Math.round(performance.now() - a.t0)} ms`,
  );
  if (r.fromCache) a.fromArchiveCache.push(name);
  return record(name, src, r, expected);
}

function missing(src: Source, list: Source, what: string): StageError {
  return new StageError(
    `${src.file} is not listed in ${list.url}`,
    `check ${what}, or set ${src.option} to a mirror that has it`,
  );
}

/** The digests SHASUMS256.txt lists for a Node.js tarball, per format (both, usually). */
async function nodeExpected(a: Assembly, musl: boolean): Promise<Partial<Record<ArchiveFormat, Expected>>> {
  const expected: Partial<Record<ArchiveFormat, Expected>> = {};
  if (!a.plan.verify) return expected;
  const list = sources.nodeShasums(a.plan, musl);
  const text = (await a.limit(() => a.f.index(list, 4 << 20))).toString('utf8');
  for (const fmt of ['gz', 'xz'] as const) {
    const e = shasumsEntry(text, sources.nodeTarball(a.plan, musl, fmt).file);
    if (e) expected[fmt] = e;
  }
  if (!expected.gz && !expected.xz) throw missing(sources.nodeTarball(a.plan, musl, 'gz'), list, '--node-version');
  return expected;
}

/**
 * A Node.js tarball (the glibc build, or the musl one) into `dest`, in the format the line calls for: a copy
 * in the archive cache in either format is used first; else the build's one probe (see FormatChooser) or
 * its verdict decides. SHASUMS256.txt lists both formats, so either is verified as strictly.
 */
async function node(a: Assembly, musl: boolean, dest: string, name: string): Promise<ArtefactRecord> {
  const { plan, opts } = a;
  const tarball = (format: ArchiveFormat) => sources.nodeTarball(plan, musl, format);
  const expected = await nodeExpected(a, musl);
  // Verification stays as strict as ever: a format SHASUMS256.txt does not list for this file is not fetched.
  const verifiable = (format: ArchiveFormat): ArchiveFormat =>
    plan.verify && !expected[format] ? (format === 'xz' ? 'gz' : 'xz') : format;
  const run = (want: ArchiveFormat, probe?: Probe) => {
    const format = verifiable(want);
    return extract(a, name, tarball(format), expected[format], dest, 1, (p) => !bundledNpm.test(p), {
      format,
      probe: format === want ? probe : undefined,
    });
  };
  if (opts.archives) {
    const order: ArchiveFormat[] = opts.formats.choice?.format === 'xz' ? ['xz', 'gz'] : ['gz', 'xz'];
    for (const fmt of order) {
      const e = expected[fmt];
      if (e && (await opts.archives.lookup(e))) return run(fmt);
    }
  }
  const noXz =
    plan.verify && !expected.xz ? `${sources.nodeShasums(plan, musl).file} lists no ${tarball('xz').file}` : undefined;
  if (noXz) opts.formats.settle({ format: 'gz', why: `${noXz}: .tar.gz` });
  const { format, probe } = noXz ? { format: 'gz' as const, probe: undefined } : await opts.formats.claim();
  try {
    return await run(format, probe);
  } catch (err) {
    if (err instanceof FormatSwitch) return run(err.format);
    // A mirror without the .tar.xz (some only carry .tar.gz): the .tar.gz it is, and the build says so.
    if (format === 'xz' && err instanceof NotFoundError && (!plan.verify || expected.gz)) {
      opts.formats.settle({ format: 'gz', why: `${tarball('xz').file} is not on the mirror (HTTP 404): .tar.gz` });
      return run('gz');
    }
    throw err;
  } finally {
    // A probe that failed before its verdict must not leave the other tarball waiting for one.
    if (probe) opts.formats.settle({ format: 'gz', why: 'the line could not be measured: .tar.gz' });
  }
}

// arm64 musl builds exist only for recent releases: the musl mirror's index.json says whether this one has it.
async function nodeMusl(a: Assembly): Promise<ArtefactRecord | 'fallback'> {
  const { plan, opts } = a;
  const index =
    opts.indexes?.musl ?? (await a.limit(() => nodeIndex(a.f, sources.nodeIndex(plan.mirrors.nodeMusl, true))));
  if (hasBuild(index, plan.node, muslFile(plan.arch))) return node(a, true, a.muslDir, 'node-musl');
  if (plan.arch === 'arm64') return 'fallback';
  throw new StageError(
    `${plan.mirrors.nodeMusl}/index.json lists no ${muslFile(plan.arch)} build of Node.js v${plan.node}`,
    `pick a --node-version the musl mirror has, or set ${OPTION.nodeMusl} to a mirror that has it`,
  );
}

/** npm's dist.integrity for the pinned version, from the registry's packument. */
async function npmExpected(a: Assembly): Promise<Expected> {
  const list = sources.npmPackument(a.plan);
  const body = await a.limit(() => a.f.index(list, 256 << 20));
  let doc: { versions?: Record<string, { dist?: { integrity?: string } }> };
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new StageError(`${list.file}: not JSON (${list.url}): ${errorMessage(err)}`, `check ${list.option}`);
  }
  const dist = doc.versions?.[a.plan.npm]?.dist;
  if (!dist)
    throw new StageError(
      `npm ${a.plan.npm} is not published in ${list.url}`,
      `check --npm-version, or set ${list.option} to a registry that has it`,
    );
  const expected = sriDigest(dist.integrity ?? '');
  if (!expected)
    throw new StageError(
      `npm ${a.plan.npm} has no usable dist.integrity in ${list.url}`,
      `set ${list.option} to another registry, or turn verification off (--no-verify)`,
    );
  return expected;
}

/** The pinned npm, extracted into DIR/.npm and checked to be the version asked for. */
async function npmChecked(a: Assembly): Promise<ArtefactRecord> {
  const expected = a.plan.verify ? await npmExpected(a) : undefined;
  const rec = await extract(a, 'npm', sources.npmTarball(a.plan), expected, join(a.dir, '.npm'), 1);
  const version = await packageVersion(join(a.dir, '.npm'));
  if (version !== a.plan.npm) {
    throw new StageError(
      `${rec.file} holds npm ${version ?? '(no package.json)'}, not ${a.plan.npm} (${rec.url})`,
      `check ${sources.npmTarball(a.plan).option}`,
    );
  }
  return rec;
}

const npmDir = (d: string) => join(d, 'lib', 'node_modules', 'npm');

/** The pinned npm into a node tree: linked when both trees get it, moved into the last (or only) one. */
async function placeNpm(a: Assembly, nodeDir: string, last: boolean): Promise<void> {
  if (!last) return linkTree(join(a.dir, '.npm'), npmDir(nodeDir));
  await mkdir(dirname(npmDir(nodeDir)), { recursive: true });
  await rename(join(a.dir, '.npm'), npmDir(nodeDir));
}

/** node-musl in place, with the pinned npm (or, when glibc is built too and no musl build exists, a note to copy it). */
async function muslPlaced(a: Assembly, npmTask: Promise<ArtefactRecord>, wantGlibc: boolean): Promise<Musl> {
  const rec = await nodeMusl(a);
  if (rec === 'fallback') {
    if (wantGlibc) return 'fallback-from-glibc';
    // musl only, and no musl build: node-musl is the glibc build, fetched straight into it.
    const g = await node(a, false, a.muslDir, 'node-musl');
    await expectFile(join(a.muslDir, 'bin', 'node'), g);
    await npmTask;
    await placeNpm(a, a.muslDir, true);
    return { rec: g, fallback: true };
  }
  await expectFile(join(a.muslDir, 'bin', 'node'), rec);
  await npmTask;
  await placeNpm(a, a.muslDir, !wantGlibc);
  return { rec, fallback: false };
}

/** node-glibc in place, with the pinned npm; it is also node-musl when there is no musl build. */
async function glibcPlaced(
  a: Assembly,
  npmTask: Promise<ArtefactRecord>,
  muslTask: Promise<Musl>,
): Promise<ArtefactRecord> {
  const rec = await node(a, false, a.glibcDir, 'node-glibc');
  await expectFile(join(a.glibcDir, 'bin', 'node'), rec);
  const [musl] = await Promise.all([muslTask, npmTask]);
  await placeNpm(a, a.glibcDir, true);
  // No musl build for this arch: node-musl is the glibc build (with the pinned npm), and says so.
  if (musl === 'fallback-from-glibc') linkTree(a.glibcDir, a.muslDir);
  return rec;
}

/** uv at DIR/uv. The release archive is uv-<triple>/{uv,uvx}; the toolkit keeps only uv (uvx is `uv tool run`). */
async function uvPlaced(a: Assembly): Promise<ArtefactRecord> {
  const src = sources.uvTarball(a.plan);
  let expected: Expected | undefined;
  if (a.plan.verify) {
    const list = sources.uvSha256(a.plan);
    expected = uvSha256((await a.limit(() => a.f.index(list, 1 << 16))).toString('utf8'));
    if (!expected) throw new StageError(`${list.file} holds no sha256 (${list.url})`, `check ${list.option}`);
  }
  const rec = await extract(a, 'uv', src, expected, join(a.dir, '.uv'), 1, (p) => /^[^/]+\/uv$/.test(p));
  await expectFile(join(a.dir, '.uv', 'uv'), rec);
  await rename(join(a.dir, '.uv', 'uv'), join(a.dir, 'uv'));
  await rm(join(a.dir, '.uv'), { recursive: true, force: true });
  return rec;
}

/** Alpine's libgcc and libstdc++ into DIR/.runtime-lib, each verified against APKINDEX. */
async function runtimeLib(a: Assembly): Promise<Libs> {
  const list = sources.apkIndex(a.plan);
  const index = parseIndex(await a.limit(() => a.f.index(list, 64 << 20)), list);
  return Promise.all(
    RUNTIME_PACKAGES.map(async (name) => {
      const rec = index.get(name);
      if (!rec) throw new StageError(`${name} is not in ${list.url}`, `check --alpine-version, or set ${list.option}`);
      const src = sources.apk(a.plan, apkFile(rec));
      const apk = await a.limit(() => a.f.buffer(src, 256 << 20));
      return {
        record: await installApk(apk, rec, src, join(a.dir, '.runtime-lib'), a.plan.verify),
        version: rec.version,
      };
    }),
  );
}

function record(
  name: string,
  src: Source,
  r: { sha256: string; bytes: number },
  expected: Expected | undefined,
): ArtefactRecord {
  return {
    name,
    file: src.file,
    url: src.url,
    bytes: r.bytes,
    sha256: r.sha256,
    verifiedBy: expected?.source ?? 'unverified',
    ...(expected && expected.algo !== 'sha256'
      ? { expected: `${expected.algo}-${Buffer.from(expected.hex, 'hex').toString('base64')}` }
      : {}),
  };
}

function parseIndex(body: Buffer, src: Source) {
  try {
    return parseApkIndex(body);
  } catch (err) {
    throw new StageError(
      `${src.file}: not an Alpine package index (${src.url}): ${errorMessage(err)}`,
      `check ${src.option} and --alpine-version`,
    );
  }
}

async function expectFile(path: string, from: ArtefactRecord): Promise<void> {
  try {
    await access(path);
  } catch {
    throw new StageError(
      `${from.file} has no ${path.split('/').slice(-2).join('/')} (${from.url})`,
      'the archive does not have the expected layout: check the mirror',
    );
  }
}

async function packageVersion(dir: string): Promise<string | undefined> {
  try {
    return (JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as { version?: string }).version;
  } catch {
    return undefined;
  }
}

function isAbort(err: unknown): boolean {
  return (err as { name?: string } | undefined)?.name === 'AbortError';
}
