// The row and layout changes between Hugging Face checkpoints and llama.cpp's GGUF files, each with its inverse,
// shared by both directions of conversion.
import { llama3Divisors, type RopeScaling } from "@llmdbg/models";
import { fromTyped, type Tensor } from "@llmdbg/tensor";

/** Copies rows: out row r = w row from(r). Works for [rows, cols] and 1-D (biases). */
function mapRows(w: Tensor, from: (r: number) => number): Tensor {
  const rows = w.shape[0] as number;
  const cols = w.shape.length === 1 ? 1 : w.size / rows;
  const src = w.data as Float32Array;
  const out = new Float32Array(w.size);
  for (let r = 0; r < rows; r++) out.set(src.subarray(from(r) * cols, (from(r) + 1) * cols), r * cols);
  return fromTyped(out, w.shape, "f32");
}

/**
 * llama.cpp's `LlamaModel.permute` (convert_hf_to_gguf.py): `w.reshape(nHead, 2, rows / nHead / 2, …)
 * .swapaxes(1, 2).reshape(w.shape)`. Hugging Face's rotate-half pairs (i, i + dHead/2) of each head become
 * adjacent rows (2i, 2i + 1), for llama.cpp's interleaved rope. Pass nKvHeads for k_proj.
 * @example permuteForInterleavedRope(weights["model.layers.0.self_attn.q_proj.weight"], 32)
 */
export function permuteForInterleavedRope(w: Tensor, nHead: number): Tensor {
  const dHead = (w.shape[0] as number) / nHead;
  const half = dHead / 2;
  // out[h, i, j] = in[h, j, i] with out indexed [nHead, half, 2] and in [nHead, 2, half]
  return mapRows(w, (r) => {
    const h = Math.floor(r / dHead);
    const i = Math.floor((r % dHead) / 2);
    const j = r % 2;
    return h * dHead + j * half + i;
  });
}

/**
 * The inverse of permuteForInterleavedRope: GGUF rows back to Hugging Face's rotate-half order.
 * @example unpermuteForInterleavedRope(gguf.tensor("blk.0.attn_k.weight"), 8)
 */
export function unpermuteForInterleavedRope(w: Tensor, nHead: number): Tensor {
  const dHead = (w.shape[0] as number) / nHead;
  const half = dHead / 2;
  return mapRows(w, (r) => {
    const h = Math.floor(r / dHead);
    const j = Math.floor((r % dHead) / half);
    const i = r % half;
    return h * dHead + 2 * i + j;
  });
}

/**
 * [rows, cols] → [cols, rows] (GPT-2's Conv1D weights become [out, in]).
 * @example transpose2d(weights["transformer.h.0.attn.c_attn.weight"]).shape // [2304, 768]
 */
export function transpose2d(w: Tensor): Tensor {
  const [rows, cols] = w.shape as [number, number];
  const src = w.data as Float32Array;
  const out = new Float32Array(w.size);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = src[r * cols + c] as number;
  return fromTyped(out, [cols, rows], "f32");
}

/**
 * GPT-NeoX's query_key_value rows [head, (q, k, v), dHead] regrouped to [q; k; v], as llama.cpp's converter does.
 * @example regroupNeoxQkv(weights["gpt_neox.layers.0.attention.query_key_value.weight"], 8)
 */
export function regroupNeoxQkv(w: Tensor, nHeads: number): Tensor {
  const dHead = (w.shape[0] as number) / 3 / nHeads;
  return mapRows(w, (r) => {
    const part = Math.floor(r / (nHeads * dHead)); // 0 q, 1 k, 2 v
    const h = Math.floor((r % (nHeads * dHead)) / dHead);
    return (h * 3 + part) * dHead + (r % dHead);
  });
}

/**
 * llama.cpp's `rope_freqs.weight` for Llama 3 rope scaling: each inverse frequency's divisor, in float32 as the
 * file stores it. The formula is the architectures' own (llama3Divisors of @llmdbg/models).
 * @example llama3FreqFactors(500000, 128, { kind: "llama3", factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192 })
 */
export function llama3FreqFactors(theta: number, dim: number, s: Extract<RopeScaling, { kind: "llama3" }>): Float32Array {
  return Float32Array.from(llama3Divisors(theta, dim, s));
}

/** The inverse of llama.cpp's GPT-NeoX regrouping: rows [q; k; v] back to [head, (q, k, v), dHead]. */
export function ungroupNeoxQkv(w: Tensor, nHeads: number): Tensor {
  const dHead = (w.shape[0] as number) / 3 / nHeads;
  return mapRows(w, (r) => {
    const h = Math.floor(r / (3 * dHead));
    const part = Math.floor((r % (3 * dHead)) / dHead); // 0 q, 1 k, 2 v
    return (part * nHeads + h) * dHead + (r % dHead);
  });
}
