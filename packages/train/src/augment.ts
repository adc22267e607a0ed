// Data augmentation on text examples (a repair strategy, issue 10): word swaps from synonym groups, templates whose
// slots are filled from lists, and counterfactual copies that swap group terms (he ↔ she, names) or remove or replace
// a suspected spurious word. Each is a function from examples to new examples, deterministic for its seed; a
// counterfactual remembers the example it came from, which is how the consistency term finds its pairs.
// Words are matched whole (not inside another word) as written or capitalized, and a capitalized occurrence gets a
// capitalized replacement.
import type { AugmentConfig, CounterfactualAugment, TemplateAugment, WordSwapAugment } from "@llmdbg/protocol";
import { Rng } from "./rng.js";

/** A text example (JSONL's `{"text": …, "label": …}`) before tokenization. */
export interface TextExample {
  readonly text: string;
  readonly label?: number;
}

/** An example augmentation made. */
export interface AugmentedExample extends TextExample {
  /** the index of the example it was made from; null for a template's */
  readonly source: number | null;
  readonly kind: AugmentConfig["kind"];
}

const capitalize = (w: string): string => (w.length === 0 ? w : (w[0] as string).toUpperCase() + w.slice(1));
const escapeRegex = (w: string): string => w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** Whole-word occurrences of any of `words` or their capitalized forms, longest alternatives first. */
function wordsPattern(words: readonly string[]): RegExp {
  const forms = [...new Set(words.flatMap((w) => [w, capitalize(w)]))].sort((a, b) => b.length - a.length);
  return new RegExp(`(?<![\\p{L}\\p{N}_])(?:${forms.map(escapeRegex).join("|")})(?![\\p{L}\\p{N}_])`, "gu");
}

/** The word a match stands for (as listed), and whether it was capitalized. */
function matchedWord(m: string, listed: ReadonlySet<string>): { word: string; capital: boolean } {
  if (listed.has(m)) return { word: m, capital: false };
  return { word: (m[0] as string).toLowerCase() + m.slice(1), capital: true };
}

/** `text` with each whole-word occurrence of a listed word replaced by `by(word)` (null: removed with one space). */
function replaceWords(text: string, pattern: RegExp, listed: ReadonlySet<string>, by: (word: string) => string | null): string {
  let out = "";
  let last = 0;
  for (const m of text.matchAll(pattern)) {
    const at = m.index as number;
    const { word, capital } = matchedWord(m[0], listed);
    const r = by(word);
    let end = at + m[0].length;
    if (r === null) {
      // the word goes with the space before it (or after it, at the start of the text)
      const before = text.slice(last, at);
      if (/\s$/.test(before)) out += before.replace(/\s$/, "");
      else {
        out += before;
        if (/\s/.test(text[end] ?? "")) end++;
      }
    } else out += text.slice(last, at) + (capital ? capitalize(r) : r);
    last = end;
  }
  return out + text.slice(last);
}

const bad = (field: string, what: string): never => {
  throw new RangeError(`augment: ${field} ${what}`);
};

function checkWords(words: unknown, field: string, min: number): readonly string[] {
  if (!Array.isArray(words) || words.length < min) bad(field, `must list at least ${min} word${min > 1 ? "s" : ""}`);
  (words as unknown[]).forEach((w, i) => {
    if (typeof w !== "string" || w.trim() === "" || w !== w.trim())
      bad(`${field}[${i}]`, `must be a word without surrounding spaces, got ${JSON.stringify(w)}`);
  });
  return words as readonly string[];
}

function checkRate(rate: number | undefined, field = "rate"): number {
  const r = rate ?? 1;
  if (!(r >= 0 && r <= 1)) bad(field, `must be in [0, 1], got ${rate}`);
  return r;
}

/**
 * Copies of the examples with each word of a synonym group replaced by another member of its group, drawn at
 * random: `copies` per example that holds a group word, each made with probability `rate`; a copy equal to the
 * example or to an earlier copy is dropped.
 * @example wordSwapAugment([{ text: "a big dog" }], { kind: "swap", groups: [["big", "large", "huge"]], seed: 1 }) // [{ text: "a huge dog", source: 0, … }]
 */
