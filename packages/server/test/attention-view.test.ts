// The attention view's two requests over the WebSocket: the overview's thumbnails and the single-head pattern,
// decoded, equal the attention method's full patterns computed in-process within the sqrt8 quantization step;
// a head out of range is an invalid_params reply naming request.head on a connection that stays usable.

import { join } from "node:path";
import { attentionAnalysis, dequantizeSqrt8 } from "@llmdbg/methods";
import { loadModel } from "@llmdbg/models";
import type { MethodRequest, RpcReply } from "@llmdbg/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningServer } from "../src/index.js";
import { PatternShelves } from "../src/shelf.js";
import { bearer, Client, final, http, serve, tinyFolder } from "./helpers.js";

const step = (v: number) => (Math.sqrt(Math.max(v, 0)) + 0.001) / 255 + 1e-7;

describe("attention view requests", () => {
  const f = tinyFolder();
  let s: RunningServer;
  let c: Client;
  const m = loadModel(f.model);
  const ids = Array.from({ length: 48 }, (_, i) => (i * 5 + 1) % 60);
  const full = attentionAnalysis(m.model, { kind: "attention", input: { ids }, includePatterns: true });
  const patterns = full.patterns as number[][][][];
  const P = ids.length;

  beforeAll(async () => {
    s = await serve(f.model, { store: join(f.dir, "store") });
    c = await Client.open(s);
  });
  afterAll(async () => {
    c?.close();
    await s?.close();
    f.cleanup();
  });

  const method = async (id: string, request: MethodRequest): Promise<RpcReply> =>
    final(await c.call(id, "method", { model: "tiny", request }));

  it("the overview's thumbnails are the max-pooled patterns, within the quantization step", async () => {
    const r = await method("o", { kind: "attention_overview", input: { ids }, thumbnail: 12 });
    if (r.kind !== "result" || r.result.kind !== "attention_overview") throw new Error(JSON.stringify(r));
    const o = r.result;
    expect(o.pool).toBe(4);
    // the server's threads run the ref backend: the same numbers up to float rounding
    const dev = o.entropy.flat().map((e, i) => Math.abs(e - (full.entropy.flat()[i] as number)));
    expect(Math.max(...dev)).toBeLessThan(1e-6);
    expect(o.entropy.flat()).toHaveLength(8);
    for (const [li, row] of o.thumbnails.entries())
      for (const [hi, t] of row.entries()) {
        const got = dequantizeSqrt8(t);
        const p = patterns[li]?.[hi] as number[][];
        for (let i = 0; i < 12; i++)
          for (let j = 0; j < 12; j++) {
            let max = 0;
            for (let q = 4 * i; q < 4 * i + 4; q++) for (let k = 4 * j; k < 4 * j + 4; k++) max = Math.max(max, p[q]?.[k] ?? 0);
            expect(Math.abs((got[i * 12 + j] as number) - max)).toBeLessThanOrEqual(step(max));
          }
      }
  });

  it("one head's pattern equals the full result's, within the quantization step", async () => {
    const r = await method("h", { kind: "attention_head", input: { ids }, layer: 1, head: 3 });
    if (r.kind !== "result" || r.result.kind !== "attention_head") throw new Error(JSON.stringify(r));
    expect([r.result.pattern.rows, r.result.pattern.cols]).toEqual([P, P]);
    const got = dequantizeSqrt8(r.result.pattern);
    const p = patterns[1]?.[3] as number[][];
    let n = 0;
    for (let q = 0; q < P; q++)
      for (let k = 0; k < P; k++) {
        const v = p[q]?.[k] as number;
        expect(Math.abs((got[q * P + k] as number) - v)).toBeLessThanOrEqual(step(v));
        n++;
      }
    expect(n).toBe(P * P);
  });

  it("a head out of range is an invalid_params reply naming the field; the connection stays usable", async () => {
    const bad = await method("bad", { kind: "attention_head", input: { ids }, layer: 0, head: 4 });
    expect(bad.kind).toBe("error");
    if (bad.kind !== "error") return;
    expect(bad.code).toBe("invalid_params");
    expect(bad.message).toMatch(/^request\.head: /);
    const ok = await method("ok", { kind: "attention_head", input: { ids: [1, 2, 3] }, layer: -1, head: 0 });
    expect(ok.kind).toBe("result");
  });

  it("stores the overviews as runs but not the heads fetched for display", async () => {
    // recording happens just after each reply: wait until the overview of the first test is listed
    let kinds: string[] = [];
    for (let i = 0; i < 100 && !kinds.includes("attention_overview"); i++) {
      await new Promise((r) => setTimeout(r, 50));
      const r = await http(s.port, "/api/runs", { headers: bearer(s) });
      kinds = (JSON.parse(r.body) as { runs: { kind: string }[] }).runs.map((x) => x.kind);
    }
    expect(kinds).toContain("attention_overview");
    expect(kinds).not.toContain("attention_head");
  });
});

describe("the pattern shelves", () => {
  it("keep the newest input per model within the byte budget; a new input replaces the old", () => {
    const s = new PatternShelves(100);
    const a = s.of("a");
    a.put([1, 2], 0, new Uint8Array(30));
    a.put([1, 2], 1, new Uint8Array(30));
    expect(a.get([1, 2], 1)?.length).toBe(30);
    expect(a.get([1, 3], 1)).toBeUndefined();
    s.of("b").put([5], 0, new Uint8Array(30));
    expect(s.bytes).toBe(90);
    // over budget: the other model's input goes first
    a.put([1, 2], 2, new Uint8Array(30));
    expect(s.of("b").get([5], 0)).toBeUndefined();
    expect(s.bytes).toBe(90);
    // a new input of the same model replaces its old one
    a.put([9], 0, new Uint8Array(10));
    expect(a.get([1, 2], 0)).toBeUndefined();
    expect(s.bytes).toBe(10);
    // one input larger than the budget is dropped whole, never half kept
    a.put([7], 0, new Uint8Array(60));
    a.put([7], 1, new Uint8Array(60));
    expect(a.get([7], 0)).toBeUndefined();
    expect(s.bytes).toBe(0);
    a.put([8], 0, new Uint8Array(101));
    expect(a.get([8], 0)).toBeUndefined();
  });
});
