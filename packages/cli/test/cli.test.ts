// The `llmdbg` executable end to end: each test spawns the real bin on one tiny GPT-2 written to a temp folder
// and checks its JSON against the same computation done in-process (logits, top-k, cached activations,
// greedy and seeded generation), that conversions reload to the same logits, and that user errors exit 1 or 2
// with a message naming the culprit and no stack trace. Spawned processes use the `ref` backend, as this
// process does, so both sides compute identically; profile runs on the default backend.
import { execFile, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { generate, run, topK } from "@llmdbg/core";
import { readSafetensors } from "@llmdbg/formats";
import { generationOptions, loadModel } from "@llmdbg/models";
import * as T from "@llmdbg/tensor";
import { writeTinyGguf, writeTinyModel } from "@llmdbg/testing";
import { expectMethodResult } from "@llmdbg/testing/vitest";
import { afterAll, describe, expect, it } from "vitest";
import { TextStream } from "../src/commands/generate.js";
import { decodeIds } from "../src/load.js";

T.useBackend("ref");

const BIN = fileURLToPath(new URL("../bin/llmdbg.mjs", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "llmdbg-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const hf = join(dir, "gpt2");
const tiny = writeTinyModel(hf, "gpt2", { seed: 3 });
const m = loadModel(hf);
const V = m.config.vocabSize;

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(args: string[], backend: "ref" | "ort" = "ref"): Promise<Result> {
  return new Promise((resolve) => {
    const env = { ...process.env, LLMDBG_BACKEND: backend };
    execFile(process.execPath, [BIN, ...args], { env, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === "number" ? err.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

async function json(args: string[], backend: "ref" | "ort" = "ref") {
  const r = await cli([...args, "--json"], backend);
  if (r.code !== 0) throw new Error(`llmdbg ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs((a[i] as number) - (b[i] as number)));
  return d;
}

const ids = [3, 17, 42, 5, 99, 7];
const x = T.tensor(ids, [1, ids.length], "i32");
const ref = run(m.model, x, { cache: true });
const refLogits = ref.output.data;
// a plain run takes the fused kernels (no hook is observed), as `llmdbg run` without --cache does
const plainLogits = run(m.model, x).output.data;

describe("llmdbg inspect", () => {
  it("counts the stored parameters and lists every hook point with its real shape", async () => {
    const d = await json(["inspect", hf, "--seq", "5"]);
    const stored = Object.values(tiny.weights).reduce((a, t) => a + t.size, 0);
    expect(d.parameters).toBe(stored);
    expect(d.dtypes.F32.parameters).toBe(stored);
    expect(d.architecture).toEqual({
      family: "gpt2",
      source: { format: "hf", modelType: "gpt2", file: join(hf, "config.json") },
    });
    expect(d.tokenizer.vocabSize).toBe(V);
    const points = new Map(d.hooks.points.map((p: { name: string; shape: number[] }) => [p.name, p.shape]));
    expect(points.size).toBe(m.model.hookPoints.length);
    expect(points.get("blocks.1.attn.hook_pattern")).toEqual([1, m.config.nHeads, 5, 5]);
    expect(points.get("blocks.0.ln1.hook_scale")).toEqual([1, 5, 1]);
    expect(points.get("blocks.0.mlp.hook_post")).toEqual([1, 5, m.config.dMlp]);
  });
});

describe("llmdbg run", () => {
  it("reports the in-process top-k, logits and cached activations", async () => {
    const out = join(dir, "cache.safetensors");
    const pattern = "blocks.*.attn.hook_pattern,hook_embed";
    const d = await json([
      "run",
      hf,
      "--tokens",
      ids.join(","),
      "--top-k",
      "3",
      "--all-logits",
      "--cache",
      pattern,
      "--out",
      out,
    ]);
    expect(d.tokens).toEqual(ids);
    expect(d.positions).toHaveLength(ids.length);
    d.positions.forEach((p: { top: { id: number; prob: number }[] }, i: number) => {
      const row = Array.from(refLogits.subarray(i * V, (i + 1) * V));
      expect(p.top).toHaveLength(3);
      expect(p.top[0]?.id).toBe(row.indexOf(Math.max(...row)));
      expect(p.top[0]?.prob).toBeGreaterThanOrEqual(p.top[1]?.prob ?? 1);
    });
    expect(maxDiff(d.logits.flat(), refLogits)).toBeLessThan(1e-6);
    const st = readSafetensors(out);
    const names = ["hook_embed", "blocks.0.attn.hook_pattern", "blocks.1.attn.hook_pattern"];
    expect(st.entries.map((e) => e.name).sort()).toEqual([...names].sort());
    for (const n of names) expect(maxDiff(st.load(n).data, ref.cache.get(n).data)).toBeLessThan(1e-6);
  });

  it("topK matches a full sort, ties in vocabulary order", () => {
    const row = [0.5, 2, -1, 2, 3, 0];
    expect(topK(row, 3).map((t) => t.id)).toEqual([4, 1, 3]);
    const z = row.reduce((a, v) => a + Math.exp(v), 0);
    expect(topK(row, 1)[0]?.prob).toBeCloseTo(Math.exp(3) / z, 12);
  });
});

describe("llmdbg generate", () => {
  const tok = m.tokenizer as NonNullable<typeof m.tokenizer>;
  const prompt = "hello world";
  const promptIds = tok.encode(prompt);
  const inProcess = (o: { temperature: number; topK?: number; seed?: number }) =>
    generate(m.model, [promptIds], generationOptions(m.generation, { maxNewTokens: 8, ...o })).tokens[0];

  it("greedy --json and the stream equal in-process generate()", async () => {
    const [d, streamed] = await Promise.all([
      json(["generate", hf, "--text", prompt, "--max-new", "8", "--temperature", "0"]),
      cli(["generate", hf, "--text", prompt, "--max-new", "8", "--temperature", "0"]),
    ]);
    const want = inProcess({ temperature: 0 }) ?? [];
    expect(d.promptTokens).toEqual(promptIds);
    expect(d.newTokens).toEqual(want);
    expect(d.finishReason).toBe(want.length < 8 ? "eos" : "length");
    expect(streamed.code).toBe(0);
    expect(streamed.stdout).toBe(`${prompt}${tok.decode(want, { skipSpecialTokens: true })}\n`);
  });

  it("a seed reproduces the sampled tokens", async () => {
    const args = ["generate", hf, "--text", prompt, "--max-new", "8", "--temperature", "0.9", "--top-k", "40", "--seed", "7"];
    const [a, b] = await Promise.all([json(args), json(args)]);
    expect(a.newTokens).toEqual(b.newTokens);
    expect(a.newTokens).toEqual(inProcess({ temperature: 0.9, topK: 40, seed: 7 }));
  });

  it("streams a character split over byte tokens only once it is complete", () => {
    const ids = tok.encode("日本 ok");
    const decode = (s: readonly number[]) => tok.decode(s);
    const stream = new TextStream(decode);
    const deltas = ids.map((_, i) => stream.push(ids.slice(0, i + 1)));
    deltas.push(stream.flush(ids));
    expect(deltas.join("")).toBe("日本 ok");
    expect(deltas.some((d) => d.includes("\uFFFD"))).toBe(false);
  });
});

describe("llmdbg profile", () => {
  it("attributes the forward pass to layers within its total, and times the backward pass", async () => {
    const d = await json(["profile", hf, "--tokens", ids.join(","), "--repeat", "1"], "ort");
    const f = d.forward;
    const blocks = f.layers.filter((l: { layer: number | null }) => l.layer !== null);
    expect(blocks.map((l: { layer: number }) => l.layer).sort()).toEqual([0, 1]);
    const sum = f.layers.reduce((a: number, l: { ms: number }) => a + l.ms, 0);
    expect(sum).toBeGreaterThan(0);
    expect(sum).toBeLessThanOrEqual(f.totalMs);
    expect(f.bottleneck).toBe(f.components[0].name);
    expect(f.components.map((c: { name: string }) => c.name)).toContain("unembed");
    expect(d.backward.backwardMs).toBeGreaterThan(0);
    expect(Number.isFinite(d.backward.loss)).toBe(true);
  });
});

describe("llmdbg convert", () => {
  it("to safetensors and to GGUF, each reloading to the same logits", async () => {
    const st = join(dir, "converted");
    const gguf = join(dir, "converted.gguf");
    const [a, b] = await Promise.all([
      json(["convert", hf, "--to", "safetensors", st]),
      json(["convert", hf, "--to", "gguf", gguf]),
    ]);
    expect(a.files).toContain("tokenizer.json");
    expect(b.type).toBe("F32");
    const tokens = ["--tokens", ids.join(","), "--all-logits"];
    const [ra, rb] = await Promise.all([json(["run", st, ...tokens]), json(["run", gguf, ...tokens])]);
    expect(maxDiff(ra.logits.flat(), plainLogits)).toBe(0);
    expect(maxDiff(rb.logits.flat(), plainLogits)).toBeLessThan(1e-6); // the same F32 weights (measured 0)
  });
});

describe("llmdbg convert: a SentencePiece (Llama 2) folder", () => {
  it("to GGUF (model llama, scores from the merges), running to the folder's tokens and top tokens", async () => {
    const folder = join(dir, "llama2");
    writeTinyModel(folder, "llama", { seed: 3, tokenizer: "sentencepiece" });
    const gguf = join(dir, "llama2.gguf");
    const c = await json(["convert", folder, "--to", "gguf", gguf]);
    expect(c.type).toBe("F32");
    const args = ["--text", "Hello world, the quick brown fox 12 🦙</s> sleeps", "--top-k", "5"];
    const [a, b] = await Promise.all([json(["run", folder, ...args]), json(["run", gguf, ...args])]);
    expect(a.tokens[0]).toBe(1); // <s>, as Llama 2's post-processor adds it
    expect(b.tokens).toEqual(a.tokens);
    const top = (d: { positions: { top: { id: number }[] }[] }) => d.positions.map((p) => p.top.map((t) => t.id));
    expect(top(b)).toEqual(top(a));
  });
});

describe("llmdbg convert from GGUF", () => {
  it("a GGUF back to a Hugging Face folder that runs to the same top tokens", async () => {
    const gguf = join(dir, "to-hf.gguf");
    writeTinyGguf(gguf, tiny);
    const folder = join(dir, "from-gguf");
    const c = await json(["convert", gguf, "--to", "safetensors", folder]);
    expect([...c.files].sort()).toEqual(
      ["config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"].sort(),
    );
    expect(c.dtype).toBe("F32");
    const args = ["--text", "hello world, this is a test", "--top-k", "5"];
    const [a, b] = await Promise.all([json(["run", gguf, ...args]), json(["run", folder, ...args])]);
    expect(b.tokens).toEqual(a.tokens);
    const top = (d: { positions: { top: { id: number }[] }[] }) => d.positions.map((p) => p.top.map((t) => t.id));
    expect(top(b)).toEqual(top(a));
    expect(top(b)).toEqual(top(await json(["run", hf, ...args])));
  });
});

describe("errors", () => {
  it("exit 1 naming the path or the file and field, exit 2 with usage for a bad command line", async () => {
    const bad = join(dir, "bad");
    writeTinyModel(bad, "gpt2", { seed: 3 });
    writeFileSync(join(bad, "config.json"), JSON.stringify({ ...tiny.config, n_head: "four" }));
    const missing = join(dir, "no-such-model");
    const [r1, r2, r3] = await Promise.all([
      cli(["run", missing, "--text", "hi"]),
      cli(["inspect", bad]),
      cli(["run", hf, "--tokens", "1", "--frobnicate"]),
    ]);
    expect(r1.code).toBe(1);
    expect(r1.stderr).toContain(missing);
    expect(r2.code).toBe(1);
    expect(r2.stderr).toMatch(/config\.json: n_head: expected/);
    expect(r3.code).toBe(2);
    expect(r3.stderr).toMatch(/--frobnicate[\s\S]*usage: llmdbg run/);
    for (const r of [r1, r2, r3]) expect(r.stderr).not.toMatch(/^\s+at /m);
  });
});

describe("a quiet start", () => {
  it("npx llmdbg --version prints the version and nothing on stderr (no npm warnings)", () => {
    const root = fileURLToPath(new URL("../../../", import.meta.url));
    const r = spawnSync("npx", ["llmdbg", "--version"], { cwd: root, encoding: "utf8", timeout: 60_000 });
    expect(r.status).toBe(0);
    expect(r.stdout).toBe("llmdbg 0.1.0\n");
    expect(r.stderr).toBe("");
  });
});

describe("the command line (exit 2) apart from the data (exit 1), with messages that help", () => {
  it.each([
    [["generate", "MODEL", "--text", "hi", "--max-new", "-5"], 2, /--max-new must be an integer >= 0, got "-5"/],
    [["run", "MODEL", "--text", "hi", "--top-kk", "3"], 2, /unknown option --top-kk; did you mean --top-k\?/],
    [
      ["run", "MODEL", "--text", "hi", "--cache", "hook_embed", "--out", "/no/such/folder/x.safetensors"],
      2,
      /the folder \/no\/such\/folder does not exist/,
    ],
    [
      ["run", "MODEL", "--text", "hi", "--cache", "blocks.0.attn.hook_patern", "--out", "OUT"],
      2,
      /did you mean blocks.0.attn.hook_pattern/,
    ],
    [["run", "MODEL", "--tokens", "1,999999"], 1, /token id 999999 is out of range: the model's vocabulary has \d+ tokens/],
    [["run", "MODEL", "--text", ""], 1, /the input has no tokens/],
    [["run", "SAFETENSORS", "--text", "hi"], 1, /model.safetensors: path: is a safetensors file: pass the model folder/],
  ] as const)("%j exits %i", async (args, code, message) => {
    const out = join(dir, "cache.safetensors");
    const r = await cli(
      args.map((a) => (a === "MODEL" ? hf : a === "SAFETENSORS" ? join(hf, "model.safetensors") : a === "OUT" ? out : a)),
    );
    expect(r.code).toBe(code);
    expect(r.stderr).toMatch(message);
  });

  it("a checkpoint with tensors the config does not describe exits 1 naming them; --allow-unread loads it and says so", async () => {
    const folder = join(dir, "one-layer");
    writeTinyModel(folder, "gpt2", { seed: 3 });
    writeFileSync(join(folder, "config.json"), JSON.stringify({ ...tiny.config, n_layer: 1 }));
    const refused = await cli(["run", folder, "--tokens", "1,2"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /model\.safetensors: transformer\.h\.1\.\S+: the gpt2 architecture .* does not read \d+ stored tensor/,
    );
    expect(refused.stderr).toMatch(/--allow-unread/);
    const allowed = await cli(["run", folder, "--tokens", "1,2", "--allow-unread", "--json"]);
    expect(allowed.code).toBe(0);
    expect(allowed.stderr).toMatch(/note: \d+ stored tensor\(s\) not read \(--allow-unread\): transformer\.h\.1\./);
    expect(JSON.parse(allowed.stdout).tokens).toEqual([1, 2]);
  });

  it("convert refuses to overwrite its output without --force", async () => {
    const gguf = join(dir, "overwrite.gguf");
    expect((await cli(["convert", hf, "--to", "gguf", gguf])).code).toBe(0);
    const again = await cli(["convert", hf, "--to", "gguf", gguf]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/overwrite.gguf: exists; pass --force to replace it/);
    expect((await cli(["convert", hf, "--to", "gguf", gguf, "--force"])).code).toBe(0);
  });
});

describe("a padded vocabulary (more embedding rows than tokens)", () => {
  const padded = join(dir, "padded");
  writeTinyModel(padded, "gpt2", { seed: 3, padVocabTo: 128 });
  const pm = loadModel(padded);
  const rows = pm.config.vocabSize;
  const pads = Array.from({ length: rows }, (_, id) => id).filter((id) => pm.tokenizer?.idToToken(id) === undefined);

  it("has padding rows to predict", () => {
    expect(rows % 128).toBe(0);
    expect(pads.length).toBeGreaterThan(0);
  });

  it("run shows a prediction on a padding row by its id: (none) in text, token null in JSON", async () => {
    const d = await json(["run", padded, "--text", "ab", "--top-k", String(rows)]);
    const top = d.positions[0].top as { id: number; token: string | null; display: string | null }[];
    expect(top).toHaveLength(rows);
    const pad = top.find((p) => p.id === pads[0]);
    expect(pad).toMatchObject({ token: null, display: null });
    expect(top.filter((p) => p.token !== null).length).toBe(rows - pads.length);
    const r = await cli(["run", padded, "--text", "ab", "--top-k", "10"]);
    expect(r.code).toBe(0);
    // the text table shows the first 10 predictions per position; those on padding rows read "(none) id"
    const shown = (d.positions as { top: { id: number }[] }[]).flatMap((p) => p.top.slice(0, 10));
    const padsShown = shown.filter((p) => pads.includes(p.id));
    expect(padsShown.length).toBeGreaterThan(0); // this seed's random weights rank a padding row high
    for (const p of padsShown) expect(r.stdout).toMatch(new RegExp(`\\(none\\) ${p.id} \\d`));
  });

  it("a tokenizer id beyond the embedding rows exits 1 naming tokenizer.json and the field", async () => {
    const far = join(dir, "far-token");
    writeTinyModel(far, "gpt2", { seed: 3 });
    const json = JSON.parse(readFileSync(join(far, "tokenizer.json"), "utf8"));
    json.model.vocab.far = 1e9;
    writeFileSync(join(far, "tokenizer.json"), JSON.stringify(json));
    const r = await cli(["run", far, "--text", "ab"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/tokenizer\.json: model\.vocab\["far"\]: id 1000000000 is beyond the model's \d+ embedding rows/);
  });

  it("generated text writes an id with no token as <id N>", () => {
    const a = pm.tokenizer?.encode("ab") ?? [];
    expect(decodeIds(pm, [...a, pads[0] as number, ...a], true)).toBe(`ab<id ${pads[0]}>ab`);
  });
});

describe("lens and dla", () => {
  const target = 7;
  it("lens --json prints a LensResult whose last row is run's output", async () => {
    const d = await json(["lens", hf, "--tokens", ids.join(","), "--target", String(target), "--top-k", "3"]);
    expectMethodResult(d);
    expect(d.layers).toHaveLength(m.config.nLayers + 1);
    const last = d.cells.at(-1) as { top: { id: number; logit: number }[]; target: { logit: number } }[];
    const V2 = ref.output.shape[2] as number;
    last.forEach((cell, p) => {
      expect(cell.target.logit).toBeCloseTo(ref.output.data[p * V2 + target] as number, 5);
    });
    const text = await cli(["lens", hf, "--tokens", ids.join(","), "--target", String(target)]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^L0 pre /m);
    expect(text.stdout).toMatch(/^L1 post /m);
  });

  it("dla --json prints a DlaResult whose components sum to the logit; the table lists the largest first", async () => {
    const d = await json(["dla", hf, "--tokens", ids.join(","), "--target", String(target), "--foil", "3"]);
    expectMethodResult(d);
    expect(d.error).toBeLessThan(1e-4);
    expect(d.foil.id).toBe(3);
    const text = await cli(["dla", hf, "--tokens", ids.join(","), "--target", String(target), "--top", "4"]);
    expect(text.code).toBe(0);
    const values = [...text.stdout.matchAll(/^\S+(?: \S+)*?\s+(-?\d+\.\d{4})\s+[\d.]+%$/gm)].map((x) => Math.abs(Number(x[1])));
    expect(values).toHaveLength(4);
    expect(values).toEqual([...values].sort((a, b) => b - a));
    expect(text.stdout).toMatch(/components sum to .* final norm's scale frozen/);
  });

  it("bad requests: a multi-token or missing --target exits 2, a model DLA cannot read exits 1 naming why", async () => {
    const multi = await cli(["dla", hf, "--text", "ab", "--target", "hello world"]);
    expect(multi.code).toBe(2);
    expect(multi.stderr).toMatch(/--target "hello world" is \d+ tokens .* expected one/);
    expect((await cli(["dla", hf, "--text", "ab"])).code).toBe(2);
    expect((await cli(["lens", hf, "--text", "ab", "--target", String(V)])).code).toBe(2);
    const bertDir = join(dir, "bert-dla");
    writeTinyModel(bertDir, "bert", { seed: 3 });
    const bert = await cli(["dla", bertDir, "--tokens", "5,6", "--target", "7"]);
    expect(bert.code).toBe(1);
    expect(bert.stderr).toMatch(/model: direct logit attribution needs a final norm/);
  });

  it("attribute --json prints a GradientAttributionResult for each method; ig is complete from a token baseline", async () => {
    for (const method of ["saliency", "grad-x-input", "ig"]) {
      const d = await json([
        "attribute",
        hf,
        "--tokens",
        ids.join(","),
        "--method",
        method,
        "--target",
        String(target),
        "--baseline",
        "token:0",
      ]);
      expectMethodResult(d);
      expect(d.scores).toHaveLength(ids.length);
      if (method === "ig") expect(Math.abs(d.delta)).toBeLessThan(0.01 * Math.abs(d.fInput - d.fBaseline));
    }
    const gen = await json(["attribute", hf, "--tokens", ids.join(","), "--method", "grad-x-input", "--generate", "3"]);
    expectMethodResult(gen);
    expect(gen.matrix).toHaveLength(3);
    const genText = await cli(["attribute", hf, "--tokens", ids.join(","), "--method", "saliency", "--generate", "2"]);
    expect(genText.stdout).toMatch(/each generated token \(row\) attributed to every token before it/);
    const data = join(dir, "baseline-texts.txt");
    writeFileSync(data, "hello world\nthe cat\n\n");
    const ds = await json([
      "attribute",
      hf,
      "--tokens",
      ids.join(","),
      "--baseline",
      `dataset:${data}`,
      "--steps",
      "8",
      "--rule",
      "riemann-trapezoid",
    ]);
    expect(ds.baseline).toEqual({ kind: "dataset", texts: ["hello world", "the cat"] });
    expect(ds.rule).toBe("riemann_trapezoid");
    const text = await cli(["attribute", hf, "--tokens", ids.join(","), "--target", String(target), "--baseline", "token:0"]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/integrated gradients of the logprob of .* at position 5, at hook_embed/);
    expect(text.stdout).toMatch(/delta -?\d\.\d\de[-+]\d+ \(\d+\.\d\d% of the gap; 64 gauss-legendre steps\)/);
    // usage errors: a baseline the tokenizer cannot give, an unknown method, a missing dataset file
    expect((await cli(["attribute", hf, "--tokens", "1,2", "--baseline", "sideways"])).code).toBe(2);
    expect((await cli(["attribute", hf, "--tokens", "1,2", "--method", "sideways"])).code).toBe(2);
    expect((await cli(["attribute", hf, "--tokens", "1,2", "--baseline", "dataset:/nonexistent.txt"])).code).toBe(2);
    const badHook = await cli(["attribute", hf, "--tokens", "1,2", "--hook", "blocks.0.attn.hook_pattern"]);
    expect(badHook.code).toBe(1);
    expect(badHook.stderr).toMatch(/hook: blocks\.0\.attn\.hook_pattern has axes \[batch, head, query_pos, key_pos\]/);
  });

  it("attribute --method occlusion|lime|shap prints a PerturbationAttributionResult; shap's scores sum to the masked gap", async () => {
    for (const method of ["occlusion", "lime", "shap"]) {
      const d = await json([
        "attribute",
        hf,
        "--tokens",
        ids.join(","),
        "--method",
        method,
        "--target",
        String(target),
        "--samples",
        "40",
        "--seed",
        "3",
      ]);
      expectMethodResult(d);
      expect(d.method).toBe(method);
      expect(d.scores).toHaveLength(ids.length);
      if (method === "shap")
        expect(Math.abs(d.scores.reduce((a: number, b: number) => a + b, 0) - (d.fInput - d.fMasked))).toBeLessThan(1e-6);
    }
    const text = await cli(["attribute", hf, "--tokens", ids.join(","), "--method", "lime", "--samples", "40"]);
    expect(text.stdout).toMatch(/42 masked inputs evaluated \(seed 0\); surrogate R² -?\d\.\d{3}/);
    expect((await cli(["attribute", hf, "--tokens", "1,2", "--method", "occlusion", "--window", "3"])).code).toBe(1);
  });

  it("patch --json prints a PatchResult for a grid and for path patching; bad prompts and flags are errors", async () => {
    const clean = [5, 9, 14, 3, 7, 11].join(",");
    const corrupted = [5, 9, 21, 3, 7, 11].join(",");
    const base = ["patch", hf, "--clean-tokens", clean, "--corrupted-tokens", corrupted, "--answer", "4", "--foil", "8"];
    const d = await json([...base, "--grid", "z"]);
    expectMethodResult(d);
    expect(d.rows).toHaveLength(m.config.nLayers);
    expect(d.cols).toHaveLength(m.config.nHeads);
    expect(d.attribution.rankCorrelation).toBeGreaterThanOrEqual(-1);
    const path = await json([...base, "--grid", "path", "--receiver", "1.0.k", "--method", "activation"]);
    expectMethodResult(path);
    expect(path.receiver).toEqual({ layer: 1, head: 0, input: "k" });
    expect(path.attribution).toBeNull();
    const text = await cli([...base, "--grid", "resid_pre"]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/activation patching of resid_pre: \(patched − corrupted\) \/ \(clean − corrupted\)/);
    expect(text.stdout).toMatch(/against activation patching: Spearman ρ -?\d\.\d{3}, top-\d+ agreement \d+%/);
    expect((await cli([...base, "--grid", "path"])).code).toBe(2); // no receiver
    expect((await cli([...base, "--receiver", "1.0.x", "--grid", "path"])).code).toBe(2);
    const short = await cli(["patch", hf, "--clean-tokens", clean, "--corrupted-tokens", "1,2", "--answer", "4", "--foil", "8"]);
    expect(short.code).toBe(1);
    expect(short.stderr).toMatch(/corrupted: 2 tokens, but the clean prompt has 6/);
  });

  it("ablate --json prints an AblationResult, largest effects first; mean ablation needs a dataset", async () => {
    const data = join(dir, "ablate-data.txt");
    writeFileSync(data, "hello world\nthe cat sat\n");
    const d = await json(["ablate", hf, "--tokens", ids.join(","), "--ablation", "mean", "--dataset", data, "--answer", "7"]);
    expectMethodResult(d);
    expect(d.effects).toHaveLength(m.config.nLayers * m.config.nHeads);
    const layers = await json(["ablate", hf, "--tokens", ids.join(","), "--components", "layers"]);
    expect(layers.effects.map((e: { name: string }) => e.name).sort()).toEqual(["L0 attn", "L0 mlp", "L1 attn", "L1 mlp"]);
    const text = await cli(["ablate", hf, "--tokens", ids.join(","), "--components", "neurons", "--layers", "1", "--top", "3"]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/zero ablation of neurons: logprob of .* unablated -?\d+\.\d{4}/);
    expect(text.stdout).toMatch(/\(3 of \d+ components/);
    expect((await cli(["ablate", hf, "--tokens", "1,2", "--ablation", "mean"])).code).toBe(2);
    expect((await cli(["ablate", hf, "--tokens", "1,2", "--metric", "logit-diff"])).code).toBe(1); // no foil: bad data
  });

  it("probe --json prints a ProbeResult per hook; --export writes the directions; a bad line names file and line", async () => {
    const data = join(dir, "probe.jsonl");
    const lines = Array.from({ length: 30 }, (_, i) =>
      JSON.stringify({ ids: [40 + (i % 7), 50 + (i % 5), i % 2 === 0 ? 10 : 20], label: i % 2 === 0 ? "even" : "odd" }),
    );
    writeFileSync(data, `${lines.join("\n")}\n`);
    const out = join(dir, "directions.safetensors");
    const d = await json([
      "probe",
      hf,
      "--dataset",
      data,
      "--hooks",
      "hook_embed,blocks.*.hook_resid_post",
      "--steps",
      "100",
      "--export",
      out,
    ]);
    expectMethodResult(d);
    expect(d.probes.map((p: { hook: string }) => p.hook)).toEqual([
      "hook_embed",
      "blocks.0.hook_resid_post",
      "blocks.1.hook_resid_post",
    ]);
    expect(d.probes[0].validationAccuracy).toBe(1); // the last token alone decides the label
    const st = readSafetensors(out);
    expect(st.metadata.format).toBe("llmdbg.steering");
    expect(st.metadata.hook).toBe(d.best.hook);
    expect(st.load("direction.even").shape).toEqual([m.config.dModel]);
    writeFileSync(data, `${lines[0]}\n{"text": 3, "label": "x"}\n`);
    const bad = await cli(["probe", hf, "--dataset", data]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/probe\.jsonl:2: expected "text": string or "ids": \[token ids\]/);
    expect((await cli(["probe", hf])).code).toBe(2);
  });

  it("steer --json prints a SteerResult, from a probe's exported direction or from contrastive prompt files", async () => {
    const data = join(dir, "steer-probe.jsonl");
    const lines = Array.from({ length: 20 }, (_, i) =>
      JSON.stringify({ ids: [40 + (i % 7), i % 2 === 0 ? 10 : 20], label: i % 2 === 0 ? "a" : "b" }),
    );
    writeFileSync(data, lines.join("\n"));
    const file = join(dir, "steer.safetensors");
    expect(
      (await cli(["probe", hf, "--dataset", data, "--hooks", "blocks.1.hook_resid_post", "--steps", "50", "--export", file]))
        .code,
    ).toBe(0);
    const d = await json(["steer", hf, "--tokens", ids.join(","), "--vector", `${file}:b`, "--coeff", "3", "--generate", "3"]);
    expectMethodResult(d);
    expect(d.hook).toBe("blocks.1.hook_resid_post"); // the probe file names it
    expect(Math.abs(d.norm - 1)).toBeLessThan(1e-5);
    expect(d.generated.after).toHaveLength(3);
    const pos = join(dir, "pos.txt");
    const neg = join(dir, "neg.txt");
    writeFileSync(pos, "hello world\nthe cat\n");
    writeFileSync(neg, "a b c\n");
    const text = await cli([
      "steer",
      hf,
      "--tokens",
      ids.join(","),
      "--positive",
      pos,
      "--negative",
      neg,
      "--hook",
      "blocks.0.hook_resid_post",
      "--coeff",
      "4",
    ]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/vector of norm \d+\.\d{4} × 4 at blocks\.0\.hook_resid_post/);
    expect(text.stdout).toMatch(/KL\(without ‖ with\) at the last position: \d+\.\d{4}/);
    expect((await cli(["steer", hf, "--tokens", "1,2", "--positive", pos])).code).toBe(2);
    expect((await cli(["steer", hf, "--tokens", "1,2", "--vector", `${file}:nope`])).code).toBe(2);
  });

  it("attention --json prints an AttentionResult (with head scores); the text table lists every head", async () => {
    const d = await json(["attention", hf, "--tokens", ids.join(","), "--scores", "--repeat", "6", "--batch", "2"]);
    expectMethodResult(d);
    expect(d.entropy).toHaveLength(m.config.nLayers);
    expect(d.scores.induction[0]).toHaveLength(m.config.nHeads);
    expect(d.rollout).toHaveLength(ids.length);
    const text = await cli(["attention", hf, "--tokens", ids.join(",")]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/L0H0/);
    expect(text.stdout).toMatch(/L1H3/);
    expect((await cli(["attention", hf, "--tokens", ids.join(","), "--layers", "x"])).code).toBe(2);
    const bad = await cli(["attention", hf, "--tokens", ids.join(","), "--layers", "7"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/layers\[0\]/);
  });

  it("edit writes the edited model as a folder that loads to the same logits and converts to GGUF", async () => {
    const out = join(dir, "edited");
    const d = await json([
      "edit",
      hf,
      "--zero-head",
      "0.1,1.2",
      "--scale",
      "h.0.mlp.c_fc.weight:0.5",
      "--tokens",
      ids.join(","),
      "--out",
      out,
    ]);
    expectMethodResult(d);
    expect(d.before).toHaveLength(5);
    expect(d.edits).toHaveLength(3);
    expect(d.written).toBeGreaterThan(0);
    const edited = loadModel(out);
    const inProcess = run(m.model, x, { edits: d.edits }).output.toArray();
    expect(run(edited.model, x).output.toArray()).toEqual(inProcess);
    expect(run(edited.model, x).output.toArray()).not.toEqual(ref.output.toArray());
    const gguf = join(dir, "edited.gguf");
    expect((await cli(["convert", out, "--to", "gguf", gguf])).code).toBe(0);
    const fromGguf = run(loadModel(gguf).model, x).output.toArray();
    const worst = fromGguf.reduce((w, v, i) => Math.max(w, Math.abs(v - (inProcess[i] as number))), 0);
    expect(worst).toBeLessThan(1e-4);
    const rome = await cli([
      "edit",
      hf,
      "--rome",
      "--prompt",
      "hello world",
      "--subject",
      "-1",
      "--target",
      "7",
      "--layer",
      "1",
      "--steps",
      "40",
      "--lr",
      "0.5",
    ]);
    expect(rome.code).toBe(0);
    expect(rome.stdout).toMatch(/p\(.*\) on the prompt: \d\.\d{4} → \d\.\d{4}/);
    expect((await cli(["edit", hf, "--zero-head", "0.x"])).code).toBe(2);
    expect((await cli(["edit", hf])).code).toBe(2);
    expect((await cli(["edit", hf, "--zero-head", "0.1", "--out", out])).code).toBe(1); // already holds a model
  });

  it("lens --train-tuned trains and writes a tuned lens that lens --tuned reads", async () => {
    const corpus = join(dir, "corpus.txt");
    writeFileSync(corpus, Array.from({ length: 30 }, (_, i) => `hello world the cat ${i} sat on the mat`).join("\n"));
    const file = join(dir, "tuned.safetensors");
    const d = await json(["lens", hf, "--train-tuned", corpus, "--steps", "40", "--out", file]);
    expectMethodResult(d);
    expect(d.klTunedLens[0]).toBeLessThan(d.klLogitLens[0]);
    const lens = await json(["lens", hf, "--tokens", ids.join(","), "--tuned", file]);
    expectMethodResult(lens);
    expect(lens.lens).toBe("tuned");
    const text = await cli(["lens", hf, "--train-tuned", corpus, "--steps", "5"]);
    expect(text.stdout).toMatch(/tuned lens trained on \d+ positions/);
    expect((await cli(["lens", hf, "--tokens", "1,2", "--tuned", corpus])).code).toBe(1); // not a safetensors file
  });

  it("counterfactual and adversarial --json print their results; bad flags exit 2", async () => {
    const words = join(dir, "words.txt");
    writeFileSync(words, "# interchangeable\nhello world\n");
    const c = await json(["counterfactual", hf, "--text", "hello there world", "--words", words, "--neighbours", "2"]);
    expectMethodResult(c);
    expect(c.counterfactuals.length).toBeGreaterThan(0);
    expect(c.robustness.all).toBeGreaterThanOrEqual(0);
    const h = await json([
      "adversarial",
      hf,
      "--tokens",
      ids.join(","),
      "--method",
      "hotflip",
      "--target",
      "7",
      "--max-flips",
      "1",
      "--candidates",
      "4",
    ]);
    expectMethodResult(h);
    expect(h.method).toBe("hotflip");
    const g = await json([
      "adversarial",
      hf,
      "--tokens",
      ids.join(","),
      "--method",
      "gcg",
      "--target-tokens",
      "7",
      "--steps",
      "2",
      "--suffix-length",
      "2",
      "--candidates",
      "8",
    ]);
    expectMethodResult(g);
    expect(g.suffix).toHaveLength(2);
    expect(g.losses.length).toBeGreaterThan(0);
    expect((await cli(["adversarial", hf, "--tokens", "1,2", "--method", "sideways"])).code).toBe(2);
    expect((await cli(["counterfactual", hf, "--tokens", "1,2"])).code).toBe(2);
  });

  it("the schema check itself fails on a result that is not of the protocol type", () => {
    expect(() => expectMethodResult({ kind: "dla", tokens: [] })).toThrow();
    expect(() => expectMethodResult({ kind: "nope" })).toThrow();
  });
});

describe("readable tokens", () => {
  it("run shows each token decoded, partial UTF-8 as \\x escapes, with ids, and caps the text table at 10 predictions", async () => {
    const r = await cli(["run", hf, "--text", "é —", "--top-k", "20"]);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain("\uFFFD");
    expect(r.stdout).toMatch(/"\\x[0-9a-f]{2}"/);
    expect(r.stdout).toContain("(10 of 20 predictions per position shown; --json has them all)");
    const d = await json(["run", hf, "--text", "é —", "--top-k", "20"]);
    expect(d.positions[0].top).toHaveLength(20);
    // the tiny byte-level vocabulary splits "é" and "—" into single bytes: each shown as its escape
    expect(d.tokenDisplays.join("")).toBe("\\xc3\\xa9 \\xe2\\x80\\x94");
  });
});
