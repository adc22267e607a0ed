// LoRA adapters in PEFT's layout, without the file system (lora-node.ts reads and writes the folder):
//   adapter_config.json        PEFT's LoraConfig as PeftModel.save_pretrained writes it (keys sorted)
//   adapter_model.safetensors  base_model.model.<module>.lora_A.weight [r, in] and .lora_B.weight [out, r]
// where <module> is the module's path in the transformers model (the weight's checkpoint name without ".weight",
// e.g. transformer.h.0.attn.c_attn). A and B have those shapes whatever the base weight's layout: PEFT transposes
// B·A for GPT-2's Conv1D weights (stored [in, out]) when it merges, and says so with fan_in_fan_out. PEFT drops the
// adapter name (".default") from the keys when saving and puts it back when loading.
//
// Checked against PEFT 0.21.0 with transformers 5.17.0 (float32, CPU) on the tiny GPT-2 and Llama checkpoints: an
// adapter saved here loads with PeftModel.from_pretrained and gives our adapted logits within 2.1e-6 (the base
// models agree within 1.5e-6), and one PEFT saved (init_lora_weights=False, so B ≠ 0) loads here and gives PEFT's
// logits within 2.4e-6. The test holds the adapter_config.json PEFT 0.21.0 wrote.
//
// A folder from elsewhere is checked before anything is built: an adapter kind, bias, DoRA or per-module pattern
// that this runtime would not compute is refused by name, as is a tensor for a module the model does not have, a
// tensor of the wrong shape, or a module target_modules selects without tensors (PEFT would leave it at its
// initialization and warn).
import { ParamStore } from "@llmdbg/core";
import { type Json, ModelFormatError, show } from "@llmdbg/formats";
import type { LoraConfig, ResolvedLoraConfig } from "@llmdbg/protocol";
import type { Tensor } from "@llmdbg/tensor";
import * as T from "@llmdbg/tensor";
import {
  isParamGlob,
  LoraAdapter,
  type LoraBase,
  type LoraTarget,
  linearTargets,
  peftNameMatches,
  withLoraNames,
} from "./lora.js";

export const ADAPTER_CONFIG_FILE = "adapter_config.json";
export const ADAPTER_WEIGHTS_FILE = "adapter_model.safetensors";
/** PeftModel wraps the tuner, which wraps the transformers model: its state-dict keys start so. */
const PREFIX = "base_model.model.";

export interface PeftSaveOptions {
  /** base_model_name_or_path: the Hub id or folder of the model the adapter is for; default null */
  readonly baseModel?: string | null;
  /** PEFT's task_type; default "CAUSAL_LM" */
  readonly taskType?: string;
}

/** The keys PEFT stores a target's A and B under. */
export function peftTensorNames(t: Pick<LoraTarget, "module">): { a: string; b: string } {
  return { a: `${PREFIX}${t.module}.lora_A.weight`, b: `${PREFIX}${t.module}.lora_B.weight` };
}

/**
 * adapter_config.json's object. `target_modules` is the config's list when every entry is a PEFT module name, and
 * otherwise (a glob over parameter names, which PEFT would read as a literal name) the exact module paths adapted,
 * which PEFT matches exactly.
 */
export function peftAdapterConfig(adapter: LoraAdapter, opts: PeftSaveOptions = {}): Record<string, Json> {
  const c = adapter.config;
  const targetModules = c.targetModules.some(isParamGlob) ? adapter.targets.map((t) => t.module) : [...c.targetModules];
  const fields: Record<string, Json> = {
    alpha_pattern: {},
    base_model_name_or_path: opts.baseModel ?? null,
    bias: "none",
    fan_in_fan_out: adapter.targets[0]?.fanInFanOut ?? false,
    inference_mode: true,
    init_lora_weights: true,
    layers_pattern: null,
    layers_to_transform: null,
    lora_alpha: c.alpha,
    lora_dropout: c.dropout,
    modules_to_save: null,
    peft_type: "LORA",
    r: c.r,
    rank_pattern: {},
    revision: null,
    target_modules: targetModules,
    task_type: opts.taskType ?? "CAUSAL_LM",
    use_rslora: c.useRslora,
  };
  return fields;
}

/** adapter_model.safetensors's tensors, by PEFT's names. */
export function peftAdapterTensors(adapter: LoraAdapter): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const t of adapter.targets) {
    const n = peftTensorNames(t);
    out[n.a] = adapter.params.get(t.a); // [r, in]
    out[n.b] = adapter.params.get(t.b); // [out, r]
  }
  return out;
}

