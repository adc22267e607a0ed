// Bundles the `llmdbg` command into packages/cli/dist/main.mjs (run by `npm ci` through the root "prepare"
// script), so the bin starts plain JavaScript instead of compiling TypeScript through tsx on every call. The bin
// uses the bundle only while it is newer than every source file it was built from (`sourcesNewerThan`), so an
// edit without a rebuild runs the sources, never stale code.
import { copyFileSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const repo = new URL("..", import.meta.url).pathname;
const dist = join(repo, "packages/cli/dist");

/** The newest modification time among the packages' sources (what the bundle is built from). */
export function newestSource(root = repo) {
  let newest = 0;
  const walk = (dir) => {
    for (const f of readdirSync(dir)) {
      const p = join(dir, f);
      const s = statSync(p);
      if (s.isDirectory()) walk(p);
      else if (/\.(ts|mjs|js|json)$/.test(f)) newest = Math.max(newest, s.mtimeMs);
    }
  };
  for (const pkg of readdirSync(join(root, "packages"))) {
    const src = join(root, "packages", pkg, "src");
    try {
      walk(src);
    } catch {
      // a package without sources
    }
  }
  return newest;
}

export async function build() {
  const { build: esbuild } = await import("esbuild");
  mkdirSync(dist, { recursive: true });
  await esbuild({
    // the server's worker threads start from a bundle of their own beside main.mjs (packages/server/src/lane.ts)
    entryPoints: { main: join(repo, "packages/cli/src/main.ts"), "server-worker": join(repo, "packages/server/src/worker.ts") },
    outdir: dist,
    outExtension: { ".js": ".mjs" },
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    conditions: ["node"],
    // the native addons, and packages that load files relative to themselves, stay in node_modules
    external: ["onnxruntime-node", "better-sqlite3"],
    // ESM output with CommonJS dependencies inside: give them a require
    banner: {
      js: 'import { createRequire as __llmdbgRequire } from "node:module"; const require = __llmdbgRequire(import.meta.url);',
    },
    logLevel: "warning",
  });
  // the ort backend starts its worker from a file beside itself
  copyFileSync(join(repo, "packages/tensor/src/ort/worker.mjs"), join(dist, "worker.mjs"));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const t0 = performance.now();
  await build();
  console.log(`built packages/cli/dist/main.mjs in ${(performance.now() - t0).toFixed(0)} ms`);
}
