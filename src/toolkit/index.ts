import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { Check } from '../core/check.js';
import type { StageContext } from '../core/context.js';
import { InputError, StageError } from '../core/errors.js';
import { nodeArch } from '../core/platform.js';
import { type Assembled, assemble } from './assemble.js';
import { ArchiveCache, materialise, sameTree, ToolkitCache } from './cache.js';
import { DEFAULT_RETRY, Fetcher } from './fetch.js';
import { type ArchiveFormat, type FormatChoice, FormatChooser, type FormatMode, xzMissing } from './format.js';
import { muslFile, normaliseFlavours, type Plan, resolvePlan } from './resolve.js';
import { FLAVOURS, type Flavour, type ToolkitManifest, type ToolkitRequest, type ToolkitResult } from './types.js';
import { wrappersDigest } from './wrappers.js';

export { flavoursFor, normaliseFlavours } from './resolve.js';
export type {
  ArchiveFormat,
  Flavour,
  FormatChoice,
  FormatMode,
  ToolkitManifest,
  ToolkitRequest,
  ToolkitResult,
} from './types.js';
export { FLAVOURS } from './types.js';

/** Bumped when the toolkit's layout or contents change for the same inputs: old cache entries stop matching. */
const CACHE_FORMAT = 2;

/**
 * Builds Memoh's toolkit for one architecture into `req.out`: resolve versions → fetch and verify every
 * artefact while extracting it (or take the finished toolkit from the cache) → assemble in a temp dir
 * next to `out` → swap it into place. Any failure leaves `out` exactly as it was.
 */
export async function buildToolkit(req: ToolkitRequest, ctx: StageContext): Promise<ToolkitResult> {
  const t0 = performance.now();
  const out = resolve(req.out);
  await checkOut(out);
  normaliseFlavours(req.flavours);
  const formats = await formatChooser(req.archiveFormat ?? 'auto', req.xzBelowBytesPerSecond);
  formats.onSettle = (c) => ctx.reporter.info(`toolkit ${req.arch}: Node.js archives as .tar.${c.format}: ${c.why}`);
  const stop = new AbortController();
  const onAbort = () => stop.abort(ctx.signal.reason);
  if (ctx.signal.aborted) onAbort();
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  const f = new Fetcher(ctx.reporter, stop.signal, { ...DEFAULT_RETRY, ...req.retry }, req.connections);
  const parent = dirname(out);
  let tmp: string | undefined;
  let forget: (() => void) | undefined;
  try {
    const { plan, indexes } = await resolvePlan(req, f);
    const resolveMs = performance.now() - t0;
    const key = cacheKey(plan);
    const toolkits = req.cacheDir ? new ToolkitCache(join(req.cacheDir, 'toolkits')) : undefined;

    // The key names the flavours an entry holds; a fuller entry serves a request for fewer, never the reverse.
    let hit = toolkits ? await toolkits.lookup(key) : undefined;
    const full = { ...plan, flavours: [...FLAVOURS] };
    if (!hit && toolkits && (plan.flavours?.length ?? 2) < FLAVOURS.length) hit = await toolkits.lookup(cacheKey(full));
    // `out` may already be this very toolkit (the usual re-run): then there is nothing to replace.
    const upToDate = hit !== undefined && sameTree(hit, out);
    let manifest: ToolkitManifest;
    let built: Assembled | undefined;
    if (!upToDate) {
      await mkdir(parent, { recursive: true });
      tmp = await mkdtemp(join(parent, `.${basename(out)}.tmp-`));
      forget = ctx.ledger.add({ kind: 'path', path: tmp, what: 'temp-dir' });
      // mkdtemp makes it 0700; a toolkit is mounted into images whose user may not be root.
      await chmod(tmp, 0o755);
    }
    if (hit) {
      ctx.reporter.info(`toolkit ${plan.arch}: from cache (${hit.dir})${upToDate ? `; ${out} is up to date` : ''}`);
      manifest = JSON.parse(await readFile(hit.manifest, 'utf8')) as ToolkitManifest;
      if (tmp) materialise(hit, tmp);
    } else {
      if (!tmp) throw new Error('internal: no temp dir for a cold build');
      ctx.reporter.info(
        `toolkit ${plan.arch}: Node.js v${plan.node}, npm ${plan.npm}, uv ${plan.uv}, Alpine v${plan.alpine} runtime libraries`,
      );
      built = await assemble(plan, tmp, f, {
        archives: req.cacheDir ? new ArchiveCache(join(req.cacheDir, 'archives')) : undefined,
        indexes,
        abort: () => stop.abort(),
        formats,
      });
      manifest = manifestOf(plan, built, f, formats.choice);
      await writeFile(join(tmp, 'toolkit.json'), `${JSON.stringify(manifest, null, 2)}\n`);
      if (toolkits) {
        await toolkits
          .store(key, tmp)
          .catch((err: Error) => ctx.reporter.warn(`cache: the toolkit was not stored (${err.message})`));
      }
    }
    const warnings = warningsOf(manifest);
    for (const w of warnings) ctx.reporter.warn(w);
    if (tmp) {
      await swapInto(tmp, out);
      tmp = undefined;
    }
    const totalMs = performance.now() - t0;
    const downloadMs = built?.downloadMs ?? 0;
    return {
      dir: out,
      arch: plan.arch,
      manifest,
      fromCache: Boolean(hit),
      fallback: manifest.fallback,
      flavours: manifest.flavours,
      durations: {
        totalMs: ms(totalMs),
        resolveMs: ms(resolveMs),
        downloadMs: ms(downloadMs),
        assembleMs: ms(totalMs - resolveMs - downloadMs),
      },
      downloadedBytes: f.stats.bytes,
      warnings,
      checks: checksOf(manifest, Boolean(hit), totalMs, f.stats.bytes, built?.fromArchiveCache ?? []),
    };
  } finally {
    ctx.signal.removeEventListener('abort', onAbort);
    f.close();
    if (tmp) await rm(tmp, { recursive: true, force: true });
    forget?.();
  }
}

