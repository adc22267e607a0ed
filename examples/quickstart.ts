// The README's library example: load a model, run it with a cache, patch one run into another, take a
// gradient, read an attention pattern. `npx tsx examples/quickstart.ts [model]` prints what it found; the test
// suite type-checks it and runs it on the bundled model.
import { type ActivationCache, logitOf, run } from "@llmdbg/core";
import { load } from "@llmdbg/models";
import type { Tensor } from "@llmdbg/tensor";

export function quickstart(path = "models/tiny-gpt2"): {
  clean: ActivationCache;
  patched: Tensor;
  saliency: Tensor;
  pattern: Tensor;
} {
  // --- example start
  const model = load(path);
  const clean = run(model, "hello world", { cache: true });
  const patched = run(model, "hello there", {
    interventions: [{ kind: "patch", hook: "blocks.-1.hook_resid_post", from: clean.cache, positions: [-1] }],
  });
  const { cache } = run(model, "hello world", { grads: { hooks: "hook_embed", loss: (out) => logitOf(out, 42) } });
  const pattern = clean.cache.get("blocks.0.attn.hook_pattern"); // [batch, head, query_pos, key_pos]
  // --- example end
  return { clean: clean.cache, patched: patched.output, saliency: cache.grad("hook_embed"), pattern };
}

if (process.argv[1]?.endsWith("quickstart.ts")) {
  const { patched, saliency, pattern } = quickstart(process.argv[2]);
  console.log(`patched logits ${patched.shape}, saliency ${saliency.shape}, pattern ${pattern.shape}`);
}
