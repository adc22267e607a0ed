// The logit lens on a model: what each layer's residual stream would predict for the next token, and where a
// target token ranks. `npx tsx examples/lens.ts [model] [text]` prints the top prediction per layer at the last
// position; the test suite type-checks it and runs it on the bundled model.

import { logitLens } from "@llmdbg/methods";
import { load } from "@llmdbg/models";
import type { LensResult } from "@llmdbg/protocol";

export function lensExample(path = "models/tiny-gpt2", text = "the cat sat on the"): LensResult {
  // --- example start
  const model = load(path);
  const target = model.tokenizer?.encode(" mat", { addSpecialTokens: false })[0] ?? 0;
  const lens = logitLens(model, { kind: "lens", input: { text }, target, topK: 3 });
  // lens.cells[layer][position].top: the top-3 tokens; .target: the target's probability and rank
  // --- example end
  return lens;
}

if (process.argv[1]?.endsWith("lens.ts")) {
  const lens = lensExample(process.argv[2], process.argv[3]);
  lens.layers.forEach((name, l) => {
    const cell = lens.cells[l]?.at(-1);
    console.log(
      `${name.padEnd(26)} ${JSON.stringify(cell?.top[0]?.text)} ${((cell?.top[0]?.prob ?? 0) * 100).toFixed(1)}%  target #${cell?.target?.rank}`,
    );
  });
}
