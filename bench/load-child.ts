// One measurement of the "load" section in a fresh process (started by bench/load.ts as
// `node --import tsx bench/load-child.ts <mode> <folder>`). Every mode imports the same modules first, so
// `empty` is the baseline the others are judged against. Prints one JSON line:
// { mode, ms, peak_rss, max_rss, rss, tensors, bytes, logits_max_diff } with ms the wall time of the load itself
// (imports excluded) and peak_rss this process's peak resident set in bytes. What was loaded is then checked,
// after the figures are taken: `read` reports the bytes it read; the model modes run the model on CHECK_IDS and
// compare its logits with <folder>/ref-logits.f32, which the parent computed from the weights it wrote.
//
// Why not process.resourceUsage().maxRSS alone: Linux keeps ru_maxrss across execve, and the child is forked
// from the bench process, so maxRSS starts at the parent's resident set at fork time (≈ 500 MiB once the
// parent has built the checkpoint). /proc/self/status VmHWM is the high-water mark of this process's own
// address space, which exec replaces: that is peak_rss. maxRSS is reported too.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { type HookedModel, run } from "@llmdbg/core";
import { readSafetensors } from "@llmdbg/formats";
import { gpt2, loadModel, normalizeHfConfig } from "@llmdbg/models";
import { fromTyped, noGrad, type Tensor } from "@llmdbg/tensor";

/** The ids whose logits prove a load: every weight of a GPT-2 moves them. */
export const CHECK_IDS: readonly number[] = [464, 3290, 7586, 21831, 18045, 625, 262, 16931];

/** Logits [1, pos, d_vocab] of CHECK_IDS, flat. */
export function checkLogits(model: HookedModel): Float32Array {
  const ids = fromTyped(Int32Array.from(CHECK_IDS), [1, CHECK_IDS.length], "i32"); // [batch, pos]
  return Float32Array.from(noGrad(() => run(model, ids).output.data as Float32Array));
}

const LOAD_MODES = ["empty", "read", "loadModel", "gpt2"] as const;
export type LoadMode = (typeof LOAD_MODES)[number];

export interface ChildReport {
  mode: LoadMode;
  ms: number;
  /** VmHWM in bytes (Linux), else maxRSS */
  peak_rss: number;
  /** process.resourceUsage().maxRSS in bytes: includes the forking parent's resident set on Linux */
  max_rss: number;
  rss: number;
  /** tensors the gpt2 mode was built from, counted as they were read (0 for the other modes) */
  tensors: number;
  /** bytes read: the file for `read`, the f32 tensors for `gpt2`, 0 otherwise */
  bytes: number;
  /** max |Δ| of the loaded model's logits against the reference; null for empty / read */
  logits_max_diff: number | null;
}

function measure(mode: LoadMode, folder: string): { tensors: number; bytes: number; model: HookedModel | null; keep: unknown } {
  const file = join(folder, "model.safetensors");
  switch (mode) {
    case "empty":
      return { tensors: 0, bytes: 0, model: null, keep: null };
    case "read": {
      const buf = readFileSync(file); // one Buffer holding the whole file
      return { tensors: 0, bytes: buf.length, model: null, keep: buf };
    }
    case "loadModel": {
      // the product's entry point: config.json + model.safetensors, tensors read one at a time
      const m = loadModel(folder);
      return { tensors: 0, bytes: 0, model: m.model, keep: m };
    }
    case "gpt2": {
      // the same by hand: readSafetensors + normalizeHfConfig + the architecture file
      const st = readSafetensors(file);
      const config = normalizeHfConfig(JSON.parse(readFileSync(join(folder, "config.json"), "utf8")), "config.json");
      let tensors = 0;
      let bytes = 0;
      const model = gpt2(config, {
        has: (k) => st.has(k),
        keys: () => st.keys(),
        load: (k): Tensor => {
          const t = st.load(k);
          tensors++;
          bytes += t.data.byteLength;
          return t;
        },
      });
      return { tensors, bytes, model, keep: model };
    }
  }
}

/** VmHWM of /proc/self/status in bytes, or undefined off Linux. */
function vmHwm(): number | undefined {
  if (!existsSync("/proc/self/status")) return undefined;
  const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync("/proc/self/status", "utf8"));
  return m ? Number(m[1]) * 1024 : undefined;
}

function main(): void {
  const [mode, folder] = process.argv.slice(2);
  if (!LOAD_MODES.includes(mode as LoadMode) || folder === undefined) {
    throw new Error(`usage: load-child.ts <${LOAD_MODES.join("|")}> <model folder>`);
  }
  const t0 = performance.now();
  const r = measure(mode as LoadMode, folder);
  const ms = performance.now() - t0;
  const maxRss = process.resourceUsage().maxRSS * 1024; // kilobytes on Linux
  const peak = vmHwm() ?? maxRss;
  const rss = process.memoryUsage.rss();
  // after the figures: does the model compute what the weights written say it should?
  let logitsMaxDiff: number | null = null;
  if (r.model !== null) {
    const want = readFileSync(join(folder, "ref-logits.f32"));
    const ref = new Float32Array(want.buffer.slice(want.byteOffset, want.byteOffset + want.byteLength));
    const got = checkLogits(r.model);
    const d = got.length === ref.length ? got.reduce((m, v, i) => Math.max(m, Math.abs(v - (ref[i] as number))), 0) : Number.NaN;
    // JSON has no NaN or Infinity: a shape mismatch or a NaN logit is reported as the largest double
    logitsMaxDiff = Number.isFinite(d) && !got.some(Number.isNaN) ? d : Number.MAX_VALUE;
  }
  const report: ChildReport = {
    mode: mode as LoadMode,
    ms,
    peak_rss: peak,
    max_rss: maxRss,
    rss,
    tensors: r.tensors,
    bytes: r.bytes,
    logits_max_diff: logitsMaxDiff,
  };
  if (r.keep === undefined) throw new Error("unreachable");
  console.log(JSON.stringify(report));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main();
