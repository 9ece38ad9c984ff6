import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { addSecret } from '../core/redact.js';

/** What the engine needs to pull from a registry that wants a login (dockerode's `authconfig`). */
export interface RegistryAuth {
  serveraddress: string;
  username?: string;
  password?: string;
  identitytoken?: string;
}

/** Explicit credentials by registry host (e.g. from Action inputs); they win over the Docker config. */
export type AuthOptions = Record<string, { username: string; password: string }>;

interface DockerConfig {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
}

const DOCKER_HUB = 'https://index.docker.io/v1/';
const HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com']);

/**
 * Credentials for `host` the way the docker CLI finds them: explicit options, then a credential
 * helper for the host, then the credential store, then `auths` in the Docker config
 * ($DOCKER_CONFIG/config.json or ~/.docker/config.json). Anonymous (undefined) when none applies.
 * The result goes to the engine only; nothing here logs it.
 */
export async function registryAuth(
  host: string,
  explicit: AuthOptions = {},
  env: NodeJS.ProcessEnv = process.env,
): Promise<RegistryAuth | undefined> {
  const found = await findRegistryAuth(host, explicit, env);
  // Registries quote back what they refused: a credential found here is masked wherever it shows up.
  for (const secret of [found?.password, found?.identitytoken]) if (secret) addSecret(secret);
  return found;
}

async function findRegistryAuth(
  host: string,
  explicit: AuthOptions,
  env: NodeJS.ProcessEnv,
): Promise<RegistryAuth | undefined> {
  const hub = HUB_ALIASES.has(host);
  const serveraddress = hub ? DOCKER_HUB : host;
  const given = explicit[host] ?? (hub ? Object.entries(explicit).find(([h]) => HUB_ALIASES.has(h))?.[1] : undefined);
  if (given) return { serveraddress, username: given.username, password: given.password };

  const config = await readDockerConfig(env);
  if (!config) return undefined;
  const helper =
    config.credHelpers?.[host] ?? (hub ? config.credHelpers?.[DOCKER_HUB] : undefined) ?? config.credsStore;
  if (helper) {
    const fromHelper = await credentialHelper(helper, serveraddress, env);
    if (fromHelper) return fromHelper;
  }
  for (const [key, entry] of Object.entries(config.auths ?? {})) {
    const keyHost = hostOfKey(key);
    if (keyHost !== host && !(hub && HUB_ALIASES.has(keyHost))) continue;
    if (entry.identitytoken) return { serveraddress, identitytoken: entry.identitytoken };
    if (entry.auth) {
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon > 0) return { serveraddress, username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
    }
    if (entry.username && entry.password) return { serveraddress, username: entry.username, password: entry.password };
  }
  return undefined;
}

async function readDockerConfig(env: NodeJS.ProcessEnv): Promise<DockerConfig | undefined> {
  const dir = env.DOCKER_CONFIG?.trim() || join(env.HOME?.trim() || homedir(), '.docker');
  try {
    return JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as DockerConfig;
  } catch {
    // No config, or an unreadable one: pull anonymously, as the docker CLI would.
    return undefined;
  }
}

/** `https://ghcr.io/v2/` → `ghcr.io`; `https://index.docker.io/v1/` → `index.docker.io`. */
function hostOfKey(key: string): string {
  return key.replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '');
}

/** Runs `docker-credential-NAME get` as the docker CLI does; failures mean "no credentials". */
function credentialHelper(name: string, serverURL: string, env: NodeJS.ProcessEnv): Promise<RegistryAuth | undefined> {
  if (!/^[A-Za-z0-9_.-]+$/.test(name)) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const child = execFile(
      `docker-credential-${name}`,
      ['get'],
      { env, timeout: 10_000, maxBuffer: 64 * 1024 },
      (err, stdout) => {
        if (err) return resolve(undefined);
        try {
          const c = JSON.parse(stdout) as { Username?: string; Secret?: string };
          if (!c.Secret) return resolve(undefined);
          // Username "<token>" marks an identity token (docker-credential-helpers convention).
          resolve(
            c.Username === '<token>'
              ? { serveraddress: serverURL, identitytoken: c.Secret }
              : { serveraddress: serverURL, username: c.Username ?? '', password: c.Secret },
          );
        } catch {
          resolve(undefined);
        }
      },
    );
    child.stdin?.end(serverURL);
  });
}
