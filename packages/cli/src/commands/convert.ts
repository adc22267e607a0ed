// `llmdbg convert <model> --to safetensors|gguf <out>`: a Hugging Face folder to a single-file Hugging Face
// folder (e.g. to merge shards or change the storage type) or to a GGUF file laid out as llama.cpp's
// convert_hf_to_gguf.py does; a GGUF file back to a Hugging Face folder. Both directions are @llmdbg/models'
// (`hfToGguf`, `ggufToHf`), platform-neutral on parsed objects: this file reads and writes the folder's files.
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { ggufToHf, ggufTokenizerMetadata, hfToGguf, TORCH_DTYPES } from "@llmdbg/convert";
import { ModelFormatError, openGguf, SHARD_INDEX, writeGguf, writeSafetensors } from "@llmdbg/formats";
import { type HfFolder, openHfFolder } from "@llmdbg/models";
import type { Tensor } from "@llmdbg/tensor";
import { readJsonFile } from "@llmdbg/tokenizers";
import { UsageError } from "../args.js";
import { defineFlags, flag } from "../flags.js";
import { bytes, print, printJson, progressBar } from "../output.js";
import type { Command } from "./command.js";

const flags = defineFlags(
  {
    to: flag.oneOf(
      "safetensors|gguf",
      "safetensors: <out> is a folder (config, tokenizer files and one model.safetensors); gguf: <out> is a .gguf file laid out as llama.cpp's converter does",
      ["safetensors", "gguf"] as const,
    ),
    quant: flag.oneOf("T", "storage of the weights: f32, f16, or q8_0 (GGUF only); default: the stored precision", [
      "q8_0",
      "f16",
      "f32",
    ] as const),
    force: flag.bool("replace an existing output"),
    json: flag.bool("one JSON object describing what was written"),
  },
  { "<model>": "a Hugging Face folder, or a .gguf file (llama, qwen2, gpt2, gptneox) for --to safetensors" },
);

type Quant = "q8_0" | "f16" | "f32";

/** The non-weight files of a Hugging Face folder that travel with the weights. */
const FOLDER_FILES = [
  "config.json",
  "generation_config.json",
  "tokenizer.json",
  "tokenizer_config.json",
  "special_tokens_map.json",
  "added_tokens.json",
  "chat_template.jinja",
  "vocab.json",
  "vocab.txt",
  "merges.txt",
  "tokenizer.model",
];

/** Every tensor as f32 (16-bit floats widened), with a progress bar over the stored bytes. */
function readAll(src: HfFolder): Record<string, Tensor> {
  const bar = progressBar(`reading ${basename(src.folder)}`);
  const total = src.reader.entries.reduce((a, e) => a + e.end - e.begin, 0);
  const out: Record<string, Tensor> = {};
  let done = 0;
  try {
    for (const e of src.reader.entries) {
      out[e.name] = src.reader.load(e.name);
      done += e.end - e.begin;
      bar?.update(done, total);
    }
  } finally {
    bar?.finish();
  }
  return out;
}

/** The 16-bit storage type when every float tensor has it, else F32: converting keeps precision and size. */
function storedFloat(src: HfFolder): "F32" | "F16" | "BF16" {
  const floats = new Set(src.reader.entries.map((e) => e.dtype).filter((d) => d.startsWith("F") || d === "BF16"));
  const only = floats.size === 1 ? [...floats][0] : undefined;
  return only === "F16" || only === "BF16" ? only : "F32";
}

function toSafetensors(src: HfFolder, out: string, quant: Quant | undefined) {
  if (quant === "q8_0") throw new UsageError("--quant q8_0 is a GGUF type; safetensors takes f16 or f32");
  if (resolve(out) === resolve(src.folder)) throw new UsageError("<out> must be a different folder from <model>");
  if (existsSync(out) && !statSync(out).isDirectory()) throw new UsageError(`${out}: exists and is not a folder`);
  mkdirSync(out, { recursive: true });
  const copied = FOLDER_FILES.filter((f) => existsSync(join(src.folder, f)));
  for (const f of copied) copyFileSync(join(src.folder, f), join(out, f));
  const dtype = quant === "f16" ? "F16" : quant === "f32" ? "F32" : storedFloat(src);
  const file = join(out, "model.safetensors");
  writeSafetensors(file, readAll(src), { dtype, metadata: { format: "pt" } });
  return { to: "safetensors", out, files: [...copied, "model.safetensors"], dtype, bytes: statSync(file).size };
}

/** A JSON file of the folder as an object, or undefined when the folder has none. */
function optionalJson(path: string): Record<string, unknown> | undefined {
  return existsSync(path) ? (readJsonFile(path) as Record<string, unknown>) : undefined;
}