const ms = (x: number) => Math.round(x);

/** `out` must be new, empty or a toolkit: the build replaces it whole, and must never replace anything else. */
async function checkOut(out: string): Promise<void> {
  let entries: string[];
  try {
    const s = await stat(out);
    if (!s.isDirectory())
      throw new InputError(
        '--out',
        `${out} exists and is not a directory`,
        'give a new directory, or one holding a toolkit',
      );
    entries = await readdir(out);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (entries.length === 0 || entries.includes('toolkit.json') || entries.includes('node-glibc')) return;
  throw new InputError(
    '--out',
    `${out} is not empty and holds no toolkit (no toolkit.json)`,
    'give a new or empty directory, or one a toolkit was built into',
  );
}

/** Replaces `out` with `tmp`; if the second rename fails the old `out` is put back. */
async function swapInto(tmp: string, out: string): Promise<void> {
  try {
    await rename(tmp, out);
    return;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST' && code !== 'EISDIR') throw err;
  }
  const old = join(dirname(out), `.${basename(out)}.old-${randomBytes(4).toString('hex')}`);
  await rename(out, old);
  try {
    await rename(tmp, out);
  } catch (err) {
    await rename(old, out);
    throw err;
  }
  await rm(old, { recursive: true, force: true });
}

export function cacheKey(plan: Plan): string {
  const digest = createHash('sha256')
    .update(JSON.stringify({ format: CACHE_FORMAT, ...plan, nodeRequested: undefined, wrappers: wrappersDigest }))
    .digest('hex')
    .slice(0, 24);
  return `${plan.arch}-node${plan.node}-npm${plan.npm}-uv${plan.uv}-${digest}`;
}

/** `auto` measures unless xz is missing here; a forced `xz` without xz is an error that says what to install. */
async function formatChooser(mode: FormatMode, xzBelow?: number): Promise<FormatChooser> {
  if (mode !== 'auto' && mode !== 'gz' && mode !== 'xz')
    throw new InputError('archiveFormat', `unknown archive format ${JSON.stringify(mode)}`, 'give auto, gz or xz');
  if (mode === 'gz') return new FormatChooser({ format: 'gz', why: 'asked for (archive format gz)' });
  if (mode === 'xz') {
    const missing = await xzMissing();
    if (missing)
      throw new StageError(
        `.tar.xz archives were asked for, but ${missing}`,
        'install xz (Debian/Ubuntu: apt-get install xz-utils), or let the format be chosen (auto)',
      );
    return new FormatChooser({ format: 'xz', why: 'asked for (archive format xz)' });
  }
  return new FormatChooser(undefined, xzBelow, xzMissing);
}

/** What the Node.js tarballs came as: the build's choice, or (all from the archive cache) what the cache held. */
function archivesOf(a: Assembled, choice: FormatChoice | undefined): FormatChoice | undefined {
  const nodes = a.artefacts.filter((x) => x.name === 'node-glibc' || x.name === 'node-musl');
  const formats = [...new Set(nodes.map((x): ArchiveFormat => (x.file.endsWith('.tar.xz') ? 'xz' : 'gz')))];
  if (choice && formats.every((x) => x === choice.format)) return choice;
  const format = formats.length === 1 ? formats[0] : undefined;
  if (!format) return choice;
  return {
    format,
    why: choice
      ? `from the archive cache (${choice.why.replace(/: \.tar\.[gx]z$/, '')} for the rest)`
      : 'from the archive cache: nothing to measure',
  };
}

function manifestOf(plan: Plan, a: Assembled, f: Fetcher, choice: FormatChoice | undefined): ToolkitManifest {
  const archives = archivesOf(a, choice);
  return {
    schema: 1,
    builder: `memoh-workspace ${typeof __VERSION__ === 'string' ? __VERSION__ : 'dev'}`,
    arch: plan.arch,
    node: { version: plan.node, requested: plan.nodeRequested },
    npm: { version: plan.npm, registry: plan.mirrors.npm },
    uv: { version: plan.uv },
    alpine: { version: plan.alpine, packages: a.alpinePackages },
    fallback: a.fallback,
    flavours: normaliseFlavours(plan.flavours),
    ...(archives ? { archives } : {}),
    verified: a.artefacts.every((x) => x.verifiedBy !== 'unverified'),
    mirrors: plan.mirrors,
    artefacts: a.artefacts,
    indexes: [...f.indexes].sort((a, b) => (a.url < b.url ? -1 : 1)),
  };
}

function warningsOf(m: ToolkitManifest): string[] {
  const w: string[] = [];
  if (m.fallback === 'glibc') {
    w.push(
      `${m.mirrors.nodeMusl}/index.json has no ${muslFile(m.arch)} build of Node.js v${m.node.version}: node-musl holds the glibc build ` +
        "(fallback). On musl images node runs only if the image carries a glibc loader (e.g. Alpine's gcompat).",
    );
  }
  if (!m.verified)
    w.push(
      'checksum verification is off: the toolkit is UNVERIFIED (its artefacts were not checked against published digests)',
    );
  return w;
}

function checksOf(
  m: ToolkitManifest,
  fromCache: boolean,
  totalMs: number,
  bytes: number,
  fromArchiveCache: string[],
): Check[] {
  const how = (name: string) => {
    const a = m.artefacts.find((x) => x.name === name);
    if (!a) return 'missing';
    return a.verifiedBy === 'unverified' ? `${a.file}, UNVERIFIED` : `${a.file}, verified against ${a.verifiedBy}`;
  };
  const has = (f: Flavour) => (m.flavours ?? FLAVOURS).includes(f);
  const notBuilt = (id: string, f: Flavour, what: string): Check => ({
    id,
    status: 'skip',
    detail: `the ${f} flavour was not built (this toolkit holds ${(m.flavours ?? FLAVOURS).join(' and ')} only): ${what}`,
  });
  const checks: Check[] = [
    has('glibc')
      ? {
          id: 'toolkit.node-glibc',
          status: 'pass',
          detail: `Node.js v${m.node.version} linux-${nodeArch(m.arch)} (${how('node-glibc')})`,
        }
      : notBuilt('toolkit.node-glibc', 'glibc', 'no glibc Node.js downloaded; glibc images cannot use it'),
    !has('musl')
      ? notBuilt(
          'toolkit.node-musl',
          'musl',
          'no musl Node.js and no Alpine package downloaded; musl images cannot use it',
        )
      : m.fallback === 'glibc'
        ? {
            id: 'toolkit.node-musl',
            status: 'warn',
            detail: `no ${muslFile(m.arch)} build of Node.js v${m.node.version} on the musl mirror: node-musl is the glibc build`,
            fix: 'musl arm64 images need a glibc loader (Alpine: apk add gcompat), or pick a Node.js version with an arm64 musl build',
          }
        : {
            id: 'toolkit.node-musl',
            status: 'pass',
            detail: `Node.js v${m.node.version} ${muslFile(m.arch)} (${how('node-musl')})`,
          },
    { id: 'toolkit.npm', status: 'pass', detail: `npm ${m.npm.version} (${how('npm')})` },
    { id: 'toolkit.uv', status: 'pass', detail: `uv ${m.uv.version} (${how('uv')})` },
    !has('musl')
      ? notBuilt('toolkit.runtime-lib', 'musl', 'no Alpine runtime libraries')
      : {
          id: 'toolkit.runtime-lib',
          status: 'pass',
          detail: `Alpine v${m.alpine.version} ${Object.entries(m.alpine.packages)
            .map(([n, v]) => `${n} ${v}`)
            .join(', ')} (${how('libgcc').includes('UNVERIFIED') ? 'UNVERIFIED' : 'verified against APKINDEX'})`,
        },
    {
      id: 'toolkit.archives',
      status: 'pass',
      detail: m.archives
        ? `Node.js archives as .tar.${m.archives.format}: ${m.archives.why}`
        : 'Node.js archives: format not recorded',
    },
    m.verified
      ? { id: 'toolkit.verified', status: 'pass', detail: `all ${m.artefacts.length} artefacts verified` }
      : {
          id: 'toolkit.verified',
          status: 'warn',
          detail: 'checksum verification was turned off: the toolkit is unverified',
          fix: 'build with verify = true (drop --no-verify)',
        },
    {
      id: 'toolkit.build',
      status: 'pass',
      detail: fromCache
        ? `from the cache in ${(totalMs / 1000).toFixed(2)} s, nothing downloaded`
        : `built in ${(totalMs / 1000).toFixed(1)} s, ${(bytes / 1e6).toFixed(1)} MB downloaded${fromArchiveCache.length ? `, ${fromArchiveCache.join(', ')} from the archive cache` : ''}`,
      durationMs: ms(totalMs),
    },
  ];
  return checks;
}
