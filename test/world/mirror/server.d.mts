// Types for server.mjs (the loopback download mirror of the test world).

/**
 * What a matching request gets:
 * - '500', '404' (or any 3-digit status string): that status, short text body
 * - 'reset':    headers with the full content-length, `bytes` of body, then a TCP RST (client: ECONNRESET)
 * - 'truncate': headers with the full content-length, `bytes` of body, then an orderly close (FIN)
 * - 'corrupt':  full length, the bytes at `at` (default: the middle of the file) flipped, so checksums mismatch
 * - 'slow':     the body trickles at `bytesPerSecond` (default 64 KiB/s)
 * - 'stall':    headers + `bytes` of body, then nothing more until the client or close() ends it
 * - 'hang':     no answer at all until the client or close() ends it
 */
export type FaultKind = '500' | '404' | 'reset' | 'slow' | 'truncate' | 'corrupt' | 'stall' | 'hang' | `${number}`;

export interface FaultOptions {
  /** Apply to the next N matching requests only, then behave normally. Default: every matching request. */
  times?: number;
  /** reset / truncate / stall: body bytes sent before the fault. Default: min(64 KiB, half the body). */
  bytes?: number;
  /** slow: throughput in bytes per second. Default 65536. */
  bytesPerSecond?: number;
  /** corrupt: absolute file offsets whose byte is flipped (XOR 0xff). Default: [floor(size / 2)]. */
  at?: number[];
  /** Any kind: wait this long before answering. */
  delayMs?: number;
  /** Match only requests with a Range header (the parts of a file fetched over several connections). */
  ranged?: boolean;
}

export interface FaultHandle {
  /** How many requests this fault has matched so far. */
  readonly hits: number;
  remove(): void;
}

export interface MirrorRequest {
  method: string;
  /** URL path, decoded and normalized, without the query string. */
  path: string;
  /** Status sent (0 while unanswered, e.g. under 'hang'). */
  status: number;
  /** Fault kind applied to this request, if any. */
  fault?: string;
  /** The Range header, when a 206 was served. */
  range?: string;
  /** Body bytes written (set when the response closes). */
  bytes?: number;
  /** Whether the body was sent in full (set when the response closes). */
  complete?: boolean;
  /** Under a line model: the latency the request waited before its answer. */
  latencyMs?: number;
  /** Under a line model with a rate: the time the line spent carrying this body (bytes ÷ rate, queueing excluded). */
  lineMs?: number;
}

/**
 * The line between mirror and clients. `latencyMs` delays every answer (a round trip); `bytesPerSecond` caps
 * body bytes on each connection (`shared: false`, a CDN) or on one line all connections share (`shared: true`,
 * a slow access link). Bytes follow a virtual clock: load makes the line slower, never faster.
 */
export interface LineModel {
  bytesPerSecond?: number;
  shared?: boolean;
  latencyMs?: number;
}

export interface MirrorUrls {
  /** nodejs.org/dist layout: `${node}/index.json`, `${node}/v24.14.0/node-v24.14.0-linux-x64.tar.xz`, SHASUMS256.txt */
  node: string;
  /** unofficial-builds layout: `${nodeMusl}/v24.14.0/node-v24.14.0-linux-x64-musl.tar.xz`, index.json, SHASUMS256.txt */
  nodeMusl: string;
  /** npm registry: `${npm}/npm` (packument), `${npm}/npm/10.9.2`, `${npm}/npm/-/npm-10.9.2.tgz` */
  npm: string;
  /** uv release downloads: `${uv}/0.9.5/uv-x86_64-unknown-linux-musl.tar.gz` (+ `.sha256`) */
  uv: string;
  /** Alpine repositories: `${alpine}/v3.23/main/x86_64/APKINDEX.tar.gz`, `.../libgcc-14.2.0-r6.apk` */
  alpine: string;
}

export interface Mirror {
  /** http://127.0.0.1:PORT */
  url: string;
  /** The served tree. */
  root: string;
  urls: MirrorUrls;
  /** Every request, in arrival order. */
  requests: MirrorRequest[];
  /** Inject a fault for requests whose path contains `match` (string) or matches it (RegExp). First match wins. */
  fault(match: string | RegExp, kind: FaultKind, opts?: FaultOptions): FaultHandle;
  clearFaults(): void;
  /** 404 this exact path (e.g. '/node/v24.14.0/SHASUMS256.txt'); leading slash optional. */
  hide(path: string): void;
  /** Undo hide() for one path, or for all when called without one. */
  unhide(path?: string): void;
  /** Drop linux-arm64-musl from node-musl/index.json (+ index.tab, SHASUMS256.txt) for these versions and 404 its files. */
  setOmitMuslArm64(versions: string[]): void;
  /** Serve through this line from now on (undefined: loopback speed), transfers under way included; the new line starts idle. */
  setLine(line: LineModel | undefined): void;
  /** The line in force, if any. */
  readonly line: (Required<Pick<LineModel, 'shared' | 'latencyMs'>> & Pick<LineModel, 'bytesPerSecond'>) | undefined;
  /** Stops listening and destroys every open connection (also stalled / hanging ones). */
  close(): Promise<void>;
}

export interface MirrorOptions {
  /** Tree to serve. Default `${MEMOH_WORLD_DIR:-/var/cache/memoh-world}/mirror`. */
  root?: string;
  /** Port on 127.0.0.1. Default 0 (a free one). */
  port?: number;
  /** Versions ('24.21.0' or 'v24.21.0') whose linux-arm64-musl build is not offered. */
  omitMuslArm64?: string[];
  /** Serve through this line model from the start. */
  line?: LineModel;
}

export function startMirror(options?: MirrorOptions): Promise<Mirror>;
/** Runs prepare.sh (cached: seconds; cold: minutes). Resolves to the mirror root. */
export function ensureMirror(options?: { quiet?: boolean }): Promise<string>;
export function worldDir(): string;
export function defaultMirrorRoot(): string;
/** ${MEMOH_WORLD_DIR}/node24/bin/node: the real Node 24.14.0 binary. */
export function node24Path(): string;
/** Validates a line model (throws on a bad rate or latency); undefined stays undefined. */
export function checkLine(
  line: LineModel | undefined,
): (Required<Pick<LineModel, 'shared' | 'latencyMs'>> & Pick<LineModel, 'bytesPerSecond'>) | undefined;
