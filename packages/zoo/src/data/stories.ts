// The stories corpus: procedurally generated children's stories in a small vocabulary, the training text of the
// zoo's `stories` model (a GPT of a few million parameters that must learn to write readable, grammatical
// sentences in minutes on two cores). Each story is a plot (story-plots.ts) told with a cast drawn at random:
// children and animals with fixed pronouns, grown-ups, places and things. Story i of a seed is generated from its
// own seed, so a stream of n stories is a prefix of a stream of n + 1 and any story can be regenerated alone.

import { itemSeed, Rng } from "./random.js";
import { type Cast, PLOTS, SHORT_PLOTS } from "./story-plots.js";
import {
  ADULTS,
  ANIMAL_NAMES,
  ANIMALS,
  CHILD_NAMES,
  CHILD_NOUNS,
  type Noun,
  PLACES,
  type Pronoun,
  SIZES,
  TRAITS,
  WISE,
  YOUNG_ANIMALS,
} from "./story-words.js";
import { a, type Character, type Mention, Writer } from "./story-writer.js";

/** The separator between stories in training text (GPT-2's end-of-text token). */
export const STORIES_EOS = "<|endoftext|>";

/** Prompts that show the stories model off: openings the corpus uses, cut where the model must go on. */
export const STORY_PROMPTS: readonly string[] = [
  "Once upon a time, there was a little",
  "One day, Tom went to the",
  '"Can you help me?" asked',
  "Once upon a time, there was a girl named",
  "One sunny morning, Ben woke up early.",
  "Max wanted to",
  "Emma had",
  "The little cat",
  "Tom lost his",
];

/** A story with what the tests check it against: its sentences, its cast, and every mention of each character. */
export interface StoryRecord {
  readonly text: string;
  readonly sentences: readonly string[];
  readonly plot: string;
  readonly characters: readonly {
    readonly name: string;
    readonly intro: string;
    readonly pronoun: Pronoun;
    readonly kind: Character["kind"];
  }[];
  readonly mentions: readonly Mention[];
}

const PLOT_NAMES = Object.keys(PLOTS);

type Other = "peer" | "wise" | "adult";

/** Which kinds of second character each plot may use (a grown-up does not ask for a cookie). */
const OTHERS: Readonly<Record<string, readonly Other[]>> = {
  lost: ["peer", "peer", "wise", "adult"],
  wish: ["peer", "peer", "wise", "adult"],
  sharing: ["peer"],
  afraid: ["peer", "wise", "adult", "adult"],
  friend: ["peer"],
  helping: ["peer", "peer", "wise"],
  mistake: ["adult", "adult", "adult", "peer"],
  gift: ["peer", "wise", "adult"],
  day: ["peer"],
};

/**
 * The stories of `seed`, in order.
 * @example generateStories(1, 3) // ["Once upon a time, there was a shy little fox named Rosie. …", …]
 */
export function generateStories(seed: number, count: number): string[] {
  return Array.from(storyStream(seed, count));
}

/**
 * The stories of `seed` one at a time (for corpora too large to hold as an array): `count` of them, or without end.
 * @example for (const text of storyStream(7, 100_000)) out.write(text + STORIES_EOS);
 */
export function* storyStream(seed: number, count = Number.POSITIVE_INFINITY): Generator<string> {
  for (let i = 0; i < count; i++) yield storyRecord(seed, i).text;
}

/** The stories of `seed` with their structure (sentences, cast, mentions), for checking the generator. */
export function storyRecords(seed: number, count: number): StoryRecord[] {
  return Array.from({ length: count }, (_, i) => storyRecord(seed, i));
}

/** Training text: the stories joined by {@link STORIES_EOS}. */
export function storiesText(stories: Iterable<string>): string {
  return [...stories].join(STORIES_EOS);
}

