// Readable tokens: whole characters as text, partial UTF-8 pieces as byte escapes, for byte-level BPE and
// SentencePiece byte fallback alike.
import type { Tokenizer } from "@llmdbg/core";
import { describe, expect, it } from "vitest";
import { tokenDisplay } from "../src/display.js";

/** A tokenizer over a fixed list of pieces whose decode is the HF one for the chosen scheme. */
function fake(pieces: string[], decodeOne: (piece: string) => string): Tokenizer {
  return {
    encode: () => [],
    decode: (ids) => ids.map((i) => decodeOne(pieces[i] as string)).join(""),
    tokenStrings: (ids) => ids.map((i) => pieces[i] as string),
    idToToken: (i) => pieces[i],
    tokenToId: (t) => pieces.indexOf(t),
    vocabSize: pieces.length,
    bosTokenId: undefined,
    eosTokenId: undefined,
    padTokenId: undefined,
    unkTokenId: undefined,
  };
}

describe("tokenDisplay", () => {
  it("byte-level BPE: a whole word as text, half a character as \\x escapes", () => {
    // "Ġworld" is " world"; "âĢ" is the bytes e2 80 (the start of "—" / "’"); "Ã©" is "é"
    const bytesOf: Record<string, number[]> = { Ġworld: [0x20, ...Buffer.from("world")], âĢ: [0xe2, 0x80], "Ã©": [0xc3, 0xa9] };
    const t = fake(["Ġworld", "âĢ", "Ã©"], (p) => new TextDecoder().decode(Uint8Array.from(bytesOf[p] ?? [])));
    expect(tokenDisplay(t, 0)).toBe(" world");
    expect(tokenDisplay(t, 1)).toBe("\\xe2\\x80");
    expect(tokenDisplay(t, 2)).toBe("é");
    expect(JSON.stringify(tokenDisplay(t, 0))).toBe('" world"');
  });

  it("SentencePiece byte fallback: <0xE2> is \\xe2; a normal piece is its text", () => {
    const t = fake(["<0xE2>", "▁the"], (p) => (p === "▁the" ? " the" : "\uFFFD"));
    expect(tokenDisplay(t, 0)).toBe("\\xe2");
    expect(tokenDisplay(t, 1)).toBe(" the");
  });

  it("a newline stays a newline (JSON quoting shows it)", () => {
    const t = fake(["Ċ"], () => "\n");
    expect(JSON.stringify(tokenDisplay(t, 0))).toBe('"\\n"');
  });
});
