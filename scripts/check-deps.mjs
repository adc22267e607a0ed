// Checks ARCHITECTURE §2: a package may import only packages above it in this order, and packages below
// `server` never import node networking modules.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

/**
 * Every module specifier `src` imports: static imports with or without bindings (`import "node:net"` included),
 * re-exports, dynamic `import("x")` and `require("x")`. Comments are not stripped, so a specifier quoted inside
 * a comment in one of these forms counts too: a false alarm is better than a missed import.
 */
export function importsOf(src) {
  const forms = [
    /\bimport\s*(?:type\s+)?(?:[\w*{}\s,$]+?\s*from\s*)?["']([^"']+)["']/g, // import x from "m"; import "m"; import type { T } from "m"
    /\bexport\s*(?:type\s+)?(?:\*(?:\s+as\s+\w+)?|\{[^}]*\})\s*from\s*["']([^"']+)["']/g, // export * from "m"; export { a } from "m"
    /\bimport\s*\(\s*["']([^"']+)["']\s*\)/g, // import("m")
    /\brequire\s*\(\s*["']([^"']+)["']\s*\)/g, // require("m")
  ];
  return [...new Set(forms.flatMap((re) => [...src.matchAll(re)].map((m) => m[1])))];
}

const order = ["tensor", "protocol", "core", "models", "methods", "analysis", "train", "store", "server", "cli", "web"];
const netNames = ["net", "http", "https", "http2", "dgram", "tls"];
const netModules = new Set([...netNames, ...netNames.map((n) => `node:${n}`)]);

function files(dir) {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (f === "node_modules" || f === "dist") return [];
    return statSync(p).isDirectory() ? files(p) : /\.(ts|tsx|mts|mjs|js|cjs)$/.test(f) ? [p] : [];
  });
}

/** The violations in the packages folder `root` (one message each). */
export function checkDeps(root) {
  const errors = [];
  for (const pkg of readdirSync(root)) {
    const rank = order.indexOf(pkg);
    if (rank < 0) {
      errors.push(`packages/${pkg}: not in the package order of ARCHITECTURE §2 (${order.join(" < ")})`);
      continue;
    }
    for (const file of files(join(root, pkg))) {
      const src = readFileSync(file, "utf8");
      for (const spec of importsOf(src)) {
        const dep = /^@llmdbg\/([^/]+)/.exec(spec)?.[1];
        if (dep !== undefined && dep !== pkg) {
          const r = order.indexOf(dep);
          if (r < 0 || r > rank) errors.push(`${file.slice(root.length)}: imports @llmdbg/${dep}, which is not above ${pkg}`);
        }
        if (rank < order.indexOf("server") && netModules.has(spec)) {
          errors.push(`${file.slice(root.length)}: imports ${spec}; only server and above may use networking`);
        }
      }
    }
  }
  return errors;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const root = new URL("../packages/", import.meta.url).pathname;
  const errors = checkDeps(root);
  if (errors.length > 0) {
    console.error(errors.join("\n"));
    process.exit(1);
  }
  console.log(`dependency direction ok (${readdirSync(root).length} packages)`);
}
