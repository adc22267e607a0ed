// `llmdbg serve --dataset`: the bin serves a JSONL file by id at /api/datasets; a bad file exits 1 naming its line
// and field, a missing one exits 2; ids come from file names. `llmdbg demo`'s held-out sets from the zoo's
// generators: their sizes, fields and determinism (a second demo must find its stored predictions).
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { writeTinyModel } from "@llmdbg/testing";
import { afterAll, describe, expect, it } from "vitest";
import { datasetTable } from "../src/commands/serve.js";
import { ioiPrompts, reviews, storyPrompts, zooDatasets } from "../src/zoo-datasets.js";

const BIN = fileURLToPath(new URL("../bin/llmdbg.mjs", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "llmdbg-cli-datasets-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const hf = join(dir, "gpt2");
writeTinyModel(hf, "gpt2", { seed: 3 });
const env = { ...process.env, LLMDBG_BACKEND: "ref", MALLOC_MMAP_THRESHOLD_: "33554432" };
const good = join(dir, "my tales.jsonl");
writeFileSync(good, '{"text": "once upon", "target": " a"}\n{"text": "the end", "label": "x"}\n');
const bad = join(dir, "bad.jsonl");
writeFileSync(bad, '{"text": "fine"}\n{"text": 3}\n');

function get(port: number, path: string, token: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, headers: { Authorization: `Bearer ${token}` } }, (res) => {
      let body = "";
      res.on("data", (c) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

const exitOf = (child: ChildProcess) => new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));

function cli(args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env }, (err, _stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === "number" ? err.code : 1, stderr });
    });
  });
}

describe("llmdbg serve --dataset", () => {
  it("serves the file by id; a bad file exits 1 naming the line and field, a missing one 2", async () => {
    const child = spawn(process.execPath, [BIN, "serve", "--model", hf, "--dataset", good, "--no-store"], { env });
    let stdout = "";
    const exited = exitOf(child);
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on("data", (c) => {
        stdout += c;
        const m = /(http:\/\/127\.0\.0\.1:\d+\/\?token=[A-Za-z0-9_-]+)/.exec(stdout);
        if (m?.[1] !== undefined) resolve(m[1]);
      });
      child.once("exit", (code) => reject(new Error(`exited ${code}`)));
    });
    const u = new URL(url);
    const r = await get(Number(u.port), "/api/datasets", u.searchParams.get("token") ?? "");
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body).datasets).toEqual([
      { id: "my-tales", name: "my tales", count: 2, source: "file", labels: ["x"], columns: ["target"] },
    ]);
    expect(r.body).not.toContain(dir);
    expect(stdout).toContain("datasets: my-tales");
    child.kill("SIGINT");
    expect(await exited).toBe(0);
    const b = await cli(["serve", "--model", hf, "--dataset", bad, "--no-store"]);
    expect(b.code).toBe(1);
    expect(b.stderr).toContain("bad.jsonl: line 2: text: expected a non-empty string");
    expect(b.stderr).not.toMatch(/\n\s+at /);
    expect((await cli(["serve", "--model", hf, "--dataset", join(dir, "missing.jsonl")])).code).toBe(2);
  });

  it("names datasets by file name without the extension, unique, or by the id given", () => {
    expect(Object.keys(datasetTable([good, good, `mine=${bad}`, bad]))).toEqual(["my-tales", "my-tales-2", "mine", "bad"]);
  });
});

describe("the demo's held-out datasets", () => {
  it("are generated for the zoo models served, 1,000 examples each, the same every time", () => {
    const sets = zooDatasets({ stories: "x", "ioi-small": "y", "sentiment-spurious": "z" });
    expect(Object.keys(sets)).toEqual(["stories-next-word", "ioi-heldout", "reviews"]);
    for (const s of Object.values(sets)) expect(s.examples).toHaveLength(1000);
    expect(Object.keys(zooDatasets({ stories: "x" }))).toEqual(["stories-next-word"]);
    expect(storyPrompts(50)).toEqual(storyPrompts(50));
    for (const e of storyPrompts(200)) {
      expect(e.text.trim()).not.toBe("");
      expect(e.target).toMatch(/^ [^ ]+$/);
      expect(e.target).not.toMatch(/[.,!?;:]$/);
    }
    for (const e of ioiPrompts(100)) {
      expect(e.text).toContain((e.target as string).trim());
      expect(e.target).not.toBe(` ${e.subject}`);
    }
    const r = reviews(400);
    expect(r.filter((e) => e.label === "positive")).toHaveLength(200);
    expect(r.filter((e) => e.code !== null).every((e) => e.text.includes(e.code as string))).toBe(true);
    expect(r.filter((e) => e.code === null)).toHaveLength(200);
  });
});
