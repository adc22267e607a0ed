// The Projector's browser step (called from e2e.test.ts, on `stories`): 20 labelled lines pasted and projected by
// PCA (the canvas inked, a hovered point's tooltip), a lasso drawn by mouse drags, a probe trained on it, its
// direction added to the workbench prompt (at coefficient 0 the predictions are unchanged), coloured by the
// model's prediction, the same dataset by UMAP, and a dataset the server holds loaded into the box.
import { join } from "node:path";
import type { Page } from "playwright-core";
import { expect } from "vitest";

export async function projectorStep(page: Page, o: { readonly shots: string; readonly wait: { readonly timeout: number } }) {
  const WAIT = o.wait;
  const shots = o.shots;
  await page.getByTestId("tab-projector").click();
  // 20 short lines, two labels
  const happy = [
    "Lily was happy and she smiled",
    "Tom laughed and played with his ball",
    "The sun was warm and the girl was glad",
    "Mom gave Ben a big hug and he felt good",
    "The bird sang a happy song in the tree",
    "Sue found a pretty flower and danced",
    "They ate cake and had fun at the park",
    "The puppy wagged its tail with joy",
    "Max won the race and cheered",
    "Anna loved her new red dress",
  ];
  const sad = [
    "Lily was sad and she cried",
    "Tom was scared of the dark",
    "The dog was lost and the boy was sad",
    "Ben broke his toy and felt bad",
    "The bird was hurt and could not fly",
    "Sue lost her doll and wept",
    "It rained all day and they were bored",
    "The cat was sick and very tired",
    "Max fell down and hurt his knee",
    "Anna missed her mom and was lonely",
  ];
  const lines = [...happy.map((text) => ({ text, label: "happy" })), ...sad.map((text) => ({ text, label: "sad" }))].map((o) =>
    JSON.stringify(o),
  );
  await page.getByTestId("projector-data").fill(lines.join("\n"));
  await page.getByTestId("projector-hook").selectOption("blocks.1.hook_resid_post");
  await page.getByTestId("run-projector").click();
  await page.locator('[data-testid="projector-summary"], .projector .error').first().waitFor(WAIT);
  expect(await page.locator(".projector .error").allInnerTexts()).toEqual([]);
  expect(await page.getByTestId("projector-summary").innerText()).toMatch(
    /^\d+ points · blocks\.1\.hook_resid_post \(d = \d+\) · PCA · explained variance PC1 [\d.]+%, PC2 [\d.]+%$/,
  );
  expect(await page.getByTestId("projector-legend").innerText()).toMatch(/happy[\s\S]*sad/);
  const canvas = page.getByTestId("projector-canvas");
  // the plot has ink: pixels other than the white background
  const inked = await canvas.evaluate((c: HTMLCanvasElement) => {
    const d = (c.getContext("2d") as CanvasRenderingContext2D).getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i] !== 255 || d[i + 1] !== 255 || d[i + 2] !== 255) n++;
    return n;
  });
  expect(inked).toBeGreaterThan(100);
  const box = (await canvas.boundingBox()) as { x: number; y: number; width: number; height: number };
  // hovering near a point shows its token in a tooltip (the pointer sweeps the plot until one is under it)
  let tip = false;
  for (let y = 20; y < box.height && !tip; y += 16)
    for (let x = 20; x < box.width && !tip; x += 16) {
      await page.mouse.move(box.x + x, box.y + y);
      tip = await page.getByTestId("projector-tip").isVisible();
    }
  expect(tip).toBe(true);
  expect(await page.getByTestId("projector-tip").innerText()).toMatch(/example \d+, position \d+/);
  // a lasso around the left half of the plot (PCA centres the points, so some fall on each side)
  await page.getByTestId("projector-tool").click();
  const corners = [
    [4, 4],
    [box.width / 2, 4],
    [box.width / 2, box.height - 4],
    [4, box.height - 4],
  ] as const;
  await page.mouse.move(box.x + corners[0][0], box.y + corners[0][1]);
  await page.mouse.down();
  for (const [x, y] of corners.slice(1)) await page.mouse.move(box.x + x, box.y + y, { steps: 8 });
  await page.mouse.up();
  await expect.poll(() => page.getByTestId("projector-selected").innerText(), WAIT).toMatch(/^\d+ of \d+ points selected$/);
  await page.getByTestId("projector-probe").click();
  await page.locator('[data-testid="projector-accuracy"], .projector-side .error').first().waitFor(WAIT);
  expect(await page.locator(".projector-side .error").allInnerTexts()).toEqual([]);
  expect(await page.getByTestId("projector-accuracy").innerText()).toMatch(
    /^accuracy: train [\d.]+%, validation [\d.]+% \(\d+ inside, \d+ outside\) · gap along the direction [\d.-]+$/,
  );
  // the direction added to the workbench prompt: the next-token predictions without and with it
  await page.getByTestId("projector-coeff").fill("3");
  await page.getByTestId("projector-apply").click();
  const steered = page.getByTestId("projector-steered");
  await steered.filter({ hasText: "+ " }).waitFor(WAIT);
  expect(await steered.locator("tbody tr").count()).toBe(5);
  await page.screenshot({ path: join(shots, "projector.png"), fullPage: true });
  // at coefficient 0 the vector adds nothing: both columns agree
  await page.getByTestId("projector-coeff").fill("0");
  await steered.filter({ hasText: /\+ 0\.00 ×/ }).waitFor(WAIT);
  const rows = await steered
    .locator("tbody tr")
    .evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent)));
  for (const r of rows) expect([r[2], r[3]]).toEqual([r[0], r[1]]);
  // coloured by the model's top prediction: the legend names tokens
  await page.getByTestId("projector-color").selectOption("prediction");
  expect(await page.getByTestId("projector-legend").innerText()).toMatch(/^\s*"[^"\n]*" \d+\n/);
  // the same dataset by UMAP (umap-js on the server)
  await page.getByTestId("projector-method").selectOption("umap");
  await page.getByTestId("run-projector").click();
  await page.getByTestId("projector-summary").filter({ hasText: "UMAP" }).waitFor(WAIT);
  expect(await page.getByTestId("projector-summary").innerText()).toMatch(
    /^\d+ points · blocks\.1\.hook_resid_post \(d = \d+\) · UMAP · 15 neighbours, min dist 0\.1, seed 0, \d+ epochs$/,
  );
  // a dataset the server holds loads into the box (its examples then go inline like pasted ones)
  const status = await page.evaluate(async () => {
    const body =
      '{"text": "Lily had a red ball", "label": "toy"}\n{"text": "Tom ate an apple", "label": "food"}\n{"text": "The end"}\n';
    const res = await fetch("/api/datasets?name=projector-mini", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/x-ndjson" },
      body,
    });
    return res.status;
  });
  expect(status).toBe(201);
  const served = page.getByTestId("projector-served");
  await served.focus();
  const option = served.locator("option", { hasText: "projector-mini" });
  await option.waitFor({ state: "attached", ...WAIT });
  await served.selectOption((await option.getAttribute("value")) as string);
  await page.getByTestId("projector-load").click();
  await expect
    .poll(() => page.getByTestId("projector-data").inputValue(), WAIT)
    .toBe('{"text":"Lily had a red ball","label":"toy"}\n{"text":"Tom ate an apple","label":"food"}\n{"text":"The end"}');
}
