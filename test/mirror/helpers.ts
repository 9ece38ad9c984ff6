import { testContext } from '../support/context.js';
import { fetchManifest, type RegistryAuth, run } from '../world/registry.js';

export const ctx = () => testContext({ timeoutMs: 90_000 });

const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';

/** Registry-to-registry copy of every platform (digests kept: nothing is recompressed); faster than from the daemon. */
export async function copy(
  from: string,
  to: string,
  creds?: { src?: RegistryAuth; dest?: RegistryAuth },
): Promise<void> {
  const args = ['--insecure-policy', 'copy', '--all', '--quiet', '--src-tls-verify=false', '--dest-tls-verify=false'];
  args.push(...(creds?.src ? ['--src-creds', `${creds.src.user}:${creds.src.password}`] : ['--src-no-creds']));
  args.push(...(creds?.dest ? ['--dest-creds', `${creds.dest.user}:${creds.dest.password}`] : ['--dest-no-creds']));
  const r = await run('skopeo', [...args, `docker://${from}`, `docker://${to}`], { timeoutMs: 120_000 });
  if (r.code !== 0) throw new Error(`skopeo copy ${from} → ${to}: ${r.stderr.trim()}`);
}

export interface Child {
  digest: string;
  size: number;
  mediaType: string;
  arch: 'amd64' | 'arm64';
}

/** What a tag points at on a registry, as an index entry would name it. */
export async function child(registryUrl: string, repo: string, tag: string, arch: 'amd64' | 'arm64'): Promise<Child> {
  const m = await fetchManifest(registryUrl, repo, tag);
  if (m.status !== 200) throw new Error(`${registryUrl}/${repo}:${tag}: HTTP ${m.status}`);
  return { digest: m.bodyDigest, size: m.body.length, mediaType: (m.contentType ?? '').split(';')[0]!, arch };
}

/**
 * A multi-platform image the way buildx pushes one: the per-platform manifests already in the repo,
 * then an OCI image index PUT to the tag (the registry accepts it once the manifests it names exist).
 */
export async function putIndex(
  registryUrl: string,
  repo: string,
  tag: string,
  children: Child[],
  auth?: string,
): Promise<string> {
  const body = JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: children.map((c) => ({
      mediaType: c.mediaType,
      digest: c.digest,
      size: c.size,
      platform:
        c.arch === 'arm64'
          ? { architecture: 'arm64', os: 'linux', variant: 'v8' }
          : { architecture: 'amd64', os: 'linux' },
    })),
  });
  const res = await fetch(`${registryUrl}/v2/${repo}/manifests/${tag}`, {
    method: 'PUT',
    headers: { 'Content-Type': OCI_INDEX, ...(auth ? { Authorization: auth } : {}) },
    body,
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  if (res.status !== 201) throw new Error(`PUT index ${repo}:${tag}: HTTP ${res.status} ${text}`);
  return res.headers.get('docker-content-digest') ?? '';
}

/** Removes a manifest from a repo (the registry runs with delete enabled). */
export async function deleteManifest(registryUrl: string, repo: string, digest: string): Promise<void> {
  const res = await fetch(`${registryUrl}/v2/${repo}/manifests/${digest}`, {
    method: 'DELETE',
    signal: AbortSignal.timeout(15_000),
  });
  await res.arrayBuffer();
  if (res.status !== 202) throw new Error(`DELETE ${repo}@${digest}: HTTP ${res.status}`);
}
