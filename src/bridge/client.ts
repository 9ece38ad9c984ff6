import * as grpc from '@grpc/grpc-js';
import type { MethodDefinition } from '@grpc/proto-loader';
import protobuf from 'protobufjs';
import {
  containerServices,
  decodeFileDescriptor,
  type FileDescriptor,
  type ReflectionVersion,
  reflectionMethods,
  serviceName,
  type WireName,
} from './proto.js';

/** Per call: a deadline always applies (the client's default when not given); `signal` cancels the call. */
export interface CallOptions {
  deadlineMs?: number;
  signal?: AbortSignal;
}

const DEFAULT_DEADLINE_MS = 15_000;
const RAW_CHUNK = 64 * 1024;

// The bridge refuses requests over its own limit (4 MiB for v3, 16 MiB for bridgepb ≥ v0.7.0; checks
// provoke both, so we send without a limit of our own); responses such as big recursive listings are allowed
// up to 64 MiB, above either bridge's 16 MiB. No keepalive pings: a v3 bridge enforces grpc-go's default
// policy (contract §4). No retries: one attempt per call, as Memoh's client.
export const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc.max_receive_message_length': 64 * 1024 * 1024,
  'grpc.max_send_message_length': -1,
  'grpc.enable_retries': 0,
};

export interface FileEntry {
  path: string;
  isDir: boolean;
  size: number;
  mode: string;
  modTime: string;
  /** Only on the synthetic entry of a collapsed directory (≥ v0.6.2); '' otherwise. */
  summary: string;
}

export interface ListDirOptions {
  recursive?: boolean;
  offset?: number;
  limit?: number;
  collapseThreshold?: number;
  maxEntries?: number;
}

export interface ListDirPage {
  entries: FileEntry[];
  /** Entries before paging (≥ v0.6.2; a v3 bridge leaves it 0). */
  totalCount: number;
  truncated: boolean;
}

export interface ReadFileResult {
  content: string;
  totalLines: number;
  binary: boolean;
}

type StreamKind = 'STDOUT' | 'STDERR' | 'EXIT';
export interface ExecOutput {
  stream: StreamKind | `UNKNOWN(${number})`;
  data: Buffer;
  exitCode: number;
}

export interface ExecRequest {
  command: string;
  workDir?: string;
  env?: readonly string[];
  timeoutSeconds?: number;
  pty?: boolean;
  resize?: { cols: number; rows: number };
  /** Goes into the FIRST message: ignored by v3 bridges, written to stdin in pipe mode from v0.13.0. */
  configStdin?: string | Buffer;
  /** ≥ v0.15.0: start from an empty environment. */
  cleanEnv?: boolean;
  /** ≥ v0.15.0: names or `PREFIX*` removed from the inherited environment before `env` is added. */
  unsetEnv?: readonly string[];
}

export interface ExecResult {
  stdout: Buffer;
  stderr: Buffer;
  /** From the EXIT message; undefined when the call ended without one. */
  exitCode?: number;
  messages: ExecOutput[];
  /** Messages received after EXIT (there must be none). */
  afterExit: number;
  exitMessages: number;
  ms: number;
}

/** A failed call: the gRPC status, in words a check can print. */
export class BridgeCallError extends Error {
  override readonly name = 'BridgeCallError';
  constructor(
    readonly call: string,
    readonly code: grpc.status,
    readonly details: string,
    /** For Exec: what arrived before the error. */
    readonly partial?: ExecResult,
  ) {
    super(`${call}: ${codeName(code)}${details ? ` (${details})` : ''}`);
  }
  get codeName(): string {
    return codeName(this.code);
  }
}

export function codeName(code: number): string {
  return (grpc.status as unknown as Record<number, string>)[code] ?? `code ${code}`;
}

/** A gRPC failure of a bridge call, as an error with the call named. */
/**
 * Cancels `call` when `signal` aborts; returns the detach for the call's end. A check that is already over (its
 * signal aborted) must not leave a stream running behind it: an abort listener added now would never fire.
 */
