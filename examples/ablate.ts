// Mean ablation of every attention head: which heads the prediction needs. `npx tsx examples/ablate.ts
// [model]` prints the five largest effects; the test suite type-checks it and runs it on the bundled model.
import { ablate } from "@llmdbg/methods";
import { load } from "@llmdbg/models";
import type { AblationResult } from "@llmdbg/protocol";

export function ablateExample(path = "models/tiny-gpt2"): AblationResult {
  // --- example start
  const model = load(path);
  const heads = ablate(model, {
    kind: "ablate",
    input: { text: "the cat sat on the" },
    components: "heads",
    ablation: "mean",
    dataset: ["hello world", "a quick brown fox", "the end"],
  });
  // heads.effects: every head with the change of the answer's log-probability, the largest first
  // --- example end
  return heads;
}

if (process.argv[1]?.endsWith("ablate.ts")) {
  for (const e of ablateExample(process.argv[2]).effects.slice(0, 5)) console.log(`${e.name.padEnd(8)} ${e.effect.toFixed(4)}`);
}
