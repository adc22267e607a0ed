// The summary line of scripts/test.mjs against a fixture suite whose files fail in every way vitest has: a
// failing test (c), a throw while the file loads (b), an error thrown after a test returned (d), a failing
// beforeAll whose tests vitest then marks skipped (e). Each must count as a failure and fail the exit code.
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";

const script = new URL("../test.mjs", import.meta.url).pathname;
const root = new URL("../fixtures/summary/", import.meta.url).pathname;

function summarize(...files: string[]): { line: string; status: number | null; out: string } {
  const r = spawnSync(process.execPath, [script, "--root", root, ...files], { encoding: "utf8", timeout: 60_000 });
  const out = `${r.stdout}${r.stderr}`;
  return { line: r.stdout.trim().split("\n").at(-1) ?? "", status: r.status, out };
}

describe("scripts/test.mjs summary line", () => {
  it("a file that throws at load time is a failure, beside passing files", () => {
    const r = summarize("a.fixture.ts", "b.fixture.ts");
    expect(r.line).toBe("2 passed, 1 failed");
    expect(r.out).toContain("b.fixture.ts: boom at load");
    expect(r.status).toBe(1);
  });

  it("counts failed tests, load errors, unhandled errors and failed hooks, with the skipped tests apart", () => {
    const r = summarize();
    expect(r.line).toBe("3 passed, 4 failed, 1 skipped");
    expect(r.out).toContain("c.fixture.ts > fails");
    expect(r.out).toContain("unhandled error: thrown after the test returned");
    expect(r.out).toContain("e.fixture.ts > set-up fails: beforeAll failed");
    expect(r.status).toBe(1);
  });

  it("passes only when everything passed", () => {
    const r = summarize("a.fixture.ts");
    expect(r.line).toBe("2 passed, 0 failed");
    expect(r.status).toBe(0);
  });

  it("a filter that matches no file is a failure, not an empty pass", () => {
    const r = summarize("no-such.fixture.ts");
    expect(r.line).toMatch(/^0 passed, 1 failed$/);
    expect(r.status).toBe(1);
  });
});
