// `llmdbg adversarial <model>`: an adversarial input by gradient-guided token search — HotFlip's token flips that
// make the model predict a target (or leave its current prediction), or GCG's suffix that makes it produce a target
// string.
import { adversarialAttack } from "@llmdbg/methods";
import type { AdversarialRequest, AdversarialResult } from "@llmdbg/protocol";
import { modelPath, tokenList, UsageError } from "../args.js";
import { defineFlags, flag } from "../flags.js";
import { inputIds, type LoadedModel, load, loadFlags, tokenDisplayOf, tokenFlag } from "../load.js";
import { dim, print, printJson, progressBar, quoted, table } from "../output.js";
import type { Command } from "./command.js";

const flags = defineFlags({
  text: flag.text("T", "input text (the prompt), encoded with the model's tokenizer"),
  tokens: flag.text("1,2,3", "input token ids instead of text"),
  method: flag.oneOf("M", "hotflip (flip input tokens; default) or gcg (optimize a suffix)", ["hotflip", "gcg"] as const),
  target: flag.text("TOKEN", "hotflip: the token to make the model predict (default: away from its current prediction)"),
  "target-string": flag.text("S", "gcg: the text the model should produce after the prompt and suffix"),
  "target-tokens": flag.text("1,2,3", "gcg: … as token ids"),
  positions: flag.text("0,-1,…", "hotflip: the positions that may be flipped (default all but special tokens)"),
  beam: flag.int("N", "hotflip: inputs kept per flip depth (default 4)", 1),
  "max-flips": flag.int("N", "hotflip: the most tokens flipped (default 3)", 1),
  candidates: flag.int(
    "N",
    "hotflip: flips verified per beam entry per depth (default 16); gcg: substitutions per step (default 128)",
    1,
  ),
  "suffix-length": flag.int("N", "gcg: suffix tokens (default 10)", 1),
  "suffix-init": flag.text("1,2,3", "gcg: the starting suffix's token ids (default '!' repeated)"),
  "top-k": flag.int("N", "gcg: candidate tokens per suffix position (default 64)", 1),
  steps: flag.int("N", "gcg: the most steps (default 100)", 1),
  time: flag.num("SECONDS", "gcg: the time budget (default none)", (n) => n > 0, "a positive number of seconds"),
  seed: flag.int("N", "gcg: the seed of the sampled substitutions (default 0)", 0),
  exclude: flag.text("1,2,3", "token ids never inserted (special tokens never are)"),
  batch: flag.int("N", "inputs per forward pass (default 32)", 1),
  json: flag.bool("one JSON object (an AdversarialResult)"),
  ...loadFlags,
});

/** `--positions 0,-1`: comma-separated integers, negative from the end. */
function positionList(v: string): number[] {
  return v.split(",").map((s) => {
    const n = Number(s.trim());
    if (s.trim() === "" || !Number.isSafeInteger(n))
      throw new UsageError(`--positions must be comma-separated integers, got ${JSON.stringify(v)}`);
    return n;
  });
}

