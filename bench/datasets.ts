// datasets: the web UI's Datasets table with 10,000 examples and their predictions, scrolled continuously for 3 s
// in headless Chromium (Debian's /usr/bin/chromium with the browser test's flags, `--disable-gpu`), one scroll step
// per animation frame, frames counted on requestAnimationFrame and timed with the Performance API inside the page.
// The issue asks that 10,000 rows "scroll smoothly": the row is the mean frame interval against the 16.7 ms a
// 60 frames/s display allows (ratio ≤ 1 meets it). The UI is built by Vite into a temp folder and served by the real
// server on a tiny model, the dataset given in memory; the predictions are computed first (datasets.predict).
//
// Verified before the figure is taken: every example has its prediction, the table's DOM holds at most 60 rows, and
// scrolled to the end it shows the last example.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startServer } from "@llmdbg/server";
import { writeTinyModel } from "@llmdbg/testing";
import type { BrowserContext } from "playwright-core";
import { buildUi, CHROMIUM, launchChromium } from "../packages/web/test/browser.js";
import { type BenchEnv, notRun, row, type SectionResult, within } from "./common.js";

const ROWS = 10_000;
const MS = 3000;
const BUDGET_MS = 1000 / 60;

type Frames = { frames: number; seconds: number; worstMs: number };

export async function datasetsSection(_env: BenchEnv): Promise<SectionResult> {
  const base = {
    section: "datasets",
    name: `Datasets: ${ROWS.toLocaleString("en")} rows with predictions, scroll frame (headless Chromium, software)`,
    unit: "ms" as const,
    peer: "60 frames/s budget",
  };
  if (!existsSync(CHROMIUM))
    return { rows: [row({ ...base, check: notRun(`${CHROMIUM} is missing (apt-get install chromium)`) })] };
  const tmp = mkdtempSync(join(tmpdir(), "llmdbg-bench-datasets-"));
  const server = { close: async () => {} } as { close(): Promise<void> };
  let context: BrowserContext | null = null;
  try {
    const dist = join(tmp, "dist");
    await buildUi(dist);
    writeTinyModel(join(tmp, "tiny"), "gpt2", { seed: 3 });
    const words = ["the", "cat", "sat", "on", "a", "mat", "and", "dog", "ran", "far"];
    const examples = Array.from({ length: ROWS }, (_, i) => ({
      text: `${words[i % 10]} ${words[(i >> 2) % 10]} ${words[(i >> 5) % 10]} example ${i}`,
      label: i % 3 === 0 ? "a" : "b",
    }));
    const running = await startServer({
      models: { tiny: join(tmp, "tiny") },
      datasets: { bench: { name: "bench", examples } },
      staticDir: dist,
      warn: () => {},
    });
    server.close = () => running.close();
    context = await launchChromium(join(tmp, "profile"));
    const page = context.pages()[0] ?? (await context.newPage());
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(running.url);
    await page.getByTestId("tab-datasets").click({ timeout: 60_000 });
    const summary = page.getByTestId("ds-summary");
    await summary.filter({ hasText: `${ROWS.toLocaleString("en")} of ${ROWS.toLocaleString("en")} examples shown` }).waitFor({
      timeout: 60_000,
    });
    await page.getByTestId("ds-predict").click();
    await summary.filter({ hasText: `predictions ${ROWS.toLocaleString("en")}/` }).waitFor({ timeout: 300_000 });
    const version = context.browser()?.version() ?? "chromium";
    // the page's code as a string: tsx would wrap the functions of a closure in a helper the page does not have
    const scroll = (ms: number) =>
      page.evaluate(`(async () => {
        const s = document.querySelector('[data-testid="ds-scroller"]');
        // about a screenful per frame, top to bottom and back
        const step = s.clientHeight;
        let dir = 1, frames = 0, worst = 0;
        const t0 = performance.now();
        let last = t0;
        await new Promise((done) => {
          function tick() {
            const t = performance.now();
            if (frames > 0) worst = Math.max(worst, t - last);
            last = t;
            frames++;
            if (t - t0 >= ${ms}) return done();
            const max = s.scrollHeight - s.clientHeight;
            if (s.scrollTop + dir * step > max || s.scrollTop + dir * step < 0) dir = -dir;
            s.scrollTop = Math.max(0, Math.min(max, s.scrollTop + dir * step));
            requestAnimationFrame(tick);
          }
          requestAnimationFrame(tick);
        });
        return { frames, seconds: (performance.now() - t0) / 1000, worstMs: worst };
      })()`) as Promise<Frames>;
    await scroll(500); // warm-up
    const stats = await scroll(MS);
    const domRows = await page.getByTestId("ds-row").count();
    await page.evaluate(`document.querySelector('[data-testid="ds-scroller"]').scrollTop = 1e9`);
    await page.waitForTimeout(200);
    const indexes = await page.getByTestId("ds-index").allInnerTexts();
    const check =
      errors.length > 0
        ? notRun(`page errors: ${errors.join("; ")}`)
        : !indexes.includes(String(ROWS - 1))
          ? { ok: false as const, reason: `MISMATCH: scrolled to the end, the table does not show example ${ROWS - 1}` }
          : within("rows in the DOM over 60", Math.max(0, domRows - 60), 0);
    const frameMs = (1000 * stats.seconds) / stats.frames;
    console.log(
      `datasets: ${stats.frames} frames in ${stats.seconds.toFixed(2)} s = ${(1000 / frameMs).toFixed(1)} frames/s (worst ${stats.worstMs.toFixed(1)} ms); ${domRows} rows in the DOM; ${version}`,
    );
    return {
      rows: [
        row({
          ...base,
          check: check.ok ? { ok: true, detail: `${domRows} rows in the DOM; the last example shown at the end` } : check,
          ours: frameMs,
          peer_value: BUDGET_MS,
          target: 1,
          note: `${(1000 / frameMs).toFixed(1)} frames/s over ${stats.seconds.toFixed(1)} s (${stats.frames} frames, a screenful per frame), worst frame ${stats.worstMs.toFixed(1)} ms; Chromium ${version}, --disable-gpu`,
        }),
      ],
    };
  } finally {
    await context?.close();
    await server.close();
    rmSync(tmp, { recursive: true, force: true });
  }
}
