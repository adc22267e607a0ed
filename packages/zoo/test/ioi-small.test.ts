// The committed ioi-small model (zoo/ioi-small): its card's claims hold when measured again and equal the values
// its training recorded; the pairs its accuracy is measured on are exactly the held-out pairs its ground truth
// lists, none of which forms an IOI sentence in the training text.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ioiItem, ioiSmall, ioiTrainingText, namePairs } from "../src/index.js";
import { expectClaimsAsRecorded, expectCompleteFolder, zooFolder } from "./committed.js";

const folder = zooFolder("ioi-small");

describe("zoo/ioi-small", () => {
  it("verify: every claim holds, at the values recorded when it was trained", () => {
    expectClaimsAsRecorded(ioiSmall, folder);
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

  it("is a complete Hugging Face folder within the zoo's 20 MB, with its card, log and ground truth", () => {
    expectCompleteFolder(folder, { languageModel: true });
  });
});
