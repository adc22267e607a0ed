#!/usr/bin/env node
// The `llmdbg` executable. It runs the bundle that `npm ci` builds (packages/cli/dist/main.mjs, see
// scripts/build-cli.mjs) while that is newer than every source file, and the TypeScript sources through tsx
// otherwise (a fresh edit, or no build), so it never runs stale code.
//
// Large tensors are allocated and freed at a high rate; glibc's default thresholds serve them from the heap
// and trim it after every free, which doubles their cost (see the root package.json "bench" script). The
// thresholds are read once, when the process starts, so they cannot be set from inside: the shim starts
// itself again with them set, unless the user already chose their own.
import { spawnSync } from "node:child_process";
import { statSync } from "node:fs";
import { fileURLToPath } from "node:url";

const TUNING = {
  MALLOC_MMAP_THRESHOLD_: "33554432",
  MALLOC_TRIM_THRESHOLD_: "1073741824",
  MALLOC_TOP_PAD_: "67108864",
};

if (process.platform === "linux" && process.env.MALLOC_MMAP_THRESHOLD_ === undefined) {
  const self = fileURLToPath(import.meta.url);
  const r = spawnSync(process.execPath, [...process.execArgv, self, ...process.argv.slice(2)], {
    stdio: "inherit",
    env: { ...process.env, ...TUNING },
  });
  if (r.error === undefined) {
    // die of the same signal as the child, so a shell sees e.g. 130 after Ctrl-C
    if (r.signal !== null) process.kill(process.pid, r.signal);
    process.exit(r.status ?? 1);
  }
  // the re-exec failed (no spawn permission, …): run untuned rather than not at all
}

const bundle = new URL("../dist/main.mjs", import.meta.url);
let entry;
try {
  const { newestSource } = await import("../../../scripts/build-cli.mjs");
  if (statSync(bundle).mtimeMs > newestSource()) entry = await import(bundle.href);
} catch {
  // no bundle (or no build script beside the package): the sources
}
if (entry === undefined) {
  const { register } = await import("tsx/esm/api");
  register();
  entry = await import("../src/main.ts");
}
process.exitCode = await entry.main(process.argv.slice(2));