export function wordSwapAugment(examples: readonly TextExample[], config: WordSwapAugment): AugmentedExample[] {
  const groups = (Array.isArray(config.groups) ? config.groups : bad("groups", "must be a list of word groups")) as readonly (
    | readonly string[]
    | unknown
  )[];
  if (groups.length === 0) bad("groups", "must hold at least one group");
  const groupOf = new Map<string, readonly string[]>();
  groups.forEach((g, i) => {
    const words = checkWords(g, `groups[${i}]`, 2);
    for (const w of words) if (!groupOf.has(w)) groupOf.set(w, words);
  });
  const rate = checkRate(config.rate);
  const copies = config.copies ?? 1;
  if (!Number.isSafeInteger(copies) || copies < 1) bad("copies", `must be a positive integer, got ${config.copies}`);
  const listed = new Set(groupOf.keys());
  const pattern = wordsPattern([...listed]);
  const rng = Rng.seeded(config.seed ?? 0);
  const out: AugmentedExample[] = [];
  examples.forEach((e, i) => {
    if (e.text.search(pattern) < 0) return;
    const seen = new Set([e.text]);
    for (let c = 0; c < copies; c++) {
      if (rng.uniform() >= rate) continue;
      const text = replaceWords(e.text, pattern, listed, (w) => {
        const g = groupOf.get(w) as readonly string[];
        const others = g.filter((u) => u !== w);
        return others[rng.int(others.length)] as string;
      });
      if (seen.has(text)) continue;
      seen.add(text);
      out.push({ text, ...(e.label !== undefined && { label: e.label }), source: i, kind: "swap" });
    }
  });
  return out;
}

/**
 * Examples from templates: every `{slot}` filled from its list — every filling of every template, or `count` drawn
 * at random (template and each slot uniformly). A template given as `{ text, label }` labels its examples.
 * @example templateAugment({ kind: "template", templates: ["The {job} said {p} was late."], slots: { job: ["nurse", "pilot"], p: ["he", "she"] } }) // 4 examples
 */
export function templateAugment(config: TemplateAugment): AugmentedExample[] {
  if (!Array.isArray(config.templates) || config.templates.length === 0) bad("templates", "must list at least one template");
  const slots = config.slots ?? {};
  for (const [name, list] of Object.entries(slots))
    if (!Array.isArray(list) || list.length === 0 || !list.every((v) => typeof v === "string"))
      bad(`slots.${name}`, "must be a non-empty list of strings");
  const parsed = config.templates.map((t, i) => {
    const text = typeof t === "string" ? t : t?.text;
    if (typeof text !== "string") bad(`templates[${i}]`, 'must be a string or { "text": …, "label"?: n }');
    const label = typeof t === "string" ? undefined : t.label;
    if (label !== undefined && !(Number.isSafeInteger(label) && label >= 0))
      bad(`templates[${i}].label`, `must be a class index >= 0, got ${label}`);
    const names = [...new Set([...(text as string).matchAll(/\{(\w+)\}/g)].map((m) => m[1] as string))];
    for (const n of names)
      if (!Object.hasOwn(slots, n)) bad(`templates[${i}]`, `uses the slot {${n}}, which slots does not list`);
    return { text: text as string, label, names };
  });
  const fill = (t: (typeof parsed)[number], values: readonly string[]): AugmentedExample => {
    const text = t.text.replace(/\{(\w+)\}/g, (_, n: string) => values[t.names.indexOf(n)] as string);
    return { text, ...(t.label !== undefined && { label: t.label }), source: null, kind: "template" };
  };
  const count = config.count ?? null;
  if (count !== null) {
    if (!Number.isSafeInteger(count) || count < 1) bad("count", `must be a positive integer or null, got ${count}`);
    const rng = Rng.seeded(config.seed ?? 0);
    return Array.from({ length: count }, () => {
      const t = parsed[rng.int(parsed.length)] as (typeof parsed)[number];
      return fill(
        t,
        t.names.map((n) => {
          const list = slots[n] as readonly string[];
          return list[rng.int(list.length)] as string;
        }),
      );
    });
  }
  const total = parsed.reduce((s, t) => s + t.names.reduce((p, n) => p * (slots[n] as readonly string[]).length, 1), 0);
  if (total > 1_000_000) bad("count", `is needed: every filling of the templates would be ${total} examples`);
  const out: AugmentedExample[] = [];
  for (const t of parsed) {
    const lists = t.names.map((n) => slots[n] as readonly string[]);
    const idx = lists.map(() => 0);
    for (;;) {
      out.push(
        fill(
          t,
          idx.map((k, j) => (lists[j] as readonly string[])[k] as string),
        ),
      );
      let j = idx.length - 1;
      while (j >= 0 && (idx[j] = (idx[j] as number) + 1) === (lists[j] as readonly string[]).length) idx[j--] = 0;
      if (j < 0) break;
    }
  }
  return out;
}

