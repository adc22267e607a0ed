// The bench's bookkeeping: a row is written with figures only when its check passed; a failed or missing check
// leaves a row with no figures and the reason, which the table prints as REFUSED.
import { describe, expect, it, vi } from "vitest";
import { allOf, maxAbsDiff, maxRelDiff, notRun, printTable, row, within } from "../common.js";

const base = { section: "s", name: "n", unit: "ms" as const, peer: "p" };

describe("bench checks and rows", () => {
  it("within passes at the bound and fails above it or on NaN", () => {
    expect(within("d", 1e-6, 1e-6)).toEqual({ ok: true, detail: "d 1.00e-6 ≤ 1e-6" });
    expect(within("d", 2e-6, 1e-6)).toEqual({ ok: false, reason: "MISMATCH: d 2.00e-6 > 1e-6" });
    expect(within("d", Number.NaN, 1).ok).toBe(false);
    expect(within("d", 0, 0)).toEqual({ ok: true, detail: "d 0 ≤ 0" });
  });

  it("allOf keeps every failing reason", () => {
    const c = allOf(within("a", 1, 2), notRun("no torch"), within("b", 3, 2));
    expect(c).toEqual({ ok: false, reason: "not verified: no torch; MISMATCH: b 3.00e+0 > 2e+0" });
    expect(allOf(within("a", 1, 2), within("b", 1, 2)).ok).toBe(true);
  });

  it("a verified row carries figures and the ratio; a refused one carries only the reason", () => {
    const ok = row({ ...base, check: within("x", 0, 1), ours: 2, peer_value: 4, target: 1 });
    expect(ok).toMatchObject({ ours: 2, peer_value: 4, ratio: 0.5, met: true, refused: null, verified: "x 0 ≤ 1e+0" });
    const tput = row({ ...base, check: within("x", 0, 1), ours: 20, peer_value: 10, higherIsBetter: true });
    expect(tput.ratio).toBe(0.5);
    const bad = row({ ...base, check: notRun("python3 cannot import torch"), ours: 2, peer_value: 4, target: 1 });
    expect(bad).toMatchObject({ ours: null, peer_value: null, ratio: null, met: null, verified: null });
    expect(bad.refused).toBe("not verified: python3 cannot import torch");
    const log = vi.spyOn(console, "log").mockImplementation(() => {});
    try {
      printTable([ok, bad]);
      const lines = log.mock.calls.map((c) => String(c[0]));
      expect(lines.some((l) => l.includes("REFUSED") && l.includes("python3 cannot import torch"))).toBe(true);
    } finally {
      log.mockRestore();
    }
  });

  it("differences: NaN and length mismatches never pass", () => {
    expect(maxAbsDiff([1, 2], [1, 2.5])).toBe(0.5);
    expect(maxAbsDiff([1, 2], [1])).toBe(Number.POSITIVE_INFINITY);
    expect(Number.isNaN(maxAbsDiff([1, Number.NaN], [1, 2]))).toBe(true);
    expect(maxRelDiff([2, -4], [2, -3])).toBe(0.25);
  });
});