/** Story `index` of `seed`. */
export function storyRecord(seed: number, index: number): StoryRecord {
  const rng = new Rng(itemSeed(seed, index));
  const length = rng.range(3, 9);
  const plotName = rng.pick(length <= 4 ? SHORT_PLOTS : PLOT_NAMES);
  const plot = PLOTS[plotName];
  if (plot === undefined) throw new Error(`stories: no plot ${plotName}`);
  const hero = rng.chance(0.55) ? child(rng, []) : animal(rng, [], rng.chance(0.7));
  const other = second(rng, hero, rng.pick(OTHERS[plotName] ?? ["peer"]));
  const cast: Cast = { hero, other, place: rng.pick(PLACES) };
  // A beat may write one sentence more than planned; the few stories that miss 3–9 are told again, shorter.
  for (let attempt = 0; attempt < 20; attempt++) {
    const w = new Writer(rng, [hero, other]);
    plot(w, cast, length - Math.floor(attempt / 4));
    if (w.length >= 3 && w.length <= 9) {
      return {
        text: w.sentences.join(" "),
        sentences: w.sentences,
        plot: plotName,
        characters: [hero, other].map((c) => ({ name: c.name, intro: c.intro, pronoun: c.pronoun, kind: c.kind })),
        mentions: w.mentions,
      };
    }
  }
  throw new Error(`stories: story ${index} of seed ${seed} never came out at 3–9 sentences`);
}

function pronoun(rng: Rng): Pronoun {
  const r = rng.next();
  return r < 0.4 ? "he" : r < 0.8 ? "she" : "they";
}

/** 0–2 adjectives before a noun, in English order (opinion before size): "kind little", "big", "shy". */
function describe(
  rng: Rng,
  who: "child" | "animal",
  young = false,
): { readonly words: string; readonly size: string | undefined } {
  const sizes = young ? SIZES[who].filter((s) => s !== "old") : SIZES[who];
  const size = rng.chance(0.6) ? rng.pick(sizes) : undefined;
  const trait = rng.chance(size === undefined ? 0.7 : 0.3) ? rng.pick(TRAITS) : undefined;
  return { words: [trait, size].filter((x) => x !== undefined).join(" "), size };
}

const phrase = (adjs: string, noun: string) => a(adjs === "" ? noun : `${adjs} ${noun}`);

function child(rng: Rng, taken: readonly string[]): Character {
  const p = pronoun(rng);
  const name = rng.pickOther(CHILD_NAMES[p], taken);
  const { words } = describe(rng, "child");
  return { name, intro: `${phrase(words, rng.pick(CHILD_NOUNS[p]))} named ${name}`, pronoun: p, kind: "child", proper: true };
}

function animal(rng: Rng, taken: readonly Noun[], named: boolean, takenNames: readonly string[] = []): Character {
  const p = pronoun(rng);
  const kind = rng.pickOther(ANIMALS, taken);
  const { words, size } = describe(rng, "animal", YOUNG_ANIMALS.includes(kind.sg));
  if (named) {
    const name = rng.pickOther(ANIMAL_NAMES[p], takenNames);
    return { name, intro: `${phrase(words, kind.sg)} named ${name}`, pronoun: p, kind: "animal", proper: true, species: kind.sg };
  }
  const name = `the ${size === undefined ? "" : `${size} `}${kind.sg}`;
  return { name, intro: phrase(words, kind.sg), pronoun: p, kind: "animal", proper: false, species: kind.sg };
}

/** The second character: a child or animal friend, a wise animal, or a grown-up — never the hero's double. */
function second(rng: Rng, hero: Character, kind: Other): Character {
  if (kind === "adult") {
    const adult = rng.pick(ADULTS);
    return { name: adult.name, intro: adult.name, pronoun: adult.pronoun, kind: "adult", proper: true };
  }
  const heroSpecies = ANIMALS.filter((s) => s.sg === hero.species);
  if (kind === "wise") {
    const species = rng.pickOther(
      ANIMALS.filter((s) => !YOUNG_ANIMALS.includes(s.sg)),
      heroSpecies,
    );
    const adj = rng.pick(WISE);
    return {
      name: `the ${species.sg}`,
      intro: a(adj === "old" ? `old ${species.sg}` : `${adj} old ${species.sg}`),
      pronoun: pronoun(rng),
      kind: "animal",
      proper: false,
      species: species.sg,
    };
  }
  return rng.chance(0.5) ? child(rng, [hero.name]) : animal(rng, heroSpecies, true, [hero.name]);
}
