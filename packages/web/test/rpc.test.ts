// The RPC client against a fake socket: ids, routing of progress/partial/result/error by id, cancel, messages
// written before the socket opened, and a closing connection failing every call in flight.
import type { RpcReply } from "@llmdbg/protocol";
import { describe, expect, it } from "vitest";
import { RpcClient, RpcError, type SocketLike } from "../src/rpc.js";

class FakeSocket implements SocketLike {
  readyState = 0;
  readonly sent: { id: string | number; method: string; params: unknown }[] = [];
  closed = false;
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { readonly data: unknown }) => void) | null = null;
  onclose: ((ev: unknown) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  send(data: string): void {
    if (this.readyState !== 1) throw new Error("sent before open");
    this.sent.push(JSON.parse(data));
  }
  close(): void {
    this.closed = true;
  }
  open(): void {
    this.readyState = 1;
    this.onopen?.({});
  }
  reply(r: RpcReply): void {
    this.onmessage?.({ data: JSON.stringify(r) });
  }
  drop(): void {
    this.readyState = 3;
    this.onclose?.({});
  }
  last() {
    const m = this.sent[this.sent.length - 1];
    if (m === undefined) throw new Error("nothing sent");
    return m;
  }
}

function opened(): { s: FakeSocket; c: RpcClient } {
  const s = new FakeSocket();
  const c = new RpcClient(s);
  s.open();
  return { s, c };
}

const models = { kind: "models" as const, models: [] };

