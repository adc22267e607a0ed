// Results drawn as figures to download: each kind's heatmap (what its rows, columns and values are), the PNG's
// pixels decoded back to the cells' colours, the SVG's labels escaped, the size caps; and the routes —
// `/api/runs/<id>/figure.svg|png` for a stored run and `/api/jobs/<job>/figure.svg|png` for a kept result — behind
// the token, 404 for a kind without a figure.

import { join } from "node:path";
import { inflateSync } from "node:zlib";
import type { RpcReply } from "@llmdbg/protocol";
import { openStore, type Store } from "@llmdbg/store";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { colour, extent, type Figure, figureFile, figureOf, MAX_SVG_CELLS, renderPng, renderSvg } from "../src/figures.js";
import type { RunningServer } from "../src/index.js";
import { bearer, Client, final, http, serve, tinyFolder } from "./helpers.js";

const tok = (id: number, text: string) => ({ id, text });

/** The PNG's width, height and RGB rows (filter type 0 on every row, as renderPng writes them). */
function decodePng(png: Buffer): { width: number; height: number; pixel: (x: number, y: number) => number[] } {
  expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  let off = 8;
  let width = 0;
  let height = 0;
  const idat: Buffer[] = [];
  while (off < png.length) {
    const len = png.readUInt32BE(off);
    const type = png.toString("ascii", off + 4, off + 8);
    const data = png.subarray(off + 8, off + 8 + len);
    if (type === "IHDR") {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      expect([data[8], data[9]]).toEqual([8, 2]);
    }
    if (type === "IDAT") idat.push(data);
    off += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  expect(raw.length).toBe(height * (1 + 3 * width));
  const pixel = (x: number, y: number) => {
    const o = y * (1 + 3 * width) + 1 + 3 * x;
    return [raw[o] as number, raw[o + 1] as number, raw[o + 2] as number];
  };
  return { width, height, pixel };
}

describe("figures of results", () => {
  it("reads a lens result as stream × position of the target's probability", () => {
    const f = figureOf("lens", {
      kind: "lens",
      tokens: [tok(1, "a"), tok(2, " b")],
      layers: ["blocks.0.hook_resid_pre", "blocks.0.hook_resid_post"],
      positions: [0, 1],
      cells: [
        [
          { top: [], target: { prob: 0.25 } },
          { top: [], target: { prob: 0.5 } },
        ],
        [
          { top: [], target: { prob: 0.75 } },
          { top: [], target: null },
        ],
      ],
      target: tok(9, " c"),
    });
    expect(f).toEqual({
      title: 'logit lens: P(" c")',
      rows: ["blocks.0.hook_resid_pre", "blocks.0.hook_resid_post"],
      cols: ["0 a", "1  b"],
      values: [
        [0.25, 0.5],
        [0.75, null],
      ],
      scale: "sequential",
    });
  });

  it("lays DLA components and ablation effects out by layer and head, in head order", () => {
    const dla = figureOf("dla", {
      kind: "dla",
      target: tok(3, "x"),
      components: [
        { name: "embed", kind: "embed", layer: null, head: null, value: 1 },
        { name: "L0H0", kind: "head", layer: 0, head: 0, value: 0.5 },
        { name: "L0H1", kind: "head", layer: 0, head: 1, value: -0.5 },
        { name: "L0 mlp", kind: "mlp", layer: 0, head: null, value: 2 },
        { name: "L1H1", kind: "head", layer: 1, head: 1, value: 3 },
      ],
    });
    expect(dla?.rows).toEqual(["L0", "L1"]);
    expect(dla?.cols).toEqual(["H0", "H1", "mlp"]);
    expect(dla?.values).toEqual([
      [0.5, -0.5, 2],
      [null, 3, null],
    ]);
    const abl = figureOf("ablate", {
      kind: "ablate",
      ablation: "zero",
      metric: "logprob",
      effects: [
        { name: "L1H1", layer: 1, index: 1, kind: "head", effect: -4 },
        { name: "L0H0", layer: 0, index: 0, kind: "head", effect: 1 },
        { name: "L0H1", layer: 0, index: 1, kind: "head", effect: 2 },
        { name: "L1H0", layer: 1, index: 0, kind: "head", effect: 0 },
      ],
    });
    expect(abl?.cols).toEqual(["H0", "H1"]);
    expect(abl?.values).toEqual([
      [1, 2],
      [0, -4],
    ]);
    expect(abl?.scale).toBe("diverging");
  });

  it("decodes an attention overview's quantized rollout (sqrt8: (b / 255)²)", () => {
    const bytes = Uint8Array.of(255, 0, 128, 51);
    const f = figureOf("attention_overview", {
      kind: "attention_overview",
      tokens: [tok(1, "a"), tok(2, "b")],
      rollout: { rows: 2, cols: 2, encoding: "sqrt8", data: Buffer.from(bytes).toString("base64") },
    });
    expect(f?.rows).toEqual(["0 a", "1 b"]);
    expect(f?.values).toEqual([
      [1, 0],
      [(128 / 255) ** 2, (51 / 255) ** 2],
    ]);
    const bad = { rows: 2, cols: 3, encoding: "sqrt8", data: Buffer.from(bytes).toString("base64") };
    expect(figureOf("attention_overview", { kind: "attention_overview", tokens: [], rollout: bad })).toBeUndefined();
  });

  it("has none for kinds without a heatmap or results without cells", () => {
    expect(figureOf("run", { kind: "run" })).toBeUndefined();
    expect(figureOf("probe", { kind: "probe" })).toBeUndefined();
    expect(figureOf("lens", { kind: "lens", layers: [], positions: [], cells: [] })).toBeUndefined();
    expect(figureOf("patch", { kind: "patch", rows: ["L0"], cols: ["0"], values: null, attribution: null })).toBeUndefined();
    expect(figureFile("run", { kind: "run" }, "svg")).toMatchObject({ status: 404 });
  });

  const f: Figure = {
    title: "t <b>&",
    rows: ["r0", "r1"],
    cols: ["c0", "</text><script>x()</script>", "c2"],
    values: [
      [-1, 0, 2],
      [null, 1, -2],
    ],
    scale: "diverging",
  };

  it("draws the PNG's cells in the scale's colours, a square of pixels each", () => {
    const png = decodePng(renderPng(f));
    expect(png.width % 3).toBe(0);
    const px = png.width / 3;
    expect(png.height).toBe(2 * px);
    const max = extent(f);
    expect(max).toBe(2);
    for (let r = 0; r < 2; r++)
      for (let c = 0; c < 3; c++) {
        const want = colour(f.values[r]?.[c] ?? null, "diverging", max);
        expect(png.pixel(c * px, r * px)).toEqual(want);
        expect(png.pixel(c * px + px - 1, r * px + px - 1)).toEqual(want);
      }
    // the ends of the scale and the missing cell
    expect(colour(2, "diverging", 2)).toEqual([255, 55, 55]);
    expect(colour(-2, "diverging", 2)).toEqual([55, 55, 255]);
    expect(colour(0, "diverging", 2)).toEqual([255, 255, 255]);
    expect(colour(null, "diverging", 2)).toEqual([200, 200, 200]);
  });

  it("writes every label into the SVG as text, markup escaped", () => {
    const svg = renderSvg(f);
    expect(svg.startsWith("<svg ")).toBe(true);
    expect(svg).not.toContain("<script");
    expect(svg).not.toContain("<b>");
    expect(svg).toContain("&lt;/text&gt;&lt;script&gt;x()&lt;/script&gt;");
    expect(svg).toContain("t &lt;b&gt;&amp;");
    expect(svg.match(/<rect x=/g)).toHaveLength(6);
    expect(svg).toContain("<title>r1 · c0: n/a</title>");
  });

  it("refuses an SVG over its cell cap and names the PNG", () => {
    const n = Math.ceil(Math.sqrt(MAX_SVG_CELLS)) + 1;
    const big = figureOf("attention", {
      kind: "attention",
      tokens: Array.from({ length: n }, (_, i) => tok(i, "x")),
      rollout: Array.from({ length: n }, () => new Array(n).fill(0.5)),
    });
    expect(big).toBeDefined();
    const r = figureFile(
      "attention",
      { kind: "attention", tokens: big?.cols.map((_, i) => tok(i, "x")), rollout: big?.values },
      "svg",
    );
    expect(r).toMatchObject({ status: 413 });
    expect("error" in r && r.error).toContain("figure.png");
  });
});

describe("figure downloads", () => {
  const tiny = tinyFolder();
  const storeDir = join(tiny.dir, "store");
  let s: RunningServer;
  let c: Client;
  let store: Store;
  beforeAll(async () => {
    s = await serve(tiny.model, { store: storeDir });
    c = await Client.open(s);
    store = openStore(storeDir);
  });
  afterAll(async () => {
    c?.close();
    await s?.close();
    store?.close();
    tiny.cleanup();
  });

  const resultOf = (rs: RpcReply[]) => {
    const r = final(rs);
    if (r.kind !== "result" || r.job === undefined) throw new Error(JSON.stringify(r));
    return { result: r.result, job: r.job };
  };
  async function storedRun(uid: string): Promise<number> {
    for (let i = 0; i < 200; i++) {
      const run = store.listRuns().find((r) => r.uid === uid);
      if (run !== undefined) return run.id;
      await new Promise((ok) => setTimeout(ok, 10));
    }
    throw new Error(`run ${uid} was not recorded`);
  }

  it("draws a lens job and its stored run alike, as SVG and PNG, behind the token", async () => {
    const { result, job } = resultOf(
      await c.call("l", "method", {
        model: "tiny",
        request: { kind: "lens", input: { ids: [3, 17, 42, 5] }, target: 7, topK: 1 },
      }),
    );
    const want = figureOf("lens", result);
    expect(want?.values.length).toBeGreaterThan(1);
    const id = await storedRun(job);
    for (const base of [`/api/jobs/${job}`, `/api/runs/${id}`]) {
      const svg = await http(s.port, `${base}/figure.svg`, { headers: bearer(s) });
      expect(svg.status).toBe(200);
      expect(svg.headers["content-type"]).toBe("image/svg+xml");
      expect(svg.headers["content-disposition"]).toMatch(/^attachment; filename=".*\.svg"$/);
      expect(svg.body).toBe(renderSvg(want as Figure));
      const png = await http(s.port, `${base}/figure.png`, { headers: bearer(s) });
      expect(png.status).toBe(200);
      expect(png.headers["content-type"]).toBe("image/png");
      expect(png.raw.equals(renderPng(want as Figure))).toBe(true);
      expect((await http(s.port, `${base}/figure.png`)).status).toBe(401);
      expect((await http(s.port, `${base}/figure.gif`, { headers: bearer(s) })).status).toBe(404);
    }
  });

  it("answers 404 for a run kind without a figure", async () => {
    const { job } = resultOf(await c.call("r", "run", { model: "tiny", input: { ids: [3, 17] }, topK: 2 }));
    const id = await storedRun(job);
    const r = await http(s.port, `/api/runs/${id}/figure.svg`, { headers: bearer(s) });
    expect(r.status).toBe(404);
    expect(r.body).toContain("has no figure");
    expect((await http(s.port, `/api/jobs/${job}/figure.png`, { headers: bearer(s) })).status).toBe(404);
  });
});