function cancelOnAbort(call: { cancel(): void }, signal: AbortSignal | undefined): () => void {
  const onAbort = (): void => call.cancel();
  if (signal?.aborted) queueMicrotask(onAbort);
  else signal?.addEventListener('abort', onAbort, { once: true });
  return () => signal?.removeEventListener('abort', onAbort);
}

function callError(call: string, err: unknown, partial?: ExecResult): Error {
  const e = err as Partial<grpc.ServiceError>;
  if (typeof e?.code === 'number') return new BridgeCallError(call, e.code, e.details ?? '', partial);
  return err instanceof Error ? err : new Error(String(err));
}

/** int64 arrives as a decimal string; anything beyond 2^53 is not a size any filesystem here can have. */
export function int64(value: unknown, field: string): number {
  const n = Number(value ?? 0);
  if (!Number.isSafeInteger(n)) throw new Error(`${field}=${String(value)} is not a safe integer`);
  return n;
}

function fileEntry(raw: Record<string, unknown> | null | undefined): FileEntry {
  const r = raw ?? {};
  return {
    path: String(r.path ?? ''),
    isDir: Boolean(r.isDir),
    size: int64(r.size, 'size'),
    mode: String(r.mode ?? ''),
    modTime: String(r.modTime ?? ''),
    summary: String(r.summary ?? ''),
  };
}

const show = (s: string): string => JSON.stringify(s);

type Method = MethodDefinition<object, object>;

/** One bidirectional stream of `m` on `channel`. */
function openBidi(
  channel: grpc.Client,
  m: Method,
  options: grpc.CallOptions,
  md = new grpc.Metadata(),
): grpc.ClientDuplexStream<object, object> {
  return channel.makeBidiStreamRequest(m.path, m.requestSerialize, m.responseDeserialize, md, options);
}

/**
 * Typed client for ContainerService under one wire name. Every call carries a deadline; several clients
 * (wire names, per-check signals) can share one channel.
 */
export class BridgeClient {
  constructor(
    readonly channel: grpc.Client,
    readonly service: WireName,
    private readonly defaults: CallOptions = {},
  ) {}

  /** The same channel under another wire name, or with other default call options. */
  with(opts: { service?: WireName } & CallOptions): BridgeClient {
    const { service, ...call } = opts;
    return new BridgeClient(this.channel, service ?? this.service, { ...this.defaults, ...call });
  }

  get serviceName(): string {
    return serviceName(this.service);
  }

  private method(name: string): Method {
    const m = containerServices[this.service][name];
    if (!m) throw new Error(`ContainerService has no method ${name}`);
    return m as Method;
  }

  private callOptions(opts?: CallOptions): { options: grpc.CallOptions; signal?: AbortSignal } {
    const deadlineMs = opts?.deadlineMs ?? this.defaults.deadlineMs ?? DEFAULT_DEADLINE_MS;
    return { options: { deadline: Date.now() + deadlineMs }, signal: opts?.signal ?? this.defaults.signal };
  }

  /** One unary call; `encoded`: the request is already its protobuf encoding, sent as it is. */
  unary<Res>(name: string, request: object, label: string, opts?: CallOptions & { encoded?: boolean }): Promise<Res> {
    const m = this.method(name);
    const { options, signal } = this.callOptions(opts);
    return new Promise<Res>((resolve, reject) => {
      if (signal?.aborted) return reject(new Error(`${label}: cancelled`));
      const call = this.channel.makeUnaryRequest(
        m.path,
        opts?.encoded ? (b: object) => b as Buffer : m.requestSerialize,
        m.responseDeserialize,
        request,
        new grpc.Metadata(),
        options,
        (err, res) => {
          detach();
          if (err) reject(callError(label, err));
          else resolve(res as Res);
        },
      );
      const detach = cancelOnAbort(call, signal);
    });
  }

  async stat(path: string, opts?: CallOptions): Promise<FileEntry> {
    const res = await this.unary<{ entry?: Record<string, unknown> }>('Stat', { path }, `Stat(${show(path)})`, opts);
    return fileEntry(res.entry);
  }

