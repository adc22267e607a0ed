// `llmdbg serve` end to end: the real bin starts on a free port, prints a URL with a token, answers
// GET /api/models with the bearer token (and 401 without), records a job in the run store (`--store DIR`) and
// serves it back at /api/runs, and exits cleanly on SIGINT; bad command lines exit 2 and a bad model file exits 1.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { writeTinyModel } from "@llmdbg/testing";
import { afterAll, describe, expect, it } from "vitest";
import { modelTable } from "../src/commands/serve.js";

const BIN = fileURLToPath(new URL("../bin/llmdbg.mjs", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "llmdbg-serve-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const hf = join(dir, "gpt2");
writeTinyModel(hf, "gpt2", { seed: 3 });
// the bin re-executes itself with malloc tuning unless it is set; set, a signal reaches the server itself
const env = { ...process.env, LLMDBG_BACKEND: "ref", MALLOC_MMAP_THRESHOLD_: "33554432" };

function get(
  port: number,
  path: string,
  headers: Record<string, string>,
  post?: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, headers, method: post === undefined ? "GET" : "POST" }, (res) => {
      let body = "";
      res.on("data", (c) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end(post);
  });
}

function exitOf(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => child.once("exit", (code) => resolve(code)));
}

function cli(args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env }, (err, _stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === "number" ? err.code : 1, stderr });
    });
  });
}

describe("llmdbg serve", () => {
  it("starts, prints a URL with a token, answers /api/models with the bearer token, exits on SIGINT", async () => {
    const store = join(dir, "store");
    const child = spawn(process.execPath, [BIN, "serve", "--model", hf, "--port", "0", "--store", store], { env });
    let stdout = "";
    let stderr = "";
    child.stderr.on("data", (c) => (stderr += c));
    const exited = exitOf(child);
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on("data", (c) => {
        stdout += c;
        const m = /(http:\/\/127\.0\.0\.1:\d+\/\?token=[A-Za-z0-9_-]+)/.exec(stdout);
        if (m?.[1] !== undefined) resolve(m[1]);
      });
      child.once("exit", (code) => reject(new Error(`exited ${code}: ${stderr}`)));
    });
    const u = new URL(url);
    const token = u.searchParams.get("token") ?? "";
    expect(token.length).toBeGreaterThanOrEqual(43);
    const port = Number(u.port);
    const ok = await get(port, "/api/models", { Authorization: `Bearer ${token}` });
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body).models.map((m: { id: string }) => m.id)).toEqual(["gpt2"]);
    expect(ok.body).not.toContain(dir);
    expect((await get(port, "/api/models", {})).status).toBe(401);
    expect(stdout).toContain(`runs are recorded in ${store}`);
    const auth = { Authorization: `Bearer ${token}`, "Content-Type": "application/json" };
    const rpc = { id: 1, method: "run", params: { model: "gpt2", input: { ids: [1, 2, 3] } } };
    const ran = await get(port, "/api/rpc", auth, JSON.stringify(rpc));
    expect(ran.status).toBe(200);
    const job = JSON.parse(ran.body).job as string;
    let runs: { uid: string; kind: string }[] = [];
    for (let i = 0; i < 100 && runs.length === 0; i++) {
      runs = JSON.parse((await get(port, "/api/runs", auth)).body).runs;
      if (runs.length === 0) await new Promise((ok) => setTimeout(ok, 20));
    }
    expect(runs).toMatchObject([{ uid: job, kind: "run" }]);
    child.kill("SIGINT");
    expect(await exited).toBe(0);
    expect(stderr).toContain("stopped");
    await expect(get(port, "/api/models", {})).rejects.toThrow();
  });

  it("bad command lines exit 2, a bad model file exits 1", async () => {
    expect((await cli(["serve", hf])).code).toBe(2);
    expect((await cli(["serve", "--model", join(dir, "missing")])).code).toBe(2);
    expect((await cli(["serve", "--model", hf, "--host", "0.0.0.0"])).code).toBe(2);
    expect((await cli(["serve", "--model", hf, "--port", "70000"])).code).toBe(2);
    const broken = join(dir, "broken");
    mkdirSync(broken);
    writeFileSync(join(broken, "config.json"), "{ not json");
    const r = await cli(["serve", "--model", broken]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("config.json");
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it("names models by file name, unique, or by the id given", () => {
    const gguf = join(dir, "m.Q8_0.gguf");
    writeFileSync(gguf, "");
    expect(Object.keys(modelTable([hf, hf, `mine=${hf}`, gguf]))).toEqual(["gpt2", "gpt2-2", "mine", "m.Q8_0"]);
  });
});
