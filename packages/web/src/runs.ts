// The Runs view's logic: the stored runs over REST (`GET /api/runs`, `/api/runs/<id>`, `POST /api/runs/<id>/notes`,
// same-origin with the session cookie), the view a run reopens in, and two `run` results compared per position.
import type { RunResult } from "@llmdbg/protocol";
import { visible } from "./format.js";

/** A stored run as `GET /api/runs` lists it. */
export interface RunRow {
  readonly id: number;
  readonly uid: string;
  readonly kind: string;
  readonly model: string | null;
  readonly prompt: string | null;
  readonly createdAt: string;
  readonly status: string;
}

/** One stored run as `GET /api/runs/<id>` gives it (the fields the view reads). */
export interface StoredRun extends Omit<RunRow, "model"> {
  readonly model: { readonly name: string; readonly hash: string } | null;
  readonly options: Record<string, unknown>;
  readonly results: readonly { readonly kind: string; readonly result: unknown }[];
  readonly notes: readonly { readonly id: number; readonly text: string; readonly createdAt: string }[];
  readonly timings: { readonly wallMs?: number };
}

/** The tabs a stored run's kind reopens in: its prompt goes to the shared prompt, and that view shows its result. */
const REOPEN: Readonly<Record<string, string>> = {
  run: "workbench",
  generate: "workbench",
  attention: "attention",
  attention_overview: "attention",
  lens: "lens",
  dla: "lens",
  ablate: "ablation",
  attribution: "attribution",
  patch: "patching",
  steer: "steering",
  train: "training",
};

/** The tab a run of this kind reopens in, if any. */
export const reopenTab = (kind: string): string | undefined => (Object.hasOwn(REOPEN, kind) ? REOPEN[kind] : undefined);

/** Newest first (by creation time, then id), with only `kind` when given. */
export function visibleRuns(runs: readonly RunRow[], kind: string): RunRow[] {
  return runs.filter((r) => kind === "" || r.kind === kind).sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.id - a.id);
}

/** The kinds among the runs, sorted, for the filter. */
export const kindsOf = (runs: readonly RunRow[]): string[] => [...new Set(runs.map((r) => r.kind))].sort();

/** A run's `run` result, if it has one. */
export function runResultOf(run: StoredRun): RunResult | undefined {
  const r = run.results.find((x) => x.kind === "run")?.result as RunResult | undefined;
  return r !== undefined && Array.isArray(r.positions) ? r : undefined;
}

/** One position of two `run` results side by side: each one's input token and top predictions. */
export interface CompareRow {
  readonly position: number;
  readonly tokenA: string;
  readonly tokenB: string;
  readonly topA: string[];
  readonly topB: string[];
  /** whether the two top-1 predictions are the same token */
  readonly sameTop: boolean;
}

const tokenAt = (r: RunResult, i: number): string =>
  i < r.tokens.length ? visible(r.tokenDisplays[i] ?? r.tokenStrings[i] ?? null, r.tokens[i] as number) : "";

/** Predictions shown per position in a comparison (a run may have kept up to 50). */
export const COMPARE_TOP = 5;

/** Two `run` results side by side, position by position (the longer one's extra positions against blanks). */
export function comparePredictions(a: RunResult, b: RunResult): CompareRow[] {
  const n = Math.max(a.positions.length, b.positions.length);
  const rows: CompareRow[] = [];
  for (let i = 0; i < n; i++) {
    const pa = a.positions[i]?.top ?? [];
    const pb = b.positions[i]?.top ?? [];
    const show = (p: RunResult["positions"][number]["top"][number]) =>
      `${visible(p.display ?? p.text, p.id)} ${(p.prob * 100).toFixed(1)}%`;
    rows.push({
      position: a.positions[i]?.position ?? b.positions[i]?.position ?? i,
      tokenA: tokenAt(a, i),
      tokenB: tokenAt(b, i),
      topA: pa.slice(0, COMPARE_TOP).map(show),
      topB: pb.slice(0, COMPARE_TOP).map(show),
      sameTop: pa[0] !== undefined && pa[0].id === pb[0]?.id,
    });
  }
  return rows;
}

async function answer<T>(res: Response): Promise<T> {
  if (!res.ok) throw new Error(`${res.status}: ${(await res.text()).trim()}`);
  return (await res.json()) as T;
}

/** The stored runs (the server's newest first). */
export const fetchRuns = async (): Promise<RunRow[]> =>
  (await answer<{ runs: RunRow[] }>(await fetch("/api/runs", { credentials: "same-origin" }))).runs;

export const runUrl = (id: number): string => `/api/runs/${id}`;

export const fetchRun = async (id: number): Promise<StoredRun> =>
  answer<StoredRun>(await fetch(runUrl(id), { credentials: "same-origin" }));

/** Adds a note to a run. */
export async function addNote(id: number, text: string): Promise<void> {
  await answer(
    await fetch(`${runUrl(id)}/notes`, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ text }),
    }),
  );
}
