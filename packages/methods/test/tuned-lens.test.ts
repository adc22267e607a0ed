// The tuned lens: translators trained from zero (the logit lens) lower every layer's held-out KL to the final
// distribution, leave the last layer — where the logit lens is exact — exact, and plug into logitLens.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { load, type Model } from "@llmdbg/models";
import * as T from "@llmdbg/tensor";
import { TINY_CORPUS, writeTinyModel } from "@llmdbg/testing";
import { expectMethodResult, expectRequestError } from "@llmdbg/testing/vitest";
import { afterAll, describe, expect, it } from "vitest";
import { logitLens, trainTunedLens, translate } from "../src/index.js";

const dir = mkdtempSync(join(tmpdir(), "llmdbg-tuned-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
function tiny(type: "gpt2" | "llama"): Model {
  const folder = join(dir, type);
  writeTinyModel(folder, type, { seed: 14, nLayers: 3 });
  return load(folder);
}
const words = TINY_CORPUS.split(" ");
const TEXTS = Array.from({ length: 40 }, (_, i) =>
  words.slice((i * 7) % (words.length - 12), ((i * 7) % (words.length - 12)) + 12).join(" "),
);

describe.each(["gpt2", "llama"] as const)("%s", (type) => {
  const m = tiny(type);
  const { result, lens } = trainTunedLens(m, { kind: "tuned_lens", texts: TEXTS, steps: 150, lr: 3e-3, seed: 1 });

  it("lowers the held-out KL to the final distribution at every layer but the last, where both are exact", () => {
    expectMethodResult(result);
    const n = result.layers.length;
    console.log(
      `${type}: KL logit lens ${result.klLogitLens.map((x) => x.toFixed(4)).join(" ")}; tuned ${result.klTunedLens.map((x) => x.toFixed(4)).join(" ")}`,
    );
    for (let l = 0; l < n - 1; l++) expect(result.klTunedLens[l]).toBeLessThan(0.8 * (result.klLogitLens[l] as number));
    expect(Math.abs(result.klLogitLens[n - 1] as number)).toBeLessThan(1e-6); // float32 logits: not exactly 0
    expect(result.klTunedLens[n - 1]).toBeLessThan(1e-3);
    expect(result.trainTokens + result.validationTokens).toBe(
      TEXTS.reduce((a, t) => a + (m.tokenizer?.encode(t).length ?? 0), 0),
    );
  });

  it("a translator is h + hA + b, and logitLens applies it", () => {
    const h = T.tensor(
      Array.from({ length: 2 * (m.W_U.shape[0] as number) }, (_, i) => Math.sin(i)),
      [1, 2, m.W_U.shape[0] as number],
    );
    const t = lens.translators[1] as { A: T.Tensor; b: T.Tensor };
    const byHand = T.add(T.add(h, T.matmul(h, t.A)), t.b).toArray();
    expect(translate(lens, 1, h).toArray()).toEqual(byHand);
    const plain = logitLens(m, { kind: "lens", input: { text: "the dog" }, topK: 3 });
    const tuned = logitLens(m, { kind: "lens", input: { text: "the dog" }, topK: 3 }, { tuned: lens });
    expectMethodResult(tuned);
    expect(tuned.lens).toBe("tuned");
    expect(plain.lens).toBe("logit");
    expect(tuned.cells[0]).not.toEqual(plain.cells[0]);
  });
});

describe("bad requests", () => {
  it("name their field", () => {
    const m = tiny("gpt2");
    const other = tiny("llama");
    const { lens } = trainTunedLens(m, { kind: "tuned_lens", texts: TEXTS.slice(0, 4), steps: 1 });
    const bad = expectRequestError;
    bad(() => trainTunedLens(m, { kind: "tuned_lens", texts: [] }), "texts");
    bad(() => trainTunedLens(m, { kind: "tuned_lens", texts: ["a"] }), "texts");
    bad(() => trainTunedLens(m, { kind: "tuned_lens", texts: TEXTS, validation: 0 }), "validation");
    const twoLayer = join(dir, "two");
    writeTinyModel(twoLayer, "gpt2", { seed: 14 });
    bad(() => logitLens(load(twoLayer), { kind: "lens", input: { text: "a" } }, { tuned: lens }), "tuned");
    expect(other.nLayers).toBe(3);
  });
});