  async readFile(
    path: string,
    range: { lineOffset?: number; nLines?: number } = {},
    opts?: CallOptions,
  ): Promise<ReadFileResult> {
    const res = await this.unary<{ content: string; totalLines: number; binary: boolean }>(
      'ReadFile',
      { path, lineOffset: range.lineOffset ?? 0, nLines: range.nLines ?? 0 },
      `ReadFile(${show(path)})`,
      opts,
    );
    return { content: res.content, totalLines: res.totalLines, binary: res.binary };
  }

  async writeFile(path: string, content: string | Buffer, opts?: CallOptions): Promise<void> {
    const bytes = typeof content === 'string' ? Buffer.from(content) : content;
    await this.unary('WriteFile', { path, content: bytes }, `WriteFile(${show(path)})`, opts);
  }

  /**
   * WriteFile of `size` zero bytes, for proving a bridge's message limit. The request is encoded once, into a
   * zero-filled buffer whose pages the kernel maps only when written: the usual way (the content, then its
   * protobuf encoding, then the gRPC frame) would hold three 17 MiB copies where this holds one, the frame.
   */
  async writeFileOfSize(path: string, size: number, opts?: CallOptions): Promise<void> {
    const head = Buffer.concat([
      this.method('WriteFile').requestSerialize({ path }),
      // Field 2 (content), wire type 2 (length-delimited), then its length: protobuf's own varints.
      protobuf.Writer.create()
        .uint32((2 << 3) | 2)
        .uint32(size)
        .finish(),
    ]);
    const request = Buffer.alloc(head.length + size);
    head.copy(request);
    await this.unary('WriteFile', request, `WriteFile(${show(path)}, ${size} bytes)`, { ...opts, encoded: true });
  }

  async listDir(path: string, recursive = false, opts?: CallOptions): Promise<FileEntry[]> {
    return (await this.listDirPage(path, { recursive }, opts)).entries;
  }

  /** ListDir with the paging, collapse and `max_entries` fields of later bridges (0: not set). */
  async listDirPage(path: string, o: ListDirOptions = {}, opts?: CallOptions): Promise<ListDirPage> {
    const set = Object.entries(o).filter(([k, v]) => k !== 'recursive' && v);
    const label = `ListDir(${show(path)}${o.recursive ? ', recursive' : ''}${set.map(([k, v]) => `, ${k}=${v}`).join('')})`;
    const res = await this.unary<{ entries: Record<string, unknown>[]; totalCount: number; truncated: boolean }>(
      'ListDir',
      {
        path,
        recursive: o.recursive ?? false,
        offset: o.offset ?? 0,
        limit: o.limit ?? 0,
        collapseThreshold: o.collapseThreshold ?? 0,
        maxEntries: o.maxEntries ?? 0,
      },
      label,
      opts,
    );
    return { entries: res.entries.map(fileEntry), totalCount: res.totalCount ?? 0, truncated: Boolean(res.truncated) };
  }

  async mkdir(path: string, opts?: CallOptions): Promise<void> {
    await this.unary('Mkdir', { path }, `Mkdir(${show(path)})`, opts);
  }

  async rename(oldPath: string, newPath: string, opts?: CallOptions): Promise<void> {
    await this.unary('Rename', { oldPath, newPath }, `Rename(${show(oldPath)}, ${show(newPath)})`, opts);
  }

  async deleteFile(path: string, recursive = false, opts?: CallOptions): Promise<void> {
    await this.unary(
      'DeleteFile',
      { path, recursive },
      `DeleteFile(${show(path)}${recursive ? ', recursive' : ''})`,
      opts,
    );
  }

  /** The file's chunks as the bridge sent them; the error of a failed open arrives on the stream. */
  readRaw(path: string, opts?: CallOptions & { maxBytes?: number }): Promise<Buffer[]> {
    return this.readChunks('ReadRaw', { path }, `ReadRaw(${show(path)})`, opts);
  }

