/**
 * Go's `encoding/json` as Memoh's `json.Unmarshal(payload, &contract)` sees a document: the whole input is
 * scanned for syntax first (so a syntax error anywhere wins, with Go's words), then values are decoded.
 * Byte-level, iterative (a 64 KiB file of `[` must give Go's "exceeded max depth", not a stack overflow).
 */

export type GoJson =
  | { t: 'object'; entries: [string, GoJson][] }
  | { t: 'array'; items: GoJson[] }
  | { t: 'string'; v: string }
  /** The literal text: Go parses it per target type (`2.0` is no int). */
  | { t: 'number'; raw: string }
  | { t: 'bool'; v: boolean }
  | { t: 'null' };

export class GoJsonSyntaxError extends Error {
  override readonly name = 'GoJsonSyntaxError';
}

/** Go's scanner nesting limit (encoding/json maxNestingDepth). */
const MAX_DEPTH = 10_000;

/** strconv.Quote of the byte as a rune, in single quotes: Go's `quoteChar`. */
function quoteChar(c: number): string {
  if (c === 0x27) return "'\\''";
  if (c === 0x22) return "'\"'";
  const named: Record<number, string> = {
    7: '\\a',
    8: '\\b',
    9: '\\t',
    10: '\\n',
    11: '\\v',
    12: '\\f',
    13: '\\r',
    0x5c: '\\\\',
  };
  if (named[c]) return `'${named[c]}'`;
  if (c < 0x20 || c === 0x7f) return `'\\x${c.toString(16).padStart(2, '0')}'`;
  // Latin-1 runes Go's strconv.IsPrint rejects: C1 controls, NBSP, soft hyphen.
  if ((c >= 0x80 && c <= 0xa0) || c === 0xad) return `'\\u${c.toString(16).padStart(4, '0')}'`;
  return `'${String.fromCharCode(c)}'`;
}

const isWs = (c: number): boolean => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;
const isHex = (c: number): boolean => isDigit(c) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46);

type Frame =
  | { t: 'object'; node: Extract<GoJson, { t: 'object' }>; key?: string }
  | { t: 'array'; node: Extract<GoJson, { t: 'array' }> };

