// Choosing hook points (or parameters) by name: exact names, globs, negative layer indices. A pattern that
// selects nothing is an error that shows how the names look — a typo (`hook_patern`) must never quietly
// cache nothing.

/** Hook points or parameters to select: all, none, names or globs (`*` matches any characters, dots included), or a predicate. */
export type NameFilter = boolean | string | readonly string[] | ((name: string) => boolean);

/** The block count the names imply (one more than the largest `blocks.N.`), for negative layer indices. */
export function layerCount(names: readonly string[]): number {
  let n = 0;
  for (const name of names) {
    const m = /^blocks\.(\d+)\./.exec(name);
    if (m) n = Math.max(n, Number(m[1]) + 1);
  }
  return n;
}

/**
 * `blocks.-1.attn.hook_z` → `blocks.<last>.attn.hook_z` (negative layers count from the end); other names as they are.
 * @example resolveLayer("blocks.-1.hook_resid_post", 12) // "blocks.11.hook_resid_post"
 */
export function resolveLayer(name: string, nLayers: number): string {
  const m = /^blocks\.(-\d+)\./.exec(name);
  if (m === null) return name;
  const l = nLayers + Number(m[1]);
  if (l < 0) throw new RangeError(`"${name}": layer ${m[1]} is before the first of ${nLayers} blocks`);
  return `blocks.${l}.${name.slice(m[0].length)}`;
}

/** Edit distance (Levenshtein), for "did you mean" (names are short). */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(
        (prev[j] as number) + 1,
        (cur[j - 1] as number) + 1,
        (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    prev = cur;
  }
  return prev[b.length] as number;
}

/** Up to three names within a few edits of `pattern` (globs compared with their `*` as written). */
function nearest(pattern: string, names: readonly string[]): string[] {
  const limit = Math.max(2, Math.floor(pattern.length / 8));
  return names
    .map((n) => [n, editDistance(pattern, n)] as const)
    .filter(([, d]) => d <= limit)
    .sort((a, b) => a[1] - b[1])
    .slice(0, 3)
    .map(([n]) => n);
}

function escapeRegex(s: string): string {
  return s.replace(/[.+?^${}()|[\]\\]/g, "\\$&");
}

/** The patterns of a filter given as text: comma-separated, trimmed, none empty. */
function patternsOf(f: string | readonly string[]): string[] {
  const list = typeof f === "string" ? f.split(",") : [...f];
  return list.map((p) => p.trim()).filter((p) => p !== "");
}

/**
 * The names a filter selects, in the order of `names`. Every glob or name must select at least one; the error
 * says which did not, and how the names look. `what` names the option in errors (`cache`, `grads.params`).
 * @example selectNames("blocks.*.attn.hook_pattern,hook_embed", model.hookPoints.map((p) => p.name), "cache")
 */
export function selectNames(filter: NameFilter | undefined, names: readonly string[], what: string): string[] {
  if (filter === undefined || filter === false) return [];
  if (filter === true) return [...names];
  if (typeof filter === "function") return names.filter(filter);
  const patterns = patternsOf(filter);
  if (patterns.length === 0 && typeof filter === "string") throw new Error(`${what}: empty pattern ${JSON.stringify(filter)}`);
  const L = layerCount(names);
  const picked = new Set<string>();
  for (const raw of patterns) {
    const p = resolveLayer(raw, L);
    const re = new RegExp(`^${p.split("*").map(escapeRegex).join(".*")}$`);
    const hits = names.filter((n) => re.test(n));
    if (hits.length === 0) {
      const close = nearest(p, names);
      const hint =
        close.length > 0 ? `did you mean ${close.join(", ")}?` : `they are named like ${names.slice(0, 4).join(", ")}, …`;
      throw new Error(`${what}: ${JSON.stringify(raw)} matches nothing (${hint})`);
    }
    for (const h of hits) picked.add(h);
  }
  return names.filter((n) => picked.has(n));
}
