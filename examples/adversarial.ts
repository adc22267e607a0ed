// GCG: search a suffix that makes the model continue with a chosen string. `npx tsx examples/adversarial.ts
// [model]` prints the suffix and the loss per step; the test suite type-checks it and runs it.
import { adversarialAttack } from "@llmdbg/methods";
import { load } from "@llmdbg/models";
import type { AdversarialResult } from "@llmdbg/protocol";

export function adversarialExample(path = "models/tiny-gpt2"): AdversarialResult {
  // --- example start
  const model = load(path);
  const attack = adversarialAttack(model, {
    kind: "adversarial",
    method: "gcg",
    input: { text: "the cat" },
    targetString: { text: " sat" },
    suffixLength: 4,
    steps: 10,
  });
  // attack.suffix: the tokens found; attack.losses: the best loss per step; attack.success: the target came out
  // --- example end
  return attack;
}

if (process.argv[1]?.endsWith("adversarial.ts")) {
  const a = adversarialExample(process.argv[2]);
  console.log(`suffix ${JSON.stringify(a.suffix?.map((t) => t.text))}, losses ${a.losses.map((x) => x.toFixed(3)).join(" ")}`);
}
