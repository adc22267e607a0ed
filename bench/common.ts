// What every benchmark section shares: the timing loop, medians, starting the Python peers, and the one
// result table. A row compares ours with a peer (NumPy, PyTorch, or a baseline of our own such as a plain
// file read) and may carry a target on the ratio.
import { type SpawnSyncReturns, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
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
 * What a row's figures rest on: before anything is timed, ours and the peer ran on the same inputs and agreed
 * (`detail` says on what and by how much), or they did not, or the check could not run (`reason`).
 */
export type Check = { readonly ok: true; readonly detail: string } | { readonly ok: false; readonly reason: string };

/** `label measured ≤ tol` as a Check; NaN fails. */
export function within(label: string, measured: number, tol: number): Check {
  const bound = tol === 0 ? "0" : tol.toExponential(0);
  const value = measured === 0 ? "0" : measured.toExponential(2);
  return measured <= tol
    ? { ok: true, detail: `${label} ${value} ≤ ${bound}` }
    : { ok: false, reason: `MISMATCH: ${label} ${value} > ${bound}` };
}

/** A check that could not run (a missing peer, a peer that crashed). */
export function notRun(reason: string): Check {
  return { ok: false, reason: `not verified: ${reason}` };
}

/** All of `checks`: ok when every one is, else the reasons of those that are not. */
export function allOf(...checks: readonly Check[]): Check {
  const bad = checks.filter((c): c is Extract<Check, { ok: false }> => !c.ok);
  if (bad.length > 0) return { ok: false, reason: bad.map((c) => c.reason).join("; ") };
  return { ok: true, detail: checks.map((c) => (c.ok ? c.detail : "")).join("; ") };
}

/**
 * One line of the table. `ratio` says how much worse ours is: ours / peer for costs (ms, MiB), peer / ours
 * for throughputs (higher is better), so > 1 always means ours is worse. `target` is an upper bound on it.
 * A row whose check failed or could not run carries no figures, only `refused`: why.
 */
export interface Row {
  section: string;
  name: string;
  unit: "ms" | "tok/s" | "MiB";
  ours: number | null;
  /** who or what the peer is */
  peer: string;
  peer_value: number | null;
  ratio: number | null;
  target: number | null;
  met: boolean | null;
  /** what was checked before timing, with the measured agreement; null when refused */
  verified: string | null;
  /** why this row has no figures; null when it was verified and measured */
  refused: string | null;
  /** extra figures: GFLOP/s, sample counts, spreads */
  note: string;
}

export interface SectionResult {
  rows: Row[];
}

/** A row from its check and, when the check passed, its figures (which must then be given). */
export function row(r: {
  section: string;
  name: string;
  unit: Row["unit"];
  peer: string;
  check: Check;
  ours?: number;
  peer_value?: number | null;
  target?: number | null;
  note?: string;
  higherIsBetter?: boolean;
}): Row {
  const { section, name, unit, peer, check, target = null, note = "" } = r;
  const base = { section, name, unit, peer, target, note };
  if (!check.ok) {
    // no figures were taken, so none of the note's either
    return { ...base, note: "", ours: null, peer_value: null, ratio: null, met: null, verified: null, refused: check.reason };
  }
  const ours = r.ours ?? Number.NaN;
  const p = r.peer_value ?? null;
  const ratio = p === null || p === 0 || ours === 0 ? null : r.higherIsBetter ? p / ours : ours / p;
  const met = target === null || ratio === null ? null : ratio <= target;
  return { ...base, ours, peer_value: p, ratio, met, verified: check.detail, refused: null };
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

// ---------------------------------------------------------------- comparing outputs

/** max |a − b|; Infinity when the lengths differ, NaN when either holds one (NaN never passes a bound). */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Number.POSITIVE_INFINITY;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs((a[i] as number) - (b[i] as number));
    if (!(d <= m)) m = d; // NaN propagates as the maximum
  }
  return m;
}

/** max |x| over finite entries. */
export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const v = Math.abs(a[i] as number);
    if (v > m && Number.isFinite(v)) m = v;
  }
  return m;
}

/** max |ours − theirs| / max |ours|: a difference on the scale of the values compared. */
export function maxRelDiff(ours: ArrayLike<number>, theirs: ArrayLike<number>): number {
  return maxAbsDiff(ours, theirs) / Math.max(maxAbs(ours), 1e-30);
}

/** A raw little-endian float32 file. */
export function readF32(path: string): Float32Array {
  const raw = readFileSync(path);
  return new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
}

/** A raw little-endian float64 file. */
export function readF64(path: string): Float64Array {
  const raw = readFileSync(path);
  return new Float64Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
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
  return lastJson(r, `${py} ${script}`, 3);
}

/**
 * Runs one of the bench's own child scripts (bench/<script>) in a fresh process started like the bench itself
 * (this node, `--import tsx`, the same environment); returns its last stdout line parsed as JSON, or a reason.
 * The lines before it are the child's log, echoed indented when `echo` is set.
 */
export function runChild(
  script: string,
  args: string[],
  timeoutMs: number,
  echo = false,
): { json: unknown } | { reason: string } {
  const r = spawnSync(process.execPath, ["--import", "tsx", join(benchDir, script), ...args], {
    cwd: repoRoot,
    env: process.env,
    encoding: "utf8",
    maxBuffer: 16 << 20,
    timeout: timeoutMs,
  });
  if (echo && !r.error && r.status === 0) for (const line of r.stdout.trim().split("\n").slice(0, -1)) console.log(`  ${line}`);
  return lastJson(r, `${script.replace(/\.ts$/, "")} ${args[0] ?? ""}`.trim(), 4);
}

/** A finished child's last stdout line as JSON, or why not (`label` names it; `tail` lines of its stderr on failure). */
function lastJson(r: SpawnSyncReturns<string>, label: string, tail: number): { json: unknown } | { reason: string } {
  if (r.error) return { reason: `${label}: ${r.error.message}` };
  if (r.status !== 0) {
    const err = (r.stderr || r.stdout).trim().split("\n").slice(-tail).join(" | ");
    return { reason: `${label} exited with ${r.status ?? r.signal}: ${err}` };
  }
  const last = r.stdout.trim().split("\n").at(-1) ?? "";
  try {
    return { json: JSON.parse(last) };
  } catch {
    return { reason: `${label}: unparsable output: ${last.slice(0, 200)}` };
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
    r.refused !== null ? "REFUSED" : r.met === null ? "" : r.met ? "ok" : "MISSED",
    r.refused ?? r.note,
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
