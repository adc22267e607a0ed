// `llmdbg steer <model>`: add a steering vector at a hook point and compare the next-token predictions (and a
// generation) with and without it. The vector comes from a file (a probe's export, a safetensors tensor, a JSON
// array) or from contrastive activation addition over two prompt files.
import { readFileSync } from "node:fs";
import { readSafetensors } from "@llmdbg/formats";
import { steer } from "@llmdbg/methods";
import type { SteeringVector, SteerRequest } from "@llmdbg/protocol";
import { modelPath, UsageError } from "../args.js";
import { defineFlags, flag } from "../flags.js";
import { inputIds, type LoadedModel, load, loadFlags, tokenDisplayOf } from "../load.js";
import { dim, print, printJson, quoted, table } from "../output.js";
import type { Command } from "./command.js";

const flags = defineFlags({
  text: flag.text("T", "input text, encoded with the model's tokenizer"),
  tokens: flag.text("1,2,3", "input token ids instead of text"),
  hook: flag.text("NAME", "where the vector is added (e.g. blocks.6.hook_resid_post; default the probe file's hook)"),
  vector: flag.text(
    "FILE[:NAME]",
    "a safetensors file (a tensor NAME; `llmdbg probe --export` labels: direction.LABEL or LABEL) or a JSON array",
  ),
  positive: flag.text("FILE", "contrastive activation addition: prompts to steer towards, one per line"),
  negative: flag.text("FILE", "… and away from, one per line"),
  reduce: flag.oneOf("R", "contrastive: each prompt's mean over its tokens (default) or its last token", [
    "mean",
    "last",
  ] as const),
  coeff: flag.num("C", "the vector's multiplier (default 1)", Number.isFinite, "a finite number"),
  positions: flag.text("-1,…", "positions the vector is added at (default all, generated tokens included)"),
  "top-k": flag.int("N", "predictions compared (default 5)", 1),
  generate: flag.int("N", "also generate N tokens greedily, with and without the vector", 1),
  json: flag.bool("one JSON object (a SteerResult)"),
  ...loadFlags,
});

function readLines(file: string, flagName: string): { text: string }[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new UsageError(`--${flagName} ${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? e})`);
  }
  return text
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => ({ text: l }));
}

/** The vector of `--vector FILE[:NAME]`, and the hook a probe's export names. */
function vectorFile(spec: string): { values: number[]; hook: string | undefined } {
  const at = spec.lastIndexOf(":");
  const [file, name] =
    at > 0 && !spec.endsWith(".json") && !spec.endsWith(".safetensors")
      ? [spec.slice(0, at), spec.slice(at + 1)]
      : [spec, undefined];
  if (file.endsWith(".json")) {
    let v: unknown;
    try {
      v = JSON.parse(readFileSync(file, "utf8"));
    } catch (e) {
      throw new Error(`${file}: ${(e as Error).message}`);
    }
    if (!Array.isArray(v) || !v.every((x) => typeof x === "number")) throw new Error(`${file}: expected a JSON array of numbers`);
    return { values: v as number[], hook: undefined };
  }
  const st = readSafetensors(file);
  const names = st.entries.map((e) => e.name);
  const pick =
    name === undefined
      ? names.length === 1
        ? names[0]
        : undefined
      : names.includes(name)
        ? name
        : names.includes(`direction.${name}`)
          ? `direction.${name}`
          : undefined;
  if (pick === undefined)
    throw new UsageError(`--vector ${spec}: name one of its tensors after a colon (${names.slice(0, 8).join(", ")})`);
  const t = st.load(pick);
  if (t.rank !== 1) throw new Error(`${file}: ${pick}: expected a 1-D tensor, got shape [${t.shape.join(", ")}]`);
  return { values: t.toArray(), hook: st.metadata.format === "llmdbg.steering" ? st.metadata.hook : undefined };
}

export const steerCommand: Command = {
  summary: "steering: add a vector at a hook point and compare predictions and generations",
  usage:
    "llmdbg steer <model> (--text T | --tokens 1,2,3) (--vector FILE[:NAME] | --positive FILE --negative FILE) [--hook NAME] [--coeff C] [--generate N] [--json]",
  help: flags.help,
  run(argv) {
    const { values, positionals } = flags.parse(argv);
    const path = modelPath(positionals);
    const contrast = values.positive !== undefined || values.negative !== undefined;
    if (contrast === (values.vector !== undefined))
      throw new UsageError("pass --vector FILE, or --positive FILE and --negative FILE");
    if (contrast && (values.positive === undefined || values.negative === undefined))
      throw new UsageError("--positive and --negative go together");
    let vector: SteeringVector;
    let hook = values.hook;
    if (values.vector !== undefined) {
      const f = vectorFile(values.vector);
      vector = { values: f.values };
      hook ??= f.hook;
    } else {
      vector = {
        contrast: {
          positive: readLines(values.positive as string, "positive"),
          negative: readLines(values.negative as string, "negative"),
          ...(values.reduce !== undefined && { reduce: values.reduce }),
        },
      };
    }
    if (hook === undefined) throw new UsageError("--hook NAME is required (the vector file does not name one)");
    const m = load(path, values);
    const ids = inputIds(m, values);
    const req: SteerRequest = {
      kind: "steer",
      input: { ids },
      hook,
      vector,
      ...(values.coeff !== undefined && { coeff: values.coeff }),
      ...(values.positions !== undefined && { positions: values.positions.split(",").map(Number) }),
      ...(values["top-k"] !== undefined && { topK: values["top-k"] }),
      ...(values.generate !== undefined && { generate: { maxNewTokens: values.generate } }),
    };
    const r = steer(m.model, req);
    if (values.json) {
      printJson(r);
      return 0;
    }
    printReport(m, r);
    return 0;
  },
};

function printReport(m: LoadedModel, r: ReturnType<typeof steer>): void {
  const show = (id: number) => quoted(tokenDisplayOf(m, id) ?? `<id ${id}>`);
  print(
    `vector of norm ${r.norm.toFixed(4)} × ${r.coeff} at ${r.hook}${r.positions === null ? "" : ` (positions ${r.positions.join(", ")})`}`,
  );
  const rows = r.before.map((b, i) => {
    const a = r.after[i];
    return [
      String(i + 1),
      `${show(b.id)} ${(100 * b.prob).toFixed(1)}%`,
      a === undefined ? "" : `${show(a.id)} ${(100 * a.prob).toFixed(1)}%`,
    ];
  });
  for (const line of table(["#", "without", "with the vector"], rows)) print(line);
  print(`KL(without ‖ with) at the last position: ${r.kl.toFixed(4)}`);
  if (r.generated !== null) {
    print(`generated without: ${dim(JSON.stringify(r.generated.beforeText ?? r.generated.before.map((t) => t.id).join(" ")))}`);
    print(`generated with:    ${JSON.stringify(r.generated.afterText ?? r.generated.after.map((t) => t.id).join(" "))}`);
  }
}
