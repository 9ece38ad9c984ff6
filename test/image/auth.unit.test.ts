import { chmod, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registryAuth } from '../../src/image/auth.js';
import { tempDir } from '../support/tmp.js';

let dir: string;
const b64 = (s: string) => Buffer.from(s).toString('base64');

beforeAll(async () => {
  dir = tempDir('image-auth');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function config(doc: unknown): Promise<NodeJS.ProcessEnv> {
  await writeFile(join(dir, 'config.json'), JSON.stringify(doc));
  return { DOCKER_CONFIG: dir, PATH: `${dir}:${process.env.PATH}` };
}

describe('registry credentials from the Docker config', () => {
  it('decodes `auths` base64 user:password for the pulled registry only', async () => {
    const env = await config({
      auths: { 'https://ghcr.io/v2/': { auth: b64('me:pa:ss') }, 'other.io': { auth: b64('x:y') } },
    });
    expect(await registryAuth('ghcr.io', {}, env)).toEqual({
      serveraddress: 'ghcr.io',
      username: 'me',
      password: 'pa:ss',
    });
    expect(await registryAuth('quay.io', {}, env)).toBeUndefined();
  });

  it("maps docker.io to Docker Hub's classic key", async () => {
    const env = await config({ auths: { 'https://index.docker.io/v1/': { auth: b64('hub:secret') } } });
    expect(await registryAuth('docker.io', {}, env)).toEqual({
      serveraddress: 'https://index.docker.io/v1/',
      username: 'hub',
      password: 'secret',
    });
  });

  it('uses an identity token when that is what is stored', async () => {
    const env = await config({ auths: { '127.0.0.1:5000': { identitytoken: 'tok' } } });
    expect(await registryAuth('127.0.0.1:5000', {}, env)).toEqual({
      serveraddress: '127.0.0.1:5000',
      identitytoken: 'tok',
    });
  });

  it('explicit options win over the config', async () => {
    const env = await config({ auths: { 'ghcr.io': { auth: b64('file:pw') } } });
    expect(await registryAuth('ghcr.io', { 'ghcr.io': { username: 'opt', password: 'pw2' } }, env)).toMatchObject({
      username: 'opt',
      password: 'pw2',
    });
  });

  it('asks a credential helper (docker-credential-NAME get) before auths, as the docker CLI does', async () => {
    // A stand-in helper speaking the real helper protocol: server URL on stdin, JSON on stdout.
    const helper = join(dir, 'docker-credential-memohtest');
    await writeFile(
      helper,
      '#!/bin/sh\nread url\nprintf \'{"ServerURL":"%s","Username":"helper-user","Secret":"helper-secret"}\' "$url"\n',
    );
    await chmod(helper, 0o755);
    const env = await config({
      credHelpers: { 'ghcr.io': 'memohtest' },
      auths: { 'ghcr.io': { auth: b64('file:pw') } },
    });
    expect(await registryAuth('ghcr.io', {}, env)).toEqual({
      serveraddress: 'ghcr.io',
      username: 'helper-user',
      password: 'helper-secret',
    });
    // A helper that fails falls back to the file.
    const broken = await config({ credsStore: 'nosuchhelper', auths: { 'ghcr.io': { auth: b64('file:pw') } } });
    expect(await registryAuth('ghcr.io', {}, broken)).toMatchObject({ username: 'file', password: 'pw' });
  });

  it('no config, or a broken one, means anonymous', async () => {
    expect(await registryAuth('ghcr.io', {}, { DOCKER_CONFIG: join(dir, 'nope') })).toBeUndefined();
    await writeFile(join(dir, 'config.json'), '{not json');
    expect(await registryAuth('ghcr.io', {}, { DOCKER_CONFIG: dir })).toBeUndefined();
  });
});