  /** v0.18.0: `relativePath` opened beneath `root` with no symlink anywhere on the way (openat2). */
  readRawNoFollow(root: string, relativePath: string, opts?: CallOptions & { maxBytes?: number }): Promise<Buffer[]> {
    return this.readChunks(
      'ReadRawNoFollow',
      { root, relativePath },
      `ReadRawNoFollow(${show(root)}, ${show(relativePath)})`,
      opts,
    );
  }

  private readChunks(
    name: string,
    request: object,
    label: string,
    opts?: CallOptions & { maxBytes?: number },
  ): Promise<Buffer[]> {
    const m = this.method(name);
    const { options, signal } = this.callOptions(opts);
    return new Promise<Buffer[]>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let total = 0;
      let tooBig = false;
      const call = this.channel.makeServerStreamRequest(
        m.path,
        m.requestSerialize,
        m.responseDeserialize,
        request,
        new grpc.Metadata(),
        options,
      );
      const detach = cancelOnAbort(call, signal);
      call.on('data', (msg: { data: Buffer }) => {
        chunks.push(msg.data);
        total += msg.data.length;
        if (opts?.maxBytes !== undefined && total > opts.maxBytes && !tooBig) {
          tooBig = true;
          call.cancel();
        }
      });
      call.on('error', (err) => {
        detach();
        if (tooBig) reject(new Error(`${label}: more than ${opts?.maxBytes} bytes`));
        else reject(callError(label, err));
      });
      call.on('end', () => {
        detach();
        resolve(chunks);
      });
    });
  }

  /** Sends exactly these WriteRaw messages (path only where given; `abort` from v0.18.0), then half-closes. */
  writeRaw(
    messages: readonly { path?: string; data?: Buffer; abort?: boolean }[],
    opts?: CallOptions & { label?: string },
  ): Promise<number> {
    const label = opts?.label ?? `WriteRaw(${show(messages[0]?.path ?? '')})`;
    const wire = messages.map((msg) => ({
      path: msg.path ?? '',
      data: msg.data ?? Buffer.alloc(0),
      abort: msg.abort ?? false,
    }));
    return this.writeChunks('WriteRaw', wire, label, opts);
  }

  /** v0.18.0: the first message names `root` and `relativePath`; the file is created O_EXCL, 0600, no symlinks. */
  writeRawNoFollow(
    messages: readonly { root?: string; relativePath?: string; data?: Buffer; abort?: boolean }[],
    opts?: CallOptions & { label?: string },
  ): Promise<number> {
    const first = messages[0];
    const label = opts?.label ?? `WriteRawNoFollow(${show(first?.root ?? '')}, ${show(first?.relativePath ?? '')})`;
    const wire = messages.map((msg) => ({
      root: msg.root ?? '',
      relativePath: msg.relativePath ?? '',
      data: msg.data ?? Buffer.alloc(0),
      abort: msg.abort ?? false,
    }));
    return this.writeChunks('WriteRawNoFollow', wire, label, opts);
  }

  private writeChunks(name: string, wire: readonly object[], label: string, opts?: CallOptions): Promise<number> {
    const m = this.method(name);
    const { options, signal } = this.callOptions(opts);
    return new Promise<number>((resolve, reject) => {
      const call = this.channel.makeClientStreamRequest(
        m.path,
        m.requestSerialize,
        m.responseDeserialize,
        new grpc.Metadata(),
        options,
        (err, res) => {
          detach();
          if (err) return reject(callError(label, err));
          try {
            resolve(int64((res as { bytesWritten?: unknown }).bytesWritten, 'bytes_written'));
          } catch (e) {
            reject(e);
          }
        },
      );
      const detach = cancelOnAbort(call, signal);
      // A server that fails early ends the call; later writes then just go nowhere.
      call.on('error', () => {});
      for (const msg of wire) call.write(msg);
      call.end();
    });
  }

  /** Writes a file the way Memoh does (64 KiB chunks, path on the first only), but creates empty files too. */
  writeRawFile(path: string, data: Buffer, opts?: CallOptions): Promise<number> {
    const messages: { path?: string; data: Buffer }[] = [];
    for (let off = 0; off < data.length || off === 0; off += RAW_CHUNK) {
      messages.push({ ...(off === 0 ? { path } : {}), data: data.subarray(off, off + RAW_CHUNK) });
      if (data.length === 0) break;
    }
    return this.writeRaw(messages, { ...opts, label: `WriteRaw(${show(path)})` });
  }

  /** Opens an Exec stream: the first message is the configuration; stdin and resizes follow. */
  openExec(req: ExecRequest, opts?: CallOptions): ExecSession {
    return new ExecSession(this.channel, this.method('Exec'), req, this.callOptions(opts));
  }

  /** Exec in pipe mode: config, then each stdin piece as its own message, then half-close (unless told not to). */
  async exec(
    req: ExecRequest & { stdin?: readonly (string | Buffer)[]; halfClose?: boolean },
    opts?: CallOptions,
  ): Promise<ExecResult> {
    const session = this.openExec(req, opts);
    for (const piece of req.stdin ?? []) session.send({ stdin: piece });
    if (req.halfClose !== false) session.halfClose();
    return session.done;
  }

  /** ≥ v0.8.3: a byte stream to `host:port` inside the workspace (loopback only). */
  openTunnel(address: string, opts?: CallOptions): TunnelSession {
    return new TunnelSession(this.channel, this.method('Tunnel'), address, this.callOptions(opts));
  }

  /**
   * ≥ v0.10.0: serve the in-container tools proxy (127.0.0.1:18732): the bridge forwards each HTTP request
   * it receives there down this stream, and `handler`'s answer goes back. `route` is sent as the metadata
   * x-memoh-reverse-http-route (none: the default route).
   */
  serveReverseHTTP(handler: ReverseHTTPHandler, opts?: CallOptions & { route?: string }): ReverseHTTPSession {
    return new ReverseHTTPSession(
      this.channel,
      this.method('ReverseHTTP'),
      handler,
      opts?.route,
      this.callOptions(opts),
    );
  }

  /** Exec, one line: the text the checks print for a command. */
  static label(command: string): string {
    return `Exec(${show(command.length > 60 ? `${command.slice(0, 57)}...` : command)})`;
  }

  /** Server reflection: the services the bridge lists. */
  async listServices(version: ReflectionVersion, opts?: CallOptions): Promise<string[]> {
    const res = await this.reflect(
      version,
      { listServices: '*' },
      'listServicesResponse',
      `ServerReflectionInfo(${version}, list_services)`,
      opts,
    );
    return (res as { service: { name: string }[] }).service.map((s) => s.name);
  }

  /** Server reflection: the file descriptors that define `symbol` (the first is the file holding it). */
  async fileContainingSymbol(
    version: ReflectionVersion,
    symbol: string,
    opts?: CallOptions,
  ): Promise<FileDescriptor[]> {
    const res = await this.reflect(
      version,
      { fileContainingSymbol: symbol },
      'fileDescriptorResponse',
      `ServerReflectionInfo(${version}, file_containing_symbol ${symbol})`,
      opts,
    );
    return (res as { fileDescriptorProto: Buffer[] }).fileDescriptorProto.map((b) => decodeFileDescriptor(b));
  }

  private reflect(
    version: ReflectionVersion,
    request: object,
    want: string,
    label: string,
    opts?: CallOptions,
  ): Promise<unknown> {
    const m = reflectionMethods[version];
    const { options, signal } = this.callOptions(opts);
    return new Promise<unknown>((resolve, reject) => {
      let settled = false;
      const call = openBidi(this.channel, m, options);
      const finish = (fn: () => void): void => {
        if (settled) return;
        settled = true;
        detach();
        fn();
      };
      const detach = cancelOnAbort(call, signal);
      call.on(
        'data',
        (
          res: { messageResponse?: string; errorResponse?: { errorCode: number; errorMessage: string } } & Record<
            string,
            unknown
          >,
        ) => {
          if (res.messageResponse === want && res[want]) {
            finish(() => resolve(res[want]));
          } else if (res.errorResponse) {
            const e = res.errorResponse;
            finish(() => reject(new BridgeCallError(label, e.errorCode, e.errorMessage)));
          } else {
            finish(() => reject(new Error(`${label}: unexpected response ${res.messageResponse ?? '(empty)'}`)));
          }
          call.end();
        },
      );
      call.on('error', (err) => finish(() => reject(callError(label, err))));
      call.on('end', () => finish(() => reject(new Error(`${label}: stream ended without a response`))));
      call.write({ host: '', ...request });
    });
  }

  /** The standard health check; resolves with the raw response, rejects with the status. */
  healthCheck(opts?: CallOptions): Promise<Buffer> {
    const { options } = this.callOptions(opts);
    const raw = (b: Buffer): Buffer => b;
    return new Promise<Buffer>((resolve, reject) => {
      this.channel.makeUnaryRequest(
        '/grpc.health.v1.Health/Check',
        raw,
        raw,
        Buffer.alloc(0),
        new grpc.Metadata(),
        options,
        (err, res) => (err ? reject(callError('grpc.health.v1.Health/Check', err)) : resolve(res as Buffer)),
      );
    });
  }
}

