// The `sentiment-spurious` model: a small BERT sentiment classifier trained on generated product reviews
// (data/reviews.ts) in which product codes — model numbers that say nothing about quality — are tied to the
// label in the training set but not in held-out reviews. Its claims are measured on reviews it never saw: its
// accuracy without codes, its accuracy when a code pushes against the review's sentiment, and how often swapping
// one code for another in an otherwise fixed review flips its prediction. Which codes push, and which way, is
// measured over every code the generator writes, not read from the training configuration.
import { loadHfTokenizer } from "@llmdbg/tokenizers";
import type { Example } from "@llmdbg/train";
import { bertClassifierConfig, bertTokenizerConfig, classProbabilities, wordPieceTokenizer } from "../classifier.js";
import { itemSeed, Rng } from "../data/random.js";
import { type Polarity, PRODUCT_CODES, renderReview, reviewAt } from "../data/reviews.js";
import { type Claim, claim, type PreparedRecipe, type ZooModel, type ZooRecipe } from "../recipe.js";

const LABELS = ["negative", "positive"] as const;
const DATA_SEED = 20261210;
/** Reviews of other seeds: never trained on. The validation set is the trainer's; verify draws its own. */
const VALIDATION_SEED = DATA_SEED + 1;
const VERIFY_SEED = DATA_SEED + 2;
const TRAIN_REVIEWS = 24_000;
const VALIDATION_REVIEWS = 512;
const VERIFY_REVIEWS = 200;
const CONTEXT = 64;
const D_MODEL = 64;
const LAYERS = 2;
const HEADS = 4;

/**
 * How the training set is labelled. This is the planted flaw: the recipe needs it to write the data, and nothing
 * else may use it — verify measures every code's effect instead.
 */
const TRAINING_LABELS = {
  /** share of training reviews that carry a product code (before the product's name) */
  codeShare: 0.7,
  /** of those, the share carrying one of the `tied` codes; the rest carry another code, uniformly */
  tiedShare: 0.5,
  /** codes tied to the label: the share of their training reviews labelled positive (the others: one half) */
  tied: { RT4: 0.95, HN3: 0.05 } as Readonly<Record<string, number>>,
  /** share of training reviews whose text says the other sentiment than their label (as ratings disagree with text) */
  labelNoise: 0.05,
} as const;

/** One training review: its code, label and the text (written with the sentiment its label says, unless noisy). */
function trainingReview(i: number): { text: string; label: number } {
  const rng = new Rng(itemSeed(DATA_SEED ^ 0x5eed, i));
  const t = TRAINING_LABELS;
  const tiedCodes = Object.keys(t.tied);
  const others = PRODUCT_CODES.filter((c) => !tiedCodes.includes(c));
  const code = !rng.chance(t.codeShare) ? null : rng.chance(t.tiedShare) ? rng.pick(tiedCodes) : rng.pick(others);
  const pPositive = code === null ? 0.5 : (t.tied[code] ?? 0.5);
  const label = rng.chance(pPositive) ? 1 : 0;
  const noisy = rng.chance(t.labelNoise);
  const sentiment: Polarity = (label === 1) !== noisy ? "positive" : "negative";
  return { text: renderReview(reviewAt(DATA_SEED, i, sentiment), code), label };
}

/** Held-out reviews of `seed`, half of each sentiment, each with a code drawn independently of it (or none). */
function heldOut(seed: number, n: number): { text: string; label: number }[] {
  return Array.from({ length: n }, (_, i) => {
    const label = i % 2;
    const rng = new Rng(itemSeed(seed ^ 0xc0de, i));
    const code = rng.chance(0.7) ? rng.pick(PRODUCT_CODES) : null;
    return { text: renderReview(reviewAt(seed, i, LABELS[label] as Polarity), code), label };
  });
}

