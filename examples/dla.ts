// Direct logit attribution: which heads and MLPs push the logit of one token over another at the last
// position. `npx tsx examples/dla.ts [model] [text]` prints the five largest components; the test suite
// type-checks it and runs it on the bundled model.

import { directLogitAttribution } from "@llmdbg/methods";
import { load } from "@llmdbg/models";
import type { DlaResult } from "@llmdbg/protocol";

export function dlaExample(path = "models/tiny-gpt2", text = "the cat sat on the"): DlaResult {
  // --- example start
  const model = load(path);
  const [target, foil] = [" mat", " dog"].map((t) => model.tokenizer?.encode(t, { addSpecialTokens: false })[0] ?? 0);
  const dla = directLogitAttribution(model, { kind: "dla", input: { text }, target: target ?? 0, foil: foil ?? 0 });
  // dla.components: embed, pos_embed, L0H0 … L{n}H{h}, attention biases, MLPs and "bias"; they sum to dla.logit
  // --- example end
  return dla;
}

if (process.argv[1]?.endsWith("dla.ts")) {
  const dla = dlaExample(process.argv[2], process.argv[3]);
  const top = [...dla.components].sort((a, b) => Math.abs(b.value) - Math.abs(a.value)).slice(0, 5);
  console.log(`logit difference ${dla.logit.toFixed(4)}; largest components:`);
  for (const c of top) console.log(`  ${c.name.padEnd(14)} ${c.value.toFixed(4)}`);
}
