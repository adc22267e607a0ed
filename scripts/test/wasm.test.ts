// The WebAssembly kernels ship as generated TypeScript (scripts/wasm.mjs): each committed `-wasm.ts` must be what
// its `.wat` compiles to, so an edit of the text format cannot land without the bytes that run.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { tsPathOf, watFiles, watToTs } from "../wasm.mjs";

describe("the WebAssembly kernels", () => {
  it("include the AdamW kernel", () => {
    expect(watFiles().some((p) => p.endsWith("packages/train/src/adamw.wat"))).toBe(true);
  });

  it.each(watFiles().map((p) => [p.slice(p.indexOf("packages/")), p]))(
    "%s compiles to the committed bytes",
    async (_rel, wat) => {
      expect(readFileSync(tsPathOf(wat), "utf8")).toBe(await watToTs(wat));
    },
  );
});
