// A strict JSON parser for model headers. JSON.parse keeps the last of two duplicate keys without a word, so
// a header naming one tensor twice would silently describe different bytes than another reader sees; here a
// duplicate key, a lone surrogate (it cannot round-trip through UTF-8) and runaway nesting are errors.

export type Json = null | boolean | number | string | Json[] | JsonObject;
export interface JsonObject {
  [key: string]: Json;
}

/** Where and why the text is not (strict) JSON. `path` holds the object keys and array indices down to the fault. */
export class JsonSyntaxError extends Error {
  override name = "JsonSyntaxError";

  constructor(
    readonly at: number,
    readonly path: readonly string[],
    readonly reason: string,
  ) {
    super(`${reason} at character ${at}`);
  }
}

/**
 * Parses `text` as JSON (RFC 8259), rejecting duplicate keys, lone surrogates and nesting deeper than
 * `maxDepth`. Objects come back with a null prototype, so a key such as `__proto__` is plain data.
 *
 * @example
 * parseJsonStrict('{"a": [1, 2]}') // { a: [1, 2] }
 * parseJsonStrict('{"a": 1, "a": 2}') // throws JsonSyntaxError: duplicate key "a"
 */
export function parseJsonStrict(text: string, maxDepth = 64): Json {
  return new Parser(text, maxDepth).document();
}

const C = {
  Tab: 9,
  Newline: 10,
  Return: 13,
  Space: 32,
  Quote: 34,
  Plus: 43,
  Comma: 44,
  Minus: 45,
  Dot: 46,
  Zero: 48,
  Nine: 57,
  Colon: 58,
  UpperE: 69,
  OpenBracket: 91,
  Backslash: 92,
  CloseBracket: 93,
  LowerE: 101,
  OpenBrace: 123,
  CloseBrace: 125,
} as const;

