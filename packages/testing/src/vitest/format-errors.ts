// Builders for hand-made safetensors files, valid and broken.

import { ModelFormatError } from "@llmdbg/formats";
import { expect } from "vitest";

/** A file from a header (object or raw text) and a data buffer; `length` overrides the 8-byte header length. */
export function craft(header: object | string, data: Uint8Array | number = 0, length?: bigint): Uint8Array {
  const text = typeof header === "string" ? header : JSON.stringify(header);
  const json = new TextEncoder().encode(text);
  const body = typeof data === "number" ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + json.length + body.length);
  new DataView(out.buffer).setBigUint64(0, length ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(body, 8 + json.length);
  return out;
}

/** A file with raw header bytes (for invalid UTF-8). */
export function craftBytes(header: Uint8Array, dataSize = 0): Uint8Array {
  const out = new Uint8Array(8 + header.length + dataSize);
  new DataView(out.buffer).setBigUint64(0, BigInt(header.length), true);
  out.set(header, 8);
  return out;
}

export const entry = (dtype: string, shape: unknown, begin: number, end: number) => ({
  dtype,
  shape,
  data_offsets: [begin, end],
});

/** Runs `fn`, requires a ModelFormatError for `file` whose field matches and whose message names both. */
export function expectFormatError(fn: () => unknown, file: string, field: string | RegExp, detail?: RegExp): ModelFormatError {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err, "expected a ModelFormatError").toBeInstanceOf(ModelFormatError);
  const e = err as ModelFormatError;
  expect(e.name).toBe("ModelFormatError");
  expect(e.file).toBe(file);
  if (typeof field === "string") expect(e.field).toBe(field);
  else expect(e.field).toMatch(field);
  expect(e.message.startsWith(`${file}: ${e.field}: `), e.message).toBe(true);
  if (detail !== undefined) expect(e.message).toMatch(detail);
  return e;
}
