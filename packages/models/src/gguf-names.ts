// llama.cpp's tensor names (gguf-py's TENSOR_NAMES / convert_hf_to_gguf.py) for the Hugging Face state-dict
// names our architecture files ask for. The architectures know one naming scheme; a GGUF file is read
// through `ggufWeightSource`, which renames; `hfTensorName` reads the same table backwards (GGUF → Hugging
// Face conversion). Layout differences (Llama's permuted q/k rows, GPT-2's transposed Conv1D weights, NeoX's
// regrouped q/k/v) are ModelConfig fields set by normalizeGgufConfig.
import type { Tensor } from "@llmdbg/tensor";
import type { WeightSource } from "./arch/common.js";
import type { GgufArchitecture } from "./config.js";

/**
 * [HF name without its model prefix, GGUF name]. `{L}` stands for a layer number and `{wb}` for "weight" or
 * "bias", on both sides: one table read in both directions, so the names cannot drift apart.
 */
type NameMap = readonly (readonly [string, string])[];

interface Naming {
  /** what `save_pretrained` puts before the body's tensors */
  readonly prefix: string;
  /** HF names `save_pretrained` writes without the prefix: the LM head sits outside the body module */
  readonly unprefixed: readonly string[];
  readonly names: NameMap;
}

const llamaNames: Naming = {
  prefix: "model.",
  unprefixed: ["lm_head.weight"],
  names: [
    ["embed_tokens.weight", "token_embd.weight"],
    ["norm.weight", "output_norm.weight"],
    ["lm_head.weight", "output.weight"],
    ["rope_freqs.weight", "rope_freqs.weight"],
    ["layers.{L}.input_layernorm.weight", "blk.{L}.attn_norm.weight"],
    ["layers.{L}.self_attn.q_proj.{wb}", "blk.{L}.attn_q.{wb}"],
    ["layers.{L}.self_attn.k_proj.{wb}", "blk.{L}.attn_k.{wb}"],
    ["layers.{L}.self_attn.v_proj.{wb}", "blk.{L}.attn_v.{wb}"],
    ["layers.{L}.self_attn.o_proj.{wb}", "blk.{L}.attn_output.{wb}"],
    ["layers.{L}.post_attention_layernorm.weight", "blk.{L}.ffn_norm.weight"],
    ["layers.{L}.mlp.gate_proj.{wb}", "blk.{L}.ffn_gate.{wb}"],
    ["layers.{L}.mlp.up_proj.{wb}", "blk.{L}.ffn_up.{wb}"],
    ["layers.{L}.mlp.down_proj.{wb}", "blk.{L}.ffn_down.{wb}"],
  ],
};

/** Every GGUF architecture normalizeGgufConfig accepts has its map: adding one without a map fails to compile. */
const ggufNames: { readonly [A in GgufArchitecture]: Naming } = {
  llama: llamaNames,
  qwen2: llamaNames,
  gpt2: {
    prefix: "transformer.",
    unprefixed: ["lm_head.weight"],
    names: [
      ["wte.weight", "token_embd.weight"],
      ["wpe.weight", "position_embd.weight"],
      ["ln_f.{wb}", "output_norm.{wb}"],
      ["lm_head.weight", "output.weight"],
      ["h.{L}.ln_1.{wb}", "blk.{L}.attn_norm.{wb}"],
      ["h.{L}.attn.c_attn.{wb}", "blk.{L}.attn_qkv.{wb}"],
      ["h.{L}.attn.c_proj.{wb}", "blk.{L}.attn_output.{wb}"],
      ["h.{L}.ln_2.{wb}", "blk.{L}.ffn_norm.{wb}"],
      ["h.{L}.mlp.c_fc.{wb}", "blk.{L}.ffn_up.{wb}"],
      ["h.{L}.mlp.c_proj.{wb}", "blk.{L}.ffn_down.{wb}"],
    ],
  },
  gptneox: {
    prefix: "gpt_neox.",
    unprefixed: ["embed_out.weight"],
    names: [
      ["embed_in.weight", "token_embd.weight"],
      ["final_layer_norm.{wb}", "output_norm.{wb}"],
      ["embed_out.weight", "output.weight"],
      ["layers.{L}.input_layernorm.{wb}", "blk.{L}.attn_norm.{wb}"],
      ["layers.{L}.attention.query_key_value.{wb}", "blk.{L}.attn_qkv.{wb}"],
      ["layers.{L}.attention.dense.{wb}", "blk.{L}.attn_output.{wb}"],
      ["layers.{L}.post_attention_layernorm.{wb}", "blk.{L}.ffn_norm.{wb}"],
      ["layers.{L}.mlp.dense_h_to_4h.{wb}", "blk.{L}.ffn_up.{wb}"],
      ["layers.{L}.mlp.dense_4h_to_h.{wb}", "blk.{L}.ffn_down.{wb}"],
    ],
  },
};

