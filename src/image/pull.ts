import type { IncomingMessage } from 'node:http';
import type Dockerode from 'dockerode';
import type { Pull } from '../config/index.js';
import { type Check, firstLine } from '../core/check.js';
import type { StageContext } from '../core/context.js';
import { docker } from '../core/docker.js';
import { errorMessage } from '../core/errors.js';
import { formatPlatform, type Platform } from '../core/platform.js';
import { throttle } from '../core/reporter.js';
import { type AuthOptions, registryAuth } from './auth.js';
import { megabytes, platformMatches } from './checks.js';
import type { ImageRef } from './reference.js';

interface Acquired {
  check: Omit<Check, 'id' | 'durationMs'>;
  image?: Dockerode.ImageInspectInfo;
}

/**
 * Makes the image available locally under the pull policy and inspects it. `missing` and `never`
 * take whatever is there, whatever its architecture: the platform check judges that afterwards.
 */
export async function acquire(
  ref: ImageRef,
  platform: Platform,
  policy: Pull,
  ctx: StageContext,
  auth?: AuthOptions,
): Promise<Acquired> {
  const plat = formatPlatform(platform);
  const local = await inspectImage(ref.resolved);
  if (policy === 'never') {
    if (local)
      return {
        check: { status: 'pass', detail: `present locally, not pulled (--pull never): ${describeLocal(local)}` },
        image: local,
      };
    return {
      check: {
        status: 'fail',
        detail: `${ref.resolved} is not present locally and --pull never forbids pulling it`,
        fix: 'pull it, or load it with docker load, or use --pull missing',
      },
    };
  }
  // `missing` means missing for this platform, as `docker run --platform` has it: another
  // architecture under the same tag is pulled over; if that pull fails, the local image is judged.
  if (policy === 'missing' && local && platformMatches(local, platform)) {
    return {
      check: { status: 'pass', detail: `present locally, not pulled (--pull missing): ${describeLocal(local)}` },
      image: local,
    };
  }
  const started = Date.now();
  try {
    const { status, bytes } = await pull(ref, platform, ctx, auth);
    const image = await inspectImage(ref.resolved);
    if (!image) throw new Error(`the engine reported the pull done, but ${ref.resolved} is not there`);
    const secs = ((Date.now() - started) / 1000).toFixed(1);
    const what = /up to date/i.test(status) ? 'up to date' : `pulled ${megabytes(bytes)}`;
    return { check: { status: 'pass', detail: `${what} for ${plat} in ${secs}s: ${describeLocal(image)}` }, image };
  } catch (err) {
    ctx.signal.throwIfAborted();
    // dockerode wraps the engine's message in "(HTTP code 500) server error - …"; the engine's own is enough.
    const message = firstLine((err as { json?: { message?: string } }).json?.message ?? errorMessage(err));
    const fix = pullFix(message, ref, platform);
    if (local && policy === 'missing') {
      const detail = `present locally as ${describeLocal(local)}; pulling ${plat} failed: ${message}`;
      return { check: { status: 'warn', detail, fix }, image: local };
    }
    return { check: { status: 'fail', detail: `pull of ${ref.resolved} for ${plat} failed: ${message}`, fix } };
  }
}

async function inspectImage(name: string): Promise<Dockerode.ImageInspectInfo | undefined> {
  try {
    return await docker().getImage(name).inspect();
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return undefined;
    throw err;
  }
}

interface PullEvent {
  status?: string;
  id?: string;
  progressDetail?: { current?: number; total?: number };
  error?: string;
  errorDetail?: { message?: string };
}

/** Pulls one platform of `ref`, reporting layer progress (throttled per layer) through the reporter. */
async function pull(
  ref: ImageRef,
  platform: Platform,
  ctx: StageContext,
  explicit?: AuthOptions,
): Promise<{ status: string; bytes: number }> {
  const authconfig = await registryAuth(ref.registry, explicit);
  const opts: Record<string, unknown> = {
    fromImage: `${ref.registry}/${ref.repository}`,
    tag: ref.digest ?? ref.tag ?? 'latest',
    platform: formatPlatform(platform),
    abortSignal: ctx.signal,
  };
  if (authconfig) opts.authconfig = authconfig;
  ctx.reporter.info(
    `pulling ${ref.resolved} for ${formatPlatform(platform)}${authconfig ? ' (with registry credentials)' : ''}`,
  );
  const stream = (await docker().createImage(opts)) as IncomingMessage;
  const progress = new PullProgress(ref, ctx);
  await eachJsonLine(stream, (e: PullEvent) => progress.event(e));
  return { status: progress.last, bytes: progress.bytes() };
}

