import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { access, chmod, constants, stat } from 'node:fs/promises';
import { delimiter, isAbsolute, join, posix, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import type Dockerode from 'dockerode';
import * as tar from 'tar';
import type { StageContext } from '../core/context.js';
import { docker } from '../core/docker.js';
import type { EraHints } from '../core/era.js';
import { errorMessage, InputError, StageError } from '../core/errors.js';
import { type Arch, formatPlatform, platformOf } from '../core/platform.js';
import { SERVER_RUNTIME_DIR } from '../era/index.js';
import { acquire } from '../image/pull.js';
import { checkImageRef, resolveImage } from '../image/reference.js';
import { ledgeredTempDir } from './dirs.js';
import { checkElf, type ElfInfo } from './elf.js';

/** Where Memoh's server image keeps the bridge (its runtime dir). */
export const DEFAULT_BRIDGE_PATH_IN_IMAGE = `${SERVER_RUNTIME_DIR}/bridge`;

export type BridgeSource =
  | { kind: 'file'; path: string }
  | { kind: 'image'; ref: string; path: string }
  | { kind: 'source'; dir: string };

export interface ResolvedBridge {
  source: BridgeSource;
  /** A verified ELF for the target arch on the host. */
  path: string;
  elf: ElfInfo;
  /** Removes the temp copy (image:, source:); the file source is left alone. */
  release(): Promise<void>;
}

const INPUT = '--bridge';

/** `PATH`, `image:REF[:/ABS/PATH]` or `source:DIR`. The path part of `image:` must be absolute, which keeps `REF:TAG` unambiguous. */
export function parseBridgeSource(value: string, input = INPUT): BridgeSource {
  const v = value.trim();
  if (!v) throw new InputError(input, 'no bridge given', 'give a bridge binary path, image:REF[:PATH] or source:DIR');
  if (v.startsWith('image:')) {
    const rest = v.slice('image:'.length);
    const m = /^(.*?):(\/.*)$/.exec(rest);
    const ref = m ? m[1]! : rest;
    const path = m ? posix.normalize(m[2]!) : DEFAULT_BRIDGE_PATH_IN_IMAGE;
    checkImageRef(ref, input);
    return { kind: 'image', ref, path };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(v)) {
    throw new InputError(
      input,
      `"${v.slice(0, 80)}" is a URL: bridges are not downloaded`,
      'download it yourself and give its path, or use image:REF[:PATH] or source:DIR',
    );
  }
  if (v.startsWith('source:')) {
    const dir = v.slice('source:'.length);
    if (!dir) throw new InputError(input, 'source: needs a directory', 'give source:DIR, DIR being a Memoh checkout');
    return { kind: 'source', dir: resolve(dir) };
  }
  return { kind: 'file', path: resolve(v) };
}

/**
 * Turns a bridge source into an ELF on the host, built for `arch`, and refuses a wrong one before
 * anything is started. Temp files it makes are in the ledger (what: temp-dir).
 */
export async function resolveBridge(
  source: string | BridgeSource,
  arch: Arch,
  ctx: StageContext,
): Promise<ResolvedBridge> {
  const src = typeof source === 'string' ? parseBridgeSource(source) : source;
  if (src.kind === 'file')
    return { source: src, path: src.path, elf: await verify(src.path, arch, ctx), release: async () => {} };
  const tmp = await ledgeredTempDir(ctx.ledger, 'memoh-bridge-', 'temp-dir');
  const release = () => ctx.ledger.release(tmp.entry);
  try {
    const out = join(tmp.path, 'bridge');
    if (src.kind === 'image') await copyFromImage(src.ref, src.path, arch, out, ctx);
    else await buildFromSource(src.dir, arch, out, ctx);
    return { source: src, path: out, elf: await verify(out, arch, ctx), release };
  } catch (err) {
    await release();
    throw err;
  }
}

async function verify(path: string, arch: Arch, ctx: StageContext): Promise<ElfInfo> {
  const elf = await checkElf(path, arch, INPUT);
  if (!elf.static) {
    ctx.reporter.warn(
      `the bridge ${path} is dynamically linked: it will not start on images without its C library (Memoh builds it with CGO_ENABLED=0)`,
    );
  }
  return elf;
}

/** Copies a file out of an image without running it: create (never start), getArchive, remove. */
async function copyFromImage(
  ref: string,
  pathInImage: string,
  arch: Arch,
  out: string,
  ctx: StageContext,
): Promise<void> {
  const d = docker();
  const platform = formatPlatform(platformOf(arch));
  const got = await acquire(resolveImage(ref, '', INPUT), platformOf(arch), 'missing', ctx);
  if (!got.image)
    throw new InputError(
      INPUT,
      got.check.detail,
      got.check.fix ?? 'give an image present locally or reachable, or a bridge file path',
    );
  // The pid says which run made it when several share one engine.
  const name = `memoh-bridge-copy-${process.pid}-${randomBytes(6).toString('hex')}`;
  const forget = ctx.ledger.add({ kind: 'container', id: name, name });
  let container: Dockerode.Container;
  try {
    container = await d.createContainer({
      _query: { name, platform },
      _body: { Image: ref, Entrypoint: [''], Cmd: [pathInImage] },
    } as never);
  } catch (err) {
    forget();
    throw new InputError(
      INPUT,
      `cannot use ${ref} for linux/${arch}: ${errorMessage(err)}`,
      `give an image that has a linux/${arch} variant`,
    );
  }
  try {
    let target = pathInImage;
    // Follow symlinks inside the image a few times (a bridge installed as a link to a versioned file).
    for (let hops = 0; hops < 5; hops++) {
      const archive = (await container.getArchive({ path: target }).catch((err: unknown) => {
        const code = (err as { statusCode?: number }).statusCode;
        if (code === 404) throw new InputError(INPUT, `${ref} has no ${target}`, `give image:${ref}:/PATH/TO/bridge`);
        throw err;
      })) as NodeJS.ReadableStream;
      const entry = await extractFirst(archive, out);
      if (entry.kind === 'file') return;
      if (entry.kind === 'link') {
        target = posix.isAbsolute(entry.target) ? entry.target : posix.join(posix.dirname(target), entry.target);
        continue;
      }
      throw new InputError(
        INPUT,
        `${target} in ${ref} is a ${entry.type}, not a file`,
        `give image:${ref}:/PATH/TO/bridge`,
      );
    }
    throw new InputError(INPUT, `${pathInImage} in ${ref} is a chain of too many symlinks`, 'give the real path');
  } finally {
    await container.remove({ force: true }).catch(() => undefined);
    forget();
  }
}

type Extracted = { kind: 'file' } | { kind: 'link'; target: string } | { kind: 'other'; type: string };

async function extractFirst(archive: NodeJS.ReadableStream, out: string): Promise<Extracted> {
  let result: Extracted | undefined;
  const writes: Promise<void>[] = [];
  const parser = new tar.Parser({
    onReadEntry: (entry) => {
      if (result) {
        entry.resume();
        return;
      }
      if (entry.type === 'File' || entry.type === 'OldFile') {
        result = { kind: 'file' };
        writes.push(pipeline(entry, createWriteStream(out, { mode: 0o755 })).then(() => chmod(out, 0o755)));
      } else {
        result =
          entry.type === 'SymbolicLink'
            ? { kind: 'link', target: entry.linkpath ?? '' }
            : { kind: 'other', type: entry.type.toLowerCase() };
        entry.resume();
      }
    },
  });
  await pipeline(archive, parser);
  await Promise.all(writes);
  if (!result) throw new StageError('the engine returned an empty archive');
  return result;
}

const run = promisify(execFile);

/** `go build ./cmd/bridge` as Memoh's image does: static, trimmed, for the target arch. Needs `go` on PATH. */
async function buildFromSource(dir: string, arch: Arch, out: string, ctx: StageContext): Promise<void> {
  try {
    if (!(await stat(join(dir, 'cmd', 'bridge'))).isDirectory()) throw new Error('not a directory');
  } catch {
    throw new InputError(INPUT, `${dir} has no cmd/bridge`, 'give source:DIR with DIR a Memoh checkout');
  }
  const go = await which('go');
  if (!go)
    throw new InputError(
      INPUT,
      'source: needs Go, and no `go` is on PATH',
      'install Go (or put it on PATH), or give a built bridge binary',
    );
  ctx.reporter.info(`building the bridge from ${dir} for linux/${arch}`);
  try {
    await run(go, ['build', '-trimpath', '-ldflags=-s -w', '-o', out, './cmd/bridge'], {
      cwd: dir,
      env: {
        ...process.env,
        CGO_ENABLED: '0',
        GOOS: 'linux',
        GOARCH: arch,
        GOTOOLCHAIN: process.env.GOTOOLCHAIN ?? 'local',
      },
      signal: ctx.signal,
      timeout: 15 * 60_000,
      maxBuffer: 16 << 20,
    });
  } catch (err) {
    const stderr = String((err as { stderr?: string }).stderr ?? '').trim();
    throw new StageError(
      `go build ./cmd/bridge in ${dir} failed: ${stderr.split('\n').slice(-5).join(' | ') || errorMessage(err)}`,
      'make the checkout build with `go build ./cmd/bridge`',
    );
  }
}

async function which(cmd: string): Promise<string | undefined> {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir || !isAbsolute(dir)) continue;
    const p = join(dir, cmd);
    try {
      await access(p, constants.X_OK);
      return p;
    } catch {
      // next
    }
  }
  return undefined;
}