export const adversarialCommand: Command = {
  summary: "adversarial inputs: HotFlip token flips toward a target, GCG suffixes that make the model produce a string",
  usage:
    "llmdbg adversarial <model> (--text T | --tokens 1,2,3) [--method hotflip|gcg] [--target TOKEN] [--target-string S] [--max-flips N] [--steps N] [--time SECONDS] [--json]",
  help: flags.help,
  run(argv) {
    const { values, positionals } = flags.parse(argv);
    const method = values.method ?? "hotflip";
    const gcgOnly = ["target-string", "target-tokens", "suffix-length", "suffix-init", "top-k", "steps", "time", "seed"] as const;
    const hotflipOnly = ["target", "positions", "beam", "max-flips"] as const;
    for (const f of method === "gcg" ? hotflipOnly : gcgOnly)
      if (values[f] !== undefined) throw new UsageError(`--${f} is for --method ${method === "gcg" ? "hotflip" : "gcg"}`);
    if (method === "gcg" && (values["target-string"] === undefined) === (values["target-tokens"] === undefined))
      throw new UsageError("--method gcg needs exactly one of --target-string and --target-tokens");
    const m = load(modelPath(positionals), values);
    const ids = inputIds(m, values);
    const target = values.target === undefined ? undefined : tokenFlag(m, values.target, "target");
    const req: AdversarialRequest = {
      kind: "adversarial",
      method,
      input: { ids },
      ...(target !== undefined && { target }),
      ...(values["target-string"] !== undefined && { targetString: { text: values["target-string"] } }),
      ...(values["target-tokens"] !== undefined && { targetString: { ids: tokenList(values["target-tokens"]) } }),
      ...(values.positions !== undefined && { positions: positionList(values.positions) }),
      ...(values.beam !== undefined && { beamWidth: values.beam }),
      ...(values["max-flips"] !== undefined && { maxFlips: values["max-flips"] }),
      ...(values.candidates !== undefined && { candidates: values.candidates }),
      ...(values["suffix-length"] !== undefined && { suffixLength: values["suffix-length"] }),
      ...(values["suffix-init"] !== undefined && { suffixInit: tokenList(values["suffix-init"]) }),
      ...(values["top-k"] !== undefined && { topK: values["top-k"] }),
      ...(values.steps !== undefined && { steps: values.steps }),
      ...(values.time !== undefined && { timeMs: values.time * 1000 }),
      ...(values.seed !== undefined && { seed: values.seed }),
      ...(values.exclude !== undefined && { exclude: tokenList(values.exclude) }),
      ...(values.batch !== undefined && { batch: values.batch }),
    };
    const bar = progressBar(method === "gcg" ? "gcg steps" : "hotflip depths", "passes");
    let r: AdversarialResult;
    try {
      r = adversarialAttack(m.model, req, bar === undefined ? {} : { onProgress: (p) => bar.update(p.done, p.total) });
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

function printReport(m: LoadedModel, r: AdversarialResult): void {
  const show = (id: number) => quoted(tokenDisplayOf(m, id) ?? `<id ${id}>`);
  const pct = (p: number) => `${(100 * p).toFixed(1)}%`;
  const goal =
    r.objective === "away" ? `away from ${show(r.target[0]?.id ?? 0)}` : `toward ${r.target.map((t) => show(t.id)).join(" ")}`;
  print(
    `${r.method}: ${goal}; ${r.success ? "succeeded" : "did not succeed"} (${r.stopped}) after ${r.steps} step(s), ${r.evaluated} inputs evaluated`,
  );
  if (r.flips !== null && r.flips.length > 0) {
    const rows = r.flips.map((f) => [
      String(f.position),
      `${show(f.from.id)} → ${show(f.to.id)}`,
      f.predicted.toFixed(4),
      f.actual.toFixed(4),
    ]);
    for (const line of table(["pos", "flip", "predicted Δloss", "actual Δloss"], rows, ["right", "left", "right", "right"]))
      print(line);
  }
  if (r.suffix !== null)
    print(`suffix: ${r.suffix.map((t) => show(t.id)).join(" ")} ${dim(`(${r.suffix.map((t) => t.id).join(",")})`)}`);
  if (r.text !== null) print(`adversarial input: ${JSON.stringify(r.text)}`);
  print(`prediction: ${show(r.before.id)} ${pct(r.before.prob)} → ${show(r.after.id)} ${pct(r.after.prob)}`);
  print(
    `loss ${r.lossBefore.toFixed(4)} → ${r.loss.toFixed(4)}; target probabilities ${r.targetProbs.map(pct).join(", ")}` +
      (r.losses.length > 0 ? dim(`; best loss per step ${r.losses.map((l) => l.toFixed(3)).join(" ")}`) : ""),
  );
}
