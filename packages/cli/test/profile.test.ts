// `llmdbg profile` per op kind and per layer backward, end to end: the real bin on a tiny GPT-2 in a temp
// folder, on the default (onnxruntime) backend. Times are only checked against the totals they split, never
// against a clock: no timed tests.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { run } from "@llmdbg/core";
import { loadModel } from "@llmdbg/models";
import * as T from "@llmdbg/tensor";
import { writeTinyModel } from "@llmdbg/testing";
import { afterAll, describe, expect, it } from "vitest";

const BIN = fileURLToPath(new URL("../bin/llmdbg.mjs", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "llmdbg-profile-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const hf = join(dir, "gpt2");
writeTinyModel(hf, "gpt2", { seed: 3 });
const loaded = loadModel(hf);
const nLayers = loaded.config.nLayers;
const ids = [3, 17, 42, 5, 99, 7];
const tokens = ["--tokens", ids.join(","), "--repeat", "1"];

/** The mean next-token cross-entropy of `ids`, computed here from the logits in float64. */
function nextTokenCrossEntropy(): number {
  const logits = run(loaded.model, T.tensor(ids, [1, ids.length], "i32")).output; // [1, pos, d_vocab]
  const V = logits.shape[2] as number;
  let sum = 0;
  for (let i = 0; i + 1 < ids.length; i++) {
    const row = Array.from(logits.data.subarray(i * V, (i + 1) * V) as Float32Array);
    const mx = Math.max(...row);
    const lse = mx + Math.log(row.reduce((a, x) => a + Math.exp(x - mx), 0));
    sum += lse - (row[ids[i + 1] as number] as number);
  }
  return sum / (ids.length - 1);
}

function cli(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, LLMDBG_BACKEND: "ort" };
    execFile(process.execPath, [BIN, ...args], { env, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err === null) resolve(stdout);
      else reject(new Error(`llmdbg ${args.join(" ")} failed: ${stderr}`));
    });
  });
}

interface OpCost {
  op: string;
  calls: number;
  ms: number;
  bytesOut: number;
}

const total = (rows: readonly { ms: number }[]) => rows.reduce((a, r) => a + r.ms, 0);

describe("llmdbg profile by op kind and layer", () => {
  it("splits forward and backward by op kind, and backward by layer, within their totals", async () => {
    const [out, text] = await Promise.all([cli(["profile", hf, ...tokens, "--json"]), cli(["profile", hf, ...tokens])]);
    const d = JSON.parse(out);
    const f: OpCost[] = d.forward.byOp;
    const b: (OpCost & { ops: number })[] = d.backward.byOp;
    for (const rows of [f, b]) {
      expect(rows.map((o) => o.op)).toEqual(expect.arrayContaining(["matmul", "softmax"]));
      for (const o of rows) {
        expect(o.calls).toBeGreaterThan(0);
        expect(o.ms).toBeGreaterThanOrEqual(0);
        expect(o.bytesOut).toBeGreaterThanOrEqual(0);
      }
    }
    // one softmax per layer's attention; its backward is a fused kernel: a rule run per softmax, no ops
    expect(f.find((o) => o.op === "softmax")?.calls).toBe(nLayers);
    expect(b.find((o) => o.op === "softmax")).toMatchObject({ calls: nLayers, ops: 0 });
    expect(total(f)).toBeLessThanOrEqual(d.forward.totalMs);
    expect(total(b)).toBeLessThanOrEqual(d.backward.backwardMs);

    const layers: { name: string; layer: number | null; ms: number; calls: number }[] = d.backward.byLayer;
    const blocks = layers.filter((l) => l.layer !== null);
    expect(blocks.map((l) => l.layer)).toEqual([...Array(nLayers).keys()]);
    for (const l of blocks) expect(l.calls).toBeGreaterThan(0);
    expect(layers.map((l) => l.name)).toEqual(expect.arrayContaining(["unembed", "loss"]));
    expect(total(layers)).toBeLessThanOrEqual(d.backward.backwardMs);
    // the layer rows and the op rows split the same backprop time
    expect(total(layers)).toBeCloseTo(d.opLevel.backwardMs, 6);
    expect(total(b)).toBeCloseTo(d.opLevel.backwardMs, 6);

    // the fields that were there before stay
    expect(d.forward.components.length).toBeGreaterThan(0);
    // the loss it differentiated is the next-token cross-entropy (NaN or any other number fails)
    expect(Math.abs(d.backward.loss - nextTokenCrossEntropy())).toBeLessThan(1e-5);
    for (const title of ["forward by op kind", "backward by op kind", "backward by layer"]) expect(text).toContain(title);
  });
});