/** The pull's events as progress per layer (throttled), its last overall status and the bytes it downloaded. */
class PullProgress {
  last = '';
  private readonly layers = new Map<string, { total: number; done: boolean; tick: ReturnType<typeof throttle> }>();

  constructor(
    private readonly ref: ImageRef,
    private readonly ctx: StageContext,
  ) {}

  event(e: PullEvent): void {
    if (e.error || e.errorDetail?.message) throw new Error(e.errorDetail?.message ?? e.error);
    if (e.status && !e.id) this.last = e.status;
    if (!e.id || !e.status) return;
    let layer = this.layers.get(e.id);
    if (!layer) {
      layer = { total: 0, done: false, tick: throttle(1000) };
      this.layers.set(e.id, layer);
    }
    const key = `pull ${this.ref.resolved} ${e.id}`;
    const { current = 0, total = 0 } = e.progressDetail ?? {};
    const reporter = this.ctx.reporter;
    if (e.status === 'Downloading' && total > 0) {
      layer.total = total;
      const pct = Math.min(100, Math.floor((current / total) * 100));
      layer.tick(() => reporter.progress(key, `${megabytes(current)} / ${megabytes(total)} (${pct}%)`));
    } else if (e.status === 'Download complete' || e.status === 'Already exists') {
      const l = layer;
      l.done = true;
      l.tick(
        () =>
          reporter.progress(
            key,
            e.status === 'Already exists' ? 'already present' : `${megabytes(l.total)} downloaded (100%)`,
          ),
        true,
      );
    }
  }

  bytes(): number {
    return [...this.layers.values()].reduce((sum, l) => sum + l.total, 0);
  }
}

/** Feeds each JSON line of the stream to `handle`; the first line it throws on ends the stream and the wait. */
function eachJsonLine<T>(stream: IncomingMessage, handle: (event: T) => void): Promise<void> {
  let buf = '';
  return new Promise<void>((resolve, reject) => {
    const fail = (err: unknown) => {
      stream.destroy();
      reject(err);
    };
    stream.on('data', (chunk: Buffer) => {
      buf += chunk.toString('utf8');
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (!line) continue;
        try {
          handle(JSON.parse(line) as T);
        } catch (err) {
          return fail(err);
        }
      }
    });
    stream.on('end', () => resolve());
    stream.on('error', fail);
  });
}

function describeLocal(image: Dockerode.ImageInspectInfo): string {
  const variant = image.Variant ? `/${image.Variant}` : '';
  return `${image.Id.slice(0, 19)} (${image.Os}/${image.Architecture}${variant})`;
}

/** One fix per family of pull failure, in the user's terms. */
function pullFix(message: string, ref: ImageRef, platform: Platform): string {
  const m = message.toLowerCase();
  if (/no matching manifest|does not match the specified platform|not found.*platform/.test(m)) {
    return `${ref.input} has no ${formatPlatform(platform)} variant: pick a tag that has one, or drop ${formatPlatform(platform)} from --platform`;
  }
  if (/unauthorized|denied|authentication required|no basic auth credentials|docker login|forbidden/.test(m)) {
    return `log in to ${ref.registry} (docker login ${ref.registry}; credentials are read from the Docker config), or check the name`;
  }
  if (/manifest unknown|not found|does not exist/.test(m)) {
    return `check that ${ref.repository}:${ref.tag ?? ref.digest} exists on ${ref.registry}`;
  }
  if (/dial tcp|no such host|timeout|connection refused|tls|x509|network|lookup/.test(m)) {
    return `check that ${ref.registry} is reachable from the engine (network, proxy, registry mirror), or load the image and use --pull never`;
  }
  return `check the reference and the engine's access to ${ref.registry}`;
}
