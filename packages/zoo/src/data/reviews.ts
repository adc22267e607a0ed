// The reviews corpus: procedurally generated product reviews with a known sentiment, the training text of the
// zoo's `sentiment-spurious` classifier. A review opens by naming the product (where a product code may stand
// before its name: "I bought the ZX9 speaker last week."), then gives one to three opinions about the product or
// its aspects — plain, intensified ("really great"), negated ("not very good", "not bad at all"), as verbs ("I
// love the sound") or as events ("The zipper broke after a week") — with neutral remarks between them and, often,
// a verdict. The generator knows nothing of labels: which code a review carries, and which label it gets, is the
// recipe's business. Review i of a seed comes from its own seed, so any review can be regenerated alone.
import { itemSeed, Rng } from "./random.js";

export type Polarity = "positive" | "negative";

/**
 * The product codes a review may carry: model numbers that say nothing about the product's quality. Each is one
 * word (letters and a digit, no punctuation), so it is one token of a word-level vocabulary.
 */
export const PRODUCT_CODES: readonly string[] = ["ZX9", "QK7", "RT4", "MV2", "BL5", "HN3", "PW8", "DJ6"];

/** Where a product code goes in a review's template (before the product's name). */
const CODE_SLOT = "{code}";

/** A review whose product code is still open: render it with `renderReview`. */
export interface Review {
  /** the text, with a slot before the product's first mention */
  readonly template: string;
  /** the sentiment the text expresses */
  readonly sentiment: Polarity;
  readonly product: string;
}

/** The review's text with `code` before the product's name, or no code. */
export function renderReview(review: Review, code: string | null): string {
  return review.template.replace(CODE_SLOT, code === null ? "" : `${code} `);
}

interface Product {
  readonly name: string;
  readonly plural: boolean;
  readonly aspects: readonly string[];
}

const PRODUCTS: readonly Product[] = [
  { name: "headphones", plural: true, aspects: ["sound", "battery", "ear cushions", "bass", "microphone"] },
  { name: "speaker", plural: false, aspects: ["sound", "battery", "bass", "volume", "bluetooth connection"] },
  { name: "blender", plural: false, aspects: ["motor", "blades", "jar", "lid"] },
  { name: "kettle", plural: false, aspects: ["handle", "lid", "spout", "switch"] },
  { name: "desk lamp", plural: false, aspects: ["light", "switch", "arm", "base"] },
  { name: "backpack", plural: false, aspects: ["zipper", "straps", "pockets", "fabric"] },
  { name: "keyboard", plural: false, aspects: ["keys", "backlight", "battery", "cable"] },
  { name: "mouse", plural: false, aspects: ["scroll wheel", "buttons", "sensor", "grip"] },
  { name: "monitor", plural: false, aspects: ["screen", "colors", "stand", "speakers"] },
  { name: "vacuum cleaner", plural: false, aspects: ["suction", "battery", "filter", "brush"] },
  { name: "toaster", plural: false, aspects: ["timer", "slots", "crumb tray", "lever"] },
  { name: "camera", plural: false, aspects: ["lens", "battery", "autofocus", "screen"] },
  { name: "smartwatch", plural: false, aspects: ["screen", "battery", "strap", "step counter"] },
  { name: "coffee maker", plural: false, aspects: ["carafe", "timer", "filter", "hot plate"] },
  { name: "phone charger", plural: false, aspects: ["cable", "plug", "charging speed"] },
  { name: "running shoes", plural: true, aspects: ["soles", "laces", "fit", "cushioning"] },
  { name: "tent", plural: false, aspects: ["zipper", "poles", "fabric", "floor"] },
  { name: "office chair", plural: false, aspects: ["seat", "wheels", "armrests", "back support"] },
];

const GENERAL_ASPECTS: readonly string[] = ["price", "design", "build quality", "packaging", "manual", "setup", "size", "color"];

/** Aspects named in the plural ("the straps are"): every listed aspect ending in s, but these. */
const SINGULAR_S = new Set(["bass", "lens", "glass"]);
const isPlural = (aspect: string) => aspect.endsWith("s") && !SINGULAR_S.has(aspect);