const escapes: Record<string, string> = { '"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" };

class Parser {
  private pos = 0;
  private readonly path: string[] = [];

  constructor(
    private readonly text: string,
    private readonly maxDepth: number,
  ) {}

  document(): Json {
    this.ws();
    const v = this.value(0);
    this.ws();
    if (this.pos < this.text.length) this.fail("unexpected text after the JSON value");
    return v;
  }

  private fail(reason: string, at = this.pos): never {
    throw new JsonSyntaxError(at, [...this.path], reason);
  }

  private ws(): void {
    const t = this.text;
    let p = this.pos;
    for (;;) {
      const c = t.charCodeAt(p);
      if (c !== C.Space && c !== C.Newline && c !== C.Return && c !== C.Tab) break;
      p++;
    }
    this.pos = p;
  }

  private value(depth: number): Json {
    const c = this.text.charCodeAt(this.pos);
    if (c === C.OpenBrace) return this.object(depth + 1);
    if (c === C.OpenBracket) return this.array(depth + 1);
    if (c === C.Quote) return this.string();
    if (c === C.Minus || (c >= C.Zero && c <= C.Nine)) return this.number();
    if (this.text.startsWith("true", this.pos)) return this.literal(4, true);
    if (this.text.startsWith("false", this.pos)) return this.literal(5, false);
    if (this.text.startsWith("null", this.pos)) return this.literal(4, null);
    return this.fail(Number.isNaN(c) ? "unexpected end of text, expected a value" : "expected a value");
  }

  private literal<T>(len: number, v: T): T {
    this.pos += len;
    return v;
  }

  private enter(depth: number): void {
    if (depth > this.maxDepth) this.fail(`nesting deeper than ${this.maxDepth} levels`);
    this.pos++;
    this.ws();
  }

  private object(depth: number): JsonObject {
    this.enter(depth);
    const out = Object.create(null) as JsonObject;
    if (this.text.charCodeAt(this.pos) === C.CloseBrace) {
      this.pos++;
      return out;
    }
    for (;;) {
      if (this.text.charCodeAt(this.pos) !== C.Quote) this.fail("expected a string key");
      const keyAt = this.pos;
      const key = this.string();
      if (key in out) {
        this.path.push(key);
        this.fail(`duplicate key ${JSON.stringify(key).slice(0, 200)}`, keyAt);
      }
      this.ws();
      if (this.text.charCodeAt(this.pos) !== C.Colon) this.fail("expected ':' after an object key");
      this.pos++;
      this.ws();
      this.path.push(key);
      out[key] = this.value(depth);
      this.path.pop();
      this.ws();
      const c = this.text.charCodeAt(this.pos++);
      if (c === C.CloseBrace) return out;
      if (c !== C.Comma) this.fail("expected ',' or '}' in an object", this.pos - 1);
      this.ws();
    }
  }

  private array(depth: number): Json[] {
    this.enter(depth);
    const out: Json[] = [];
    if (this.text.charCodeAt(this.pos) === C.CloseBracket) {
      this.pos++;
      return out;
    }
    for (;;) {
      this.path.push(String(out.length));
      out.push(this.value(depth));
      this.path.pop();
      this.ws();
      const c = this.text.charCodeAt(this.pos++);
      if (c === C.CloseBracket) return out;
      if (c !== C.Comma) this.fail("expected ',' or ']' in an array", this.pos - 1);
      this.ws();
    }
  }

  private number(): number {
    const t = this.text;
    const start = this.pos;
    let p = start;
    const digits = (): number => {
      const from = p;
      while (t.charCodeAt(p) >= C.Zero && t.charCodeAt(p) <= C.Nine) p++;
      return p - from;
    };
    if (t.charCodeAt(p) === C.Minus) p++;
    if (t.charCodeAt(p) === C.Zero) p++;
    else if (digits() === 0) this.fail("expected a digit", p);
    if (t.charCodeAt(p) === C.Dot) {
      p++;
      if (digits() === 0) this.fail("expected a digit after '.'", p);
    }
    const e = t.charCodeAt(p);
    if (e === C.LowerE || e === C.UpperE) {
      p++;
      const s = t.charCodeAt(p);
      if (s === C.Plus || s === C.Minus) p++;
      if (digits() === 0) this.fail("expected a digit in the exponent", p);
    }
    this.pos = p;
    return Number(t.slice(start, p));
  }

  private string(): string {
    const t = this.text;
    let p = this.pos + 1;
    let chunkStart = p;
    let parts: string[] | null = null;
    for (;;) {
      const c = t.charCodeAt(p);
      if (c === C.Quote) break;
      if (Number.isNaN(c)) this.fail("unterminated string", p);
      if (c < 0x20) this.fail(`control character U+${c.toString(16).padStart(4, "0")} in a string`, p);
      if (c >= 0xd800 && c <= 0xdfff) {
        const next = t.charCodeAt(p + 1);
        if (c >= 0xdc00 || !(next >= 0xdc00 && next <= 0xdfff)) this.fail("lone surrogate in a string", p);
        p += 2;
        continue;
      }
      if (c !== C.Backslash) {
        p++;
        continue;
      }
      parts ??= [];
      parts.push(t.slice(chunkStart, p));
      const esc = t[p + 1] ?? "";
      if (esc === "u") {
        const hi = this.hex4(p + 2);
        p += 6;
        if (hi >= 0xd800 && hi <= 0xdbff) {
          const lo = t.startsWith("\\u", p) ? this.hex4(p + 2) : -1;
          if (!(lo >= 0xdc00 && lo <= 0xdfff)) this.fail("lone surrogate escape in a string", p - 6);
          parts.push(String.fromCharCode(hi, lo));
          p += 6;
        } else if (hi >= 0xdc00 && hi <= 0xdfff) {
          this.fail("lone surrogate escape in a string", p - 6);
        } else {
          parts.push(String.fromCharCode(hi));
        }
      } else {
        const rep = escapes[esc];
        if (rep === undefined) this.fail(`invalid escape \\${esc}`, p);
        parts.push(rep);
        p += 2;
      }
      chunkStart = p;
    }
    this.pos = p + 1;
    const last = t.slice(chunkStart, p);
    if (parts === null) return last;
    parts.push(last);
    return parts.join("");
  }

  private hex4(at: number): number {
    const h = this.text.slice(at, at + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(h)) this.fail("expected four hex digits after \\u", at);
    return Number.parseInt(h, 16);
  }
}
