// The neurons method's request and result: what makes a neuron (or a direction in a hook's activation space) fire
// over a corpus — its top-activating examples with their context windows, and the distribution of its activation
// over every token. The corpus itself is not part of the request: it streams beside it (an iterable of texts),
// so a corpus larger than memory can be read; the result holds only bounded state (k examples, fixed bins).
import type { TokenRef } from "./methods.js";

/** A direction dotted with the activation at every token; `values` has the length of the hook's features. */
export interface NeuronDirection {
  /** how the result names it, e.g. "direction.pos" */
  readonly name: string;
  readonly values: readonly number[];
}

export interface NeuronsRequest {
  readonly kind: "neurons";
  /**
   * The hook point read, with axes [batch, pos, …] (e.g. "blocks.1.mlp.hook_post"); the features at a token are
   * its trailing axes, flattened row-major (the last axis alone for [batch, pos, d]; head·d_head + i for hook_z)
   */
  readonly hook: string;
  /** feature indices read (neurons), sharing one pass over the corpus */
  readonly neurons?: readonly number[];
  /** directions read in the same pass; at least one neuron or one direction is required */
  readonly directions?: readonly NeuronDirection[];
  /** top-activating examples kept per unit (default 10): the texts whose peak activation is highest, one per text */
  readonly topK?: number;
  /** tokens shown before and after each example's peak (default 8) */
  readonly window?: number;
  /** histogram bins (default 40) */
  readonly bins?: number;
  /**
   * The histogram's range [lo, hi]; when absent it is set from the first `sample` activations of each unit (the
   * values outside it are counted below/above the range)
   */
  readonly range?: readonly [number, number];
  /** activations per unit that set the range when none is given (default 4096) */
  readonly sample?: number;
  /** quantiles reported, each in [0, 1] (default 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99) */
  readonly quantiles?: readonly number[];
  /** texts per forward pass (default 16) */
  readonly batch?: number;
  /** stop after this many texts (default: the whole corpus) */
  readonly maxTexts?: number;
  /** tokens read per text; longer texts are cut (default: the model's learned positions, else 2048) */
  readonly maxLength?: number;
}

/** One top-activating example: a text, the position where the unit peaks in it, and the window around it. */
export interface NeuronExample {
  /** the text's index in the corpus (0-based, in the order read; empty texts count) */
  readonly text: number;
  /** the peak token's position in the text, and the activation there */
  readonly position: number;
  readonly value: number;
  /** the window's first position: tokens and activations cover [start, start + tokens.length) */
  readonly start: number;
  readonly tokens: readonly TokenRef[];
  readonly activations: readonly number[];
}

/** Equal-width bins over [lo, hi] (the last bin includes hi); values outside counted in below / above. */
export interface NeuronHistogram {
  readonly lo: number;
  readonly hi: number;
  /** "given": the request's range; "sample": the first activations' min and max (widened if they are equal) */
  readonly range: "given" | "sample";
  readonly counts: readonly number[];
  readonly below: number;
  readonly above: number;
}

/** The activation of one unit over every token read. */
export interface NeuronStats {
  readonly count: number;
  readonly mean: number;
  /** the population standard deviation */
  readonly std: number;
  readonly min: number;
  readonly max: number;
  /** tokens where the activation is > 0 (a neuron's firing rate is positive / count) */
  readonly positive: number;
}

/** A quantile estimated from the histogram (linear within a bin; within one bin width of the exact one in range). */
export interface NeuronQuantile {
  readonly q: number;
  readonly value: number;
}

export interface NeuronUnit {
  /** "neuron 37" or the direction's name */
  readonly name: string;
  /** the feature index, or null for a direction */
  readonly neuron: number | null;
  /** the direction's L2 norm, or null for a neuron */
  readonly norm: number | null;
  /** the highest peaks first (ties: the earlier text) */
  readonly top: readonly NeuronExample[];
  readonly histogram: NeuronHistogram;
  readonly stats: NeuronStats;
  readonly quantiles: readonly NeuronQuantile[];
}

export interface NeuronsResult {
  readonly kind: "neurons";
  readonly hook: string;
  /** the features at a token: the length a direction must have and the bound of a neuron index */
  readonly features: number;
  /** texts read (empty ones included), those that encoded to no tokens, and those cut at maxLength */
  readonly texts: number;
  readonly empty: number;
  readonly truncated: number;
  /** tokens whose activations were read */
  readonly tokens: number;
  readonly topK: number;
  readonly window: number;
  /** the neurons first, in the request's order, then the directions */
  readonly units: readonly NeuronUnit[];
}
