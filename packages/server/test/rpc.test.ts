// The RPC over a WebSocket: `run` gives what the same computation gives in-process, `generate` streams its
// tokens, a long method reports progress and stops when cancelled or past its budget, a full queue refuses at
// once, malformed messages are answered with errors on a connection that stays usable, finished results download
// by job id, and 50 concurrent clients each get exactly one final reply per request.
import { generate, run } from "@llmdbg/core";
import {
  ablate,
  activationPatching,
  attentionAnalysis,
  directLogitAttribution,
  gradientAttribution,
  logitLens,
  perturbationAttribution,
  steer,
  zeroHeadEdits,
} from "@llmdbg/methods";
import { loadModel } from "@llmdbg/models";
import type { MethodRequest, RpcReply } from "@llmdbg/protocol";
import * as T from "@llmdbg/tensor";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningServer, runPredictions } from "../src/index.js";
import { bearer, Client, final, http, serve, tinyFolder } from "./helpers.js";

T.useBackend("ref");

const tiny = tinyFolder();
const m = loadModel(tiny.model);
const ids = [3, 17, 42, 5, 99, 7];

/** Integrated gradients with far more steps than a test waits for: it reports progress every step. */
const long = {
  model: "tiny",
  request: {
    kind: "attribution",
    method: "integrated_gradients",
    input: { ids },
    steps: 200_000,
    batch: 1,
    rule: "riemann_middle",
  },
};
const small = { model: "tiny", request: { kind: "lens", input: { ids: [3, 17, 42] }, topK: 2 } };

let s: RunningServer;
let c: Client;
beforeAll(async () => {
  s = await serve(tiny.model, { limits: { heavyQueue: 2, graceMs: 3000 } });
  c = await Client.open(s);
});
afterAll(async () => {
  c?.close();
  await s?.close();
  tiny.cleanup();
});

const progressOf = (rs: RpcReply[]) => rs.filter((r) => r.kind === "progress");

