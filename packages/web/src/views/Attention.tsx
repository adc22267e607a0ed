// Attention: every head's pattern on the prompt as a layer × head grid of canvas thumbnails, one head enlarged on
// click (zoom and scroll with windowing, the target's query row outlined, the cell under the pointer read out),
// its token-to-token line view, rollout and flow, and the head table — entropy, first-token share and, when asked,
// the previous-token, induction, duplicate-token and copying scores.
//
// Built for 1,024 tokens: one `attention_overview` request brings the statistics, each head's pattern max-pooled
// to a 64 × 64 thumbnail and the rollout, all as sqrt8 bytes; opening a head whose thumbnail is pooled asks for
// that head alone (`attention_head`, about 1 MiB at 1,024 tokens), kept in the page for the prompt's lifetime.
// Until it arrives the enlarged view shows the thumbnail stretched. A prompt of at most 64 tokens needs no second
// request: its thumbnails are its patterns.
import type { AttentionOverviewResult } from "@llmdbg/protocol";
import { useCallback, useMemo, useRef, useState } from "react";
import { type Bytes, clampWindow, decodeSqrt8, fullWindow, sqrt8Value, type Win } from "../attn-window.js";
import { num, pct, visible } from "../format.js";
import { useReopened } from "../reopen.js";
import type { RpcClient } from "../rpc.js";
import { type HeadColumn, headRows, sortRows } from "../scores.js";
import { readPosition, type Shared } from "../state.js";
import { DownloadLink, progressText, StoredNote, useJob } from "../useJob.js";
import { HeadTable, ThumbGrid } from "./AttentionParts.js";
import { LineView, RolloutPanel } from "./Flow.js";
import { ZoomPattern } from "./ZoomPattern.js";

const LARGE = 480;
/** each head's pattern is pooled to at most this many rows and columns */
const THUMBNAIL = 64;
/** heads fetched at full size are kept for the prompt (at 1,024 tokens, 1 MiB each) up to this many */
const KEEP_HEADS = 32;

/** The enlarged head: its bytes, and whether they are the full pattern or its stretched thumbnail. */
interface Enlarged {
  readonly key: string;
  readonly m: Bytes;
  readonly full: boolean;
}

