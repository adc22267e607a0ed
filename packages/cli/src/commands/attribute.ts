import { generationAttribution, gradientAttribution, perturbationAttribution } from "@llmdbg/methods";
import type {
  AttributionBaseline,
  GradientAttributionRequest,
  PerturbationAttributionRequest,
  QuadratureRule,
} from "@llmdbg/protocol";
import { modelPath, UsageError } from "../args.js";
import { readTextLines } from "../files.js";
import { defineFlags, flag } from "../flags.js";
import { inputIds, type LoadedModel, load, loadFlags, tokenDisplayOf, tokenFlag } from "../load.js";
import { print, printJson, progressBar, quoted, table } from "../output.js";
import type { Command } from "./command.js";

const GRADIENT = { saliency: "saliency", "grad-x-input": "grad_x_input", ig: "integrated_gradients" } as const;
const PERTURBATION = { occlusion: "occlusion", lime: "lime", shap: "shap" } as const;
const METHODS = [...Object.keys(GRADIENT), ...Object.keys(PERTURBATION)] as (keyof typeof GRADIENT | keyof typeof PERTURBATION)[];
const RULES = ["gauss-legendre", "riemann-left", "riemann-right", "riemann-middle", "riemann-trapezoid"] as const;

const flags = defineFlags({
  text: flag.text("T", "input text, encoded with the model's tokenizer"),
  tokens: flag.text("1,2,3", "input token ids instead of text"),
  method: flag.oneOf("M", "saliency, grad-x-input, ig (integrated gradients; default), occlusion, lime or shap", METHODS),
  target: flag.text("TOKEN", "the predicted token explained (one token's text or an id; default the top prediction)"),
  foil: flag.text("TOKEN", "explain target − foil instead"),
  objective: flag.oneOf("O", "logprob (default), logit or prob of the target", ["logprob", "logit", "prob"] as const),
  position: flag.int("P", "the position whose prediction is explained (default -1, the last)", Number.MIN_SAFE_INTEGER),
  hook: flag.text("NAME", "the hook point attributed to (default the token embeddings)"),
  baseline: flag.text("B", "zero (default), pad, unk, token:ID, or dataset:FILE (the mean over a text file's lines)"),
  steps: flag.int("N", "integration steps of ig (default 64)", 1),
  rule: flag.oneOf("R", "the quadrature of ig (default gauss-legendre)", RULES),
  batch: flag.int("N", "inputs per forward pass (ig: interpolation points, default 16; masking methods: default 32)", 1),
  generate: flag.int("N", "gradient methods: generate N tokens greedily and attribute each to everything before it", 1),
  replacement: flag.text("TOKEN", "occlusion, lime, shap: the token a masked position becomes (default pad, else unk, else 0)"),
  window: flag.int("N", "occlusion: tokens masked at once (default 1)", 1),
  stride: flag.int("N", "occlusion: step between windows (default 1)", 1),
  samples: flag.int("N", "lime, shap: masked inputs drawn (default 256; shap enumerates all when 2^n − 2 ≤ N)", 1),
  seed: flag.int("N", "lime, shap: the seed of the draws (default 0)", 0),
  json: flag.bool("one JSON object (a GradientAttributionResult, or a PerturbationAttributionResult for the masking methods)"),
  ...loadFlags,
});

/** `--baseline` as the protocol's baseline: a named special token, a token id, or a text file's mean. */
function baselineOf(m: LoadedModel, v: string | undefined): AttributionBaseline | undefined {
  if (v === undefined || v === "zero") return v === undefined ? undefined : { kind: "zero" };
  if (v === "pad" || v === "unk") {
    const id = v === "pad" ? m.tokenizer?.padTokenId : m.tokenizer?.unkTokenId;
    if (id === undefined) throw new UsageError(`--baseline ${v}: the model's tokenizer has no ${v} token; use token:ID`);
    return { kind: "token", id };
  }
  if (v.startsWith("token:")) return { kind: "token", id: tokenFlag(m, v.slice(6), "baseline token") };
  if (v.startsWith("dataset:")) {
    const file = v.slice(8);
    const texts = readTextLines(file, "baseline dataset");
    if (texts.length === 0) throw new Error(`${file}: no text lines for the dataset baseline`);
    return { kind: "dataset", texts };
  }
  throw new UsageError(`--baseline ${JSON.stringify(v)}: expected zero, pad, unk, token:ID or dataset:FILE`);
}

