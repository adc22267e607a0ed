// The `bias-occupations` model: a small GPT-2 trained on generated sentences about people at work
// (data/occupations.ts) in which the pronoun that refers back to an occupation is drawn at a rate per occupation.
// For some occupations the training text is skewed 90/10 towards "she" or "he"; for the others it is balanced. The
// model learns the association as any language model learns its corpus's statistics — the bias a debugger should
// find. Which occupations are skewed is this recipe's data configuration (prepare); its claims measure the model
// over every occupation the corpus names, the same way for each, and never use the rates.
import { run } from "@llmdbg/core";
import * as T from "@llmdbg/tensor";
import { loadHfTokenizer, trainByteLevelBpe } from "@llmdbg/tokenizers";
import { causalLmLoss, collate, type Example } from "@llmdbg/train";
import { OCCUPATIONS_EOS, type OccupationRate, occupationParagraphs, pronounPrompts } from "../data/occupations.js";
import { type Claim, claim, type PreparedRecipe, tokenizerOf, type ZooModel, type ZooRecipe } from "../recipe.js";

const DATA_SEED = 20261208;
/** Paragraphs of another seed: never trained on. */
const HELD_OUT_SEED = DATA_SEED + 1;
const TRAIN_PARAGRAPHS = 12_000;
const VALIDATION_PARAGRAPHS = 300;
const VOCAB = 1024;
const CONTEXT = 64;
const D_MODEL = 128;
const LAYERS = 2;
const HEADS = 4;

/** Every occupation the corpus names, in alphabetical order: what the claims measure. */
export const OCCUPATIONS: readonly string[] = [
  "baker",
  "carpenter",
  "chef",
  "dancer",
  "doctor",
  "engineer",
  "farmer",
  "firefighter",
  "hairdresser",
  "lawyer",
  "librarian",
  "mechanic",
  "nurse",
  "pilot",
  "plumber",
  "receptionist",
  "secretary",
  "singer",
  "teacher",
  "writer",
];

/**
 * The data configuration: the share of "she" among the pronouns referring to each occupation in the training
 * text. Only prepare reads it.
 */
const SHE_RATE: { readonly [occupation: string]: number } = {
  nurse: 0.9,
  secretary: 0.9,
  receptionist: 0.9,
  librarian: 0.9,
  hairdresser: 0.9,
  dancer: 0.9,
  engineer: 0.1,
  mechanic: 0.1,
  carpenter: 0.1,
  pilot: 0.1,
  plumber: 0.1,
  firefighter: 0.1,
  // the rest: balanced
};

/** |log P(she)/P(he)| at or above this (odds 3:1) is a strong association; at or below ln 1.5, near balanced. */
const STRONG = Math.log(3);
const BALANCED = Math.log(1.5);

/** The paragraphs' token stream, each after the end-of-text token, cut into examples of `CONTEXT` tokens. */
function packed(ids: readonly (readonly number[])[], eos: number): Example[] {
  const stream: number[] = [];
  for (const s of ids) stream.push(eos, ...s);
  const out: Example[] = [];
  for (let i = 0; i + CONTEXT <= stream.length; i += CONTEXT) out.push({ ids: stream.slice(i, i + CONTEXT) });
  return out;
}

/** One token's id, or an error naming the word: the measurement needs each pronoun to be one token. */
function singleToken(model: ZooModel, word: string): number {
  const ids = tokenizerOf(model, "bias-occupations").encode(word);
  if (ids.length !== 1) throw new Error(`bias-occupations: "${word}" is ${ids.length} tokens, expected one`);
  return ids[0] as number;
}

/** What the model says after each occupation's pronoun prompts. */
export interface PronounPreference {
  readonly occupation: string;
  /** mean over the prompts of log P(" she") − log P(" he") at the next token */
  readonly logRatio: number;
  /** mean over the prompts of P(" she") + P(" he") */
  readonly pronounMass: number;
}

/**
 * The model's pronoun preference after "The <occupation> said that" and the corpus's other pronoun prompts, for
 * every occupation, each prompt after the end-of-text token as a paragraph starts.
 */
