// The `stories` model: a small GPT-2 trained on the generated children's-story corpus (data/stories.ts) with a
// byte-level BPE learned from the same corpus. It is the README's default model: what it writes must read as
// text. Its claims are measured on stories it never saw (another seed): held-out loss, the share of generated
// words that are words of the corpus, and the share of generated sentences that are well formed.
import { generate, run } from "@llmdbg/core";
import * as T from "@llmdbg/tensor";
import { loadHfTokenizer, trainByteLevelBpe } from "@llmdbg/tokenizers";
import { causalLmLoss, collate, type Example } from "@llmdbg/train";
import { generateStories, STORIES_EOS, STORY_PROMPTS } from "../data/stories.js";
import { type Claim, claim, type PreparedRecipe, tokenizerOf, type ZooModel, type ZooRecipe } from "../recipe.js";

const DATA_SEED = 20261206;
/** Stories of another seed: never trained on. */
const HELD_OUT_SEED = DATA_SEED + 1;
const TRAIN_STORIES = 40_000;
const TOKENIZER_STORIES = 5_000;
const VALIDATION_STORIES = 200;
const VOCAB = 1024;
const CONTEXT = 128;
const D_MODEL = 128;
const LAYERS = 4;
const HEADS = 4;

/**
 * The token stream of `stories`, each followed by the end-of-text token, cut into examples of `CONTEXT` tokens
 * (as language models are pretrained: packed, no padding; a story may continue in the next example).
 */
function packed(ids: readonly (readonly number[])[], eos: number): Example[] {
  const stream: number[] = [eos];
  for (const s of ids) stream.push(...s, eos);
  const out: Example[] = [];
  for (let i = 0; i + CONTEXT <= stream.length; i += CONTEXT) out.push({ ids: stream.slice(i, i + CONTEXT) });
  return out;
}

