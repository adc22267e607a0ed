// Checks ARCHITECTURE §2: a package may import only packages above it in this order, and packages below
// `server` never import node networking modules.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

const order = ["tensor", "protocol", "core", "models", "methods", "analysis", "train", "store", "server", "cli", "web"];
const netModules = ["node:net", "node:http", "node:https", "node:http2", "node:dgram", "node:tls"];
const root = new URL("../packages/", import.meta.url).pathname;
const errors = [];

function files(dir) {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (f === "node_modules" || f === "dist") return [];
    return statSync(p).isDirectory() ? files(p) : /\.(ts|tsx|mjs|js)$/.test(f) ? [p] : [];
  });
}

for (const pkg of readdirSync(root)) {
  const rank = order.indexOf(pkg);
  if (rank < 0) {
    errors.push(`packages/${pkg}: not in the package order of ARCHITECTURE §2 (${order.join(" < ")})`);
    continue;
  }
  for (const file of files(join(root, pkg))) {
    const src = readFileSync(file, "utf8");
    for (const m of src.matchAll(/(?:import|export)[^"'`]*?from\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g)) {
      const spec = m[1] ?? m[2];
      const dep = /^@llmdbg\/([^/]+)/.exec(spec)?.[1];
      if (dep !== undefined && dep !== pkg) {
        const r = order.indexOf(dep);
        if (r < 0 || r > rank) errors.push(`${file.slice(root.length)}: imports @llmdbg/${dep}, which is not above ${pkg}`);
      }
      if (rank < order.indexOf("server") && netModules.includes(spec)) {
        errors.push(`${file.slice(root.length)}: imports ${spec}; only server and above may use networking`);
      }
    }
  }
}

if (errors.length > 0) {
  console.error(errors.join("\n"));
  process.exit(1);
}
console.log(`dependency direction ok (${readdirSync(root).length} packages)`);
