// A command's flag table: help lines generated from it, values read and checked by their own flag, usage errors
// for bad values and unknown flags.
import { describe, expect, it } from "vitest";
import { UsageError } from "../src/args.js";
import { defineFlags, flag } from "../src/flags.js";

const flags = defineFlags(
  {
    n: flag.int("N", "how many (default 3)", 1, 10),
    p: flag.num("P", "a probability", (x) => x > 0 && x <= 1, "a number in (0, 1]"),
    mode: flag.oneOf("M", "fast or slow", ["fast", "slow"] as const),
    name: flag.text("S", "any text"),
    json: flag.bool("one JSON object"),
  },
  { "<model>": "the model" },
);

describe("defineFlags", () => {
  it("generates aligned help lines, positionals first", () => {
    expect(flags.help).toEqual([
      "<model>   the model",
      "--n N     how many (default 3)",
      "--p P     a probability",
      "--mode M  fast or slow",
      "--name S  any text",
      "--json    one JSON object",
    ]);
  });

  it("reads typed, checked values; absent ones are undefined (booleans false)", () => {
    const { values, positionals } = flags.parse(["m", "--n", "4", "--p=0.5", "--mode", "slow", "--name", "-x", "--json"]);
    expect(values).toEqual({ n: 4, p: 0.5, mode: "slow", name: "-x", json: true });
    expect(positionals).toEqual(["m"]);
    expect(flags.parse([]).values).toEqual({ n: undefined, p: undefined, mode: undefined, name: undefined, json: false });
  });

  it("a bad value or an unknown flag is a UsageError from the flag that knows", () => {
    expect(() => flags.parse(["--n", "11"])).toThrow(UsageError);
    expect(() => flags.parse(["--n", "-2"])).toThrow(/--n must be an integer in \[1, 10\], got "-2"/);
    expect(() => flags.parse(["--p", "2"])).toThrow(/--p must be a number in \(0, 1\], got "2"/);
    expect(() => flags.parse(["--mode", "medium"])).toThrow(/--mode must be one of fast, slow, got "medium"/);
    expect(() => flags.parse(["--nmae", "x"])).toThrow(/unknown option --nmae; did you mean --name\?/);
  });
});
