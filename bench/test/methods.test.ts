// The methods section's inputs to its PyTorch peer: the KernelSHAP masks are exactly those ours evaluates, in its
// order; the patching grid is normalized the way activationPatching reports it. No torch, no model.
import { kernelShap } from "@llmdbg/methods";
import { describe, expect, it } from "vitest";
import { corruptIds, maskString, normalizeGrid, shapMasks, tokenIds } from "../methods.js";

describe("methods bench inputs", () => {
  it("shapMasks gives all-kept, all-masked, then the seeded coalitions kernelShap evaluates", () => {
    const n = 12;
    const masks = shapMasks(n, 40, 3);
    expect(masks).toHaveLength(42);
    expect(maskString(masks[0] as Uint8Array)).toBe("1".repeat(n));
    expect(maskString(masks[1] as Uint8Array)).toBe("0".repeat(n));
    // a value function that reads what it is given: the same masks, in the same order, the same again
    const seen: string[] = [];
    kernelShap(
      n,
      (ms) => {
        seen.push(...ms.map(maskString));
        return ms.map((m) => m.reduce((a, b) => a + b, 0));
      },
      { samples: 40, seed: 3 },
    );
    expect(seen).toEqual(masks.map(maskString));
    expect(shapMasks(n, 40, 3).map(maskString)).toEqual(seen);
    expect(shapMasks(n, 40, 4).map(maskString)).not.toEqual(seen);
  });

  it("maskString writes one character per position", () => {
    expect(maskString(Uint8Array.from([1, 0, 0, 1]))).toBe("1001");
  });

  it("normalizeGrid: (m − corrupted) / (clean − corrupted) over the cells before the two metrics", () => {
    const g = normalizeGrid([1, 2, 3, 5, 1]); // cells 1, 2, 3; clean 5, corrupted 1
    expect(Array.from(g)).toEqual([0, 0.25, 0.5]);
  });

  it("the corrupted prompt differs at every 8th position and keeps the last token", () => {
    const ids = tokenIds(64, 50257);
    const bad = corruptIds(ids, 50257);
    const changed = ids.flatMap((v, i) => (v !== bad[i] ? [i] : []));
    expect(changed).toEqual([3, 11, 19, 27, 35, 43, 51, 59]);
    expect(bad.every((v) => Number.isInteger(v) && v >= 0 && v < 50257)).toBe(true);
  });
});
