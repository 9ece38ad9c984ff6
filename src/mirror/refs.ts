import { InputError } from '../core/errors.js';
import { checkRegistryHost, type ImageRef, normalise, parseResolved, resolveImage } from '../image/reference.js';

/**
 * Which two references one mirror check compares, and where each lives on the registry API. The
 * references come from Memoh's rules (src/image/reference.ts); only the API location is decided here.
 */

/** One side of a pair: the reference as the engine pulls it, and its place on the registry API. */
export interface Side {
  /** `docker.io/library/postgres:18-alpine`, `memoh.cn/postgres:18-alpine`. */
  ref: string;
  /** Host the API is spoken to: Docker Hub's names all become `registry-1.docker.io`. */
  host: string;
  /** Repository path on that host: `library/postgres` on Docker Hub, `postgres` on a mirror. */
  repository: string;
  /** Tag, or digest when the reference pins one (a digest wins, as the engine does). */
  reference: string;
}

export interface ImagePair {
  /** The image as the user wrote it, or the compose service's name. */
  label: string;
  upstream: Side;
  mirror: Side;
  /** The compose service this pair came from. */
  service?: string;
  /** How the pair was formed, when it is not Memoh's `registry/image` rule applied to `--image`. */
  note?: string;
}

export const DOCKER_HUB_API = 'registry-1.docker.io';
const DOCKER_HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com']);

export function isDockerHub(host: string): boolean {
  return DOCKER_HUB_ALIASES.has(host.toLowerCase());
}

/** Where a fully qualified reference lives on the API: Docker Hub's host alias and `library/` for official images. */
export function apiSide(ref: Omit<ImageRef, 'input'>): Side {
  const hub = isDockerHub(ref.registry);
  return {
    ref: ref.resolved,
    host: hub ? DOCKER_HUB_API : ref.registry,
    repository: hub && !ref.repository.includes('/') ? `library/${ref.repository}` : ref.repository,
    reference: ref.digest ?? ref.tag ?? 'latest',
  };
}

/** `:tag`, `@digest` or both, as the reference carries them. */
export function refSuffix(ref: Omit<ImageRef, 'input'>): string {
  return `${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
}

/**
 * The upstream an image is compared with: Memoh's normalised reference (`docker.io/library/…`), or with
 * `upstream` set, the same repository path on that host (`HOST/library/postgres:18-alpine`).
 */
export function upstreamRef(image: string, upstream: string, input: string): Omit<ImageRef, 'input'> {
  const normalised = resolveImage(image, '', input);
  if (!upstream) return normalised;
  return parseResolved(`${upstream}/${normalised.repository}${refSuffix(normalised)}`, input);
}

/** `--image X --registry R`: the mirror is `R/X` (Memoh does not normalise it), the upstream is X normalised. */
export function imagePair(image: string, registry: string, upstream: string, input = '--image'): ImagePair {
  if (!registry)
    throw new InputError(
      '--registry',
      'no registry mirror given',
      'give --registry HOST (e.g. memoh.cn) or --preset cn',
    );
  if (upstream) checkRegistryHost(upstream, '--upstream');
  const mirror = resolveImage(image, registry, input);
  return { label: image, upstream: apiSide(upstreamRef(image, upstream, input)), mirror: apiSide(mirror) };
}

/** A fully written reference from a compose file; a bare one is read as the engine would (normalised). */
export function composeRef(image: string, input: string): Omit<ImageRef, 'input'> {
  resolveImage(image, '', input);
  return parseResolved(normalise(image), input);
}

/** The single-name repository on a host that is not Docker Hub: the mirror may also serve it as `library/<name>`. */
export function libraryAlternative(side: Side): Side | undefined {
  if (side.host === DOCKER_HUB_API || side.repository.includes('/')) return undefined;
  return { ...side, repository: `library/${side.repository}` };
}
