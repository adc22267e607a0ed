// One measurement of the "load" section in a fresh process (started by bench/load.ts as
// `node --import tsx bench/load-child.ts <mode> <folder>`). Every mode imports the same modules first, so
// `empty` is the baseline the others are judged against. Prints one JSON line:
// { mode, ms, peak_rss, max_rss, rss, tensors, bytes } with ms the wall time of the load itself (imports
// excluded) and peak_rss this process's peak resident set in bytes.
//
// Why not process.resourceUsage().maxRSS alone: Linux keeps ru_maxrss across execve, and the child is forked
// from the bench process, so maxRSS starts at the parent's resident set at fork time (≈ 500 MiB once the
// parent has built the checkpoint). /proc/self/status VmHWM is the high-water mark of this process's own
// address space, which exec replaces: that is peak_rss. maxRSS is reported too.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { gpt2, loadModel, normalizeHfConfig, readSafetensors } from "@llmdbg/models";
import type { Tensor } from "@llmdbg/tensor";

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
  /** tensors and f32 bytes the model was built from (0 for empty / read) */
  tensors: number;
  bytes: number;
}

function measure(mode: LoadMode, folder: string): { tensors: number; bytes: number; keep: unknown } {
  const file = join(folder, "model.safetensors");
  switch (mode) {
    case "empty":
      return { tensors: 0, bytes: 0, keep: null };
    case "read": {
      const buf = readFileSync(file); // one Buffer holding the whole file
      return { tensors: 0, bytes: buf.length, keep: buf };
    }
    case "loadModel": {
      // the product's entry point: config.json + model.safetensors, tensors read one at a time
      const m = loadModel(folder);
      return { tensors: m.stored.length, bytes: m.stored.reduce((a, s) => a + s.bytes, 0), keep: m };
    }
    case "gpt2": {
      // the same by hand: readSafetensors + normalizeHfConfig + the architecture file
      const st = readSafetensors(file);
      const config = normalizeHfConfig(JSON.parse(readFileSync(join(folder, "config.json"), "utf8")), "config.json");
      let tensors = 0;
      let bytes = 0;
      const model = gpt2(config, {
        has: (k) => st.has(k),
        load: (k): Tensor => {
          const t = st.load(k);
          tensors++;
          bytes += t.data.byteLength;
          return t;
        },
      });
      return { tensors, bytes, keep: model };
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
  const report: ChildReport = {
    mode: mode as LoadMode,
    ms,
    peak_rss: vmHwm() ?? maxRss,
    max_rss: maxRss,
    rss: process.memoryUsage.rss(),
    tensors: r.tensors,
    bytes: r.bytes,
  };
  if (r.keep === undefined) throw new Error("unreachable");
  console.log(JSON.stringify(report));
}

main();
