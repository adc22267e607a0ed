// Tokenizes texts with llama.cpp itself (the prebuilt addon of @node-llama-cpp/linux-x64, loaded vocab-only), as
// an independent reference for GGUF tokenizers. Run as a child process: llama.cpp logs to stderr, and a native
// fault must not take the test runner down. stdin: {"gguf": path, "texts": [...]}; stdout, after a marker line:
// {"ids": [[...], ...]}
// with the ids llama_tokenize(add_special = true, parse_special = true) gives: BOS/EOS as the file's add_bos/add_eos
// flags say, added tokens in the text parsed as tokens.
const { readFileSync } = require("node:fs");
const { join, dirname } = require("node:path");

const addonDir = join(dirname(require.resolve("@node-llama-cpp/linux-x64")), "..", "bins", "linux-x64");
const addon = require(join(addonDir, "llama-addon.node"));
const { gguf, texts } = JSON.parse(readFileSync(0, "utf8"));
const MARKER = "--- llmdbg ids ---";

(async () => {
  const model = new addon.AddonModel(gguf, { vocabOnly: true, gpuLayers: 0 });
  if (!(await model.init())) throw new Error(`llama.cpp could not load ${gguf}`);
  const bos = model.shouldPrependBosToken() ? [model.tokenBos()] : [];
  const eos = model.shouldAppendEosToken() ? [model.tokenEos()] : [];
  const ids = texts.map((t) => [...bos, ...Array.from(model.tokenize(t, true)), ...eos]);
  // after a marker line: llama.cpp prints some of its warnings to stdout
  process.stdout.write(`\n${MARKER}\n${JSON.stringify({ ids })}`);
  model.dispose();
})().catch((e) => {
  process.stderr.write(`${e.stack ?? e}\n`);
  process.exit(1);
});