export function AttentionView({ rpc, shared }: { rpc: RpcClient; shared: Shared }) {
  const { model, prompt, target } = shared;
  const [withScores, setWithScores] = useState(true);
  const [result, setResult] = useState<{ prompt: string; r: AttentionOverviewResult } | null>(null);
  const [sel, setSel] = useState<{ li: number; hi: number }>({ li: 0, hi: 0 });
  const [hover, setHover] = useState<{ row: number; col: number } | null>(null);
  const [sort, setSort] = useState<{ key: HeadColumn; desc: boolean }>({ key: "layer", desc: false });
  const [win, setWin] = useState<Win>(fullWindow(0));
  const [heads, setHeads] = useState<ReadonlyMap<string, Bytes>>(new Map());
  const job = useJob();
  const headJob = useJob();
  const asked = useRef<string | null>(null);

  const analyze = () => {
    const text = prompt;
    setStored(null);
    job.start(
      (o) =>
        rpc.call(
          "method",
          {
            model: model.id,
            request: { kind: "attention_overview", input: { text }, scores: withScores, thumbnail: THUMBNAIL },
          },
          o,
        ),
      (r) => {
        if (r.kind !== "attention_overview") throw new Error(`expected an attention overview, got ${r.kind}`);
        setResult({ prompt: text, r });
        setHeads(new Map());
        asked.current = null;
        setSel({ li: 0, hi: 0 });
        setWin(fullWindow(r.tokens.length));
        fetchHead({ prompt: text, r }, 0, 0, new Map());
      },
    );
  };

  // a reopened overview is shown as stored (only the opened head's full pattern, never stored, is asked for again)
  const [stored, setStored] = useState<number | null>(null);
  useReopened<AttentionOverviewResult>(shared.reopened, ["attention_overview"], (s) => {
    if (typeof s.request.scores === "boolean") setWithScores(s.request.scores);
    const shown = { prompt: s.prompt ?? prompt, r: s.result };
    setResult(shown);
    setStored(s.runId);
    setHeads(new Map());
    asked.current = null;
    setSel({ li: 0, hi: 0 });
    setWin(fullWindow(s.result.tokens.length));
    fetchHead(shown, 0, 0, new Map());
  });

  const r = result?.r ?? null;
  const n = r?.tokens.length ?? 0;
  const thumbs = useMemo(() => r?.thumbnails.map((row) => row.map(decodeSqrt8)) ?? [], [r]);
  const rows = useMemo(() => (r === null ? [] : sortRows(headRows(r), sort.key, sort.desc)), [r, sort]);
  const labels = useMemo(() => r?.tokens.map((t) => visible(t.text, t.id)) ?? [], [r]);
  const layerOf = (li: number) => r?.layers[li] ?? li;
  const headOf = (hi: number) => r?.heads[hi] ?? hi;
  const headKey = `L${layerOf(sel.li)}H${headOf(sel.hi)}`;
  const markRow = target !== null && r !== null && readPosition(target) < n ? readPosition(target) : null;

  // the enlarged head: the thumbnail when it is the pattern, else the fetched pattern or, meanwhile, the thumbnail
  const thumb = thumbs[sel.li]?.[sel.hi] ?? null;
  const fetched = heads.get(headKey);
  const enlarged: Enlarged | null =
    r === null || thumb === null
      ? null
      : r.pool === 1
        ? { key: headKey, m: thumb, full: true }
        : fetched !== undefined
          ? { key: headKey, m: fetched, full: true }
          : { key: headKey, m: thumb, full: false };

  // the head's full pattern is asked for in the click itself (an effect would wait for the next frame)
  const fetchHead = (
    res: { prompt: string; r: AttentionOverviewResult },
    li: number,
    hi: number,
    have: ReadonlyMap<string, Bytes>,
  ) => {
    const layer = res.r.layers[li] ?? li;
    const head = res.r.heads[hi] ?? hi;
    const key = `L${layer}H${head}`;
    if (res.r.pool === 1 || have.has(key) || asked.current === key) return;
    asked.current = key;
    headJob.start(
      (o) =>
        rpc.call("method", { model: model.id, request: { kind: "attention_head", input: { text: res.prompt }, layer, head } }, o),
      (h) => {
        if (h.kind !== "attention_head") throw new Error(`expected one head's pattern, got ${h.kind}`);
        setHeads((prev) => {
          const next = new Map(prev);
          next.set(`L${h.layer}H${h.head}`, decodeSqrt8(h.pattern));
          while (next.size > KEEP_HEADS) next.delete(next.keys().next().value as string);
          return next;
        });
      },
    );
  };
  const latest = useRef({ result, heads, fetchHead });
  latest.current = { result, heads, fetchHead };
  /** selects a head (stable across renders, so the memoized grid and table keep their props) */
  const select = useCallback((li: number, hi: number) => {
    setSel({ li, hi });
    const { result: res, heads: have, fetchHead: fetch } = latest.current;
    if (res !== null) fetch(res, li, hi, have);
  }, []);

  // a thumbnail stands for pool × pool entries: the enlarged drawing maps the window onto its rows and columns
  const shownWin: Win =
    enlarged === null || enlarged.full || r === null
      ? win
      : clampWindow({ row0: win.row0 / r.pool, col0: win.col0 / r.pool, size: win.size / r.pool }, enlarged.m.rows);
  const value = (row: number, col: number) =>
    enlarged === null || !enlarged.full ? Number.NaN : sqrt8Value(enlarged.m.bytes[row * n + col] as number);
  const focus = hover?.row ?? markRow ?? n - 1;

  return (
    <div className="attention">
      <div className="controls">
        <button type="button" data-testid="analyze-attention" disabled={job.running} onClick={analyze}>
          Analyze attention
        </button>
        <label>
          <input type="checkbox" checked={withScores} onChange={(e) => setWithScores(e.target.checked)} /> head scores (induction,
          previous-token, copying)
        </label>
        {job.running && (
          <>
            <span className="status">{progressText(job.progress)}</span>
            <button type="button" onClick={job.stop}>
              Stop
            </button>
          </>
        )}
        {stored === null && result !== null && result.prompt !== prompt && (
          <span className="muted">(the prompt changed: analyze again)</span>
        )}
        <StoredNote run={stored} />
        <DownloadLink job={job} testId="download-attention" figure />
      </div>
      {job.error !== null && <p className="error">attention: {job.error}</p>}
      {result === null && !job.running && <p className="muted">Analyzes the workbench's prompt: “{prompt}”.</p>}
      {r !== null && (
        <div className="attn-layout">
          <div>
            <p className="muted">
              {n} tokens{r.pool > 1 ? ` · thumbnails: the maximum over ${r.pool} × ${r.pool} blocks` : ""}
            </p>
            <ThumbGrid r={r} thumbs={thumbs} sel={sel} select={select} />
          </div>
          {enlarged !== null && (
            <div
              className="enlarged"
              data-testid="attention-enlarged"
              data-head={enlarged.key}
              data-full={enlarged.full ? "yes" : "no"}
            >
              <h3>{headKey}</h3>
              <ZoomPattern
                bytes={enlarged.m.bytes}
                n={enlarged.m.rows}
                win={shownWin}
                setWin={(w) =>
                  setWin(
                    enlarged.full ? w : clampWindow({ row0: w.row0 * r.pool, col0: w.col0 * r.pool, size: w.size * r.pool }, n),
                  )
                }
                size={LARGE}
                labels={enlarged.full ? labels : []}
                markRow={enlarged.full ? markRow : null}
                onHover={setHover}
                label={`${headKey} attention pattern`}
                drawKey={`${enlarged.key}:${enlarged.full ? "full" : "thumbnail"}`}
              />
              <p className="readout" data-testid="attention-readout">
                {!enlarged.full
                  ? `loading the full pattern (${headJob.running ? progressText(headJob.progress) || "asked" : "…"})`
                  : hover === null
                    ? "rows: queries, columns: keys — point at a cell, scroll to zoom, drag to move"
                    : `query ${hover.row} “${labels[hover.row] ?? ""}” → key ${hover.col} “${labels[hover.col] ?? ""}”: ${pct(
                        value(hover.row, hover.col),
                      )}`}
              </p>
              {headJob.error !== null && (
                <p className="error">
                  {headKey}: {headJob.error}
                </p>
              )}
              <p className="muted">
                entropy {num(r.entropy[sel.li]?.[sel.hi], 2)} nats · first token{" "}
                {pct(r.firstToken[sel.li]?.[sel.hi] ?? Number.NaN)} · sinks{" "}
                {(r.sinks[sel.li]?.[sel.hi] ?? [])
                  .map((s) => `${s.position} “${labels[s.position] ?? ""}” ${pct(s.mass)}`)
                  .join(", ")}
              </p>
              {enlarged.full && <LineView bytes={enlarged.m.bytes} n={n} win={win} labels={labels} focus={focus} />}
            </div>
          )}
        </div>
      )}
      {r !== null && <RolloutPanel r={r} labels={labels} />}
      {r !== null && <HeadTable rows={rows} sel={sel} sort={sort} setSort={setSort} select={select} />}
    </div>
  );
}
