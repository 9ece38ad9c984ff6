/**
 * Local registries for tests: Debian's `docker-registry` (distribution 2.8) on 127.0.0.1:<free port>, optionally
 * behind htpasswd basic auth, plus `pushImage` (skopeo, from the local docker daemon).
 *
 * Every child process gets an argv array (no shell); every wait is bounded.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { tempDir } from '../support/tmp.js';

export const REGISTRY_BIN = process.env.MEMOH_REGISTRY_BIN ?? '/usr/bin/docker-registry';

export interface RegistryAuth {
  user: string;
  password: string;
}

export interface StartRegistryOptions {
  /** Require HTTP basic auth (htpasswd, bcrypt). */
  auth?: RegistryAuth;
  /** Give up waiting for `GET /v2/` after this long (default 20 s). */
  readyTimeoutMs?: number;
}

export interface LocalRegistry {
  /** `127.0.0.1:PORT`: the registry part of an image reference */
  host: string;
  /** `http://127.0.0.1:PORT` */
  url: string;
  auth?: RegistryAuth;
  /** Temp dir holding config, htpasswd and storage; removed by stop() */
  dir: string;
  /** Kill the registry and remove its temp dir. Idempotent. */
  stop(): Promise<void>;
}

interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs argv (no shell) with a deadline; never rejects on a non-zero exit, only on spawn failure or timeout. */
export function run(
  file: string,
  args: readonly string[],
  opts: { timeoutMs?: number; input?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<RunResult> {
  const timeoutMs = opts.timeoutMs ?? 120_000;
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      env: opts.env ?? process.env,
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${file} ${args.join(' ')}: timed out after ${timeoutMs} ms\n${stderr}`));
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    if (child.stdin) {
      child.stdin.on('error', () => undefined); // the child may exit before reading: EPIPE is not our failure
      child.stdin.end(opts.input);
    }
  });
}

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error('no port'))));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Registries still running when the test process exits are killed and their dirs removed (sync, best effort).
const live = new Set<{ child: ChildProcess; dir: string }>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const r of live) {
      try {
        r.child.kill('SIGKILL');
      } catch {
        /* gone */
      }
      try {
        rmSync(r.dir, { recursive: true, force: true });
      } catch {
        /* best effort */
      }
    }
  });
}

async function htpasswdLine(auth: RegistryAuth): Promise<string> {
  if (!auth.user || auth.user.includes(':')) throw new Error('registry auth: user must be non-empty without ":"');
  const r = await run('htpasswd', ['-Bbn', auth.user, auth.password], { timeoutMs: 30_000 });
  const line = r.stdout.split('\n').find((l) => l.startsWith(`${auth.user}:`));
  if (r.code !== 0 || !line) throw new Error(`htpasswd failed (exit ${r.code}): ${r.stderr.trim()}`);
  return `${line}\n`;
}

/** The registry's environment: REGISTRY_* variables would override the config file, so they are dropped. */
function registryEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('REGISTRY_')) env[k] = v;
  return env;
}

async function startOnce(dir: string, opts: StartRegistryOptions): Promise<LocalRegistry> {
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const url = `http://${host}`;
  const config: Record<string, unknown> = {
    version: '0.1',
    log: { level: 'warn', accesslog: { disabled: true } },
    storage: { filesystem: { rootdirectory: join(dir, 'data') }, delete: { enabled: true } },
    http: { addr: host, secret: randomBytes(16).toString('hex') },
  };
  if (opts.auth) {
    await writeFile(join(dir, 'htpasswd'), await htpasswdLine(opts.auth), { mode: 0o600 });
    config.auth = { htpasswd: { realm: 'memoh-test', path: join(dir, 'htpasswd') } };
  }
  // JSON is YAML: no YAML writer needed.
  const configPath = join(dir, 'config.yml');
  await writeFile(configPath, JSON.stringify(config, null, 2));

  const child = spawn(REGISTRY_BIN, ['serve', configPath], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: registryEnv(),
  });
  let output = '';
  const keep = (d: Buffer) => {
    output = (output + d.toString('utf8')).slice(-8192);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let exited: string | null = null;
  const exitedP = new Promise<void>((resolve) => {
    child.on('exit', (code, signal) => {
      exited = `exit ${code ?? signal}`;
      resolve();
    });
    child.on('error', (err) => {
      exited = `spawn error: ${err.message}`;
      resolve();
    });
  });
  const entry = { child, dir };
  live.add(entry);
  installExitHook();

  let stopped = false;
  const kill = async () => {
    if (exited === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await Promise.race([exitedP, sleep(10_000)]);
      clearTimeout(timer);
    }
    live.delete(entry);
  };

  const deadline = Date.now() + (opts.readyTimeoutMs ?? 20_000);
  const expected = opts.auth ? 401 : 200;
  for (;;) {
    if (exited !== null) {
      live.delete(entry);
      throw Object.assign(new Error(`docker-registry on ${host} ended before answering (${exited}):\n${output}`), {
        addrInUse: /address already in use/i.test(output),
      });
    }
    try {
      const res = await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      if (res.status === expected) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      await kill();
      throw new Error(
        `docker-registry on ${host} did not answer GET /v2/ within ${opts.readyTimeoutMs ?? 20_000} ms:\n${output}`,
      );
    }
    await sleep(100);
  }

  return {
    host,
    url,
    auth: opts.auth,
    dir,
    async stop() {
      if (stopped) return;
      stopped = true;
      await kill();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Starts a registry on 127.0.0.1 (free port, storage in a temp dir), resolved once `GET /v2/` answers. */
export async function startRegistry(opts: StartRegistryOptions = {}): Promise<LocalRegistry> {
  let lastErr: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const dir = tempDir('registry');
    try {
      return await startOnce(dir, opts);
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      lastErr = err;
      // Only a lost race for the port is worth another try.
      if (!(err as { addrInUse?: boolean }).addrInUse) throw err;
    }
  }
  throw lastErr;
}

export interface PushOptions {
  /** Manifest type written to the registry (default: the source's, i.e. docker v2s2 from the daemon). */
  format?: 'v2s2' | 'oci';
  timeoutMs?: number;
}

export interface PushResult {
  /** `HOST/REPO:TAG` */
  ref: string;
  /** Digest of the pushed manifest (`sha256:...`), as skopeo reports it */
  digest: string;
}

/**
 * Copies a local docker image to a registry: `skopeo copy docker-daemon:TAG docker://HOST/REPO:TAG` (plain HTTP).
 */
export async function pushImage(
  localTag: string,
  registryHost: string,
  repoAndTag: string,
  creds?: RegistryAuth,
  opts: PushOptions = {},
): Promise<PushResult> {
  const ref = `${registryHost}/${repoAndTag}`;
  const tmp = tempDir('push');
  try {
    const digestFile = join(tmp, 'digest');
    const args = ['--insecure-policy', 'copy', '--quiet', '--dest-tls-verify=false', '--digestfile', digestFile];
    if (creds) args.push('--dest-username', creds.user, '--dest-password', creds.password);
    else args.push('--dest-no-creds');
    if (opts.format) args.push('--format', opts.format);
    args.push(`docker-daemon:${localTag}`, `docker://${ref}`);
    const r = await run('skopeo', args, { timeoutMs: opts.timeoutMs ?? 180_000 });
    if (r.code !== 0) throw new Error(`skopeo copy ${localTag} → ${ref} failed (exit ${r.code}): ${r.stderr.trim()}`);
    const digest = (await readFile(digestFile, 'utf8')).trim();
    return { ref, digest };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

export const MANIFEST_ACCEPT = [
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
].join(', ');

export interface ManifestResponse {
  status: number;
  contentType: string | null;
  /** `Docker-Content-Digest` header */
  digestHeader: string | null;
  /** sha256 of the body as received */
  bodyDigest: string;
  body: Buffer;
  wwwAuthenticate: string | null;
}

/** `GET /v2/REPO/manifests/REF` with the docker v2 + OCI Accept headers (basic auth when given). */
export async function fetchManifest(
  registryUrl: string,
  repo: string,
  reference: string,
  auth?: RegistryAuth,
  timeoutMs = 15_000,
): Promise<ManifestResponse> {
  const headers: Record<string, string> = { Accept: MANIFEST_ACCEPT };
  if (auth) headers.Authorization = `Basic ${Buffer.from(`${auth.user}:${auth.password}`).toString('base64')}`;
  const res = await fetch(`${registryUrl}/v2/${repo}/manifests/${reference}`, {
    headers,
    signal: AbortSignal.timeout(timeoutMs),
  });
  const body = Buffer.from(await res.arrayBuffer());
  return {
    status: res.status,
    contentType: res.headers.get('content-type'),
    digestHeader: res.headers.get('docker-content-digest'),
    bodyDigest: `sha256:${createHash('sha256').update(body).digest('hex')}`,
    body,
    wwwAuthenticate: res.headers.get('www-authenticate'),
  };
}
