// `llmdbg zoo list | train <name> | verify <name>`: the demonstration models llmdbg trains itself. `train`
// rebuilds one from its recipe (data generator, tokenizer, config, training run) into its folder; `verify`
// loads the folder and measures its card's claims again, exiting 1 when one does not hold.
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { TrainEvent } from "@llmdbg/protocol";
import { type Claim, claimsTable, isZooName, trainZoo, verifyZoo, ZOO, type ZooName } from "@llmdbg/zoo";
import { UsageError } from "../args.js";
import { defineFlags, flag } from "../flags.js";
import { bold, print, printJson, progressBar, table } from "../output.js";
import type { Command } from "./command.js";

const flags = defineFlags({
  zoo: flag.text("DIR", "the zoo folder (default $LLMDBG_ZOO, else the zoo/ folder of this llmdbg checkout)"),
  out: flag.text("DIR", "train: write the model here instead of <zoo>/<name>"),
  "max-steps": flag.int("N", "train: stop after N optimizer steps (a short trial run)", 1),
  json: flag.bool("list, verify: one JSON object; train: one TrainEvent per line, then the claims"),
});

/** The zoo folder: the flag, $LLMDBG_ZOO, or the `zoo/` beside `packages/` above this file. */
export function zooDir(flagValue: string | undefined): string {
  if (flagValue !== undefined) return resolve(flagValue);
  const env = process.env.LLMDBG_ZOO;
  if (env !== undefined && env !== "") return resolve(env);
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, "zoo")) && existsSync(join(dir, "packages"))) return join(dir, "zoo");
    const up = dirname(dir);
    if (up === dir) throw new UsageError("no zoo/ folder found above the llmdbg installation; pass --zoo DIR");
    dir = up;
  }
}

function nameOf(positionals: readonly string[], what: string): ZooName {
  const name = positionals[1];
  if (name === undefined) throw new UsageError(`zoo ${what}: name a model (${Object.keys(ZOO).join(", ")})`);
  if (!isZooName(name))
    throw new UsageError(`zoo ${what}: unknown model ${JSON.stringify(name)} (the zoo has ${Object.keys(ZOO).join(", ")})`);
  return name;
}

/** The claims the folder's claims.json records (from its training), or null. */
function recordedClaims(folder: string): Claim[] | null {
  const f = join(folder, "claims.json");
  if (!existsSync(f)) return null;
  try {
    return JSON.parse(readFileSync(f, "utf8")) as Claim[];
  } catch (e) {
    throw new Error(`${f}: not valid JSON (${(e as Error).message})`);
  }
}

function list(dir: string, json: boolean): number {
  const rows = (Object.keys(ZOO) as ZooName[]).map((name) => {
    const folder = join(dir, name);
    const trained = existsSync(join(folder, "model.safetensors"));
    const claims = trained ? recordedClaims(folder) : null;
    return {
      name,
      summary: ZOO[name].summary,
      folder,
      trained,
      bytes: trained ? statSync(join(folder, "model.safetensors")).size : 0,
      claims: claims === null ? null : { held: claims.filter((c) => c.pass).length, total: claims.length },
    };
  });
  if (json) {
    printJson({ zoo: dir, models: rows });
    return 0;
  }
  for (const line of table(
    ["model", "trained", "claims held", "what it is"],
    rows.map((r) => [
      r.name,
      r.trained ? "yes" : "no",
      r.claims === null ? "-" : `${r.claims.held}/${r.claims.total}`,
      r.summary,
    ]),
  ))
    print(line);
  return 0;
}

async function trainOne(name: ZooName, folder: string, maxSteps: number | undefined, json: boolean): Promise<number> {
  const recipe = ZOO[name];
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once("SIGINT", stop);
  const total = maxSteps ?? recipe.train.maxSteps ?? 0;
  const bar = json ? undefined : progressBar(`training ${name}`, "passes");
  const t0 = performance.now();
  const onEvent = (e: TrainEvent) => {
    if (json) process.stdout.write(`${JSON.stringify(e)}\n`);
    else if (e.kind === "step" && bar !== undefined) {
      const eta = ((performance.now() - t0) / e.step) * (total - e.step);
      bar.update(
        e.step,
        total,
        `loss ${e.loss.toFixed(3)}, ${Math.round(e.tokensPerSecond)} tok/s, ETA ${Math.ceil(eta / 60000)} min`,
      );
    } else if (e.kind === "eval" && !json) {
      bar?.finish();
      print(
        `step ${e.step}: ${Object.entries(e.metrics)
          .map(([k, v]) => `${k} ${v.toFixed(4)}`)
          .join(", ")}`,
      );
    }
  };
  try {
    const r = await trainZoo(recipe, folder, {
      onEvent,
      signal: controller.signal,
      ...(maxSteps !== undefined && { override: { maxSteps } }),
    });
    bar?.finish();
    if (json) printJson({ kind: "claims", model: name, folder, claims: r.claims });
    else {
      print(`${bold(name)}: ${r.steps} steps in ${(r.wallMs / 60000).toFixed(1)} min, written to ${folder}`);
      print(claimsTable(r.claims));
    }
    return r.claims.every((c) => c.pass) ? 0 : 1;
  } finally {
    process.off("SIGINT", stop);
  }
}

function verify(names: readonly ZooName[], dir: string, json: boolean): number {
  const results = names.map((name) => {
    const folder = join(dir, name);
    if (!existsSync(join(folder, "model.safetensors")))
      throw new Error(`${folder}: no trained model (run llmdbg zoo train ${name})`);
    return { name, folder, claims: verifyZoo(ZOO[name], folder) };
  });
  if (json) printJson({ models: results });
  else
    for (const r of results) {
      print(`${bold(r.name)} (${r.folder})`);
      print(claimsTable(r.claims));
      print();
    }
  const failed = results.flatMap((r) => r.claims.filter((c) => !c.pass).map((c) => `${r.name}: ${c.name}`));
  if (failed.length > 0 && !json) print(`claims that do not hold: ${failed.join(", ")}`);
  return failed.length === 0 ? 0 : 1;
}

export const zooCommand: Command = {
  summary: "the demonstration models llmdbg trains itself: list them, train one, verify its card's claims",
  usage: "llmdbg zoo list | train <name> [--out DIR] [--max-steps N] | verify <name|all> [--zoo DIR] [--json]",
  help: flags.help,
  async run(argv) {
    const { values, positionals } = flags.parse(argv);
    const action = positionals[0];
    const dir = zooDir(values.zoo);
    switch (action) {
      case "list":
        return list(dir, values.json);
      case "train": {
        const name = nameOf(positionals, "train");
        return await trainOne(name, resolve(values.out ?? join(dir, name)), values["max-steps"], values.json);
      }
      case "verify": {
        const which = positionals[1];
        const names = which === "all" ? (Object.keys(ZOO) as ZooName[]) : [nameOf(positionals, "verify")];
        return verify(names, dir, values.json);
      }
      default:
        throw new UsageError(
          action === undefined ? "name an action: list, train or verify" : `unknown action ${JSON.stringify(action)}`,
        );
    }
  },
};