describe("rpc", () => {
  it("models.list names the models by id, with their configs and no path", async () => {
    const r = final(await c.call("m", "models.list"));
    expect(r.kind).toBe("result");
    if (r.kind !== "result" || r.result.kind !== "models") throw new Error("expected models");
    const [info] = r.result.models;
    expect(info).toMatchObject({ id: "tiny", name: "gpt2", family: "gpt2", nLayers: m.config.nLayers, hasTokenizer: true });
    expect(JSON.stringify(r.result)).not.toContain(tiny.dir);
  });

  it("run over the WebSocket equals the same computation in-process", async () => {
    const r = final(await c.call("r", "run", { model: "tiny", input: { ids }, topK: 4 }));
    if (r.kind !== "result") throw new Error(JSON.stringify(r));
    expect(r.result).toEqual({ kind: "run", model: "tiny", ...runPredictions(m, ids, 4) });
    if (r.result.kind !== "run") throw new Error("expected run");
    // and against the model directly: the top prediction is the argmax of the logits
    const { output } = T.noGrad(() => run(m.model, T.tensor(ids, [1, ids.length], "i32")));
    const V = output.shape[2] as number;
    const data = output.data as Float32Array;
    r.result.positions.forEach(({ position, top }) => {
      const row = Array.from(data.subarray(position * V, (position + 1) * V));
      expect(top[0]?.id).toBe(row.indexOf(Math.max(...row)));
      expect(top[0]?.logit).toBe(Math.max(...row));
    });
  });

  it("run applies interventions: a head zero-ablation equals the in-process run with it and differs from the clean run", async () => {
    const interventions = [{ kind: "zero" as const, hook: "blocks.0.attn.hook_z", heads: [1] }];
    const r = final(await c.call("iv", "run", { model: "tiny", input: { ids }, topK: 4, interventions }));
    if (r.kind !== "result" || r.result.kind !== "run") throw new Error(JSON.stringify(r));
    expect(r.result).toEqual({ kind: "run", model: "tiny", ...runPredictions(m, ids, 4, interventions) });
    const x = T.tensor(ids, [1, ids.length], "i32");
    const { output } = T.noGrad(() => run(m.model, x, { interventions }));
    const last = r.result.positions.at(-1)?.top[0];
    const V = output.shape[2] as number;
    expect(last?.logit).toBe((output.data as Float32Array)[(ids.length - 1) * V + (last?.id as number)]);
    const clean = runPredictions(m, ids, 4);
    expect(r.result.positions).not.toEqual(clean.positions);
  });

  it("run zero-ablates MLP neurons by index: the same as zeroing them in a hook, and not the clean run", async () => {
    const neurons = [0, 5, -1];
    const interventions = [{ kind: "zero" as const, hook: "blocks.0.mlp.hook_post", neurons }];
    const r = final(await c.call("nv", "run", { model: "tiny", input: { ids }, topK: 3, interventions }));
    if (r.kind !== "result" || r.result.kind !== "run") throw new Error(JSON.stringify(r));
    const x = T.tensor(ids, [1, ids.length], "i32");
    const hooked = T.noGrad(
      () =>
        run(m.model, x, {
          hooks: {
            "blocks.0.mlp.hook_post": (a) => {
              const d = a.shape[2] as number; // [batch, pos, d_mlp]
              const out = Float32Array.from(a.data as Float32Array);
              for (let i = 0; i < out.length; i += d) for (const n of [0, 5, d - 1]) out[i + n] = 0;
              return T.tensor(out, [...a.shape], a.dtype);
            },
          },
        }).output,
    );
    const V = hooked.shape[2] as number;
    const data = hooked.data as Float32Array;
    for (const { position, top } of r.result.positions)
      for (const t of top) expect(Math.abs(t.logit - (data[position * V + t.id] as number))).toBeLessThan(1e-5);
    expect(r.result.positions).not.toEqual(runPredictions(m, ids, 3).positions);
  });

  it("a run's bad intervention is an invalid_params reply naming the field; the connection stays usable", async () => {
    const call = async (rid: string, interventions: unknown) =>
      final(await c.call(rid, "run", { model: "tiny", input: { ids }, interventions }));
    const cases: [unknown, RegExp][] = [
      [[{ kind: "zero", hook: "blocks.0.attn.hook_nope" }], /interventions\[0\]\.hook: .*hook_nope/],
      [[{ kind: "zero", hook: `blocks.${m.config.nLayers}.attn.hook_z` }], /interventions\[0\]\.hook/],
      [[{ kind: "zero", hook: "blocks.0.attn.hook_z", heads: [m.config.nHeads] }], /interventions\[0\]\.heads\[0\]/],
      [[{ kind: "zero", hook: "blocks.0.hook_resid_post", heads: [0] }], /interventions\[0\]\.heads: .*no head axis/],
      [[{ kind: "zero", hook: "blocks.0.attn.hook_z", positions: [ids.length] }], /interventions\[0\]\.positions\[0\]/],
      [[{ kind: "add", hook: "blocks.0.hook_resid_post", vector: [1, 2] }], /interventions: .*vector has 2 entries/],
      [[{ kind: "zero", hook: "blocks.0.mlp.hook_post", neurons: [1e6] }], /interventions\[0\]\.neurons\[0\]/],
      [[{ kind: "explode", hook: "blocks.0.attn.hook_z" }], /interventions\[0\]\.kind/],
      [{ kind: "zero" }, /interventions: expected an array/],
    ];
    for (const [i, [ivs, msg]] of cases.entries()) {
      const r = await call(`bad-iv-${i}`, ivs);
      expect(r).toMatchObject({ kind: "error", code: "invalid_params" });
      if (r.kind === "error") expect(r.message).toMatch(msg);
    }
    const ok = await call("ok-iv", []);
    expect(ok).toMatchObject({ kind: "result", result: { kind: "run", ...runPredictions(m, ids, 5) } });
  });

  it("run takes text too", async () => {
    const r = final(await c.call("t", "run", { model: "tiny", input: { text: "hello world" } }));
    if (r.kind !== "result" || r.result.kind !== "run") throw new Error(JSON.stringify(r));
    expect(r.result.tokens).toEqual(m.tokenizer?.encode("hello world"));
  });

  it("generate streams its tokens as partial replies, then the whole", async () => {
    const rs = await c.call("g", "generate", { model: "tiny", input: { ids: [3, 17] }, maxNewTokens: 6, temperature: 0 });
    const r = final(rs);
    if (r.kind !== "result" || r.result.kind !== "generate") throw new Error(JSON.stringify(r));
    const partials = rs.map((x) => (x.kind === "partial" && x.data.kind === "token" ? x.data : null)).filter((x) => x !== null);
    expect(partials.map((p) => p?.id)).toEqual(r.result.newTokens);
    expect(partials.map((p) => p?.index)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(partials.map((p) => p?.text).join("")).toBe(r.result.text);
    const expected = generate(m.model, [[3, 17]], { maxNewTokens: 6, doSample: false, eosTokenIds: [] });
    expect(r.result.newTokens).toEqual(expected.tokens[0]?.slice(0, r.result.newTokens.length));
  });

  it("a method request runs the method its kind names; the result downloads by job id", async () => {
    const r = final(await c.call("lens", "method", small));
    if (r.kind !== "result") throw new Error(JSON.stringify(r));
    expect(r.result.kind).toBe("lens");
    expect(r.job).toMatch(/^[0-9a-f-]{36}$/);
    const d = await http(s.port, `/api/jobs/${r.job}`, { headers: bearer(s) });
    expect(d.status).toBe(200);
    expect(d.headers["content-disposition"]).toMatch(/attachment/);
    expect(JSON.parse(d.body)).toEqual(r.result);
  });

  it("POST /api/rpc answers one request with its final reply; an unknown job is a 404", async () => {
    const r = await http(s.port, "/api/rpc", {
      method: "POST",
      headers: { ...bearer(s), "Content-Type": "application/json" },
      body: JSON.stringify({ id: 7, method: "run", params: { model: "tiny", input: { ids }, topK: 2 } }),
    });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ kind: "result", id: 7, result: { kind: "run", ...runPredictions(m, ids, 2) } });
    const bad = await http(s.port, "/api/rpc", {
      method: "POST",
      headers: { ...bearer(s), "Content-Type": "application/json" },
      body: "{oops",
    });
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body)).toMatchObject({ kind: "error", code: "bad_request" });
    const missing = await http(s.port, "/api/jobs/00000000-0000-4000-8000-000000000000", { headers: bearer(s) });
    expect(missing.status).toBe(404);
  });

  it("a long method reports progress (one reply in 100 ms at most) and stops when cancelled", async () => {
    const t0 = Date.now();
    const replies = c.call("long", "method", long);
    await until(() => progressOf(c.replies.get("long") ?? []).length >= 2);
    const cancel = final(await c.call("stop", "cancel", { id: "long" }));
    expect(cancel).toMatchObject({ kind: "result", result: { kind: "cancel", cancelled: true } });
    const all = await replies;
    expect(final(all)).toMatchObject({ kind: "error", code: "cancelled" });
    expect(progressOf(all).length).toBeLessThanOrEqual((Date.now() - t0) / 100 + 2);
    // the lane is free again
    expect(final(await c.call("after-cancel", "method", small)).kind).toBe("result");
  });

  it("closing a connection stops its jobs", async () => {
    const other = await Client.open(s);
    void other.call("long", "method", long);
    await until(() => progressOf(other.replies.get("long") ?? []).length >= 1);
    other.close();
    // the heavy lane is free again within the grace period
    const t0 = Date.now();
    expect(final(await c.call("after-close", "method", small)).kind).toBe("result");
    expect(Date.now() - t0).toBeLessThan(10_000);
  });

  it("a full queue refuses at once; queued jobs cancel; nothing is left unanswered", async () => {
    const running = c.call("q0", "method", long);
    await until(() => progressOf(c.replies.get("q0") ?? []).some((p) => p.kind === "progress" && p.what !== "queued"));
    const q1 = c.call("q1", "method", small);
    const q2 = c.call("q2", "method", small);
    const full = final(await c.call("q3", "method", small));
    expect(full).toMatchObject({ kind: "error", code: "queue_full" });
    // queued behind the running job, they say so
    expect(progressOf(c.replies.get("q1") ?? [])[0]).toMatchObject({ what: "queued", done: 0 });
    expect(progressOf(c.replies.get("q2") ?? [])[0]).toMatchObject({ what: "queued", done: 1 });
    // run is another lane: it answers while the heavy lane is busy
    expect(final(await c.call("interactive", "run", { model: "tiny", input: { ids } })).kind).toBe("result");
    expect(final(await c.call("c1", "cancel", { id: "q1" }))).toMatchObject({ result: { cancelled: true } });
    expect(final(await q1)).toMatchObject({ kind: "error", code: "cancelled" });
    expect(final(await c.call("c0", "cancel", { id: "q0" }))).toMatchObject({ result: { cancelled: true } });
    expect(final(await running)).toMatchObject({ kind: "error", code: "cancelled" });
    expect(final(await q2)).toMatchObject({ kind: "result" });
    expect(final(await c.call("c9", "cancel", { id: "nothing" }))).toMatchObject({ result: { cancelled: false } });
  });

  it("malformed messages are answered with errors and the connection stays usable", async () => {
    const bad = c.wait(null);
    c.ws.send("{not json");
    expect(final(await bad)).toMatchObject({ kind: "error", id: null, code: "bad_request" });
    const arr = c.wait(null);
    c.ws.send("[1,2]");
    expect(final(await arr)).toMatchObject({ kind: "error", code: "bad_request" });
    expect(final(await c.call("x1", "nope"))).toMatchObject({ kind: "error", code: "unknown_method" });
    expect(final(await c.call("x2", "run", { model: "nope", input: { ids } }))).toMatchObject({ code: "unknown_model" });
    expect(final(await c.call("x3", "run", { model: "tiny" }))).toMatchObject({ code: "invalid_params" });
    expect(final(await c.call("x4", "run", { model: "tiny", input: { ids: [1e9] } }))).toMatchObject({ code: "invalid_params" });
    expect(final(await c.call("x5", "run", { model: "tiny", input: { ids }, topK: -1 }))).toMatchObject({
      code: "invalid_params",
    });
    expect(final(await c.call("x6", "method", { model: "tiny", request: { kind: "rm -rf" } }))).toMatchObject({
      code: "invalid_params",
    });
    const lensBad = final(
      await c.call("x7", "method", { model: "tiny", request: { kind: "lens", input: { ids }, target: 1e6 } }),
    );
    expect(lensBad).toMatchObject({ kind: "error", code: "invalid_params" });
    if (lensBad.kind === "error") expect(lensBad.message).toMatch(/target/);
    const noId = c.wait(null);
    c.ws.send(JSON.stringify({ method: "models.list" }));
    expect(final(await noId)).toMatchObject({ code: "bad_request" });
    expect(final(await c.call("x8", "method", { model: "tiny", request: { kind: "lens", input: null } }))).toMatchObject({
      kind: "error",
    });
    expect(final(await c.call("alive", "run", { model: "tiny", input: { ids } })).kind).toBe("result");
  });

  it("a job past its time budget stops with a timeout", async () => {
    const t = await serve(tiny.model, { limits: { heavyTimeoutMs: 300, graceMs: 300 } });
    const tc = await Client.open(t);
    try {
      const r = final(await tc.call("slow", "method", long));
      expect(r).toMatchObject({ kind: "error", code: "timeout" });
      if (r.kind === "error") expect(r.message).toContain("time budget (0.3 s");
      expect(final(await tc.call("next", "method", small)).kind).toBe("result");
      // one chunk of 4,000 interpolation points reports no progress for a long while: its thread is terminated
      // at the budget plus the grace period, and a new one takes the next job
      const oneChunk = { ...long, request: { ...long.request, steps: 4000, batch: 4000 } };
      const t0 = Date.now();
      const r2 = final(await tc.call("stuck", "method", oneChunk));
      expect(r2).toMatchObject({ kind: "error", code: "timeout" });
      expect(Date.now() - t0).toBeLessThan(5000);
      expect(final(await tc.call("next2", "method", small)).kind).toBe("result");
    } finally {
      tc.close();
      await t.close();
    }
  });

  it("counts that size the work are range-checked before anything runs", async () => {
    const huge = { ...long, request: { ...long.request, steps: 50_000_000 } };
    const r = final(await c.call("huge", "method", huge));
    expect(r).toMatchObject({ kind: "error", code: "invalid_params" });
    if (r.kind === "error") expect(r.message).toMatch(/request\.steps: at most 1000000/);
    const nested = { model: "tiny", request: { kind: "probe", hooks: "hook_embed", dataset: [], options: [{ batch: 1e9 }] } };
    expect(final(await c.call("nested", "method", nested))).toMatchObject({ code: "invalid_params" });
    expect(final(await c.call("fine", "method", small)).kind).toBe("result");
  });

  it("50 concurrent clients with mixed requests: one final reply each, none lost or duplicated", async () => {
    const load = await serve(tiny.model, { limits: { heavyQueue: 200 } });
    try {
      const clients = await Promise.all(Array.from({ length: 50 }, () => Client.open(load)));
      const sent = clients.flatMap((cl, i) => [
        cl.call(`${i}-list`, "models.list"),
        cl.call(`${i}-run`, "run", { model: "tiny", input: { ids: [i % 50, 3, 7] }, topK: 2 }),
        cl.call(`${i}-lens`, "method", { ...small, request: { ...small.request, input: { ids: [i % 40, 5] } } }),
      ]);
      const all = await Promise.all(sent);
      for (const rs of all) expect(rs.filter((r) => r.kind === "result" || r.kind === "error").length).toBe(1);
      expect(all.every((rs) => final(rs).kind === "result")).toBe(true);
      for (const [i, cl] of clients.entries()) {
        expect([...cl.replies.keys()].sort()).toEqual([`${i}-lens`, `${i}-list`, `${i}-run`]);
        const run = final(cl.replies.get(`${i}-run`) ?? []);
        if (run.kind === "result" && run.result.kind === "run") expect(run.result.tokens).toEqual([i % 50, 3, 7]);
      }
      await new Promise((r) => setTimeout(r, 100)); // nothing arrives late
      for (const cl of clients)
        for (const rs of cl.replies.values()) expect(rs.filter((r) => r.kind !== "progress").length).toBe(1);
      for (const cl of clients) cl.close();
      const after = await Client.open(load);
      expect(final(await after.call(1, "run", { model: "tiny", input: { ids } })).kind).toBe("result");
      after.close();
    } finally {
      await load.close();
    }
  });
});

