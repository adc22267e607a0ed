// Activation patching: which heads carry the difference between a clean and a corrupted prompt to the
// prediction. `npx tsx examples/patch.ts [model]` prints the heads that restore the most; the test suite
// type-checks it and runs it on the bundled model.
import { activationPatching } from "@llmdbg/methods";
import { load } from "@llmdbg/models";
import type { PatchResult } from "@llmdbg/protocol";

export function patchExample(path = "models/tiny-gpt2"): PatchResult {
  // --- example start
  const model = load(path);
  const heads = activationPatching(model, {
    kind: "patch",
    clean: { text: "the cat sat on the" },
    corrupted: { text: "the cap sat on the" },
    grid: "z",
    answer: 158,
    foil: 5,
  });
  // heads.values[layer][head]: the share of the clean logit difference that restoring the head brings back;
  // heads.attribution: the same from one backward pass, with its rank correlation against the real patching
  // --- example end
  return heads;
}

if (process.argv[1]?.endsWith("patch.ts")) {
  const r = patchExample(process.argv[2]);
  const cells = (r.values ?? []).flatMap((line, l) => line.map((v, h) => ({ l, h, v: v ?? 0 })));
  for (const c of cells.sort((a, b) => Math.abs(b.v) - Math.abs(a.v)).slice(0, 5))
    console.log(`L${c.l}H${c.h} ${c.v.toFixed(3)}`);
}
