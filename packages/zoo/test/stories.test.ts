// The stories corpus: reproducible, punctuated and capitalized, a/an and pronoun agreement, a small vocabulary,
// and enough variety. The checks read the text itself; the records' mentions are checked against the text too.
import { loadHfTokenizer, trainByteLevelBpe } from "@llmdbg/tokenizers";
import { describe, expect, it } from "vitest";
import * as words from "../src/data/story-words.js";
import { article } from "../src/data/story-writer.js";
import {
  generateStories,
  STORIES_EOS,
  STORY_PROMPTS,
  type StoryRecord,
  storiesText,
  storyRecord,
  storyRecords,
  storyStream,
} from "../src/index.js";

const N = 2000;
const records = storyRecords(1, N);
const wordsOf = (text: string) => text.toLowerCase().match(/[a-z]+(?:'[a-z]+)?/g) ?? [];

describe("generateStories", () => {
  it("is reproducible for a seed, different across seeds, and a stream of n is a prefix of a stream of n + 1", () => {
    expect(generateStories(7, 40)).toEqual(generateStories(7, 40));
    expect(storyRecords(7, 40)).toEqual(storyRecords(7, 40));
    const other = generateStories(8, 40);
    const same = generateStories(7, 40).filter((s, i) => s === other[i]).length;
    expect(same).toBeLessThan(2);
    expect(generateStories(7, 10)).toEqual(generateStories(7, 40).slice(0, 10));
    const stream = storyStream(7); // without end
    const first = Array.from({ length: 5 }, () => stream.next().value);
    expect(first).toEqual(generateStories(7, 5));
    expect(storyRecord(7, 3).text).toBe(generateStories(7, 4)[3]);
    expect(storiesText(["A b.", "C d."])).toBe(`A b.${STORIES_EOS}C d.`);
  });

  it("writes 3–9 sentences, each starting with a capital and ending with . ! or ?, inside or outside quotes", () => {
    const lengths = new Set<number>();
    for (const r of records) {
      expect(r.text).toBe(r.sentences.join(" "));
      lengths.add(r.sentences.length);
      for (const s of r.sentences) {
        expect(s, s).toMatch(/^"?[A-Z]/);
        expect(s, s).toMatch(/[.!?]"?$/);
        expect(s, s).not.toMatch(/[.!?] +[a-z]/); // a sentence inside a sentence starts with a capital too
        expect(s, s).not.toMatch(/ {2}| [.,!?]|[,.!?][A-Za-z]/); // no doubled or misplaced spaces
      }
    }
    expect([...lengths].sort()).toEqual([3, 4, 5, 6, 7, 8, 9]);
  });

  it("balances its quotes: each opens before a capital and closes after . , ! or ?", () => {
    let quoted = 0;
    for (const r of records) {
      for (const s of r.sentences) {
        const parts = s.split('"');
        expect(parts.length % 2, s).toBe(1);
        for (let i = 1; i < parts.length; i += 2) {
          const inner = parts[i] as string;
          expect(inner, s).toMatch(/^[A-Z].*[.,!?]$/);
          const before = parts[i - 1] as string;
          expect(before === "" || before.endsWith(", ") || before.endsWith(". ") || before.endsWith("! "), s).toBe(true);
          quoted++;
        }
      }
    }
    expect(quoted).toBeGreaterThan(N / 2);
  });

  it("puts an before a vowel sound and a before a consonant sound", () => {
    // the exceptions to the first letter in the word lists: "an honest", and none of the "a useful" kind yet
    const vowelSound = (w: string) => w === "honest" || (/^[aeiou]/.test(w) && !/^(one|use|uni)/.test(w));
    let an = 0;
    for (const r of records) {
      for (const m of r.text.matchAll(/\b([Aa]n?) ([A-Za-z]+)/g)) {
        const next = (m[2] as string).toLowerCase();
        expect(m[0], r.text).toBe(`${m[1]} ${m[2]}`);
        expect(m[1]?.toLowerCase(), `${m[0]} in: ${r.text}`).toBe(vowelSound(next) ? "an" : "a");
        if (m[1]?.toLowerCase() === "an") an++;
      }
    }
    expect(an).toBeGreaterThan(100);
    // the writer's rule on every adjective and noun of the lists, against the same judgement
    const all = [
      ...words.TRAITS,
      ...words.SIZES.animal,
      ...words.COLORS,
      ...words.ANIMALS.map((x) => x.sg),
      ...words.THINGS.map((x) => x.sg),
      ...words.TREATS.map((x) => x.sg),
      "unicorn",
      "useful",
      "hour",
    ];
    for (const w of all) expect(article(w), w).toBe(vowelSound(w) || w === "hour" ? "an" : "a");
  });

  it("refers to each character with its own pronoun, and makes the verb agree", () => {
    const forms = { he: ["he", "him", "his"], she: ["she", "her"], they: ["they", "them", "their"] } as const;
    const byPronoun = (r: StoryRecord, p: keyof typeof forms) => r.characters.some((c) => c.pronoun === p);
    let pronouns = 0;
    for (const r of records) {
      const text = r.text;
      // an introduction names the character ("a shy girl named Lily") or is what its name shortens ("the little fox")
      for (const c of r.characters) {
        const species = c.name.startsWith("the ") ? c.name.split(" ").pop() : undefined;
        expect(
          c.intro === c.name ||
            c.intro.endsWith(` named ${c.name}`) ||
            (species !== undefined && c.intro.endsWith(` ${species}`)),
          c.intro,
        ).toBe(true);
      }
      for (const m of r.mentions) {
        const c = r.characters[m.character];
        expect(c, text).toBeDefined();
        if (c === undefined) continue;
        if (m.form === "name") expect(m.word).toBe(c.name);
        else if (m.form === "intro") expect(m.word).toBe(c.intro);
        else {
          expect(forms[c.pronoun] as readonly string[], `${m.word} for ${c.name} (${c.pronoun}) in: ${text}`).toContain(m.word);
          pronouns++;
        }
        expect(text.toLowerCase()).toContain(m.word.toLowerCase());
      }
      // read off the text alone: no "he" without a he in the cast, no "she" without a she ("they" may be a group)
      const used = new Set(wordsOf(text.replace(/"[^"]*"/g, "")));
      if (!byPronoun(r, "he")) for (const f of ["he", "him", "his"]) expect(used.has(f), `${f} in: ${text}`).toBe(false);
      if (!byPronoun(r, "she")) for (const f of ["she", "her"]) expect(used.has(f), `${f} in: ${text}`).toBe(false);
      expect(text, text).not.toMatch(/\b(he|she) (were|are|have|do)\b/i);
      expect(text, text).not.toMatch(/\bthey (was|is|has|does)\b/i);
      for (const c of r.characters) {
        expect(text, text).not.toMatch(new RegExp(`(?<!and )\\b${c.name} (were|are|have)\\b`, "i"));
      }
    }
    expect(pronouns).toBeGreaterThan(N);
  });

  it("gives a they-character plural verbs and keeps each name's pronoun across stories", () => {
    const pronounOf = new Map<string, string>();
    let theyWere = 0;
    for (const r of records) {
      for (const c of r.characters) {
        if (c.kind === "animal" && c.name.startsWith("the ")) continue; // unnamed animals differ per story
        const seen = pronounOf.get(c.name);
        if (seen !== undefined) expect(c.pronoun, c.name).toBe(seen);
        pronounOf.set(c.name, c.pronoun);
      }
      if (r.characters[0]?.pronoun === "they") theyWere += (r.text.match(/\bThey were\b/g) ?? []).length;
    }
    expect(theyWere).toBeGreaterThan(10);
  });

  it("keeps to a small vocabulary", () => {
    const vocab = new Set(records.flatMap((r) => wordsOf(r.text)));
    expect(vocab.size).toBeGreaterThanOrEqual(500);
    expect(vocab.size).toBeLessThanOrEqual(1500);
  });

  it("varies: almost every story is distinct, with many sentence shapes, every plot and every opening", () => {
    expect(new Set(records.map((r) => r.text)).size).toBeGreaterThanOrEqual(0.95 * N);
    // a sentence's shape: the words of the lists (names, animals, things, places, colors, …) blanked out
    const slot = new Set(
      [
        ...Object.values(words.CHILD_NAMES).flat(),
        ...Object.values(words.ANIMAL_NAMES).flat(),
        ...words.ANIMALS.flatMap((x) => [x.sg, x.pl]),
        ...words.THINGS.flatMap((x) => [x.sg, x.pl]),
        ...words.TREATS.flatMap((x) => [x.sg, x.pl]),
        ...words.PLACES.map((x) => x.name),
        ...words.COLORS,
        ...words.TRAITS,
        ...words.SIZES.animal,
        ...words.NUMBERS,
        ...words.ADULTS.map((x) => x.name),
      ].map((w) => w.toLowerCase()),
    );
    const shapes = new Set(
      records.flatMap((r) =>
        r.sentences.map((s) => s.replace(/[A-Za-z']+/g, (w) => (slot.has(w.toLowerCase()) ? "_" : w.toLowerCase()))),
      ),
    );
    expect(shapes.size).toBeGreaterThan(1000);
    expect(new Set(records.map((r) => r.plot)).size).toBe(9);
    const openings = new Set(records.map((r) => (r.sentences[0] ?? "").split(/[ ,]/).slice(0, 2).join(" ")));
    for (const o of ["Once upon", "One day", "There was", "Long ago", "One sunny", "It was", "Every day"])
      expect(openings).toContain(o);
  });

  it("uses every demo prompt somewhere in 20,000 stories", () => {
    const corpus = generateStories(1, 20_000).join("\n");
    for (const p of STORY_PROMPTS) expect(corpus, p).toContain(p);
  });

  it("tokenizes compactly with a byte-level BPE trained on it, <|endoftext|> one token between stories", () => {
    const stories = records.map((r) => r.text);
    const json = trainByteLevelBpe([storiesText(stories)], { vocabSize: 2048, specialTokens: [STORIES_EOS] });
    const tok = loadHfTokenizer(json, undefined, "stories/tokenizer.json");
    expect(tok.vocabSize).toBeLessThanOrEqual(2048);
    const eos = tok.tokenToId(STORIES_EOS);
    const ids = tok.encode(storiesText(stories.slice(0, 3)));
    expect(ids.filter((id) => id === eos)).toHaveLength(2);
    let total = 0;
    for (const s of stories) {
      const t = tok.encode(s);
      expect(tok.decode(t)).toBe(s);
      total += t.length;
    }
    // every word of the small vocabulary becomes a token of its own, so a story is about as many tokens as words
    expect(total / stories.length).toBeLessThan(80);
  });
});