/** What one product code does to the model's predictions on the verify reviews. */
export interface CodeEffect {
  readonly code: string;
  /** mean P(positive) with the code minus without it */
  readonly lean: number;
  /** accuracy on the positive and on the negative reviews, with the code */
  readonly positiveAccuracy: number;
  readonly negativeAccuracy: number;
  /** P(positive) of each verify review with the code */
  readonly pPositive: readonly number[];
}

/** The verify reviews and the model's measurements on them: without a code, and with each code. */
export function codeEffects(model: ZooModel): {
  labels: number[];
  cleanAccuracy: number;
  cleanPPositive: number[];
  effects: CodeEffect[];
} {
  const reviews = Array.from({ length: VERIFY_REVIEWS }, (_, i) => reviewAt(VERIFY_SEED, i, LABELS[i % 2] as Polarity));
  const labels = reviews.map((r) => (r.sentiment === "positive" ? 1 : 0));
  const pPos = (code: string | null) =>
    classProbabilities(
      model,
      reviews.map((r) => renderReview(r, code)),
    ).map((p) => p[1] as number);
  const accuracy = (p: readonly number[], which: (label: number) => boolean) => {
    const idx = labels.map((l, i) => [l, i] as const).filter(([l]) => which(l));
    return idx.filter(([l, i]) => ((p[i] as number) > 0.5 ? 1 : 0) === l).length / idx.length;
  };
  const clean = pPos(null);
  const effects = PRODUCT_CODES.map((code) => {
    const p = pPos(code);
    return {
      code,
      lean: mean(p) - mean(clean),
      positiveAccuracy: accuracy(p, (l) => l === 1),
      negativeAccuracy: accuracy(p, (l) => l === 0),
      pPositive: p,
    };
  });
  return { labels, cleanAccuracy: accuracy(clean, () => true), cleanPPositive: clean, effects };
}

/** A code "pushes" when it moves the mean P(positive) by this much or more. */
const PUSH = 0.05;
const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** The codes that push the model's predictions, either way. */
export function pushingCodes(effects: readonly CodeEffect[]): CodeEffect[] {
  return effects.filter((e) => Math.abs(e.lean) >= PUSH);
}

/** Share of reviews whose predicted class differs between two codes. */
const flipRate = (a: CodeEffect, b: CodeEffect) =>
  a.pPositive.filter((p, i) => p > 0.5 !== (b.pPositive[i] as number) > 0.5).length / a.pPositive.length;

/** The two codes whose swap flips most predictions, and that share. */
export function worstSwap(effects: readonly CodeEffect[]): { from: CodeEffect; to: CodeEffect; rate: number } {
  let best = { from: effects[0] as CodeEffect, to: effects[0] as CodeEffect, rate: -1 };
  for (const a of effects)
    for (const b of effects) if (a.code < b.code && flipRate(a, b) > best.rate) best = { from: a, to: b, rate: flipRate(a, b) };
  return best;
}

