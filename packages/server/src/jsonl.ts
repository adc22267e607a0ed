// A dataset's JSONL: one JSON object per line with a non-empty string `text`, an optional `label` (a string, a
// number or a boolean; null is none) and an optional string `target` (a language model's expected continuation);
// any other fields are kept as columns. Blank lines are skipped; a bad line is an error naming its line number
// (counted in the file, from 1) and the field, so a user can find it in an editor.
import type { DatasetExample } from "@llmdbg/protocol";
import type { Example } from "@llmdbg/store";

export class DatasetError extends Error {
  override name = "DatasetError";
}

/** The most examples one dataset may hold (default of parseJsonl's `maxRows`). */
export const MAX_ROWS = 100_000;

/**
 * Parses and checks a JSONL text; throws a DatasetError naming the line and field of the first bad line.
 * @example parseJsonl('{"text": "great film", "label": "pos"}\n') // [{ text: "great film", label: "pos" }]
 */
export function parseJsonl(text: string, maxRows = MAX_ROWS): Example[] {
  const lines = text.replace(/^\uFEFF/, "").split("\n");
  const out: Example[] = [];
  for (const [i, raw] of lines.entries()) {
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (line.trim() === "") continue;
    const at = `line ${i + 1}`;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch (e) {
      throw new DatasetError(`${at}: not valid JSON (${(e as Error).message})`);
    }
    if (typeof v !== "object" || v === null || Array.isArray(v))
      throw new DatasetError(`${at}: expected a JSON object like {"text": "…", "label": "…"}`);
    const o = v as Record<string, unknown>;
    if (typeof o.text !== "string" || o.text.trim() === "")
      throw new DatasetError(`${at}: text: expected a non-empty string${"text" in o ? "" : " (the field is missing)"}`);
    const label = o.label;
    if (label !== undefined && label !== null && !["string", "number", "boolean"].includes(typeof label))
      throw new DatasetError(`${at}: label: expected a string, a number or a boolean`);
    if (typeof label === "number" && !Number.isFinite(label)) throw new DatasetError(`${at}: label: expected a finite number`);
    if (o.target !== undefined && o.target !== null && (typeof o.target !== "string" || o.target === ""))
      throw new DatasetError(`${at}: target: expected a non-empty string (the continuation a language model should predict)`);
    if (out.length >= maxRows) throw new DatasetError(`${at}: more than ${maxRows} examples (the server's limit)`);
    out.push(o as Example);
  }
  if (out.length === 0) throw new DatasetError("the dataset has no examples (one JSON object per line)");
  return out;
}

/** An example as the protocol shows it: its label as a string, its other fields apart. */
export function exampleView(e: Example, index: number): DatasetExample {
  const { text, label, ...fields } = e;
  return { index, text, label: label === undefined || label === null ? null : String(label), fields };
}

/** The gold an example gives a model: its `target` (a continuation), else its label; null when it has neither. */
export function goldOf(e: DatasetExample): string | null {
  const t = e.fields.target;
  return typeof t === "string" && t !== "" ? t : e.label;
}
