// The strict JSON parser: agrees with JSON.parse on valid JSON, and adds the rejections headers need.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { JsonSyntaxError, parseJsonStrict } from "../src/json.js";

const plain = (v: unknown): unknown => JSON.parse(JSON.stringify(v));

function syntaxError(text: string): JsonSyntaxError {
  try {
    parseJsonStrict(text);
  } catch (e) {
    expect(e).toBeInstanceOf(JsonSyntaxError);
    return e as JsonSyntaxError;
  }
  throw new Error(`parsed: ${text}`);
}

describe("parseJsonStrict", () => {
  it("parses what JSON.parse parses", () => {
    const text = '{"a": [1, -2.5e3, 0, true, false, null], "b": {"c": "x\\u00e9\\ud83d\\ude00\\n\\"\\\\\\/"}, "": 1}';
    expect(plain(parseJsonStrict(text))).toEqual(JSON.parse(text));
  });

  it("rejects duplicate keys at any depth, naming the path", () => {
    expect(syntaxError('{"a": 1, "a": 2}').path).toEqual(["a"]);
    const e = syntaxError('{"t": {"dtype": "F32", "dtype": "F16"}}');
    expect(e.path).toEqual(["t", "dtype"]);
    expect(e.message).toMatch(/duplicate key "dtype" at character 23/);
    // the same key spelled two ways is still the same key
    expect(syntaxError('{"ab": 1, "a\\u0062": 2}').path).toEqual(["ab"]);
  });

  it("rejects lone surrogates, control characters, bad escapes and deep nesting", () => {
    expect(syntaxError('"\\ud800"').reason).toMatch(/lone surrogate/);
    expect(syntaxError('"\\udc00\\ud800"').reason).toMatch(/lone surrogate/);
    expect(syntaxError('"\ud800"').reason).toMatch(/lone surrogate/);
    expect(syntaxError('"a\nb"').reason).toMatch(/control character U\+000a/);
    expect(syntaxError('"\\x41"').reason).toMatch(/invalid escape/);
    expect(syntaxError("[".repeat(100) + "]".repeat(100)).reason).toMatch(/nesting deeper than 64/);
    expect(parseJsonStrict("[".repeat(64) + "]".repeat(64))).toBeDefined();
  });

  it("rejects what JSON.parse rejects", () => {
    for (const bad of [
      "",
      " ",
      "{",
      "[1,]",
      '{"a":1,}',
      "01",
      "1.",
      ".5",
      "-",
      "1e",
      "+1",
      "tru",
      "nul",
      "'a'",
      '{"a" 1}',
      "[1 2]",
      '"abc',
      "{} {}",
      "NaN",
    ]) {
      expect(() => JSON.parse(bad), bad).toThrow();
      syntaxError(bad);
    }
  });

  it("keeps __proto__ as a plain key", () => {
    const v = parseJsonStrict('{"__proto__": {"polluted": 1}}') as Record<string, unknown>;
    expect(Object.keys(v)).toEqual(["__proto__"]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("agrees with JSON.parse on 2000 random JSON documents", () => {
    fc.assert(
      fc.property(fc.json({ depthSize: "medium" }), (text) => {
        expect(plain(parseJsonStrict(text))).toEqual(JSON.parse(text));
      }),
      { numRuns: 2000 },
    );
  });

  it("on 3000 random near-JSON strings, never accepts what JSON.parse rejects and never throws anything else", () => {
    const chars = fc.constantFrom(...'{}[],:"\\ 0123456789.-+eEtrufalsn\n\tu'.split(""), "\\u", "\\ud800", "\u00e9");
    fc.assert(
      fc.property(
        fc.array(chars, { maxLength: 30 }).map((a) => a.join("")),
        (text) => {
          let ref: unknown;
          let refOk = true;
          try {
            ref = JSON.parse(text);
          } catch {
            refOk = false;
          }
          try {
            const v = parseJsonStrict(text);
            expect(refOk).toBe(true);
            expect(plain(v)).toEqual(plain(ref)); // both normalized: -0 prints as 0
          } catch (e) {
            expect(e).toBeInstanceOf(JsonSyntaxError);
          }
        },
      ),
      { numRuns: 3000 },
    );
  });
});