/** llama.cpp's own tensors: Hugging Face keeps what they hold in config.json (rope_freqs: Llama 3's rope_scaling). */
const GGUF_ONLY: ReadonlySet<string> = new Set(["rope_freqs.weight"]);

/** The model prefixes `save_pretrained` puts before body tensors; GGUF names have none. */
const HF_PREFIXES = ["model.", "transformer.", "gpt_neox."];

const PLACEHOLDERS: Readonly<Record<string, string>> = { "{L}": "(?<L>\\d+)", "{wb}": "(?<wb>weight|bias)" };

/** A name template as an anchored regex (placeholders as named groups) and its filler. */
interface Template {
  readonly re: RegExp;
  fill(groups: Readonly<Record<string, string>>): string;
}

function template(t: string): Template {
  const parts = t.split(/(\{L\}|\{wb\})/);
  const isSlot = (p: string) => Object.hasOwn(PLACEHOLDERS, p);
  const source = parts.map((p) => (isSlot(p) ? PLACEHOLDERS[p] : p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))).join("");
  return {
    re: new RegExp(`^${source}$`),
    fill: (g) => parts.map((p) => (isSlot(p) ? (g[p.slice(1, -1)] ?? p) : p)).join(""),
  };
}

/** Both directions of every architecture's table, compiled once. */
const compiled: { readonly [A in GgufArchitecture]: readonly { readonly hf: Template; readonly gguf: Template }[] } = {
  llama: compile("llama"),
  qwen2: compile("qwen2"),
  gpt2: compile("gpt2"),
  gptneox: compile("gptneox"),
};

function compile(arch: GgufArchitecture) {
  return ggufNames[arch].names.map(([hf, gguf]) => ({ hf: template(hf), gguf: template(gguf) }));
}

/**
 * The GGUF name of a Hugging Face state-dict name, or undefined when llama.cpp has no such tensor.
 * @example ggufTensorName("llama", "model.layers.3.self_attn.q_proj.weight") // "blk.3.attn_q.weight"
 */
export function ggufTensorName(arch: GgufArchitecture, hfName: string): string | undefined {
  const prefix = HF_PREFIXES.find((p) => hfName.startsWith(p));
  const bare = prefix === undefined ? hfName : hfName.slice(prefix.length);
  for (const { hf, gguf } of compiled[arch]) {
    const m = hf.re.exec(bare);
    if (m !== null) return gguf.fill(m.groups ?? {});
  }
  return undefined;
}

/**
 * The Hugging Face state-dict name `save_pretrained` writes for a GGUF tensor (body tensors prefixed, the LM head
 * not), or undefined when the name is not llama.cpp's for `arch` or is llama.cpp's own (rope_freqs.weight).
 * @example hfTensorName("gpt2", "blk.0.attn_qkv.bias") // "transformer.h.0.attn.c_attn.bias"
 */
export function hfTensorName(arch: GgufArchitecture, ggufName: string): string | undefined {
  if (GGUF_ONLY.has(ggufName)) return undefined;
  for (const { hf, gguf } of compiled[arch]) {
    const m = gguf.re.exec(ggufName);
    if (m === null) continue;
    const bare = hf.fill(m.groups ?? {});
    return ggufNames[arch].unprefixed.includes(bare) ? bare : ggufNames[arch].prefix + bare;
  }
  return undefined;
}

/**
 * A GGUF file's tensors under the Hugging Face names the architecture files read.
 * @example gpt2(config, ggufWeightSource("gpt2", new Set(names), (n) => reader.tensor(n)), "model.gguf")
 */
export function ggufWeightSource(
  arch: GgufArchitecture,
  names: ReadonlySet<string>,
  tensor: (ggufName: string) => Tensor,
): WeightSource {
  const rename = (k: string) => {
    const g = ggufTensorName(arch, k);
    return g !== undefined && names.has(g) ? g : undefined;
  };
  return {
    has: (k) => rename(k) !== undefined,
    load(k) {
      const g = rename(k);
      if (g === undefined) throw new Error(`GGUF (${arch}) has no tensor for ${JSON.stringify(k)}`);
      return tensor(g);
    },
    keys: () => [...names],
    storedName: (k) => rename(k) ?? k,
  };
}
