// `llmdbg profile <model>`: where a forward and a backward pass spend time and memory (profileModel of
// @llmdbg/models), printed per component, per layer and per kind with the bottleneck on top, and per op kind
// forward and backward, with the backward pass per layer.
import { profileModel } from "@llmdbg/models";
import { modelPath } from "../args.js";
import { defineFlags, flag } from "../flags.js";
import { inputIds, load, loadFlags } from "../load.js";
import { type Align, bold, bytes, count, ms, pct, print, printJson, progressBar, table } from "../output.js";
import type { Command } from "./command.js";

const flags = defineFlags({
  text: flag.text("T", "the input text"),
  tokens: flag.text("1,2,3", "the input as token ids"),
  warmup: flag.int("N", "unmeasured runs first (onnxruntime builds its sessions on first use; default 1)", 0),
  repeat: flag.int("N", "measured runs, averaged (default 3)", 1),
  json: flag.bool("one JSON object"),
  ...loadFlags,
});

function printText(path: string, r: ReturnType<typeof profileModel>): void {
  const f = r.forward;
  const b = r.backward;
  const mmCell = (v: number | null) => (v === null ? "–" : ms(v));
  print(
    `profile of ${path} on ${r.tokens.length} tokens (backend ${r.backend}; mean of ${r.repeat} run${r.repeat === 1 ? "" : "s"} after ${r.warmup} warm-up)`,
  );
  print(`forward   ${ms(f.totalMs)} ms (${ms(f.unattributedMs)} ms of it sampling memory), peak rss ${bytes(f.peakRssBytes)}`);
  print(
    `backward  ${ms(b.backwardMs)} ms (forward on the tape ${ms(b.forwardMs)} ms, loss ${ms(b.lossMs)} ms; matmul ${mmCell(b.matmulMs)} ms), rss Δ ${bytes(b.rssBytes)}, loss ${b.loss.toFixed(4)}`,
  );
  /** A blank line, the title, and the table (first column left-aligned, the rest right-aligned by default). */
  const section = (title: string, head: string[], rows: string[][], align?: readonly Align[]) => {
    print();
    print(title);
    for (const line of table(head, rows, align ?? head.map((_, i) => (i === 0 ? "left" : "right")))) print(`  ${line}`);
  };
  const rows = f.components.map((c, i) => {
    const cells = [c.name, ms(c.ms), pct(c.ms, f.totalMs), mmCell(c.matmulMs), bytes(c.rssBytes), bytes(c.arrayBuffersBytes)];
    return i === 0 ? [...cells.map((s) => bold(s)), "◀ bottleneck"] : [...cells, ""];
  });
  section("forward by component, slowest first", ["component", "ms", "share", "matmul ms", "rss Δ", "buffers Δ", ""], rows, [
    "left",
    "right",
    "right",
    "right",
    "right",
    "right",
    "left",
  ]);
  section(
    "forward by layer",
    ["layer", "ms", "share", "matmul ms", "rss Δ"],
    f.layers.map((l) => [l.name, ms(l.ms), pct(l.ms, f.totalMs), mmCell(l.matmulMs), bytes(l.rssBytes)]),
  );
  section(
    "forward by kind (matmul: onnxruntime; other: TypeScript kernels)",
    ["kind", "ms", "share", "matmul ms", "other ms"],
    f.kinds.map((k) => [
      k.kind,
      ms(k.ms),
      pct(k.ms, f.totalMs),
      mmCell(k.matmulMs),
      k.matmulMs === null ? "–" : ms(k.ms - k.matmulMs),
    ]),
  );
  section(
    `forward by op kind (${ms(r.opLevel.forwardMs)} of ${ms(f.totalMs)} ms)`,
    ["op", "ms", "share", "calls", "allocated"],
    f.byOp.map((o) => [o.op, ms(o.ms), pct(o.ms, f.totalMs), count(o.calls), bytes(o.bytesOut)]),
  );
  section(
    `backward by op kind: the op's backward rule, its gradient accumulation included (${ms(r.opLevel.backwardMs)} of ${ms(b.backwardMs)} ms)`,
    ["op", "ms", "share", "rules", "ops", "allocated"],
    b.byOp.map((o) => [o.op, ms(o.ms), pct(o.ms, b.backwardMs), count(o.calls), count(o.ops), bytes(o.bytesOut)]),
  );
  section(
    "backward by layer: each rule charged to the layer its forward op ran in",
    ["layer", "ms", "share", "ops", "allocated"],
    b.byLayer.map((l) => [l.name, ms(l.ms), pct(l.ms, b.backwardMs), count(l.calls), bytes(l.bytesOut)]),
  );
  print();
  print(`note: ${r.note}`);
}

export const profileCommand: Command = {
  summary: "time and memory per layer, component and kind, forward and backward",
  usage: "llmdbg profile <model> (--text T | --tokens 1,2,3) [--warmup N] [--repeat N] [--json]",
  help: flags.help,
  run(argv) {
    const { values, positionals } = flags.parse(argv);
    const path = modelPath(positionals);
    const warmup = values.warmup ?? 1;
    const repeat = values.repeat ?? 3;
    const m = load(path, values);
    const ids = inputIds(m, values);
    // a large model takes a while: a bar on a terminal, nothing when piped
    const bar = progressBar("profiling", "passes");
    const r = profileModel(m.model, ids, warmup, repeat, (done, total) => bar?.update(done, total));
    bar?.finish();
    if (values.json) printJson({ model: m.path, ...r });
    else printText(m.path, r);
    return 0;
  },
};
