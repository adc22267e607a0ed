// max |a − b| / max |b|: how the tensor tests state a kernel's difference from its oracle. The packages above use
// @llmdbg/testing's relDiff; the engine's tests import no other package (it is the bottom of the graph).
import { expect } from "vitest";
import type { Tensor } from "../src/index.js";

export function relDiff(a: Tensor, b: Tensor): number {
  expect(a.shape).toEqual(b.shape);
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.size; i++) {
    d = Math.max(d, Math.abs((a.data[i] as number) - (b.data[i] as number)));
    m = Math.max(m, Math.abs(b.data[i] as number));
  }
  return d / Math.max(m, 1e-30);
}
