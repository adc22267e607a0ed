import { steer } from "@llmdbg/methods";
import type { SteeringVector, SteerRequest } from "@llmdbg/protocol";
import { modelPath, UsageError } from "../args.js";
import { readTextLines, readVectors } from "../files.js";
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
      const f = readVectors(values.vector, "vector");
      if (f.vectors.length !== 1)
        throw new UsageError(
          `--vector ${values.vector}: holds ${f.vectors.length} vectors; name one after a colon (${f.vectors.map((v) => v.name).join(", ")})`,
        );
      vector = { values: (f.vectors[0] as { values: number[] }).values };
      hook ??= f.hook;
    } else {
      vector = {
        contrast: {
          positive: readTextLines(values.positive as string, "positive").map((text) => ({ text })),
          negative: readTextLines(values.negative as string, "negative").map((text) => ({ text })),
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