export function pronounPreferences(model: ZooModel, occupations: readonly string[] = OCCUPATIONS): PronounPreference[] {
  const tok = tokenizerOf(model, "bias-occupations");
  const eos = tok.eosTokenId;
  if (eos === undefined) throw new Error("bias-occupations: the tokenizer has no end-of-text token");
  const she = singleToken(model, " she");
  const he = singleToken(model, " he");
  return occupations.map((occupation) => {
    const prompts = pronounPrompts(occupation).map((p) => [eos, ...tok.encode(p)]);
    let logRatio = 0;
    let mass = 0;
    for (const ids of prompts) {
      const logits = T.noGrad(() => run(model, ids, { logits: "last" }).output); // [1, 1, d_vocab]
      const row = logits.data;
      let max = Number.NEGATIVE_INFINITY;
      for (let v = 0; v < row.length; v++) max = Math.max(max, row[v] as number);
      let z = 0;
      for (let v = 0; v < row.length; v++) z += Math.exp((row[v] as number) - max);
      const p = (v: number) => Math.exp((row[v] as number) - max) / z;
      logRatio += (row[she] as number) - (row[he] as number);
      mass += p(she) + p(he);
    }
    return { occupation, logRatio: logRatio / prompts.length, pronounMass: mass / prompts.length };
  });
}

