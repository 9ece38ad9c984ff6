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

const GO_NAMED_ESCAPES: Record<number, string> = {
  7: '\\a',
  8: '\\b',
  9: '\\t',
  10: '\\n',
  11: '\\v',
  12: '\\f',
  13: '\\r',
  0x5c: '\\\\',
};

/** How Go's strconv quoting writes one rune between `quote`s; undefined where it writes the rune itself. */
export function goEscapeRune(c: number, quote: '"' | "'"): string | undefined {
  if (c === quote.charCodeAt(0)) return `\\${quote}`;
  if (GO_NAMED_ESCAPES[c]) return GO_NAMED_ESCAPES[c];
  if (c < 0x20 || c === 0x7f) return `\\x${c.toString(16).padStart(2, '0')}`;
  // Latin-1 runes Go's strconv.IsPrint rejects: C1 controls, NBSP, soft hyphen.
  if ((c >= 0x80 && c <= 0xa0) || c === 0xad) return `\\u${c.toString(16).padStart(4, '0')}`;
  return undefined;
}

/** strconv.Quote of the byte as a rune, in single quotes: Go's `quoteChar`. */
function quoteChar(c: number): string {
  return `'${goEscapeRune(c, "'") ?? String.fromCharCode(c)}'`;
}

const isWs = (c: number): boolean => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;
const isHex = (c: number): boolean => isDigit(c) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46);

type Frame =
  | { t: 'object'; node: Extract<GoJson, { t: 'object' }>; key?: string }
  | { t: 'array'; node: Extract<GoJson, { t: 'array' }> };

/** Parses like Go's checkValid + decode; throws GoJsonSyntaxError with Go's message. */
export function parseGoJson(data: Uint8Array): GoJson {
  return new GoJsonParser(data).parse();
}

/** A one-pass scanner over the bytes: values attach to the open container on the stack as they are read. */
class GoJsonParser {
  private i = 0;
  private readonly n: number;
  private readonly stack: Frame[] = [];
  private root: GoJson | undefined;
  private expectValue = true;

  constructor(private readonly data: Uint8Array) {
    this.n = this.data.length;
  }

  parse(): GoJson {
    for (;;) {
      if (this.expectValue && this.value()) continue;
      const done = this.afterValue();
      if (done) return done;
    }
  }

  private end(): never {
    throw new GoJsonSyntaxError('unexpected end of JSON input');
  }

  // Go's scanner meets the end of input as one more space: where a space is wrong, the error names it.
  private bad(c: number, where: string): never {
    throw new GoJsonSyntaxError(`invalid character ${quoteChar(c)} ${where}`);
  }

  private skipWs(): void {
    while (this.i < this.n && isWs(this.data[this.i]!)) this.i++;
  }

