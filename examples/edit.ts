// A ROME-style rank-one edit: make a prompt end in a new token by editing one MLP, apply it, and write the edited
// model as a Hugging Face folder. `npx tsx examples/edit.ts [model] [out]`; the test suite runs it on the bundled
// model.
import { romeEdit } from "@llmdbg/methods";
import { load, saveHfFolder } from "@llmdbg/models";
import type { RomeResult } from "@llmdbg/protocol";

export function editExample(path = "models/tiny-gpt2", out?: string): RomeResult {
  // --- example start
  const model = load(path);
  const target = model.tokenizer?.encode(" mat", { addSpecialTokens: false })[0] ?? 0;
  const rome = romeEdit(model, { kind: "rome", prompt: { text: "the cat sat on the" }, subjectPosition: -1, target, layer: 1 });
  const handle = model.params.apply([rome.edit]); // handle.revert() undoes it
  if (out !== undefined) saveHfFolder(path, model.params, out); // loads anywhere, converts to GGUF
  // rome.checks[0]: the target's probability on the prompt before and after
  // --- example end
  handle.revert();
  return rome;
}

if (process.argv[1]?.endsWith("edit.ts")) {
  const r = editExample(process.argv[2], process.argv[3]);
  console.log(`p(target): ${r.checks[0]?.before.toFixed(4)} → ${r.checks[0]?.after.toFixed(4)}`);
}