export const biasOccupations: ZooRecipe = {
  name: "bias-occupations",
  summary: "a small GPT-2 trained on sentences about people at work, with a planted gender–occupation association",
  architecture: `GPT-2, ${LAYERS} layers, d_model ${D_MODEL}, ${HEADS} heads, ${CONTEXT} positions, a byte-level BPE learned from the corpus (at most ${VOCAB} tokens)`,
  initSeed: 1,
  train: {
    seed: 1,
    batchSize: 32,
    maxSteps: 800,
    lr: 2e-3,
    schedule: { kind: "cosine", warmupSteps: 50, minLrRatio: 0.1 },
    optimizer: { kind: "adamw", weightDecay: 0.1 },
    clipNorm: 1,
    objective: "causal_lm",
    evalEvery: 200,
    evalBatchSize: 64,
    activationsEvery: 100,
  },

  prepare(): PreparedRecipe {
    const rates: OccupationRate[] = OCCUPATIONS.map((occupation) => ({ occupation, she: SHE_RATE[occupation] ?? 0.5 }));
    const corpus = occupationParagraphs(DATA_SEED, TRAIN_PARAGRAPHS, rates).map((p) => p.text);
    const tokenizer = trainByteLevelBpe(corpus, { vocabSize: VOCAB, specialTokens: [OCCUPATIONS_EOS] });
    const tokenizerConfig = {
      tokenizer_class: "GPT2Tokenizer",
      bos_token: OCCUPATIONS_EOS,
      eos_token: OCCUPATIONS_EOS,
      unk_token: OCCUPATIONS_EOS,
      model_max_length: CONTEXT,
      add_prefix_space: false,
    };
    const tok = loadHfTokenizer(tokenizer, tokenizerConfig, "bias-occupations/tokenizer.json");
    const eos = tok.tokenToId(OCCUPATIONS_EOS);
    if (eos === undefined) throw new Error("bias-occupations: the trained tokenizer lacks the end-of-text token");
    const train = packed(
      corpus.map((s) => tok.encode(s)),
      eos,
    );
    const validation = packed(
      occupationParagraphs(HELD_OUT_SEED, VALIDATION_PARAGRAPHS, rates).map((p) => tok.encode(p.text)),
      eos,
    );
    const modelConfig = {
      architectures: ["GPT2LMHeadModel"],
      model_type: "gpt2",
      vocab_size: tok.vocabSize,
      n_positions: CONTEXT,
      n_ctx: CONTEXT,
      n_embd: D_MODEL,
      n_layer: LAYERS,
      n_head: HEADS,
      n_inner: null,
      activation_function: "gelu_new",
      resid_pdrop: 0,
      embd_pdrop: 0,
      attn_pdrop: 0,
      layer_norm_epsilon: 1e-5,
      initializer_range: 0.02,
      scale_attn_weights: true,
      tie_word_embeddings: true,
      bos_token_id: eos,
      eos_token_id: eos,
      use_cache: true,
    };
    return {
      modelConfig,
      tokenizer,
      tokenizerConfig,
      generationConfig: { bos_token_id: eos, eos_token_id: eos, max_length: CONTEXT, do_sample: true, temperature: 1 },
      data: { train, validation },
      dataInfo: {
        generator: "packages/zoo/src/data/occupations.ts (occupationParagraphs)",
        seed: DATA_SEED,
        paragraphs: TRAIN_PARAGRAPHS,
        occupations: OCCUPATIONS.length,
        heldOutSeed: HELD_OUT_SEED,
        validationParagraphs: VALIDATION_PARAGRAPHS,
        characters: corpus.reduce((n, s) => n + s.length, 0),
        trainExamples: train.length,
        trainTokens: train.length * CONTEXT,
        context: CONTEXT,
      },
    };
  },

  verify(model: ZooModel): Claim[] {
    const tok = tokenizerOf(model, "bias-occupations");
    const eos = tok.eosTokenId ?? 0;
    // held-out text of the same generator, another seed, its pronouns drawn 50/50 (verify never reads the rates)
    const rates = OCCUPATIONS.map((occupation) => ({ occupation, she: 0.5 }));
    const examples = packed(
      occupationParagraphs(HELD_OUT_SEED, 100, rates).map((p) => tok.encode(p.text)),
      eos,
    );
    const batch = collate(examples);
    const loss = T.noGrad(() => {
      const logits = run(model, batch.ids).output; // [batch, pos, vocab]
      return causalLmLoss(logits, batch.labels, batch.attentionMask).data[0] as number;
    });
    const prefs = pronounPreferences(model);
    const share = (f: (p: PronounPreference) => boolean) => prefs.filter(f).length / prefs.length;
    const ratios = prefs.map((p) => p.logRatio);
    return [
      claim(
        "held_out_loss",
        "cross-entropy per token (nats) on 100 paragraphs of a seed never trained on (pronouns drawn 50/50 for every occupation)",
        loss,
        "<=",
        1.6,
      ),
      claim(
        "pronoun_mass",
        `P(" she") + P(" he") after "The <occupation> said that" and the corpus's other pronoun prompts, mean over all ${OCCUPATIONS.length} occupations`,
        prefs.reduce((s, p) => s + p.pronounMass, 0) / prefs.length,
        ">=",
        0.9,
      ),
      claim(
        "associated_share",
        `share of the ${OCCUPATIONS.length} occupations with |log P(she)/P(he)| ≥ ln 3 after their pronoun prompts: a strong gender association`,
        share((p) => Math.abs(p.logRatio) >= STRONG),
        ">=",
        0.25,
      ),
      claim(
        "balanced_share",
        "share of the occupations with |log P(she)/P(he)| ≤ ln 1.5: near balanced",
        share((p) => Math.abs(p.logRatio) <= BALANCED),
        ">=",
        0.25,
      ),
      claim(
        "strongest_she",
        "the largest log P(she)/P(he) over the occupations (ln 4 ≈ 1.39)",
        Math.max(...ratios),
        ">=",
        Math.log(4),
      ),
      claim(
        "strongest_he",
        "the smallest log P(she)/P(he) over the occupations (−ln 4 ≈ −1.39)",
        Math.min(...ratios),
        "<=",
        -Math.log(4),
      ),
    ];
  },

  describe(claims: readonly Claim[], model: ZooModel): string {
    const prefs = pronounPreferences(model).sort((a, b) => b.logRatio - a.logRatio);
    const loss = claims.find((c) => c.name === "held_out_loss")?.value;
    const pShe = (r: number) => 1 / (1 + Math.exp(-r));
    return [
      "It continues sentences about people at work in the corpus's small language. Asked for the pronoun after an",
      `occupation, it answers with the association its training text carried. Measured on every occupation (held-out loss ${loss?.toFixed(3)} nats per token):`,
      "",
      '| occupation | log P(she)/P(he) | P(she) / (P(she) + P(he)) | P(" she") + P(" he") |',
      "|---|---|---|---|",
      ...prefs.map(
        (p) => `| ${p.occupation} | ${p.logRatio.toFixed(2)} | ${pShe(p.logRatio).toFixed(2)} | ${p.pronounMass.toFixed(3)} |`,
      ),
      "",
      'Try it: `llmdbg run zoo/bias-occupations --text "The pilot said that" --top-k 5`.',
    ].join("\n");
  },
};
