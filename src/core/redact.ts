import { readFileSync } from 'node:fs';

/**
 * The one redactor. Any input can carry a credential (a URL with user:password@, a token pasted into a
 * config value, the Action's password input), and messages, reports and summaries echo inputs. Rather
 * than trusting every stage never to echo one, each face passes what leaves the process through here:
 * URL userinfo is replaced by `***`, and so is every value registered as a secret.
 */

export const MASK = '***';

const secrets = new Set<string>();
const listeners: ((secret: string) => void)[] = [];
/** Longest first, so a secret that contains another is masked whole. Rebuilt when a secret is added. */
let ordered: string[] = [];

/**
 * Registers a value that must never be shown. Returns whether it was new. Empty values are ignored;
 * multi-line values are registered line by line too, as the Actions runner masks them.
 */
export function addSecret(value: string): boolean {
  const v = value.trim();
  if (!v || secrets.has(v)) return false;
  secrets.add(v);
  for (const l of listeners) l(v);
  for (const line of v.split(/\r?\n/)) if (line.trim() && line.trim() !== v) addSecret(line);
  ordered = [...secrets].sort((a, b) => b.length - a.length);
  return true;
}

/** Called for every secret registered from now on (the Action masks each with core.setSecret). */
export function onSecret(listener: (secret: string) => void): void {
  listeners.push(listener);
  for (const s of secrets) listener(s);
}

// `scheme://userinfo@`: the greedy userinfo runs to the last `@` of the authority, as URL parsers read it.
// Lengths are bounded so that a hostile 100 kB value costs linear time, not quadratic.
const URL_USERINFO = /\b([a-zA-Z][a-zA-Z0-9+.-]{0,31}:\/\/)([^\s/?#"'<>`]{1,512})@(?=[^\s/?#@"'<>`])/g;
// `user:password@host` without a scheme (a registry or image value). `name:tag@sha256:…` is a digest, not userinfo:
// 6 hex digits or more after the colon, which no port has.
const BARE_USERINFO =
  /(^|[\s"'`(=,;<>[{])([^\s/?#@"'<>`:;,=(){}[\]]{1,256}:[^\s/?#@"'<>`]{1,256})@(?![a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-fA-F0-9]{6,})(?=[^\s/?#@"'<>`])/g;

/** `text` with URL userinfo and every registered secret replaced by `***`. */
export function redact(text: string): string {
  let out = text.replace(URL_USERINFO, `$1${MASK}@`).replace(BARE_USERINFO, `$1${MASK}@`);
  for (const s of ordered) if (out.includes(s)) out = out.split(s).join(MASK);
  for (const s of ordered) out = maskCutShort(out, s);
  return out;
}

/** Where text stops: a truncation mark, a closing quote, the end. */
const CUT = new Set(['…', '"', "'", '`']);

/**
 * Messages shorten what they quote (`"${value.slice(0, 80)}"`, `"abc…"`) before anything reaches the
 * redactor, so a secret can arrive cut short: its first 4 characters or more, then where text stops.
 */
function maskCutShort(text: string, secret: string): string {
  if (secret.length < 5) return text;
  const head = secret.slice(0, 4);
  let out = text;
  for (let i = out.indexOf(head); i >= 0; i = out.indexOf(head, i + 1)) {
    let k = 4;
    while (k < secret.length && out[i + k] === secret[k]) k++;
    if (i + k === out.length || CUT.has(out[i + k]!)) out = `${out.slice(0, i)}${MASK}${out.slice(i + k)}`;
  }
  return out;
}

/** A copy of a JSON-like value (a report, a configuration) with every string redacted; keys too. */
export function redactDeep<T>(value: T): T {
  if (typeof value === 'string') return redact(value) as T;
  if (Array.isArray(value)) return value.map((v) => redactDeep(v)) as T;
  if (value && typeof value === 'object' && [Object.prototype, null].includes(Object.getPrototypeOf(value))) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [redact(k), redactDeep(v)])) as T;
  }
  return value;
}

/**
 * The credentials a text carries in URL userinfo, to register as secrets so that they are masked
 * wherever they show up apart from their URL too (decoded, or on a line of their own). The password
 * when there is one, else the user (a lone userinfo is usually a token); values shorter than 4
 * characters are left to the URL pattern, since masking every `a` would garble the output.
 */
export function credentialsIn(text: string): string[] {
  const out = new Set<string>();
  const add = (v: string) => {
    if (v.length < 4) return;
    out.add(v);
    try {
      const decoded = decodeURIComponent(v);
      if (decoded.length >= 4) out.add(decoded);
    } catch {
      // Not percent-encoded after all: the raw value is registered.
    }
  };
  for (const re of [URL_USERINFO, BARE_USERINFO]) {
    for (const m of text.matchAll(re)) {
      const userinfo = m[2]!;
      const colon = userinfo.indexOf(':');
      if (colon >= 0 && colon < userinfo.length - 1) {
        add(userinfo.slice(colon + 1));
        // `image:user:password@…`: which colon ends the user is a guess; mask what follows either.
        add(userinfo.slice(userinfo.lastIndexOf(':') + 1));
      } else add(colon >= 0 ? userinfo.slice(0, colon) : userinfo);
    }
  }
  return [...out];
}

/** Registers the credentials of every given text (flags, inputs, a config file); see credentialsIn. */
export function addSecretsFrom(texts: Iterable<string>): void {
  for (const t of texts) for (const c of credentialsIn(t)) addSecret(c);
}

/**
 * Registers the URL credentials of a file an input names (the config file, the checks file): a stray
 * `https://user:token@…` there is as secret as one on the command line. An unreadable file is skipped;
 * the code that reads it reports that, naming the input.
 */
export function addSecretsFromFile(path: string): void {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return;
  }
  addSecretsFrom([text]);
}

/**
 * Redacts everything written to a stream: the last net under messages printed by libraries (commander's
 * usage errors) and by commands that write their own text. `keep` lets lines through untouched: the
 * runner's `::add-mask::` command must carry the secret it masks.
 */
export function guardStream(stream: NodeJS.WritableStream, keep: (line: string) => boolean = () => false): void {
  const write = stream.write.bind(stream) as (chunk: unknown, ...rest: unknown[]) => boolean;
  const guarded = (chunk: unknown, ...rest: unknown[]): boolean => {
    let text: string | undefined;
    if (typeof chunk === 'string') text = chunk;
    else if (chunk instanceof Uint8Array) text = Buffer.from(chunk).toString('utf8');
    if (text === undefined) return write(chunk, ...rest);
    const redacted = text
      .split('\n')
      .map((line) => (keep(line) ? line : redact(line)))
      .join('\n');
    // A Buffer's encoding argument no longer applies to the string that replaces it.
    if (typeof chunk !== 'string' && typeof rest[0] === 'string') rest = rest.slice(1);
    return write(redacted, ...rest);
  };
  stream.write = guarded as typeof stream.write;
}
