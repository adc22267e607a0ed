// Sharded checkpoints: model.safetensors.index.json + shard files, read as one.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randn, tensor } from "@llmdbg/tensor";
import { expectFormatError } from "@llmdbg/testing/vitest";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { ModelFormatError } from "../src/errors.js";
import { readShardedSafetensors, SHARD_INDEX, writeSafetensors } from "../src/safetensors-node.js";

const root = mkdtempSync(join(tmpdir(), "llmdbg-shards-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const s1 = "model-00001-of-00002.safetensors";
const s2 = "model-00002-of-00002.safetensors";
const a = randn([4, 3], 1);
const b = tensor([1, 2, 3], [3]);
const c = randn([2, 2], 3);
const weightMap = () => ({ "wte.weight": s1, "h.0.ln_1.bias": s1, "lm_head.weight": s2 });

let folder = "";
let n = 0;
const writeIndex = (index: unknown) =>
  writeFileSync(join(folder, SHARD_INDEX), typeof index === "string" ? index : JSON.stringify(index));
beforeEach(() => {
  folder = join(root, `m${n++}`);
  mkdirSync(folder);
  writeSafetensors(join(folder, s1), { "wte.weight": a, "h.0.ln_1.bias": b }, { metadata: { format: "pt" } });
  writeSafetensors(join(folder, s2), { "lm_head.weight": c }, { dtype: "BF16", metadata: { format: "pt" } });
  writeIndex({ metadata: { total_size: 84 }, weight_map: weightMap() });
});

describe("readShardedSafetensors", () => {
  it("presents two shards as one checkpoint", () => {
    const st = readShardedSafetensors(folder);
    expect(st.file).toBe(folder);
    expect(st.shards.map((s) => s.file)).toEqual([join(folder, s1), join(folder, s2)]);
    expect(st.entries.map((e) => e.name).sort()).toEqual(["h.0.ln_1.bias", "lm_head.weight", "wte.weight"]);
    expect(st.indexMetadata).toEqual({ total_size: 84 });
    expect(st.metadata.total_size).toBe("84");
    expect(st.load("wte.weight").toArray()).toEqual(a.toArray());
    expect(st.load("h.0.ln_1.bias").toArray()).toEqual([1, 2, 3]);
    expect(st.entry("lm_head.weight").dtype).toBe("BF16");
    expect(st.load("lm_head.weight").shape).toEqual([2, 2]);
    expect(st.shardOf("lm_head.weight").file).toBe(join(folder, s2));
    expect(st.has("nope")).toBe(false);
    expect(() => st.load("nope")).toThrow(/no tensor named "nope"/);
    expect(st.loadBytes("h.0.ln_1.bias").length).toBe(12);
  });

  it("follows a shard that is a symlink (the Hugging Face cache layout)", () => {
    const blob = join(root, `blob-${n}`);
    writeSafetensors(blob, { "lm_head.weight": c });
    rmSync(join(folder, s2));
    symlinkSync(blob, join(folder, s2));
    expect(readShardedSafetensors(folder).load("lm_head.weight").toArray()).toEqual(c.toArray());
  });
});

describe("broken indexes", () => {
  const idx = () => join(folder, SHARD_INDEX);

  it("a shard path escaping the folder", () => {
    for (const bad of [
      "../model.safetensors",
      "/etc/passwd",
      "sub/model.safetensors",
      "..\\model.safetensors",
      "C:model",
      "..",
      "",
    ]) {
      writeIndex({ weight_map: { ...weightMap(), "wte.weight": bad } });
      expectFormatError(
        () => readShardedSafetensors(folder),
        idx(),
        'weight_map "wte.weight"',
        /is not a plain file name inside the folder/,
      );
    }
  });

  it("a tensor missing from its shard", () => {
    writeIndex({ weight_map: { ...weightMap(), "h.1.ln_1.bias": s2 } });
    expectFormatError(
      () => readShardedSafetensors(folder),
      idx(),
      'weight_map "h.1.ln_1.bias"',
      /tensor is not in shard "model-00002-of-00002.safetensors"/,
    );
  });

  it("a shard file that does not exist", () => {
    writeIndex({ weight_map: { ...weightMap(), "lm_head.weight": "model-00003.safetensors" } });
    expectFormatError(() => readShardedSafetensors(folder), idx(), 'weight_map shard "model-00003.safetensors"', /no such file/);
  });

  it("a shard tensor the index does not list, or maps elsewhere", () => {
    const { "h.0.ln_1.bias": _, ...rest } = weightMap();
    writeIndex({ weight_map: rest });
    expectFormatError(() => readShardedSafetensors(folder), join(folder, s1), 'tensor "h.0.ln_1.bias"', /is not listed in/);
    writeSafetensors(join(folder, s2), { "lm_head.weight": c, "h.0.ln_1.bias": b });
    writeIndex({ weight_map: weightMap() });
    expectFormatError(
      () => readShardedSafetensors(folder),
      join(folder, s2),
      'tensor "h.0.ln_1.bias"',
      /is mapped to "model-00001/,
    );
  });

  it("malformed index JSON and structure", () => {
    writeIndex('{"weight_map": {"a": "x", "a": "y"}}');
    expectFormatError(() => readShardedSafetensors(folder), idx(), 'weight_map "a"', /duplicate key "a"/);
    writeIndex({ metadata: {} });
    expectFormatError(() => readShardedSafetensors(folder), idx(), "weight_map", /expected an object/);
    writeIndex({ weight_map: weightMap(), extra: 1 });
    expectFormatError(() => readShardedSafetensors(folder), idx(), "extra", /unknown key/);
    writeIndex({ weight_map: { ...weightMap(), "wte.weight": 3 } });
    expectFormatError(
      () => readShardedSafetensors(folder),
      idx(),
      'weight_map "wte.weight"',
      /expected a shard file name, got 3/,
    );
    writeIndex({ metadata: [], weight_map: weightMap() });
    expectFormatError(() => readShardedSafetensors(folder), idx(), "metadata", /expected an object/);
    writeIndex("[1");
    expectFormatError(() => readShardedSafetensors(folder), idx(), "index", /invalid JSON/);
    writeFileSync(idx(), new Uint8Array([0x7b, 0xff, 0x7d]));
    expectFormatError(() => readShardedSafetensors(folder), idx(), "index", /not valid UTF-8/);
  });

  it("an empty top-level key still names a field (fuzz case index:llama_spm:20027994)", () => {
    writeIndex({ weight_map: weightMap(), "": 1 });
    expectFormatError(() => readShardedSafetensors(folder), idx(), '""', /unknown key/);
    writeIndex('{"weight_map": {}, "": 1, "": 2}');
    expectFormatError(() => readShardedSafetensors(folder), idx(), '""', /duplicate key ""/);
  });

  it("a broken shard names the shard file", () => {
    writeFileSync(join(folder, s2), new Uint8Array(4));
    const e = expectFormatError(() => readShardedSafetensors(folder), join(folder, s2), "header length");
    expect(e).toBeInstanceOf(ModelFormatError);
  });
});
