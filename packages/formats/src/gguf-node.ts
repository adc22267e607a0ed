// GGUF files on disk (Node). Model files run to tens of gigabytes, more than one Buffer holds, so the reader
// parses the header from a growing prefix and reads each tensor's bytes only when asked.

import { closeSync, fstatSync, openSync, readSync, writeFileSync } from "node:fs";
import type { Tensor } from "@llmdbg/tensor";
import {
  decodeGgufTensor,
  encodeGguf,
  type GgufFile,
  GgufFormatError,
  GgufNeedMoreBytes,
  type GgufWriteInput,
  parseGgufHeader,
} from "./gguf.js";

const FIRST_READ = 1 << 20;

/** An open GGUF file: the parsed header, and tensors read on demand. Close it when done. */
export interface GgufReader {
  readonly path: string;
  readonly header: GgufFile;
  /** the named tensor dequantized to f32 */
  tensor(name: string): Tensor;
  /** the named tensor's raw bytes as stored */
  raw(name: string): Uint8Array;
  close(): void;
}

function readAt(fd: number, length: number, position: number): Uint8Array {
  const buf = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buf, done, length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return done === length ? buf : buf.subarray(0, done);
}

/**
 * Opens a GGUF file and parses its header strictly (GgufFormatError names the file and field).
 *
 * @example
 * const g = openGguf("tiny.gguf");
 * try { const wq = g.tensor("blk.0.attn_q.weight"); } finally { g.close(); }
 */
export function openGguf(path: string): GgufReader {
  const fd = openSync(path, "r");
  try {
    const size = fstatSync(fd).size;
    let want = Math.min(size, FIRST_READ);
    let header: GgufFile;
    for (;;) {
      const prefix = readAt(fd, want, 0);
      if (prefix.length < want)
        throw new GgufFormatError(path, "file", `shrank while being read (${prefix.length} of ${want} bytes)`);
      try {
        header = parseGgufHeader(prefix, path, size);
        break;
      } catch (e) {
        if (!(e instanceof GgufNeedMoreBytes)) throw e;
        // doubling keeps the number of re-parses logarithmic in the header size (vocabularies run to MBs)
        want = Math.min(size, Math.max(e.needed, want * 2));
      }
    }
    let open = true;
    const info = (name: string) => {
      if (!open) throw new Error(`${path}: the GGUF reader was closed`);
      const t = header.tensors.find((x) => x.name === name);
      if (t === undefined)
        throw new GgufFormatError(path, `tensor ${JSON.stringify(name)}`, "no tensor of that name in the file");
      return t;
    };
    const raw = (name: string) => {
      const t = info(name);
      const bytes = readAt(fd, t.byteSize, header.dataOffset + t.offset);
      if (bytes.length !== t.byteSize) {
        throw new GgufFormatError(
          path,
          `tensor ${JSON.stringify(name)}: data`,
          `file ended after ${bytes.length} of ${t.byteSize} bytes`,
        );
      }
      return bytes;
    };
    return {
      path,
      header,
      raw,
      tensor: (name) => decodeGgufTensor(info(name), raw(name), path),
      close() {
        if (open) closeSync(fd);
        open = false;
      },
    };
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

/**
 * Encodes `input` with `encodeGguf` and writes it to `path`.
 * @example writeGguf("tiny.gguf", { tensors: [{ name: "w", tensor: w, type: "Q8_0" }] })
 */
export function writeGguf(path: string, input: GgufWriteInput): void {
  writeFileSync(path, encodeGguf(input));
}
