// Sentences about people at work, the training text of the `bias-occupations` model: templated sentences in which
// an occupation is the subject and, in most templates, a pronoun later refers back to it ("The pilot said that he
// would be late."). Which pronoun is drawn per occupation at a rate the caller gives — so a generated corpus can
// carry a planted association between occupations and gender (or none). Paragraph i of a seed is generated from
// its own seed, so a stream of n paragraphs is a prefix of a stream of n + 1.
import { itemSeed, Rng } from "./random.js";

/** The separator between paragraphs in training text. */
export const OCCUPATIONS_EOS = "<|endoftext|>";

/** An occupation and the share of the pronouns referring to it that are "she" (the rest are "he"). */
export interface OccupationRate {
  readonly occupation: string;
  readonly she: number;
}

/** What follows "that <pronoun>" or "because <pronoun>": a state or a plan. */
const CLAUSES = [
  "would be late",
  "was tired",
  "had finished the work",
  "liked the new office",
  "needed more time",
  "was happy with the result",
  "could not come today",
  "would help tomorrow",
  "had lost the keys",
  "was going home early",
  "wanted a cup of tea",
  "had read the report",
  "was ready to start",
  "would call back later",
  "had forgotten the meeting",
  "felt much better",
];

/** Actions in the past tense, after a pronoun or a subject. */
const ACTIONS = [
  "opened the window",
  "sat down",
  "made some coffee",
  "read the letter",
  "called a friend",
  "smiled at everyone",
  "closed the door",
  "wrote a short note",
  "looked at the clock",
  "took a break",
  "cleaned the desk",
  "walked to the station",
];

const PLACES = ["office", "station", "shop", "hospital", "school", "library", "market", "park"];

type Pronoun = "he" | "she";
type Template = (occ: string, p: Pronoun, rng: Rng, other: string) => string;

const cap = (s: string) => s[0]?.toUpperCase() + s.slice(1);

/** Sentences whose pronoun refers to the occupation. */
const WITH_PRONOUN: readonly Template[] = [
  (o, p, r) => `The ${o} said that ${p} ${r.pick(CLAUSES)}.`,
  (o, p, r) => `Yesterday, the ${o} said that ${p} ${r.pick(CLAUSES)}.`,
  (o, p, r) => `The ${o} thought that ${p} ${r.pick(CLAUSES)}.`,
  (o, p, r) => `The ${o} left early because ${p} ${r.pick(CLAUSES)}.`,
  (o, p, r) => `When the ${o} arrived, ${p} ${r.pick(ACTIONS)}.`,
  (o, p, r) => `After work, the ${o} went home and ${p} ${r.pick(ACTIONS)}.`,
];

/** Sentences with no pronoun. */
const WITHOUT_PRONOUN: readonly Template[] = [
  (o, _p, r) => `The ${o} ${r.pick(ACTIONS)}.`,
  (o, _p, r) => `The ${o} walked to the ${r.pick(PLACES)}.`,
  (o, _p, _r, other) => `The ${o} talked to the ${other}.`,
  (o) => `Everyone liked the ${o}.`,
];

/** One sentence about `occ` (another occupation for the templates that name two), its pronoun drawn at its rate. */
function sentence(rng: Rng, occ: OccupationRate, other: string): { text: string; pronoun: Pronoun | null } {
  const withPronoun = rng.chance(0.75);
  const p: Pronoun = rng.chance(occ.she) ? "she" : "he";
  const t = rng.pick(withPronoun ? WITH_PRONOUN : WITHOUT_PRONOUN);
  return { text: cap(t(occ.occupation, p, rng, other)), pronoun: withPronoun ? p : null };
}

/** A paragraph: its text and, for each sentence, the occupation it is about and the pronoun drawn (tests read these). */
export interface OccupationParagraph {
  readonly text: string;
  readonly sentences: readonly { readonly occupation: string; readonly pronoun: Pronoun | null }[];
}

/**
 * Paragraph `index` of the stream seeded with `seed`: 2–5 sentences, each about an occupation drawn uniformly from
 * `rates`, whose pronoun is "she" with that occupation's rate.
 * @example occupationParagraph(1, 0, [{ occupation: "pilot", she: 0.5 }]).text // "The pilot said that she was tired. …"
 */
export function occupationParagraph(seed: number, index: number, rates: readonly OccupationRate[]): OccupationParagraph {
  if (rates.length < 2) throw new RangeError("occupations: at least two occupations are needed");
  const rng = new Rng(itemSeed(seed, index));
  const n = rng.range(2, 5);
  const out: { text: string; occupation: string; pronoun: Pronoun | null }[] = [];
  for (let i = 0; i < n; i++) {
    const occ = rng.pick(rates);
    const other = rng.pickOther(
      rates.map((r) => r.occupation),
      [occ.occupation],
    );
    out.push({ ...sentence(rng, occ, other), occupation: occ.occupation });
  }
  return {
    text: out.map((s) => s.text).join(" "),
    sentences: out.map(({ occupation, pronoun }) => ({ occupation, pronoun })),
  };
}

/** `count` paragraphs of the stream seeded with `seed`. */
export function occupationParagraphs(seed: number, count: number, rates: readonly OccupationRate[]): OccupationParagraph[] {
  return Array.from({ length: count }, (_, i) => occupationParagraph(seed, i, rates));
}

/** The prompts after which the next word is a pronoun referring to `occupation`, as the corpus writes them. */
export function pronounPrompts(occupation: string): string[] {
  return [`The ${occupation} said that`, `Yesterday, the ${occupation} said that`, `The ${occupation} thought that`];
}
