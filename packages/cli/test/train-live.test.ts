// `llmdbg train` records its run while it runs, through the real bin: a second store handle (as `llmdbg serve`
// holds) sees the run `running` with step events while the process still trains; Ctrl-C ends it `aborted` with
// every event the log has; a process killed with SIGKILL leaves its run `running` with a whole prefix of its events;
// a run that fails after it started (its checkpoint folder cannot be made) ends `failed` with the error, never left
// `running`; a finished run is `done` with the model it wrote and its checkpoints.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { checkpointsOf, eventsAfter, openStore, runState, trainingRuns } from "@llmdbg/store";
import { writeTinyModel } from "@llmdbg/testing";
import { afterAll, describe, expect, it } from "vitest";

const BIN = fileURLToPath(new URL("../bin/llmdbg.mjs", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "llmdbg-cli-train-live-"));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

const model = join(dir, "gpt2");
writeTinyModel(model, "gpt2", { seed: 3 });
writeFileSync(
  join(dir, "train.jsonl"),
  Array.from({ length: 16 }, (_, i) => JSON.stringify({ text: i % 2 ? "the dog sat." : "a cat ran far." })).join("\n"),
);

function runFile(name: string, training: Record<string, unknown>): string {
  const f = join(dir, `${name}.json`);
  writeFileSync(
    f,
    JSON.stringify({
      init: { config: join(model, "config.json"), tokenizer: model, seed: 2 },
      data: { train: "train.jsonl", maxLength: 8 },
      out: name,
      training: { seed: 1, batchSize: 2, lr: 1e-3, ...training },
    }),
  );
  return f;
}

/** The bin with a store of its own; the malloc variable keeps the shim from re-executing, so a signal reaches the trainer. */
function start(args: string[], store: string): { child: ChildProcess; done: Promise<{ code: number | null; stderr: string }> } {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, LLMDBG_HOME: store, LLMDBG_BACKEND: "ref", MALLOC_MMAP_THRESHOLD_: "33554432" },
    stdio: ["ignore", "ignore", "pipe"],
  });
  children.push(child);
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const done = new Promise<{ code: number | null; stderr: string }>((ok) => child.on("close", (code) => ok({ code, stderr })));
  return { child, done };
}

const logOf = (out: string) =>
  readFileSync(join(dir, out, "train_log.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));

describe("llmdbg train records its run live", () => {
  it("a second handle sees the run running with its steps while it trains; Ctrl-C ends it aborted", async () => {
    const store = join(dir, "store-live");
    const { child, done } = start(["train", runFile("long", { maxSteps: 100_000 }), "--json"], store);
    let exited = false;
    void done.then(() => {
      exited = true;
    });
    mkdirSync(store, { recursive: true });
    const reader = openStore(store);
    try {
      // wait until at least three step events are readable, the writer still training
      let run: ReturnType<typeof trainingRuns>[number] | undefined;
      for (let i = 0; i < 600 && !exited; i++) {
        run = trainingRuns(reader)[0];
        if (run !== undefined && (run.step ?? 0) >= 3) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(exited).toBe(false);
      expect(run).toMatchObject({ status: "running", totalSteps: 100_000, model: null });
      const id = (run as NonNullable<typeof run>).id;
      const page = eventsAfter(reader, id, -1);
      expect(page.events[0]?.event.kind).toBe("start");
      expect(page.events.filter((e) => e.event.kind === "step").length).toBeGreaterThanOrEqual(3);
      expect(runState(reader, id).status).toBe("running");
      child.kill("SIGINT");
      const r = await done;
      expect(r.code).toBe(130);
      expect(r.stderr).toBe("");
      expect(runState(reader, id)).toMatchObject({ status: "aborted", error: null });
      // every event of the log is in the store, in order, the last one the aborted end
      const events = reader.getRun(id).events;
      expect(events).toEqual(logOf("long"));
      expect(events.at(-1)).toMatchObject({ kind: "end", reason: "aborted" });
      // the stop wrote a checkpoint, recorded by step
      expect(checkpointsOf(reader, id).map((c) => c.path)).toEqual([
        join(dir, "long", "checkpoints", `checkpoint-${(events.at(-1) as { step: number }).step}`),
      ]);
      expect(reader.getRun(id).model?.path).toBe(join(dir, "long"));
    } finally {
      reader.close();
    }
  });

  it("a process killed mid-run leaves its run running, with a whole prefix of its events (what the view calls silent)", async () => {
    const store = join(dir, "store-killed");
    const { child, done } = start(["train", runFile("killed", { maxSteps: 100_000 }), "--json"], store);
    mkdirSync(store, { recursive: true });
    const reader = openStore(store);
    try {
      let step = 0;
      for (let i = 0; i < 600 && step < 5; i++) {
        step = trainingRuns(reader)[0]?.step ?? 0;
        if (step < 5) await new Promise((r) => setTimeout(r, 100));
      }
      expect(step).toBeGreaterThanOrEqual(5);
      child.kill("SIGKILL");
      await done;
      const [run] = trainingRuns(reader);
      expect(run?.status).toBe("running");
      // every stored event is the log's event at that position: batches land whole or not at all
      const stored = reader.getRun(run?.id as number).events;
      const logged = logOf("killed");
      expect(stored.length).toBeGreaterThanOrEqual(6);
      expect(stored).toEqual(logged.slice(0, stored.length));
      expect(reader.integrityCheck()).toBe("ok");
    } finally {
      reader.close();
    }
  });

  it("a run that fails after it started ends failed with the error; a finished one done, with its checkpoints", async () => {
    const store = join(dir, "store-fail");
    // a file where the checkpoint folder must go: the first checkpoint (step 2) fails
    mkdirSync(join(dir, "broken"), { recursive: true });
    writeFileSync(join(dir, "broken", "checkpoints"), "not a folder");
    const bad = await start(["train", runFile("broken", { maxSteps: 4, checkpointEvery: 2 }), "--json"], store).done;
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("checkpoints");
    const ok = await start(["train", runFile("fine", { maxSteps: 4, checkpointEvery: 2 }), "--json"], store).done;
    expect(ok.stderr).toBe("");
    expect(ok.code).toBe(0);
    const s = openStore(store);
    try {
      const [fine, broken] = trainingRuns(s);
      expect(broken).toMatchObject({ status: "failed", step: 2 });
      expect(broken?.error).toMatch(/checkpoints/);
      expect(bad.stderr).toContain(broken?.error as string);
      expect(fine).toMatchObject({ status: "done", step: 4, model: "fine", checkpoints: 2, error: null });
      expect(checkpointsOf(s, fine?.id as number).map((c) => c.step)).toEqual([2, 4]);
      expect(s.getRun(fine?.id as number).events).toEqual(logOf("fine"));
    } finally {
      s.close();
    }
  });
});
