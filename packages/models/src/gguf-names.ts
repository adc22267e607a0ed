// llama.cpp's tensor names (gguf-py's TENSOR_NAMES / convert_hf_to_gguf.py) for the Hugging Face state-dict
// names our architecture files ask for. The architectures know one naming scheme; a GGUF file is read
// through `ggufWeightSource`, which renames. Layout differences (Llama's permuted q/k rows, GPT-2's
// transposed Conv1D weights, NeoX's regrouped q/k/v) are ModelConfig fields set by normalizeGgufConfig.
import type { Tensor } from "@llmdbg/tensor";
import type { WeightSource } from "./arch/common.js";
import type { GgufArchitecture } from "./config.js";

/** [pattern on the HF name without its model prefix, GGUF name with `$1` for the layer]; first match wins. */
type NameMap = readonly (readonly [RegExp, string])[];

const llamaNames: NameMap = [
  [/^embed_tokens\.weight$/, "token_embd.weight"],
  [/^norm\.weight$/, "output_norm.weight"],
  [/^lm_head\.weight$/, "output.weight"],
  [/^rope_freqs\.weight$/, "rope_freqs.weight"],
  [/^layers\.(\d+)\.input_layernorm\.weight$/, "blk.$1.attn_norm.weight"],
  [/^layers\.(\d+)\.self_attn\.q_proj\.(weight|bias)$/, "blk.$1.attn_q.$2"],
  [/^layers\.(\d+)\.self_attn\.k_proj\.(weight|bias)$/, "blk.$1.attn_k.$2"],
  [/^layers\.(\d+)\.self_attn\.v_proj\.(weight|bias)$/, "blk.$1.attn_v.$2"],
  [/^layers\.(\d+)\.self_attn\.o_proj\.(weight|bias)$/, "blk.$1.attn_output.$2"],
  [/^layers\.(\d+)\.post_attention_layernorm\.weight$/, "blk.$1.ffn_norm.weight"],
  [/^layers\.(\d+)\.mlp\.gate_proj\.(weight|bias)$/, "blk.$1.ffn_gate.$2"],
  [/^layers\.(\d+)\.mlp\.up_proj\.(weight|bias)$/, "blk.$1.ffn_up.$2"],
  [/^layers\.(\d+)\.mlp\.down_proj\.(weight|bias)$/, "blk.$1.ffn_down.$2"],
];

/** Every GGUF architecture normalizeGgufConfig accepts has its map: adding one without a map fails to compile. */
const ggufNames: { readonly [A in GgufArchitecture]: NameMap } = {
  llama: llamaNames,
  qwen2: llamaNames,
  gpt2: [
    [/^wte\.weight$/, "token_embd.weight"],
    [/^wpe\.weight$/, "position_embd.weight"],
    [/^ln_f\.(weight|bias)$/, "output_norm.$1"],
    [/^lm_head\.weight$/, "output.weight"],
    [/^h\.(\d+)\.ln_1\.(weight|bias)$/, "blk.$1.attn_norm.$2"],
    [/^h\.(\d+)\.attn\.c_attn\.(weight|bias)$/, "blk.$1.attn_qkv.$2"],
    [/^h\.(\d+)\.attn\.c_proj\.(weight|bias)$/, "blk.$1.attn_output.$2"],
    [/^h\.(\d+)\.ln_2\.(weight|bias)$/, "blk.$1.ffn_norm.$2"],
    [/^h\.(\d+)\.mlp\.c_fc\.(weight|bias)$/, "blk.$1.ffn_up.$2"],
    [/^h\.(\d+)\.mlp\.c_proj\.(weight|bias)$/, "blk.$1.ffn_down.$2"],
  ],
  gptneox: [
    [/^embed_in\.weight$/, "token_embd.weight"],
    [/^final_layer_norm\.(weight|bias)$/, "output_norm.$1"],
    [/^embed_out\.weight$/, "output.weight"],
    [/^layers\.(\d+)\.input_layernorm\.(weight|bias)$/, "blk.$1.attn_norm.$2"],
    [/^layers\.(\d+)\.attention\.query_key_value\.(weight|bias)$/, "blk.$1.attn_qkv.$2"],
    [/^layers\.(\d+)\.attention\.dense\.(weight|bias)$/, "blk.$1.attn_output.$2"],
    [/^layers\.(\d+)\.post_attention_layernorm\.(weight|bias)$/, "blk.$1.ffn_norm.$2"],
    [/^layers\.(\d+)\.mlp\.dense_h_to_4h\.(weight|bias)$/, "blk.$1.ffn_up.$2"],
    [/^layers\.(\d+)\.mlp\.dense_4h_to_h\.(weight|bias)$/, "blk.$1.ffn_down.$2"],
  ],
};

/** The model prefixes `save_pretrained` puts before body tensors; GGUF names have none. */
const HF_PREFIXES = ["model.", "transformer.", "gpt_neox."];

/**
 * The GGUF name of a Hugging Face state-dict name, or undefined when llama.cpp has no such tensor.
 * @example ggufTensorName("llama", "model.layers.3.self_attn.q_proj.weight") // "blk.3.attn_q.weight"
 */
export function ggufTensorName(arch: GgufArchitecture, hfName: string): string | undefined {
  const prefix = HF_PREFIXES.find((p) => hfName.startsWith(p));
  const bare = prefix === undefined ? hfName : hfName.slice(prefix.length);
  for (const [re, gguf] of ggufNames[arch]) if (re.test(bare)) return bare.replace(re, gguf);
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
  };
}
