import pLimit from 'p-limit';
import type { Options } from '../config/index.js';
import type { Check } from '../core/check.js';
import type { StageContext } from '../core/context.js';
import { errorMessage } from '../core/errors.js';
import type { Arch } from '../core/platform.js';
import { apkFile, parseApkIndex, RUNTIME_PACKAGES } from '../toolkit/alpine.js';
import { shasumsEntry, sriDigest, uvSha256 } from '../toolkit/checksum.js';
import { Fetcher, type Source } from '../toolkit/fetch.js';
import {
  hasBuild,
  muslFile,
  type NodeRelease,
  nodeIndex,
  type Plan,
  resolvePlan,
  sources,
} from '../toolkit/resolve.js';
import { exchange, type HttpPolicy, NetworkError, redact } from './http.js';

/**
 * `mirror --downloads`: before a long run, ask each configured download mirror for exactly the files
 * the toolkit stage would fetch for the configured versions and architectures, through the toolkit's
 * own URL and resolution functions (src/toolkit/resolve.ts). Small files (indexes, checksum lists,
 * the npm packument, APKINDEX) are read and must list what the toolkit looks up in them; archives
 * are only asked for with HEAD.
 */

export type Toolkit = Options['toolkit'];

export interface FileResult {
  /** What the toolkit calls it: `SHASUMS256.txt (Node.js glibc v24.14.0)`, `npm-10.9.2.tgz`. */
  file: string;
  url: string;
  how: 'GET' | 'HEAD';
  ok: boolean;
  detail: string;
}

export interface DownloadReport {
  arches: Arch[];
  /** Versions and mirrors as resolved per architecture (a major Node.js version becomes exact). */
  plans: Plan[];
  files: FileResult[];
  checks: Check[];
  durationMs: number;
}

/** Each check groups the files of one toolkit artefact; its id matches the toolkit stage's check. */
type Group = 'node-glibc' | 'node-musl' | 'npm' | 'uv' | 'runtime-lib';

export async function checkDownloads(
  toolkit: Toolkit,
  ctx: StageContext,
  opts: { timeoutMs?: number } = {},
): Promise<DownloadReport> {
  const start = performance.now();
  const f = new Fetcher(ctx.reporter, ctx.signal);
  const policy: HttpPolicy = {
    timeoutMs: opts.timeoutMs ?? 30_000,
    retries: 2,
    limit: pLimit(4),
    signal: ctx.signal,
    reporter: ctx.reporter,
  };
  const files: FileResult[] = [];
  const checks: Check[] = [];
  let plans: Plan[] = [];
  try {
    const resolved = await resolveArches(toolkit, f, checks);
    plans = resolved.map((p) => p.plan);
    checks.push(...(await Promise.all(groupTasks(resolved, asker(f, policy, files)))));
  } finally {
    f.close();
  }
  return { arches: toolkit.arches, plans, files, checks, durationMs: Math.round(performance.now() - start) };
}

type Resolved = { arch: Arch } & Awaited<ReturnType<typeof resolvePlan>>;

/** Each architecture's plan; one that cannot be resolved is a failed check of its own. */
async function resolveArches(toolkit: Toolkit, f: Fetcher, checks: Check[]): Promise<Resolved[]> {
  const perArch = await Promise.all(
    toolkit.arches.map(async (arch) => {
      try {
        return { arch, ...(await resolvePlan({ ...toolkit, arch, out: '' }, f)) };
      } catch (err) {
        checks.push({
          id: `downloads.resolve.${arch}`,
          status: 'fail',
          detail: errorMessage(err),
          fix: fixOf(err) ?? 'check --node-version and --node-mirror',
        });
        return undefined;
      }
    }),
  );
  return perArch.filter((p): p is NonNullable<typeof p> => p !== undefined);
}

/** One check per artefact and architecture (npm once: it is the same for all). */
function groupTasks(resolved: Resolved[], ask: Asker): Promise<Check>[] {
  const tasks: Promise<Check>[] = [];
  for (const { arch, plan, indexes } of resolved) {
    const id = (g: Group) => `downloads.${g}.${arch}`;
    tasks.push(groupCheck(id('node-glibc'), () => nodeFiles(ask, plan, false)));
    tasks.push(groupCheck(id('node-musl'), () => nodeMuslFiles(ask, plan, arch, indexes?.musl)));
    tasks.push(groupCheck(id('uv'), () => uvFiles(ask, plan)));
    tasks.push(groupCheck(id('runtime-lib'), () => alpineFiles(ask, plan)));
  }
  if (resolved[0]) tasks.push(groupCheck('downloads.npm', () => npmFiles(ask, resolved[0]!.plan)));
  return tasks;
}