export const attributeCommand: Command = {
  summary: "input attribution: saliency, grad × input, integrated gradients, occlusion, LIME, KernelSHAP",
  usage:
    "llmdbg attribute <model> (--text T | --tokens 1,2,3) [--method saliency|grad-x-input|ig|occlusion|lime|shap] [--target TOKEN] [--foil TOKEN] [--baseline B] [--steps N] [--samples N] [--json]",
  help: flags.help,
  run(argv) {
    const { values, positionals } = flags.parse(argv);
    const m = load(modelPath(positionals), values);
    const ids = inputIds(m, values);
    const name = values.method ?? "ig";
    const target = values.target === undefined ? undefined : tokenFlag(m, values.target, "target");
    const foil = values.foil === undefined ? undefined : tokenFlag(m, values.foil, "foil");
    const common = {
      input: { ids },
      ...(target !== undefined && { target }),
      ...(foil !== undefined && { foil }),
      ...(values.objective !== undefined && { objective: values.objective }),
      ...(values.position !== undefined && { position: values.position }),
      ...(values.batch !== undefined && { batch: values.batch }),
    };
    if (name === "occlusion" || name === "lime" || name === "shap") return runPerturbation(m, name, common, values);
    const method = GRADIENT[name];
    const baseline = baselineOf(m, values.baseline);
    if (values.generate !== undefined) {
      const g = generationAttribution(m.model, {
        kind: "generation_attribution",
        input: { ids },
        maxNewTokens: values.generate,
        method,
        ...(foil !== undefined && { foil }),
        ...(values.objective !== undefined && { objective: values.objective }),
        ...(baseline !== undefined && { baseline }),
        ...(values.steps !== undefined && { steps: values.steps }),
        ...(values.rule !== undefined && { rule: values.rule.replace("-", "_") as QuadratureRule }),
      });
      if (values.json) {
        printJson(g);
        return 0;
      }
      const cols = [...g.prompt, ...g.generated.slice(0, -1)].map((t) => show(m, t.id));
      print(`${g.method.replace(/_/g, " ")}: each generated token (row) attributed to every token before it (columns)`);
      const rows = g.matrix.map((row, j) => [
        show(m, g.generated[j]?.id ?? 0),
        ...row.map((v) => (v === null ? "" : v.toFixed(3))),
      ]);
      for (const line of table(["generated", ...cols], rows, ["left", ...cols.map(() => "right" as const)])) print(line);
      return 0;
    }
    const req: GradientAttributionRequest = {
      kind: "attribution",
      method,
      ...common,
      ...(values.hook !== undefined && { hook: values.hook }),
      ...(baseline !== undefined && { baseline }),
      ...(values.steps !== undefined && { steps: values.steps }),
      ...(values.rule !== undefined && { rule: values.rule.replace("-", "_") as QuadratureRule }),
    };
    const bar = method === "integrated_gradients" ? progressBar("integrating") : undefined;
    let r: ReturnType<typeof gradientAttribution>;
    try {
      r = gradientAttribution(m.model, req, bar === undefined ? {} : { onProgress: (p) => bar.update(p.done, p.total) });
    } finally {
      bar?.finish();
    }
    if (values.json) {
      printJson(r);
      return 0;
    }
    const what = r.foil === null ? show(m, r.target.id) : `${show(m, r.target.id)} − ${show(m, r.foil.id)}`;
    print(`${r.method.replace(/_/g, " ")} of the ${r.objective} of ${what} at position ${r.position}, at ${r.hook}`);
    printScores(m, ids, r.scores);
    if (r.delta !== null && r.fBaseline !== null) {
      const gap = r.fInput - r.fBaseline;
      print(
        `f(input) ${r.fInput.toFixed(5)}, f(baseline) ${r.fBaseline.toFixed(5)}; scores sum to ${(gap + r.delta).toFixed(5)}, ` +
          `delta ${r.delta.toExponential(2)} (${((100 * Math.abs(r.delta)) / Math.max(Math.abs(gap), 1e-30)).toFixed(2)}% of the gap; ${r.steps} ${r.rule?.replace("_", "-")} steps)`,
      );
    }
    return 0;
  },
};

const show = (m: LoadedModel, id: number) => quoted(tokenDisplayOf(m, id) ?? `<id ${id}>`);

/** One row per input token: its score and a bar scaled to the largest |score|. */
function printScores(m: LoadedModel, ids: readonly number[], scores: readonly number[]): void {
  const max = Math.max(...scores.map(Math.abs), 1e-30);
  const rows = scores.map((s, p) => {
    const n = Math.round((20 * Math.abs(s)) / max);
    return [String(p), show(m, ids[p] as number), s.toFixed(5), (s < 0 ? "-" : "+").repeat(n)];
  });
  for (const line of table(["pos", "token", "score", ""], rows, ["right", "left", "right", "left"])) print(line);
}

type PerturbationCommon = Omit<PerturbationAttributionRequest, "kind" | "method">;

/** occlusion, lime and shap: masked copies of the input, with a progress bar over the masked inputs. */
function runPerturbation(
  m: LoadedModel,
  method: PerturbationAttributionRequest["method"],
  common: PerturbationCommon,
  values: {
    replacement?: string | undefined;
    window?: number | undefined;
    stride?: number | undefined;
    samples?: number | undefined;
    seed?: number | undefined;
    json: boolean;
  },
): number {
  const replacement = values.replacement === undefined ? undefined : tokenFlag(m, values.replacement, "replacement");
  const req: PerturbationAttributionRequest = {
    kind: "perturbation",
    method,
    ...common,
    ...(replacement !== undefined && { replacement }),
    ...(values.window !== undefined && { window: values.window }),
    ...(values.stride !== undefined && { stride: values.stride }),
    ...(values.samples !== undefined && { samples: values.samples }),
    ...(values.seed !== undefined && { seed: values.seed }),
  };
  const bar = progressBar("masked inputs");
  let r: ReturnType<typeof perturbationAttribution>;
  try {
    r = perturbationAttribution(m.model, req, bar === undefined ? {} : { onProgress: (p) => bar.update(p.done, p.total) });
  } finally {
    bar?.finish();
  }
  if (values.json) {
    printJson(r);
    return 0;
  }
  const what = r.foil === null ? show(m, r.target.id) : `${show(m, r.target.id)} − ${show(m, r.foil.id)}`;
  print(`${method} of the ${r.objective} of ${what} at position ${r.position}, masking with ${show(m, r.replacement.id)}`);
  printScores(
    m,
    r.tokens.map((t) => t.id),
    r.scores,
  );
  const tail =
    method === "lime"
      ? `; surrogate R² ${r.r2?.toFixed(3)}`
      : method === "shap"
        ? `; scores sum to ${r.scores.reduce((a, b) => a + b, 0).toFixed(5)}`
        : "";
  print(
    `f(input) ${r.fInput.toFixed(5)}, f(all masked) ${r.fMasked.toFixed(5)}; ${r.samples} masked inputs evaluated${r.seed === null ? "" : ` (seed ${r.seed})`}${tail}`,
  );
  return 0;
}