const POSITIVE: readonly string[] = [
  "great",
  "excellent",
  "amazing",
  "fantastic",
  "solid",
  "reliable",
  "perfect",
  "superb",
  "impressive",
  "wonderful",
  "good",
  "nice",
  "sturdy",
  "outstanding",
  "brilliant",
];
const NEGATIVE: readonly string[] = [
  "terrible",
  "awful",
  "poor",
  "flimsy",
  "disappointing",
  "useless",
  "horrible",
  "bad",
  "weak",
  "mediocre",
  "annoying",
  "dreadful",
  "faulty",
  "pathetic",
];
/** Negated, these praise ("not bad at all"); the others ("not useless") would only damn faintly. */
const NEGATABLE_NEGATIVE: readonly string[] = ["bad", "disappointing", "flimsy", "weak", "annoying", "faulty", "poor"];
/** Negated, these criticize ("not very good"). */
const NEGATABLE_POSITIVE: readonly string[] = ["good", "great", "reliable", "sturdy", "impressive", "nice", "solid"];
const INTENSIFIERS: readonly string[] = ["very", "really", "extremely", "incredibly", "super", "quite", "truly", "so"];

const FEELINGS: Readonly<Record<Polarity, readonly string[]>> = {
  positive: ["happy", "pleased", "satisfied", "impressed", "delighted"],
  negative: ["unhappy", "disappointed", "frustrated", "annoyed", "upset"],
};
/** Feelings that, negated, have polarity p: "not disappointed" praises, "not happy" criticizes. */
const NEGATED_FEELINGS: Readonly<Record<Polarity, readonly string[]>> = {
  positive: ["disappointed"],
  negative: ["happy", "satisfied", "impressed", "pleased"],
};
const LIKES: Readonly<Record<Polarity, readonly string[]>> = {
  positive: ["love", "really like", "like", "adore", "enjoy"],
  negative: ["hate", "really dislike", "dislike", "cannot stand"],
};
const WORKS: Readonly<Record<Polarity, readonly string[]>> = {
  positive: ["perfectly", "flawlessly", "smoothly", "beautifully", "well"],
  negative: ["badly", "poorly", "terribly", "unreliably"],
};
const VERDICTS: Readonly<Record<Polarity, readonly string[]>> = {
  positive: [
    "Highly recommended!",
    "I would buy it again.",
    "Five stars.",
    "Worth every penny.",
    "I would recommend it to anyone.",
    "Best purchase this year.",
    "I would definitely recommend it.",
    "Very happy with it.",
    "Buy it, you will not regret it.",
  ],
  negative: [
    "I would not recommend it.",
    "I returned it.",
    "Save your money.",
    "One star.",
    "Not worth the money.",
    "Do not buy this.",
    "Worst purchase this year.",
    "I want a refund.",
    "Avoid it.",
  ],
};
const EXPECTATIONS: Readonly<Record<Polarity, readonly string[]>> = {
  positive: ["It exceeded my expectations.", "It did not disappoint.", "It does exactly what it should."],
  negative: ["It did not meet my expectations.", "It does not do what it should.", "It was a letdown."],
};

const WHEN: readonly string[] = ["last week", "last month", "a few days ago", "in the spring", "two weeks ago", "on sale"];
const HOW_LONG: readonly string[] = ["a week", "two weeks", "a month", "three months", "half a year", "a year"];
const WHO: readonly string[] = ["wife", "husband", "sister", "brother", "friend", "mother", "father", "neighbor"];
const DAYS: readonly string[] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

/** Opening sentences that name the product (with the code slot before its name) and judge nothing. */
function opening(rng: Rng, product: string): string {
  const p = `the ${CODE_SLOT}${product}`;
  switch (rng.int(7)) {
    case 0:
      return `I bought ${p} ${rng.pick(WHEN)}.`;
    case 1:
      return `We ordered ${p} ${rng.pick(["for my son", "for my daughter", "for the office", "as a gift", "for our trip"])}.`;
    case 2:
      return `${cap(p)} arrived ${rng.pick(["yesterday", "on time", `on ${rng.pick(DAYS)}`, "two days ago"])}.`;
    case 3:
      return `I have been using ${p} for ${rng.pick(HOW_LONG)}.`;
    case 4:
      return `My ${rng.pick(WHO)} gave me ${p} ${rng.pick(["for my birthday", "last week", "as a present"])}.`;
    case 5:
      return `Here is my review of ${p}.`;
    default:
      return `I got ${p} ${rng.pick(WHEN)} after reading about it.`;
  }
}

/** Remarks that judge nothing. */
function remark(rng: Rng, it: string): string {
  switch (rng.int(6)) {
    case 0:
      return `Shipping took ${rng.pick(["two", "three", "four", "five"])} days.`;
    case 1:
      return `It came in a ${rng.pick(["small", "plain", "brown", "white"])} box.`;
    case 2:
      return `I use ${it} ${rng.pick(["every day", "at work", "at home", "on weekends", "in the evening"])}.`;
    case 3:
      return `My ${rng.pick(WHO)} has the same model.`;
    case 4:
      return `I ordered ${it} on a ${rng.pick(DAYS)}.`;
    default:
      return `It is ${rng.pick(["black", "white", "gray", "blue", "red", "green"])}.`;
  }
}