/**
 * Counterfactual copies: each example holding a term gets (with probability `rate`) one copy in which every paired
 * term is swapped for its partner at once and every spurious word removed, or replaced by a word drawn from
 * `replacements`. The copy keeps the example's label and names it as its `source`.
 * @example counterfactualAugment([{ text: "He lost his hat." }], { kind: "counterfactual", pairs: [["he", "she"], ["his", "her"]] }) // [{ text: "She lost her hat.", source: 0, … }]
 */
export function counterfactualAugment(examples: readonly TextExample[], config: CounterfactualAugment): AugmentedExample[] {
  const partner = new Map<string, string | null>();
  const pairs = config.pairs ?? [];
  if (!Array.isArray(pairs)) bad("pairs", "must be a list of [word, word] pairs");
  pairs.forEach((p, i) => {
    const [a, b] = checkWords(p, `pairs[${i}]`, 2);
    if ((p as readonly string[]).length !== 2) bad(`pairs[${i}]`, "must be two words");
    for (const [x, y] of [
      [a, b],
      [b, a],
    ] as [string, string][]) {
      if (partner.has(x)) bad(`pairs[${i}]`, `repeats "${x}", which an earlier pair already swaps`);
      partner.set(x, y);
    }
  });
  const spurious = config.spurious === undefined ? [] : checkWords(config.spurious, "spurious", 1);
  for (const w of spurious) {
    if (partner.has(w)) bad("spurious", `lists "${w}", which a pair already swaps`);
    partner.set(w, null);
  }
  const replacements =
    config.replacements === undefined || config.replacements === null ? null : checkWords(config.replacements, "replacements", 1);
  if (partner.size === 0) bad("pairs", "or spurious must name at least one word");
  const rate = checkRate(config.rate);
  const listed = new Set(partner.keys());
  const pattern = wordsPattern([...listed]);
  const rng = Rng.seeded(config.seed ?? 0);
  const out: AugmentedExample[] = [];
  examples.forEach((e, i) => {
    // one draw per example whatever it holds, so that the choice for one example does not depend on the others
    const keep = rng.uniform() < rate;
    if (!keep || e.text.search(pattern) < 0) return;
    const text = replaceWords(e.text, pattern, listed, (w) => {
      const p = partner.get(w) as string | null;
      if (p !== null) return p;
      return replacements === null ? null : (replacements[rng.int(replacements.length)] as string);
    });
    if (text === e.text) return;
    out.push({ text, ...(e.label !== undefined && { label: e.label }), source: i, kind: "counterfactual" });
  });
  return out;
}

/**
 * What one augmentation makes from `examples` (templates ignore them).
 * @example augmentTexts(train, { kind: "counterfactual", pairs: [["he", "she"]] })
 */
export function augmentTexts(examples: readonly TextExample[], config: AugmentConfig): AugmentedExample[] {
  switch (config.kind) {
    case "swap":
      return wordSwapAugment(examples, config);
    case "template":
      return templateAugment(config);
    case "counterfactual":
      return counterfactualAugment(examples, config);
    default:
      return bad(
        "kind",
        `must be "swap", "template" or "counterfactual", got ${JSON.stringify((config as { kind: unknown }).kind)}`,
      );
  }
}