async function groupCheck(id: string, steps: () => Promise<string[]>): Promise<Check> {
  const t0 = performance.now();
  try {
    const seen = await steps();
    return { id, status: 'pass', detail: seen.join('; '), durationMs: Math.round(performance.now() - t0) };
  } catch (err) {
    const status = err instanceof Fallback ? 'warn' : 'fail';
    return {
      id,
      status,
      detail: errorMessage(err),
      fix: fixOf(err) ?? 'fix the mirror, or point the option at one that serves the file',
      durationMs: Math.round(performance.now() - t0),
    };
  }
}

/** The musl build where the musl mirror lists it; on arm64 its absence is the toolkit's fallback to glibc. */
async function nodeMuslFiles(
  ask: Asker,
  plan: Plan,
  arch: Arch,
  known: NonNullable<Resolved['indexes']>['musl'] | undefined,
): Promise<string[]> {
  const index = known ?? (await ask.index(sources.nodeIndex(plan.mirrors.nodeMusl, true)));
  if (hasBuild(index, plan.node, muslFile(arch))) return nodeFiles(ask, plan, true);
  if (arch === 'arm64')
    throw new Fallback(
      `${plan.mirrors.nodeMusl}/index.json lists no ${muslFile(arch)} build of v${plan.node}: the toolkit would fall back to the glibc build`,
    );
  throw new Missing(
    `${plan.mirrors.nodeMusl}/index.json lists no ${muslFile(arch)} build of Node.js v${plan.node}`,
    `pick a --node-version the musl mirror has, or fix --node-musl-mirror`,
  );
}

/** The URLs the check would ask for, without asking (for --dry-run): versions as configured, not resolved. */
export function downloadPlan(toolkit: Toolkit): { name: string; url: string }[] {
  const out: { name: string; url: string }[] = [];
  for (const arch of toolkit.arches) {
    const plan: Plan = {
      arch,
      node: toolkit.nodeVersion,
      nodeRequested: toolkit.nodeVersion,
      npm: toolkit.npmVersion,
      uv: toolkit.uvVersion,
      alpine: toolkit.alpineVersion,
      verify: toolkit.verify,
      mirrors: { ...toolkit.mirrors, npm: toolkit.mirrors.npm || "(npm's configured registry)" },
    };
    const srcs = [
      sources.nodeShasums(plan, false),
      sources.nodeTarball(plan, false),
      sources.nodeIndex(plan.mirrors.nodeMusl, true),
      sources.nodeShasums(plan, true),
      sources.nodeTarball(plan, true),
      sources.uvSha256(plan),
      sources.uvTarball(plan),
      sources.apkIndex(plan),
      ...(arch === toolkit.arches[0] ? [sources.npmPackument(plan), sources.npmTarball(plan)] : []),
    ];
    for (const s of srcs) out.push({ name: `${s.file} [${arch}]`, url: s.url });
  }
  return out;
}

interface Asker {
  /** GET a small file through the toolkit's fetcher (its retries, its error messages naming the option). */
  text(src: Source, max: number): Promise<string>;
  buffer(src: Source, max: number): Promise<Buffer>;
  index(src: Source): Promise<NodeRelease[]>;
  /** HEAD an archive: it must be there, nothing is downloaded. */
  head(src: Source): Promise<string | null>;
}

function asker(f: Fetcher, policy: HttpPolicy, files: FileResult[]): Asker {
  const seen = new Map<string, Promise<unknown>>();
  // The same file asked for twice (one musl index.json for both architectures) is fetched once.
  const once = <T>(key: string, fn: () => Promise<T>): Promise<T> => {
    let p = seen.get(key) as Promise<T> | undefined;
    if (!p) {
      p = fn();
      seen.set(key, p);
    }
    return p;
  };
  const record = async <T>(
    src: Source,
    how: 'GET' | 'HEAD',
    fn: () => Promise<T>,
    describe: (v: T) => string,
  ): Promise<T> => {
    try {
      const v = await fn();
      files.push({ file: src.file, url: src.url, how, ok: true, detail: describe(v) });
      return v;
    } catch (err) {
      files.push({ file: src.file, url: src.url, how, ok: false, detail: errorMessage(err) });
      throw err;
    }
  };
  const buffer = (src: Source, max: number) =>
    once(`GET ${src.url}`, () =>
      record(
        src,
        'GET',
        () => f.buffer(src, max),
        (b) => `${b.length} bytes`,
      ),
    );
  return {
    buffer,
    text: async (src, max) => (await buffer(src, max)).toString('utf8'),
    index: (src) =>
      once(`index ${src.url}`, () =>
        record(
          src,
          'GET',
          () => nodeIndex(f, src),
          (r) => `${r.length} releases`,
        ),
      ),
    head: (src) =>
      once(`HEAD ${src.url}`, () =>
        record(
          src,
          'HEAD',
          async () => {
            let res: Awaited<ReturnType<typeof exchange>>;
            try {
              res = await exchange(src.url, { method: 'HEAD', headers: { 'user-agent': 'memoh-workspace' } }, policy);
            } catch (err) {
              if (err instanceof NetworkError)
                throw new Missing(`${src.file}: ${err.message}`, `check the network, or ${src.option}`);
              throw err;
            }
            if (res.status !== 200) {
              throw new Missing(
                `${src.file}: ${redact(res.url)} answered HTTP ${res.status}${res.status === 404 ? ' (not there)' : ''}`,
                `set ${src.option} to a mirror that serves it`,
              );
            }
            return res.headers.get('content-length');
          },
          (len) => (len ? `${len} bytes` : 'present'),
        ),
      ),
  };
}

