// Command-line parsing on node's util.parseArgs, with the checks every command shares. A mistake in the
// command line is a UsageError: main prints it with the command's usage line and exits 2, so scripts can tell
// "you called me wrong" from "the model file is broken" (exit 1).
import { type ParseArgsConfig, parseArgs } from "node:util";

export class UsageError extends Error {
  override name = "UsageError";
}

/**
 * util.parseArgs in strict mode, its errors (unknown flag, missing value) turned into UsageErrors.
 * @example const { values, positionals } = parse(argv, { json: { type: "boolean" } })
 */
export function parse<const O extends NonNullable<ParseArgsConfig["options"]>>(argv: readonly string[], options: O) {
  try {
    return parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
  } catch (e) {
    // parseArgs throws TypeErrors with ERR_PARSE_ARGS_* codes for command-line mistakes
    if (e instanceof TypeError && String((e as { code?: unknown }).code).startsWith("ERR_PARSE_ARGS"))
      throw new UsageError(e.message);
    throw e;
  }
}

/** The single `<model>` positional. */
export function modelPath(positionals: readonly string[]): string {
  if (positionals.length === 0) throw new UsageError("missing <model> (a Hugging Face model folder or a .gguf file)");
  if (positionals.length > 1) throw new UsageError(`expected one <model>, got ${positionals.length}: ${positionals.join(" ")}`);
  return positionals[0] as string;
}

/** An integer flag in [min, max]; undefined when absent. */
export function intFlag(flag: string, v: string | undefined, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === "" || !Number.isSafeInteger(n) || n < min || n > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in [${min}, ${max}]`;
    throw new UsageError(`--${flag} must be an integer ${range}, got ${JSON.stringify(v)}`);
  }
  return n;
}

/** A finite number flag accepted by `ok`; undefined when absent. */
export function numFlag(flag: string, v: string | undefined, ok: (n: number) => boolean, what: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === "" || !Number.isFinite(n) || !ok(n))
    throw new UsageError(`--${flag} must be ${what}, got ${JSON.stringify(v)}`);
  return n;
}

/** `--tokens 1,2,3` → [1, 2, 3]. */
export function tokenList(v: string): number[] {
  const parts = v.split(",").map((s) => s.trim());
  return parts.map((s) => {
    const n = Number(s);
    if (s === "" || !Number.isSafeInteger(n) || n < 0)
      throw new UsageError(`--tokens must be comma-separated token ids, got ${JSON.stringify(v)}`);
    return n;
  });
}

/** One of a closed set of values. */
export function oneOf<T extends string>(flag: string, v: string | undefined, allowed: readonly T[]): T | undefined {
  if (v === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(v))
    throw new UsageError(`--${flag} must be one of ${allowed.join(", ")}, got ${JSON.stringify(v)}`);
  return v as T;
}

/**
 * Hook-name globs: comma-separated, `*` matches any run of characters (dots included), so
 * `blocks.*.attn.hook_pattern` and `*hook_pattern` both select every layer's pattern. Each glob must select
 * at least one of `names`, so a typo is an error rather than an empty file.
 * @example selectHooks("blocks.*.attn.hook_pattern,hook_embed", model.hookPoints.map((p) => p.name))
 */
export function selectHooks(pattern: string, names: readonly string[]): string[] {
  const globs = pattern
    .split(",")
    .map((p) => p.trim())
    .filter((p) => p !== "");
  if (globs.length === 0) throw new UsageError(`--cache: empty pattern ${JSON.stringify(pattern)}`);
  const picked = new Set<string>();
  for (const g of globs) {
    const re = new RegExp(`^${g.split("*").map(escapeRegex).join(".*")}$`);
    const hits = names.filter((n) => re.test(n));
    if (hits.length === 0) {
      const sample = names.slice(0, 6).join(", ");
      throw new UsageError(
        `--cache: ${JSON.stringify(g)} matches no hook point (they are named like ${sample}, …; see llmdbg inspect)`,
      );
    }
    for (const h of hits) picked.add(h);
  }
  // in the model's order, not the order of the globs
  return names.filter((n) => picked.has(n));
}

function escapeRegex(s: string): string {
  return s.replace(/[.+?^${}()|[\]\\]/g, "\\$&");
}
