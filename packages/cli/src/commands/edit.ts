import { run, topK } from "@llmdbg/core";
import { romeEdit, zeroHeadEdits } from "@llmdbg/methods";
import { saveHfFolder } from "@llmdbg/models";
import type { EditResult, RomeResult, TokenScore, WeightEdit } from "@llmdbg/protocol";
import { modelPath, UsageError } from "../args.js";
import { checkOutputFolder } from "../files.js";
import { defineFlags, flag } from "../flags.js";
import { inputIds, type LoadedModel, load, loadFlags, tokenDisplayOf, tokenFlag } from "../load.js";
import { print, printJson, progressBar, quoted, table } from "../output.js";
import type { Command } from "./command.js";

const flags = defineFlags({
  "zero-head": flag.text("L.H,…", "zero these heads' outputs (their rows of W_O), e.g. 3.5,4.1"),
  scale: flag.text("PARAM:F[:ROWS]", "multiply a parameter (or rows a-b of it) by F, e.g. h.1.mlp.c_proj.weight:0.5"),
  rome: flag.bool("a rank-one MLP edit: --prompt should end in --target; the key is the MLP input at --subject"),
  prompt: flag.text("T", "--rome: the prompt, e.g. 'The Eiffel Tower is located in the city of'"),
  subject: flag.int(
    "P",
    "--rome: the position of the subject's last token (negative counts from the end)",
    Number.MIN_SAFE_INTEGER,
  ),
  target: flag.text("TOKEN", "--rome: the new next token (one token's text, or an id)"),
  layer: flag.int("L", "--rome: the MLP edited (default the middle layer)", 0),
  steps: flag.int("N", "--rome: optimization steps (default 100)", 1),
  lr: flag.num("X", "--rome: learning rate (default 0.1)", (x) => x > 0, "a positive number"),
  text: flag.text("T", "a prompt whose predictions are shown before and after the edits"),
  tokens: flag.text("1,2,3", "… as token ids"),
  out: flag.text("DIR", "write the edited model there (a Hugging Face folder; the input must be one)"),
  json: flag.bool("one JSON object: the edits (WeightEdit JSON), the ROME result, and what was written"),
  ...loadFlags,
});

function zeroHeads(m: LoadedModel, v: string): WeightEdit[] {
  return v.split(",").flatMap((s) => {
    const match = /^(-?\d+)\.(\d+)$/.exec(s.trim());
    if (match === null) throw new UsageError(`--zero-head ${JSON.stringify(s)}: expected LAYER.HEAD, e.g. 3.5`);
    return zeroHeadEdits(m.model, Number(match[1]), Number(match[2]));
  });
}

function scaleEdit(m: LoadedModel, v: string): WeightEdit {
  const [param, factor, rows] = v.split(":");
  if (param === undefined || factor === undefined || !Number.isFinite(Number(factor)))
    throw new UsageError(`--scale ${JSON.stringify(v)}: expected PARAM:FACTOR[:FROM-TO]`);
  if (!m.model.params.has(param))
    throw new UsageError(`--scale: no parameter ${JSON.stringify(param)} (llmdbg inspect lists them)`);
  if (rows === undefined) return { kind: "scale", param, factor: Number(factor) };
  const r = /^(\d+)-(\d+)$/.exec(rows);
  if (r === null) throw new UsageError(`--scale ${JSON.stringify(v)}: rows as FROM-TO, e.g. 0-63`);
  const [from, to] = [Number(r[1]), Number(r[2])];
  return { kind: "scale", param, factor: Number(factor), rows: Array.from({ length: to - from + 1 }, (_, i) => from + i) };
}

