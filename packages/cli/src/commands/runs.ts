// `llmdbg runs list | show <id> | export <id> <dir> | import <dir> | gc`: the run store (@llmdbg/store) in
// $LLMDBG_HOME, or the folder --store names. A bad id or folder is the store's StoreError (exit 1, naming it);
// a missing or non-numeric id is a usage error (exit 2).
import { openStore, type RunRecord, type Store, storeHome } from "@llmdbg/store";
import { UsageError } from "../args.js";
import { defineFlags, flag } from "../flags.js";
import { bold, bytes, count, print, printJson, table } from "../output.js";
import type { Command } from "./command.js";

const flags = defineFlags(
  {
    store: flag.text("DIR", "the store folder (default $LLMDBG_HOME, else $XDG_DATA_HOME/llmdbg or ~/.local/share/llmdbg)"),
    kind: flag.text("KIND", "list: only runs of this kind (run, train, lens, …)"),
    limit: flag.int("N", "list: the newest N runs (default 50)", 1),
    json: flag.bool("one JSON object"),
  },
  {
    "<action>": "list, show <id>, export <id> <dir>, import <dir> or gc",
  },
);

// `import` is written as a template literal throughout: scripts/check-deps.mjs reads a quoted import followed by a
// quote as an import statement
const ACTIONS = ["list", "show", "export", `import`, "gc"] as const;

/** The `<id>` positional: a run id is a positive integer. */
function runId(v: string | undefined, action: string): number {
  if (v === undefined) throw new UsageError(`${action}: name a run id (llmdbg runs list shows them)`);
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1)
    throw new UsageError(`${action}: a run id is a positive integer, got ${JSON.stringify(v)}`);
  return n;
}

function arity(positionals: readonly string[], n: number, usage: string): void {
  if (positionals.length !== n) throw new UsageError(`${usage}: expected ${n - 1} argument(s), got ${positionals.length - 1}`);
}

const clip = (s: string | null, n: number) =>
  s === null ? "" : s.length > n ? `${JSON.stringify(s.slice(0, n - 1))}…` : JSON.stringify(s);

function list(store: Store, kind: string | undefined, limit: number, json: boolean): number {
  const runs = store.listRuns({ limit, ...(kind !== undefined && { kind }) });
  if (json) {
    printJson({ store: store.dir, runs });
    return 0;
  }
  if (runs.length === 0) {
    print(`no runs in ${store.dir}`);
    return 0;
  }
  for (const line of table(
    ["id", "created", "kind", "status", "model", "prompt", "results", "events", "blobs"],
    runs.map((r) => [
      String(r.id),
      r.createdAt.replace("T", " ").slice(0, 19),
      r.kind,
      r.status,
      r.model ?? "-",
      clip(r.prompt, 30),
      String(r.results),
      count(r.events),
      String(r.blobs),
    ]),
    ["right", "left", "left", "left", "left", "left", "right", "right", "right"],
  ))
    print(line);
  return 0;
}

function show(r: RunRecord): void {
  print(`${bold(`run ${r.id}`)} (${r.kind}, ${r.status}) ${r.createdAt}  uid ${r.uid}`);
  print(`model:   ${r.model === null ? "-" : `${r.model.path} (sha256 ${r.model.hash.slice(0, 12)}…)`}`);
  if (r.prompt !== null) print(`prompt:  ${JSON.stringify(r.prompt)}`);
  if (r.tokens !== null)
    print(`tokens:  ${r.tokens.length} [${r.tokens.slice(0, 16).join(", ")}${r.tokens.length > 16 ? ", …" : ""}]`);
  if (Object.keys(r.options).length > 0) print(`options: ${JSON.stringify(r.options)}`);
  if (r.interventions.length > 0) print(`interventions: ${JSON.stringify(r.interventions)}`);
  if (Object.keys(r.timings).length > 0)
    print(
      `timings: ${Object.entries(r.timings)
        .map(([k, v]) => `${k} ${v}`)
        .join(", ")}`,
    );
  print(`llmdbg ${r.version}`);
  print(`results: ${r.results.length === 0 ? "none" : r.results.map((x) => x.kind).join(", ")}`);
  if (r.events.length > 0) {
    const kinds = new Map<string, number>();
    for (const e of r.events) kinds.set(e.kind, (kinds.get(e.kind) ?? 0) + 1);
    print(`events:  ${[...kinds].map(([k, n]) => `${n} ${k}`).join(", ")}`);
  }
  if (r.blobs.length > 0) {
    print();
    for (const line of table(
      ["blob", "sha256", "size"],
      r.blobs.map((b) => [b.name, b.hash.slice(0, 16), bytes(b.bytes)]),
      ["left", "left", "right"],
    ))
      print(line);
  }
  for (const e of r.evaluations) print(`evaluation on ${e.dataset.path}: ${JSON.stringify(e.metrics)}`);
  for (const n of r.notes) print(`note${n.example === null ? "" : ` on ${n.example}`}: ${n.text}`);
  for (const l of r.labels) print(`label ${l.example}: ${l.label}`);
}

export const runsCommand: Command = {
  summary: "the run store: list recorded runs, show one, export it as a folder, import one, delete unused blobs",
  usage: "llmdbg runs list [--kind K] [--limit N] | show <id> | export <id> <dir> | import <dir> | gc  [--store DIR] [--json]",
  help: flags.help,
  run(argv) {
    const { values, positionals } = flags.parse(argv);
    const action = positionals[0];
    if (action === undefined) throw new UsageError(`name an action: ${ACTIONS.join(", ")}`);
    if (!(ACTIONS as readonly string[]).includes(action))
      throw new UsageError(`unknown action ${JSON.stringify(action)} (one of ${ACTIONS.join(", ")})`);
    if (action !== "list" && (values.kind !== undefined || values.limit !== undefined))
      throw new UsageError("--kind and --limit go with list");
    // the command line is checked whole before the store is opened (or created)
    if (action === "list" || action === "gc") arity(positionals, 1, action);
    if (action === "show") arity(positionals, 2, "show <id>");
    if (action === "export") arity(positionals, 3, "export <id> <dir>");
    if (action === `import`) arity(positionals, 2, "import <dir>");
    const id = action === "show" || action === "export" ? runId(positionals[1], action) : 0;
    const store = openStore(values.store ?? storeHome());
    try {
      switch (action) {
        case "list":
          return list(store, values.kind, values.limit ?? 50, values.json);
        case "show": {
          const r = store.getRun(id);
          if (values.json) printJson({ store: store.dir, run: r });
          else show(r);
          return 0;
        }
        case "export": {
          const folder = positionals[2] as string;
          const x = store.exportRun(id, folder);
          const size = x.blobs.reduce((a, b) => a + b.bytes, 0);
          if (values.json) printJson({ run: id, uid: x.run.uid, folder, blobs: x.blobs.length, bytes: size });
          else
            print(
              `exported run ${id} to ${folder} (${x.results.length} results, ${x.events.length} events, ${x.blobs.length} blobs, ${bytes(size)})`,
            );
          return 0;
        }
        case `import`: {
          const folder = positionals[1] as string;
          const newId = store.importRun(folder);
          if (values.json) printJson({ run: newId, folder, store: store.dir });
          else print(`imported ${folder} as run ${newId} in ${store.dir}`);
          return 0;
        }
        default: {
          const report = store.gc();
          if (values.json) printJson({ store: store.dir, ...report });
          else print(`deleted ${report.blobs} unused blobs and ${report.strayFiles} stray files, ${bytes(report.bytes)} freed`);
          return 0;
        }
      }
    } finally {
      store.close();
    }
  },
};
