// How token text and numbers are shown: whitespace made visible (a leading space as "·", a newline as "↵", a tab
// as "→") so that " the" and "the" differ on screen, and probabilities as short percentages. React escapes the
// text itself; nothing here builds HTML.

/** Token text with its whitespace visible; `null` (no tokenizer) shows the id. */
export function visible(text: string | null, id?: number): string {
  if (text === null) return id === undefined ? "∅" : `#${id}`;
  if (text === "") return "∅";
  return text.replace(/ /g, "·").replace(/\n/g, "↵").replace(/\r/g, "␍").replace(/\t/g, "→");
}

/** A probability as a percentage with about three significant digits ("12.3%", "0.45%", "<0.01%"). */
export function pct(p: number): string {
  if (!Number.isFinite(p)) return "–";
  const x = 100 * p;
  if (x === 0) return "0%";
  if (x < 0.01) return "<0.01%";
  return `${x >= 10 ? x.toFixed(1) : x >= 1 ? x.toFixed(2) : x.toPrecision(2)}%`;
}

/** A score in a table: fixed digits, "–" for a missing one. */
export function num(x: number | null | undefined, digits = 3): string {
  return x === null || x === undefined || !Number.isFinite(x) ? "–" : x.toFixed(digits);
}
