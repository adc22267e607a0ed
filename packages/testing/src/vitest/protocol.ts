// A runtime check that a JSON value has the shape of a protocol result type (the CLI's --json, later the server's
// replies): every field present with its type, no field the type does not have. The schemas mirror
// @llmdbg/protocol's methods.ts and train.ts; `satisfies` ties each to its TypeScript type, so a field added there and not here
// fails to compile.
import type {
  AblationResult,
  AdversarialResult,
  AttentionHeadResult,
  AttentionOverviewResult,
  AttentionResult,
  CounterfactualResult,
  DlaResult,
  EditResult,
  GenerationAttributionResult,
  GradientAttributionResult,
  LensResult,
  MethodKind,
  NeuronsResult,
  PatchResult,
  PerturbationAttributionResult,
  ProbeResult,
  ProjectionProbeResult,
  ProjectionResult,
  RomeResult,
  SteerResult,
  TokenRef,
  TokenScore,
  TrainEvent,
  TrainEventKind,
  TunedLensResult,
} from "@llmdbg/protocol";
import { expect } from "vitest";

type Schema =
  | "number"
  | "int"
  | "string"
  | "boolean"
  | { readonly literal: string }
  | { readonly nullable: Schema }
  | { readonly oneOf: readonly Schema[] }
  | { readonly array: Schema }
  /** an object whose keys are free and whose values all fit one schema (a TypeScript Record) */
  | { readonly record: Schema }
  | { readonly object: Readonly<Record<string, Schema>> };

type Fields<T> = { readonly [K in keyof Required<T>]: Schema };

const tokenRef = { object: { id: "int", text: { nullable: "string" } } satisfies Fields<TokenRef> };
const tokenScore = {
  object: { id: "int", text: { nullable: "string" }, logit: "number", prob: "number" } satisfies Fields<TokenScore>,
};

const lens = {
  object: {
    kind: { literal: "lens" },
    tokens: { array: tokenRef },
    layers: { array: "string" },
    positions: { array: "int" },
    target: { nullable: tokenRef },
    cells: {
      array: {
        array: {
          object: {
            top: { array: tokenScore },
            target: { nullable: { object: { logit: "number", prob: "number", rank: "int" } } },
          },
        },
      },
    },
    lens: { oneOf: [{ literal: "logit" }, { literal: "tuned" }] },
  } satisfies Fields<LensResult>,
};

const dla = {
  object: {
    kind: { literal: "dla" },
    tokens: { array: tokenRef },
    position: "int",
    target: tokenRef,
    foil: { nullable: tokenRef },
    logit: "number",
    components: {
      array: {
        object: { name: "string", kind: "string", layer: { nullable: "int" }, head: { nullable: "int" }, value: "number" },
      },
    },
    sum: "number",
    error: "number",
    convention: "string",
  } satisfies Fields<DlaResult>,
};

const oneOfStrings = (xs: readonly string[]): Schema => ({ oneOf: xs.map((literal) => ({ literal })) });

const attribution = {
  object: {
    kind: { literal: "attribution" },
    method: oneOfStrings(["saliency", "grad_x_input", "integrated_gradients"]),
    hook: "string",
    tokens: { array: tokenRef },
    position: "int",
    target: tokenRef,
    foil: { nullable: tokenRef },
    objective: oneOfStrings(["logprob", "logit", "prob"]),
    scores: { array: "number" },
    fInput: "number",
    fBaseline: { nullable: "number" },
    delta: { nullable: "number" },
    baseline: {
      nullable: {
        oneOf: [
          { object: { kind: { literal: "zero" } } },
          { object: { kind: { literal: "token" }, id: "int" } },
          { object: { kind: { literal: "dataset" }, texts: { array: "string" } } },
        ],
      },
    },
    steps: { nullable: "int" },
    rule: { nullable: oneOfStrings(["riemann_left", "riemann_right", "riemann_middle", "riemann_trapezoid", "gauss_legendre"]) },
  } satisfies Fields<GradientAttributionResult>,
};

