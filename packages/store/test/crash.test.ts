// A writer process killed with SIGKILL in the middle of its writes: the database must pass SQLite's integrity
// check, and every run the writer reported as committed must be there whole (its result, every event, both
// blobs readable with the right numbers). Three kills in a row on the same store, so each writer also starts
// on a store the previous one left mid-write (WAL recovery). Then two writers at once on one store.
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { openStore } from "../src/index.js";
import { EVENTS, payload } from "./fixtures/writer.js";

const root = mkdtempSync(join(tmpdir(), "llmdbg-store-crash-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const WRITER = fileURLToPath(new URL("./fixtures/writer.ts", import.meta.url));
const REPO = fileURLToPath(new URL("../../..", import.meta.url));

/** Starts a writer, lets it commit at least `commits` runs (then waits `extraMs`), SIGKILLs it; the runs it reported. */
function killWriter(dir: string, start: number, commits: number, extraMs: number): Promise<Map<number, number>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import=tsx", WRITER, dir, String(start)], {
      cwd: REPO,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const done = new Map<number, number>();
    let buf = "";
    let err = "";
    let killing = false;
    child.stderr.on("data", (d) => {
      err += d;
    });
    child.stdout.on("data", (d) => {
      buf += d;
      const lines = buf.split("\n");
      buf = lines.pop() ?? "";
      for (const l of lines) {
        const [id, i] = l.split(" ").map(Number);
        if (id !== undefined && i !== undefined) done.set(id, i);
      }
      if (done.size >= commits && !killing) {
        killing = true;
        setTimeout(() => child.kill("SIGKILL"), extraMs);
      }
    });
    child.on("exit", (code, signal) => {
      if (signal !== "SIGKILL") reject(new Error(`the writer exited ${code} before it was killed: ${err}`));
      else resolve(done);
    });
  });
}

describe("a writer killed mid-write", () => {
  it("leaves a consistent database in which every committed run is intact", async () => {
    const dir = join(root, "store");
    let start = 0;
    const committed = new Map<number, number>();
    for (const [commits, extraMs] of [
      [20, 3],
      [10, 17],
      [15, 41],
    ] as const) {
      const got = await killWriter(dir, start, commits, extraMs);
      expect(got.size).toBeGreaterThanOrEqual(commits);
      for (const [id, i] of got) committed.set(id, i);
      start = Math.max(...got.values()) + 1000;
    }
    const s = openStore(dir);
    expect(s.integrityCheck()).toBe("ok");
    expect(s.db.pragma("foreign_key_check")).toEqual([]);
    for (const [id, i] of committed) {
      const r = s.getRun(id);
      const p = payload(i);
      expect(r.prompt).toBe(`run ${i}`);
      expect(r.results.map((x) => x.result)).toEqual([{ kind: "lens", i }]);
      expect(r.events).toEqual(p.events);
      expect(r.blobs.map((b) => b.name)).toEqual(["own", "shared"]);
      const own = s.getTensor(r.blobs[0]?.id ?? -1).x;
      expect(own?.shape).toEqual([32, 64]);
      expect(Array.from(own?.data ?? [])).toEqual(Array.from(p.own.x.data));
      expect(Array.from(s.getTensor(r.blobs[1]?.id ?? -1).y?.data ?? [])).toEqual([1, 2, 3]);
    }
    // a run committed but killed before it was reported is whole too: a transaction is all or nothing
    for (const r of s.listRuns()) {
      expect(r.results).toBe(1);
      expect(r.events).toBe(EVENTS);
      expect(r.blobs).toBe(2);
    }
    // gc removes only what the kills left behind (a blob file whose run never committed, temporary files)
    const before = s.listRuns().length;
    s.gc();
    expect(s.listRuns().length).toBe(before);
    const files = new Set(readdirSync(s.blobDir));
    for (const id of committed.keys()) for (const b of s.getRun(id).blobs) expect(files.has(`${b.hash}.safetensors`)).toBe(true);
    s.close();
  }, 30_000);

  it("two writers at once both commit (BEGIN IMMEDIATE waits on the busy timeout), and both killed leave a whole store", async () => {
    const dir = join(root, "two");
    const [a, b] = await Promise.all([killWriter(dir, 0, 15, 5), killWriter(dir, 100_000, 15, 11)]);
    const s = openStore(dir);
    expect(s.integrityCheck()).toBe("ok");
    const committed = new Map([...(a ?? []), ...(b ?? [])]);
    expect(committed.size).toBe((a?.size ?? 0) + (b?.size ?? 0)); // no id given twice
    for (const [id, i] of committed) {
      const r = s.getRun(id);
      expect(r.prompt).toBe(`run ${i}`);
      expect(r.events).toEqual(payload(i).events);
      expect(Array.from(s.getTensor(r.blobs[0]?.id ?? -1).x?.data ?? [])).toEqual(Array.from(payload(i).own.x.data));
    }
    s.close();
  }, 30_000);
});
