import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkMirrors, imagePair } from '../../src/mirror/index.js';
import { parseChallenge } from '../../src/mirror/registry.js';
import { tempDir } from '../support/tmp.js';
import { IMAGES } from '../world/images.js';
import { type LocalRegistry, pushImage, startRegistry } from '../world/registry.js';
import { copy, ctx } from './helpers.js';
import { startTokenRegistry, type TokenRegistry } from './token-service.js';

/**
 * The registry protocol's two ways of asking for credentials, against real registries on loopback:
 * Basic (docker-registry with htpasswd) and the Bearer challenge flow (docker-registry with token
 * auth, the token service being a stand-in for Docker Hub's, see token-service.ts).
 */
let up: LocalRegistry;
let basic: LocalRegistry;
let bearer: TokenRegistry;
let digest: string;
const creds = { user: 'memoh', password: `pw-${process.pid}-${Date.now()}` };

beforeAll(async () => {
  [up, basic, bearer] = await Promise.all([startRegistry(), startRegistry({ auth: creds }), startTokenRegistry()]);
  digest = (await pushImage(IMAGES.muslAmd64, up.host, 'library/app:1')).digest;
  await copy(`${up.host}/library/app:1`, `${basic.host}/app:1`, { dest: creds });
  await copy(`${up.host}/library/app:1`, `${bearer.host}/app:1`, { dest: bearer.user });
}, 300_000);

afterAll(async () => {
  await Promise.all([up?.stop(), basic?.stop(), bearer?.stop()]);
});

const check = (registry: string, opts: { auth?: Record<string, { username: string; password: string }> } = {}) =>
  checkMirrors({ pairs: [imagePair('app:1', registry, up.host)], platforms: 'all', insecure: [], ...opts }, ctx());

describe('mirror: basic auth', () => {
  it('in-sync with the credentials given as options', async () => {
    const r = await check(basic.host, { auth: { [basic.host]: { username: creds.user, password: creds.password } } });
    expect(r.images[0]).toMatchObject({ status: 'in-sync', ref: { mirrorDigest: digest } });
    expect(JSON.stringify(r)).not.toContain(creds.password);
  });

  it('error 401 with the registry message and what to do, without credentials', async () => {
    const r = await check(basic.host);
    const img = r.images[0]!;
    expect(img.status).toBe('error');
    expect(img.ref.failure).toMatchObject({ httpStatus: 401, code: 'UNAUTHORIZED' });
    expect(img.ref.detail).toContain('--username');
  });

  it('error 401 saying the credentials were not accepted, with a wrong password (never echoed)', async () => {
    const r = await check(basic.host, {
      auth: { [basic.host]: { username: creds.user, password: 'wrong-password-xyz' } },
    });
    expect(r.images[0]?.ref.failure?.httpStatus).toBe(401);
    expect(r.images[0]?.ref.detail).toContain('did not accept the credentials');
    expect(JSON.stringify(r)).not.toContain('wrong-password-xyz');
  });

  it('reads the credentials from the Docker config ($DOCKER_CONFIG/config.json auths)', async () => {
    const auth = Buffer.from(`${creds.user}:${creds.password}`).toString('base64');
    const r = await withDockerConfig({ auths: { [`http://${basic.host}`]: { auth } } }, () => check(basic.host));
    expect(r.images[0]?.status).toBe('in-sync');
  });
});

describe('mirror: bearer token flow (WWW-Authenticate challenge → token service → retry)', () => {
  it('anonymously: asks the realm for a pull token with the challenge service and scope, then is in-sync', async () => {
    const before = bearer.tokens.requests.length;
    const r = await check(bearer.host);
    expect(r.images[0]).toMatchObject({ status: 'in-sync', ref: { mirrorDigest: digest } });
    const asked = bearer.tokens.requests.slice(before);
    // One token per repository scope, reused for the platform manifest request.
    expect(asked).toEqual([{ scopes: ['repository:app:pull'], service: bearer.tokens.service, granted: true }]);
  });

  it('with credentials: the token request carries them (and they never appear in the report)', async () => {
    const before = bearer.tokens.requests.length;
    const r = await check(bearer.host, {
      auth: { [bearer.host]: { username: bearer.user.user, password: bearer.user.password } },
    });
    expect(r.images[0]?.status).toBe('in-sync');
    expect(bearer.tokens.requests.slice(before)).toEqual([
      expect.objectContaining({ user: bearer.user.user, granted: true }),
    ]);
    expect(JSON.stringify(r)).not.toContain(bearer.user.password);
  });

  it('with an identity token from the Docker config: the OAuth2 refresh-token form', async () => {
    const before = bearer.tokens.requests.length;
    const r = await withDockerConfig({ auths: { [bearer.host]: { identitytoken: bearer.tokens.refreshToken } } }, () =>
      check(bearer.host),
    );
    expect(r.images[0]?.status).toBe('in-sync');
    expect(bearer.tokens.requests.slice(before)).toEqual([
      {
        user: bearer.user.user,
        scopes: ['repository:app:pull'],
        service: bearer.tokens.service,
        granted: true,
        refresh: true,
      },
    ]);
    expect(JSON.stringify(r)).not.toContain(bearer.tokens.refreshToken);
  });

  it('error naming the token service when it refuses the credentials', async () => {
    const r = await check(bearer.host, { auth: { [bearer.host]: { username: bearer.user.user, password: 'nope' } } });
    expect(r.images[0]?.status).toBe('error');
    expect(r.images[0]?.ref.detail).toContain(`token service ${bearer.tokens.realm}`);
    expect(r.images[0]?.ref.detail).toContain('incorrect username or password');
  });
});

/** Runs `fn` with DOCKER_CONFIG pointing at a temporary config.json holding `config`. */
async function withDockerConfig<T>(config: unknown, fn: () => Promise<T>): Promise<T> {
  const dir = tempDir('mirror-dockercfg');
  const saved = process.env.DOCKER_CONFIG;
  try {
    await writeFile(join(dir, 'config.json'), JSON.stringify(config));
    process.env.DOCKER_CONFIG = dir;
    return await fn();
  } finally {
    if (saved === undefined) delete process.env.DOCKER_CONFIG;
    else process.env.DOCKER_CONFIG = saved;
    await rm(dir, { recursive: true, force: true });
  }
}

describe('WWW-Authenticate parsing', () => {
  it("reads Docker Hub's challenge, with commas inside quoted values", () => {
    expect(
      parseChallenge(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/debian:pull,push"',
      ),
    ).toEqual({
      scheme: 'bearer',
      params: {
        realm: 'https://auth.docker.io/token',
        service: 'registry.docker.io',
        scope: 'repository:library/debian:pull,push',
      },
    });
  });
  it('reads Basic, prefers Bearer among several, and ignores schemes it does not speak', () => {
    expect(parseChallenge('Basic realm="Registry Realm"')).toEqual({
      scheme: 'basic',
      params: { realm: 'Registry Realm' },
    });
    expect(parseChallenge('Negotiate abc, Basic realm="x", Bearer realm="https://t/token",service=s')).toEqual({
      scheme: 'bearer',
      params: { realm: 'https://t/token', service: 's' },
    });
    expect(parseChallenge('Negotiate')).toBeUndefined();
    expect(parseChallenge('')).toBeUndefined();
  });
});