const perturbation = {
  object: {
    kind: { literal: "perturbation" },
    method: oneOfStrings(["occlusion", "lime", "shap"]),
    tokens: { array: tokenRef },
    position: "int",
    target: tokenRef,
    foil: { nullable: tokenRef },
    objective: oneOfStrings(["logprob", "logit", "prob"]),
    replacement: tokenRef,
    scores: { array: "number" },
    fInput: "number",
    fMasked: "number",
    samples: "int",
    seed: { nullable: "int" },
    r2: { nullable: "number" },
    window: { nullable: "int" },
    stride: { nullable: "int" },
  } satisfies Fields<PerturbationAttributionResult>,
};

const grid: Schema = { nullable: { array: { array: { nullable: "number" } } } };
const patch = {
  object: {
    kind: { literal: "patch" },
    grid: oneOfStrings(["resid_pre", "attn_out", "mlp_out", "z", "q", "k", "v", "pattern", "path"]),
    metric: oneOfStrings(["logit_diff", "prob", "kl"]),
    clean: { array: tokenRef },
    corrupted: { array: tokenRef },
    answer: { nullable: tokenRef },
    foil: { nullable: tokenRef },
    receiver: { nullable: { object: { layer: "int", head: "int", input: oneOfStrings(["q", "k", "v"]) } } },
    cleanMetric: "number",
    corruptedMetric: "number",
    rows: { array: "string" },
    cols: { array: "string" },
    values: grid,
    raw: grid,
    attribution: {
      nullable: {
        object: {
          values: { array: { array: { nullable: "number" } } },
          rankCorrelation: { nullable: "number" },
          topKAgreement: { nullable: { object: { k: "int", share: "number" } } },
        },
      },
    },
  } satisfies Fields<PatchResult>,
};

const ablate = {
  object: {
    kind: { literal: "ablate" },
    components: oneOfStrings(["heads", "neurons", "layers"]),
    ablation: oneOfStrings(["zero", "mean", "resample"]),
    metric: oneOfStrings(["logprob", "prob", "logit_diff"]),
    tokens: { array: tokenRef },
    answer: tokenRef,
    foil: { nullable: tokenRef },
    baseline: "number",
    effects: {
      array: {
        object: {
          name: "string",
          layer: "int",
          index: { nullable: "int" },
          kind: oneOfStrings(["head", "neuron", "attn", "mlp"]),
          metric: "number",
          effect: "number",
        },
      },
    },
    samples: { nullable: "int" },
    seed: { nullable: "int" },
  } satisfies Fields<AblationResult>,
};

const probe = {
  object: {
    kind: { literal: "probe" },
    labels: { array: "string" },
    reduce: oneOfStrings(["last", "mean"]),
    trainSize: "int",
    validationSize: "int",
    seed: "int",
    probes: {
      array: {
        object: {
          hook: "string",
          trainAccuracy: "number",
          validationAccuracy: "number",
          controlAccuracy: "number",
          selectivity: "number",
        },
      },
    },
    best: { object: { hook: "string", directions: { array: { array: "number" } } } },
  } satisfies Fields<ProbeResult>,
};

const projectionPoints = oneOfStrings(["tokens", "last", "mean"]);
const projection = {
  object: {
    kind: { literal: "projection" },
    hook: "string",
    method: oneOfStrings(["pca", "umap"]),
    points: projectionPoints,
    count: "int",
    total: "int",
    dim: "int",
    xy: "string",
    example: "string",
    position: "string",
    token: "string",
    prediction: "string",
    vocab: { array: tokenRef },
    labels: { array: "string" },
    label: "string",
    explainedVariance: { nullable: { array: "number" } },
    umap: { nullable: { object: { nNeighbors: "int", minDist: "number", seed: "int", epochs: "int" } } },
  } satisfies Fields<ProjectionResult>,
};

const projectionProbe = {
  object: {
    kind: { literal: "projection_probe" },
    hook: "string",
    points: projectionPoints,
    insideCount: "int",
    outsideCount: "int",
    trainSize: "int",
    validationSize: "int",
    trainAccuracy: "number",
    validationAccuracy: "number",
    direction: { array: "number" },
    gap: "number",
  } satisfies Fields<ProjectionProbeResult>,
};

const steer = {
  object: {
    kind: { literal: "steer" },
    hook: "string",
    coeff: "number",
    positions: { nullable: { array: "int" } },
    vector: { array: "number" },
    norm: "number",
    tokens: { array: tokenRef },
    before: { array: tokenScore },
    after: { array: tokenScore },
    kl: "number",
    generated: {
      nullable: {
        object: {
          before: { array: tokenRef },
          after: { array: tokenRef },
          beforeText: { nullable: "string" },
          afterText: { nullable: "string" },
        },
      },
    },
  } satisfies Fields<SteerResult>,
};

