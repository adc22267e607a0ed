// A command's flags as one typed table: each flag's parsing (and its check) and its help text sit together, the
// help lines are generated from the table, and `parse` returns every value already checked and typed.
import { intFlag, numFlag, oneOf, parse } from "./args.js";

/** One flag: how util.parseArgs sees it, its argument name and help line, and how its raw value is read. */
export interface FlagSpec<V> {
  readonly type: "string" | "boolean";
  /** the flag may be given several times; `read` then gets every value */
  readonly multiple?: boolean;
  /** the argument's name in the help (`N`, `FILE`); none for a boolean */
  readonly arg?: string;
  readonly help: string;
  /** the checked value, or undefined when the flag is absent (throws a UsageError for a bad value) */
  readonly read: (raw: string | boolean | string[] | undefined, name: string) => V;
}

/** The flag constructors: each says what a valid value is. */
export const flag = {
  /** present or not */
  bool: (help: string): FlagSpec<boolean> => ({ type: "boolean", help, read: (v) => v === true }),
  /** any text */
  text: (arg: string, help: string): FlagSpec<string | undefined> => ({
    type: "string",
    arg,
    help,
    read: (v) => (typeof v === "string" ? v : undefined),
  }),
  /** any text, as often as given (`--model a --model b`); empty when absent */
  list: (arg: string, help: string): FlagSpec<string[]> => ({
    type: "string",
    multiple: true,
    arg,
    help,
    read: (v) => (Array.isArray(v) ? v : typeof v === "string" ? [v] : []),
  }),
  /** an integer in [min, max] */
  int: (arg: string, help: string, min: number, max?: number): FlagSpec<number | undefined> => ({
    type: "string",
    arg,
    help,
    read: (v, name) => intFlag(name, typeof v === "string" ? v : undefined, min, max),
  }),
  /** a finite number `ok` accepts, described as `what` in errors */
  num: (arg: string, help: string, ok: (n: number) => boolean, what: string): FlagSpec<number | undefined> => ({
    type: "string",
    arg,
    help,
    read: (v, name) => numFlag(name, typeof v === "string" ? v : undefined, ok, what),
  }),
  /** one of a closed set */
  oneOf: <T extends string>(arg: string, help: string, allowed: readonly T[]): FlagSpec<T | undefined> => ({
    type: "string",
    arg,
    help,
    read: (v, name) => oneOf(name, typeof v === "string" ? v : undefined, allowed),
  }),
};

type Values<T extends Record<string, FlagSpec<unknown>>> = {
  -readonly [K in keyof T]: T[K] extends FlagSpec<infer V> ? V : never;
};

export interface Flags<T extends Record<string, FlagSpec<unknown>>> {
  /** `--name ARG   help`, aligned, in the table's order */
  readonly help: string[];
  /** the command line, every flag read and checked; unknown flags and missing values are UsageErrors */
  parse(argv: readonly string[]): { values: Values<T>; positionals: string[] };
}

/**
 * A command's flag table.
 * @example const flags = defineFlags({ seq: flag.int("N", "tokens the shapes are for (default 8)", 1), json: flag.bool("one JSON object") })
 */
export function defineFlags<T extends Record<string, FlagSpec<unknown>>>(
  table: T,
  /** help lines for the positional arguments, listed first: `{ "<model>": "a Hugging Face folder, …" }` */
  positionals: Readonly<Record<string, string>> = {},
): Flags<T> {
  const entries = Object.entries(table) as [string, FlagSpec<unknown>][];
  const heads = entries.map(([name, f]) => (f.arg === undefined ? `--${name}` : `--${name} ${f.arg}`));
  const width = Math.max(...heads.map((h) => h.length), ...Object.keys(positionals).map((p) => p.length));
  const options = Object.fromEntries(
    entries.map(([name, f]) => [name, { type: f.type, ...(f.multiple === true && { multiple: true }) }]),
  ) as Record<string, { type: "string" | "boolean"; multiple?: boolean }>;
  return {
    help: [
      ...Object.entries(positionals).map(([name, help]) => `${name.padEnd(width)}  ${help}`),
      ...entries.map(([, f], i) => `${(heads[i] as string).padEnd(width)}  ${f.help}`),
    ],
    parse(argv) {
      const { values, positionals } = parse(argv, options);
      const raw = values as Record<string, string | boolean | string[] | undefined>;
      const out = Object.fromEntries(entries.map(([name, f]) => [name, f.read(raw[name], name)])) as Values<T>;
      return { values: out, positionals };
    },
  };
}
