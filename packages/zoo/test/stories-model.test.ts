// The committed stories model (zoo/stories): its card's claims hold when measured again on the saved folder and
// equal the values its training recorded; it is within the zoo's size budget; and, as its ground truth says,
// nothing is planted in it.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { stories } from "../src/index.js";
import { expectClaimsAsRecorded, expectCompleteFolder, zooFolder } from "./committed.js";

const folder = zooFolder("stories");

describe("zoo/stories", () => {
  it("verify: every claim of the card holds, at the values recorded when it was trained", () => {
    expectClaimsAsRecorded(stories, folder);
  });

  it("is a complete Hugging Face folder within the zoo's 20 MB, with its card, log and ground truth", () => {
    expectCompleteFolder(folder, { languageModel: true });
    expect(JSON.parse(readFileSync(join(folder, "truth.json"), "utf8")).planted).toEqual([]);
  });
});
