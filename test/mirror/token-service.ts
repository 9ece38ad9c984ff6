import { execFileSync, spawn } from 'node:child_process';
import { createPrivateKey, randomBytes, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { tempDir } from '../support/tmp.js';
import { freePort, REGISTRY_BIN } from '../world/registry.js';

/**
 * STAND-IN for Docker Hub's token service (auth.docker.io): a loopback HTTP server that issues
 * RS256-signed JWTs in the distribution token format. The registry in front of it is the real one
 * (Debian's docker-registry with `auth: token:`), which sends the `WWW-Authenticate: Bearer` challenge
 * and verifies each token against the certificate this service signs with.
 *
 * Anonymous requests get `pull` only (as Docker Hub gives for public images); the one user it knows
 * gets whatever it asks for (pushes in the test set-up).
 */
export interface TokenService {
  realm: string;
  service: string;
  issuer: string;
  /** PEM of the signing certificate: the registry's `rootcertbundle`. */
  certFile: string;
  /** Every token request: who asked (never the password) and for what; `refresh` for the OAuth2 POST form. */
  requests: { user?: string; scopes: string[]; service: string | null; granted: boolean; refresh?: true }[];
  /** An identity token (OAuth2 refresh token, as `docker login` stores for some registries) for the known user. */
  refreshToken: string;
  close(): Promise<void>;
}

export async function startTokenService(
  dir: string,
  user: { username: string; password: string },
): Promise<TokenService> {
  const keyFile = join(dir, 'token.key');
  const certFile = join(dir, 'token.crt');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-days',
      '1',
      '-subj',
      '/CN=memoh-test-token-service',
    ],
    { stdio: 'ignore', timeout: 30_000 },
  );
  const key = createPrivateKey(readFileSync(keyFile));
  const der = readFileSync(certFile, 'utf8').replace(/-----[^-]+-----|\s/g, '');
  const service = 'memoh-test-registry';
  const issuer = 'memoh-test-token-service';
  const requests: TokenService['requests'] = [];

  const refreshToken = randomBytes(16).toString('hex');
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname !== '/token') {
      res.writeHead(404).end();
      return;
    }
    if (req.method === 'POST') {
      // distribution's OAuth2 form: grant_type=refresh_token&refresh_token=…&service=…&scope=…
      let body = '';
      req.setEncoding('utf8').on('data', (d: string) => (body += d));
      req.on('end', () => {
        const form = new URLSearchParams(body);
        const ok = form.get('grant_type') === 'refresh_token' && form.get('refresh_token') === refreshToken;
        const scopes = form.getAll('scope');
        requests.push({
          ...(ok ? { user: user.username } : {}),
          scopes,
          service: form.get('service'),
          granted: ok,
          refresh: true,
        });
        if (!ok) {
          res
            .writeHead(401, { 'content-type': 'application/json' })
            .end(JSON.stringify({ details: 'invalid refresh token' }));
          return;
        }
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(
            JSON.stringify({ access_token: issue(user.username, form.get('service') ?? '', scopes), expires_in: 300 }),
          );
      });
      return;
    }
    let who: string | undefined;
    const auth = req.headers.authorization;
    if (auth?.startsWith('Basic ')) {
      const [u, ...rest] = Buffer.from(auth.slice(6), 'base64').toString('utf8').split(':');
      if (u !== user.username || rest.join(':') !== user.password) {
        requests.push({
          user: u,
          scopes: url.searchParams.getAll('scope'),
          service: url.searchParams.get('service'),
          granted: false,
        });
        res
          .writeHead(401, { 'content-type': 'application/json' })
          .end(JSON.stringify({ details: 'incorrect username or password' }));
        return;
      }
      who = u;
    }
    const scopes = url.searchParams.getAll('scope');
    requests.push({ ...(who ? { user: who } : {}), scopes, service: url.searchParams.get('service'), granted: true });
    const token = issue(who, url.searchParams.get('service') ?? '', scopes);
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ token, access_token: token, expires_in: 300, issued_at: new Date().toISOString() }));
  });
  /** A JWT the registry verifies against certFile; anonymous callers get pull only. */
  function issue(who: string | undefined, aud: string, scopes: string[]): string {
    const access = scopes.map((s) => {
      const [type, ...mid] = s.split(':');
      const actions = (mid.pop() ?? '').split(',');
      return { type, name: mid.join(':'), actions: who ? actions : actions.filter((a) => a === 'pull') };
    });
    const now = Math.floor(Date.now() / 1000);
    const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const head = b64({ alg: 'RS256', typ: 'JWT', x5c: [der] });
    const body = b64({
      iss: issuer,
      sub: who ?? '',
      aud,
      exp: now + 300,
      nbf: now - 10,
      iat: now,
      jti: randomBytes(8).toString('hex'),
      access,
    });
    return `${head}.${body}.${sign('sha256', Buffer.from(`${head}.${body}`), key).toString('base64url')}`;
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    realm: `http://127.0.0.1:${port}/token`,
    service,
    issuer,
    certFile,
    requests,
    refreshToken,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export interface TokenRegistry {
  host: string;
  url: string;
  tokens: TokenService;
  /** The user the token service grants push to. */
  user: { user: string; password: string };
  stop(): Promise<void>;
}

/**
 * A real registry (Debian's docker-registry, distribution 2.8) with `auth: token:` pointing at the
 * stand-in token service above. test/world/registry.ts starts htpasswd registries only, hence this.
 */
export async function startTokenRegistry(): Promise<TokenRegistry> {
  const dir = tempDir('mirror-token');
  const user = { user: 'pusher', password: `pw-${randomBytes(6).toString('hex')}` };
  const tokens = await startTokenService(dir, { username: user.user, password: user.password });
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const config = {
    version: '0.1',
    log: { level: 'error', accesslog: { disabled: true } },
    storage: { filesystem: { rootdirectory: join(dir, 'data') }, delete: { enabled: true } },
    http: { addr: host, secret: randomBytes(16).toString('hex') },
    auth: {
      token: { realm: tokens.realm, service: tokens.service, issuer: tokens.issuer, rootcertbundle: tokens.certFile },
    },
  };
  await writeFile(join(dir, 'config.yml'), JSON.stringify(config));
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('REGISTRY_')));
  const child = spawn(REGISTRY_BIN, ['serve', join(dir, 'config.yml')], { stdio: 'ignore', env });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    child.kill('SIGTERM');
    const kill = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    clearTimeout(kill);
    await tokens.close();
    await rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      const res = await fetch(`http://${host}/v2/`, { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      if (res.status === 401) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline || child.exitCode !== null) {
      await stop();
      throw new Error(`token-auth registry on ${host} did not answer GET /v2/ within 20 s`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { host, url: `http://${host}`, tokens, user, stop };
}
