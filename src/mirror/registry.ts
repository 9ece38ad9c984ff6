import { createHash } from 'node:crypto';
import { type AuthOptions, type RegistryAuth, registryAuth } from '../image/auth.js';
import { exchange, type HttpPolicy, type HttpResponse, isLoopback, NetworkError, redact, schemeFor } from './http.js';

/**
 * A read-only client for the registry HTTP API v2: manifests and small blobs, nothing pulled, no
 * daemon. It answers the two ways registries ask for credentials: a Bearer challenge (fetch a token
 * from the realm, anonymously or with the user's credentials, as Docker Hub wants) and Basic.
 */

export const MEDIA = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
} as const;

const ACCEPT_MANIFESTS = [MEDIA.ociIndex, MEDIA.dockerList, MEDIA.ociManifest, MEDIA.dockerManifest].join(', ');

export interface ClientOptions extends HttpPolicy {
  /** Hosts reached over plain HTTP besides loopback. */
  insecure: readonly string[];
  /** Explicit credentials by host; the Docker config is read besides (src/image/auth.ts). */
  auth: AuthOptions;
  env?: NodeJS.ProcessEnv;
}

export interface Descriptor {
  mediaType?: string;
  digest: string;
  size?: number;
  platform?: { os?: string; architecture?: string; variant?: string; 'os.version'?: string };
  annotations?: Record<string, string>;
}

export interface ManifestJson {
  schemaVersion?: number;
  mediaType?: string;
  manifests?: Descriptor[];
  config?: Descriptor;
  layers?: Descriptor[];
}

export interface Manifest {
  digest: string;
  mediaType: string;
  kind: 'index' | 'manifest';
  json: ManifestJson;
}

/** Why the registry did not give what was asked: its HTTP status and its own words. */
export interface RegistryFailure {
  status: number;
  /** The registry's error code (`MANIFEST_UNKNOWN`, `NAME_UNKNOWN`, `UNAUTHORIZED`…) when it sent one. */
  code?: string;
  message: string;
}

export type Result<T> = { ok: true; value: T } | { ok: false; failure: RegistryFailure };

/** 404 and the registry's "no such name/manifest" codes: the thing does not exist (as opposed to an error). */
export function isNotFound(f: RegistryFailure): boolean {
  return f.status === 404 || f.code === 'MANIFEST_UNKNOWN' || f.code === 'NAME_UNKNOWN' || f.code === 'BLOB_UNKNOWN';
}

export class RegistryClient {
  /** Authorization header values by `host repository` (Bearer tokens are scoped per repository). */
  private readonly authorizations = new Map<string, string>();
  private readonly credentials = new Map<string, Promise<RegistryAuth | undefined>>();

  constructor(private readonly opts: ClientOptions) {}

  async manifest(
    host: string,
    repository: string,
    reference: string,
    method: 'GET' | 'HEAD' = 'GET',
  ): Promise<Result<Manifest>> {
    const res = await this.request(host, repository, `manifests/${reference}`, {
      method,
      headers: { Accept: ACCEPT_MANIFESTS },
    });
    if (!res.ok) return res;
    const r = res.value;
    const header = r.headers.get('docker-content-digest') ?? undefined;
    if (method === 'HEAD') {
      const digest = header ?? (reference.includes(':') ? reference : undefined);
      if (!digest) return fail(r.status, undefined, 'the registry answered HEAD without Docker-Content-Digest');
      return { ok: true, value: { digest, mediaType: contentType(r), kind: kindOf(contentType(r), {}), json: {} } };
    }
    let json: ManifestJson;
    try {
      json = JSON.parse(r.body.toString('utf8')) as ManifestJson;
    } catch {
      return fail(r.status, undefined, 'the manifest is not JSON');
    }
    const computed = `sha256:${createHash('sha256').update(r.body).digest('hex')}`;
    // The digest is the identity being compared, so it must be the content's, whatever a header claims.
    if (header?.startsWith('sha256:') && header !== computed) {
      return fail(
        r.status,
        undefined,
        `Docker-Content-Digest ${header} does not match the manifest's content (${computed})`,
      );
    }
    if (reference.startsWith('sha256:') && reference !== computed) {
      return fail(r.status, undefined, `asked for ${reference}, got content with digest ${computed}`);
    }
    const mediaType = json.mediaType ?? contentType(r);
    return {
      ok: true,
      value: {
        digest: header && !header.startsWith('sha256:') ? header : computed,
        mediaType,
        kind: kindOf(mediaType, json),
        json,
      },
    };
  }

