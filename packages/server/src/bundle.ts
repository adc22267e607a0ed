// A stored run as one static HTML file that opens without a server (`GET /api/runs/<id>/bundle.html`): the run's
// JSON embedded in a `<script type="application/json">` (every `<` escaped, so no text in it can close the tag),
// and one inline script that renders it with textContent alone — a header, the notes, a `run` result's tokens with
// their top predictions per position, and the request and results as JSON. The page's own CSP allows that one
// script by its hash and nothing else: no network, no other script.
import { createHash } from "node:crypto";

/** Renders the embedded run; plain DOM calls, text only. */
const RENDER = `(() => {
  const run = JSON.parse(document.getElementById("run").textContent);
  const el = (tag, text, parent) => {
    const e = document.createElement(tag);
    if (text !== undefined) e.textContent = String(text);
    (parent || document.body).appendChild(e);
    return e;
  };
  const vis = (t, id) => (t === null || t === undefined ? "#" + id : t === "" ? "∅" : t.replace(/ /g, "·").replace(/\\n/g, "↵"));
  document.title = "llmdbg run " + run.id + ": " + run.kind;
  el("h1", "run " + run.id + ": " + run.kind + " on " + (run.model ? run.model.name : "?") + " · " + run.status);
  el("p", run.createdAt + (run.timings && run.timings.wallMs !== undefined ? " · " + run.timings.wallMs + " ms" : ""));
  if (run.prompt !== null) el("blockquote", run.prompt).id = "prompt";
  if (run.notes.length > 0) {
    el("h2", "notes");
    const ul = el("ul");
    ul.id = "notes";
    for (const n of run.notes) el("li", n.text + " (" + n.createdAt + ")", ul);
  }
  for (const r of run.results) {
    const res = r.result;
    if (!res || res.kind !== "run" || !Array.isArray(res.positions)) continue;
    el("h2", "predictions");
    const table = el("table");
    table.id = "predictions";
    for (const p of res.positions) {
      const tr = el("tr", undefined, table);
      el("td", p.position, tr);
      el("td", vis(res.tokenDisplays[p.position] ?? res.tokenStrings[p.position], res.tokens[p.position]), tr);
      el("td", p.top.map((t) => vis(t.display ?? t.text, t.id) + " " + (t.prob * 100).toFixed(1) + "%").join(" · "), tr);
    }
  }
  el("h2", "request");
  el("pre", JSON.stringify(run.options, null, 2));
  el("h2", "results");
  el("pre", JSON.stringify(run.results, null, 2));
})();`;

const STYLE =
  "body{font:14px system-ui,sans-serif;margin:16px;color:#1f2328}td{padding:2px 8px;font-family:monospace}" +
  "pre{background:#f6f8fa;padding:8px;overflow:auto;max-height:480px}blockquote{white-space:pre-wrap}";

const hash = (s: string) => `'sha256-${createHash("sha256").update(s).digest("base64")}'`;

/** The run (as `GET /api/runs/<id>` gives it) as a self-contained HTML page. */
export function runBundle(run: unknown): string {
  // `<` as \u003c: the JSON stays the same value, and no `</script>` or `<!--` can appear in the element
  const json = JSON.stringify(run).replace(/</g, "\\u003c");
  const csp = `default-src 'none'; script-src ${hash(RENDER)}; style-src ${hash(STYLE)}; base-uri 'none'; form-action 'none'`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<title>llmdbg run</title>
<style>${STYLE}</style>
</head>
<body>
<script type="application/json" id="run">${json}</script>
<script>${RENDER}</script>
</body>
</html>
`;
}
