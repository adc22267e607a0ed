// A GPT-2-small-shaped checkpoint with random weights from a fixed seed, shared by the gpt2 and load
// sections: the config.json of openai-community/gpt2 and its tensors under the same (bare) names, F32.
// Scales follow GPT-2's initialisation (std 0.02, residual projections 0.02/sqrt(2·n_layer)) so activations
// have realistic magnitudes; uniform draws with those standard deviations are much faster to make than normals.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randu, type Tensor } from "@llmdbg/tensor";

/** openai-community/gpt2's config.json (the fields a GPT-2 config carries; task_specific_params left out). */
export const GPT2_SMALL_CONFIG = {
  activation_function: "gelu_new",
  architectures: ["GPT2LMHeadModel"],
  attn_pdrop: 0.1,
  bos_token_id: 50256,
  embd_pdrop: 0.1,
  eos_token_id: 50256,
  initializer_range: 0.02,
  layer_norm_epsilon: 1e-5,
  model_type: "gpt2",
  n_ctx: 1024,
  n_embd: 768,
  n_head: 12,
  n_layer: 12,
  n_positions: 1024,
  resid_pdrop: 0.1,
  summary_activation: null,
  summary_first_dropout: 0.1,
  summary_proj_to_labels: true,
  summary_type: "cls_index",
  summary_use_proj: true,
  vocab_size: 50257,
} as const;

/** Uniform on [mean − std·√3, mean + std·√3): the given mean and standard deviation. */
function uniform(shape: number[], seed: number, std: number, mean = 0): Tensor {
  const a = std * Math.sqrt(3);
  return randu(shape, seed, mean - a, mean + a);
}

/** The sizes of a GPT-2 config that the weights depend on. */
export interface Gpt2Shape {
  readonly n_embd: number;
  readonly n_layer: number;
  readonly n_positions: number;
  readonly vocab_size: number;
}

/**
 * The checkpoint's tensors by name (bare GPT2Model names, Conv1D weights [in, out]); ~498 MB of f32. `shape`
 * makes a smaller model of the same kind (the bench's own development runs).
 */
export function gpt2SmallWeights(seed = 1234, shape: Gpt2Shape = GPT2_SMALL_CONFIG): Record<string, Tensor> {
  const { n_embd: d, n_layer: L, n_positions: P, vocab_size: V } = shape;
  const f = 4 * d;
  let s = seed;
  const next = () => (s = (s * 1103515245 + 12345) >>> 0);
  const w: Record<string, Tensor> = {};
  w["wte.weight"] = uniform([V, d], next(), 0.02); // [d_vocab, d_model]
  w["wpe.weight"] = uniform([P, d], next(), 0.01); // [n_ctx, d_model]
  const ln = (p: string) => {
    w[`${p}.weight`] = uniform([d], next(), 0.05, 1); // [d_model]
    w[`${p}.bias`] = uniform([d], next(), 0.02); // [d_model]
  };
  const lin = (p: string, din: number, dout: number, std: number) => {
    w[`${p}.weight`] = uniform([din, dout], next(), std); // [in, out]
    w[`${p}.bias`] = uniform([dout], next(), 0.01); // [out]
  };
  const proj = 0.02 / Math.sqrt(2 * L);
  for (let l = 0; l < L; l++) {
    ln(`h.${l}.ln_1`);
    lin(`h.${l}.attn.c_attn`, d, 3 * d, 0.02);
    lin(`h.${l}.attn.c_proj`, d, d, proj);
    ln(`h.${l}.ln_2`);
    lin(`h.${l}.mlp.c_fc`, d, f, 0.02);
    lin(`h.${l}.mlp.c_proj`, f, d, proj);
  }
  ln("ln_f");
  return w;
}

/** Bytes of f32 data in `w`. */
export function weightBytes(w: Record<string, Tensor>): number {
  return Object.values(w).reduce((a, t) => a + 4 * t.size, 0);
}

/** A fresh temporary folder; `dispose` removes it and everything in it. */
export function tempFolder(prefix: string): { dir: string; dispose: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  let gone = false;
  const dispose = () => {
    if (gone) return;
    gone = true;
    rmSync(dir, { recursive: true, force: true });
  };
  return { dir, dispose };
}

/** Writes config.json into `dir` (model.safetensors is written by the caller with writeSafetensors). */
export function writeConfig(dir: string): string {
  const path = join(dir, "config.json");
  writeFileSync(path, `${JSON.stringify(GPT2_SMALL_CONFIG, null, 2)}\n`);
  return path;
}