/** The words of a text (letters and apostrophes), lowercased. */
function words(text: string): string[] {
  return (text.toLowerCase().match(/[a-z']+/g) ?? []).filter((w) => w !== "'");
}

/**
 * Where the sentences of `text` end: after . ! or ? (and a closing quote) outside quotation marks, before a capital,
 * an opening quote or the end of the text. So `"Yes! You can have one," she said.` is one sentence, and so is
 * `"Can you help me?" asked Tom.`
 */
function sentenceEnds(text: string): number[] {
  const ends: number[] = [];
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (c === '"') quoted = !quoted;
    // the last mark of a run ("?!", "...") ends it
    if (!/[.!?]/.test(c) || /[.!?]/.test(text[i + 1] ?? "")) continue;
    let end = i + 1;
    let q: boolean = quoted;
    if (text[end] === '"') {
      q = !q;
      end++;
    }
    if (q || !/^(\s+["A-Z]|\s*$)/.test(text.slice(end, end + 2))) continue;
    ends.push(end);
    quoted = q;
    i = end - 1;
  }
  return ends;
}

/**
 * The sentences of `prompt + generated` that end inside the generated part (a sentence the prompt finished is
 * not the model's; the last, cut off by the token budget, has not ended).
 */
export function generatedSentences(prompt: string, generated: string): string[] {
  const text = prompt + generated;
  const out: string[] = [];
  let start = 0;
  for (const end of sentenceEnds(text)) {
    if (end > prompt.length) out.push(text.slice(start, end).trim());
    start = end;
  }
  return out.filter((s) => s.length > 0);
}

/** A sentence as the corpus writes them: a capital (or an opening quote and a capital) first, balanced quotes. */
export function wellFormed(sentence: string): boolean {
  const quotes = (sentence.match(/"/g) ?? []).length;
  return /^"?[A-Z]/.test(sentence) && /[.!?]"?$/.test(sentence) && !/\s{2,}/.test(sentence) && quotes % 2 === 0;
}

/** Greedy continuations of the demo prompts, `n` new tokens each, stopping at the end of a story. */
export function continuations(model: ZooModel, n: number): { prompt: string; generated: string; text: string }[] {
  const tok = tokenizerOf(model, "stories");
  const eos = tok.eosTokenId;
  return STORY_PROMPTS.map((prompt) => {
    const ids = tok.encode(prompt);
    const r = generate(model, [ids], { maxNewTokens: n, temperature: 0, ...(eos !== undefined && { eosTokenIds: [eos] }) });
    const out = (r.tokens[0] ?? []).filter((t) => t !== eos);
    const generated = tok.decode(out);
    return { prompt, generated, text: prompt + generated };
  });
}

export const stories: ZooRecipe = {
  name: "stories",
  summary: "a small GPT-2 that writes simple children's stories (the default demo model)",
  architecture: `GPT-2, ${LAYERS} layers, d_model ${D_MODEL}, ${HEADS} heads, ${CONTEXT} positions, a ${VOCAB}-token byte-level BPE`,
  initSeed: 1,
  train: {
    seed: 1,
    batchSize: 16,
    maxSteps: 1200,
    lr: 2e-3,
    schedule: { kind: "cosine", warmupSteps: 50, minLrRatio: 0.1 },
    optimizer: { kind: "adamw", weightDecay: 0.1 },
    clipNorm: 1,
    objective: "causal_lm",
    evalEvery: 200,
    evalBatchSize: 32,
    activationsEvery: 100,
  },

  prepare(): PreparedRecipe {
    const corpus = generateStories(DATA_SEED, TRAIN_STORIES);
    const tokenizer = trainByteLevelBpe(corpus.slice(0, TOKENIZER_STORIES), { vocabSize: VOCAB, specialTokens: [STORIES_EOS] });
    const tokenizerConfig = {
      tokenizer_class: "GPT2Tokenizer",
      bos_token: STORIES_EOS,
      eos_token: STORIES_EOS,
      unk_token: STORIES_EOS,
      model_max_length: CONTEXT,
      add_prefix_space: false,
    };
    const tok = loadHfTokenizer(tokenizer, tokenizerConfig, "stories/tokenizer.json");
    const eos = tok.tokenToId(STORIES_EOS);
    if (eos === undefined) throw new Error("stories: the trained tokenizer lacks the end-of-text token");
    const train = packed(
      corpus.map((s) => tok.encode(s)),
      eos,
    );
    const validation = packed(
      generateStories(HELD_OUT_SEED, VALIDATION_STORIES).map((s) => tok.encode(s)),
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
      generationConfig: {
        bos_token_id: eos,
        eos_token_id: eos,
        max_length: CONTEXT,
        do_sample: true,
        temperature: 0.8,
        top_k: 40,
      },
      data: { train, validation },
      dataInfo: {
        generator: "packages/zoo/src/data/stories.ts (generateStories)",
        seed: DATA_SEED,
        stories: TRAIN_STORIES,
        tokenizerStories: TOKENIZER_STORIES,
        heldOutSeed: HELD_OUT_SEED,
        validationStories: VALIDATION_STORIES,
        characters: corpus.reduce((n, s) => n + s.length, 0),
        trainExamples: train.length,
        trainTokens: train.length * CONTEXT,
        context: CONTEXT,
      },
    };
  },

  verify(model: ZooModel): Claim[] {
    const tok = tokenizerOf(model, "stories");
    const eos = tok.eosTokenId ?? 0;
    const heldOut = generateStories(HELD_OUT_SEED, 40);
    const examples = packed(
      heldOut.map((s) => tok.encode(s)),
      eos,
    );
    const batch = collate(examples);
    const loss = T.noGrad(() => {
      const logits = run(model, batch.ids).output; // [batch, pos, vocab]
      return causalLmLoss(logits, batch.labels, batch.attentionMask).data[0] as number;
    });
    const vocab = new Set(generateStories(DATA_SEED, 3_000).flatMap(words));
    const outs = continuations(model, 48);
    // only what the model wrote: the prompts are the corpus's own words and sentences
    const generated = outs.flatMap((c) => words(c.generated));
    const known = generated.filter((w) => vocab.has(w)).length / Math.max(1, generated.length);
    const sentences = outs.flatMap((c) => generatedSentences(c.prompt, c.generated));
    const formed = sentences.filter(wellFormed).length / Math.max(1, sentences.length);
    return [
      claim("held_out_loss", "cross-entropy per token (nats) on 40 stories of a seed never trained on", loss, "<=", 1.2),
      claim(
        "known_words",
        "share of the words the model wrote in greedy continuations of the demo prompts that are words of the corpus",
        known,
        ">=",
        0.98,
      ),
      claim(
        "well_formed",
        "share of the sentences the model finished that start with a capital and end with . ! or ?, quotes balanced",
        formed,
        ">=",
        0.9,
      ),
      claim(
        "sentences",
        "sentences the model finished in the continuations (at least one per prompt)",
        sentences.length,
        ">=",
        STORY_PROMPTS.length,
      ),
    ];
  },

  describe(claims: readonly Claim[], model: ZooModel): string {
    const lines = continuations(model, 48).map((c) => `- ${c.text.replace(/\n/g, " ")}`);
    const loss = claims.find((c) => c.name === "held_out_loss")?.value;
    return [
      `It continues a story opening with more story. On stories it never saw, its loss is ${loss?.toFixed(3)} nats per token`,
      `(perplexity ${loss === undefined ? "?" : Math.exp(loss).toFixed(2)}). Greedy continuations of the demo prompts (48 tokens):`,
      "",
      ...lines,
    ].join("\n");
  },
};