export const editCommand: Command = {
  summary: "weight edits: zero heads, scale parameters, ROME-style rank-one MLP edits; write the edited model",
  usage:
    "llmdbg edit <model> [--zero-head L.H,…] [--scale PARAM:F] [--rome --prompt T --subject P --target TOKEN] [--text T] [--out DIR] [--json]",
  help: flags.help,
  run(argv) {
    const { values, positionals } = flags.parse(argv);
    const path = modelPath(positionals);
    if (values.out !== undefined) checkOutputFolder(values.out, "out");
    if (values.rome && (values.prompt === undefined || values.subject === undefined || values.target === undefined))
      throw new UsageError("--rome needs --prompt, --subject and --target");
    const m = load(path, values);
    if (values.out !== undefined && m.format !== "safetensors")
      throw new UsageError("--out writes a Hugging Face folder: edit a model loaded from one (llmdbg convert a .gguf first)");
    const edits: WeightEdit[] = [];
    if (values["zero-head"] !== undefined) edits.push(...zeroHeads(m, values["zero-head"]));
    if (values.scale !== undefined) edits.push(scaleEdit(m, values.scale));
    let rome: RomeResult | null = null;
    if (values.rome) {
      const bar = progressBar("rome");
      try {
        rome = romeEdit(
          m.model,
          {
            kind: "rome",
            prompt: { text: values.prompt as string },
            subjectPosition: values.subject as number,
            target: tokenFlag(m, values.target as string, "target"),
            layer: values.layer ?? Math.floor(m.config.nLayers / 2),
            ...(values.steps !== undefined && { steps: values.steps }),
            ...(values.lr !== undefined && { lr: values.lr }),
          },
          bar === undefined ? {} : { onProgress: (p) => bar.update(p.done, p.total) },
        );
      } finally {
        bar?.finish();
      }
      edits.push(rome.edit);
    }
    if (edits.length === 0) throw new UsageError("no edit: pass --zero-head, --scale or --rome");
    const shown = values.text !== undefined || values.tokens !== undefined ? inputIds(m, values) : undefined;
    const before = shown === undefined ? undefined : lastTop(m, shown, []);
    const after = shown === undefined ? undefined : lastTop(m, shown, edits);
    let saved: ReturnType<typeof saveHfFolder> | undefined;
    if (values.out !== undefined) {
      const handle = m.model.params.apply(edits);
      try {
        saved = saveHfFolder(path, m.model.params, values.out);
      } finally {
        handle.revert();
      }
    }
    if (values.json) {
      const result: EditResult = {
        kind: "edit",
        edits,
        rome,
        before: before === undefined ? null : scores(m, before),
        after: after === undefined ? null : scores(m, after),
        out: values.out ?? null,
        written: saved?.written ?? null,
      };
      printJson(result);
      return 0;
    }
    const show = (id: number) => quoted(tokenDisplayOf(m, id) ?? `<id ${id}>`);
    print(`${edits.length} edit(s): ${edits.map((e) => `${e.kind} ${e.param}`).join("; ")}`);
    if (rome !== null)
      for (const c of rome.checks)
        print(`p(${show(rome.target.id)}) on the prompt: ${c.before.toFixed(4)} → ${c.after.toFixed(4)}`);
    if (before !== undefined && after !== undefined) {
      const rows = before.map((b, i) => [
        String(i + 1),
        `${show(b.id)} ${(100 * b.prob).toFixed(1)}%`,
        `${show(after[i]?.id ?? 0)} ${(100 * (after[i]?.prob ?? 0)).toFixed(1)}%`,
      ]);
      for (const line of table(["#", "before", "after"], rows)) print(line);
    }
    if (saved !== undefined)
      print(`wrote ${saved.written} tensors to ${values.out}/model.safetensors, with the source folder's other files`);
    return 0;
  },
};

function lastTop(m: LoadedModel, ids: readonly number[], edits: readonly WeightEdit[]) {
  const out = run(m.model, [...ids], { edits }).output;
  const V = out.shape[2] as number;
  return topK(out.data.subarray(out.size - V, out.size), 5);
}

/** Top predictions as protocol token scores (text where the tokenizer names the token). */
function scores(m: LoadedModel, top: ReturnType<typeof lastTop>): TokenScore[] {
  const text = (id: number) => (m.tokenizer?.idToToken(id) === undefined ? null : (m.tokenizer?.decode([id]) ?? null));
  return top.map((t) => ({ id: t.id, text: text(t.id), logit: t.logit, prob: t.prob }));
}
