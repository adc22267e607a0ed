// Integrated gradients: how much each input token contributed to the model's top prediction, from a baseline
// of pad-like embeddings. `npx tsx examples/attribute.ts [model] [text]` prints the scores; the test suite
// type-checks it and runs it on the bundled model.
import { gradientAttribution } from "@llmdbg/methods";
import { load } from "@llmdbg/models";
import type { GradientAttributionResult } from "@llmdbg/protocol";

export function attributeExample(path = "models/tiny-gpt2", text = "the cat sat on the"): GradientAttributionResult {
  // --- example start
  const model = load(path);
  const ig = gradientAttribution(model, {
    kind: "attribution",
    method: "integrated_gradients",
    input: { text },
    baseline: { kind: "token", id: model.tokenizer?.padTokenId ?? 0 },
    steps: 64,
  });
  // ig.scores[p]: token p's share of ig.fInput − ig.fBaseline; ig.delta: what the 64 steps left unexplained
  // --- example end
  return ig;
}

if (process.argv[1]?.endsWith("attribute.ts")) {
  const ig = attributeExample(process.argv[2], process.argv[3]);
  for (const [p, t] of ig.tokens.entries()) console.log(`${JSON.stringify(t.text).padEnd(10)} ${ig.scores[p]?.toFixed(5)}`);
  console.log(`delta ${ig.delta?.toExponential(2)} of ${(ig.fInput - (ig.fBaseline ?? 0)).toFixed(5)}`);
}