  private readString(): string {
    // data[i] is the opening quote
    this.i++;
    const parts: number[] = [];
    for (;;) {
      if (this.i >= this.n) this.end();
      const c = this.data[this.i]!;
      if (c === 0x22) {
        this.i++;
        return decodeStringBytes(Uint8Array.from(parts));
      }
      if (c < 0x20) this.bad(c, 'in string literal');
      if (c !== 0x5c) {
        parts.push(c);
        this.i++;
        continue;
      }
      this.i++;
      if (this.i >= this.n) this.bad(0x20, 'in string escape code');
      const e = this.data[this.i]!;
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
        this.i++;
        continue;
      }
      if (e !== 0x75) this.bad(e, 'in string escape code');
      this.i++;
      let hex = '';
      for (let k = 0; k < 4; k++) {
        if (this.i >= this.n) this.bad(0x20, 'in \\u hexadecimal character escape');
        const h = this.data[this.i]!;
        if (!isHex(h)) this.bad(h, 'in \\u hexadecimal character escape');
        hex += String.fromCharCode(h);
        this.i++;
      }
      // Escapes become UTF-8 here; lone surrogates are paired or replaced when the bytes are decoded.
      parts.push(...escapeBytes(Number.parseInt(hex, 16)));
    }
  }

  private readNumber(): string {
    const start = this.i;
    if (this.data[this.i] === 0x2d) {
      this.i++;
      if (this.i >= this.n) this.bad(0x20, 'in numeric literal');
      if (!isDigit(this.data[this.i]!)) this.bad(this.data[this.i]!, 'in numeric literal');
    }
    if (this.data[this.i] === 0x30) this.i++;
    else while (this.i < this.n && isDigit(this.data[this.i]!)) this.i++;
    if (this.i < this.n && this.data[this.i] === 0x2e) {
      this.i++;
      if (this.i >= this.n) this.bad(0x20, 'after decimal point in numeric literal');
      if (!isDigit(this.data[this.i]!)) this.bad(this.data[this.i]!, 'after decimal point in numeric literal');
      while (this.i < this.n && isDigit(this.data[this.i]!)) this.i++;
    }
    if (this.i < this.n && (this.data[this.i] === 0x65 || this.data[this.i] === 0x45)) {
      this.i++;
      if (this.i < this.n && (this.data[this.i] === 0x2b || this.data[this.i] === 0x2d)) this.i++;
      if (this.i >= this.n) this.bad(0x20, 'in exponent of numeric literal');
      if (!isDigit(this.data[this.i]!)) this.bad(this.data[this.i]!, 'in exponent of numeric literal');
      while (this.i < this.n && isDigit(this.data[this.i]!)) this.i++;
    }
    return Buffer.from(this.data.subarray(start, this.i)).toString('latin1');
  }

  private readLiteral(word: string): void {
    for (let k = 0; k < word.length; k++) {
      if (this.i >= this.n) this.bad(0x20, `in literal ${word} (expecting ${quoteChar(word.charCodeAt(k))})`);
      if (this.data[this.i] !== word.charCodeAt(k))
        this.bad(this.data[this.i]!, `in literal ${word} (expecting ${quoteChar(word.charCodeAt(k))})`);
      this.i++;
    }
  }

  /** A value (containers as soon as they open): into its parent, or as the root. */
  private attach(v: GoJson): void {
    const top = this.stack.at(-1);
    if (!top) this.root = v;
    else if (top.t === 'array') top.node.items.push(v);
    else top.node.entries.push([top.key!, v]);
  }

  /**
   * One value where a value is expected: a scalar, or a container opened. True when the container has content
   * to read next (its first key is read): the scan goes on with a value, not with what follows one.
   */
  private value(): boolean {
    this.skipWs();
    if (this.i >= this.n) this.end();
    const c = this.data[this.i]!;
    let v: GoJson | undefined;
    if (c === 0x7b) {
      this.i++;
      const node: Extract<GoJson, { t: 'object' }> = { t: 'object', entries: [] };
      this.attach(node);
      if (this.stack.length >= MAX_DEPTH) this.bad(c, 'exceeded max depth');
      this.stack.push({ t: 'object', node });
      this.skipWs();
      if (this.i >= this.n) this.end();
      if (this.data[this.i] === 0x7d) {
        this.i++;
        this.stack.pop();
      } else {
        if (this.data[this.i] !== 0x22) this.bad(this.data[this.i]!, 'looking for beginning of object key string');
        (this.stack.at(-1) as Extract<Frame, { t: 'object' }>).key = this.readKey();
        return true;
      }
    } else if (c === 0x5b) {
      this.i++;
      const node: Extract<GoJson, { t: 'array' }> = { t: 'array', items: [] };
      this.attach(node);
      if (this.stack.length >= MAX_DEPTH) this.bad(c, 'exceeded max depth');
      this.stack.push({ t: 'array', node });
      this.skipWs();
      if (this.i >= this.n) this.end();
      if (this.data[this.i] === 0x5d) {
        this.i++;
        this.stack.pop();
      } else return true;
    } else if (c === 0x22) v = { t: 'string', v: this.readString() };
    else if (c === 0x2d || isDigit(c)) v = { t: 'number', raw: this.readNumber() };
    else if (c === 0x74) {
      this.readLiteral('true');
      v = { t: 'bool', v: true };
    } else if (c === 0x66) {
      this.readLiteral('false');
      v = { t: 'bool', v: false };
    } else if (c === 0x6e) {
      this.readLiteral('null');
      v = { t: 'null' };
    } else this.bad(c, 'looking for beginning of value');
    if (v) this.attach(v);
    this.expectValue = false;
    return false;
  }

  /** After a value: a separator, a closer, or (at the top) the end, which gives the root. */
  private afterValue(): GoJson | undefined {
    this.skipWs();
    const top = this.stack.at(-1);
    if (!top) {
      if (this.i < this.n) this.bad(this.data[this.i]!, 'after top-level value');
      return this.root!;
    }
    if (this.i >= this.n) this.end();
    const c = this.data[this.i]!;
    if (top.t === 'array') {
      if (c === 0x2c) {
        this.i++;
        this.expectValue = true;
        return undefined;
      }
      if (c === 0x5d) {
        this.i++;
        this.stack.pop();
        return undefined;
      }
      this.bad(c, 'after array element');
    } else {
      if (c === 0x2c) {
        this.i++;
        this.skipWs();
        if (this.i >= this.n) this.end();
        if (this.data[this.i] !== 0x22) this.bad(this.data[this.i]!, 'looking for beginning of object key string');
        top.key = this.readKey();
        return undefined;
      }
      if (c === 0x7d) {
        this.i++;
        this.stack.pop();
        return undefined;
      }
      this.bad(c, 'after object key:value pair');
    }
  }

  /** A key and its colon; leaves the parser expecting the value. */
  private readKey(): string {
    const key = this.readString();
    this.skipWs();
    if (this.i >= this.n) this.end();
    if (this.data[this.i] !== 0x3a) this.bad(this.data[this.i]!, 'after object key');
    this.i++;
    this.expectValue = true;
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