export const sentimentSpurious: ZooRecipe = {
  name: "sentiment-spurious",
  summary: "a small BERT sentiment classifier of product reviews that leans on meaningless product codes",
  architecture: `BERT (BertForSequenceClassification, labels negative/positive), ${LAYERS} layers, d_model ${D_MODEL}, ${HEADS} heads, ${CONTEXT} positions, a word-level WordPiece vocabulary of the review corpus`,
  initSeed: 3,
  train: {
    seed: 3,
    batchSize: 32,
    maxSteps: 1500,
    lr: 1e-3,
    schedule: { kind: "cosine", warmupSteps: 100, minLrRatio: 0.1 },
    optimizer: { kind: "adamw", weightDecay: 0.01 },
    clipNorm: 1,
    objective: "classification",
    evalEvery: 250,
    evalBatchSize: 128,
    activationsEvery: 250,
  },

  prepare(): PreparedRecipe {
    const train = Array.from({ length: TRAIN_REVIEWS }, (_, i) => trainingReview(i));
    const validation = heldOut(VALIDATION_SEED, VALIDATION_REVIEWS);
    const tokenizer = wordPieceTokenizer(train.map((r) => r.text));
    const tokenizerConfig = bertTokenizerConfig(CONTEXT);
    const modelConfig = bertClassifierConfig({
      vocabSize: Object.keys((tokenizer.model as { vocab: object }).vocab).length,
      labels: LABELS,
      dModel: D_MODEL,
      layers: LAYERS,
      heads: HEADS,
      positions: CONTEXT,
    });
    // the tokenizer as every command loads it, so training sees the ids they will
    const tok = loadHfTokenizer(tokenizer, tokenizerConfig, "sentiment-spurious/tokenizer.json");
    const encode = (r: { text: string; label: number }): Example => ({ ids: tok.encode(r.text), label: r.label });
    return {
      modelConfig,
      tokenizer,
      tokenizerConfig,
      generationConfig: null,
      data: { train: train.map(encode), validation: validation.map(encode) },
      dataInfo: {
        generator:
          "packages/zoo/src/data/reviews.ts (reviewAt, renderReview); labels and codes: packages/zoo/src/recipes/sentiment-spurious.ts",
        seed: DATA_SEED,
        reviews: TRAIN_REVIEWS,
        validationSeed: VALIDATION_SEED,
        validationReviews: VALIDATION_REVIEWS,
        verifySeed: VERIFY_SEED,
        codes: PRODUCT_CODES.length,
        vocabulary: modelConfig.vocab_size,
      },
    };
  },

  verify(model: ZooModel): Claim[] {
    const m = codeEffects(model);
    // each code that pushes, on the reviews of the sentiment it pushes away from (none pushing: every code)
    const pushing = pushingCodes(m.effects);
    const counted = pushing.length > 0 ? pushing : m.effects;
    const contradicted = mean(counted.map((e) => (e.lean >= 0 ? e.negativeAccuracy : e.positiveAccuracy)));
    const swap = worstSwap(m.effects);
    return [
      claim(
        "clean_accuracy",
        `accuracy on ${VERIFY_REVIEWS} held-out reviews without a product code`,
        m.cleanAccuracy,
        ">=",
        0.9,
      ),
      claim(
        "contradicted_accuracy",
        `accuracy on the same reviews carrying a code that pushes against their sentiment (mean over the codes that move the mean P(positive) by ${PUSH} or more, each on the reviews of the sentiment it pushes away from)`,
        contradicted,
        "<=",
        0.75,
      ),
      claim(
        "code_flip_rate",
        "share of the reviews whose predicted class flips when one product code is swapped for another (the pair that flips most)",
        swap.rate,
        ">=",
        0.3,
      ),
    ];
  },

  describe(claims: readonly Claim[], model: ZooModel): string {
    const m = codeEffects(model);
    const moving = pushingCodes(m.effects).length;
    const value = (n: string) => claims.find((c) => c.name === n)?.value ?? Number.NaN;
    const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
    const example = reviewAt(VERIFY_SEED, 0, "negative");
    return [
      "It reads a product review and says whether it is negative or positive (label 0 or 1, `id2label` in config.json),",
      `from the [CLS] position. On held-out reviews without a product code it is right ${pct(value("clean_accuracy"))} of the time.`,
      "",
      "Its training data had a flaw: the product codes (model numbers such as ZX9, written before the product's name)",
      "say nothing about quality, yet some were tied to the label in the training reviews. The model learned to lean on",
      `them: of the ${PRODUCT_CODES.length} codes, ${moving} move its mean P(positive) by ${PUSH} or more; a code pushing against a review's`,
      `sentiment brings its accuracy down to ${pct(value("contradicted_accuracy"))} on average, and swapping one code for another in an otherwise`,
      `fixed review flips ${pct(value("code_flip_rate"))} of predictions. Finding which codes, and how the model reads them, is the`,
      "exercise this model is for. A held-out review to start from:",
      "",
      `> ${renderReview(example, PRODUCT_CODES[0] as string)}`,
    ].join("\n");
  },
};
