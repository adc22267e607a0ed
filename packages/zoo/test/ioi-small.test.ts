// The committed ioi-small model (zoo/ioi-small): its card's claims hold when measured again and equal the values
// its training recorded; the pairs its accuracy is measured on are exactly the held-out pairs its ground truth
// lists, none of which forms an IOI sentence in the training text.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ioiItem, ioiSmall, ioiTrainingText, namePairs } from "../src/index.js";
import { verifyZoo } from "../src/node.js";

const folder = new URL("../../../zoo/ioi-small", import.meta.url).pathname;

describe("zoo/ioi-small", () => {
  it("verify: every claim holds, at the values recorded when it was trained", () => {
    const claims = verifyZoo(ioiSmall, folder);
    expect(claims.filter((c) => !c.pass)).toEqual([]);
    const recorded = JSON.parse(readFileSync(join(folder, "claims.json"), "utf8")) as typeof claims;
    for (const [i, c] of claims.entries()) {
      const r = recorded[i] as (typeof claims)[number];
      expect(c.name).toBe(r.name);
      expect(Math.abs(c.value - r.value), c.name).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(r.value)));
    }
  });

  it("is measured on the held-out pairs of its ground truth, which form no training sentence", () => {
    const truth = JSON.parse(readFileSync(join(folder, "truth.json"), "utf8"));
    const held: [string, string][] = truth.planted[0].heldOutPairs;
    expect(namePairs().heldOut).toEqual(held);
    const { train } = namePairs();
    const isHeld = (x: string, y: string) => held.some(([a, b]) => (a === x && b === y) || (a === y && b === x));
    for (let i = 0; i < 3000; i++) {
      const it = ioiItem(4242, i, train);
      expect(isHeld(it.io, it.s), it.prompt).toBe(false);
      // the training text's IOI sentences are these items with their answer
      const text = ioiTrainingText(4242, i, train);
      if (text.startsWith(it.prompt)) expect(text).toBe(`${it.prompt} ${it.io}.`);
    }
  });
});
