// Reading the small input files several commands take: text files of one example per line, and vector files
// (a probe's export, any safetensors file of 1-D tensors, or a JSON array). An unreadable file named on the
// command line is a usage error (exit 2); a readable one with bad content names the file (exit 1).
import { existsSync, readFileSync } from "node:fs";
import { basename, dirname, resolve } from "node:path";
import { readSafetensors } from "@llmdbg/formats";
import { UsageError } from "./args.js";

/** A file's non-empty lines. */
export function readTextLines(file: string, flagName: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new UsageError(`--${flagName} ${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? e})`);
  }
  return text.split("\n").filter((l) => l.trim() !== "");
}

/** Refuses `--flag PATH` whose folder does not exist, before any work is done. */
export function checkOutputFolder(path: string, flagName: string): void {
  if (!existsSync(dirname(resolve(path))))
    throw new UsageError(`--${flagName} ${path}: the folder ${dirname(resolve(path))} does not exist`);
}

/** A named vector read from a file, e.g. a probe's `direction.positive`. */
export interface NamedVector {
  readonly name: string;
  readonly values: number[];
}

/**
 * The vectors of `FILE[:NAME]` and the hook a probe's export names (`format: llmdbg.steering`): a JSON array (one
 * vector, named after the file), or a safetensors file's 1-D tensor NAME (or direction.NAME, as probe labels are
 * stored), or without NAME every tensor in it.
 */
export function readVectors(spec: string, flagName: string): { vectors: NamedVector[]; hook: string | undefined } {
  const at = spec.lastIndexOf(":");
  const [file, name] =
    at > 0 && !spec.endsWith(".json") && !spec.endsWith(".safetensors")
      ? [spec.slice(0, at), spec.slice(at + 1)]
      : [spec, undefined];
  if (!existsSync(file)) throw new UsageError(`--${flagName} ${spec}: ${file} does not exist`);
  if (file.endsWith(".json")) {
    let v: unknown;
    try {
      v = JSON.parse(readFileSync(file, "utf8"));
    } catch (e) {
      throw new Error(`${file}: ${(e as Error).message}`);
    }
    if (!Array.isArray(v) || !v.every((x) => typeof x === "number")) throw new Error(`${file}: expected a JSON array of numbers`);
    return { vectors: [{ name: basename(file, ".json"), values: v as number[] }], hook: undefined };
  }
  const st = readSafetensors(file);
  const names = st.entries.map((e) => e.name);
  const picked =
    name === undefined ? names : names.includes(name) ? [name] : names.includes(`direction.${name}`) ? [`direction.${name}`] : [];
  if (picked.length === 0)
    throw new UsageError(`--${flagName} ${spec}: name one of its tensors after a colon (${names.slice(0, 8).join(", ")})`);
  const vectors = picked.map((n) => {
    const t = st.load(n);
    if (t.rank !== 1) throw new Error(`${file}: ${n}: expected a 1-D tensor, got shape [${t.shape.join(", ")}]`);
    return { name: n, values: t.toArray() as number[] };
  });
  return { vectors, hook: st.metadata.format === "llmdbg.steering" ? st.metadata.hook : undefined };
}