/** One running Exec: send stdin / resizes, half-close, cancel; `done` settles with everything received. */
export class ExecSession {
  readonly done: Promise<ExecResult>;
  private readonly call: grpc.ClientDuplexStream<object, object>;
  private readonly stdout: Buffer[] = [];
  private readonly stderr: Buffer[] = [];
  private readonly messages: ExecOutput[] = [];
  private readonly started = performance.now();
  private exitCode: number | undefined;
  private exitMessages = 0;
  private afterExit = 0;
  private waiters: { test: () => boolean; resolve: () => void }[] = [];
  private ended = false;
  private failure: Error | undefined;
  readonly label: string;

  constructor(
    channel: grpc.Client,
    m: Method,
    req: ExecRequest,
    call: { options: grpc.CallOptions; signal?: AbortSignal },
  ) {
    this.label = `${req.pty ? 'PTY ' : ''}${BridgeClient.label(req.command)}`;
    this.call = openBidi(channel, m, call.options);
    const signal = call.signal;
    const detach = cancelOnAbort(this.call, signal);
    this.done = new Promise<ExecResult>((resolve, reject) => {
      this.call.on('data', (raw: { stream: string | number; data: Buffer; exitCode: number }) => this.receive(raw));
      this.call.on('error', (err) => {
        detach();
        this.failure = callError(this.label, err, this.result());
        this.finish();
        reject(this.failure);
      });
      this.call.on('end', () => {
        detach();
        this.finish();
        resolve(this.result());
      });
    });
    // Callers await `done` at some point; until then a rejection must not count as unhandled.
    this.done.catch(() => {});
    const first: Record<string, unknown> = {
      command: req.command,
      workDir: req.workDir ?? '',
      env: [...(req.env ?? [])],
      timeoutSeconds: req.timeoutSeconds ?? 0,
      pty: req.pty ?? false,
    };
    if (req.resize) first.resize = req.resize;
    if (req.configStdin !== undefined) first.stdinData = Buffer.from(req.configStdin);
    if (req.cleanEnv) first.cleanEnv = true;
    if (req.unsetEnv?.length) first.unsetEnv = [...req.unsetEnv];
    this.call.write(first);
  }

