// The projector's requests over the WebSocket: a projection's packed columns arrive equal to the method's own
// result computed in-process, a region probe answers, and bad fields are invalid_params replies naming them on a
// connection that stays usable.
import { projection } from "@llmdbg/methods";
import { loadModel } from "@llmdbg/models";
import type { MethodRequest, ProjectionExample, RpcReply } from "@llmdbg/protocol";
import { expectMethodResult } from "@llmdbg/testing/vitest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningServer } from "../src/index.js";
import { Client, final, serve, tinyFolder } from "./helpers.js";

describe("projector requests", () => {
  const f = tinyFolder();
  let s: RunningServer;
  let c: Client;
  const dataset: ProjectionExample[] = Array.from({ length: 12 }, (_, i) => ({
    text: ["hello world", "the cat sat", "a big red dog ran"][i % 3] as string,
    label: i % 2 === 0 ? "even" : "odd",
  }));

  beforeAll(async () => {
    s = await serve(f.model);
    c = await Client.open(s);
  });
  afterAll(async () => {
    c?.close();
    await s?.close();
    f.cleanup();
  });

  const method = async (id: string, request: MethodRequest): Promise<RpcReply> =>
    final(await c.call(id, "method", { model: "tiny", request }));

  it("a projection's columns are the in-process result's, and a probe on a region answers", async () => {
    const request = { kind: "projection", hook: "blocks.0.hook_resid_post", dataset } as const;
    const r = await method("p", request);
    if (r.kind !== "result" || r.result.kind !== "projection") throw new Error(JSON.stringify(r));
    expectMethodResult(r.result);
    const local = projection(loadModel(f.model).model, request);
    expect([r.result.example, r.result.position, r.result.token, r.result.prediction, r.result.label]).toEqual([
      local.example,
      local.position,
      local.token,
      local.prediction,
      local.label,
    ]);
    // the coordinates agree to float rounding (the worker threads run the same ref backend)
    const xy = (b64: string) => new Float32Array(new Uint8Array(Buffer.from(b64, "base64")).buffer);
    const [a, b] = [xy(r.result.xy), xy(local.xy)];
    expect(a.length).toBe(b.length);
    let dev = 0;
    for (let i = 0; i < a.length; i++) dev = Math.max(dev, Math.abs((a[i] as number) - (b[i] as number)));
    expect(dev).toBeLessThan(1e-3);

    const p = await method("q", {
      kind: "projection_probe",
      hook: "blocks.0.hook_resid_post",
      dataset,
      inside: [0, 0, 3, 0, 6, 0, 9, 0],
      outside: [1, 0, 2, 0, 4, 0, 5, 0, 7, 0, 8, 0],
      steps: 50,
    });
    if (p.kind !== "result" || p.result.kind !== "projection_probe") throw new Error(JSON.stringify(p));
    expectMethodResult(p.result);
    expect([p.result.insideCount, p.result.outsideCount]).toEqual([4, 6]);
  });

  it("bad fields are invalid_params replies naming them, and the connection stays usable", async () => {
    const bad = [
      [{ kind: "projection", hook: "nope", dataset }, /^request\.hook: /],
      [{ kind: "projection", hook: "hook_embed", dataset: [{ text: 5 }] }, /^request\.dataset\[0\]\.text: expected a string/],
      [{ kind: "projection", hook: "hook_embed", dataset, method: "umap", maxPoints: 6000 }, /^request\.maxPoints: /],
      [
        { kind: "projection_probe", hook: "hook_embed", dataset, inside: [0, 0, 99, 0], outside: [1, 0, 2, 0] },
        /^request\.inside\[2\]: /,
      ],
    ] as const;
    for (const [i, [request, message]] of bad.entries()) {
      const r = await method(`bad${i}`, request as unknown as MethodRequest);
      expect(r.kind).toBe("error");
      if (r.kind === "error") {
        expect(r.code).toBe("invalid_params");
        expect(r.message).toMatch(message);
      }
    }
    const ok = await method("after", { kind: "projection", hook: "hook_embed", dataset, points: "last" });
    expect(ok.kind === "result" && ok.result.kind === "projection" && ok.result.count).toBe(12);
  });
});
