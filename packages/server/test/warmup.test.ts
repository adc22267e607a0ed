// ServerOptions.warmUp: the interactive thread runs one token through each model before the server listens. The
// warm-up is no job: the server answers as without it (the same predictions as in-process), and the store records
// only the runs clients asked for.
import { join } from "node:path";
import { loadModel } from "@llmdbg/models";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningServer, runPredictions } from "../src/index.js";
import { bearer, Client, final, http, serve, tinyFolder } from "./helpers.js";

describe("warmUp", () => {
  const f = tinyFolder();
  let s: RunningServer;
  beforeAll(async () => {
    s = await serve(f.model, { warmUp: true, store: join(f.dir, "store") });
  });
  afterAll(async () => {
    await s?.close();
    f.cleanup();
  });

  it("answers as a cold server does and records no run of its own", async () => {
    const c = await Client.open(s);
    const r = final(await c.call("r", "run", { model: "tiny", input: { ids: [3, 17, 42] }, topK: 3 }));
    c.close();
    if (r.kind !== "result" || r.result.kind !== "run") throw new Error(JSON.stringify(r));
    const want = runPredictions(loadModel(f.model), [3, 17, 42], 3);
    expect(r.result.positions.map((p) => p.top.map((t) => t.id))).toEqual(want.positions.map((p) => p.top.map((t) => t.id)));
    let runs: { kind: string }[] = [];
    for (let i = 0; i < 100 && runs.length === 0; i++) {
      await new Promise((res) => setTimeout(res, 50));
      runs = (JSON.parse((await http(s.port, "/api/runs", { headers: bearer(s) })).body) as { runs: { kind: string }[] }).runs;
    }
    expect(runs.map((x) => x.kind)).toEqual(["run"]);
  });
});
