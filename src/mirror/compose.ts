import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import YAML from 'yaml';
import { errorMessage, InputError } from '../core/errors.js';
import { resolveImage } from '../image/reference.js';
import { apiSide, composeRef, type ImagePair, refSuffix, upstreamRef } from './refs.js';
import type { Unpaired } from './types.js';

/**
 * Image pairs from a compose file and its mirror overlay (Memoh's root `docker-compose.yml` +
 * `docker/docker-compose.cn.yml`): services are matched by name; the base file's image is the
 * upstream, the overlay's is the mirror.
 */
export interface ComposePairs {
  pairs: ImagePair[];
  unpaired: Unpaired[];
}

/**
 * The workspace default image ([container] default_image): Memoh pulls it itself, so it is in no compose
 * file, yet a mainland user pulls it through the mirror too (`registry + "/" + default_image`).
 */
export interface WorkspaceDefault {
  image: string;
  /** Memoh's [container] registry; empty: the registry every overlay image comes from. */
  registry: string;
}

export function composePairs(
  composeFile: string,
  overlayFile: string,
  upstream: string,
  env: NodeJS.ProcessEnv = process.env,
  workspaceDefault?: WorkspaceDefault,
): ComposePairs {
  const base = serviceImages(composeFile, '--compose', env);
  const overlay = serviceImages(overlayFile, '--overlay', env);
  const pairs: ImagePair[] = [];
  const unpaired: Unpaired[] = [];
  for (const [service, mirrorImage] of overlay) {
    if (mirrorImage === undefined) continue;
    const where = `--overlay ${basename(overlayFile)} services.${service}.image`;
    const mirror = apiSide(composeRef(mirrorImage, where));
    if (!base.has(service)) {
      unpaired.push({ service, reason: `the overlay maps ${service}, which ${basename(composeFile)} does not define` });
      continue;
    }
    const upstreamImage = base.get(service);
    if (upstreamImage !== undefined) {
      const input = `--compose ${basename(composeFile)} services.${service}.image`;
      pairs.push({ label: service, service, upstream: apiSide(upstreamRef(upstreamImage, upstream, input)), mirror });
      continue;
    }
    // A service the base file builds locally: by Memoh's rule R/X ↔ X the overlay's path names the upstream.
    const x = derivedUpstream(mirrorImage, where);
    pairs.push({
      label: service,
      service,
      upstream: apiSide(upstreamRef(x, upstream, where)),
      mirror,
      note: `${basename(composeFile)} builds ${service} (no image); upstream ${x} derived from the overlay's ${mirrorImage}`,
    });
  }
  for (const [service, image] of base) {
    if (image !== undefined && !overlay.has(service)) {
      unpaired.push({
        service,
        reason: `${basename(overlayFile)} has no image for ${service} (${image}): users of the overlay pull it from upstream`,
      });
    }
  }
  if (workspaceDefault) {
    const d = defaultImagePair(workspaceDefault, pairs, overlayFile, upstream);
    if ('pair' in d) pairs.push(d.pair);
    else unpaired.push(d.unpaired);
  }
  return { pairs, unpaired };
}

/**
 * The default image's pair, by Memoh's rule (mirror `R/X`, not normalised; upstream X normalised). Without a
 * configured registry, R is the one registry the overlay's images come from (memoh.cn for Memoh's overlay).
 */
function defaultImagePair(
  d: WorkspaceDefault,
  pairs: ImagePair[],
  overlayFile: string,
  upstream: string,
): { pair: ImagePair } | { unpaired: Unpaired } {
  const label = d.image;
  const input = '[container] default_image';
  let registry = d.registry;
  let how = `[container] registry ${registry}`;
  if (!registry) {
    const hosts = [...new Set(pairs.filter((p) => p.service).map((p) => registryOf(p.mirror.ref)))];
    if (hosts.length !== 1) {
      const why = hosts.length ? `its images come from ${hosts.join(', ')}` : 'it maps no image';
      return {
        unpaired: {
          service: label,
          reason: `the workspace default image is in no compose file and no registry is configured; ${basename(overlayFile)} names no single mirror registry (${why}): give --registry`,
        },
      };
    }
    registry = hosts[0]!;
    how = `the registry of ${basename(overlayFile)}'s images`;
  }
  const mirror = resolveImage(d.image, registry, input);
  return {
    pair: {
      label,
      upstream: apiSide(upstreamRef(d.image, upstream, input)),
      mirror: apiSide(mirror),
      note: `the workspace default image (in no compose file): Memoh pulls ${mirror.resolved} (${how})`,
    },
  };
}

function registryOf(ref: string): string {
  return ref.slice(0, ref.indexOf('/'));
}

/** `memoh.cn/memohai/server:latest` → `memohai/server:latest`: the overlay's image without its registry. */
function derivedUpstream(mirrorImage: string, input: string): string {
  const r = composeRef(mirrorImage, input);
  return `${r.repository}${refSuffix(r)}`;
}

/** service → image (undefined when the service has none) of a compose file, variables interpolated. */
function serviceImages(file: string, input: string, env: NodeJS.ProcessEnv): Map<string, string | undefined> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new InputError(
      input,
      `cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? errorMessage(err)})`,
      'give the path of a compose file',
    );
  }
  let doc: unknown;
  try {
    doc = YAML.parse(text, { maxAliasCount: 100 });
  } catch (err) {
    throw new InputError(
      input,
      `${basename(file)} is not valid YAML: ${errorMessage(err).split('\n')[0]}`,
      'fix the YAML syntax',
    );
  }
  const services = (doc as { services?: unknown } | null)?.services;
  if (!services || typeof services !== 'object' || Array.isArray(services)) {
    throw new InputError(
      input,
      `${basename(file)} has no services mapping`,
      'give a compose file with a top-level services: section',
    );
  }
  const out = new Map<string, string | undefined>();
  for (const [name, body] of Object.entries(services as Record<string, unknown>)) {
    const image = (body as { image?: unknown } | null)?.image;
    if (image !== undefined && typeof image !== 'string') {
      throw new InputError(
        `${input} ${basename(file)} services.${name}.image`,
        'is not a string',
        'write the image as a string',
      );
    }
    out.set(
      name,
      image === undefined ? undefined : interpolate(image, env, `${input} ${basename(file)} services.${name}.image`),
    );
  }
  return out;
}

/** Compose's variable syntax in an image: `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `$$`. */
export function interpolate(value: string, env: NodeJS.ProcessEnv, input: string): string {
  return value.replace(
    /\$(?:\$|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-?])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))/g,
    (all, braced?: string, colon?: string, op?: string, arg?: string, bare?: string) => {
      if (all === '$$') return '$';
      const name = (braced ?? bare)!;
      const v = env[name];
      const unset = v === undefined || (colon === ':' && v === '');
      if (!unset) return v;
      if (op === '-') return arg ?? '';
      if (op === '?')
        throw new InputError(
          input,
          `variable ${name} is required: ${arg || 'not set'}`,
          `set ${name} in the environment`,
        );
      return '';
    },
  );
}
