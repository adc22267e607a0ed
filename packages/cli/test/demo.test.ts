// `llmdbg demo` end to end: the real bin serves every trained zoo model, `stories` first, prints a URL with a
// token, answers GET /api/models with the bearer token, and exits cleanly on SIGINT (`--no-build`: the test does
// not rebuild the checkout's UI; `--no-store`: /api/runs has no store). The UI's build check and the build as a
// child process are tested on a folder of their own, with a package.json whose build script writes dist/.
import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { buildUi, uiStale, zooModels } from "../src/commands/demo.js";

const BIN = fileURLToPath(new URL("../bin/llmdbg.mjs", import.meta.url));
const ZOO = fileURLToPath(new URL("../../../zoo", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "llmdbg-demo-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
// the bin re-executes itself with malloc tuning unless it is set; set, a signal reaches the server itself
const env = { ...process.env, LLMDBG_BACKEND: "ref", MALLOC_MMAP_THRESHOLD_: "33554432" };

function get(port: number, path: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, headers }, (res) => {
      let body = "";
      res.on("data", (c) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

function exitOf(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => child.once("exit", (code) => resolve(code)));
}

describe("llmdbg demo", () => {
  it("serves the six zoo models, stories first, behind the token, opens the URL with xdg-open, exits on SIGINT", async () => {
    // an xdg-open of our own, first on the PATH: it writes down the URL it was given
    const bin = join(dir, "bin");
    const opened = join(dir, "opened.txt");
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, "xdg-open"), `#!/bin/sh\nprintf '%s' "$1" > '${opened}'\n`);
    chmodSync(join(bin, "xdg-open"), 0o755);
    const child = spawn(process.execPath, [BIN, "demo", "--port", "0", "--no-build", "--no-store", "--open"], {
      env: { ...env, PATH: `${bin}:${process.env.PATH ?? ""}` },
    });
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
    const port = Number(u.port);
    const auth = { Authorization: `Bearer ${token}` };
    const ok = await get(port, "/api/models", auth);
    expect(ok.status).toBe(200);
    const ids = JSON.parse(ok.body).models.map((m: { id: string }) => m.id);
    expect(ids).toEqual(["stories", "backdoor", "bias-occupations", "induction-2l", "ioi-small", "sentiment-spurious"]);
    expect(ok.body).not.toContain(ZOO);
    expect((await get(port, "/api/models", {})).status).toBe(401);
    expect((await get(port, "/api/runs", auth)).status).toBe(404); // --no-store
    expect(stdout).toContain("runs are not recorded");
    const written = () => existsSync(opened) && readFileSync(opened, "utf8") !== "";
    for (let i = 0; i < 200 && !written(); i++) await new Promise((ok) => setTimeout(ok, 20));
    expect(readFileSync(opened, "utf8")).toBe(url);
    child.kill("SIGINT");
    expect(await exited).toBe(0);
    expect(stderr).toContain("llmdbg demo: stopped");
  });

  it("takes options only, and refuses a zoo without trained models", async () => {
    const run = (args: string[]) =>
      new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const c = spawn(process.execPath, [BIN, ...args], { env });
        let stderr = "";
        c.stderr.on("data", (d) => (stderr += d));
        c.once("exit", (code) => resolve({ code, stderr }));
      });
    expect((await run(["demo", "zoo/stories"])).code).toBe(2);
    const empty = join(dir, "empty-zoo");
    mkdirSync(empty);
    const r = await run(["demo", "--zoo", empty, "--no-build"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("no trained models");
  });

  it("lists the trained zoo models, stories first, the rest by name", () => {
    const zoo = join(dir, "zoo");
    for (const n of ["zeta", "stories", "alpha", "untrained"]) mkdirSync(join(zoo, n), { recursive: true });
    for (const n of ["zeta", "stories", "alpha"]) writeFileSync(join(zoo, n, "config.json"), "{}");
    expect(Object.keys(zooModels(zoo))).toEqual(["stories", "alpha", "zeta"]);
  });
});

describe("the UI's build", () => {
  const web = join(dir, "web");
  mkdirSync(join(web, "src"), { recursive: true });
  writeFileSync(join(web, "src", "main.tsx"), "export {};");
  writeFileSync(
    join(web, "package.json"),
    JSON.stringify({
      name: "fake-web",
      private: true,
      scripts: {
        build: `node -e "require('fs').mkdirSync('dist',{recursive:true});require('fs').writeFileSync('dist/index.html','ui')"`,
      },
    }),
  );

  it("is needed when dist is missing or older than a source, and runs npm run build in the UI's folder", () => {
    expect(uiStale(web)).toContain("is missing");
    buildUi(web, "test");
    expect(uiStale(web)).toBeUndefined();
    const later = new Date(Date.now() + 10_000);
    utimesSync(join(web, "src", "main.tsx"), later, later);
    expect(uiStale(web)).toContain("older than its sources");
  });

  it("a failing build is an error naming it", () => {
    const bad = join(dir, "bad-web");
    mkdirSync(bad);
    writeFileSync(join(bad, "package.json"), JSON.stringify({ name: "bad", private: true, scripts: { build: "exit 3" } }));
    expect(() => buildUi(bad, "test")).toThrow(/building the web UI failed \(npm run build exited 3\)/);
  });
});
