// `npm run fuzz -- --count N [--seed S] [--jobs J] [--target T,…|all] [--json FILE]`: a fuzz campaign against the
// model loaders, printing a table of outcomes per target and the failing case ids; exit 1 on any crash, hang,
// out-of-memory or raw exception. `--case ID --out DIR` writes one case's files; `--case ID` runs just that case.

import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { campaignIds, makeCase, TARGETS, type Target } from "./cases.js";
import { FAILING } from "./execute.js";
import { formatSummary, summarize } from "./report.js";
import { disposeWorkerBundle, runCases } from "./runner.js";

const USAGE = `usage: npm run fuzz -- --count N [--seed S] [--jobs J] [--target ${TARGETS.join("|")}|all] [--json FILE]
                     [--timeout MS] [--rss-mb MB]
       npm run fuzz -- --case ID [--out DIR]`;

function parseArgs(argv: readonly string[]): Map<string, string> {
  const args = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === "--help" || a === "-h") args.set("help", "");
    else if (a.startsWith("--") && i + 1 < argv.length) args.set(a.slice(2), argv[++i] as string);
    else throw new Error(`unexpected argument "${a}"\n${USAGE}`);
  }
  return args;
}

function int(args: Map<string, string>, name: string, fallback: number): number {
  const v = args.get(name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer, got "${v}"`);
  return n;
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  if (args.has("help")) {
    console.log(USAGE);
    return 0;
  }
  const limits = {
    ...(args.has("timeout") && { timeoutMs: int(args, "timeout", 5000) }),
    ...(args.has("rss-mb") && { rssLimitBytes: int(args, "rss-mb", 1536) * 2 ** 20 }),
  };
  const caseId = args.get("case");
  if (caseId !== undefined) {
    const c = makeCase(caseId);
    const out = args.get("out");
    if (out !== undefined) {
      mkdirSync(out, { recursive: true });
      for (const [name, bytes] of c.files) writeFileSync(join(out, name), bytes);
      console.log(`${caseId}: wrote ${[...c.files.keys()].join(", ")} to ${out}`);
      console.log(`load it with: npx llmdbg inspect ${resolve(out, c.entry)}`);
      return 0;
    }
    const [r] = await runCases([caseId], { jobs: 1, ...limits });
    await disposeWorkerBundle();
    if (r === undefined) throw new Error("no result");
    console.log(`${caseId}: ${r.outcome.class} (${r.ms.toFixed(0)} ms)`);
    const { class: _, ...rest } = r.outcome;
    if (Object.keys(rest).length > 0) console.log(JSON.stringify(rest, null, 2));
    return FAILING.includes(r.outcome.class) ? 1 : 0;
  }

  const count = int(args, "count", 1000);
  const seed = int(args, "seed", 1);
  const t = args.get("target") ?? "all";
  const targets = t === "all" ? TARGETS : t.split(",");
  for (const x of targets)
    if (!(TARGETS as readonly string[]).includes(x)) throw new Error(`--target: unknown "${x}" (${TARGETS.join(", ")}, all)`);
  const ids = campaignIds(count, seed, targets as Target[]);
  const t0 = performance.now();
  let done = 0;
  let failing = 0;
  let last = 0;
  const results = await runCases(ids, {
    ...(args.has("jobs") && { jobs: int(args, "jobs", 1) }),
    ...limits,
    onResult: (r) => {
      done++;
      if (FAILING.includes(r.outcome.class)) {
        failing++;
        console.error(`  ${r.outcome.class}: ${r.id}: ${(r.outcome.message ?? "").split("\n")[0]?.slice(0, 200)}`);
      }
      const now = performance.now();
      if (now - last > 5000 || done === ids.length) {
        last = now;
        const s = (now - t0) / 1000;
        console.error(`[${done}/${ids.length}] ${s.toFixed(0)} s, ${(done / s).toFixed(1)} cases/s, ${failing} failing`);
      }
    },
  });
  await disposeWorkerBundle();
  const summary = summarize(results, (performance.now() - t0) / 1000);
  console.log(formatSummary(summary));
  const json = args.get("json");
  if (json !== undefined) writeFileSync(json, `${JSON.stringify({ seed, count, targets, ...summary }, null, 2)}\n`);
  return summary.failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e instanceof Error ? e.message : String(e));
    process.exit(2);
  },
);
