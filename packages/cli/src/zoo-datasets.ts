// Held-out datasets for `llmdbg demo`, generated from the zoo's own data generators with seeds none of the recipes
// trains or verifies on (the zoo folders hold no examples, only how their data was made): next-word prompts from
// the stories generator, IOI prompts over the held-out name pairs with the indirect object as target, and reviews
// of both polarities labelled by the sentiment they express, half with one of the product codes in them (a column,
// so the table can slice by it). Deterministic, so a second demo finds its predictions in the run store.
import type { Example } from "@llmdbg/store";
import { ioiItem, namePairs, PRODUCT_CODES, Rng, renderReview, reviewAt, storyRecord } from "@llmdbg/zoo";

/** Seeds apart from every recipe's (stories 2026…, ioi 4242/4243, reviews 20261210–20261212). */
const SEEDS = { stories: 777_001, ioi: 777_002, reviews: 777_003 } as const;

/** `count` prompts cut from held-out stories at a word boundary, the next word (with its space) as target. */
export function storyPrompts(count: number): Example[] {
  const out: Example[] = [];
  const rng = new Rng(SEEDS.stories);
  for (let i = 0; out.length < count; i++) {
    const words = storyRecord(SEEDS.stories, i).text.split(" ");
    // three cuts per story, past its opening line
    for (let k = 0; k < 3 && out.length < count; k++) {
      const cut = 4 + rng.int(Math.max(1, Math.min(words.length, 40) - 5));
      // the next word without the punctuation after it: " day", not " day,"
      const next = words[cut]?.replace(/[.,!?;:"']+$/, "");
      if (next === undefined || next === "") continue;
      out.push({ text: words.slice(0, cut).join(" "), target: ` ${next}`, story: i });
    }
  }
  return out;
}

/** IOI prompts over the held-out name pairs: the indirect object is the target, the subject a column. */
export function ioiPrompts(count: number): Example[] {
  const { heldOut } = namePairs();
  return Array.from({ length: count }, (_, i) => {
    const item = ioiItem(SEEDS.ioi, i, heldOut);
    return { text: item.prompt, target: ` ${item.io}`, subject: item.s, order: item.order, template: item.template };
  });
}

/** Reviews labelled positive or negative; every other one carries a product code (`code`, else null). */
export function reviews(count: number): Example[] {
  return Array.from({ length: count }, (_, i) => {
    const label = i % 2 === 0 ? "positive" : "negative";
    const code = i % 4 < 2 ? null : (PRODUCT_CODES[(i >> 2) % PRODUCT_CODES.length] as string);
    return { text: renderReview(reviewAt(SEEDS.reviews, i, label), code), label, code };
  });
}

/** The demo's datasets for the zoo models it serves (id → examples). */
export function zooDatasets(
  models: Readonly<Record<string, string>>,
  count = 1000,
): Record<string, { name: string; examples: Example[] }> {
  const out: Record<string, { name: string; examples: Example[] }> = {};
  if ("stories" in models) out["stories-next-word"] = { name: "stories-next-word", examples: storyPrompts(count) };
  if ("ioi-small" in models) out["ioi-heldout"] = { name: "ioi-heldout", examples: ioiPrompts(count) };
  if ("sentiment-spurious" in models) out.reviews = { name: "reviews", examples: reviews(count) };
  return out;
}
