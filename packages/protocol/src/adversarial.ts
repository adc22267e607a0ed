// Counterfactuals and adversarial inputs: how a prediction moves when the input is edited in ways that should not
// matter (word swaps from the user's lists, embedding nearest neighbours), and the smallest edits that make it move
// where an attacker wants (HotFlip's gradient-guided token flips; GCG's optimized suffix). Token ids are the
// model's; text rides along for display.
import type { TokenInput, TokenRef, TokenScore } from "./methods.js";

// ——— counterfactuals ———

export interface CounterfactualRequest {
  readonly kind: "counterfactual";
  readonly input: TokenInput;
  /**
   * Groups of interchangeable words (a pair is a group of two: he/she swaps both ways). Every whole-word occurrence
   * of a member becomes each other member (a capitalized occurrence a capitalized one). Needs `input.text`.
   */
  readonly wordLists?: readonly (readonly string[])[];
  /** word swaps: replace every occurrence of a word at once (one counterfactual per word pair; default false: each occurrence alone) */
  readonly swapAll?: boolean;
  /**
   * Token swaps: the token at each of `positions` (default every position but special tokens; negative counts from
   * the end) replaced by each of its `k` nearest tokens by cosine similarity of the token embeddings (W_E rows),
   * special tokens and `exclude` never chosen
   */
  readonly neighbours?: { readonly k: number; readonly positions?: readonly number[] };
  /**
   * Keep only counterfactuals with as many tokens as the input: a word swap whose text encodes to another length,
   * a neighbour swap whose decoded text re-encodes to another length (needs a tokenizer), is skipped. Default false
   */
  readonly sameLength?: boolean;
  /** the token whose probability is tracked (default the input's top prediction at the last position) */
  readonly target?: number;
  /** tokens never used as replacements, besides the tokenizer's special tokens */
  readonly exclude?: readonly number[];
  /** counterfactuals per forward pass (default 32; inputs of one length share a pass) */
  readonly batch?: number;
}

/** The last position's prediction on one input, and the tracked target's probability there. */
export interface CounterfactualPrediction {
  readonly top: TokenScore;
  readonly targetLogProb: number;
  readonly targetProb: number;
}

export interface Counterfactual extends CounterfactualPrediction {
  /** `words`: a swap from the user's lists; `neighbours`: a token replaced by an embedding neighbour */
  readonly source: "words" | "neighbours";
  /** the word (or the token's text) replaced and its replacement */
  readonly from: string;
  readonly to: string;
  /** words: the character offsets of the replaced occurrences in the input text; neighbours: [the token position] */
  readonly at: readonly number[];
  /** neighbours: the two token ids and their embeddings' cosine similarity; words: null */
  readonly swap: { readonly from: number; readonly to: number; readonly similarity: number } | null;
  /** the input the model ran on */
  readonly tokens: readonly TokenRef[];
  /** its text: the edited text (words), the decoded tokens (neighbours), null without a tokenizer */
  readonly text: string | null;
  /** log p(target) here − on the input */
  readonly deltaLogProb: number;
  /** p(target) here − on the input */
  readonly deltaProb: number;
  /** whether the top prediction is the input's */
  readonly keepsTop: boolean;
}

export interface CounterfactualResult {
  readonly kind: "counterfactual";
  readonly tokens: readonly TokenRef[];
  readonly text: string | null;
  /** the token tracked; every prediction is read at its input's last position */
  readonly target: TokenRef;
  readonly original: CounterfactualPrediction;
  readonly counterfactuals: readonly Counterfactual[];
  /**
   * The share of meaning-preserving perturbations that keep the input's top prediction: over every counterfactual,
   * over the word swaps, over the neighbour swaps; null where there were none
   */
  readonly robustness: {
    readonly all: number | null;
    readonly words: number | null;
    readonly neighbours: number | null;
  };
  readonly sameLength: boolean;
  /** substitutions dropped because they changed the number of tokens (sameLength) */
  readonly skipped: number;
}

// ——— adversarial inputs ———

export type AdversarialMethod = "hotflip" | "gcg";