/** Parses like Go's checkValid + decode; throws GoJsonSyntaxError with Go's message. */
export function parseGoJson(data: Uint8Array): GoJson {
  let i = 0;
  const n = data.length;
  const end = (): never => {
    throw new GoJsonSyntaxError('unexpected end of JSON input');
  };
  // Go's scanner meets the end of input as one more space: where a space is wrong, the error names it.
  const bad = (c: number, where: string): never => {
    throw new GoJsonSyntaxError(`invalid character ${quoteChar(c)} ${where}`);
  };
  const skipWs = (): void => {
    while (i < n && isWs(data[i]!)) i++;
  };

  const readString = (): string => {
    // data[i] is the opening quote
    i++;
    const parts: number[] = [];
    for (;;) {
      if (i >= n) end();
      const c = data[i]!;
      if (c === 0x22) {
        i++;
        return decodeStringBytes(Uint8Array.from(parts));
      }
      if (c < 0x20) bad(c, 'in string literal');
      if (c !== 0x5c) {
        parts.push(c);
        i++;
        continue;
      }
      i++;
      if (i >= n) bad(0x20, 'in string escape code');
      const e = data[i]!;
      const simple: Record<number, number> = {
        0x22: 0x22,
        0x5c: 0x5c,
        0x2f: 0x2f,
        0x62: 8,
        0x66: 12,
        0x6e: 10,
        0x72: 13,
        0x74: 9,
      };
      if (simple[e] !== undefined) {
        parts.push(simple[e]!);
        i++;
        continue;
      }
      if (e !== 0x75) bad(e, 'in string escape code');
      i++;
      let hex = '';
      for (let k = 0; k < 4; k++) {
        if (i >= n) bad(0x20, 'in \\u hexadecimal character escape');
        const h = data[i]!;
        if (!isHex(h)) bad(h, 'in \\u hexadecimal character escape');
        hex += String.fromCharCode(h);
        i++;
      }
      // Escapes become UTF-8 here; lone surrogates are paired or replaced when the bytes are decoded.
      parts.push(...escapeBytes(Number.parseInt(hex, 16)));
    }
  };

  const readNumber = (): string => {
    const start = i;
    if (data[i] === 0x2d) {
      i++;
      if (i >= n) bad(0x20, 'in numeric literal');
      if (!isDigit(data[i]!)) bad(data[i]!, 'in numeric literal');
    }
    if (data[i] === 0x30) i++;
    else while (i < n && isDigit(data[i]!)) i++;
    if (i < n && data[i] === 0x2e) {
      i++;
      if (i >= n) bad(0x20, 'after decimal point in numeric literal');
      if (!isDigit(data[i]!)) bad(data[i]!, 'after decimal point in numeric literal');
      while (i < n && isDigit(data[i]!)) i++;
    }
    if (i < n && (data[i] === 0x65 || data[i] === 0x45)) {
      i++;
      if (i < n && (data[i] === 0x2b || data[i] === 0x2d)) i++;
      if (i >= n) bad(0x20, 'in exponent of numeric literal');
      if (!isDigit(data[i]!)) bad(data[i]!, 'in exponent of numeric literal');
      while (i < n && isDigit(data[i]!)) i++;
    }
    return Buffer.from(data.subarray(start, i)).toString('latin1');
  };

  const readLiteral = (word: string): void => {
    for (let k = 0; k < word.length; k++) {
      if (i >= n) bad(0x20, `in literal ${word} (expecting ${quoteChar(word.charCodeAt(k))})`);
      if (data[i] !== word.charCodeAt(k))
        bad(data[i]!, `in literal ${word} (expecting ${quoteChar(word.charCodeAt(k))})`);
      i++;
    }
  };

  const stack: Frame[] = [];
  let root: GoJson | undefined;

  /** A value (containers as soon as they open): into its parent, or as the root. */
  const attach = (v: GoJson): void => {
    const top = stack.at(-1);
    if (!top) root = v;
    else if (top.t === 'array') top.node.items.push(v);
    else top.node.entries.push([top.key!, v]);
  };

  let expectValue = true;
  for (;;) {
    if (expectValue) {
      skipWs();
      if (i >= n) end();
      const c = data[i]!;
      let v: GoJson | undefined;
      if (c === 0x7b) {
        i++;
        const node: Extract<GoJson, { t: 'object' }> = { t: 'object', entries: [] };
        attach(node);
        if (stack.length >= MAX_DEPTH) bad(c, 'exceeded max depth');
        stack.push({ t: 'object', node });
        skipWs();
        if (i >= n) end();
        if (data[i] === 0x7d) {
          i++;
          stack.pop();
        } else {
          if (data[i] !== 0x22) bad(data[i]!, 'looking for beginning of object key string');
          (stack.at(-1) as Extract<Frame, { t: 'object' }>).key = readKey();
          continue;
        }
      } else if (c === 0x5b) {
        i++;
        const node: Extract<GoJson, { t: 'array' }> = { t: 'array', items: [] };
        attach(node);
        if (stack.length >= MAX_DEPTH) bad(c, 'exceeded max depth');
        stack.push({ t: 'array', node });
        skipWs();
        if (i >= n) end();
        if (data[i] === 0x5d) {
          i++;
          stack.pop();
        } else continue;
      } else if (c === 0x22) v = { t: 'string', v: readString() };
      else if (c === 0x2d || isDigit(c)) v = { t: 'number', raw: readNumber() };
      else if (c === 0x74) {
        readLiteral('true');
        v = { t: 'bool', v: true };
      } else if (c === 0x66) {
        readLiteral('false');
        v = { t: 'bool', v: false };
      } else if (c === 0x6e) {
        readLiteral('null');
        v = { t: 'null' };
      } else bad(c, 'looking for beginning of value');
      if (v) attach(v);
      expectValue = false;
    }
    // After a value: a separator, a closer, or (at the top) the end.
    skipWs();
    const top = stack.at(-1);
    if (!top) {
      if (i < n) bad(data[i]!, 'after top-level value');
      return root!;
    }
    if (i >= n) end();
    const c = data[i]!;
    if (top.t === 'array') {
      if (c === 0x2c) {
        i++;
        expectValue = true;
        continue;
      }
      if (c === 0x5d) {
        i++;
        stack.pop();
        continue;
      }
      bad(c, 'after array element');
    } else {
      if (c === 0x2c) {
        i++;
        skipWs();
        if (i >= n) end();
        if (data[i] !== 0x22) bad(data[i]!, 'looking for beginning of object key string');
        top.key = readKey();
        continue;
      }
      if (c === 0x7d) {
        i++;
        stack.pop();
        continue;
      }
      bad(c, 'after object key:value pair');
    }
  }

  /** A key and its colon; leaves the parser expecting the value. */
  function readKey(): string {
    const key = readString();
    skipWs();
    if (i >= n) end();
    if (data[i] !== 0x3a) bad(data[i]!, 'after object key');
    i++;
    expectValue = true;
    return key;
  }
}