/** What adapterFromPeft reads tensors through: a safetensors reader has it. */
export interface AdapterTensorSource {
  readonly file: string;
  readonly entries: readonly { readonly name: string; readonly dtype: string; readonly shape: readonly number[] }[];
  load(name: string): Tensor;
}

/**
 * PEFT fields that change what the adapter computes, which this runtime does not: each must be absent or empty
 * (PEFT 0.21 writes every one, null or false when unused).
 */
const UNSUPPORTED: readonly (readonly [string, string])[] = [
  ["use_dora", "DoRA adapters"],
  ["lora_bias", "adapters with a bias on B"],
  ["modules_to_save", "fully trained extra modules"],
  ["layers_to_transform", "a layer subset by index (name the modules in target_modules instead)"],
  ["layer_replication", "layer replication"],
  ["rank_pattern", "a rank per module"],
  ["alpha_pattern", "an alpha per module"],
  ["alora_invocation_tokens", "activated LoRA"],
  ["target_parameters", "adapters on raw parameters"],
  ["trainable_token_indices", "trainable token embeddings"],
  ["use_qalora", "quantization-aware LoRA"],
  ["use_bdlora", "block-diagonal LoRA"],
  ["arrow_config", "Arrow routing"],
  ["kasa_config", "KaSA adapters"],
  ["velora_config", "VeLoRA"],
  ["monteclora_config", "MonteCLoRA"],
];

const isEmpty = (v: Json | undefined): boolean =>
  v === undefined ||
  v === null ||
  v === false ||
  (Array.isArray(v) && v.length === 0) ||
  (typeof v === "object" && v !== null && !Array.isArray(v) && Object.keys(v).length === 0);

/** A PEFT module selector (target_modules or exclude_modules): a regex string fully matched, or a list of names. */
function peftSelector(v: Json | undefined, file: string, field: string): ((module: string) => boolean) | null {
  if (v === undefined || v === null) return null;
  if (typeof v === "string") {
    let re: RegExp;
    try {
      re = new RegExp(`^(?:${v})$`);
    } catch (e) {
      throw new ModelFormatError(
        file,
        field,
        `${show(v)} is not a regular expression this runtime reads (${(e as Error).message})`,
      );
    }
    return (m) => re.test(m);
  }
  if (!Array.isArray(v) || !v.every((x) => typeof x === "string"))
    throw new ModelFormatError(file, field, `must be a string (a regular expression) or a list of module names, got ${show(v)}`);
  const names = v as string[];
  return (m) => names.some((n) => peftNameMatches(m, n));
}

/**
 * The adapter a PEFT folder holds, for `model`: `config` is adapter_config.json's parsed object (read from
 * `configFile`), `weights` adapter_model.safetensors. Errors name the file and the field or tensor.
 */
