import { InputError } from '../core/errors.js';
import { checkImageRef, checkRegistryHost } from '../image/reference.js';

export { checkImageRef as validateImageRef, checkRegistryHost as validateRegistryHost };

/** Memoh's bot id charset: non-empty; letters, digits, `-`, `_` (so no separators, no traversal). */
export function validateBotId(id: string, input: string): void {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(id)) {
    throw new InputError(input, `"${id.slice(0, 80)}" is not a valid bot id`, 'use 1-64 letters, digits, - or _');
  }
}

/** Download mirrors: http(s) only, no credentials (they would end up in logs and reports). */
export function validateUrl(value: string, input: string): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new InputError(
      input,
      `"${value.slice(0, 80)}" is not a URL`,
      'give an http(s) base URL, e.g. https://nodejs.org/dist',
    );
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') {
    throw new InputError(input, `scheme ${u.protocol} is not allowed`, 'use an http:// or https:// URL');
  }
  if (u.username || u.password) {
    throw new InputError(
      input,
      'contains credentials',
      'remove user:password from the URL; mirrors are read anonymously',
    );
  }
  if (u.search || u.hash) {
    throw new InputError(input, 'has a query or fragment', 'give a plain base URL');
  }
  return value.replace(/\/+$/, '');
}

/** Exact semver (1.2.3), or with `allowMajor` a bare major (24). A leading v is accepted. */
export function validateVersion(value: string, input: string, opts: { allowMajor?: boolean } = {}): string {
  const v = value.replace(/^v/, '');
  if (/^\d+\.\d+\.\d+$/.test(v) || (opts.allowMajor && /^\d+$/.test(v))) return v;
  throw new InputError(
    input,
    `"${value.slice(0, 80)}" is not a version`,
    opts.allowMajor ? 'give X.Y.Z or a major like 24' : 'give X.Y.Z',
  );
}