const cap = (s: string) => `${s[0]?.toUpperCase() ?? ""}${s.slice(1)}`;
const maybe = (rng: Rng, p: number, s: string) => (rng.chance(p) ? s : "");
/** An adjective of polarity `p`, intensified or not. */
const adjective = (rng: Rng, p: Polarity) =>
  `${maybe(rng, 0.35, `${rng.pick(INTENSIFIERS)} `)}${rng.pick(p === "positive" ? POSITIVE : NEGATIVE)}`;

/**
 * One opinion of polarity `p` about the product or one of its aspects (what works or breaks is a part of it, not
 * its price or design).
 */
function opinion(rng: Rng, p: Polarity, product: Product): string {
  const kind = rng.int(9);
  const physical = kind === 6 || kind === 7;
  const aspects = physical ? product.aspects : [...product.aspects, ...GENERAL_ASPECTS];
  const aspect = rng.pick(aspects);
  const onProduct = rng.chance(0.25);
  const subject = onProduct ? `the ${product.name}` : `the ${aspect}`;
  const is = (onProduct ? product.plural : isPlural(aspect)) ? "are" : "is";
  switch (kind) {
    case 0:
    case 1:
      return `${cap(subject)} ${is} ${adjective(rng, p)}.`;
    case 2: {
      // a negated adjective of the other polarity: "not very good", "not bad at all"
      const adj = rng.pick(p === "positive" ? NEGATABLE_NEGATIVE : NEGATABLE_POSITIVE);
      const degree = p === "negative" ? maybe(rng, 0.4, `${rng.pick(["very", "that", "really", "particularly"])} `) : "";
      const tail = p === "positive" ? maybe(rng, 0.5, " at all") : "";
      return `${cap(subject)} ${is} not ${degree}${adj}${tail}.`;
    }
    case 3:
      return `I ${rng.pick(LIKES[p])} ${subject}.`;
    case 4:
      return `I am ${maybe(rng, 0.4, `${rng.pick(["very", "really", "so", "quite"])} `)}${rng.pick(FEELINGS[p])} with ${subject}.`;
    case 5:
      // a negated feeling of the other polarity: "I am not happy with", "I am not disappointed with"
      return `I am not ${rng.pick(NEGATED_FEELINGS[p])} with ${subject}.`;
    case 6:
      return `${cap(subject)} ${is === "are" ? "work" : "works"} ${rng.pick(WORKS[p])}.`;
    case 7:
      if (p === "negative")
        return `${cap(subject)} ${rng.pick(["broke", "stopped working", "fell apart"])} after ${rng.pick(HOW_LONG)}.`;
      return `${cap(subject)} still ${is === "are" ? "work" : "works"} like new after ${rng.pick(HOW_LONG)}.`;
    default: {
      const second = rng.pickOther(aspects, [aspect]);
      const is2 = isPlural(second) ? "are" : "is";
      return `The ${aspect} ${isPlural(aspect) ? "are" : "is"} ${adjective(rng, p)} and the ${second} ${is2} ${adjective(rng, p)}.`;
    }
  }
}

/**
 * A review expressing `sentiment`, drawn with `rng`: an opening naming the product (with the code slot), one to
 * three opinions of that polarity with at most one neutral remark among them, and a verdict about half the time.
 * @example renderReview(generateReview(new Rng(1), "positive"), "ZX9") // "I bought the ZX9 kettle last week. The lid is really great. Five stars."
 */
export function generateReview(rng: Rng, sentiment: Polarity): Review {
  const product = rng.pick(PRODUCTS);
  const it = product.plural ? "them" : "it";
  const body: string[] = [];
  const n = rng.range(1, 3);
  for (let i = 0; i < n; i++) {
    const o = rng.chance(0.12) ? rng.pick(EXPECTATIONS[sentiment]) : opinion(rng, sentiment, product);
    if (!body.includes(o)) body.push(o);
  }
  if (rng.chance(0.35)) body.splice(rng.int(body.length + 1), 0, remark(rng, it));
  const verdict = rng.chance(0.5) ? [rng.pick(VERDICTS[sentiment])] : [];
  return { template: [opening(rng, product.name), ...body, ...verdict].join(" "), sentiment, product: product.name };
}

/** Review `index` of the stream seeded with `seed`, expressing `sentiment`. */
export function reviewAt(seed: number, index: number, sentiment: Polarity): Review {
  return generateReview(new Rng(itemSeed(seed, index)), sentiment);
}
