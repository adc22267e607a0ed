// Where the store lives, what a model's content hash is, and what machine a run ran on.
import { createHash } from "node:crypto";
import { closeSync, openSync, readdirSync, readSync, statSync } from "node:fs";
import { arch, cpus, homedir, platform, totalmem } from "node:os";
import { join, resolve } from "node:path";

/** The llmdbg version recorded with each run. */
export const LLMDBG_VERSION = "0.1.0";

/**
 * The store folder: `$LLMDBG_HOME`, else `$XDG_DATA_HOME/llmdbg`, else `~/.local/share/llmdbg`.
 * @example openStore(storeHome())
 */
export function storeHome(env: Readonly<Record<string, string | undefined>> = process.env): string {
  const home = env.LLMDBG_HOME;
  if (home !== undefined && home !== "") return resolve(home);
  const xdg = env.XDG_DATA_HOME;
  if (xdg !== undefined && xdg !== "") return join(resolve(xdg), "llmdbg");
  return join(homedir(), ".local", "share", "llmdbg");
}

/** A blob's name: the sha256 of its bytes, in hex. */
export const BLOB_HASH = /^[0-9a-f]{64}$/;

export function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** sha256 of a file, read in 1 MiB pieces (a model's weights are not held in memory). */
export function hashFile(path: string): string {
  const h = createHash("sha256");
  const buf = Buffer.allocUnsafe(1 << 20);
  const fd = openSync(path, "r");
  try {
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return h.digest("hex");
}

/**
 * A model's content hash: sha256 of a `.gguf` file, or for a folder sha256 over the sorted names and sha256s
 * of its top-level files (weights, config, tokenizer), so a renamed copy hashes the same and any edit does not.
 * @example const hash = hashModel("models/tiny-gpt2")
 */
export function hashModel(path: string, fileHash: (file: string) => string = hashFile): string {
  if (!statSync(path).isDirectory()) return fileHash(path);
  const h = createHash("sha256");
  const files = readdirSync(path)
    .filter((f) => !f.startsWith(".") && statSync(join(path, f)).isFile())
    .sort();
  for (const f of files) h.update(`${f}\0${fileHash(join(path, f))}\n`);
  return h.digest("hex");
}

/** The machine, as recorded with a run. */
export function hardwareInfo(): Record<string, string | number> {
  const c = cpus();
  return {
    platform: platform(),
    arch: arch(),
    cpu: c[0]?.model ?? "unknown",
    cores: c.length,
    memoryBytes: totalmem(),
    node: process.version,
  };
}