const grid2: Schema = { array: { array: "number" } };
const attention = {
  object: {
    kind: { literal: "attention" },
    tokens: { array: tokenRef },
    layers: { array: "int" },
    heads: { array: "int" },
    entropy: grid2,
    firstToken: grid2,
    sinks: { array: { array: { array: { object: { position: "int", mass: "number" } } } } },
    rollout: grid2,
    flow: { array: "number" },
    patterns: { nullable: { array: { array: grid2 } } },
    scores: {
      nullable: {
        object: {
          previousToken: grid2,
          induction: grid2,
          duplicateToken: grid2,
          copying: { nullable: grid2 },
        } satisfies Fields<NonNullable<AttentionResult["scores"]>>,
      },
    },
    seed: { nullable: "int" },
    repeatLength: { nullable: "int" },
    batch: { nullable: "int" },
  } satisfies Fields<AttentionResult>,
};

const quantized = {
  object: { rows: "int", cols: "int", encoding: { literal: "sqrt8" }, data: "string" },
} satisfies Schema;
// the attention result's fields but its patterns, with thumbnails and a quantized rollout
const { patterns: _patterns, ...attentionFields } = attention.object;
const attentionOverview = {
  object: {
    ...attentionFields,
    kind: { literal: "attention_overview" },
    thumbnails: { array: { array: quantized } },
    pool: "int",
    rollout: quantized,
    flow: { nullable: { array: "number" } },
    flowMaxPositions: "int",
  } satisfies Fields<AttentionOverviewResult>,
};
const attentionHead = {
  object: {
    kind: { literal: "attention_head" },
    tokens: { array: tokenRef },
    layer: "int",
    head: "int",
    pattern: quantized,
  } satisfies Fields<AttentionHeadResult>,
};

const rome = {
  object: {
    kind: { literal: "rome" },
    layer: "int",
    subjectPosition: "int",
    target: tokenRef,
    edit: {
      object: {
        kind: { literal: "rankOne" },
        param: "string",
        u: { array: "number" },
        v: { array: "number" },
        coeff: "number",
      },
    },
    keyNorm: "number",
    deltaNorm: "number",
    losses: { array: "number" },
    checks: { array: { object: { tokens: { array: tokenRef }, before: "number", after: "number" } } },
  } satisfies Fields<RomeResult>,
};

const tunedLens = {
  object: {
    kind: { literal: "tuned_lens" },
    layers: { array: "string" },
    klLogitLens: { array: "number" },
    klTunedLens: { array: "number" },
    trainTokens: "int",
    validationTokens: "int",
    steps: "int",
    seed: "int",
  } satisfies Fields<TunedLensResult>,
};

const adversarial = {
  object: {
    kind: { literal: "adversarial" },
    method: oneOfStrings(["hotflip", "gcg"]),
    tokens: { array: tokenRef },
    adversarial: { array: tokenRef },
    text: { nullable: "string" },
    objective: oneOfStrings(["target", "away"]),
    target: { array: tokenRef },
    lossBefore: "number",
    loss: "number",
    targetProbs: { array: "number" },
    before: tokenScore,
    after: tokenScore,
    success: "boolean",
    flips: {
      nullable: {
        array: {
          object: {
            position: "int",
            from: tokenRef,
            to: tokenRef,
            predicted: "number",
            actual: "number",
          } satisfies Fields<NonNullable<AdversarialResult["flips"]>[number]>,
        },
      },
    },
    suffix: { nullable: { array: tokenRef } },
    losses: { array: "number" },
    steps: "int",
    evaluated: "int",
    stopped: oneOfStrings(["success", "steps", "time", "exhausted"]),
    seed: { nullable: "int" },
  } satisfies Fields<AdversarialResult>,
};

const prediction = { top: tokenScore, targetLogProb: "number", targetProb: "number" } satisfies Fields<
  CounterfactualResult["original"]
