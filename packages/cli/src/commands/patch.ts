// `llmdbg patch <model>`: activation patching — run the corrupted prompt, restore one piece of the clean run
// (a position of a layer's residual stream, attention or MLP output; a head's output, query, key, value or
// pattern; or a sender head's path into a receiver), and show how much of the clean behaviour returns.
import { activationPatching } from "@llmdbg/methods";
import type { PatchGrid, PatchMetric, PatchReceiver, PatchRequest, TokenInput } from "@llmdbg/protocol";
import { modelPath, tokenList, UsageError } from "../args.js";
import { defineFlags, flag } from "../flags.js";
import { type LoadedModel, load, loadFlags, tokenDisplayOf, tokenFlag } from "../load.js";
import { print, printJson, progressBar, quoted, table } from "../output.js";
import type { Command } from "./command.js";

const GRIDS = ["resid_pre", "attn_out", "mlp_out", "z", "q", "k", "v", "pattern", "path"] as const;

const flags = defineFlags({
  clean: flag.text("T", "the clean prompt (text)"),
  corrupted: flag.text("T", "the corrupted prompt (text; as many tokens as the clean one)"),
  "clean-tokens": flag.text("1,2,3", "the clean prompt as token ids"),
  "corrupted-tokens": flag.text("1,2,3", "the corrupted prompt as token ids"),
  grid: flag.oneOf("G", `what is patched: ${GRIDS.join(", ")} (default resid_pre)`, GRIDS),
  metric: flag.oneOf("M", "logit-diff (default), prob or kl, at the last position", ["logit-diff", "prob", "kl"] as const),
  answer: flag.text("TOKEN", "the answer token (default the clean run's top prediction)"),
  foil: flag.text("TOKEN", "the foil of logit-diff (default the corrupted run's top prediction)"),
  receiver: flag.text("L.H.q|k|v", "path patching: the receiver head and input, e.g. 3.1.q"),
  method: flag.oneOf("M", "activation, attribution (the gradient approximation) or both (default)", [
    "activation",
    "attribution",
    "both",
  ] as const),
  batch: flag.int("N", "patched runs per forward pass (default 16)", 1),
  json: flag.bool("one JSON object (a PatchResult)"),
  ...loadFlags,
});

/** One prompt from `--NAME` (text) or `--NAME-tokens` (ids): exactly one of the two. */
function promptOf(values: Record<string, unknown>, name: "clean" | "corrupted"): TokenInput {
  const text = values[name] as string | undefined;
  const ids = values[`${name}-tokens`] as string | undefined;
  if ((text === undefined) === (ids === undefined)) throw new UsageError(`pass exactly one of --${name} and --${name}-tokens`);
  return text !== undefined ? { text } : { ids: tokenList(ids as string) };
}

function receiverOf(v: string | undefined): PatchReceiver | undefined {
  if (v === undefined) return undefined;
  const m = /^(\d+)\.(\d+)\.(q|k|v)$/.exec(v);
  if (m === null) throw new UsageError(`--receiver ${JSON.stringify(v)}: expected LAYER.HEAD.q|k|v, e.g. 3.1.q`);
  return { layer: Number(m[1]), head: Number(m[2]), input: m[3] as PatchReceiver["input"] };
}

export const patchCommand: Command = {
  summary: "activation patching: which layers, positions and heads restore the clean behaviour",
  usage:
    "llmdbg patch <model> (--clean T | --clean-tokens 1,2,3) (--corrupted T | --corrupted-tokens 1,2,3) [--grid G] [--metric M] [--answer TOKEN] [--foil TOKEN] [--receiver L.H.q] [--json]",
  help: flags.help,
  run(argv) {
    const { values, positionals } = flags.parse(argv);
    const path = modelPath(positionals);
    const clean = promptOf(values, "clean");
    const corrupted = promptOf(values, "corrupted");
    const receiver = receiverOf(values.receiver);
    if ((values.grid === "path") !== (receiver !== undefined)) throw new UsageError("--grid path and --receiver go together");
    const m = load(path, values);
    const answer = values.answer === undefined ? undefined : tokenFlag(m, values.answer, "answer");
    const foil = values.foil === undefined ? undefined : tokenFlag(m, values.foil, "foil");
    const req: PatchRequest = {
      kind: "patch",
      clean,
      corrupted,
      grid: (values.grid ?? "resid_pre") as PatchGrid,
      metric: (values.metric ?? "logit-diff").replace("-", "_") as PatchMetric,
      ...(answer !== undefined && { answer }),
      ...(foil !== undefined && { foil }),
      ...(receiver !== undefined && { receiver }),
      ...(values.method !== undefined && { method: values.method }),
      ...(values.batch !== undefined && { batch: values.batch }),
    };
    const bar = progressBar("patching");
    let r: ReturnType<typeof activationPatching>;
    try {
      r = activationPatching(m.model, req, bar === undefined ? {} : { onProgress: (p) => bar.update(p.done, p.total) });
    } finally {
      bar?.finish();
    }
    if (values.json) {
      printJson(r);
      return 0;
    }
    printReport(m, r);
    return 0;
  },
};

function printReport(m: LoadedModel, r: ReturnType<typeof activationPatching>): void {
  const show = (id: number) => quoted(tokenDisplayOf(m, id) ?? `<id ${id}>`);
  const what =
    r.metric === "logit_diff"
      ? `logit difference ${show(r.answer?.id ?? 0)} − ${show(r.foil?.id ?? 0)}`
      : r.metric === "prob"
        ? `probability of ${show(r.answer?.id ?? 0)}`
        : "KL divergence from the clean run";
  print(`${what} at the last position: clean ${r.cleanMetric.toFixed(4)}, corrupted ${r.corruptedMetric.toFixed(4)}`);
  const grid = (title: string, values: readonly (readonly (number | null)[])[]) => {
    print(`${title}: (patched − corrupted) / (clean − corrupted), 1 = fully restored`);
    const rows = values.map((line, l) => [r.rows[l] as string, ...line.map((v) => (v === null ? "·" : v.toFixed(2)))]);
    for (const line of table(["", ...r.cols], rows, ["left", ...r.cols.map(() => "right" as const)])) print(line);
  };
  const where = r.receiver === null ? r.grid : `path into L${r.receiver.layer}H${r.receiver.head}.${r.receiver.input} from`;
  if (r.values !== null) grid(`activation patching of ${where}`, r.values);
  if (r.attribution !== null) {
    grid(`attribution patching of ${where} (first-order approximation)`, r.attribution.values);
    const { rankCorrelation: rho, topKAgreement: top } = r.attribution;
    if (rho !== null && top !== null)
      print(`against activation patching: Spearman ρ ${rho.toFixed(3)}, top-${top.k} agreement ${(100 * top.share).toFixed(0)}%`);
  }
}