  /** A small JSON blob (an image config). */
  async blobJson<T>(host: string, repository: string, digest: string): Promise<Result<T>> {
    const res = await this.request(host, repository, `blobs/${digest}`, { method: 'GET', maxBytes: 4 * 1024 * 1024 });
    if (!res.ok) return res;
    try {
      return { ok: true, value: JSON.parse(res.value.body.toString('utf8')) as T };
    } catch {
      return fail(res.value.status, undefined, `blob ${digest} is not JSON`);
    }
  }

  baseUrl(host: string): string {
    return `${schemeFor(host, this.opts.insecure)}://${host}/v2/`;
  }

  /** One API call, answering an auth challenge once; anything but 2xx becomes a RegistryFailure. */
  private async request(
    host: string,
    repository: string,
    path: string,
    req: { method: 'GET' | 'HEAD'; headers?: Record<string, string>; maxBytes?: number },
  ): Promise<Result<HttpResponse>> {
    const url = `${this.baseUrl(host)}${repository}/${path}`;
    const key = `${host} ${repository}`;
    const send = async (authorization?: string) =>
      exchange(
        url,
        { ...req, headers: { ...req.headers, ...(authorization ? { Authorization: authorization } : {}) } },
        this.opts,
      );
    try {
      let sent = this.authorizations.get(key);
      let res = await send(sent);
      if (res.status === 401) {
        const challenge = parseChallenge(res.headers.get('www-authenticate') ?? '');
        if (challenge) {
          const authorized = await this.authorize(host, repository, challenge);
          if (!authorized.ok) return authorized;
          if (authorized.value) {
            this.authorizations.set(key, authorized.value);
            sent = authorized.value;
            res = await send(sent);
          }
        }
      }
      if (res.status >= 200 && res.status < 300) return { ok: true, value: res };
      return { ok: false, failure: failureOf(res, req.method === 'HEAD', host, sent !== undefined) };
    } catch (err) {
      if (err instanceof NetworkError) return fail(0, undefined, err.message);
      throw err;
    }
  }

