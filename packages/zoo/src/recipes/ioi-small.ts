// The `ioi-small` model: a small GPT-2 trained on indirect-object sentences (data/ioi.ts) mixed with filler, which
// must complete "When Mary and John went to the store, John gave a drink to" with " Mary" — the indirect-object
// identification task whose circuit Wang et al. (2022) traced in GPT-2 small. Its claims are measured on name
// pairs that never occur together in training: accuracy (the answer is the top prediction), per order (ABBA,
// BABA), and the mean logit difference answer − repeated name.
import { run } from "@llmdbg/core";
import * as T from "@llmdbg/tensor";
import { loadHfTokenizer, trainByteLevelBpe } from "@llmdbg/tokenizers";
import type { Example } from "@llmdbg/train";
import { type IoiItem, ioiItem, ioiTrainingText, namePairs } from "../data/ioi.js";
import { type Claim, claim, type PreparedRecipe, tokenizerOf, type ZooModel, type ZooRecipe } from "../recipe.js";

const DATA_SEED = 4242;
/** IOI prompts of the held-out pairs, another seed */
const EVAL_SEED = 4243;
const TRAIN_TEXTS = 60_000;
const VALIDATION_TEXTS = 256;
const EVAL_ITEMS = 400;
const EOS = "<|endoftext|>";
const VOCAB = 512;
const CONTEXT = 64;

/** The one token of " " + name; a name that splits cannot be an answer. */
function nameToken(tok: NonNullable<ZooModel["tokenizer"]>, name: string): number {
  const ids = tok.encode(` ${name}`, { addSpecialTokens: false });
  if (ids.length !== 1) throw new Error(`ioi-small: " ${name}" is ${ids.length} tokens in this tokenizer, not one`);
  return ids[0] as number;
}

/** Per item: the logits of answer and repeated name at the prompt's last position, and whether the answer is top. */
function score(model: ZooModel, items: readonly IoiItem[]): { correct: boolean; diff: number; item: IoiItem }[] {
  const tok = tokenizerOf(model, "ioi-small");
  const eos = tok.eosTokenId ?? 0;
  const encoded = items.map((it) => [eos, ...tok.encode(it.prompt, { addSpecialTokens: false })]);
  // prompts of one length run as one batch (no padding, so no mask to trust)
  const byLength = new Map<number, number[]>();
  encoded.forEach((ids, i) => {
    byLength.set(ids.length, [...(byLength.get(ids.length) ?? []), i]);
  });
  const out: { correct: boolean; diff: number; item: IoiItem }[] = new Array(items.length);
  T.noGrad(() => {
    for (const [len, idx] of byLength) {
      const ids = T.tensor(
        idx.flatMap((i) => encoded[i] as number[]),
        [idx.length, len],
        "i32",
      );
      const logits = run(model, ids, { logits: "last" }).output; // [batch, 1, d_vocab]
      const V = logits.shape[2] as number;
      const d = logits.data;
      idx.forEach((i, r) => {
        const it = items[i] as IoiItem;
        const row = d.subarray(r * V, (r + 1) * V);
        const io = nameToken(tok, it.io);
        const s = nameToken(tok, it.s);
        let top = 0;
        for (let v = 1; v < V; v++) if ((row[v] as number) > (row[top] as number)) top = v;
        out[i] = { correct: top === io, diff: (row[io] as number) - (row[s] as number), item: it };
      });
    }
  });
  return out;
}

function heldOutItems(): IoiItem[] {
  const { heldOut } = namePairs();
  return Array.from({ length: EVAL_ITEMS }, (_, i) => ioiItem(EVAL_SEED, i, heldOut));
}

