// Datasets on the server: a JSONL file given at start and uploads (`POST /api/datasets`) listed and paged over
// REST; bad uploads refused naming the line and field (400), the wrong type (415), too large (413), without the
// token (401); `datasets.predict` streams its predictions and equals `run` on each text (a continuation's
// probability the product of its tokens'); the second request is read back from the run store, also after a
// restart, where the upload is still served; cancelling stops it; a bad dataset or batch is invalid_params.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run } from "@llmdbg/core";
import { loadModel } from "@llmdbg/models";
import type { DatasetInfo, DatasetRowsPage, PredictionsResult, RowPrediction, RpcReply } from "@llmdbg/protocol";
import * as T from "@llmdbg/tensor";
import { writeTinyModel } from "@llmdbg/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runHandler } from "../src/handlers.js";
import type { RunningServer } from "../src/index.js";
import { bearer, Client, final, http, serve, tinyFolder } from "./helpers.js";

T.useBackend("ref");

const tiny = tinyFolder();
const m = loadModel(tiny.model);
const tmp = mkdtempSync(join(tmpdir(), "llmdbg-server-datasets-"));
const storeDir = join(tmp, "store");
const file = join(tmp, "greetings.jsonl");
const lines = [
  { text: "hello world", label: "a", source: "x" },
  { text: "hello there", label: "b" },
  { text: "the cat sat", target: " on" },
  { text: "a b c d e", target: " f g" },
  // the first again (another column): computed once, answered for both
  { text: "hello world", label: "a", source: "y" },
];
writeFileSync(file, `${lines.map((l) => JSON.stringify(l)).join("\n")}\n`);
// a classifier: its gold is the label, by name or by index; a label it does not know is no gold
const bert = join(tmp, "bert");
writeTinyModel(bert, "bert", { seed: 3 });
const cls = loadModel(bert);
const labels = cls.config.classifier?.labels ?? [];
const clsFile = join(tmp, "cls.jsonl");
const clsLines = [
  { text: "hello world", label: labels[1] },
  { text: "the cat sat", label: 0 },
  { text: "a b c", label: "no such label" },
];
writeFileSync(clsFile, clsLines.map((l) => JSON.stringify(l)).join("\n"));

let s: RunningServer;
let c: Client;
beforeAll(async () => {
  s = await serve(tiny.model, {
    models: { tiny: tiny.model, cls: bert },
    store: storeDir,
    datasets: { greetings: file, cls: clsFile },
    limits: { datasetBytes: 64 * 1024 },
  });
  c = await Client.open(s);
});
afterAll(async () => {
  c?.close();
  await s?.close();
  tiny.cleanup();
  rmSync(tmp, { recursive: true, force: true });
});

const upload = (server: RunningServer, body: string, name = "mine", type = "application/x-ndjson") =>
  http(server.port, `/api/datasets?name=${encodeURIComponent(name)}`, {
    method: "POST",
    headers: { ...bearer(server), Host: `127.0.0.1:${server.port}`, "Content-Type": type },
    body,
  });
const get = (server: RunningServer, path: string) =>
  http(server.port, path, { headers: { ...bearer(server), Host: `127.0.0.1:${server.port}` } });

/** What `run` gives in-process: the top next token after `text`, and the probability of `gold`'s tokens after it. */
function expected(text: string, gold: string | null): { top: number; prob: number; gold: number | null; greedy: boolean } {
  const tok = m.tokenizer as NonNullable<typeof m.tokenizer>;
  const a = tok.encode(text);
  const g = gold === null ? [] : tok.encode(gold, { addSpecialTokens: false });
  const ids = [...a, ...g];
  const { output } = T.noGrad(() => run(m.model, T.tensor(ids, [1, ids.length], "i32")));
  const V = output.shape[2] as number;
  const d = output.data as Float32Array;
  const logp = (p: number, t: number) => {
    const row = Array.from(d.subarray(p * V, (p + 1) * V));
    const mx = Math.max(...row);
    return (row[t] as number) - mx - Math.log(row.reduce((s, x) => s + Math.exp(x - mx), 0));
  };
  const argmax = (p: number) => {
    const row = Array.from(d.subarray(p * V, (p + 1) * V));
    return row.indexOf(Math.max(...row));
  };
  const top = argmax(a.length - 1);
  let lp = 0;
  let greedy = true;
  g.forEach((t, k) => {
    lp += logp(a.length - 1 + k, t);
    if (argmax(a.length - 1 + k) !== t) greedy = false;
  });
  return { top, prob: Math.exp(logp(a.length - 1, top)), gold: gold === null ? null : Math.exp(lp), greedy };
}