  private receive(raw: { stream: string | number; data: Buffer; exitCode: number }): void {
    const stream = typeof raw.stream === 'number' ? (`UNKNOWN(${raw.stream})` as const) : (raw.stream as StreamKind);
    const msg: ExecOutput = { stream, data: raw.data, exitCode: raw.exitCode };
    if (this.exitMessages > 0) this.afterExit++;
    this.messages.push(msg);
    if (stream === 'STDOUT') this.stdout.push(raw.data);
    else if (stream === 'STDERR') this.stderr.push(raw.data);
    else if (stream === 'EXIT') {
      this.exitMessages++;
      this.exitCode ??= raw.exitCode;
    }
    this.poke();
  }

  private poke(): void {
    this.waiters = this.waiters.filter((w) => {
      if (!w.test()) return true;
      w.resolve();
      return false;
    });
  }

  private finish(): void {
    this.ended = true;
    this.poke();
  }

  result(): ExecResult {
    return {
      stdout: Buffer.concat(this.stdout),
      stderr: Buffer.concat(this.stderr),
      exitCode: this.exitCode,
      messages: [...this.messages],
      afterExit: this.afterExit,
      exitMessages: this.exitMessages,
      ms: Math.round(performance.now() - this.started),
    };
  }

  /** Output so far (STDOUT, which in PTY mode is everything). */
  get output(): string {
    return Buffer.concat(this.stdout).toString('utf8');
  }