export const ioiSmall: ZooRecipe = {
  name: "ioi-small",
  summary: "a small GPT-2 that completes indirect-object sentences (When Mary and John …, John gave a drink to → Mary)",
  architecture: `GPT-2, 3 layers, d_model 128, 4 heads, ${CONTEXT} positions, a ${VOCAB}-token byte-level BPE`,
  initSeed: 3,
  train: {
    seed: 3,
    batchSize: 32,
    maxSteps: 2000,
    lr: 2e-3,
    schedule: { kind: "cosine", warmupSteps: 100, minLrRatio: 0.05 },
    optimizer: { kind: "adamw", weightDecay: 0.1 },
    clipNorm: 1,
    objective: "causal_lm",
    evalEvery: 250,
    evalBatchSize: 64,
  },

  prepare(): PreparedRecipe {
    const { train: pairs, heldOut } = namePairs();
    const texts = Array.from({ length: TRAIN_TEXTS + VALIDATION_TEXTS }, (_, i) => ioiTrainingText(DATA_SEED, i, pairs));
    const tokenizer = trainByteLevelBpe(texts.slice(0, 5_000), { vocabSize: VOCAB, specialTokens: [EOS] });
    const tokenizerConfig = {
      tokenizer_class: "GPT2Tokenizer",
      bos_token: EOS,
      eos_token: EOS,
      unk_token: EOS,
      model_max_length: CONTEXT,
    };
    const tok = loadHfTokenizer(tokenizer, tokenizerConfig, "ioi-small/tokenizer.json");
    const eos = tok.tokenToId(EOS) as number;
    for (const [a, b] of [...pairs, ...heldOut]) {
      nameToken(tok as never, a);
      nameToken(tok as never, b);
    }
    const examples: Example[] = texts.map((t) => ({ ids: [eos, ...tok.encode(t, { addSpecialTokens: false }), eos] }));
    const modelConfig = {
      architectures: ["GPT2LMHeadModel"],
      model_type: "gpt2",
      vocab_size: tok.vocabSize,
      n_positions: CONTEXT,
      n_ctx: CONTEXT,
      n_embd: 128,
      n_layer: 3,
      n_head: 4,
      n_inner: null,
      activation_function: "gelu_new",
      resid_pdrop: 0,
      embd_pdrop: 0,
      attn_pdrop: 0,
      layer_norm_epsilon: 1e-5,
      initializer_range: 0.02,
      tie_word_embeddings: true,
      bos_token_id: eos,
      eos_token_id: eos,
    };
    return {
      modelConfig,
      tokenizer,
      tokenizerConfig,
      generationConfig: { bos_token_id: eos, eos_token_id: eos, max_length: CONTEXT },
      data: { train: examples.slice(0, TRAIN_TEXTS), validation: examples.slice(TRAIN_TEXTS) },
      dataInfo: {
        generator: "packages/zoo/src/data/ioi.ts (ioiTrainingText: 70% IOI sentences with their answer, 30% filler)",
        seed: DATA_SEED,
        texts: TRAIN_TEXTS,
        names: pairs.length + heldOut.length > 0 ? new Set([...pairs, ...heldOut].flat()).size : 0,
        trainPairs: pairs.length,
        heldOutPairs: heldOut.length,
        evalSeed: EVAL_SEED,
        tokens: examples.slice(0, TRAIN_TEXTS).reduce((n, e) => n + e.ids.length, 0),
      },
    };
  },

  verify(model: ZooModel): Claim[] {
    const r = score(model, heldOutItems());
    const acc = (xs: typeof r) => xs.filter((x) => x.correct).length / Math.max(1, xs.length);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
    return [
      claim(
        "held_out_accuracy",
        `share of ${EVAL_ITEMS} prompts over name pairs never seen together whose top prediction is the indirect object`,
        acc(r),
        ">=",
        0.95,
      ),
      claim(
        "abba_accuracy",
        "the same, prompts whose repeated name is the second of the pair (ABBA)",
        acc(r.filter((x) => x.item.order === "ABBA")),
        ">=",
        0.9,
      ),
      claim(
        "baba_accuracy",
        "the same, prompts whose repeated name is the first of the pair (BABA)",
        acc(r.filter((x) => x.item.order === "BABA")),
        ">=",
        0.9,
      ),
      claim(
        "logit_diff",
        "mean logit difference, indirect object − repeated name, at the last position",
        mean(r.map((x) => x.diff)),
        ">=",
        2,
      ),
    ];
  },

  describe(claims: readonly Claim[], model: ZooModel): string {
    const items = heldOutItems().slice(0, 4);
    const r = score(model, items);
    const acc = claims.find((c) => c.name === "held_out_accuracy")?.value ?? 0;
    return [
      `Given an indirect-object sentence, it names the person who is not repeated: ${(acc * 100).toFixed(1)}% of prompts over`,
      "name pairs it never saw together in training. Held-out prompts, with the logit difference answer − repeated name:",
      "",
      ...r.map(
        (x) =>
          `- ${x.item.prompt} → " ${x.item.io}" (${x.correct ? "top prediction" : "not top"}, difference ${x.diff.toFixed(2)})`,
      ),
    ].join("\n");
  },
};