describe("datasets over REST", () => {
  it("lists the file given at start with its count, labels and columns, and pages its examples", async () => {
    const r = await get(s, "/api/datasets");
    expect(r.status).toBe(200);
    const list = (JSON.parse(r.body) as { datasets: DatasetInfo[] }).datasets;
    expect(list.map((d) => d.id)).toEqual(["greetings", "cls"]);
    expect(list.slice(0, 1)).toEqual([
      { id: "greetings", name: "greetings", count: 5, source: "file", labels: ["a", "b"], columns: ["source", "target"] },
    ]);
    const p = JSON.parse((await get(s, "/api/datasets/greetings/rows?offset=1&limit=2")).body) as DatasetRowsPage;
    expect(p).toMatchObject({ dataset: "greetings", offset: 1, total: 5 });
    expect(p.rows).toEqual([
      { index: 1, text: "hello there", label: "b", fields: {} },
      { index: 2, text: "the cat sat", label: null, fields: { target: " on" } },
    ]);
    expect(JSON.parse((await get(s, "/api/datasets/greetings/rows?offset=3")).body).rows).toHaveLength(2);
    expect((await get(s, "/api/datasets/greetings/rows?limit=5001")).status).toBe(400);
    expect((await get(s, "/api/datasets/greetings/rows?offset=-1")).status).toBe(400);
    expect((await get(s, "/api/datasets/nope/rows")).status).toBe(404);
    expect((await get(s, "/api/datasets/..%2f..%2fetc/rows")).status).toBe(400);
    expect((await http(s.port, "/api/datasets", { headers: { Host: `127.0.0.1:${s.port}` } })).status).toBe(401);
  });

  it("takes an upload, lists it and serves its rows; bad bodies are 400 naming the line and field", async () => {
    const body = '{"text": "one", "label": 1}\n\n{"text": "two <b>x</b>", "label": true, "extra": [1]}\r\n';
    const r = await upload(s, body, "my set");
    expect(r.status).toBe(201);
    const info = JSON.parse(r.body) as DatasetInfo;
    expect(info).toEqual({ id: "my-set", name: "my set", count: 2, source: "upload", labels: ["1", "true"], columns: ["extra"] });
    const p = JSON.parse((await get(s, "/api/datasets/my-set/rows")).body) as DatasetRowsPage;
    expect(p.rows.map((x) => [x.text, x.label, x.fields])).toEqual([
      ["one", "1", {}],
      ["two <b>x</b>", "true", { extra: [1] }],
    ]);
    // the same content again is the same dataset
    expect(JSON.parse((await upload(s, body, "my set")).body).id).toBe("my-set");
    const bad = async (b: string) => {
      const x = await upload(s, b);
      return `${x.status} ${x.body.trim()}`;
    };
    expect(await bad('{"text": "ok"}\n{"text": "ok"}\n{"text": "ok"')).toMatch(/^400 line 3: not valid JSON/);
    expect(await bad('{"text": "ok"}\n{"label": "x"}')).toBe(
      "400 line 2: text: expected a non-empty string (the field is missing)",
    );
    expect(await bad('{"text": "ok", "label": {"a": 1}}')).toBe("400 line 1: label: expected a string, a number or a boolean");
    expect(await bad('["text"]')).toMatch(/^400 line 1: expected a JSON object/);
    expect(await bad('{"text": "ok", "target": 3}')).toMatch(/^400 line 1: target: expected a non-empty string/);
    expect(await bad("\n\n")).toBe("400 the dataset has no examples (one JSON object per line)");
    expect((await upload(s, '{"text": "ok"}', "x", "application/json")).status).toBe(415);
    expect((await upload(s, '{"text": "ok"}', "x", "text/plain")).status).toBe(415);
    const big = `${'{"text": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}\n'.repeat(2000)}`;
    expect((await upload(s, big)).status).toBe(413);
    const foreign = await http(s.port, "/api/datasets", {
      method: "POST",
      headers: {
        ...bearer(s),
        Host: `127.0.0.1:${s.port}`,
        Origin: "http://evil.example",
        "Content-Type": "application/x-ndjson",
      },
      body: '{"text": "x"}',
    });
    expect(foreign.status).toBe(403);
    const list = JSON.parse((await get(s, "/api/datasets")).body).datasets as DatasetInfo[];
    expect(list.map((d) => d.id)).toEqual(["greetings", "cls", "my-set"]);
  });
});