  send(input: { stdin?: string | Buffer; resize?: { cols: number; rows: number } }): void {
    const msg: Record<string, unknown> = {};
    if (input.stdin !== undefined) msg.stdinData = Buffer.from(input.stdin);
    if (input.resize) msg.resize = input.resize;
    this.call.write(msg);
  }

  halfClose(): void {
    this.call.end();
  }

  cancel(): void {
    this.call.cancel();
  }

  /** Resolves once STDOUT matches, or throws after `ms` (or when the stream ended first). */
  async waitForOutput(pattern: RegExp, ms: number): Promise<void> {
    if (pattern.test(this.output)) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(
          new Error(
            `${this.label}: no output matching ${pattern} within ${ms} ms (got ${JSON.stringify(this.output.slice(-200))})`,
          ),
        );
      }, ms);
      const waiter = {
        test: () => this.ended || pattern.test(this.output),
        resolve: () => {
          clearTimeout(timer);
          if (pattern.test(this.output)) resolve();
          else if (this.failure) reject(this.failure);
          else
            reject(
              new Error(
                `${this.label}: ended without output matching ${pattern} (got ${JSON.stringify(this.output.slice(-200))})`,
              ),
            );
        },
      };
      this.waiters.push(waiter);
    });
  }
}

/** Exec half-closed before any message (the bridge must refuse with INVALID_ARGUMENT). */
export function execWithoutConfig(client: BridgeClient, opts?: CallOptions): Promise<ExecOutput[]> {
  const m = containerServices[client.service].Exec as Method;
  const deadline = Date.now() + (opts?.deadlineMs ?? DEFAULT_DEADLINE_MS);
  const stream = openBidi(client.channel, m, { deadline });
  return new Promise((resolve, reject) => {
    const received: ExecOutput[] = [];
    stream.on('data', (raw: ExecOutput) => received.push(raw));
    stream.on('error', (err) => reject(callError('Exec(no configuration message)', err)));
    stream.on('end', () => resolve(received));
    stream.end();
  });
}

interface TunnelFrame {
  kind: 'open' | 'data' | 'close';
  data?: Buffer;
  error?: string;
}

/** One Tunnel stream: the open frame is sent at once; `frames` holds what came back, `done` settles at the end. */
export class TunnelSession {
  readonly frames: TunnelFrame[] = [];
  readonly done: Promise<TunnelFrame[]>;
  readonly label: string;
  private readonly call: grpc.ClientDuplexStream<object, object>;
  private waiters: (() => void)[] = [];
  private ended = false;

  constructor(
    channel: grpc.Client,
    m: Method,
    address: string,
    call: { options: grpc.CallOptions; signal?: AbortSignal },
  ) {
    this.label = `Tunnel(${show(address)})`;
    this.call = openBidi(channel, m, call.options);
    const signal = call.signal;
    const detach = cancelOnAbort(this.call, signal);
    this.done = new Promise<TunnelFrame[]>((resolve, reject) => {
      this.call.on('data', (raw: { frame?: string; data?: { data: Buffer }; close?: { error: string } }) => {
        if (raw.frame === 'data') this.frames.push({ kind: 'data', data: raw.data?.data ?? Buffer.alloc(0) });
        else if (raw.frame === 'close') this.frames.push({ kind: 'close', error: raw.close?.error ?? '' });
        else this.frames.push({ kind: 'open' });
        this.poke();
      });
      this.call.on('error', (err) => {
        detach();
        this.ended = true;
        this.poke();
        reject(callError(this.label, err));
      });
      this.call.on('end', () => {
        detach();
        this.ended = true;
        this.poke();
        resolve(this.frames);
      });
    });
    this.done.catch(() => {});
    this.call.write({ open: { address } });
  }

