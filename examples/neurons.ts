// The texts a neuron fires on most, streamed from a corpus. `npx tsx examples/neurons.ts [model]` prints them;
// the test suite type-checks it and runs it on the bundled model.
import { neuronActivations } from "@llmdbg/methods";
import { load } from "@llmdbg/models";
import type { NeuronsResult } from "@llmdbg/protocol";

export async function neuronsExample(path = "models/tiny-gpt2"): Promise<NeuronsResult> {
  // --- example start
  const model = load(path);
  function* corpus() {
    for (let i = 0; i < 200; i++) yield `text number ${i}: the cat sat on the mat`; // any (async) iterable streams
  }
  const neurons = await neuronActivations(
    model,
    { kind: "neurons", hook: "blocks.0.mlp.hook_post", neurons: [3, 7], topK: 5 },
    corpus(),
  );
  // neurons.units[i].top: the texts where neuron i peaks, with their windows; .histogram, .stats, .quantiles
  // --- example end
  return neurons;
}

if (process.argv[1]?.endsWith("neurons.ts")) {
  const r = await neuronsExample(process.argv[2]);
  for (const u of r.units) console.log(`${u.name}: max ${u.stats.max.toFixed(3)} at text ${u.top[0]?.text}`);
}
