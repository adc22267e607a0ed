// `llmdbg demo`: the web UI on the zoo. It builds the UI first when `packages/web/dist` is missing or older than
// its sources (`npm run build` in packages/web, as a child process), then serves every trained zoo model — ids are
// the zoo's names, `stories` first so the UI selects it — and prints the URL with this launch's token (`--open`
// opens it with xdg-open). Ctrl-C closes it as `llmdbg serve` does.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { UsageError } from "../args.js";
import { defineFlags, flag } from "../flags.js";
import { print } from "../output.js";
import { storeFlags } from "../record.js";
import { zooDatasets } from "../zoo-datasets.js";
import type { Command } from "./command.js";
import { serveUntilStopped, storeOf } from "./serve.js";
import { zooDir } from "./zoo.js";

const flags = defineFlags({
  port: flag.int("N", "the port (default 0: any free port)", 0, 65535),
  open: flag.bool("open the URL in a browser (with xdg-open)"),
  "no-build": flag.bool("serve the web UI as it is built, without rebuilding it (or none, when it is not built)"),
  zoo: flag.text("DIR", "the zoo folder (default $LLMDBG_ZOO, else the zoo/ folder of this llmdbg checkout)"),
  ...storeFlags,
});

/** The model selected first in the UI. */
const FIRST = "stories";
const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** The web UI's package folder in this checkout (`packages/web`), when there is one. */
export function webPackage(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const web = join(dir, "packages", "web");
    if (existsSync(join(web, "package.json"))) return web;
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

/** The newest modification time of the files under `path` (a file or a folder), 0 when it does not exist. */
function newest(path: string): number {
  if (!existsSync(path)) return 0;
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let t = 0;
  for (const f of readdirSync(path)) t = Math.max(t, newest(join(path, f)));
  return t;
}

/**
 * Why the UI in `web` needs a build: its `dist/index.html` is missing, or older than a source (src/, index.html,
 * vite.config.ts, package.json); undefined when the build is current.
 * @example const why = uiStale("packages/web"); if (why !== undefined) buildUi("packages/web", why)
 */
export function uiStale(web: string): string | undefined {
  const built = join(web, "dist", "index.html");
  if (!existsSync(built)) return `${join(web, "dist")} is missing`;
  const sources = Math.max(...["src", "index.html", "vite.config.ts", "package.json"].map((f) => newest(join(web, f))));
  return sources > statSync(built).mtimeMs ? `${join(web, "dist")} is older than its sources` : undefined;
}

/** Runs the UI's own build (`npm run build` in its folder), its output on stderr; throws when it fails. */
export function buildUi(web: string, why: string): void {
  process.stderr.write(`llmdbg demo: building the web UI (${why}): npm run build in ${web}\n`);
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  const r = spawnSync(npm, ["run", "build"], { cwd: web, stdio: ["ignore", 2, 2] });
  if (r.error !== undefined)
    throw new Error(`cannot run npm to build the web UI (${r.error.message}); build it with npm run build:web`);
  if (r.status !== 0)
    throw new Error(`building the web UI failed (npm run build exited ${r.status ?? r.signal}); the output is above`);
}

/**
 * The trained zoo models in `zoo` (folders with a config.json), id → folder: the zoo's names, `stories` first,
 * the others in alphabetical order.
 */
export function zooModels(zoo: string): Record<string, string> {
  const names = existsSync(zoo) ? readdirSync(zoo).filter((n) => ID.test(n) && existsSync(join(zoo, n, "config.json"))) : [];
  names.sort((a, b) => (a === FIRST ? -1 : b === FIRST ? 1 : a < b ? -1 : a > b ? 1 : 0));
  return Object.fromEntries(names.map((n) => [n, join(zoo, n)]));
}

/** xdg-open's path, when it is on the PATH. */
function xdgOpen(): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    const p = join(dir, "xdg-open");
    if (dir !== "" && existsSync(p)) return p;
  }
  return undefined;
}

function openInBrowser(url: string): void {
  const opener = xdgOpen();
  if (opener === undefined) return void print("(no xdg-open on this machine: open the URL above in a browser)");
  const child = spawn(opener, [url], { detached: true, stdio: "ignore" });
  child.on("error", (e) => process.stderr.write(`llmdbg demo: xdg-open failed (${e.message}): open the URL yourself\n`));
  child.unref();
}

export const demoCommand: Command = {
  summary: "the web UI on the zoo models (stories first): builds the UI if needed, serves it, prints the URL",
  usage: "llmdbg demo [--port N] [--open] [--no-build] [--zoo DIR] [--store DIR | --no-store]",
  help: flags.help,
  async run(argv) {
    const { values, positionals } = flags.parse(argv);
    if (positionals.length > 0) throw new UsageError(`unexpected ${positionals.join(" ")}: llmdbg demo takes options only`);
    const zoo = zooDir(values.zoo);
    const models = zooModels(zoo);
    if (Object.keys(models).length === 0)
      throw new UsageError(`no trained models in ${zoo} (a folder with a config.json each; llmdbg zoo train ${FIRST})`);
    const web = webPackage();
    if (web === undefined) throw new Error("no packages/web in this llmdbg installation: the web UI cannot be served");
    const why = uiStale(web);
    if (why !== undefined && !values["no-build"]) buildUi(web, why);
    const built = existsSync(join(web, "dist", "index.html"));
    const store = storeOf(values);
    return serveUntilStopped(
      "demo",
      {
        models,
        // held-out sets generated from the zoo's own generators (the Datasets view)
        datasets: zooDatasets(models),
        ...(values.port !== undefined && { port: values.port }),
        ...(built && { staticDir: join(web, "dist") }),
        ...(store !== undefined && { store }),
        warn: (m) => process.stderr.write(`${m}\n`),
      },
      (server) => {
        if (values.open) openInBrowser(server.url);
      },
    );
  },
};
