// `generation_config.json`: the sampling defaults a checkpoint ships with (transformers' GenerationConfig).
// Only the fields llmdbg's generate() understands are read; each is checked and a wrong type names the
// file and the key. Unknown keys are ignored, as transformers ignores them.
import type { GenerateOptions } from "@llmdbg/core";
import { ModelFormatError, show } from "@llmdbg/formats";

/** The defaults `llmdbg generate` starts from; command-line flags override them. */
export interface GenerationDefaults {
  readonly maxNewTokens?: number;
  readonly temperature?: number;
  readonly topK?: number;
  readonly topP?: number;
  readonly doSample?: boolean;
  readonly eosTokenIds?: readonly number[];
  readonly padId?: number;
}

type Obj = { readonly [k: string]: unknown };

/**
 * Reads a parsed generation_config.json. `max_length` (prompt + new tokens) is not converted: it depends
 * on the prompt, so only `max_new_tokens` becomes a default.
 * @example parseGenerationConfig({ do_sample: true, temperature: 0.6, top_p: 0.9, eos_token_id: [128001, 128009] }, "generation_config.json")
 */
export function parseGenerationConfig(json: unknown, file: string): GenerationDefaults {
  if (typeof json !== "object" || json === null || Array.isArray(json))
    throw new ModelFormatError(file, "(top level)", `expected a JSON object, got ${show(json)}`);
  const o = json as Obj;
  const present = (k: string) => o[k] !== undefined && o[k] !== null;
  const num = (k: string, ok: (v: number) => boolean, what: string): number | undefined => {
    if (!present(k)) return undefined;
    const v = o[k];
    if (typeof v !== "number" || !ok(v)) throw new ModelFormatError(file, k, `expected ${what}, got ${show(v)}`);
    return v;
  };
  const id = (v: unknown) => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
  const ids = (k: string): number[] | undefined => {
    if (!present(k)) return undefined;
    const v = o[k];
    if (id(v)) return [v as number];
    if (Array.isArray(v) && v.every(id)) return v as number[];
    throw new ModelFormatError(file, k, `expected a token id or a list of token ids, got ${show(v)}`);
  };
  let doSample: boolean | undefined;
  if (present("do_sample")) {
    if (typeof o.do_sample !== "boolean")
      throw new ModelFormatError(file, "do_sample", `expected true or false, got ${show(o.do_sample)}`);
    doSample = o.do_sample;
  }
  const out: { -readonly [K in keyof GenerationDefaults]: GenerationDefaults[K] } = {};
  const set = <K extends keyof GenerationDefaults>(k: K, v: GenerationDefaults[K] | undefined) => {
    if (v !== undefined) out[k] = v;
  };
  set(
    "maxNewTokens",
    num("max_new_tokens", (v) => Number.isSafeInteger(v) && v >= 0, "an integer >= 0"),
  );
  set(
    "temperature",
    num("temperature", (v) => v >= 0 && Number.isFinite(v), "a number >= 0"),
  );
  set(
    "topK",
    num("top_k", (v) => Number.isSafeInteger(v) && v >= 0, "an integer >= 0"),
  );
  set(
    "topP",
    num("top_p", (v) => v > 0 && v <= 1, "a number in (0, 1]"),
  );
  set("doSample", doSample);
  set("eosTokenIds", ids("eos_token_id"));
  set("padId", ids("pad_token_id")?.[0]);
  return out;
}

/**
 * Generation options from the checkpoint's defaults, overridden by `overrides`. transformers samples only
 * when `do_sample` is true; otherwise it decodes greedily whatever the temperature says.
 */
export function generationOptions(
  defaults: GenerationDefaults,
  overrides: Partial<GenerateOptions> & { maxNewTokens: number },
): GenerateOptions {
  const sampling = overrides.temperature !== undefined || overrides.topK !== undefined || overrides.topP !== undefined;
  const doSample = overrides.doSample ?? (sampling ? true : (defaults.doSample ?? false));
  const merged = { ...defaults, ...overrides, doSample };
  return Object.fromEntries(Object.entries(merged).filter(([, v]) => v !== undefined)) as unknown as GenerateOptions;
}
