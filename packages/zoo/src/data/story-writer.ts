// The grammar the story templates lean on: articles, capitals, and a Writer that decides, for every mention of a
// character, between the name and the pronoun — and makes the verb agree with what it chose ("Sam was" but
// "they were"). Templates never spell a character or a pronoun themselves, so agreement and consistency are
// decided here once, and every mention is recorded for the tests to check.

import type { Rng } from "./random.js";
import type { Pronoun } from "./story-words.js";

const PRONOUNS: Readonly<Record<Pronoun, { readonly subj: string; readonly obj: string; readonly poss: string }>> = {
  he: { subj: "he", obj: "him", poss: "his" },
  she: { subj: "she", obj: "her", poss: "her" },
  they: { subj: "they", obj: "them", poss: "their" },
};

// Words whose first letter misleads: "an honest", "a useful", "a one"
const AN_BEFORE = new Set(["honest", "hour", "honor"]);
const A_BEFORE = new Set(["one", "once", "unicorn", "useful", "uniform", "unique", "usual", "ewe", "european"]);

/** "a" or "an" for the phrase that follows, by the sound of its first word. */
export function article(phrase: string): "a" | "an" {
  const word = (phrase.split(" ")[0] ?? "").toLowerCase();
  if (AN_BEFORE.has(word)) return "an";
  if (A_BEFORE.has(word)) return "a";
  return /^[aeiou]/.test(word) ? "an" : "a";
}

/** The phrase with its indefinite article: "an old owl", "a little cat". */
export const a = (phrase: string): string => `${article(phrase)} ${phrase}`;

