// The Training view's browser step (called from e2e.test.ts): real `llmdbg train` processes (the CLI's bin, a
// process of their own) write into the e2e server's run store while the page is open. A short baseline run is
// trained first; then, with the Training tab shown, a longer run starts: the page lists it running, its loss
// curve gains points while it runs, then it is done; both runs are selected and overlaid (a legend entry each),
// with the live run's checkpoints listed and marked. Saves training.png.
import { type ChildProcess, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Page } from "playwright-core";
import { expect } from "vitest";

const BIN = join(dirname(fileURLToPath(import.meta.url)), "../../cli/bin/llmdbg.mjs");

const TEXTS = [
  "once upon a time there was a little girl named lily.",
  "she liked to play in the park with her dog.",
  "the sun was warm and the sky was blue.",
  "one day she found a big red ball.",
];

export interface TrainingStepOptions {
  /** a scratch folder */
  readonly tmp: string;
  /** the server's run store folder */
  readonly store: string;
  /** a model folder whose config and tokenizer the runs start from (fresh weights) */
  readonly model: string;
  readonly shots: string;
  readonly wait: { readonly timeout: number };
}

/** `llmdbg train` on a run file, recording into `store`; resolves with its exit code and stderr. */
function train(runFile: string, store: string): { child: ChildProcess; done: Promise<{ code: number | null; stderr: string }> } {
  const child = spawn(process.execPath, [BIN, "train", runFile, "--json"], {
    env: { ...process.env, LLMDBG_HOME: store, LLMDBG_BACKEND: "ref" },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  return { child, done: new Promise((ok) => child.on("close", (code) => ok({ code, stderr }))) };
}

function runFile(o: TrainingStepOptions, name: string, training: Record<string, unknown>): string {
  writeFileSync(
    join(o.tmp, "train.jsonl"),
    Array.from({ length: 32 }, (_, i) => JSON.stringify({ text: TEXTS[i % 4] })).join("\n"),
  );
  writeFileSync(join(o.tmp, "valid.jsonl"), TEXTS.map((t) => JSON.stringify({ text: t })).join("\n"));
  const f = join(o.tmp, `${name}.json`);
  writeFileSync(
    f,
    JSON.stringify({
      init: { config: join(o.model, "config.json"), tokenizer: o.model, seed: 1 },
      data: { train: "train.jsonl", validation: "valid.jsonl", maxLength: 24 },
      out: name,
      training: { seed: 1, batchSize: 4, evalEvery: 25, activationsEvery: 10, ...training },
    }),
  );
  return f;
}

const lossPoints = async (page: Page) => Number(await page.getByTestId("chart-loss").getAttribute("data-points"));

export async function trainingStep(page: Page, o: TrainingStepOptions): Promise<void> {
  const children: ChildProcess[] = [];
  try {
    // a finished baseline to compare against
    const base = train(runFile(o, "train-base", { lr: 1e-3, maxSteps: 50 }), o.store);
    children.push(base.child);
    const b = await base.done;
    expect(b.stderr).toBe("");
    expect(b.code).toBe(0);

    await page.getByTestId("tab-training").click();
    const rows = page.getByTestId("training-row");
    await expect.poll(() => rows.count(), o.wait).toBe(1);
    await expect.poll(() => page.getByTestId("training-status").first().innerText(), o.wait).toBe("done");
    // the one run is selected on first sight and drawn
    await expect.poll(() => lossPoints(page), o.wait).toBeGreaterThanOrEqual(50);
    const basePoints = await lossPoints(page);

    // the live run: listed first while it runs, its curve growing
    const live = train(
      runFile(o, "train-live", {
        lr: 3e-3,
        maxSteps: 240,
        checkpointEvery: 100,
        schedule: { kind: "cosine", warmupSteps: 20 },
      }),
      o.store,
    );
    children.push(live.child);
    await expect.poll(() => rows.count(), o.wait).toBe(2);
    const first = rows.first();
    await expect.poll(() => first.getByTestId("training-status").innerText(), o.wait).toBe("running");
    await first.getByTestId("training-select").check();
    // two readings of the curve while the run goes on: part of it drawn, then more (checked against the total below)
    await expect.poll(() => lossPoints(page), o.wait).toBeGreaterThan(basePoints);
    const p1 = await lossPoints(page);
    await expect.poll(() => lossPoints(page), o.wait).toBeGreaterThan(p1);
    const p2 = await lossPoints(page);
    const stillRunning = await first.getByTestId("training-status").innerText();
    console.log(`web e2e: training curve ${p1} → ${p2} points while the run was ${stillRunning}`);
    const l = await live.done;
    expect(l.stderr).toBe("");
    expect(l.code).toBe(0);
    await expect.poll(() => first.getByTestId("training-status").innerText(), o.wait).toBe("done");
    await expect.poll(() => first.getByTestId("training-step").innerText(), o.wait).toBe("240 / 240");
    // every point of both runs: 50 + 240 training losses and each evaluation's loss, as the server lists them
    const ids = await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-run")));
    let evals = 0;
    for (const id of ids) {
      const r = await page.request.get(new URL(`/api/runs/${id}/events`, page.url()).href);
      expect(r.status()).toBe(200);
      evals += ((await r.json()) as { events: { kind: string }[] }).events.filter((e) => e.kind === "eval").length;
    }
    expect(evals).toBeGreaterThanOrEqual(2 + 9);
    await expect.poll(() => lossPoints(page), o.wait).toBe(50 + 240 + evals);
    // the first reading was a part of the live run's curve, not all of it
    expect(p1).toBeLessThan(50 + 240 + evals);
    const legend = await page.getByTestId("chart-loss").locator(".chart-legend li").allInnerTexts();
    expect(legend.map((t) => t.trim())).toEqual([
      `run ${ids[1]} train`,
      `run ${ids[1]} eval`,
      `run ${ids[0]} train`,
      `run ${ids[0]} eval`,
    ]);
    await expect.poll(() => page.getByTestId("checkpoint-row").count(), o.wait).toBe(2);
    expect(await page.getByTestId("training-checkpoints").innerText()).toContain("checkpoint-200");
    expect(await page.getByTestId("training-checkpoints").innerText()).not.toContain(o.tmp);
    // per-layer and activation charts have data; the layer picker narrows to one layer
    expect(Number(await page.getByTestId("chart-layer-grad").getAttribute("data-points"))).toBeGreaterThan(0);
    expect(Number(await page.getByTestId("chart-act-max").getAttribute("data-points"))).toBeGreaterThan(0);
    await page.getByTestId("training-layer").selectOption("0");
    await expect.poll(() => page.getByTestId("chart-layer-grad").locator(".chart-legend li").count(), o.wait).toBe(2);
    await page.getByTestId("training-log").check();
    await page.screenshot({ path: join(o.shots, "training.png"), fullPage: true });
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
  }
}