>;
const counterfactual = {
  object: {
    kind: { literal: "counterfactual" },
    tokens: { array: tokenRef },
    text: { nullable: "string" },
    target: tokenRef,
    original: { object: prediction },
    counterfactuals: {
      array: {
        object: {
          source: oneOfStrings(["words", "neighbours"]),
          from: "string",
          to: "string",
          at: { array: "int" },
          swap: { nullable: { object: { from: "int", to: "int", similarity: "number" } } },
          tokens: { array: tokenRef },
          text: { nullable: "string" },
          ...prediction,
          deltaLogProb: "number",
          deltaProb: "number",
          keepsTop: "boolean",
        } satisfies Fields<CounterfactualResult["counterfactuals"][number]>,
      },
    },
    robustness: {
      object: {
        all: { nullable: "number" },
        words: { nullable: "number" },
        neighbours: { nullable: "number" },
      } satisfies Fields<CounterfactualResult["robustness"]>,
    },
    sameLength: "boolean",
    skipped: "int",
  } satisfies Fields<CounterfactualResult>,
};

type Unit = NeuronsResult["units"][number];
const neurons = {
  object: {
    kind: { literal: "neurons" },
    hook: "string",
    features: "int",
    texts: "int",
    empty: "int",
    truncated: "int",
    tokens: "int",
    topK: "int",
    window: "int",
    units: {
      array: {
        object: {
          name: "string",
          neuron: { nullable: "int" },
          norm: { nullable: "number" },
          top: {
            array: {
              object: {
                text: "int",
                position: "int",
                value: "number",
                start: "int",
                tokens: { array: tokenRef },
                activations: { array: "number" },
              } satisfies Fields<Unit["top"][number]>,
            },
          },
          histogram: {
            object: {
              lo: "number",
              hi: "number",
              range: { oneOf: [{ literal: "given" }, { literal: "sample" }] },
              counts: { array: "int" },
              below: "int",
              above: "int",
            } satisfies Fields<Unit["histogram"]>,
          },
          stats: {
            object: {
              count: "int",
              mean: "number",
              std: "number",
              min: "number",
              max: "number",
              positive: "int",
            } satisfies Fields<Unit["stats"]>,
          },
          quantiles: { array: { object: { q: "number", value: "number" } satisfies Fields<Unit["quantiles"][number]> } },
        } satisfies Fields<Unit>,
      },
    },
  } satisfies Fields<NeuronsResult>,
};

const generationAttribution = {
  object: {
    kind: { literal: "generation_attribution" },
    method: oneOfStrings(["saliency", "grad_x_input", "integrated_gradients"]),
    objective: oneOfStrings(["logprob", "logit", "prob"]),
    prompt: { array: tokenRef },
    generated: { array: tokenRef },
    foil: { nullable: tokenRef },
    matrix: { array: { array: { nullable: "number" } } },
    deltas: { nullable: { array: "number" } },
  } satisfies Fields<GenerationAttributionResult>,
};

const tensorData: Schema = { object: { shape: { array: "int" }, data: { array: "number" } } };
const weightEdit: Schema = {
  oneOf: [
    { object: { kind: { literal: "set" }, param: "string", values: tensorData } },
    { object: { kind: { literal: "set" }, param: "string", values: tensorData, rows: { array: "int" }, cols: { array: "int" } } },
    { object: { kind: { literal: "add" }, param: "string", delta: tensorData } },
    { object: { kind: { literal: "scale" }, param: "string", factor: "number" } },
    { object: { kind: { literal: "scale" }, param: "string", factor: "number", rows: { array: "int" } } },
    { object: { kind: { literal: "scale" }, param: "string", factor: "number", cols: { array: "int" } } },
    { object: { kind: { literal: "scale" }, param: "string", factor: "number", rows: { array: "int" }, cols: { array: "int" } } },
    {
      object: { kind: { literal: "rankOne" }, param: "string", u: { array: "number" }, v: { array: "number" }, coeff: "number" },
    },
  ],
};
const editResult = {
  object: {
    kind: { literal: "edit" },
    edits: { array: weightEdit },
    rome: { nullable: rome },
    before: { nullable: { array: tokenScore } },
    after: { nullable: { array: tokenScore } },
    out: { nullable: "string" },
    written: { nullable: "int" },
  } satisfies Fields<EditResult>,
};

