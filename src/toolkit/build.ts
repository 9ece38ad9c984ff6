import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { StageContext } from '../core/context.js';
import { InputError, StageError } from '../core/errors.js';
import { type Assembled, assemble } from './assemble.js';
import { ArchiveCache, materialise, sameTree, ToolkitCache } from './cache.js';
import { DEFAULT_RETRY, Fetcher } from './fetch.js';
import { FormatChooser, type FormatMode, xzMissing } from './format.js';
import { checksOf, manifestOf, warningsOf } from './outcome.js';
import { normaliseFlavours, type Plan, resolvePlan } from './resolve.js';
import { FLAVOURS, type ToolkitManifest, type ToolkitRequest, type ToolkitResult } from './types.js';
import { wrappersDigest } from './wrappers.js';

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
  let tmp: string | undefined;
  let forget: (() => void) | undefined;
  try {
    const { plan, indexes } = await resolvePlan(req, f);
    const resolveMs = performance.now() - t0;
    const key = cacheKey(plan);
    const toolkits = req.cacheDir ? new ToolkitCache(join(req.cacheDir, 'toolkits')) : undefined;

    const hit = toolkits ? await lookupToolkit(toolkits, plan, key) : undefined;
    // `out` may already be this very toolkit (the usual re-run): then there is nothing to replace.
    const upToDate = hit !== undefined && sameTree(hit, out);
    let manifest: ToolkitManifest;
    let built: Assembled | undefined;
    if (!upToDate) ({ tmp, forget } = await tempBeside(out, ctx));
    if (hit) {
      ctx.reporter.info(`toolkit ${plan.arch}: from cache (${hit.dir})${upToDate ? `; ${out} is up to date` : ''}`);
      manifest = JSON.parse(await readFile(hit.manifest, 'utf8')) as ToolkitManifest;
      if (tmp) materialise(hit, tmp);
    } else {
      if (!tmp) throw new Error('internal: no temp dir for a cold build');
      built = await coldBuild({ req, ctx, plan, indexes, tmp, f, formats, abort: () => stop.abort() });
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
    return resultOf({ out, arch: plan.arch, manifest, fromCache: Boolean(hit), built, warnings, f, t0, resolveMs });
  } finally {
    ctx.signal.removeEventListener('abort', onAbort);
    f.close();
    if (tmp) await rm(tmp, { recursive: true, force: true });
    forget?.();
  }
}

const ms = (x: number) => Math.round(x);

/** A temp dir next to `out` (same filesystem: the final rename is atomic), in the ledger until it goes. */
async function tempBeside(out: string, ctx: StageContext): Promise<{ tmp: string; forget: () => void }> {
  const parent = dirname(out);
  await mkdir(parent, { recursive: true });
  const tmp = await mkdtemp(join(parent, `.${basename(out)}.tmp-`));
  const forget = ctx.ledger.add({ kind: 'path', path: tmp, what: 'temp-dir' });
  // mkdtemp makes it 0700; a toolkit is mounted into images whose user may not be root.
  await chmod(tmp, 0o755);
  return { tmp, forget };
}

/** The finished toolkit for this plan in the cache, if any. */
async function lookupToolkit(toolkits: ToolkitCache, plan: Plan, key: string) {
  // The key names the flavours an entry holds; a fuller entry serves a request for fewer, never the reverse.
  const hit = await toolkits.lookup(key);
  if (hit || (plan.flavours?.length ?? 2) >= FLAVOURS.length) return hit;
  return toolkits.lookup(cacheKey({ ...plan, flavours: [...FLAVOURS] }));
}

/** Every artefact fetched (or taken from the archive cache), verified and laid out in `tmp`. */
function coldBuild(o: {
  req: ToolkitRequest;
  ctx: StageContext;
  plan: Plan;
  indexes: Awaited<ReturnType<typeof resolvePlan>>['indexes'];
  tmp: string;
  f: Fetcher;
  formats: FormatChooser;
  abort: () => void;
}): Promise<Assembled> {
  const { plan } = o;
  o.ctx.reporter.info(
    `toolkit ${plan.arch}: Node.js v${plan.node}, npm ${plan.npm}, uv ${plan.uv}, Alpine v${plan.alpine} runtime libraries`,
  );
  return assemble(plan, o.tmp, o.f, {
    archives: o.req.cacheDir ? new ArchiveCache(join(o.req.cacheDir, 'archives')) : undefined,
    indexes: o.indexes,
    abort: o.abort,
    formats: o.formats,
  });
}

function resultOf(o: {
  out: string;
  arch: ToolkitResult['arch'];
  manifest: ToolkitManifest;
  fromCache: boolean;
  built: Assembled | undefined;
  warnings: string[];
  f: Fetcher;
  t0: number;
  resolveMs: number;
}): ToolkitResult {
  const { manifest, f, resolveMs } = o;
  const totalMs = performance.now() - o.t0;
  const downloadMs = o.built?.downloadMs ?? 0;
  return {
    dir: o.out,
    arch: o.arch,
    manifest,
    fromCache: o.fromCache,
    fallback: manifest.fallback,
    flavours: manifest.flavours,
    durations: {
      totalMs: ms(totalMs),
      resolveMs: ms(resolveMs),
      downloadMs: ms(downloadMs),
      assembleMs: ms(totalMs - resolveMs - downloadMs),
    },
    downloadedBytes: f.stats.bytes,
    warnings: o.warnings,
    checks: checksOf(manifest, o.fromCache, totalMs, f.stats.bytes, o.built?.fromArchiveCache ?? []),
  };
}

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
