// Writes the tiny GPT-2 model folder (seed 0) that tools/reference/gpt2.py turns into
// packages/models/test/golden/gpt2-tiny.safetensors. Usage: npx tsx tools/reference/make-tiny.ts <folder>
import { writeTinyModel } from "@llmdbg/models";

const folder = process.argv[2];
if (folder === undefined) {
  console.error("usage: npx tsx tools/reference/make-tiny.ts <folder>");
  process.exit(2);
}
const model = writeTinyModel(folder, "gpt2", { seed: 0 });
console.log(`wrote ${folder}: gpt2, seed 0, vocab ${String(model.config.vocab_size)}`);
