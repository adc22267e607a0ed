// `llmdbg neurons` end to end: the real bin reads a generated corpus file of a few thousand lines through a stream
// and its JSON must equal the same computation done in-process over the same lines (top examples, windows,
// histogram counts), each example's window must be the tokens of its line around the peak, the histogram must
// count every token, --max-texts must stop reading early, a probe-style direction file must name its hook, and user
// errors must exit 1 or 2 naming the culprit. Both sides run the onnxruntime backend (the plain-TypeScript one takes
// seconds per thousand lines), with the same batches, and agree within 1e-5.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { writeSafetensors } from "@llmdbg/formats";
import { type CorpusText, neuronActivations, rng } from "@llmdbg/methods";
import { loadModel } from "@llmdbg/models";
import type { NeuronsRequest, NeuronsResult } from "@llmdbg/protocol";
import * as T from "@llmdbg/tensor";
import { writeTinyModel } from "@llmdbg/testing";
import { afterAll, describe, expect, it } from "vitest";

T.useBackend("ort");

const BIN = fileURLToPath(new URL("../bin/llmdbg.mjs", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "llmdbg-cli-neurons-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const hf = join(dir, "gpt2");
writeTinyModel(hf, "gpt2", { seed: 3 });
const m = loadModel(hf);
const tok = m.tokenizer as NonNullable<typeof m.tokenizer>;

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(args: string[]): Promise<Result> {
  return new Promise((resolve) => {
    const env = { ...process.env, LLMDBG_BACKEND: "ort" };
    execFile(process.execPath, [BIN, ...args], { env, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === "number" ? err.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

async function json(args: string[]): Promise<NeuronsResult> {
  const r = await cli([...args, "--json"]);
  if (r.code !== 0) throw new Error(`llmdbg ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** 3,000 lines of words; every 50th line is blank (an empty text). */
const words = ["the", "cat", "sat", "on", "a", "mat", "dog", "ran", "far", "hello", "world", "zebra", "quiet", "sun"];
const rand = rng(12);
const lines = Array.from({ length: 3000 }, (_, i) =>
  i % 50 === 49
    ? ""
    : Array.from({ length: 2 + Math.floor(rand() * 6) }, () => words[Math.floor(rand() * words.length)] as string).join(" "),
);
const corpus = join(dir, "corpus.txt");
writeFileSync(corpus, `${lines.join("\n")}\n`);

/** `a` equals `b` but for numbers, which may differ by 1e-5 (relative beyond 1): counts and ids stay exact. */
function expectClose(a: unknown, b: unknown, path = "$"): void {
  if (typeof b === "number") {
    expect(typeof a, path).toBe("number");
    expect(Math.abs((a as number) - b), path).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(b)));
  } else if (Array.isArray(b)) {
    expect((a as unknown[]).length, path).toBe(b.length);
    for (const [i, v] of b.entries()) expectClose((a as unknown[])[i], v, `${path}[${i}]`);
  } else if (typeof b === "object" && b !== null) {
    expect(Object.keys(a as object).sort(), path).toEqual(Object.keys(b).sort());
    for (const [k, v] of Object.entries(b)) expectClose((a as Record<string, unknown>)[k], v, `${path}.${k}`);
  } else expect(a, path).toBe(b);
}

const inProcess = (req: NeuronsRequest, texts: readonly CorpusText[]) =>
  neuronActivations(m.model, req, texts).then((r) => JSON.parse(JSON.stringify(r)) as NeuronsResult);

describe("llmdbg neurons", () => {
  it("streams a 3,000-line corpus: the JSON equals the in-process result; windows are the lines' tokens", async () => {
    const hook = "blocks.1.mlp.hook_post";
    const req: NeuronsRequest = { kind: "neurons", hook, neurons: [37, 2], topK: 5, window: 3, bins: 20, batch: 64 };
    const [d, want] = await Promise.all([
      json([
        "neurons",
        hf,
        "--corpus",
        corpus,
        "--hook",
        hook,
        "--neuron",
        "37,2",
        "--top",
        "5",
        "--window",
        "3",
        "--bins",
        "20",
        "--batch",
        "64",
      ]),
      inProcess(req, lines),
    ]);
    expectClose(d, want);
    const encoded = lines.map((l) => (l === "" ? [] : tok.encode(l)));
    const tokens = encoded.reduce((s, e) => s + e.length, 0);
    expect([d.texts, d.empty, d.tokens]).toEqual([3000, 60, tokens]);
    for (const u of d.units) {
      expect(u.top).toHaveLength(5);
      expect(u.histogram.counts.reduce((s, c) => s + c, 0) + u.histogram.below + u.histogram.above).toBe(tokens);
      expect(u.stats.count).toBe(tokens);
      for (const e of u.top) {
        const ids = encoded[e.text] as number[];
        expect(e.tokens.map((t) => t.id)).toEqual(ids.slice(Math.max(0, e.position - 3), e.position + 4));
        expect(e.activations[e.position - e.start]).toBe(e.value);
      }
    }
  });

  it("--max-texts stops early; --range fixes the bins; a direction file names its hook", async () => {
    const hook = "blocks.0.hook_resid_post";
    const r = rng(5);
    const values = Array.from({ length: m.config.dModel }, () => Math.fround(r() - 0.5)); // as the f32 file stores them
    const file = join(dir, "dir.safetensors");
    writeSafetensors(
      file,
      { "direction.up": T.tensor(values, [values.length]) },
      { metadata: { format: "llmdbg.steering", hook } },
    );
    const [d, want] = await Promise.all([
      json(["neurons", hf, "--corpus", corpus, "--direction", `${file}:up`, "--max-texts", "200", "--range=-2,2", "--top", "3"]),
      inProcess(
        { kind: "neurons", hook, directions: [{ name: "direction.up", values }], maxTexts: 200, range: [-2, 2], topK: 3 },
        lines,
      ),
    ]);
    expectClose(d, want);
    expect([d.hook, d.texts]).toEqual([hook, 200]);
    expect(d.units[0]?.histogram.range).toBe("given");
    expect(d.units[0]?.histogram.lo).toBe(-2);
  });

  it("reads .jsonl texts, ids and blank lines; prints a table and a histogram without --json", async () => {
    const file = join(dir, "corpus.jsonl");
    writeFileSync(file, ['"hello world"', '{"text": "the cat sat"}', "", '{"ids": [5, 6, 7]}'].join("\n"));
    const [d, text] = await Promise.all([
      json(["neurons", hf, "--corpus", file, "--hook", "blocks.0.mlp.hook_post", "--neuron", "1"]),
      cli(["neurons", hf, "--corpus", corpus, "--hook", "blocks.0.mlp.hook_post", "--neuron", "4", "--max-texts", "300"]),
    ]);
    expect([d.texts, d.empty, d.tokens]).toEqual([4, 1, tok.encode("hello world").length + tok.encode("the cat sat").length + 3]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/blocks\.0\.mlp\.hook_post \(128 features\): 300 texts, [\d,]+ tokens, 6 empty/);
    expect(text.stdout).toMatch(/neuron 4: mean -?\d+\.\d{4}, std \d+\.\d{4}/);
    expect(text.stdout).toMatch(/⟦".*"⟧/);
    expect(text.stdout).toMatch(/histogram over \[-?\d+\.\d{4}, -?\d+\.\d{4}\]/);
    expect(text.stdout).toMatch(/quantiles: 1% -?\d+\.\d{4}/);
  });

  it("user errors exit 2 (command line) or 1 (data), naming the culprit", async () => {
    const base = ["neurons", hf, "--corpus", corpus, "--hook", "blocks.0.mlp.hook_post"];
    const bad = join(dir, "bad.jsonl");
    writeFileSync(bad, '"fine"\n{"text": 3}\n');
    // the processes run side by side: each spends most of its time starting
    const [noCorpus, noUnit, range, missing, neuron, hook, line] = await Promise.all([
      cli(["neurons", hf, "--hook", "blocks.0.mlp.hook_post", "--neuron", "1"]),
      cli(base),
      cli([...base, "--neuron", "1", "--range", "3,1"]),
      cli(["neurons", hf, "--corpus", join(dir, "nope.txt"), "--hook", "hook_embed", "--neuron", "1"]),
      cli([...base, "--neuron", "1,128"]),
      cli(["neurons", hf, "--corpus", corpus, "--hook", "blocks.0.mlp.hook_pots", "--neuron", "1"]),
      cli(["neurons", hf, "--corpus", bad, "--hook", "hook_embed", "--neuron", "1"]),
    ]);
    expect([noCorpus.code, noUnit.code, range.code, missing.code]).toEqual([2, 2, 2, 2]);
    expect(noUnit.stderr).toMatch(/pass --neuron/);
    expect(range.stderr).toMatch(/--range must be LO,HI with LO < HI/);
    expect(missing.stderr).toMatch(/--corpus .*nope\.txt: cannot read it \(ENOENT\)/);
    expect(neuron.code).toBe(1);
    expect(neuron.stderr).toMatch(/neurons\[1\]: neuron 128 is not in \[0, 128\)/);
    expect(hook.code).toBe(1);
    expect(hook.stderr).toMatch(/hook: .*matches nothing/);
    expect(line.code).toBe(1);
    expect(line.stderr).toMatch(/bad\.jsonl:2: expected a JSON string/);
    expect(line.stderr).not.toMatch(/\n\s+at /);
  });
});