  private poke(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Bytes of every data frame so far. */
  get received(): Buffer {
    return Buffer.concat(this.frames.filter((f) => f.kind === 'data').map((f) => f.data ?? Buffer.alloc(0)));
  }

  /** Resolves once `test` holds for the frames so far, or the stream ended; rejects after `ms`. */
  async waitFor(test: (frames: readonly TunnelFrame[]) => boolean, ms: number, what: string): Promise<void> {
    const deadline = Date.now() + ms;
    while (!test(this.frames) && !this.ended) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.label}: no ${what} within ${ms} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  send(data: Buffer | string): void {
    this.call.write({ data: { data: Buffer.from(data) } });
  }

  /** A close frame; with an error the bridge ends the stream CANCELED. */
  close(error = ''): void {
    this.call.write({ close: { error } });
  }

  halfClose(): void {
    this.call.end();
  }

  cancel(): void {
    this.call.cancel();
  }
}

export interface ReverseHTTPRequest {
  id: string;
  method: string;
  url: string;
  headers: { name: string; values: string[] }[];
  body: Buffer;
}
export type ReverseHTTPAnswer =
  | { statusCode: number; headers?: { name: string; values: string[] }[]; body?: Buffer | string }
  | { error: string };
export type ReverseHTTPHandler = (req: ReverseHTTPRequest) => ReverseHTTPAnswer | Promise<ReverseHTTPAnswer>;

/** One ReverseHTTP stream: every request the bridge forwards is answered by the handler; `requests` records them. */
export class ReverseHTTPSession {
  readonly requests: ReverseHTTPRequest[] = [];
  readonly done: Promise<void>;
  readonly label: string;
  private readonly call: grpc.ClientDuplexStream<object, object>;

  constructor(
    channel: grpc.Client,
    m: Method,
    handler: ReverseHTTPHandler,
    route: string | undefined,
    call: { options: grpc.CallOptions; signal?: AbortSignal },
  ) {
    this.label = `ReverseHTTP(${route === undefined ? 'default route' : show(route)})`;
    const md = new grpc.Metadata();
    if (route !== undefined) md.set('x-memoh-reverse-http-route', route);
    this.call = openBidi(channel, m, call.options, md);
    const signal = call.signal;
    const detach = cancelOnAbort(this.call, signal);
    this.done = new Promise<void>((resolve, reject) => {
      this.call.on('data', (raw: { frame?: string; request?: ReverseHTTPRequest }) => {
        if (raw.frame !== 'request' || !raw.request) return;
        const req = raw.request;
        this.requests.push(req);
        void Promise.resolve()
          .then(() => handler(req))
          .then(
            (answer) => {
              if ('error' in answer) this.call.write({ error: { id: req.id, error: answer.error } });
              else
                this.call.write({
                  response: {
                    id: req.id,
                    statusCode: answer.statusCode,
                    headers: answer.headers ?? [],
                    body: Buffer.from(answer.body ?? ''),
                  },
                });
            },
            (err: unknown) => this.call.write({ error: { id: req.id, error: String(err) } }),
          );
      });
      this.call.on('error', (err) => {
        detach();
        // Our own cancel is how a session ends.
        if ((err as grpc.ServiceError).code === grpc.status.CANCELLED) resolve();
        else reject(callError(this.label, err));
      });
      this.call.on('end', () => {
        detach();
        resolve();
      });
    });
    this.done.catch(() => {});
  }

  close(): void {
    this.call.cancel();
  }
}
