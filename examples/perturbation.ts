// KernelSHAP: each input token's share of the prediction, measured by masking tokens (no gradients). The scores
// sum exactly to f(input) − f(every token masked). `npx tsx examples/perturbation.ts [model] [text]` prints
// them; the test suite type-checks it and runs it on the bundled model.
import { perturbationAttribution } from "@llmdbg/methods";
import { load } from "@llmdbg/models";
import type { PerturbationAttributionResult } from "@llmdbg/protocol";

export function perturbationExample(path = "models/tiny-gpt2", text = "the cat sat on the"): PerturbationAttributionResult {
  // --- example start
  const model = load(path);
  const shap = perturbationAttribution(model, { kind: "perturbation", method: "shap", input: { text }, samples: 256, seed: 0 });
  // shap.scores sum to shap.fInput − shap.fMasked; shap.replacement is the token masked positions became
  // --- example end
  return shap;
}

if (process.argv[1]?.endsWith("perturbation.ts")) {
  const shap = perturbationExample(process.argv[2], process.argv[3]);
  for (const [p, t] of shap.tokens.entries()) console.log(`${JSON.stringify(t.text).padEnd(10)} ${shap.scores[p]?.toFixed(5)}`);
}