export function adapterFromPeft(model: LoraBase, config: Json, configFile: string, weights: AdapterTensorSource): LoraAdapter {
  const fail = (field: string, detail: string): never => {
    throw new ModelFormatError(configFile, field, detail);
  };
  if (typeof config !== "object" || config === null || Array.isArray(config)) return fail("file", "must hold a JSON object");
  const get = (k: string): Json | undefined => (Object.hasOwn(config, k) ? config[k] : undefined);
  const peftType = get("peft_type");
  if (peftType !== "LORA")
    fail("peft_type", `${show(peftType)} is not supported; this runtime reads LoRA adapters ("LORA") only`);
  for (const [k, what] of UNSUPPORTED)
    if (!isEmpty(get(k))) fail(k, `${show(get(k))} asks for ${what}, which this runtime does not compute`);
  const bias = get("bias") ?? "none";
  if (bias !== "none") fail("bias", `${show(bias)}: trained biases are not supported (only "none")`);
  const num = (k: string, dflt: number, ok: (x: number) => boolean, what: string): number => {
    const v = get(k) ?? dflt;
    if (typeof v !== "number" || !ok(v)) return fail(k, `must be ${what}, got ${show(v)}`);
    return v;
  };
  const r = num("r", 8, (x) => Number.isSafeInteger(x) && x > 0, "a positive integer");
  const alpha = num("lora_alpha", 8, Number.isFinite, "a finite number");
  const dropout = num("lora_dropout", 0, (x) => x >= 0 && x < 1, "in [0, 1)");
  const rslora = get("use_rslora") ?? false;
  if (typeof rslora !== "boolean") fail("use_rslora", `must be true or false, got ${show(rslora)}`);
  const fanInFanOut = get("fan_in_fan_out");
  // PEFT corrects a wrong fan_in_fan_out per layer type (with a warning); A and B have the same shapes either way
  if (fanInFanOut !== undefined && typeof fanInFanOut !== "boolean")
    fail("fan_in_fan_out", `must be true or false, got ${show(fanInFanOut)}`);

  const candidates = linearTargets(model);
  const bare = (t: { param: string }) => t.param.slice(0, -".weight".length);
  const target = peftSelector(get("target_modules"), configFile, "target_modules");
  if (target === null) fail("target_modules", "is missing: it says which modules the adapter is on");
  const exclude = peftSelector(get("exclude_modules"), configFile, "exclude_modules");
  const selects = (t: (typeof candidates)[number], f: (m: string) => boolean) => f(t.module) || f(bare(t));
  const selected = new Set(
    candidates
      .filter((t) => selects(t, target as (m: string) => boolean) && !(exclude && selects(t, exclude)))
      .map((t) => t.param),
  );

  // the tensors: two per module, each named and shaped as PEFT writes them
  const wfail = (field: string, detail: string): never => {
    throw new ModelFormatError(weights.file, field, detail);
  };
  const byModule = new Map<string, { a?: Tensor; b?: Tensor; target: (typeof candidates)[number] }>();
  for (const e of weights.entries) {
    const m = /^base_model\.model\.(.+)\.lora_([AB])\.weight$/.exec(e.name);
    if (m === null)
      wfail(
        e.name,
        `is not a LoRA weight (${PREFIX}<module>.lora_A.weight / .lora_B.weight); embedding adapters, DoRA magnitudes and saved modules are not supported`,
      );
    const [, module, which] = m as RegExpExecArray;
    const t = candidates.find((c) => c.module === module || bare(c) === module);
    if (t === undefined)
      return wfail(
        e.name,
        `the model has no linear weight at module "${module}" (its modules look like "${candidates[0]?.module}")`,
      );
    if (!selected.has(t.param))
      fail("target_modules", `does not select ${show(module)}, but ${weights.file} holds ${show(e.name)}`);
    const want = which === "A" ? [r, t.inFeatures] : [t.outFeatures, r];
    if (e.shape.join() !== want.join())
      wfail(
        e.name,
        `expected shape [${want.join(", ")}] (${which === "A" ? "[r, in]" : "[out, r]"} with r ${r} from ${configFile}), got [${e.shape.join(", ")}]`,
      );
    if (!["F32", "F16", "BF16", "F64"].includes(e.dtype)) wfail(e.name, `expected a floating-point tensor, got ${e.dtype}`);
    const slot = byModule.get(t.param) ?? { target: t };
    const x = weights.load(e.name);
    if (which === "A") slot.a = x;
    else slot.b = x;
    byModule.set(t.param, slot);
  }
  const entries: [string, Tensor][] = [];
  const targets: LoraTarget[] = [];
  for (const c of candidates) {
    if (!selected.has(c.param)) continue;
    const slot = byModule.get(c.param);
    const names = peftTensorNames(c);
    if (slot?.a === undefined) wfail(names.a, `missing: target_modules selects ${c.module}`);
    if (slot?.b === undefined) wfail(names.b, `missing: target_modules selects ${c.module}`);
    const t = withLoraNames(c);
    targets.push(t);
    entries.push([t.a, f32(slot?.a as Tensor)], [t.b, f32(slot?.b as Tensor)]);
  }
  if (targets.length === 0) fail("target_modules", "selects no linear weight of this model");
  const listed = get("target_modules");
  const names: LoraConfig["targetModules"] =
    Array.isArray(listed) && !listed.some((n) => isParamGlob(n as string)) ? (listed as string[]) : targets.map((t) => t.module);
  const resolved: ResolvedLoraConfig = { r, alpha, dropout, targetModules: names, seed: 0, useRslora: rslora as boolean };
  return new LoraAdapter(resolved, targets, new ParamStore(entries));
}

/** A loaded tensor as f32 (a reader gives F64 as f64). */
function f32(t: Tensor): Tensor {
  return t.dtype === "f32" ? t : T.cast(t, "f32");
}
