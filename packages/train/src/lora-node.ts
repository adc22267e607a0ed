// LoRA adapter folders in PEFT's layout (peft.ts says what goes in them): what saveAdapter writes loads with
// `PeftModel.from_pretrained(base, dir)`, and loadAdapter reads what PEFT's save_pretrained wrote. Only
// safetensors weights are read: adapter_model.bin is a pickle, and a model file is never executed.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { JsonSyntaxError, ModelFormatError, parseJsonStrict, readSafetensors, writeSafetensors } from "@llmdbg/formats";
import type { LoraAdapter, LoraBase } from "./lora.js";
import {
  ADAPTER_CONFIG_FILE,
  ADAPTER_WEIGHTS_FILE,
  adapterFromPeft,
  type PeftSaveOptions,
  peftAdapterConfig,
  peftAdapterTensors,
} from "./peft.js";

/** JSON with sorted keys at every level, as PEFT's save_pretrained writes its config (json.dumps(sort_keys=True)). */
function sortedJson(v: unknown): string {
  const sort = (x: unknown): unknown =>
    Array.isArray(x)
      ? x.map(sort)
      : typeof x === "object" && x !== null
        ? Object.fromEntries(
            Object.keys(x)
              .sort()
              .map((k) => [k, sort((x as Record<string, unknown>)[k])]),
          )
        : x;
  return `${JSON.stringify(sort(v), null, 2)}\n`;
}

/**
 * Writes `adapter` into the folder `dir` (created if needed) as PEFT does: adapter_config.json and
 * adapter_model.safetensors (f32), each through a temporary file renamed into place.
 * @example saveAdapter(adapter, "runs/a/adapter", { baseModel: "openai-community/gpt2" })
 */
export function saveAdapter(adapter: LoraAdapter, dir: string, opts: PeftSaveOptions = {}): void {
  mkdirSync(dir, { recursive: true });
  writeSafetensors(join(dir, ADAPTER_WEIGHTS_FILE), peftAdapterTensors(adapter), { dtype: "F32", metadata: { format: "pt" } });
  const file = join(dir, ADAPTER_CONFIG_FILE);
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, sortedJson(peftAdapterConfig(adapter, opts)));
  renameSync(tmp, file);
}

/**
 * Reads the PEFT LoRA adapter in the folder `dir` for `model`, checked against it: unknown modules, wrong shapes and
 * adapter kinds this runtime does not compute are ModelFormatErrors naming the file and the field or tensor.
 * @example const adapter = loadAdapter("adapters/gpt2-lora", model); const out = run(loraModel(model, adapter), ids).output
 */
export function loadAdapter(dir: string, model: LoraBase): LoraAdapter {
  const configFile = join(dir, ADAPTER_CONFIG_FILE);
  const weightsFile = join(dir, ADAPTER_WEIGHTS_FILE);
  if (!existsSync(configFile))
    throw new ModelFormatError(configFile, "file", "missing: a PEFT adapter folder holds adapter_config.json");
  if (!existsSync(weightsFile)) {
    const pickle = existsSync(join(dir, "adapter_model.bin"));
    throw new ModelFormatError(
      weightsFile,
      "file",
      pickle
        ? "missing: only adapter_model.bin (a pickle, which is never executed here) is present; save the adapter with safe_serialization=True"
        : "missing: a PEFT adapter folder holds adapter_model.safetensors",
    );
  }
  let config: ReturnType<typeof parseJsonStrict>;
  try {
    config = parseJsonStrict(readFileSync(configFile, "utf8"));
  } catch (e) {
    if (e instanceof JsonSyntaxError) throw new ModelFormatError(configFile, e.path.join(".") || "file", e.message);
    throw e;
  }
  return adapterFromPeft(model, config, configFile, readSafetensors(weightsFile));
}
