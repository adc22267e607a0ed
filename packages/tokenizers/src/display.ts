// Tokens as people can read them: a token's own text, with its bytes escaped where the token is only part of a
// UTF-8 character (a byte-level BPE piece such as "Ã", a SentencePiece byte "<0xE2>"), so a top-k list shows
// `"\xe2\x80"` instead of a row of "�". Quote the result (JSON.stringify) to make spaces and newlines visible.
import type { Tokenizer } from "@llmdbg/core";
import { BYTE_SYMBOLS } from "./builders.js";

/** GPT-2's byte-level symbols back to their bytes. */
const BYTE_OF: ReadonlyMap<string, number> = new Map(BYTE_SYMBOLS.map((c, b) => [c, b]));

/** The raw bytes a vocabulary piece stands for, when the piece is byte-level BPE or a SentencePiece byte; else null. */
function pieceBytes(piece: string): number[] | null {
  const sp = /^<0x([0-9A-Fa-f]{2})>$/.exec(piece);
  if (sp) return [Number.parseInt(sp[1] as string, 16)];
  const out: number[] = [];
  for (const ch of piece) {
    const b = BYTE_OF.get(ch);
    if (b === undefined) return null;
    out.push(b);
  }
  return out;
}

/** Bytes as text: valid UTF-8 runs decoded, every other byte as \xHH. */
function bytesText(bytes: readonly number[]): string {
  let out = "";
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i] as number;
    const len = b < 0x80 ? 1 : b >= 0xc2 && b < 0xe0 ? 2 : b >= 0xe0 && b < 0xf0 ? 3 : b >= 0xf0 && b < 0xf5 ? 4 : 0;
    const run = bytes.slice(i, i + len);
    const ok = len > 0 && run.length === len && run.slice(1).every((c) => (c & 0xc0) === 0x80);
    if (ok) {
      const s = new TextDecoder("utf-8", { fatal: false }).decode(Uint8Array.from(run));
      if (!s.includes("\uFFFD")) {
        out += s;
        i += len;
        continue;
      }
    }
    out += `\\x${b.toString(16).padStart(2, "0")}`;
    i++;
  }
  return out;
}

/**
 * The readable text of token `id`: what it decodes to, or, where that is not whole characters, its bytes with
 * the incomplete ones escaped.
 * @example JSON.stringify(tokenDisplay(tokenizer, 995)) // "\" world\""
 */
export function tokenDisplay(tokenizer: Tokenizer, id: number): string {
  const text = tokenizer.decode([id]);
  if (!text.includes("\uFFFD")) return text;
  const piece = tokenizer.tokenStrings([id])[0];
  const bytes = piece === undefined ? null : pieceBytes(piece);
  return bytes === null ? text : bytesText(bytes);
}
