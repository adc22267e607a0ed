// A campaign's results as a table (rows: targets; columns: outcome classes) with the failing cases listed by id,
// as text for the terminal and as JSON for `--json`.

import { CLASSES, FAILING, type OutcomeClass } from "./execute.js";
import type { CaseResult } from "./runner.js";

export interface Example {
  readonly id: string;
  readonly message: string;
}

export interface Summary {
  readonly cases: number;
  readonly seconds: number;
  readonly casesPerSecond: number;
  /** target → class → count, every class present */
  readonly table: Record<string, Record<OutcomeClass, number>>;
  readonly totals: Record<OutcomeClass, number>;
  /** clean errors whose file is not one of the case's files (a message pointing elsewhere) */
  readonly cleanErrorsNamingOtherFiles: number;
  /** up to `examples` cases per failing class (and per non-finite class, for the record) */
  readonly examples: Partial<Record<OutcomeClass, readonly Example[]>>;
  /**
   * per failing class, how many distinct defects: raw exceptions by throw site, the rest by message (numbers and
   * paths stripped)
   */
  readonly distinct: Partial<Record<OutcomeClass, number>>;
  /** per target, the fields clean errors named most often (numbers stripped): where the mutations were caught */
  readonly topFields: Record<string, readonly (readonly [string, number])[]>;
  readonly failed: boolean;
}

const zero = (): Record<OutcomeClass, number> => Object.fromEntries(CLASSES.map((c) => [c, 0])) as Record<OutcomeClass, number>;

function describe(r: CaseResult): string {
  const o = r.outcome;
  const head = o.errorClass !== undefined ? `${o.errorClass}: ` : "";
  const where = o.stackTop !== undefined && o.stackTop !== "" ? ` (${o.stackTop})` : "";
  return `${head}${(o.message ?? "").split("\n")[0]?.slice(0, 300)}${where}`;
}

/** A message with its numbers and paths removed, so one defect hit by many cases counts once. */
const shape = (s: string) => s.replace(/\/[^\s:]*\//g, "/…/").replace(/\d+/g, "N");

/**
 * Where a raw exception was thrown (its class and first frame, without file positions): one defect reached by
 * many mutations gives many messages but one site.
 */
function site(r: CaseResult): string | undefined {
  const o = r.outcome;
  if (o.class !== "raw exception") return undefined;
  return `${o.errorClass} ${(o.stackTop ?? "").replace(/\(?(file:\/\/)?\/[^\s)]*\)?/g, "").trim()}`;
}

export function summarize(results: readonly CaseResult[], seconds: number, examples = 20): Summary {
  const table: Record<string, Record<OutcomeClass, number>> = {};
  const totals = zero();
  const ex: Partial<Record<OutcomeClass, Example[]>> = {};
  const seen: Partial<Record<OutcomeClass, Set<string>>> = {};
  let other = 0;
  const fields: Record<string, Map<string, number>> = {};
  for (const r of results) {
    const c = r.outcome.class;
    table[r.target] ??= zero();
    (table[r.target] as Record<OutcomeClass, number>)[c]++;
    totals[c]++;
    if (c === "clean error" && r.outcome.fileInCase === false) other++;
    if (c === "clean error") {
      const f = (fields[r.target] ??= new Map());
      const key = shape(r.outcome.field ?? "");
      f.set(key, (f.get(key) ?? 0) + 1);
    }
    if (FAILING.includes(c) || c === "loaded, non-finite outputs") {
      const msg = describe(r);
      const s = (seen[c] ??= new Set());
      const key = site(r) ?? shape(msg);
      // distinct messages first: twenty copies of one defect would hide the second
      if (!s.has(key) && (ex[c] ??= []).length < examples) (ex[c] as Example[]).push({ id: r.id, message: msg });
      s.add(key);
    }
  }
  const distinct = Object.fromEntries(Object.entries(seen).map(([c, s]) => [c, s.size]));
  return {
    cases: results.length,
    seconds,
    casesPerSecond: results.length / Math.max(seconds, 1e-9),
    table,
    totals,
    cleanErrorsNamingOtherFiles: other,
    examples: ex,
    distinct,
    topFields: Object.fromEntries(
      Object.entries(fields).map(([t, m]) => [t, [...m].sort((a, b) => b[1] - a[1]).slice(0, 10)] as const),
    ),
    failed: FAILING.some((c) => totals[c] > 0),
  };
}

const SHORT: Record<OutcomeClass, string> = {
  "clean error": "clean error",
  "loaded, finite outputs": "loaded finite",
  "loaded, non-finite outputs": "loaded non-finite",
  "raw exception": "raw exception",
  crash: "crash",
  hang: "hang",
  "out of memory": "OOM",
};

/** The summary as the text the CLI prints. */
export function formatSummary(s: Summary): string {
  const cols = CLASSES.map((c) => SHORT[c]);
  const rows = Object.keys(s.table).sort();
  const w0 = Math.max(6, ...rows.map((r) => r.length), "total".length);
  const ws = cols.map((c) => Math.max(c.length, 7));
  const line = (name: string, cells: readonly (string | number)[]) =>
    `${name.padEnd(w0)}  ${cells.map((x, i) => String(x).padStart(ws[i] as number)).join("  ")}`;
  const out = [
    line("target", cols),
    line(
      "-".repeat(w0),
      ws.map((w) => "-".repeat(w)),
    ),
  ];
  for (const r of rows)
    out.push(
      line(
        r,
        CLASSES.map((c) => (s.table[r] as Record<OutcomeClass, number>)[c]),
      ),
    );
  out.push(
    line(
      "total",
      CLASSES.map((c) => s.totals[c]),
    ),
  );
  out.push("");
  out.push(`${s.cases} cases in ${s.seconds.toFixed(1)} s (${s.casesPerSecond.toFixed(1)} cases/s)`);
  out.push(`clean errors naming a file outside the case: ${s.cleanErrorsNamingOtherFiles}`);
  for (const c of CLASSES) {
    const list = s.examples[c];
    if (list === undefined || list.length === 0) continue;
    out.push("", `${c} (${s.totals[c]} cases, ${s.distinct[c] ?? 0} distinct sites or messages; reproduce with --case ID):`);
    for (const e of list) out.push(`  ${e.id}  ${e.message}`);
  }
  return out.join("\n");
}
