// A job's memory budget: a worker thread measures what its isolate holds (array buffers and heap) above what it
// held when the job began, at every progress report; a job past the budget stops with `memory` and is stored as
// aborted, and the thread goes on serving. A budget the job stays within changes nothing.
import { join } from "node:path";
import { openStore } from "@llmdbg/store";
import { afterAll, describe, expect, it } from "vitest";
import { Client, final, serve, tinyFolder } from "./helpers.js";

const tiny = tinyFolder();
afterAll(() => tiny.cleanup());

const ids = [3, 17, 42, 5, 9, 11, 2, 8];
// integrated gradients in chunks of 256 interpolation points: each chunk's activations and gradients are
// megabytes on the tiny model, and each reports progress
const ig = (steps: number) => ({
  model: "tiny",
  request: { kind: "attribution", method: "integrated_gradients", input: { ids }, steps, batch: 256 },
});

describe("per-job memory budgets", () => {
  it("stops a job that grows past its budget, records it aborted, and serves the next", async () => {
    const storeDir = join(tiny.dir, "store-mem");
    const s = await serve(tiny.model, { store: storeDir, limits: { jobMemoryMb: 0.25 } });
    const c = await Client.open(s);
    try {
      const r = final(await c.call("big", "method", ig(4096)));
      expect(r).toMatchObject({ kind: "error", code: "memory" });
      if (r.kind === "error") expect(r.message).toContain("memory than its budget (0.25 MiB beyond the loaded model");
      // the same thread serves on: a run keeps within the budget
      expect(final(await c.call("after", "run", { model: "tiny", input: { ids: [3, 17] }, topK: 2 })).kind).toBe("result");
      const store = openStore(storeDir);
      try {
        let rec: { status: string } | undefined;
        for (let i = 0; i < 200 && rec === undefined; i++) {
          rec = store.listRuns().find((x) => x.kind === "attribution");
          if (rec === undefined) await new Promise((ok) => setTimeout(ok, 10));
        }
        expect(rec?.status).toBe("aborted");
      } finally {
        store.close();
      }
    } finally {
      c.close();
      await s.close();
    }
  });

  it("lets a job within its budget finish", async () => {
    const s = await serve(tiny.model, { limits: { jobMemoryMb: 512 } });
    const c = await Client.open(s);
    try {
      const r = final(await c.call("ok", "method", ig(1024)));
      expect(r.kind).toBe("result");
    } finally {
      c.close();
      await s.close();
    }
  });
});
