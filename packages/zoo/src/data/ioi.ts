// The ioi-small corpus: indirect-object sentences in the style of Wang et al. (2022), "When Mary and John went to
// the store, John gave a drink to" → " Mary", mixed with filler sentences from the same words, so that a small
// GPT must find the one name of the pair that is not repeated. Two orders (ABBA: the subject is the second name;
// BABA: the first) and several templates. Names come in pairs: the held-out pairs never occur together in
// training (each of their names does, with other names), so the test of the model is the mechanism, not memory.
import { itemSeed, Rng } from "./random.js";

/** Names that byte-level BPE trained on this corpus keeps as one token each (with their leading space). */
export const IOI_NAMES: readonly string[] = [
  "Mary",
  "John",
  "Anna",
  "Tom",
  "Lucy",
  "Sam",
  "Emma",
  "Ben",
  "Kate",
  "Jack",
  "Lily",
  "Max",
  "Sara",
  "Paul",
  "Nina",
  "Dan",
  "Rose",
  "Mark",
  "Amy",
  "Leo",
  "Ella",
  "Ryan",
  "Mia",
  "Adam",
];

const PLACES = ["store", "park", "school", "garden", "beach", "library", "market", "station", "lake", "farm"];
// none starts with a vowel: every template writes "a {O}"
const OBJECTS = ["drink", "book", "ball", "pear", "letter", "flower", "cake", "ring", "kite", "hat"];

/** Templates: {A} and {B} are the pair, {S} the subject (one of them, named again), {P} a place, {O} an object. */
const TEMPLATES: readonly string[] = [
  "When {A} and {B} went to the {P}, {S} gave a {O} to",
  "After {A} and {B} went to the {P}, {S} gave a {O} to",
  "When {A} and {B} got a {O} at the {P}, {S} decided to give it to",
  "While {A} and {B} were working at the {P}, {S} gave a {O} to",
  "Then, {A} and {B} had a lot of fun at the {P}. {S} gave a {O} to",
  "Friends {A} and {B} found a {O} at the {P}. {S} gave it to",
];

const FILLER: readonly string[] = [
  "{A} went to the {P}.",
  "The {O} was at the {P}.",
  "{A} and {B} like the {P}.",
  "{A} found a {O}.",
  "It was a nice day at the {P}.",
  "{A} had a {O} and a {O2}.",
];

/** One IOI prompt: the text up to the answer, the indirect object (the answer) and the subject (the foil). */
export interface IoiItem {
  readonly prompt: string;
  /** the name the sentence ends with (" " + io follows the prompt) */
  readonly io: string;
  /** the repeated name */
  readonly s: string;
  readonly order: "ABBA" | "BABA";
  readonly template: number;
}

/**
 * The unordered pairs of names, split: every `heldOutEvery`-th pair (in a fixed order) is held out of training.
 * Each name is in many pairs of both kinds.
 */
export function namePairs(heldOutEvery = 5): { train: [string, string][]; heldOut: [string, string][] } {
  const train: [string, string][] = [];
  const heldOut: [string, string][] = [];
  let k = 0;
  for (let i = 0; i < IOI_NAMES.length; i++)
    for (let j = i + 1; j < IOI_NAMES.length; j++) {
      const pair: [string, string] = [IOI_NAMES[i] as string, IOI_NAMES[j] as string];
      (k++ % heldOutEvery === 0 ? heldOut : train).push(pair);
    }
  return { train, heldOut };
}

function fill(t: string, v: Record<string, string>): string {
  return t.replace(/\{(A|B|S|P|O2|O)\}/g, (_, k: string) => v[k] as string);
}

/** IOI item `index` of `seed` drawn from `pairs`. */
export function ioiItem(seed: number, index: number, pairs: readonly (readonly [string, string])[]): IoiItem {
  const rng = new Rng(itemSeed(seed, index));
  const pair = rng.pick(pairs);
  const [a, b] = rng.chance(0.5) ? [pair[0], pair[1]] : [pair[1], pair[0]];
  // ABBA: the subject is B, the answer A; BABA: the subject is A, the answer B
  const order = rng.chance(0.5) ? "ABBA" : "BABA";
  const s = order === "ABBA" ? b : a;
  const io = order === "ABBA" ? a : b;
  const template = rng.int(TEMPLATES.length);
  const prompt = fill(TEMPLATES[template] as string, { A: a, B: b, S: s, P: rng.pick(PLACES), O: rng.pick(OBJECTS) });
  return { prompt, io, s, order, template };
}

/**
 * Training text item `index`: an IOI sentence with its answer (70%), or two filler sentences (30%), over the
 * training pairs' names.
 */
export function ioiTrainingText(seed: number, index: number, pairs: readonly (readonly [string, string])[]): string {
  const rng = new Rng(itemSeed(seed ^ 0x5bd1e995, index));
  if (rng.chance(0.7)) {
    const it = ioiItem(seed, index, pairs);
    return `${it.prompt} ${it.io}.`;
  }
  const one = () => {
    const [a, b] = rng.pick(pairs);
    const o = rng.pick(OBJECTS);
    return fill(rng.pick(FILLER), { A: a, B: b, P: rng.pick(PLACES), O: o, O2: rng.pickOther(OBJECTS, [o]) });
  };
  return `${one()} ${one()}`;
}