const SCHEMAS: { readonly [K in MethodKind]: Schema } = {
  lens,
  dla,
  attribution,
  perturbation,
  patch,
  ablate,
  probe,
  projection,
  projection_probe: projectionProbe,
  steer,
  attention,
  attention_overview: attentionOverview,
  attention_head: attentionHead,
  rome,
  tuned_lens: tunedLens,
  adversarial,
  counterfactual,
  neurons,
  generation_attribution: generationAttribution,
  edit: editResult,
};

/** Where `value` departs from `schema`: one line per problem, with its JSON path. */
function problems(value: unknown, schema: Schema, path: string, out: string[]): void {
  const fail = (what: string) => out.push(`${path}: expected ${what}, got ${JSON.stringify(value)?.slice(0, 60)}`);
  if (typeof schema === "string") {
    const ok =
      schema === "int"
        ? Number.isSafeInteger(value)
        : schema === "number"
          ? typeof value === "number" && Number.isFinite(value)
          : typeof value === schema;
    if (!ok) fail(schema === "number" ? "a finite number" : schema);
  } else if ("literal" in schema) {
    if (value !== schema.literal) fail(JSON.stringify(schema.literal));
  } else if ("oneOf" in schema) {
    const fits = schema.oneOf.some((alt) => {
      const sub: string[] = [];
      problems(value, alt, path, sub);
      return sub.length === 0;
    });
    if (!fits) fail(`one of ${schema.oneOf.length} alternatives`);
  } else if ("nullable" in schema) {
    if (value !== null) problems(value, schema.nullable, path, out);
  } else if ("array" in schema) {
    if (!Array.isArray(value)) fail("an array");
    else for (const [i, v] of value.entries()) problems(v, schema.array, `${path}[${i}]`, out);
  } else if ("record" in schema) {
    if (typeof value !== "object" || value === null || Array.isArray(value)) return void fail("an object");
    for (const [k, v] of Object.entries(value)) problems(v, schema.record, `${path}.${k}`, out);
  } else {
    if (typeof value !== "object" || value === null || Array.isArray(value)) return void fail("an object");
    const v = value as Record<string, unknown>;
    for (const [k, s] of Object.entries(schema.object)) {
      if (!(k in v)) out.push(`${path}.${k}: missing`);
      else problems(v[k], s, `${path}.${k}`, out);
    }
    for (const k of Object.keys(v)) if (!(k in schema.object)) out.push(`${path}.${k}: not in the protocol type`);
  }
}

/** Asserts that `value` is a MethodResult of its `kind`, field by field. */
export function expectMethodResult(value: unknown): void {
  const kind = (value as { kind?: unknown } | null)?.kind;
  expect(Object.keys(SCHEMAS), "a MethodResult kind").toContain(kind);
  const out: string[] = [];
  problems(value, SCHEMAS[kind as MethodKind], "$", out);
  expect(out.slice(0, 10)).toEqual([]);
}

// ——— training telemetry (protocol train.ts) ———

type Ev<K extends TrainEventKind> = Extract<TrainEvent, { kind: K }>;
type Config = Ev<"start">["config"];
const positiveOrNull: Schema = { nullable: "int" };

const trainConfig = {
  object: {
    seed: "int",
    batchSize: "int",
    gradientAccumulation: "int",
    epochs: { nullable: "number" },
    maxSteps: positiveOrNull,
    lr: "number",
    schedule: {
      object: {
        kind: oneOfStrings(["constant", "linear", "cosine"]),
        warmupSteps: "int",
        minLrRatio: "number",
      } satisfies Fields<Config["schedule"]>,
    },
    optimizer: {
      oneOf: [
        {
          object: {
            kind: { literal: "adamw" },
            betas: { array: "number" },
            eps: "number",
            weightDecay: "number",
            noDecay1d: "boolean",
          } satisfies Fields<Extract<Config["optimizer"], { kind: "adamw" }>>,
        },
        {
          object: {
            kind: { literal: "sgd" },
            momentum: "number",
            dampening: "number",
            nesterov: "boolean",
            weightDecay: "number",
            noDecay1d: "boolean",
          } satisfies Fields<Extract<Config["optimizer"], { kind: "sgd" }>>,
        },
      ],
    },
    clipNorm: { nullable: "number" },
    shuffle: "boolean",
    padding: {
      object: { side: oneOfStrings(["left", "right"]), length: positiveOrNull, padId: "int" } satisfies Fields<Config["padding"]>,
    },
    objective: oneOfStrings(["causal_lm", "classification"]),
    trainable: { nullable: { array: "string" } },
    evalEvery: positiveOrNull,
    evalBatchSize: "int",
    earlyStopping: {
      nullable: {
        object: {
          metric: "string",
          mode: oneOfStrings(["min", "max"]),
          patience: "int",
          minDelta: "number",
        } satisfies Fields<NonNullable<Config["earlyStopping"]>>,
      },
    },
    checkpointEvery: positiveOrNull,
    checkpointDir: { nullable: "string" },
    activationsEvery: positiveOrNull,
    explodingThreshold: "number",
    onAnomaly: oneOfStrings(["stop", "skip"]),
  } satisfies Fields<Config>,
};