/** An archive (HEAD) and, when verifying, the published checksum the toolkit would check it against. */
async function withChecksum(
  ask: Asker,
  plan: Plan,
  archive: Source,
  checksum: () => Promise<string>,
): Promise<string[]> {
  const seen = plan.verify ? [await checksum()] : [];
  await ask.head(archive);
  return [...seen, `${archive.file} served`];
}

function nodeFiles(ask: Asker, plan: Plan, musl: boolean): Promise<string[]> {
  const tarball = sources.nodeTarball(plan, musl);
  return withChecksum(ask, plan, tarball, async () => {
    const list = sources.nodeShasums(plan, musl);
    if (!shasumsEntry(await ask.text(list, 4 << 20), tarball.file)) {
      throw new Missing(
        `${list.file} (${list.url}) has no line for ${tarball.file}`,
        `check --node-version, or fix ${list.option}`,
      );
    }
    return `${list.file} lists ${tarball.file}`;
  });
}

function npmFiles(ask: Asker, plan: Plan): Promise<string[]> {
  return withChecksum(ask, plan, sources.npmTarball(plan), async () => {
    const list = sources.npmPackument(plan);
    let doc: { versions?: Record<string, { dist?: { integrity?: string } }> };
    try {
      doc = JSON.parse(await ask.text(list, 256 << 20));
    } catch (err) {
      if (err instanceof SyntaxError) throw new Missing(`${list.file} (${list.url}) is not JSON`, `fix ${list.option}`);
      throw err;
    }
    const dist = doc.versions?.[plan.npm]?.dist;
    if (!dist) throw new Missing(`npm ${plan.npm} is not in ${list.url}`, `check --npm-version, or fix ${list.option}`);
    if (!sriDigest(dist.integrity ?? ''))
      throw new Missing(`npm ${plan.npm} has no usable dist.integrity in ${list.url}`, `fix ${list.option}`);
    return `packument lists npm ${plan.npm} with its integrity`;
  });
}

function uvFiles(ask: Asker, plan: Plan): Promise<string[]> {
  return withChecksum(ask, plan, sources.uvTarball(plan), async () => {
    const list = sources.uvSha256(plan);
    if (!uvSha256(await ask.text(list, 1 << 16)))
      throw new Missing(`${list.file} (${list.url}) holds no sha256`, `fix ${list.option}`);
    return `${list.file} served`;
  });
}

async function alpineFiles(ask: Asker, plan: Plan): Promise<string[]> {
  const list = sources.apkIndex(plan);
  const body = await ask.buffer(list, 64 << 20);
  let index: ReturnType<typeof parseApkIndex>;
  try {
    index = parseApkIndex(body);
  } catch (err) {
    throw new Missing(
      `${list.file} (${list.url}) is not an Alpine package index: ${errorMessage(err)}`,
      `fix ${list.option} or --alpine-version`,
    );
  }
  const seen: string[] = [];
  for (const name of RUNTIME_PACKAGES) {
    const rec = index.get(name);
    if (!rec) throw new Missing(`${name} is not in ${list.url}`, `check --alpine-version, or fix ${list.option}`);
    const apk = sources.apk(plan, apkFile(rec));
    await ask.head(apk);
    seen.push(`${apk.file} served`);
  }
  return [`${list.file} lists ${RUNTIME_PACKAGES.join(' and ')}`, ...seen];
}

/** A file the mirror does not serve as the toolkit needs it; the message names the file and its URL. */
class Missing extends Error {
  constructor(
    message: string,
    readonly fix: string,
  ) {
    super(message);
  }
}

/** arm64 musl without a musl build: the toolkit still works (glibc fallback), so a warning, as in the toolkit stage. */
class Fallback extends Missing {
  constructor(message: string) {
    super(
      message,
      'musl arm64 images then need a glibc loader (Alpine: apk add gcompat), or pick a Node.js version with an arm64 musl build',
    );
  }
}

function fixOf(err: unknown): string | undefined {
  return (err as { fix?: string } | undefined)?.fix;
}
