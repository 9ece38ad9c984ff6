import { access, mkdir, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import pLimit from 'p-limit';
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

/**
 * Builds the toolkit's tree in `dir` (a fresh temp dir): every artefact is fetched, verified and
 * extracted concurrently (bounded), then moved to Memoh's layout. On any failure the other transfers are
 * stopped, and the caller throws the temp dir away.
 */
export async function assemble(
  plan: Plan,
  dir: string,
  f: Fetcher,
  opts: {
    archives?: ArchiveCache;
    indexes?: { musl: NodeRelease[] };
    concurrency?: number;
    abort: () => void;
    formats: FormatChooser;
  },
): Promise<Assembled> {
  const limit = pLimit(opts.concurrency ?? 4);
  const t0 = performance.now();
  const fromArchiveCache: string[] = [];
  const flavours = normaliseFlavours(plan.flavours);
  const glibcDir = join(dir, 'node-glibc');
  const muslDir = join(dir, 'node-musl');
  const wantGlibc = flavours.includes('glibc');
  const wantMusl = flavours.includes('musl');
  const extract = async (
    name: string,
    src: Source,
    expected: Expected | undefined,
    dest: string,
    strip: number,
    filter?: (p: string) => boolean,
    how: { format?: ArchiveFormat; probe?: Probe } = {},
  ) => {
    const r = await limit(() => fetchAndExtract(f, { src, expected, dest, strip, filter, ...how }, opts.archives));
    f.reporter.debug(
      `${name}: ${src.file} ${r.fromCache ? 'from the archive cache' : 'downloaded'}, verified and extracted at +${Math.round(performance.now() - t0)} ms`,
    );
    if (r.fromCache) fromArchiveCache.push(name);
    return record(name, src, r, expected);
  };
  const missing = (src: Source, list: Source, what: string) =>
    new StageError(
      `${src.file} is not listed in ${list.url}`,
      `check ${what}, or set ${src.option} to a mirror that has it`,
    );

  /**
   * A Node.js tarball (the glibc build, or the musl one) into `dest`, in the format the line calls for: a copy
   * in the archive cache in either format is used first; else the build's one probe (see FormatChooser) or
   * its verdict decides. SHASUMS256.txt lists both formats, so either is verified as strictly.
   */
  const node = async (musl: boolean, dest: string, name: string): Promise<ArtefactRecord> => {
    const tarball = (format: ArchiveFormat) => sources.nodeTarball(plan, musl, format);
    const expected: Partial<Record<ArchiveFormat, Expected>> = {};
    if (plan.verify) {
      const list = sources.nodeShasums(plan, musl);
      const text = (await limit(() => f.index(list, 4 << 20))).toString('utf8');
      for (const fmt of ['gz', 'xz'] as const) {
        const e = shasumsEntry(text, tarball(fmt).file);
        if (e) expected[fmt] = e;
      }
      if (!expected.gz && !expected.xz) throw missing(tarball('gz'), list, '--node-version');
    }
    // Verification stays as strict as ever: a format SHASUMS256.txt does not list for this file is not fetched.
    const verifiable = (format: ArchiveFormat): ArchiveFormat =>
      plan.verify && !expected[format] ? (format === 'xz' ? 'gz' : 'xz') : format;
    const run = (want: ArchiveFormat, probe?: Probe) => {
      const format = verifiable(want);
      return extract(name, tarball(format), expected[format], dest, 1, (p) => !bundledNpm.test(p), {
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
      plan.verify && !expected.xz
        ? `${sources.nodeShasums(plan, musl).file} lists no ${tarball('xz').file}`
        : undefined;
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
  };

  // arm64 musl builds exist only for recent releases: the musl mirror's index.json says whether this one has it.
  const nodeMusl = async (): Promise<ArtefactRecord | 'fallback'> => {
    const index =
      opts.indexes?.musl ?? (await limit(() => nodeIndex(f, sources.nodeIndex(plan.mirrors.nodeMusl, true))));
    if (hasBuild(index, plan.node, muslFile(plan.arch))) return node(true, muslDir, 'node-musl');
    if (plan.arch === 'arm64') return 'fallback';
    throw new StageError(
      `${plan.mirrors.nodeMusl}/index.json lists no ${muslFile(plan.arch)} build of Node.js v${plan.node}`,
      `pick a --node-version the musl mirror has, or set ${OPTION.nodeMusl} to a mirror that has it`,
    );
  };

  const npm = async (): Promise<ArtefactRecord> => {
    const src = sources.npmTarball(plan);
    let expected: Expected | undefined;
    if (plan.verify) {
      const list = sources.npmPackument(plan);
      const body = await limit(() => f.index(list, 256 << 20));
      let doc: { versions?: Record<string, { dist?: { integrity?: string } }> };
      try {
        doc = JSON.parse(body.toString('utf8'));
      } catch (err) {
        throw new StageError(`${list.file}: not JSON (${list.url}): ${errorMessage(err)}`, `check ${list.option}`);
      }
      const dist = doc.versions?.[plan.npm]?.dist;
      if (!dist)
        throw new StageError(
          `npm ${plan.npm} is not published in ${list.url}`,
          `check --npm-version, or set ${list.option} to a registry that has it`,
        );
      expected = sriDigest(dist.integrity ?? '');
      if (!expected)
        throw new StageError(
          `npm ${plan.npm} has no usable dist.integrity in ${list.url}`,
          `set ${list.option} to another registry, or turn verification off (--no-verify)`,
        );
    }
    return extract('npm', src, expected, join(dir, '.npm'), 1);
  };

  const uv = async (): Promise<ArtefactRecord> => {
    const src = sources.uvTarball(plan);
    let expected: Expected | undefined;
    if (plan.verify) {
      const list = sources.uvSha256(plan);
      expected = uvSha256((await limit(() => f.index(list, 1 << 16))).toString('utf8'));
      if (!expected) throw new StageError(`${list.file} holds no sha256 (${list.url})`, `check ${list.option}`);
    }
    // The release archive is uv-<triple>/{uv,uvx}; the toolkit keeps only uv (uvx is `uv tool run`).
    return extract('uv', src, expected, join(dir, '.uv'), 1, (p) => /^[^/]+\/uv$/.test(p));
  };

  const runtimeLib = async (): Promise<{ record: ArtefactRecord; version: string }[]> => {
    const list = sources.apkIndex(plan);
    const index = parseIndex(await limit(() => f.index(list, 64 << 20)), list);
    return Promise.all(
      RUNTIME_PACKAGES.map(async (name) => {
        const rec = index.get(name);
        if (!rec)
          throw new StageError(`${name} is not in ${list.url}`, `check --alpine-version, or set ${list.option}`);
        const src = sources.apk(plan, apkFile(rec));
        const apk = await limit(() => f.buffer(src, 256 << 20));
        return {
          record: await installApk(apk, rec, src, join(dir, '.runtime-lib'), plan.verify),
          version: rec.version,
        };
      }),
    );
  };

  // Each piece is put in place as soon as what it needs is there, so the small artefacts' placing overlaps
  // the big glibc transfer. A directory is only written into after its own extraction has finished (a
  // retried extraction empties its directory first). A flavour not asked for is not downloaded at all.
  const npmDir = (d: string) => join(d, 'lib', 'node_modules', 'npm');
  const npmTask = npm().then(async (rec) => {
    const version = await packageVersion(join(dir, '.npm'));
    if (version !== plan.npm) {
      throw new StageError(
        `${rec.file} holds npm ${version ?? '(no package.json)'}, not ${plan.npm} (${rec.url})`,
        `check ${sources.npmTarball(plan).option}`,
      );
    }
    return rec;
  });
  /** The pinned npm into a node tree: linked when both trees get it, moved into the last (or only) one. */
  const placeNpm = async (nodeDir: string, last: boolean) => {
    if (!last) return linkTree(join(dir, '.npm'), npmDir(nodeDir));
    await mkdir(dirname(npmDir(nodeDir)), { recursive: true });
    await rename(join(dir, '.npm'), npmDir(nodeDir));
  };
  type Musl = { rec: ArtefactRecord; fallback: boolean } | 'fallback-from-glibc' | undefined;
  const muslTask: Promise<Musl> = !wantMusl
    ? Promise.resolve(undefined)
    : nodeMusl().then(async (rec) => {
        if (rec === 'fallback') {
          if (wantGlibc) return 'fallback-from-glibc';
          // musl only, and no musl build: node-musl is the glibc build, fetched straight into it.
          const g = await node(false, muslDir, 'node-musl');
          await expectFile(join(muslDir, 'bin', 'node'), g);
          await npmTask;
          await placeNpm(muslDir, true);
          return { rec: g, fallback: true };
        }
        await expectFile(join(muslDir, 'bin', 'node'), rec);
        await npmTask;
        await placeNpm(muslDir, !wantGlibc);
        return { rec, fallback: false };
      });
  const glibcTask: Promise<ArtefactRecord | undefined> = !wantGlibc
    ? Promise.resolve(undefined)
    : node(false, glibcDir, 'node-glibc').then(async (rec) => {
        await expectFile(join(glibcDir, 'bin', 'node'), rec);
        const [musl] = await Promise.all([muslTask, npmTask]);
        await placeNpm(glibcDir, true);
        // No musl build for this arch: node-musl is the glibc build (with the pinned npm), and says so.
        if (musl === 'fallback-from-glibc') linkTree(glibcDir, muslDir);
        return rec;
      });
  const uvTask = uv().then(async (rec) => {
    await expectFile(join(dir, '.uv', 'uv'), rec);
    await rename(join(dir, '.uv', 'uv'), join(dir, 'uv'));
    await rm(join(dir, '.uv'), { recursive: true, force: true });
    return rec;
  });
  const libsTask = wantMusl ? runtimeLib() : Promise.resolve([]);
  const tasks = [glibcTask, muslTask, npmTask, uvTask, libsTask] as const;
  // Stop the other transfers at the first failure, and wait for all of them before the temp dir goes.
  for (const t of tasks) t.catch(() => opts.abort());
  const settled = await Promise.allSettled(tasks);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected' && !isAbort(s.reason));
  const firstFailure = failed ?? settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (firstFailure) throw firstFailure.reason;
  const [glibcRec, musl, npmRec, uvRec, libs] = await Promise.all(tasks);
  const downloadMs = performance.now() - t0;

  let muslRec: ArtefactRecord | undefined;
  let fallback: 'glibc' | null = null;
  if (musl === 'fallback-from-glibc') {
    fallback = 'glibc';
    if (glibcRec) muslRec = { ...glibcRec, name: 'node-musl' };
  } else if (musl) {
    muslRec = musl.rec;
    if (musl.fallback) fallback = 'glibc';
  }
  const artefacts = [glibcRec, muslRec, npmRec, uvRec, ...libs.map((l) => l.record)].filter(
    (a): a is ArtefactRecord => a !== undefined,
  );
  if (wantMusl) await rename(join(dir, '.runtime-lib'), join(muslDir, 'runtime-lib'));
  await writeWrappers(dir);

  const alpinePackages = Object.fromEntries(libs.map((l) => [l.record.name, l.version]));
  return { artefacts, fallback, alpinePackages, fromArchiveCache, downloadMs };
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