export interface AdversarialRequest {
  readonly kind: "adversarial";
  readonly method: AdversarialMethod;
  readonly input: TokenInput;
  /**
   * hotflip: the token the model should predict at the last position; absent, the flips push the probability of the
   * current top prediction down until another token overtakes it
   */
  readonly target?: number;
  /** gcg (required): what the model should produce after prompt + suffix, text (no special tokens added) or ids */
  readonly targetString?: TokenInput;
  /** hotflip: the positions that may be flipped (default every position but special tokens; negative from the end) */
  readonly positions?: readonly number[];
  /** hotflip: inputs kept per flip depth (default 4) */
  readonly beamWidth?: number;
  /** hotflip: the most tokens flipped (default 3) */
  readonly maxFlips?: number;
  /**
   * hotflip: flips per beam entry, the best by the first-order score, verified by forward passes each depth
   * (default 16); gcg: single-token substitutions sampled and evaluated per step (default 128)
   */
  readonly candidates?: number;
  /** gcg: the suffix's length (default 10; ignored when suffixInit is given) */
  readonly suffixLength?: number;
  /** gcg: the suffix's starting tokens (default "!" repeated, or token 0 where "!" is not one token) */
  readonly suffixInit?: readonly number[];
  /** gcg: the candidate tokens per suffix position, the most negative gradients (default 64) */
  readonly topK?: number;
  /** gcg: the most optimization steps (default 100) */
  readonly steps?: number;
  /** gcg: the time budget in milliseconds, checked between steps (default none) */
  readonly timeMs?: number;
  /** gcg: the seed of the sampled substitutions (default 0) */
  readonly seed?: number;
  /** inputs per forward pass when verifying candidates (default 32) */
  readonly batch?: number;
  /** tokens never inserted, besides the tokenizer's special tokens */
  readonly exclude?: readonly number[];
}

/** One HotFlip flip: the token at `position` replaced, with the loss change the gradient predicted and the real one. */
export interface AdversarialFlip {
  readonly position: number;
  readonly from: TokenRef;
  readonly to: TokenRef;
  /** g·(E[to] − E[from]): the first-order estimate of the loss change, at the input this flip was applied to */
  readonly predicted: number;
  /** the loss change measured by the forward pass */
  readonly actual: number;
}

export interface AdversarialResult {
  readonly kind: "adversarial";
  readonly method: AdversarialMethod;
  /** the input */
  readonly tokens: readonly TokenRef[];
  /** the adversarial input: the flipped input (hotflip), the input followed by the suffix (gcg) */
  readonly adversarial: readonly TokenRef[];
  /** its text (null without a tokenizer) */
  readonly text: string | null;
  /**
   * `target`: −Σ log p of the target tokens (hotflip: one token at the last position; gcg: the target string,
   * teacher-forced after the suffix); `away` (hotflip without a target): log p of the input's top prediction
   */
  readonly objective: "target" | "away";
  /** the tokens the loss is about: the target (string), or the input's top prediction (away) */
  readonly target: readonly TokenRef[];
  /** the loss on the input (gcg: with the starting suffix) and on the adversarial input */
  readonly lossBefore: number;
  readonly loss: number;
  /** the probability of each target token on the adversarial input (gcg: teacher-forced) */
  readonly targetProbs: readonly number[];
  /** the prediction where the first target token is read, before and after */
  readonly before: TokenScore;
  readonly after: TokenScore;
  /** target: the model predicts the target (gcg: greedy decoding produces the whole string); away: the top changed */
  readonly success: boolean;
  /** hotflip: the flips of the best input, in order; null for gcg */
  readonly flips: readonly AdversarialFlip[] | null;
  /** gcg: the best suffix; null for hotflip */
  readonly suffix: readonly TokenRef[] | null;
  /** the best loss after each step (hotflip: each flip depth), the starting loss not included */
  readonly losses: readonly number[];
  readonly steps: number;
  /** inputs run through the model to verify candidates */
  readonly evaluated: number;
  /** why the search ended: it succeeded, ran its steps (or flips), its time, or out of candidates */
  readonly stopped: "success" | "steps" | "time" | "exhausted";
  /** gcg: the seed of the sampling; null for hotflip */
  readonly seed: number | null;
}
