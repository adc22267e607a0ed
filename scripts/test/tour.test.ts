// The README's terminal tour: `npm run example` (scripts/tour.sh) runs on the committed stories model, writes a
// story, and its attribution shows the pronoun " he" as what makes the model prefer " his" to " her" — the claim
// the README makes about it.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const root = new URL("../../", import.meta.url).pathname;

describe("npm run example", () => {
  it("runs every step on zoo/stories and its attribution names the pronoun", async () => {
    const env = { ...process.env, PATH: `${join(root, "node_modules/.bin")}:${process.env.PATH ?? ""}` };
    const { code, stdout } = await new Promise<{ code: number; stdout: string }>((resolve) => {
      execFile("sh", [join(root, "scripts/tour.sh")], { cwd: root, env, maxBuffer: 16 << 20 }, (err, out) =>
        resolve({ code: err === null ? 0 : typeof err.code === "number" ? err.code : 1, stdout: out }),
      );
    });
    expect(code).toBe(0);
    expect(stdout).toContain("Once upon a time, there was a little");
    expect(stdout.match(/^\$ llmdbg /gm)).toHaveLength(4);
    // the attribution table: rows "pos  token  score  bar"; the largest score is the pronoun's
    const table = stdout.slice(stdout.indexOf("integrated gradients of the logprob"));
    const rows = [...table.matchAll(/^\s*\d+\s+("(?:[^"\\]|\\.)*")\s+(-?\d+\.\d+)/gm)].map((m) => ({
      token: m[1],
      score: Number(m[2]),
    }));
    expect(rows.length).toBeGreaterThan(10);
    const top = rows.reduce((a, b) => (b.score > a.score ? b : a));
    expect(top.token).toBe('" he"');
  });
});
