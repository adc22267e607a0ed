// `llmdbg serve`: the local server (@llmdbg/server) over the models named on the command line, or the zoo's
// stories model, recording every finished job in the run store (`--no-store` to skip). It prints the launch URL
// with its per-launch token and runs until Ctrl-C (or SIGTERM), which closes it: open connections, queued and
// running jobs, worker threads, the store.
import { existsSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type RunningServer, type ServerOptions, startServer } from "@llmdbg/server";
import { storeHome } from "@llmdbg/store";
import { UsageError } from "../args.js";
import { defineFlags, flag } from "../flags.js";
import { print } from "../output.js";
import { type StoreValues, storeFlags } from "../record.js";
import type { Command } from "./command.js";
import { zooDir } from "./zoo.js";

const flags = defineFlags({
  model: flag.list(
    "[ID=]PATH",
    "a model folder or .gguf file, as often as needed; its id is the file name unless ID= is given (default: zoo/stories)",
  ),
  dataset: flag.list(
    "[ID=]PATH",
    'a JSONL dataset (one {"text", "label"?, "target"?, …} per line), as often as needed; its id is the file name unless ID= is given',
  ),
  port: flag.int("N", "the port (default 0: any free port)", 0, 65535),
  host: flag.text("H", "the address to bind (default 127.0.0.1); another needs --allow-remote"),
  "allow-remote": flag.bool("bind an address other than loopback (anyone who gets the token can use the server)"),
  static: flag.text("DIR", "serve the web UI's built files from this folder (default: packages/web/dist once built)"),
  "allow-unread": flag.bool("load checkpoints even if they store tensors the architecture does not read"),
  ...storeFlags,
});

/** The built web UI of this checkout (`packages/web/dist`), when it has been built. */
export function builtUi(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const dist = join(dir, "packages", "web", "dist");
    if (existsSync(join(dist, "index.html"))) return dist;
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** `--model` values → id → path; an id is the file's name (without .gguf), made unique with -2, -3, … */
export function modelTable(values: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const eq = v.indexOf("=");
    const given = eq > 0 && ID.test(v.slice(0, eq)) ? v.slice(0, eq) : undefined;
    const path = given === undefined ? v : v.slice(eq + 1);
    if (!existsSync(path)) throw new UsageError(`--model ${v}: ${path} does not exist`);
    if (given !== undefined && Object.hasOwn(out, given)) throw new UsageError(`--model ${v}: the id ${given} is taken`);
    const base =
      given ??
      (basename(resolve(path))
        .replace(/\.gguf$/i, "")
        .replace(/[^A-Za-z0-9._-]/g, "-")
        .replace(/^[^A-Za-z0-9]+/, "")
        .slice(0, 60) ||
        "model");
    let id = base;
    for (let i = 2; Object.hasOwn(out, id); i++) id = `${base}-${i}`;
    out[id] = path;
  }
  return out;
}

/** `--dataset` values → id → path; an id is the file's name without its extension, made unique with -2, -3, … */
export function datasetTable(values: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const eq = v.indexOf("=");
    const given = eq > 0 && ID.test(v.slice(0, eq)) ? v.slice(0, eq) : undefined;
    const path = given === undefined ? v : v.slice(eq + 1);
    if (!existsSync(path)) throw new UsageError(`--dataset ${v}: ${path} does not exist`);
    if (given !== undefined && Object.hasOwn(out, given)) throw new UsageError(`--dataset ${v}: the id ${given} is taken`);
    const base =
      given ??
      (basename(resolve(path))
        .replace(/\.(jsonl|ndjson|json)$/i, "")
        .replace(/[^A-Za-z0-9._-]/g, "-")
        .replace(/^[^A-Za-z0-9]+/, "")
        .slice(0, 60) ||
        "dataset");
    let id = base;
    for (let i = 2; Object.hasOwn(out, id); i++) id = `${base}-${i}`;
    out[id] = path;
  }
  return out;
}

/** The store folder the server records into: `--store DIR`, else $LLMDBG_HOME's; none with `--no-store`. */
export function storeOf(values: StoreValues): string | undefined {
  return values["no-store"] ? undefined : resolve(values.store ?? storeHome());
}

/**
 * Starts the server, prints its URL and where it records, and runs until SIGINT or SIGTERM, then closes it.
 * `ready` runs once it listens (`llmdbg demo --open` opens the browser there).
 */
export async function serveUntilStopped(
  name: string,
  opts: ServerOptions,
  ready?: (server: RunningServer) => void,
): Promise<number> {
  // warm: the page a user opens first should not wait for a cold thread's first forward pass
  const server = await startServer({ warmUp: true, ...opts });
  print(`llmdbg ${name}: ${server.models.map((m) => m.id).join(", ")}`);
  const datasets = Object.keys(opts.datasets ?? {});
  if (datasets.length > 0) print(`datasets: ${datasets.join(", ")}`);
  print(`open ${server.url}${opts.staticDir === undefined ? "   (the web UI is not built: npm run build -w @llmdbg/web)" : ""}`);
  print("(the token in the URL is this launch's password; Ctrl-C stops the server)");
  print(
    typeof opts.store === "string"
      ? `runs are recorded in ${opts.store} (llmdbg runs list; --no-store to skip)`
      : "runs are not recorded (--no-store)",
  );
  ready?.(server);
  await new Promise<void>((done) => {
    const stop = () => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      done();
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
  await server.close();
  process.stderr.write(`llmdbg ${name}: stopped\n`);
  return 0;
}

export const serveCommand: Command = {
  summary: "the local server: the models over a token-guarded HTTP + WebSocket API (and the web UI with --static)",
  usage:
    "llmdbg serve [--model [ID=]PATH ...] [--dataset [ID=]PATH ...] [--port N] [--host H --allow-remote] [--static DIR] [--store DIR | --no-store]",
  help: flags.help,
  async run(argv) {
    const { values, positionals } = flags.parse(argv);
    if (positionals.length > 0)
      throw new UsageError(`unexpected ${positionals.join(" ")}: name models with --model PATH (as often as needed)`);
    const host = values.host ?? "127.0.0.1";
    if (!["127.0.0.1", "localhost", "::1"].includes(host) && !values["allow-remote"])
      throw new UsageError(`--host ${host} is reachable from other machines; add --allow-remote if that is what you want`);
    if (values["allow-remote"] && values.host === undefined) throw new UsageError("--allow-remote goes with --host H");
    if (values.static !== undefined && !existsSync(values.static))
      throw new UsageError(`--static ${values.static}: the folder does not exist`);
    const models = modelTable(values.model.length > 0 ? values.model : [`stories=${join(zooDir(undefined), "stories")}`]);
    const datasets = datasetTable(values.dataset);
    const staticDir = values.static ?? builtUi();
    const store = storeOf(values);
    return serveUntilStopped("serve", {
      models,
      datasets,
      host,
      ...(values.port !== undefined && { port: values.port }),
      allowHost: values["allow-remote"],
      ...(staticDir !== undefined && { staticDir }),
      allowUnread: values["allow-unread"],
      ...(store !== undefined && { store }),
      warn: (m) => process.stderr.write(`${m}\n`),
    });
  },
};
