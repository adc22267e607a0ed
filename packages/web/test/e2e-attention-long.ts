// The Attention view past 512 tokens (called from e2e.test.ts): `stories` has 128 positions, so this step serves a
// random-init GPT-2 over 1,024 positions with stories' tokenizer from a second server, in a browser profile of its
// own (cookies are per host, not per port): thumbnails pooled, a head enlarged at full size, zoomed, scrolled and
// hovered, and a screenshot (attention-long.png).
import { join } from "node:path";
import { startServer } from "@llmdbg/server";
import { writeRandomGpt2 } from "@llmdbg/testing";
import { expect } from "vitest";
import { openBrowser } from "./browser.js";

export interface LongAttentionOptions {
  readonly tmp: string;
  /** the built UI */
  readonly dist: string;
  /** the zoo's stories folder, whose tokenizer the random model takes */
  readonly stories: string;
  readonly shots: string;
  readonly prompt: string;
  readonly wait: { readonly timeout: number };
  /** console and page errors go here */
  readonly problems: string[];
}

export async function longAttentionStep(o: LongAttentionOptions): Promise<void> {
  const { tmp, stories, shots, problems, wait: WAIT } = o;
  const PROMPT = o.prompt;
  // stories has 128 positions, so this step serves a random-init GPT-2 over 1,024 positions with stories'
  // tokenizer from a second server, in a browser profile of its own (cookies are per host, not per port)
  const long = join(tmp, "long");
  writeRandomGpt2(long, {
    ...{ nLayers: 2, nHeads: 4, dModel: 64, nPositions: 1024, tokenizerFrom: stories, vocabSize: 1024 },
    ...{ bosTokenId: 1023, eosTokenId: 1023, std: 0.3, seed: 1 },
  });
  const s2 = await startServer({ models: { long }, backend: "ref", staticDir: o.dist, warn: () => {} });
  const { context: ctx2, page: p } = await openBrowser(join(tmp, "profile-long"), problems, {
    label: "long",
    timeoutMs: WAIT.timeout,
  });
  try {
    await p.goto(s2.url);
    await expect.poll(() => p.getByTestId("model").locator("option").count(), WAIT).toBe(1);
    await p.getByTestId("prompt").fill(Array.from({ length: 45 }, () => PROMPT).join(" "));
    await p.getByTestId("run").click();
    await p.getByTestId("token-row").first().waitFor(WAIT);
    const tokens = await p.getByTestId("token-row").count();
    expect(tokens).toBeGreaterThanOrEqual(512);
    await p.getByTestId("tab-attention").click();
    await p.getByTestId("analyze-attention").click();
    await p.getByTestId("thumb").first().waitFor(WAIT);
    expect(await p.getByTestId("thumb").count()).toBe(2 * 4);
    const pool = Math.ceil(tokens / 64);
    await expect
      .poll(() => p.locator(".attention").innerText(), WAIT)
      .toContain(`${tokens} tokens · thumbnails: the maximum over ${pool} × ${pool} blocks`);
    // flow is left out at this length, and said so
    expect(await p.getByTestId("flow-skipped").innerText()).toContain(`this prompt has ${tokens}`);
    // open L1H2: its thumbnail at once, then its full pattern from the server; time it in the page
    const enlarged = p.getByTestId("attention-enlarged");
    await expect.poll(() => enlarged.getAttribute("data-full"), WAIT).toBe("yes"); // L0H0, the first shown
    const canvas = enlarged.locator("canvas");
    const before = Number(await canvas.getAttribute("data-drawn"));
    const t0 = await p.evaluate(() => performance.now());
    await p.locator('[data-testid="thumb"][data-head="L1H2"]').click();
    await expect.poll(() => enlarged.getAttribute("data-head"), WAIT).toBe("L1H2");
    await expect.poll(() => enlarged.getAttribute("data-full"), WAIT).toBe("yes");
    const t1 = await p.evaluate(() => performance.now());
    expect(Number(await canvas.getAttribute("data-drawn"))).toBeGreaterThan(before);
    console.log(`web e2e: ${tokens}-token attention, another head to its full pattern drawn ${(t1 - t0).toFixed(0)} ms`);
    expect(await canvas.getAttribute("data-window")).toBe(`0,0,${tokens}`);
    expect(await p.getByTestId("query-label").count()).toBe(0); // too many rows for labels
    // zoom in four times (halving the window) to at most 48 positions: the window's labels and every pair's lines
    for (let i = 0; i < 4; i++) await enlarged.getByTestId("zoom-in").click();
    const [r0, c0, size] = ((await canvas.getAttribute("data-window")) ?? "").split(",").map(Number) as [number, number, number];
    expect(size).toBeLessThanOrEqual(48);
    expect(await enlarged.getByTestId("query-label").count()).toBe(size);
    expect(await enlarged.getByTestId("key-label").count()).toBe(size);
    expect(await enlarged.getByTestId("attention-lines").locator("text").count()).toBe(2 * size);
    // the screenshot while zoomed in: the window's labels, a hovered cell and every pair's lines
    const zoomed = await canvas.boundingBox();
    if (zoomed !== null) await p.mouse.move(zoomed.x + zoomed.width * 0.6, zoomed.y + zoomed.height * 0.7);
    await expect.poll(() => p.getByTestId("attention-readout").innerText(), WAIT).toMatch(/^query \d+ /);
    await p.screenshot({ path: join(shots, "attention-long.png"), fullPage: true });
    // drag to scroll up and left by a quarter of the drawing, then the wheel zooms out about the pointer
    const box = await canvas.boundingBox();
    if (box === null) throw new Error("the enlarged pattern is not drawn");
    await p.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await p.mouse.down();
    await p.mouse.move(box.x + (3 * box.width) / 4, box.y + (3 * box.height) / 4, { steps: 4 });
    await p.mouse.up();
    const [r1, c1] = ((await canvas.getAttribute("data-window")) ?? "").split(",").map(Number) as [number, number];
    expect(r1).toBeLessThan(r0);
    expect(c1).toBeLessThan(c0);
    await p.mouse.wheel(0, 200);
    await expect.poll(async () => Number(((await canvas.getAttribute("data-window")) ?? "").split(",")[2]), WAIT).toBe(2 * size);
    // hover: the query and key under the pointer, inside the window, with their tokens and weight
    await p.mouse.move(box.x + box.width * 0.8, box.y + box.height * 0.9);
    const readout = await p.getByTestId("attention-readout").innerText();
    const m = /^query (\d+) “.*” → key (\d+) “.*”: ([\d.<]+%|0%)$/.exec(readout);
    if (m === null) throw new Error(`unexpected readout: ${readout}`);
    const [r2, c2, s2size] = ((await canvas.getAttribute("data-window")) ?? "").split(",").map(Number) as [
      number,
      number,
      number,
    ];
    // (±1: the box includes the canvas's border)
    expect(Math.abs(Number(m[1]) - (r2 + Math.floor(0.9 * s2size)))).toBeLessThanOrEqual(1);
    expect(Math.abs(Number(m[2]) - (c2 + Math.floor(0.8 * s2size)))).toBeLessThanOrEqual(1);
    expect(problems).toEqual([]);
  } finally {
    await ctx2.close();
    await s2.close();
  }
}