/** A \u escape as the bytes Go's unquote would produce: surrogates are kept aside as WTF-8 and fixed up later. */
function escapeBytes(cp: number): number[] {
  if (cp < 0x80) return [cp];
  if (cp < 0x800) return [0xc0 | (cp >> 6), 0x80 | (cp & 0x3f)];
  return [0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f)];
}

/**
 * Decodes a string's bytes the way Go's unquote does: valid UTF-8 kept; an escaped surrogate pair joined;
 * a lone surrogate or an invalid byte becomes U+FFFD.
 */
function decodeStringBytes(b: Uint8Array): string {
  let out = '';
  let k = 0;
  while (k < b.length) {
    const c = b[k]!;
    if (c < 0x80) {
      out += String.fromCharCode(c);
      k++;
      continue;
    }
    const len = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
    if (len === 0 || k + len > b.length || !Array.from(b.subarray(k + 1, k + len)).every((x) => (x & 0xc0) === 0x80)) {
      out += '\ufffd';
      k++;
      continue;
    }
    let cp = c & (len === 2 ? 0x1f : len === 3 ? 0x0f : 0x07);
    for (let j = 1; j < len; j++) cp = (cp << 6) | (b[k + j]! & 0x3f);
    k += len;
    if (cp >= 0xd800 && cp <= 0xdfff) {
      // Only \u escapes produce these: a high one followed by an escaped low one is a pair.
      if (cp < 0xdc00 && b[k] === 0xed && k + 3 <= b.length) {
        const lo = ((b[k]! & 0x0f) << 12) | ((b[k + 1]! & 0x3f) << 6) | (b[k + 2]! & 0x3f);
        if (lo >= 0xdc00 && lo <= 0xdfff) {
          out += String.fromCodePoint(0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00));
          k += 3;
          continue;
        }
      }
      out += '\ufffd';
      continue;
    }
    const min = len === 2 ? 0x80 : len === 3 ? 0x800 : 0x10000;
    out += cp < min || cp > 0x10ffff ? '\ufffd' : String.fromCodePoint(cp);
  }
  return out;
}

/** Go's foldName: ASCII upper-cased, other runes as unicode.ToUpper(unicode.ToLower(r)). */
export function goFold(name: string): string {
  let out = '';
  for (const ch of name) {
    const c = ch.codePointAt(0)!;
    if (c < 0x80) out += c >= 0x61 && c <= 0x7a ? String.fromCharCode(c - 32) : ch;
    else {
      const lower = ch.toLowerCase();
      const up = [...lower].length === 1 ? lower.toUpperCase() : ch;
      out += [...up].length === 1 ? up : lower;
    }
  }
  return out;
}