describe("datasets.predict", () => {
  it("streams predictions that equal run on each text, with the gold continuation's probability", async () => {
    const rs = await c.call("p1", "datasets.predict", { model: "tiny", dataset: "greetings", batch: 2 });
    const r = final(rs);
    if (r.kind !== "result" || r.result.kind !== "predictions") throw new Error(JSON.stringify(r));
    const res = r.result as PredictionsResult;
    expect(res.cached).toBe(false);
    expect(res.rows.map((x) => x.index)).toEqual([0, 1, 2, 3, 4]);
    // the partial replies carry every example once
    const streamed = rs.flatMap((x) => (x.kind === "partial" && x.data.kind === "predictions" ? x.data.rows : []));
    expect(streamed.map((x) => x.index).sort()).toEqual([0, 1, 2, 3, 4]);
    expect(res.rows[4]).toEqual({ ...res.rows[0], index: 4 });
    expect(rs.some((x) => x.kind === "progress" && x.what === "examples")).toBe(true);
    for (const [i, l] of lines.entries()) {
      const row = res.rows[i] as RowPrediction;
      const want = expected(l.text, l.target ?? l.label ?? null);
      expect(row.top.id).toBe(want.top);
      expect(row.top.prob).toBeCloseTo(want.prob, 6);
      expect(row.gold?.prob ?? null).toBeCloseTo(want.gold ?? Number.NaN, 6);
      expect(row.correct).toBe(want.greedy);
      expect(row.position).toBe((m.tokenizer?.encode(l.text) ?? []).length - 1);
      const gold = l.target ?? l.label;
      if (gold !== undefined) expect(row.gold?.id).toBe(m.tokenizer?.encode(gold, { addSpecialTokens: false })[0]);
    }
    expect(res.rows[3]?.gold).toMatchObject({
      text: " f g",
      tokens: (m.tokenizer?.encode(" f g", { addSpecialTokens: false }) ?? []).length,
    });
    const acc = res.rows.filter((x) => x.correct === true).length / 5;
    expect(res.metrics.accuracy).toBeCloseTo(acc, 12);
  });

  it("a classifier predicts a label: its top label and the gold label's probability equal run's", async () => {
    const r = final(await c.call("pc", "datasets.predict", { model: "cls", dataset: "cls" }));
    if (r.kind !== "result") throw new Error(JSON.stringify(r));
    const res = r.result as PredictionsResult;
    for (const [i, l] of clsLines.entries()) {
      const row = res.rows[i] as RowPrediction;
      const top = runHandler(cls, "cls", { input: { text: l.text }, topK: labels.length }).positions[0]?.top ?? [];
      expect(row.position).toBe(0);
      expect(row.top.id).toBe(top[0]?.id);
      expect(row.top.text).toBe(labels[top[0]?.id ?? -1]);
      expect(row.top.prob).toBeCloseTo(top[0]?.prob ?? Number.NaN, 6);
      const gold = i === 0 ? 1 : i === 1 ? 0 : -1;
      if (gold < 0) expect(row.gold).toBeNull();
      else {
        expect(row.gold).toMatchObject({ text: labels[gold], id: gold, tokens: 1 });
        expect(row.gold?.prob).toBeCloseTo(top.find((t) => t.id === gold)?.prob ?? Number.NaN, 6);
        expect(row.correct).toBe(top[0]?.id === gold);
      }
    }
    expect(res.rows[2]?.correct).toBeNull();
  });

  it("a second request is read back from the run store, and so after a restart, where the upload is still served", async () => {
    // the store writes just after the reply: ask until it answers from there
    let again: PredictionsResult | undefined;
    let n = 0;
    await expect
      .poll(async () => {
        const r = final(await c.call(`p2-${n++}`, "datasets.predict", { model: "tiny", dataset: "greetings" }));
        if (r.kind !== "result") throw new Error(JSON.stringify(r));
        again = r.result as PredictionsResult;
        return again.cached;
      })
      .toBe(true);
    if (again === undefined) throw new Error("no answer");
    const fresh = final(await c.call("p3", "datasets.predict", { model: "tiny", dataset: "greetings", recompute: true }));
    if (fresh.kind !== "result") throw new Error(JSON.stringify(fresh));
    expect((fresh.result as PredictionsResult).cached).toBe(false);
    expect((fresh.result as PredictionsResult).rows).toEqual(again.rows);
    // a new server on the same store
    const s2 = await serve(tiny.model, { store: storeDir, datasets: { greetings: file } });
    try {
      const list = JSON.parse((await get(s2, "/api/datasets")).body).datasets as DatasetInfo[];
      expect(list.map((d) => d.id).sort()).toEqual(["greetings", "my-set"]);
      const c2 = await Client.open(s2);
      const r = final(await c2.call("p", "datasets.predict", { model: "tiny", dataset: "greetings" }));
      c2.close();
      if (r.kind !== "result") throw new Error(JSON.stringify(r));
      expect((r.result as PredictionsResult).cached).toBe(true);
      expect((r.result as PredictionsResult).rows).toEqual(again.rows);
    } finally {
      await s2.close();
    }
  });

  it("stops when cancelled; a bad dataset or batch is invalid_params", async () => {
    const many = Array.from({ length: 2000 }, (_, i) => JSON.stringify({ text: `r ${i}` })).join("\n");
    const up = await upload(s, many, "many");
    expect(up.status).toBe(201);
    const done = c.wait("long");
    c.ws.send(JSON.stringify({ id: "long", method: "datasets.predict", params: { model: "tiny", dataset: "many", batch: 1 } }));
    await expect
      .poll(() => (c.replies.get("long") ?? []).some((x: RpcReply) => x.kind === "partial"), { timeout: 30_000 })
      .toBe(true);
    c.ws.send(JSON.stringify({ id: "stop", method: "cancel", params: { id: "long" } }));
    const rs = await done;
    expect(final(rs)).toMatchObject({ kind: "error", code: "cancelled" });
    const partial = rs.filter((x) => x.kind === "partial").length;
    expect(partial).toBeLessThan(2000);
    const err = async (params: unknown) => {
      const r = final(await c.call(`e${Math.random()}`, "datasets.predict", params));
      return r.kind === "error" ? `${r.code}: ${r.message}` : "no error";
    };
    expect(await err({ model: "tiny", dataset: "nope" })).toBe(
      'invalid_params: dataset: no dataset "nope" (datasets.list names them)',
    );
    expect(await err({ model: "tiny", dataset: "/etc/passwd" })).toMatch(/^invalid_params: dataset: no dataset/);
    expect(await err({ model: "tiny" })).toMatch(/^invalid_params: dataset: expected a dataset id/);
    expect(await err({ model: "tiny", dataset: "greetings", batch: 0 })).toMatch(/^invalid_params: batch:/);
    const list = final(await c.call("l", "datasets.list"));
    expect(list.kind === "result" && list.result.kind === "datasets" && list.result.datasets.length).toBe(4);
  });
});
