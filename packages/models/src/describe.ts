// What a loaded model is, as one JSON-able object: where it came from, its normalized config, the stored
// tensors by dtype, its tokenizer, its generation defaults and every hook point with its shape. `llmdbg inspect`
// prints it; the server will send it.
import { hookShape } from "@llmdbg/core";
import type { LoadedModel } from "./load-node.js";

export interface HookShape {
  name: string;
  layer: number | null;
  component: string;
  axes: string[];
  shape: number[];
}

export interface DtypeCount {
  tensors: number;
  parameters: number;
  bytes: number;
}

const product = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/**
 * Each hook point's shape on `seq` tokens, in the order the forward pass reaches them (the declaration's
 * order), from the declared axes: every activation is checked against them, so no forward pass is needed.
 */
export function hookShapes(m: LoadedModel, seq: number): HookShape[] {
  return m.model.hookPoints.map((p) => {
    const shape = hookShape(m.model, p, { batch: 1, pos: seq });
    if (shape.some((d) => d === null)) throw new Error(`hook ${p.name}: an axis of [${p.axes.join(", ")}] has no declared size`);
    return { name: p.name, layer: p.layer, component: p.component, axes: [...p.axes], shape: shape as number[] };
  });
}

function tokenizerSummary(m: LoadedModel) {
  const tok = m.tokenizer;
  if (tok === undefined) return null;
  const special = (id: number | undefined) => (id === undefined ? null : { id, token: tok.idToToken(id) ?? null });
  const ids = (tok as { specialTokenIds?: readonly number[] }).specialTokenIds;
  return {
    vocabSize: tok.vocabSize,
    bos: special(tok.bosTokenId),
    eos: special(tok.eosTokenId),
    pad: special(tok.padTokenId),
    unk: special(tok.unkTokenId),
    specialTokens: ids === undefined ? null : ids.length,
    hasChatTemplate: tok.chatTemplate !== undefined,
  };
}

/** The JSON `inspect --json` prints. */
export function describeModel(m: LoadedModel, seq: number) {
  const dtypes: Record<string, DtypeCount> = {};
  let parameters = 0;
  let storedBytes = 0;
  for (const t of m.stored) {
    const n = product(t.shape);
    const d = (dtypes[t.dtype] ??= { tensors: 0, parameters: 0, bytes: 0 });
    d.tensors++;
    d.parameters += n;
    d.bytes += t.bytes;
    parameters += n;
    storedBytes += t.bytes;
  }
  return {
    path: m.path,
    format: m.format,
    architecture: { family: m.config.family, source: m.config.source },
    config: m.config,
    parameters,
    storedBytes,
    tensors: m.stored.length,
    dtypes,
    tokenizer: tokenizerSummary(m),
    generation: m.generation,
    hooks: { seq, points: hookShapes(m, seq) },
  };
}