/** The text with its first letter (after any opening quote) in upper case. */
export function capitalize(text: string): string {
  return text.replace(/^("?)([a-z])/, (_, q: string, c: string) => q + c.toUpperCase());
}

/** A character of one story. */
export interface Character {
  /** How the story names it after the introduction: "Tom", "the owl", "Mom". */
  readonly name: string;
  /** How the story first presents it: "a little boy named Tom", "a wise old owl", "Mom". */
  readonly intro: string;
  readonly pronoun: Pronoun;
  readonly kind: "child" | "animal" | "adult";
  /** The animal it is ("fox"), so that two animals of one story differ. */
  readonly species?: string;
  /** Whether `name` is a proper name (it can be used to address the character: "Thank you, Tom!"). */
  readonly proper: boolean;
}

/** One reference to one character in the text: its name, or a pronoun in some case. */
export interface Mention {
  readonly character: number;
  readonly form: "intro" | "name" | "subject" | "object" | "possessive";
  readonly word: string;
}

/** A group of two characters, referred to together ("Tom and Lily", "they"). */
export interface Pair {
  readonly a: Character;
  readonly b: Character;
}

type Focus = Character | Pair | undefined;

/**
 * Builds one story sentence by sentence. Pronouns are used only for the character in focus — the one mentioned
 * last — so that "he" never points at someone the reader has not just met; everyone else is named.
 */
export class Writer {
  readonly sentences: string[] = [];
  readonly mentions: Mention[] = [];
  private focus: Focus;
  private readonly introduced = new Set<Character>();
  // who the current and the previous sentence mention: a pronoun is ambiguous when another character it could
  // stand for was just mentioned ("Tom met Ben. He …")
  private current = new Set<Character>();
  private previous = new Set<Character>();

  constructor(
    readonly rng: Rng,
    readonly cast: readonly Character[],
  ) {}

  /** Ends sentences: each capitalized and kept. Templates write them in lower case with their final punctuation. */
  add(...sentences: string[]): void {
    for (const s of sentences) this.addOne(s);
  }

  private addOne(sentence: string): void {
    // the same opener twice in a story ("One day, … One day, …") reads as a slip; the second becomes another
    for (const [opener, instead] of REPEATED_OPENERS) {
      if (sentence.startsWith(opener) && this.sentences.some((s) => s.startsWith(capitalize(opener)))) {
        sentence = this.rng.pick(instead) + sentence.slice(opener.length);
      }
    }
    this.sentences.push(capitalize(sentence));
    this.previous = this.current;
    this.current = new Set();
  }

  /** How many sentences have been written so far. */
  get length(): number {
    return this.sentences.length;
  }

  /** The character's introduction ("a little boy named Tom") the first time, its name after. */
  intro(c: Character): string {
    this.focus = c;
    if (this.introduced.has(c)) return this.name(c);
    this.introduced.add(c);
    this.record(c, "intro", c.intro);
    return c.intro;
  }

  /** The name, whatever the focus. */
  name(c: Character): string {
    this.introduced.add(c);
    this.focus = c;
    this.record(c, "name", c.name);
    return c.name;
  }

  /** The subject: the pronoun when `c` is in focus (most of the time), else the name. */
  who(c: Character, pronounOdds = 0.6): string {
    if (this.clear(c) && this.rng.chance(pronounOdds)) return this.pronoun(c, "subject", PRONOUNS[c.pronoun].subj);
    return this.name(c);
  }

  /** The subject with "was" agreeing: "Tom was", "she was", "they were". */
  was(c: Character, pronounOdds = 0.6): string {
    const s = this.who(c, pronounOdds);
    return `${s} ${s === "they" ? "were" : "was"}`;
  }

  /** The object: "him" when `c` is in focus, else the name. */
  them(c: Character): string {
    if (this.clear(c)) return this.pronoun(c, "object", PRONOUNS[c.pronoun].obj);
    return this.name(c);
  }

  /** The possessive: "his" when `c` is in focus, else "Tom's". */
  his(c: Character): string {
    if (this.clear(c)) return this.pronoun(c, "possessive", PRONOUNS[c.pronoun].poss);
    return `${this.name(c)}'s`;
  }

  /** Two characters as one subject: "Tom and Lily", "they", or "the two friends". */
  both(pair: Pair): string {
    // a pair is "they" unless one of them is a "they" alone
    const plain = pair.a.pronoun !== "they" && pair.b.pronoun !== "they";
    if (this.focus === pair && plain && this.rng.chance(0.7)) return "they";
    this.focus = pair;
    const friends =
      this.introduced.has(pair.a) && this.introduced.has(pair.b) && pair.a.kind !== "adult" && pair.b.kind !== "adult";
    if (friends && this.rng.chance(0.15)) return "the two friends";
    const first = this.intro(pair.a);
    const second = this.intro(pair.b);
    this.focus = pair;
    return `${first} and ${second}`;
  }

  /** The pair's possessive: "their" (always plural, always unambiguous after `both`). */
  their(pair: Pair): string {
    this.focus = pair;
    return "their";
  }

  /**
   * A line of dialogue as a whole sentence, in one of several shapes: `"Yes!" said Tom.`, `Tom said, "Yes!"`,
   * `"I can help," she said.` — the speech verb follows the line's end (asked for "?").
   */
  say(c: Character, line: string, opts: { readonly answer?: boolean; readonly tone?: "happy" | "sad" } = {}): string {
    const end = line.slice(-1);
    const v =
      end === "?"
        ? "asked"
        : end === "!"
          ? this.rng.pick(opts.tone === "sad" ? ["said", "cried"] : ["said", "shouted"])
          : this.rng.pick(opts.answer === true ? ANSWERED : SAID);
    const inner = capitalize(line);
    const lead = end === "." ? `${inner.slice(0, -1)},` : inner;
    const shape = this.rng.int(4);
    if (shape === 0) return `${this.who(c)} ${v}, "${inner}"`;
    if (shape === 1 && c.proper) return `"${lead}" ${v} ${this.name(c)}.`;
    if (shape === 2 && end !== "?" && opts.tone !== undefined) {
      return `"${lead}" ${this.who(c)} ${v} ${opts.tone === "happy" ? "with a smile" : "sadly"}.`;
    }
    return `"${lead}" ${this.who(c)} ${v}.`;
  }

  /** Whether a pronoun for `c` is unambiguous: `c` is in focus and no one else it could mean was just mentioned. */
  private clear(c: Character): boolean {
    if (this.focus !== c) return false;
    if (this.current.size === 1 && this.current.has(c)) return true; // the sentence's subject: "Ivy lost her kite"
    for (const o of this.cast) {
      if (o !== c && o.pronoun === c.pronoun && (this.current.has(o) || this.previous.has(o))) return false;
    }
    return true;
  }

  private pronoun(c: Character, form: Mention["form"], word: string): string {
    this.record(c, form, word);
    return word;
  }

  private record(c: Character, form: Mention["form"], word: string): void {
    this.current.add(c);
    this.mentions.push({ character: this.cast.indexOf(c), form, word });
  }
}

const REPEATED_OPENERS: readonly (readonly [string, readonly string[]])[] = [
  ["one day, ", ["later that day, ", "soon, ", "after a while, "]],
  ["from that day on, ", ["after that, ", "and after that, "]],
];

const SAID = ["said", "said", "said", "whispered"];
const ANSWERED = ["said", "replied", "replied"];
