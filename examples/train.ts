// Training from the library: fine-tune a model on a few texts with AdamW and a cosine schedule, reading the
// telemetry as it comes. `npx tsx examples/train.ts [model]` prints the loss per step; the test suite
// type-checks it and runs it on the bundled model.

import { load } from "@llmdbg/models";
import type { TrainConfig, TrainEvent } from "@llmdbg/protocol";
import { MemorySink, train } from "@llmdbg/train";

export async function trainExample(path = "models/tiny-gpt2", onEvent?: (e: TrainEvent) => void): Promise<MemorySink> {
  // --- example start
  const model = load(path);
  const texts = ["the cat sat on the mat.", "the dog sat on the rug.", "the fox sat on the log."];
  const examples = texts.map((t) => ({ ids: model.tokenizer?.encode(t) ?? [] }));
  const config: TrainConfig = { lr: 3e-3, maxSteps: 20, batchSize: 3, schedule: { kind: "cosine" }, evalEvery: 10 };
  const sink = new MemorySink(); // or new JsonlSink("run/train_log.jsonl") from the Node entry
  await train(model, { train: examples, validation: examples }, config, { sink, ...(onEvent && { onEvent }) });
  // sink.of("step"): loss, lr, gradient norms per layer, update ratios; sink.of("eval"): loss, perplexity
  // --- example end
  return sink;
}

if (process.argv[1]?.endsWith("train.ts"))
  await trainExample(process.argv[2], (e) => e.kind === "step" && console.log(`step ${e.step}: loss ${e.loss.toFixed(4)}`));
