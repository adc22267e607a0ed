// Command-line parsing on node's util.parseArgs, with the checks every command shares. A mistake in the
// command line is a UsageError: main prints it with the command's usage line and exits 2, so scripts can tell
// "you called me wrong" from "the model file is broken" (exit 1).
import { type ParseArgsConfig, parseArgs } from "node:util";
import { editDistance, selectNames } from "@llmdbg/core";

export class UsageError extends Error {
  override name = "UsageError";
}

/**
 * util.parseArgs in strict mode, its errors (unknown flag, missing value) turned into UsageErrors.
 * @example const { values, positionals } = parse(argv, { json: { type: "boolean" } })
 */
export function parse<const O extends NonNullable<ParseArgsConfig["options"]>>(argv: readonly string[], options: O) {
  // `--max-new -5`, `--text "-x"`: parseArgs takes a value that starts with "-" for a flag. The commands have no
  // single-dash options, so such a value belongs to the string option before it (and a number is then reported
  // by the option's own check: "--max-new must be an integer >= 0, got -5"); "--…" stays an option.
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const next = argv[i + 1];
    const o = a.startsWith("--") ? (options as Record<string, { type: string }>)[a.slice(2)] : undefined;
    if (o?.type === "string" && next !== undefined && next.startsWith("-") && !next.startsWith("--")) {
      args.push(`${a}=${next}`);
      i++;
    } else args.push(a);
  }
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (e) {
    // parseArgs throws TypeErrors with ERR_PARSE_ARGS_* codes for command-line mistakes
    if (e instanceof TypeError && String((e as { code?: unknown }).code).startsWith("ERR_PARSE_ARGS")) {
      const unknown = /Unknown option '(-{1,2}[^']+)'/.exec(e.message)?.[1];
      const near = unknown === undefined ? undefined : nearestFlag(unknown.replace(/^-+/, ""), Object.keys(options));
      throw new UsageError(near === undefined ? e.message : `unknown option ${unknown}; did you mean --${near}?`);
    }
    throw e;
  }
}

/** The option within two edits of `name`, if one is. */
function nearestFlag(name: string, flags: readonly string[]): string | undefined {
  const best = flags.map((f) => [f, editDistance(name, f)] as const).sort((x, y) => x[1] - y[1])[0];
  return best !== undefined && best[1] <= 2 ? best[0] : undefined;
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
 * Hook-name globs for `--cache`: core's selectNames (comma-separated names and globs, `*` matching any characters,
 * `blocks.-1.` the last block), with a glob that matches nothing reported as a usage error.
 * @example selectHooks("blocks.*.attn.hook_pattern,hook_embed", model.hookPoints.map((p) => p.name))
 */
export function selectHooks(pattern: string, names: readonly string[]): string[] {
  try {
    return selectNames(pattern, names, "--cache");
  } catch (e) {
    throw new UsageError(`${(e as Error).message}; see llmdbg inspect`);
  }
}
