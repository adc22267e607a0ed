// `llmdbg profile` per op kind and per layer backward, end to end: the real bin on a tiny GPT-2 in a temp
// folder, on the default (onnxruntime) backend. Times are only checked against the totals they split, never
// against a clock: no timed tests.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadModel, writeTinyModel } from "@llmdbg/models";
import { afterAll, describe, expect, it } from "vitest";

const BIN = fileURLToPath(new URL("../bin/llmdbg.mjs", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "llmdbg-profile-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const hf = join(dir, "gpt2");
writeTinyModel(hf, "gpt2", { seed: 3 });
const nLayers = loadModel(hf).config.nLayers;
const tokens = ["--tokens", "3,17,42,5,99,7", "--repeat", "1"];

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
    expect(d.backward.loss).toEqual(expect.any(Number));
    for (const title of ["forward by op kind", "backward by op kind", "backward by layer"]) expect(text).toContain(title);
  });
});
