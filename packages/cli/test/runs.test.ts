// `llmdbg runs` end to end through the real bin, on stores in temp folders (never the user's home): list and show
// what the library recorded, export a run and import it into another store, gc; an unknown id or a bad folder
// exits 1 naming it, a bad command line exits 2. LLMDBG_HOME picks the store, --store overrides it. `llmdbg run`
// and `llmdbg train` record their runs by default, and nothing with --no-store.
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { hashModel, openStore } from "@llmdbg/store";
import * as T from "@llmdbg/tensor";
import { writeTinyModel } from "@llmdbg/testing";
import { afterAll, describe, expect, it } from "vitest";

const BIN = fileURLToPath(new URL("../bin/llmdbg.mjs", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "llmdbg-cli-runs-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const home = join(dir, "home");

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(args: string[], env: Record<string, string> = { LLMDBG_HOME: home }): Promise<Result> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { env: { ...process.env, ...env }, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === "number" ? err.code : 1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

async function json(args: string[], env?: Record<string, string>) {
  const r = await cli([...args, "--json"], env);
  if (r.code !== 0) throw new Error(`llmdbg ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

const seeded = (() => {
  const s = openStore(home);
  const model = s.addModel({ path: "/models/tiny", hash: "ab".repeat(32), config: { nLayers: 2 } });
  const a = s.recordRun({
    model,
    kind: "run",
    prompt: "hello world",
    tokens: [1, 2, 3],
    results: [{ kind: "lens", cells: [] }],
    tensors: { cache: { x: T.tensor([1, 2, 3], [3]) } },
  });
  const b = s.recordRun({ kind: "train", events: [{ kind: "end", step: 4, reason: "done", wallMs: 9 }] });
  s.addNote(a, "look at position 2");
  const loose = s.putTensor({ y: T.tensor([5], [1]) });
  s.close();
  return { a, b, loose };
})();

describe("llmdbg runs", () => {
  it("lists the store's runs, newest first, and filters by kind", async () => {
    const d = await json(["runs", "list"]);
    expect(d.store).toBe(home);
    expect(d.runs.map((r: { id: number }) => r.id)).toEqual([seeded.b, seeded.a]);
    expect(d.runs[1]).toMatchObject({ kind: "run", model: "/models/tiny", prompt: "hello world", results: 1, blobs: 1 });
    expect((await json(["runs", "list", "--kind", "train"])).runs).toHaveLength(1);
    const text = await cli(["runs", "list"]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('"hello world"');
  });

  it("shows one run with its results, events, blobs and notes", async () => {
    const d = await json(["runs", "show", String(seeded.a)]);
    expect(d.run).toMatchObject({ id: seeded.a, kind: "run", tokens: [1, 2, 3], model: { path: "/models/tiny" } });
    expect(d.run.results.map((r: { kind: string }) => r.kind)).toEqual(["lens"]);
    expect(d.run.blobs.map((b: { name: string }) => b.name)).toEqual(["cache"]);
    expect(d.run.notes.map((n: { text: string }) => n.text)).toEqual(["look at position 2"]);
    const text = await cli(["runs", "show", String(seeded.a)]);
    expect(text.stdout).toContain("note: look at position 2");
    expect((await json(["runs", "show", String(seeded.b)])).run.events).toEqual([
      { kind: "end", step: 4, reason: "done", wallMs: 9 },
    ]);
  });

  it("exports a run and imports it into another store (--store), then gc deletes only the unused blob", async () => {
    const out = join(dir, "export-a");
    const e = await json(["runs", "export", String(seeded.a), out]);
    expect(e).toMatchObject({ run: seeded.a, folder: out, blobs: 1 });
    expect(existsSync(join(out, "run.json"))).toBe(true);
    const other = join(dir, "other");
    const i = await json(["runs", `import`, out, "--store", other]);
    const shown = await json(["runs", "show", String(i.run), "--store", other]);
    const orig = await json(["runs", "show", String(seeded.a)]);
    expect(shown.run.uid).toBe(orig.run.uid);
    expect(shown.run.results).toEqual(orig.run.results);
    expect(shown.run.blobs.map((b: { hash: string }) => b.hash)).toEqual(orig.run.blobs.map((b: { hash: string }) => b.hash));
    const gc = await json(["runs", "gc"]);
    expect(gc).toMatchObject({ blobs: 1, strayFiles: 0 });
    expect(gc.bytes).toBe(seeded.loose.bytes);
    expect((await json(["runs", "show", String(seeded.a)])).run.blobs).toHaveLength(1);
  });

  it("an unknown id, a bad folder or a file that is not a store exits 1 naming it", async () => {
    const r = await cli(["runs", "show", "999"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`llmdbg: ${join(home, "store.db")}: run 999 is not in the store\n`);
    const bad = join(dir, "nowhere");
    const i = await cli(["runs", `import`, bad]);
    expect(i.code).toBe(1);
    expect(i.stderr).toContain(`${bad}: not a folder`);
    const x = await cli(["runs", "export", "999", join(dir, "x")]);
    expect(x.code).toBe(1);
    expect(x.stderr).toContain("run 999 is not in the store");
    const notStore = await cli(["runs", "list", "--store", BIN]);
    expect(notStore.code).toBe(1);
    expect(notStore.stderr).toContain(`${BIN}: the store folder is a file`);
    expect(r.stderr + i.stderr + x.stderr).not.toMatch(/\n\s+at /);
  });

  it("a bad command line exits 2 with the usage", async () => {
    const cases = [
      ["runs"],
      ["runs", "delete"],
      ["runs", "show"],
      ["runs", "show", "abc"],
      ["runs", "show", "0"],
      ["runs", "export", "1"],
      ["runs", "list", "extra"],
      ["runs", "show", "1", "--limit", "3"],
      ["runs", "list", "--nope"],
    ] as const;
    const results = await Promise.all(cases.map((args) => cli([...args])));
    results.forEach((r, i) => {
      expect(r.code, cases[i]?.join(" ")).toBe(2);
      expect(r.stderr).toContain("usage: llmdbg runs");
    });
  });

  it("the store comes from LLMDBG_HOME, else XDG_DATA_HOME", async () => {
    const xdg = join(dir, "xdg");
    const d = await json(["runs", "list"], { LLMDBG_HOME: "", XDG_DATA_HOME: xdg });
    expect(d).toEqual({ store: join(xdg, "llmdbg"), runs: [] });
    expect(existsSync(join(xdg, "llmdbg", "store.db"))).toBe(true);
  });
});

describe("recording by default", () => {
  const model = join(dir, "gpt2");
  writeTinyModel(model, "gpt2", { seed: 3 });

  it("llmdbg run records its model, tokens, predictions and --cache activations; --no-store records nothing", async () => {
    const store = join(dir, "rec");
    const env = { LLMDBG_HOME: store, LLMDBG_BACKEND: "ref" };
    const out = join(dir, "acts.safetensors");
    const r = await cli(
      ["run", model, "--tokens", "3,17,42", "--top-k", "2", "--cache", "hook_embed", "--out", out, "--json"],
      env,
    );
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const printed = JSON.parse(r.stdout);
    const [run] = (await json(["runs", "list"], env)).runs;
    expect(run).toMatchObject({ kind: "run", model, results: 1, blobs: 1 });
    const shown = (await json(["runs", "show", String(run.id)], env)).run;
    expect(shown.tokens).toEqual([3, 17, 42]);
    expect(shown.model.hash).toBe(hashModel(model));
    expect(shown.results[0].result).toEqual({ kind: "predictions", positions: printed.positions });
    expect(shown.options).toMatchObject({ topK: 2, cache: "hook_embed" });
    const s = openStore(store);
    expect(Object.keys(s.getTensor(shown.blobs[0].hash))).toEqual(["hook_embed"]);
    s.close();
    const skip = await cli(["run", model, "--tokens", "3", "--no-store", "--json"], env);
    expect(skip.code).toBe(0);
    expect((await json(["runs", "list"], env)).runs).toHaveLength(1);
    // --store records elsewhere; a relative model path is recorded absolute
    const other = join(dir, "rec-other");
    expect((await cli(["run", relative(process.cwd(), model), "--tokens", "3", "--store", other], env)).code).toBe(0);
    expect((await json(["runs", "list", "--store", other], env)).runs).toMatchObject([{ model }]);
  });

  it("llmdbg train records the model it wrote and every training event", async () => {
    const store = join(dir, "rec-train");
    const env = { LLMDBG_HOME: store, LLMDBG_BACKEND: "ref" };
    writeFileSync(join(dir, "train.jsonl"), Array.from({ length: 8 }, () => JSON.stringify({ text: "the dog sat." })).join("\n"));
    const runFile = join(dir, "t.json");
    writeFileSync(
      runFile,
      JSON.stringify({
        init: { config: join(model, "config.json"), tokenizer: model, seed: 2 },
        data: { train: "train.jsonl", maxLength: 8 },
        out: "trained",
        training: { seed: 1, batchSize: 4, lr: 1e-2, maxSteps: 2 },
      }),
    );
    const r = await cli(["train", runFile, "--json"], env);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const printed = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    const [run] = (await json(["runs", "list"], env)).runs;
    expect(run).toMatchObject({ kind: "train", status: "done", model: join(dir, "trained"), events: printed.length });
    expect((await json(["runs", "show", String(run.id)], env)).run.events).toEqual(printed);
    expect((await cli(["train", runFile, "--json", "--no-store"], env)).code).toBe(0);
    expect((await json(["runs", "list"], env)).runs).toHaveLength(1);
  });
});