function toGguf(src: HfFolder, out: string, quant: Quant | undefined) {
  const files = {
    config: join(src.folder, "config.json"),
    tokenizer: join(src.folder, "tokenizer.json"),
    tokenizerConfig: join(src.folder, "tokenizer_config.json"),
    weights: join(src.folder, existsSync(join(src.folder, SHARD_INDEX)) ? SHARD_INDEX : "model.safetensors"),
  };
  const tokenizer = optionalJson(files.tokenizer);
  if (tokenizer === undefined)
    throw new ModelFormatError(files.tokenizer, "file", "not found (a GGUF file carries its tokenizer)");
  let tokenizerConfig = optionalJson(files.tokenizerConfig);
  // newer folders keep the chat template beside tokenizer_config.json; GGUF has one key for it
  const jinja = join(src.folder, "chat_template.jinja");
  if (tokenizerConfig?.chat_template === undefined && existsSync(jinja))
    tokenizerConfig = { ...tokenizerConfig, chat_template: readFileSync(jinja, "utf8") };
  // what the tokenizer files cannot express fails before gigabytes of weights are read
  ggufTokenizerMetadata({ config: src.configJson, tokenizer, ...(tokenizerConfig !== undefined && { tokenizerConfig }) }, files);
  const type = quant === "q8_0" ? "Q8_0" : quant === "f16" || (quant === undefined && storedFloat(src) !== "F32") ? "F16" : "F32";
  const input = hfToGguf(
    { config: src.configJson, tokenizer, ...(tokenizerConfig !== undefined && { tokenizerConfig }), weights: readAll(src) },
    { type, name: basename(resolve(src.folder)), files },
  );
  writeGguf(out, input);
  return { to: "gguf", out, type, bytes: statSync(out).size };
}

function writeJson(path: string, value: unknown): void {
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);
}

/** A GGUF file to a Hugging Face folder: config, weights, tokenizer files and generation defaults. */
function ggufToFolder(path: string, out: string, quant: Quant | undefined) {
  if (quant === "q8_0") throw new UsageError("--quant q8_0 is a GGUF type; safetensors takes f16 or f32");
  if (existsSync(out) && !statSync(out).isDirectory()) throw new UsageError(`${out}: exists and is not a folder`);
  const reader = openGguf(path);
  const bar = progressBar(`reading ${basename(path)}`);
  const sizes = new Map(reader.header.tensors.map((t) => [t.name, t.byteSize]));
  const total = reader.header.tensors.reduce((a, t) => a + t.byteSize, 0);
  let done = 0;
  let hf: ReturnType<typeof ggufToHf>;
  try {
    const tensor = (name: string) => {
      const t = reader.tensor(name);
      done += sizes.get(name) ?? 0;
      bar?.update(done, total);
      return t;
    };
    hf = ggufToHf({ header: reader.header, tensor }, path);
  } finally {
    bar?.finish();
    reader.close();
  }
  mkdirSync(out, { recursive: true });
  const dtype = quant === "f16" ? "F16" : quant === "f32" ? "F32" : hf.dtype;
  const files: [string, unknown][] = [
    ["config.json", { ...hf.config, torch_dtype: TORCH_DTYPES[dtype] }],
    ["generation_config.json", hf.generationConfig],
    ["tokenizer.json", hf.tokenizer],
    ["tokenizer_config.json", hf.tokenizerConfig],
  ];
  const written = files.filter(([, v]) => v !== undefined).map(([name]) => name);
  for (const [name, value] of files) if (value !== undefined) writeJson(join(out, name), value);
  const file = join(out, "model.safetensors");
  writeSafetensors(file, hf.weights, { dtype, metadata: { format: "pt" } });
  return { to: "safetensors", out, files: [...written, "model.safetensors"], dtype, bytes: statSync(file).size };
}

export const convertCommand: Command = {
  summary: "a Hugging Face folder to one safetensors file or to GGUF, or a GGUF file to a Hugging Face folder",
  usage: "llmdbg convert <model> --to safetensors|gguf [--quant q8_0|f16|f32] [--force] <out>",
  help: flags.help,
  run(argv) {
    const { values, positionals } = flags.parse(argv);
    const { to, quant } = values;
    if (to === undefined) throw new UsageError("missing --to safetensors|gguf");
    if (positionals.length !== 2) throw new UsageError(`expected <model> and <out>, got ${positionals.length} arguments`);
    const [model, out] = positionals as [string, string];
    // an output that is there already is someone's work: replace it only when asked
    const taken = to === "gguf" ? existsSync(out) && !statSync(out).isDirectory() : existsSync(join(out, "model.safetensors"));
    if (taken && !values.force)
      throw new UsageError(`${to === "gguf" ? out : join(out, "model.safetensors")}: exists; pass --force to replace it`);
    if (to === "gguf" && existsSync(out) && statSync(out).isDirectory())
      throw new UsageError(`${out}: is a folder; --to gguf writes a file`);
    const gguf = existsSync(model) && !statSync(model).isDirectory();
    if (gguf && to === "gguf") throw new UsageError(`${model}: is already a GGUF file`);
    let r: { out: string; bytes: number };
    if (gguf) r = ggufToFolder(model, out, quant);
    else {
      const src = openHfFolder(model);
      r = to === "safetensors" ? toSafetensors(src, out, quant) : toGguf(src, out, quant);
    }
    if (values.json) printJson({ model, ...r });
    else print(`wrote ${r.out} (${bytes(r.bytes)})`);
    return 0;
  },
};