describe("RpcClient", () => {
  it("queues requests written before the socket opens and sends them in order on open", async () => {
    const s = new FakeSocket();
    const c = new RpcClient(s);
    const a = c.call("models.list", {});
    const b = c.call("run", { model: "m", input: { text: "hi" }, topK: 3 });
    expect(s.sent).toEqual([]);
    s.open();
    expect(s.sent.map((m) => m.method)).toEqual(["models.list", "run"]);
    expect(s.sent[1]?.params).toEqual({ model: "m", input: { text: "hi" }, topK: 3 });
    const [ida, idb] = s.sent.map((m) => m.id);
    expect(ida).not.toEqual(idb);
    s.reply({
      kind: "result",
      id: idb as number,
      result: { kind: "run", model: "m", tokens: [], tokenStrings: [], tokenDisplays: [], positions: [] },
    });
    s.reply({ kind: "result", id: ida as number, result: models });
    await expect(a).resolves.toEqual(models);
    await expect(b).resolves.toMatchObject({ kind: "run" });
    expect(c.inFlight).toBe(0);
  });

  it("routes progress and partial replies to their call's callbacks, by id, until the final reply", async () => {
    const { s, c } = opened();
    const progress: unknown[] = [];
    const partials: unknown[] = [];
    const other: unknown[] = [];
    const g = c.call(
      "generate",
      { model: "m", input: { ids: [1] }, maxNewTokens: 2 },
      {
        onProgress: (p) => progress.push(p),
        onPartial: (p) => partials.push(p),
      },
    );
    const m = c.call(
      "method",
      { model: "m", request: { kind: "lens", input: { ids: [1] } } },
      { onProgress: (p) => other.push(p) },
    );
    const [gid, mid] = s.sent.map((x) => x.id) as [number, number];
    s.reply({ kind: "progress", id: gid, what: "queued", done: 0, total: 1 });
    s.reply({ kind: "partial", id: gid, data: { kind: "token", index: 0, id: 5, text: " a" } });
    s.reply({ kind: "progress", id: mid, what: "layers", done: 1, total: 3 });
    s.reply({ kind: "partial", id: gid, data: { kind: "token", index: 1, id: 6, text: "b" } });
    const gen = {
      kind: "generate" as const,
      model: "m",
      promptTokens: [1],
      newTokens: [5, 6],
      text: " ab",
      finishReason: "length",
    };
    s.reply({ kind: "result", id: gid, result: gen });
    await expect(g).resolves.toEqual(gen);
    expect(progress).toEqual([{ what: "queued", done: 0, total: 1 }]);
    expect(partials).toEqual([
      { kind: "token", index: 0, id: 5, text: " a" },
      { kind: "token", index: 1, id: 6, text: "b" },
    ]);
    expect(other).toEqual([{ what: "layers", done: 1, total: 3 }]);
    // a reply after the final one goes nowhere near the finished call
    const strays: RpcReply[] = [];
    c.onStray = (r) => strays.push(r);
    s.reply({ kind: "partial", id: gid, data: { kind: "token", index: 2, id: 7, text: "c" } });
    expect(partials).toHaveLength(2);
    expect(strays).toHaveLength(1);
    expect(c.inFlight).toBe(1);
    s.reply({ kind: "error", id: mid, code: "failed", message: "boom" });
    await expect(m).rejects.toMatchObject({ name: "RpcError", code: "failed", message: "boom" });
  });

  it("an error reply rejects with the server's code and message", async () => {
    const { s, c } = opened();
    const p = c.call("run", { model: "nope", input: { text: "x" } });
    s.reply({ kind: "error", id: s.last().id, code: "unknown_model", message: "no model nope" });
    const e = await p.catch((x: unknown) => x);
    expect(e).toBeInstanceOf(RpcError);
    expect(e).toMatchObject({ code: "unknown_model", message: "no model nope" });
  });

  it("aborting sends cancel naming the call; the call ends with the server's cancelled error", async () => {
    const { s, c } = opened();
    const ctl = new AbortController();
    const p = c.call("method", { model: "m", request: { kind: "lens", input: { ids: [1] } } }, { signal: ctl.signal });
    const id = s.last().id;
    ctl.abort();
    const cancel = s.last();
    expect(cancel.method).toBe("cancel");
    expect(cancel.params).toEqual({ id });
    expect(cancel.id).not.toEqual(id);
    // the cancel's own result is absorbed; the call still waits for its final reply
    const strays: RpcReply[] = [];
    c.onStray = (r) => strays.push(r);
    s.reply({ kind: "result", id: cancel.id, result: { kind: "cancel", cancelled: true } });
    expect(strays).toEqual([]);
    s.reply({ kind: "error", id, code: "cancelled", message: "cancelled" });
    await expect(p).rejects.toMatchObject({ code: "cancelled" });
    expect(c.inFlight).toBe(0);
    // aborting again after the end sends nothing more
    const n = s.sent.length;
    ctl.abort();
    expect(s.sent.length).toBe(n);
  });

  it("a call whose signal is already aborted is sent and cancelled at once", async () => {
    const { s, c } = opened();
    const ctl = new AbortController();
    ctl.abort();
    const p = c.call("generate", { model: "m", input: { ids: [1] } }, { signal: ctl.signal });
    expect(s.sent.map((m) => m.method)).toEqual(["generate", "cancel"]);
    s.reply({ kind: "error", id: s.sent[0]?.id as number, code: "cancelled", message: "cancelled" });
    await expect(p).rejects.toMatchObject({ code: "cancelled" });
  });

  it("a closing connection rejects every call in flight, and later calls at once", async () => {
    const { s, c } = opened();
    let closed = 0;
    c.onClose = () => closed++;
    const a = c.call("models.list", {});
    const b = c.call("run", { model: "m", input: { text: "x" } });
    s.drop();
    await expect(a).rejects.toMatchObject({ code: "closed" });
    await expect(b).rejects.toMatchObject({ code: "closed" });
    await expect(c.call("models.list", {})).rejects.toMatchObject({ code: "closed" });
    expect(closed).toBe(1);
    expect(c.inFlight).toBe(0);
  });

  it("close() closes the socket and fails what waits", async () => {
    const { s, c } = opened();
    const a = c.call("models.list", {});
    c.close();
    expect(s.closed).toBe(true);
    await expect(a).rejects.toBeInstanceOf(RpcError);
  });

  it("a message that is not JSON, or an error with id null, goes to onStray and leaves the calls waiting", async () => {
    const { s, c } = opened();
    const strays: RpcReply[] = [];
    c.onStray = (r) => strays.push(r);
    const a = c.call("models.list", {});
    s.onmessage?.({ data: "{not json" });
    s.reply({ kind: "error", id: null, code: "bad_request", message: "not a request" });
    expect(strays.map((r) => r.kind === "error" && r.code)).toEqual(["bad_request", "bad_request"]);
    expect(c.inFlight).toBe(1);
    s.reply({ kind: "result", id: s.last().id, result: models });
    await expect(a).resolves.toEqual(models);
  });
  it("hands the server's job id to onJob before resolving", async () => {
    const { s, c } = opened();
    const jobs: string[] = [];
    const p = c.call("method", { model: "m", request: { kind: "lens", input: { ids: [1] } } }, { onJob: (j) => jobs.push(j) });
    const result = { kind: "models" as const, models: [] };
    s.reply({ kind: "result", id: s.last().id, result, job: "0b6e5a8e-3c1f-4d2a-9e7b-2f4c6d8a0b1c" });
    await p;
    expect(jobs).toEqual(["0b6e5a8e-3c1f-4d2a-9e7b-2f4c6d8a0b1c"]);
    const q = c.call("models.list", {}, { onJob: (j) => jobs.push(j) });
    s.reply({ kind: "result", id: s.last().id, result });
    await q;
    expect(jobs).toHaveLength(1);
  });
});
