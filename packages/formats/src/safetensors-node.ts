// Safetensors files on disk. Only the header is read when a file is opened; each `load` then reads one
// tensor's byte range, so a model is never held twice (file image + tensors) in memory, and no allocation is
// sized by a header claim before that claim has been checked against the file's real length.
import { closeSync, fstatSync, openSync, readFileSync, readSync, renameSync, rmSync, statSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { Tensor } from "@llmdbg/tensor";
import { ModelFormatError, show } from "./errors.js";
import { type Json, type JsonObject, JsonSyntaxError, parseJsonStrict } from "./json.js";
import {
  type ByteReader,
  encodeTensorData,
  MAX_HEADER_SIZE,
  makeSafetensorsReader,
  parseSafetensorsHeader,
  planSafetensors,
  type SafetensorsReader,
  type TensorEntry,
  type WriteOptions,
} from "./safetensors.js";

/** readSync moves at most ~2 GiB per call. */
const MAX_READ = 1 << 30;

function readFully(fd: number, file: string, position: number, dest: Uint8Array): void {
  let done = 0;
  while (done < dest.length) {
    const got = readSync(fd, dest, done, Math.min(dest.length - done, MAX_READ), position + done);
    if (got === 0) {
      throw new ModelFormatError(file, "file", `ended at byte ${position + done}, expected ${dest.length - done} more bytes`);
    }
    done += got;
  }
}

export interface ReadOptions {
  /** The name errors give the file; default the path. */
  label?: string;
}

/**
 * Opens a safetensors file: reads and validates its header only. Tensors are read on `load`.
 *
 * @example
 * const st = readSafetensors("gpt2/model.safetensors");
 * const wte = st.load("wte.weight"); // F16/BF16 arrive as f32
 */
export function readSafetensors(path: string, opts: ReadOptions = {}): SafetensorsReader {
  const file = opts.label ?? path;
  const fd = openSync(path, "r");
  let size: number;
  let header: ReturnType<typeof parseSafetensorsHeader>;
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new ModelFormatError(file, "file", "is not a regular file");
    size = st.size;
    let bytes = new Uint8Array(Math.min(8, size));
    readFully(fd, file, 0, bytes);
    if (size >= 8) {
      const n = new DataView(bytes.buffer).getBigUint64(0, true);
      // Allocate for the header only once the claimed length is known to be sane; otherwise the parser
      // reports the bad length from these 8 bytes.
      if (n > 0n && n <= BigInt(Math.min(MAX_HEADER_SIZE, size - 8))) {
        const all = new Uint8Array(8 + Number(n));
        all.set(bytes);
        readFully(fd, file, 8, all.subarray(8));
        bytes = all;
      }
    }
    header = parseSafetensorsHeader(bytes, file, size);
  } finally {
    closeSync(fd);
  }
  // Each load reopens the file, so an unclosed reader holds no descriptor; a file that changed length since
  // its header was checked is refused rather than read at stale offsets.
  const open = (): ByteReader => {
    const fd = openSync(path, "r");
    try {
      const now = fstatSync(fd).size;
      if (now !== size)
        throw new ModelFormatError(file, "file", `changed size since its header was read (${size} → ${now} bytes)`);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
    return { readAt: (position, dest) => readFully(fd, file, position, dest), close: () => closeSync(fd) };
  };
  return makeSafetensorsReader(file, header, open);
}

/** A sharded checkpoint presented as one file, plus what the index said. */
export interface ShardedSafetensorsReader extends SafetensorsReader {
  /** The index's own `metadata` object as parsed (e.g. `{ total_size: 548118528 }`). */
  readonly indexMetadata: Readonly<Record<string, Json>>;
  /** One reader per shard, in order of first mention in `weight_map`. */
  readonly shards: readonly SafetensorsReader[];
  /** The shard holding `name`. */
  shardOf(name: string): SafetensorsReader;
}

export const SHARD_INDEX = "model.safetensors.index.json";

const isObject = (v: Json | undefined): v is JsonObject => typeof v === "object" && v !== null && !Array.isArray(v);

/** A top-level key of the index as a field name: quoted when empty, so an error always names a field. */
const keyField = (k: string): string => (k === "" ? '""' : k);

/** A plain file name that cannot leave the folder: no separators, no drive, no `..`, no NUL. */
function isPlainFileName(s: string): boolean {
  return s.length > 0 && !/[/\\:\0]/.test(s) && !s.includes("..") && s !== ".";
}

/**
 * Opens a sharded checkpoint: `folder/model.safetensors.index.json` maps each tensor to a shard file in the
 * same folder. Shard names must be plain file names; every shard's header is validated, every mapped tensor
 * must be in its shard and every shard tensor must be mapped there. The result reads like one file.
 *
 * @example
 * const st = readShardedSafetensors("Llama-3-8B");
 * st.entries.length; // all tensors across shards
 * st.load("model.embed_tokens.weight", { dtype: "f32" });
 */
export function readShardedSafetensors(folder: string, indexName = SHARD_INDEX): ShardedSafetensorsReader {
  const indexFile = join(folder, indexName);
  const fail = (field: string, detail: string): never => {
    throw new ModelFormatError(indexFile, field, detail);
  };
  const size = statSync(indexFile).size;
  if (size > MAX_HEADER_SIZE) fail("file", `is ${size} bytes, more than the ${MAX_HEADER_SIZE}-byte limit for an index`);
  const raw = readFileSync(indexFile);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(raw);
  } catch {
    return fail("index", "is not valid UTF-8");
  }
  let root: Json;
  try {
    root = parseJsonStrict(text, 16);
  } catch (e) {
    if (!(e instanceof JsonSyntaxError)) throw e;
    const [top, key] = e.path;
    const field = top === undefined ? "index" : key === undefined ? keyField(top) : `${keyField(top)} ${show(key, 200)}`;
    return fail(field, `invalid JSON: ${e.message}`);
  }
  if (!isObject(root)) return fail("index", "expected a JSON object with weight_map");
  for (const k of Object.keys(root)) {
    if (k !== "metadata" && k !== "weight_map") fail(keyField(k), "unknown key; an index has only metadata and weight_map");
  }
  const meta = root.metadata ?? Object.create(null);
  if (!isObject(meta)) fail("metadata", `expected an object, got ${show(meta)}`);
  const map = root.weight_map;
  if (!isObject(map)) return fail("weight_map", `expected an object mapping tensor names to shard files, got ${show(map)}`);

  const shardNames: string[] = [];
  for (const name of Object.keys(map)) {
    const shard = map[name];
    const field = `weight_map ${show(name, 200)}`;
    if (typeof shard !== "string") return fail(field, `expected a shard file name, got ${show(shard)}`);
    if (!isPlainFileName(shard)) fail(field, `shard ${show(shard)} is not a plain file name inside the folder`);
    if (!shardNames.includes(shard)) shardNames.push(shard);
  }
  const shards = shardNames.map((s) => {
    const path = join(folder, s);
    let isFile = false;
    try {
      isFile = statSync(path).isFile();
    } catch {}
    if (!isFile) fail(`weight_map shard ${show(s)}`, "no such file in the folder");
    return readSafetensors(path);
  });
  const shardByName = new Map(shardNames.map((s, i) => [s, shards[i] as SafetensorsReader]));

  const owner = new Map<string, SafetensorsReader>();
  for (const name of Object.keys(map)) {
    const shardName = map[name] as string;
    const shard = shardByName.get(shardName) as SafetensorsReader;
    if (!shard.has(name)) fail(`weight_map ${show(name, 200)}`, `tensor is not in shard ${show(shardName)}`);
    owner.set(name, shard);
  }
  const entries: TensorEntry[] = [];
  for (const shard of shards) {
    for (const e of shard.entries) {
      if (owner.get(e.name) !== shard) {
        const mapped = map[e.name];
        const why = mapped === undefined ? `is not listed in ${indexName}` : `is mapped to ${show(mapped)} by ${indexName}`;
        throw new ModelFormatError(
          shard.file,
          `tensor ${show(e.name, 200)}`,
          `${why}; each tensor must live in exactly one shard`,
        );
      }
      entries.push(e);
    }
  }

  const indexMetadata = meta as Record<string, Json>;
  const metadata = Object.create(null) as Record<string, string>;
  for (const [k, v] of Object.entries(indexMetadata)) metadata[k] = typeof v === "string" ? v : JSON.stringify(v);
  const shardOf = (name: string): SafetensorsReader => {
    const s = owner.get(name);
    if (s === undefined) throw new Error(`${folder}: no tensor named ${show(name, 200)}`);
    return s;
  };
  return {
    file: folder,
    metadata,
    indexMetadata,
    entries,
    shards,
    shardOf,
    has: (name) => owner.has(name),
    keys: () => entries.map((e) => e.name),
    entry: (name) => shardOf(name).entry(name),
    load: (name, opts) => shardOf(name).load(name, opts),
    loadBytes: (name) => shardOf(name).loadBytes(name),
  };
}

/**
 * Writes tensors to a safetensors file, one tensor at a time (the file is never built in memory), through a
 * temporary file renamed into place, so a crash never leaves a truncated file under `path`.
 *
 * @example
 * writeSafetensors("out/model.safetensors", { "lm_head.weight": w }, { dtype: "F16", metadata: { format: "pt" } });
 */
export function writeSafetensors(path: string, tensors: Readonly<Record<string, Tensor>>, opts: WriteOptions = {}): void {
  const plan = planSafetensors(tensors, opts);
  const tmp = `${path}.tmp-${process.pid}-${Date.now()}`;
  const fd = openSync(tmp, "wx");
  let written = false;
  try {
    writeAll(fd, plan.head);
    for (const p of plan.tensors) writeAll(fd, encodeTensorData(p.tensor, p.dtype));
    written = true;
  } finally {
    closeSync(fd);
    if (!written) rmSync(tmp, { force: true });
  }
  renameSync(tmp, path);
}

function writeAll(fd: number, bytes: Uint8Array): void {
  for (let done = 0; done < bytes.length; ) {
    done += writeSync(fd, bytes, done, Math.min(bytes.length - done, MAX_READ));
  }
}
