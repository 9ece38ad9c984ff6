import { InputError } from '../core/errors.js';

/**
 * Image references, resolved exactly as Memoh does (one function for every caller): with a registry
 * mirror the result is `registry/image`, not normalised; without one, a bare name gets
 * `docker.io/library/`, `user/name` gets `docker.io/`, and a first segment with `.` or `:` or
 * `localhost` is already a registry.
 */
export interface ImageRef {
  /** What the user wrote. */
  input: string;
  /** The reference the engine pulls, as Memoh builds it. */
  resolved: string;
  /** Registry host (`docker.io`, `memoh.cn`, `127.0.0.1:5000`). */
  registry: string;
  /** Repository path within the registry (`library/debian`). */
  repository: string;
  tag?: string;
  digest?: string;
}

const component = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const domainPart = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const domain = `${domainPart}(?:\\.${domainPart})*(?::[0-9]+)?`;
const refRe = new RegExp(
  `^(?:(${domain})/)?(${component}(?:/${component})*)(?::([\\w][\\w.-]{0,127}))?(?:@([A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}))?$`,
);
const hostRe = new RegExp(`^${domain}$`);

/** Memoh's normalisation of an image without a registry mirror. */
export function normalise(image: string): string {
  const slash = image.indexOf('/');
  if (slash < 0) return `docker.io/library/${image}`;
  const first = image.slice(0, slash);
  if (first.includes('.') || first.includes(':') || first === 'localhost') return image;
  return `docker.io/${image}`;
}

/** Checks syntax only; throws an InputError naming `input`. */
export function checkImageRef(image: string, input: string): void {
  if (!image || image.length > 512 || !refRe.test(image)) {
    throw new InputError(
      input,
      `"${truncate(image)}" is not a valid image reference`,
      'use NAME[:TAG][@DIGEST], e.g. debian:bookworm-slim or ghcr.io/org/img:1',
    );
  }
}

export function checkRegistryHost(host: string, input: string): void {
  if (!host || host.length > 255 || !hostRe.test(host)) {
    throw new InputError(
      input,
      `"${truncate(host)}" is not a registry host`,
      'give HOST[:PORT] without scheme or path, e.g. memoh.cn',
    );
  }
}

/** Resolves `image` as Memoh would, with `registry` being `[workspace] registry` (empty: none). */
export function resolveImage(image: string, registry = '', input = 'image'): ImageRef {
  checkImageRef(image, input);
  if (registry) checkRegistryHost(registry, 'registry');
  const resolved = registry ? `${registry}/${image}` : normalise(image);
  return { input: image, ...parseResolved(resolved, input) };
}

/** Splits a fully qualified reference (first segment is the registry). */
export function parseResolved(resolved: string, input = 'image'): Omit<ImageRef, 'input'> {
  const m = refRe.exec(resolved);
  if (!m?.[1])
    throw new InputError(input, `"${truncate(resolved)}" is not a valid image reference`, 'use REGISTRY/NAME[:TAG]');
  const [, registry, repository, tag, digest] = m;
  const out: Omit<ImageRef, 'input'> = { resolved, registry: registry!, repository: repository! };
  if (tag) out.tag = tag;
  if (digest) out.digest = digest;
  if (!tag && !digest) {
    out.tag = 'latest';
    out.resolved = `${resolved}:latest`;
  }
  return out;
}

function truncate(s: string): string {
  return s.length > 80 ? `${s.slice(0, 80)}…` : s;
}