const TRAIN_SCHEMAS: { readonly [K in TrainEventKind]: Schema } = {
  start: {
    object: {
      kind: { literal: "start" },
      config: trainConfig,
      params: "int",
      trainableParams: "int",
      seed: "int",
      totalSteps: "int",
      examples: "int",
      resumedFrom: { nullable: "int" },
    } satisfies Fields<Ev<"start">>,
  },
  step: {
    object: {
      kind: { literal: "step" },
      step: "int",
      epoch: "number",
      loss: "number",
      lr: "number",
      gradNorm: "number",
      layerGradNorms: { record: "number" },
      updateRatio: { record: "number" },
      tokens: "int",
      tokensPerSecond: "number",
      wallMs: "number",
    } satisfies Fields<Ev<"step">>,
  },
  eval: { object: { kind: { literal: "eval" }, step: "int", metrics: { record: "number" } } satisfies Fields<Ev<"eval">> },
  activations: {
    object: {
      kind: { literal: "activations" },
      step: "int",
      layers: {
        array: {
          object: {
            hook: "string",
            layer: { nullable: "int" },
            mean: "number",
            std: "number",
            maxAbs: "number",
          } satisfies Fields<Ev<"activations">["layers"][number]>,
        },
      },
    } satisfies Fields<Ev<"activations">>,
  },
  anomaly: {
    object: {
      kind: { literal: "anomaly" },
      step: "int",
      what: oneOfStrings(["nan", "inf"]),
      op: { nullable: "string" },
      label: { nullable: "string" },
      phase: { nullable: oneOfStrings(["forward", "backward"]) },
      param: { nullable: "string" },
      action: oneOfStrings(["stop", "skip"]),
      message: "string",
    } satisfies Fields<Ev<"anomaly">>,
  },
  dead_neurons: {
    object: {
      kind: { literal: "dead_neurons" },
      step: "int",
      hook: "string",
      count: "int",
      total: "int",
    } satisfies Fields<Ev<"dead_neurons">>,
  },
  exploding_activations: {
    object: {
      kind: { literal: "exploding_activations" },
      step: "int",
      hook: "string",
      maxAbs: "number",
      threshold: "number",
    } satisfies Fields<Ev<"exploding_activations">>,
  },
  checkpoint: { object: { kind: { literal: "checkpoint" }, step: "int", path: "string" } satisfies Fields<Ev<"checkpoint">> },
  early_stop: {
    object: {
      kind: { literal: "early_stop" },
      step: "int",
      metric: "string",
      best: "number",
      bestStep: "int",
    } satisfies Fields<Ev<"early_stop">>,
  },
  end: {
    object: {
      kind: { literal: "end" },
      step: "int",
      reason: oneOfStrings(["done", "early_stop", "aborted", "anomaly"]),
      wallMs: "number",
    } satisfies Fields<Ev<"end">>,
  },
};

/** Asserts that `value` is a TrainEvent of its `kind`, field by field, and survives a JSON round trip unchanged. */
export function expectTrainEvent(value: unknown): void {
  const kind = (value as { kind?: unknown } | null)?.kind;
  expect(Object.keys(TRAIN_SCHEMAS), "a TrainEvent kind").toContain(kind);
  const out: string[] = [];
  problems(value, TRAIN_SCHEMAS[kind as TrainEventKind], "$", out);
  expect(out.slice(0, 10)).toEqual([]);
  expect(JSON.parse(JSON.stringify(value))).toEqual(value);
}
