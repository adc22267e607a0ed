// Attention: which heads look back one token, which look for the token after an earlier copy of the current one
// (induction), and how attention composes across layers. `npx tsx examples/attention.ts [model]` prints the
// heads that score highest; the test suite type-checks it and runs it on the bundled model.
import { attentionAnalysis } from "@llmdbg/methods";
import { load } from "@llmdbg/models";
import type { AttentionResult } from "@llmdbg/protocol";

export function attentionExample(path = "models/tiny-gpt2"): AttentionResult {
  // --- example start
  const model = load(path);
  const attention = attentionAnalysis(model, { kind: "attention", input: { text: "the cat sat on the mat" }, scores: true });
  // attention.scores.induction[layer][head], .previousToken, .duplicateToken, .copying; .rollout and .flow per position
  // --- example end
  return attention;
}

if (process.argv[1]?.endsWith("attention.ts")) {
  const a = attentionExample(process.argv[2]);
  a.scores?.induction.forEach((row, l) => {
    console.log(`L${a.layers[l]} induction ${row.map((x) => x.toFixed(2)).join(" ")}`);
  });
}