const BRIDGEPB_PATH = Buffer.from('/bridgepb.ContainerService/');
const SEED_PATH = Buffer.from('/mcpcontainer.ContainerService/');
const NOFOLLOW = Buffer.from('ReadRawNoFollow');
const SEED_SERVICE = Buffer.from('mcpcontainer.ContainerService');

/**
 * What a bridge binary says about its era without running it. Go's gRPC stubs keep the full path of every
 * unary method the server registers (`/bridgepb.ContainerService/Stat`) as a string: `bridgepb` paths mean
 * v0.6.2 or later, `mcpcontainer` paths the seed. Streaming methods (the NoFollow RPCs of v0.18.0) keep only
 * their bare names once the linker has dropped the client, so those are looked for by name. A binary
 * without full paths (one that builds its service descriptors at run time, like the test world's v3
 * stand-in) is judged by the bare names, as a guess: the seed's package name first, since later descriptors
 * may sit beside it.
 */
export async function bridgeEraFromBinary(path: string): Promise<EraHints['bridge']> {
  const found = await mentions(path, [NOFOLLOW, BRIDGEPB_PATH, SEED_PATH, SEED_SERVICE]);
  const nofollow = found.has(NOFOLLOW);
  if (found.has(BRIDGEPB_PATH)) {
    if (nofollow)
      return { era: 'v0.18', why: 'the bridge binary has bridgepb method paths and the ReadRawNoFollow RPC (v0.18.0)' };
    return {
      era: 'v0.18',
      why: 'the bridge binary speaks bridgepb but has no ReadRawNoFollow: a bridge between the eras (v0.6.2–v0.17)',
      guess: true,
    };
  }
  if (found.has(SEED_PATH))
    return { era: 'v3', why: 'the bridge binary has only /mcpcontainer.ContainerService/ methods (the seed)' };
  if (found.has(SEED_SERVICE))
    return {
      era: 'v3',
      why: 'the bridge binary mentions mcpcontainer.ContainerService (no full method paths in it)',
      guess: true,
    };
  if (nofollow)
    return {
      era: 'v0.18',
      why: 'the bridge binary mentions ReadRawNoFollow (no full method paths in it)',
      guess: true,
    };
  return undefined;
}

/**
 * Which of `needles` occur in the file, read as a stream: a bridge binary is 10+ MB, and read whole (once by
 * the pipeline, once per smoke) it would sit in memory until the next full GC. Each chunk is searched with
 * the end of the one before it, so a needle split across two chunks is found too.
 */
async function mentions(path: string, needles: readonly Buffer[]): Promise<Set<Buffer>> {
  const found = new Set<Buffer>();
  const overlap = Math.max(...needles.map((n) => n.length)) - 1;
  let tail = Buffer.alloc(0);
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    const window = Buffer.concat([tail, chunk]);
    for (const n of needles) if (!found.has(n) && window.includes(n)) found.add(n);
    if (found.size === needles.length) break;
    tail = window.subarray(Math.max(0, window.length - overlap));
  }
  return found;
}
