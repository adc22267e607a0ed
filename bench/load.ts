// Section "load": loading the GPT-2-small-shaped checkpoint of the gpt2 section (F32 safetensors, 148 tensors,
// 497.8 MB of weights: exactly GPT-2 small's parameters, no padding) in fresh processes, each started like the
// bench itself (this node, `--import tsx`, the same MALLOC_* environment) on bench/load-child.ts:
//   empty      the imports only: the baseline resident set of such a process
//   read       fs.readFileSync of the file into one Buffer: the plain-read reference time
//   loadModel  loadModel(folder) (config.json + model.safetensors), the product's entry point
//   gpt2       readSafetensors + normalizeHfConfig + gpt2(), the same path by hand
// Targets: load time ≤ 2× the plain read; peak RSS (VmHWM, see load-child.ts) ≤ 1.3× the f32 weight bytes.
// Each child checks what it loaded after its figures are taken: the plain read must have read the whole file,
// and each loaded model must give, on CHECK_IDS, the logits the parent computed from the weights it wrote
// (bit-identical: the same kernels on the same f32 weights). A mode whose check fails is refused.
// The file was just written, so every child reads it from the page cache (as a second load of a model does).
import { statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { writeSafetensors } from "@llmdbg/formats";
import { gpt2, memoryWeights, normalizeHfConfig } from "@llmdbg/models";
import {
  allOf,
  type BenchEnv,
  type Check,
  median,
  notRun,
  type Row,
  row,
  runChild,
  type SectionResult,
  spread,
  within,
} from "./common.js";
import { GPT2_SMALL_CONFIG, gpt2SmallWeights, tempFolder, weightBytes, writeConfig } from "./gpt2-weights.js";
import { type ChildReport, checkLogits, type LoadMode } from "./load-child.js";

/** Child processes per mode, interleaved (empty, read, loadModel, gpt2, empty, …). */
const REPS = 3;
const MODES: readonly LoadMode[] = ["empty", "read", "loadModel", "gpt2"];
const MiB = 1024 * 1024;

function runLoadChild(mode: LoadMode, folder: string): { report: ChildReport; wallMs: number } | { reason: string } {
  const t0 = performance.now();
  const r = runChild("load-child.ts", [mode, folder], 120_000);
  const wallMs = performance.now() - t0;
  return "reason" in r ? r : { report: r.json as ChildReport, wallMs };
}

export function loadSection(_env: BenchEnv): SectionResult {
  const rows: Row[] = [];
  const tmp = tempFolder("llmdbg-bench-load-");
  try {
    const t0 = performance.now();
    let weights: ReturnType<typeof gpt2SmallWeights> | null = gpt2SmallWeights();
    const nTensors = Object.keys(weights).length;
    const f32Bytes = weightBytes(weights);
    const file = join(tmp.dir, "model.safetensors");
    writeSafetensors(file, weights);
    writeConfig(tmp.dir);
    // the logits every loaded model must reproduce, from the weights in memory
    const w = weights;
    const config = normalizeHfConfig(GPT2_SMALL_CONFIG, "config.json");
    const ref = checkLogits(gpt2(config, memoryWeights(w)));
    writeFileSync(join(tmp.dir, "ref-logits.f32"), new Uint8Array(ref.buffer));
    weights = null; // the parent's copy plays no part in the children's figures
    const fileBytes = statSync(file).size;
    console.log(
      `load: wrote ${nTensors} F32 tensors, ${(f32Bytes / 1e6).toFixed(1)} MB of weights (file ${(fileBytes / 1e6).toFixed(1)} MB)` +
        ` in ${(performance.now() - t0).toFixed(0)} ms`,
    );

    const reports = new Map(MODES.map((m): [LoadMode, ChildReport[]] => [m, []]));
    const walls = new Map(MODES.map((m): [LoadMode, number[]] => [m, []]));
    const checks = new Map(MODES.map((m): [LoadMode, Check[]] => [m, []]));
    for (let rep = 0; rep < REPS; rep++) {
      for (const mode of MODES) {
        const r = runLoadChild(mode, tmp.dir);
        const list = checks.get(mode) as Check[];
        if ("reason" in r) {
          list.push(notRun(r.reason));
          continue;
        }
        const { report } = r;
        if (mode === "read") list.push(within("bytes the plain read missed", fileBytes - report.bytes, 0));
        if (mode === "gpt2") list.push(within("f32 bytes the architecture did not read", f32Bytes - report.bytes, 0));
        if (mode === "loadModel" || mode === "gpt2") {
          list.push(
            within("logits of the loaded model vs the written weights', max|Δ|", report.logits_max_diff ?? Number.NaN, 0),
          );
        }
        reports.get(mode)?.push(report);
        walls.get(mode)?.push(r.wallMs);
      }
    }
    const checkOf = (m: LoadMode): Check => {
      const list = checks.get(m) ?? [];
      if (list.length === 0) return { ok: true, detail: `${reports.get(m)?.length} fresh processes` };
      const all = allOf(...list);
      // one line per distinct check, not one per process
      return all.ok ? { ok: true, detail: [...new Set(all.detail.split("; "))].join("; ") } : all;
    };
    for (const m of MODES) {
      const c = checkOf(m);
      console.log(`load: ${m}: ${c.ok ? c.detail : c.reason}`);
    }
    const ms = (m: LoadMode) => (reports.get(m) ?? []).map((r) => r.ms);
    const rss = (m: LoadMode) => (reports.get(m) ?? []).map((r) => r.peak_rss / MiB);
    const maxRss = (m: LoadMode) => (reports.get(m) ?? []).map((r) => r.max_rss / MiB);
    const wallNote = (m: LoadMode) => `process wall ${spread(walls.get(m) ?? [])} ms`;
    const readMs = median(ms("read"));
    const baseRss = median(rss("empty"));
    const readRss = median(rss("read"));
    const weightsMiB = f32Bytes / MiB;
    console.log(
      `load: peak RSS of a child with the imports only ${baseRss.toFixed(1)} MiB (${spread(rss("empty"), 1)}); ` +
        `with the plain read ${readRss.toFixed(1)} MiB; f32 weights ${weightsMiB.toFixed(1)} MiB`,
    );
    console.log(
      `load: (getrusage maxRSS, which on Linux starts at the forking parent's resident set: ` +
        MODES.map((m) => `${m} ${median(maxRss(m)).toFixed(0)}`).join(", ") +
        " MiB; the figures here use VmHWM)",
    );
    const plainPeer = "fs.readFileSync of the same file, fresh process";
    for (const [mode, label] of [
      ["loadModel", "loadModel(folder)"],
      ["gpt2", "readSafetensors + gpt2()"],
    ] as const) {
      // a time against the plain read needs both verified; the memory row needs the empty baseline too
      const check = allOf(checkOf(mode), checkOf("read"));
      rows.push(
        row({
          section: "load",
          name: `load time: ${label}`,
          unit: "ms",
          peer: plainPeer,
          check,
          ours: median(ms(mode)),
          peer_value: readMs,
          target: 2,
          note: `ours ${spread(ms(mode))}, read ${spread(ms("read"))}; ${wallNote(mode)}`,
        }),
      );
      const peak = median(rss(mode));
      rows.push(
        row({
          section: "load",
          name: `load peak RSS: ${label}`,
          unit: "MiB",
          peer: "f32 weight bytes",
          check: allOf(checkOf(mode), checkOf("empty")),
          ours: peak,
          peer_value: weightsMiB,
          target: 1.3,
          note: `${spread(rss(mode), 1)}; above the empty child (${baseRss.toFixed(0)} MiB): ${((peak - baseRss) / weightsMiB).toFixed(2)}× the weights`,
        }),
      );
    }
    rows.push(
      row({
        section: "load",
        name: "plain read peak RSS (reference)",
        unit: "MiB",
        peer: "f32 weight bytes",
        check: allOf(checkOf("read"), checkOf("empty")),
        ours: readRss,
        peer_value: weightsMiB,
        note: `read ${spread(rss("read"), 1)}; empty child ${spread(rss("empty"), 1)}; ${wallNote("read")}`,
      }),
    );
  } finally {
    tmp.dispose();
  }
  return { rows };
}
