// What every benchmark section shares: the timing loop, medians, starting the Python peers, and the one
// result table. A row compares ours with a peer (NumPy, PyTorch, or a baseline of our own such as a plain
// file read) and may carry a target on the ratio.
import { type SpawnSyncReturns, spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const benchDir = dirname(fileURLToPath(import.meta.url));
export const repoRoot = join(benchDir, "..");
export const outDir = join(benchDir, "out");

/** What the entry point resolved once and hands to every section. */
export interface BenchEnv {
  /** our intra-op thread count; the peers run at the same count */
  readonly threads: number;
  /** alternating rounds of ours and the peer per measurement */
  readonly rounds: number;
}

/**
 * One line of the table. `ratio` says how much worse ours is: ours / peer for costs (ms, MiB), peer / ours
 * for throughputs (higher is better), so > 1 always means ours is worse. `target` is an upper bound on it.
 */
export interface Row {
  section: string;
  name: string;
  unit: "ms" | "tok/s" | "MiB";
  ours: number;
  /** who or what the peer is */
  peer: string;
  peer_value: number | null;
  ratio: number | null;
  target: number | null;
  met: boolean | null;
  /** extra figures: GFLOP/s, sample counts, spreads */
  note: string;
}

export interface SectionResult {
  rows: Row[];
  /** a peer that computes something else than we do: the run fails loudly */
  failures: string[];
}

export function row(
  r: Omit<Row, "ratio" | "met" | "target" | "note"> & { target?: number | null; note?: string; higherIsBetter?: boolean },
): Row {
  const { higherIsBetter, target = null, note = "", ...rest } = r;
  const p = r.peer_value;
  const ratio = p === null || p === 0 || r.ours === 0 ? null : higherIsBetter ? p / r.ours : r.ours / p;
  return { ...rest, ratio, target, met: target === null || ratio === null ? null : ratio <= target, note };
}

export interface Timing {
  warmup: number;
  min_reps: number;
  max_reps: number;
  min_ms: number;
}

export function sampleRun(fn: () => void, t: Timing): number[] {
  for (let i = 0; i < t.warmup; i++) fn();
  const samples: number[] = [];
  const start = performance.now();
  while (samples.length < t.max_reps && (samples.length < t.min_reps || performance.now() - start < t.min_ms)) {
    const t0 = performance.now();
    fn();
    samples.push(performance.now() - t0);
  }
  return samples;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** "n=12, 401–455" : the sample count and range, so a noisy figure shows itself. */
export function spread(xs: readonly number[], digits = 0): string {
  if (xs.length === 0) return "n=0";
  return `n=${xs.length}, ${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)}`;
}

// ---------------------------------------------------------------- python peers

function tryPython(py: string, module: string): boolean {
  const r = spawnSync(py, ["-c", `import ${module}`], { stdio: "ignore" });
  return r.status === 0;
}

/** The first interpreter that can import `module`: $PYTHON, the python3 on PATH, then Debian's /usr/bin/python3. */
export function findPython(module: string): { py: string } | { reason: string } {
  const candidates = [...new Set([process.env.PYTHON, "python3", "/usr/bin/python3"].filter((p): p is string => !!p))];
  for (const py of candidates) if (tryPython(py, module)) return { py };
  const hint = module === "torch" ? "; run `npm run bench:setup`" : "";
  return { reason: `none of ${candidates.join(", ")} can import ${module}${hint}` };
}

/** Runs a peer script at `threads` BLAS/OpenMP threads; returns its last stdout line parsed as JSON, or a reason. */
export function runPeer(
  py: string,
  script: string,
  args: string[],
  threads: number,
  timeoutMs = 300_000,
): { json: unknown } | { reason: string } {
  const t = String(threads);
  const env = { ...process.env, OPENBLAS_NUM_THREADS: t, OMP_NUM_THREADS: t, MKL_NUM_THREADS: t };
  const r: SpawnSyncReturns<string> = spawnSync(py, [join(benchDir, "peers", script), ...args], {
    env,
    encoding: "utf8",
    maxBuffer: 64 << 20,
    timeout: timeoutMs,
  });
  if (r.error) return { reason: `${py} ${script}: ${r.error.message}` };
  if (r.status !== 0) {
    const err = (r.stderr || r.stdout).trim().split("\n").slice(-3).join(" | ");
    return { reason: `${py} ${script} exited with ${r.status ?? r.signal}: ${err}` };
  }
  const last = r.stdout.trim().split("\n").at(-1) ?? "";
  try {
    return { json: JSON.parse(last) };
  } catch {
    return { reason: `${py} ${script}: unparsable output: ${last.slice(0, 200)}` };
  }
}

// ---------------------------------------------------------------- table

function fmtValue(v: number | null, unit: Row["unit"]): string {
  if (v === null) return "—";
  const digits = unit === "ms" ? (v < 10 ? 3 : v < 100 ? 2 : 1) : 1;
  return `${v.toFixed(digits)} ${unit}`;
}

export function printTable(rows: readonly Row[]): void {
  const head = ["benchmark", "ours", "peer", "ratio", "target", "", "note", "peer is"];
  const body = rows.map((r) => [
    r.name,
    fmtValue(r.ours, r.unit),
    fmtValue(r.peer_value, r.unit),
    r.ratio === null ? "—" : r.ratio.toFixed(2),
    r.target === null ? "" : `≤ ${r.target}`,
    r.met === null ? "" : r.met ? "ok" : "MISSED",
    r.note,
    r.peer,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] as string).length)));
  const left = new Set([0, 5, 6, 7]);
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (left.has(i) ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number)))
      .join("  ")
      .trimEnd();
  console.log(line(head));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const b of body) console.log(line(b));
}
