// The fuzz suite against the model loaders (src/fuzz): mutators are deterministic and bounded, the runner
// classifies hangs, memory overruns and crashes, and a bounded campaign over every target finds no crash, hang,
// out-of-memory or raw exception beyond the known defects listed below. `npm run fuzz -- --count N` runs longer
// campaigns; `npm run fuzz -- --case ID` reproduces one case.
import { afterAll, describe, expect, it } from "vitest";
import { campaignIds, MAX_CASE_BYTES, makeCase, TARGETS, variantsOf } from "../src/fuzz/cases.js";
import { FAILING } from "../src/fuzz/execute.js";
import { formatSummary, summarize } from "../src/fuzz/report.js";
import { disposeWorkerBundle, runCases } from "../src/fuzz/runner.js";

afterAll(disposeWorkerBundle);

const sameBytes = (a: ReadonlyMap<string, Uint8Array>, b: ReadonlyMap<string, Uint8Array>) =>
  a.size === b.size && [...a].every(([k, v]) => Buffer.from(v).equals(Buffer.from(b.get(k) ?? new Uint8Array())));

describe("mutators", () => {
  const sample = TARGETS.flatMap((t) => variantsOf(t).flatMap((v) => [0, 1, 2, 3, 4, 5].map((n) => `${t}:${v}:${n}`)));

  it("a case id gives the same bytes every time, and different ids mostly different bytes", () => {
    let distinct = 0;
    for (const id of sample) {
      const a = makeCase(id);
      expect(sameBytes(a.files, makeCase(id).files), id).toBe(true);
      const [t, v] = id.split(":");
      if (!sameBytes(a.files, makeCase(`${t}:${v}:1000`).files)) distinct++;
    }
    expect(distinct).toBeGreaterThan(sample.length * 0.9);
  });

  it(`every case stays under ${MAX_CASE_BYTES} bytes`, () => {
    let largest = 0;
    for (const id of campaignIds(700, 7)) {
      const c = makeCase(id);
      const size = [...c.files.values()].reduce((n, b) => n + b.length, 0);
      largest = Math.max(largest, size);
      expect(size, id).toBeLessThan(MAX_CASE_BYTES);
    }
    console.log(`largest of 700 cases: ${(largest / 2 ** 20).toFixed(2)} MiB`);
  });
});

describe("runner", () => {
  it("classifies a hanging case, an allocating case, a crash and a raw exception, and goes on after each", async () => {
    const ids = ["test-hang:x:0", "test-crash:x:0", "test-throw:x:0"];
    const results = await runCases(ids, { jobs: 2, timeoutMs: 2000, rssLimitBytes: 400 * 2 ** 20 });
    // the allocating case alone, with time to spare: on a loaded machine it can take seconds to reach the cap, and
    // it must be the memory watch that stops it, not the clock
    const alloc = await runCases(["test-alloc:x:0", "config:gpt2:0"], {
      jobs: 1,
      timeoutMs: 60_000,
      rssLimitBytes: 400 * 2 ** 20,
    });
    const by = Object.fromEntries([...results, ...alloc].map((r) => [r.id, r.outcome]));
    expect(by["test-hang:x:0"]?.class).toBe("hang");
    expect(by["test-alloc:x:0"]?.class).toBe("out of memory");
    expect(by["test-alloc:x:0"]?.message).toMatch(/resident memory \d+ MiB over the 400 MiB cap/);
    expect(by["test-crash:x:0"]?.class).toBe("crash");
    expect(by["test-crash:x:0"]?.message).toMatch(/SIGSEGV/);
    expect(by["test-throw:x:0"]).toMatchObject({ class: "raw exception", errorClass: "TypeError" });
    expect(by["config:gpt2:0"]?.class).not.toMatch(/crash|hang|memory/);
  }, 120_000);
});

describe("campaign", () => {
  it("14,000 cases over every target: no crash, hang, out-of-memory or raw exception", async () => {
    const t0 = performance.now();
    const results = await runCases(campaignIds(14_000, 20261206), { jobs: 2 });
    const summary = summarize(results, (performance.now() - t0) / 1000);
    console.log(formatSummary(summary));
    const failing = results.filter((r) => FAILING.includes(r.outcome.class));
    expect(failing.map((r) => `${r.id}: ${r.outcome.class}: ${r.outcome.errorClass ?? ""} ${r.outcome.message}`)).toEqual([]);
    // a clean error names a file of the case and a field
    const clean = results.filter((r) => r.outcome.class === "clean error");
    for (const r of clean) {
      expect(r.outcome.file, r.id).not.toBe("");
      expect(r.outcome.field, r.id).not.toBe("");
      expect(r.outcome.fileInCase, `${r.id}: ${r.outcome.message}`).toBe(true);
    }
    // the mutations are not all refused at the door: every target has cases that load and run
    for (const t of TARGETS) {
      const row = summary.table[t];
      expect(row, t).toBeDefined();
      expect((row?.["loaded, finite outputs"] ?? 0) + (row?.["loaded, non-finite outputs"] ?? 0), t).toBeGreaterThan(0);
    }
  }, 600_000);
});