  /** The Authorization header a challenge asks for; undefined when we have nothing to offer (Basic, no login). */
  private async authorize(host: string, repository: string, ch: Challenge): Promise<Result<string | undefined>> {
    const creds = await this.credentialsFor(host);
    if (ch.scheme === 'basic') {
      if (!creds?.username || creds.password === undefined) return { ok: true, value: undefined };
      return { ok: true, value: `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}` };
    }
    const realm = ch.params.realm;
    if (!realm) return fail(401, undefined, 'the registry sent a Bearer challenge without a realm');
    let realmUrl: URL;
    try {
      realmUrl = new URL(realm);
    } catch {
      return fail(401, undefined, `the registry's token realm "${realm.slice(0, 100)}" is not a URL`);
    }
    if (
      realmUrl.protocol !== 'https:' &&
      !(realmUrl.protocol === 'http:' && (isLoopback(realmUrl.host) || this.opts.insecure.includes(realmUrl.host)))
    ) {
      return fail(
        401,
        undefined,
        `the registry's token realm ${redact(realm)} is not HTTPS; refusing to ask it for a token`,
      );
    }
    const scope = ch.params.scope ?? `repository:${repository}:pull`;
    const headers: Record<string, string> = {};
    let res: HttpResponse;
    try {
      if (creds?.identitytoken) {
        // An identity token from `docker login` is an OAuth2 refresh token (distribution's token spec).
        const form = new URLSearchParams({
          grant_type: 'refresh_token',
          refresh_token: creds.identitytoken,
          client_id: 'memoh-workspace',
          scope,
        });
        if (ch.params.service) form.set('service', ch.params.service);
        res = await this.postForm(realmUrl.toString(), form);
      } else {
        if (ch.params.service) realmUrl.searchParams.set('service', ch.params.service);
        realmUrl.searchParams.set('scope', scope);
        if (creds?.username && creds.password !== undefined) {
          headers.Authorization = `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
        }
        res = await exchange(realmUrl.toString(), { headers, maxBytes: 1024 * 1024 }, this.opts);
      }
    } catch (err) {
      if (err instanceof NetworkError) return fail(0, undefined, `token service: ${err.message}`);
      throw err;
    }
    if (res.status !== 200) {
      const f = failureOf(res, false, realmUrl.host, false);
      return fail(
        res.status,
        f.code,
        `token service ${redact(realm)} refused${creds ? ' the credentials' : ' an anonymous token'}: ${f.message}`,
      );
    }
    try {
      const body = JSON.parse(res.body.toString('utf8')) as { token?: string; access_token?: string };
      const token = body.token ?? body.access_token;
      if (!token) return fail(res.status, undefined, `token service ${redact(realm)} answered without a token`);
      return { ok: true, value: `Bearer ${token}` };
    } catch {
      return fail(res.status, undefined, `token service ${redact(realm)} answered with something other than JSON`);
    }
  }

  private async postForm(url: string, form: URLSearchParams): Promise<HttpResponse> {
    // Outside `exchange` (it only GETs): one attempt, same deadline and concurrency slot.
    return this.opts.limit(async () => {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: form.toString(),
        signal: AbortSignal.any([this.opts.signal, AbortSignal.timeout(this.opts.timeoutMs)]),
      });
      return { url: res.url, status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
    });
  }

  private credentialsFor(host: string): Promise<RegistryAuth | undefined> {
    let c = this.credentials.get(host);
    if (!c) {
      c = registryAuth(host, this.opts.auth, this.opts.env ?? process.env);
      this.credentials.set(host, c);
    }
    return c;
  }
}

export interface Challenge {
  scheme: 'bearer' | 'basic';
  params: Record<string, string>;
}

/**
 * `Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/debian:pull"`.
 * Quoted values may hold commas (scopes do). With several challenges, Bearer is preferred.
 */
export function parseChallenge(header: string): Challenge | undefined {
  const found: Challenge[] = [];
  let current: Challenge | undefined;
  let i = 0;
  const token = () => {
    const m = /^[A-Za-z0-9_.~+/-]+/.exec(header.slice(i));
    i += m ? m[0].length : 0;
    return m ? m[0] : '';
  };
  const spaces = () => {
    while (i < header.length && /[\s,]/.test(header[i]!)) i++;
  };
  while (i < header.length) {
    spaces();
    const name = token();
    if (!name) break;
    while (header[i] === ' ') i++;
    if (header[i] !== '=') {
      const scheme = name.toLowerCase();
      current = scheme === 'bearer' || scheme === 'basic' ? { scheme, params: {} } : undefined;
      if (current) found.push(current);
      continue;
    }
    i++;
    while (header[i] === ' ') i++;
    let value = '';
    if (header[i] === '"') {
      for (i++; i < header.length && header[i] !== '"'; i++)
        value += header[i] === '\\' ? (header[++i] ?? '') : header[i];
      i++;
    } else {
      value = /^[^\s,]*/.exec(header.slice(i))![0];
      i += value.length;
    }
    if (current) current.params[name.toLowerCase()] = value;
  }
  return found.find((c) => c.scheme === 'bearer') ?? found[0];
}

function contentType(r: HttpResponse): string {
  return (r.headers.get('content-type') ?? '').split(';')[0]!.trim();
}

function kindOf(mediaType: string, json: ManifestJson): 'index' | 'manifest' {
  if (mediaType === MEDIA.ociIndex || mediaType === MEDIA.dockerList || Array.isArray(json.manifests)) return 'index';
  return 'manifest';
}

function fail<T>(status: number, code: string | undefined, message: string): Result<T> {
  return { ok: false, failure: code ? { status, code, message } : { status, message } };
}

/** The registry's own words from `{"errors":[{"code","message","detail"}]}`, else the status line. */
function failureOf(res: HttpResponse, head: boolean, host: string, authorized: boolean): RegistryFailure {
  let code: string | undefined;
  let message = '';
  if (!head && res.body.length) {
    try {
      const body = JSON.parse(res.body.toString('utf8')) as {
        errors?: { code?: string; message?: string }[];
        error?: string;
        details?: string;
      };
      const e = body.errors?.[0];
      code = e?.code;
      message = e?.message ?? body.details ?? body.error ?? '';
    } catch {
      message = res.body.toString('utf8').replace(/\s+/g, ' ').trim().slice(0, 200);
    }
  }
  if (!message) message = statusText(res.status);
  if (res.status === 401) {
    message += authorized
      ? `; the registry did not accept the credentials for ${host}`
      : `; the registry wants credentials for ${host}: give --username/--password or run docker login ${host}`;
  }
  return code ? { status: res.status, code, message } : { status: res.status, message };
}

function statusText(status: number): string {
  const known: Record<number, string> = {
    401: 'unauthorized',
    403: 'forbidden',
    404: 'not found',
    429: 'too many requests',
  };
  return known[status] ?? `HTTP ${status}`;
}
