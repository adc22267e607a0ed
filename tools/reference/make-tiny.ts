// Writes a tiny model folder (seed 0) that a reference script turns into a golden file:
//   npx tsx tools/reference/make-tiny.ts <folder>                       gpt2 (→ gpt2.py → gpt2-tiny.safetensors)
//   npx tsx tools/reference/make-tiny.ts <folder> llama --rope-scaling=llama3   (→ llama.py → llama-tiny.safetensors)
//   npx tsx tools/reference/make-tiny.ts <folder> qwen2                 (→ llama.py → qwen2-tiny.safetensors)
//   npx tsx tools/reference/make-tiny.ts <folder> gpt_neox              (→ gpt_neox.py → gpt_neox-tiny.safetensors)
//   npx tsx tools/reference/make-tiny.ts <folder> bert [--bert-head=mlm] [--roberta]   (→ bert.py → bert*-tiny.safetensors)
import { TINY_MODEL_TYPES, type TinyModelType, writeTinyModel } from "@llmdbg/testing";

const usage =
  "usage: npx tsx tools/reference/make-tiny.ts <folder> [model_type] [--rope-scaling=none|llama3] [--bert-head=classifier|mlm] [--roberta]";
const [folder, ...rest] = process.argv.slice(2);
const flags = rest.filter((a) => a.startsWith("--"));
const positional = rest.filter((a) => !a.startsWith("--"));
const modelType = (positional[0] ?? "gpt2") as TinyModelType;
let ropeScaling: "none" | "llama3" = "none";
let bertHead: "classifier" | "mlm" = "classifier";
let roberta = false;
for (const f of flags) {
  if (f === "--roberta") {
    roberta = true;
    continue;
  }
  const head = /^--bert-head=(classifier|mlm)$/.exec(f);
  if (head !== null) {
    bertHead = head[1] as "classifier" | "mlm";
    continue;
  }
  const m = /^--rope-scaling=(none|llama3)$/.exec(f);
  if (m === null) {
    console.error(`unknown option ${f}\n${usage}`);
    process.exit(2);
  }
  ropeScaling = m[1] as "none" | "llama3";
}
if (folder === undefined || positional.length > 1 || !TINY_MODEL_TYPES.includes(modelType)) {
  console.error(usage);
  process.exit(2);
}
const model = writeTinyModel(folder, modelType, {
  seed: 0,
  ...(ropeScaling !== "none" && { ropeScaling }),
  ...(bertHead !== "classifier" && { bertHead }),
  ...(roberta && { roberta }),
});
const scaling = ropeScaling === "none" ? "" : `, rope scaling ${ropeScaling}`;
const encoder = modelType === "bert" ? `, ${String(model.config.model_type)} ${bertHead}` : "";
console.log(`wrote ${folder}: ${modelType}, seed 0${scaling}${encoder}, vocab ${String(model.config.vocab_size)}`);