async function until(cond: () => boolean, ms = 20_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("a model handed over loaded", () => {
  it("runs in-process, with its in-memory edits, beside a model given by path", async () => {
    const edited = loadModel(tiny.model);
    edited.model.params.apply(zeroHeadEdits(edited.model, 0, 0));
    const both = await serve(tiny.model, { models: { mem: edited, disk: tiny.model }, limits: { heavyTimeoutMs: 1500 } });
    const bc = await Client.open(both);
    try {
      const list = final(await bc.call("l", "models.list"));
      if (list.kind !== "result" || list.result.kind !== "models") throw new Error(JSON.stringify(list));
      expect(list.result.models.map((i) => i.id)).toEqual(["mem", "disk"]);
      const mem = final(await bc.call("mem", "run", { model: "mem", input: { ids }, topK: 3 }));
      const disk = final(await bc.call("disk", "run", { model: "disk", input: { ids }, topK: 3 }));
      if (mem.kind !== "result" || disk.kind !== "result") throw new Error(JSON.stringify([mem, disk]));
      expect(mem.result).toEqual({ kind: "run", model: "mem", ...runPredictions(edited, ids, 3) });
      expect(disk.result).toEqual({ kind: "run", model: "disk", ...runPredictions(m, ids, 3) });
      expect(mem.result).not.toEqual({ ...disk.result, model: "mem" });
      const lens = await bc.call("lens", "method", { ...small, model: "mem" });
      expect(final(lens)).toMatchObject({ kind: "result", result: { kind: "lens" } });
      expect(lens.some((r) => r.kind === "progress")).toBe(true);
      const gen = await bc.call("gen", "generate", { model: "mem", input: { ids: [3] }, maxNewTokens: 3, temperature: 0 });
      expect(gen.filter((r) => r.kind === "partial").length).toBe(3);
      // the budget holds in-process too (checked at each unit of work)
      expect(final(await bc.call("slow", "method", { ...long, model: "mem" }))).toMatchObject({ code: "timeout" });
      expect(final(await bc.call("again", "run", { model: "mem", input: { ids } })).kind).toBe("result");
    } finally {
      bc.close();
      await both.close();
    }
  });
});

describe("the method families over the RPC", () => {
  it("each request kind runs its method and equals the same call in-process", async () => {
    const text = "the cat sat on the";
    const dModel = m.config.dModel;
    const requests: MethodRequest[] = [
      { kind: "lens", input: { text }, topK: 2 },
      { kind: "dla", input: { text }, target: 5, foil: 7 },
      { kind: "attribution", method: "saliency", input: { text } },
      { kind: "perturbation", method: "occlusion", input: { text } },
      { kind: "patch", clean: { text }, corrupted: { text: "the cap sat on the" }, grid: "z", answer: 5, foil: 7 },
      { kind: "ablate", input: { text }, components: "heads", ablation: "zero" },
      { kind: "attention", input: { text } },
      { kind: "steer", input: { text }, hook: "blocks.0.hook_resid_post", vector: { values: Array(dModel).fill(0.1) }, coeff: 2 },
    ];
    const inProcess = [
      logitLens,
      directLogitAttribution,
      gradientAttribution,
      perturbationAttribution,
      activationPatching,
      ablate,
      attentionAnalysis,
      steer,
    ] as ((model: typeof m.model, req: never) => unknown)[];
    for (const [i, request] of requests.entries()) {
      const r = final(await c.call(`fam-${i}`, "method", { model: "tiny", request }));
      if (r.kind !== "result") throw new Error(`${request.kind}: ${JSON.stringify(r)}`);
      expect(r.result.kind).toBe(request.kind);
      const local = (inProcess[i] as (model: typeof m.model, req: never) => unknown)(m.model, request as never);
      expect(JSON.parse(JSON.stringify(r.result)), request.kind).toEqual(JSON.parse(JSON.stringify(local)));
    }
  });
});
