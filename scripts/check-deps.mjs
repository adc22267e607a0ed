// The package rules of the architecture, checked on every import (static, side-effect, re-export, dynamic,
// require): each package imports only the packages on its allow-list (`src` for its code, `test` adds what its
// tests may use); every import of another package is declared in its package.json (dependencies, or
// devDependencies for test-only ones); packages below `server` use no networking module; packages meant to run
// in a browser or a worker import `node:` modules only from their Node entry files (node.ts, *-node.ts, and
// tensor's ort/ backend). bench/, tools/ and examples/ may import any package but web.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { builtinModules } from "node:module";
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

/**
 * Who may import whom. `src`: the package's own code; `test`: what its tests may use besides. `browser`: the
 * package's code must run outside Node, so `node:` imports are confined to its Node entry files. A package
 * that is not in this table is an error: adding one means deciding its place here.
 */
export const ALLOW = {
  tensor: { src: [], test: ["testing"], browser: true },
  protocol: { src: [], test: [], browser: true },
  core: { src: ["tensor", "protocol"], test: ["testing"], browser: true },
  formats: { src: ["tensor"], test: ["testing"], browser: true },
  tokenizers: { src: ["core", "formats"], test: ["testing", "tensor"], browser: true },
  models: { src: ["tensor", "protocol", "core", "formats", "tokenizers"], test: ["testing", "convert"], browser: true },
  convert: { src: ["tensor", "core", "formats", "models", "tokenizers"], test: ["testing"], browser: true },
  testing: { src: ["tensor", "protocol", "core", "formats", "tokenizers", "models", "convert"], test: [], browser: false },
  methods: { src: ["tensor", "protocol", "core"], test: ["testing", "models", "formats", "tokenizers"], browser: true },
  analysis: { src: ["tensor", "protocol", "core", "methods"], test: ["testing", "models"], browser: true },
  train: { src: ["tensor", "protocol", "core", "formats", "models"], test: ["testing"], browser: true },
  // the zoo's data generators, recipes and checks: it trains with train and verifies with methods
  zoo: {
    src: ["tensor", "protocol", "core", "formats", "tokenizers", "models", "methods", "train"],
    test: ["testing"],
    browser: false,
  },
  store: { src: ["tensor", "protocol", "formats"], test: ["testing"], browser: false },
  server: {
    src: ["tensor", "protocol", "core", "formats", "tokenizers", "models", "convert", "methods", "analysis", "train", "store"],
    test: ["testing"],
    browser: false,
  },
  cli: {
    src: [
      "tensor",
      "protocol",
      "core",
      "formats",
      "tokenizers",
      "models",
      "convert",
      "methods",
      "analysis",
      "train",
      "zoo",
      "store",
      "server",
    ],
    test: ["testing"],
    browser: false,
  },
  // its tests build the UI and drive it in Chromium against a server on a tiny model
  web: { src: ["protocol"], test: ["server", "testing"], browser: true },
};

/**
 * What a package's code may not mention: the zoo's planted ground truth (zoo/<name>/truth.json, GROUND_TRUTH.md).
 * Methods, analysis and debug code are also run on models that are not in the repository; one that finds a
 * planted bug because it read where it was planted proves nothing. Tests and benchmark scorers may read it.
 */
const GROUND_TRUTH = /truth\.json|GROUND_TRUTH/;

/** Packages that may use networking modules. */
const NETWORKED = new Set(["server", "cli"]);
const netNames = ["net", "http", "https", "http2", "dgram", "tls"];
const netModules = new Set([...netNames, ...netNames.map((n) => `node:${n}`)]);
const nodeBuiltins = new Set([...builtinModules, ...builtinModules.map((n) => `node:${n}`)]);

function files(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (f === "node_modules" || f === "dist" || f === "out" || f === "fixtures") return [];
    return statSync(p).isDirectory() ? files(p) : /\.(ts|tsx|mts|mjs|js|cjs)$/.test(f) ? [p] : [];
  });
}

/** A file of a package's Node entry, where `node:` imports are allowed in a browser package. */
const isNodeEntry = (rel) => /(^|\/)node\.ts$|-node\.ts$|^src\/ort\//.test(rel);

/** The npm package a bare specifier names (`@scope/name` or `name`), or null for relative and builtin ones. */
function packageOf(spec) {
  if (spec.startsWith(".") || spec.startsWith("/") || nodeBuiltins.has(spec)) return null;
  const parts = spec.split("/");
  return spec.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
}

/** The violations in the repository at `repo` (one message each). */
export function checkDeps(repo) {
  const errors = [];
  const root = join(repo, "packages");
  for (const pkg of readdirSync(root)) {
    const rules = ALLOW[pkg];
    if (rules === undefined) {
      errors.push(`packages/${pkg}: not in the allow-list of scripts/check-deps.mjs (${Object.keys(ALLOW).join(", ")})`);
      continue;
    }
    const manifestPath = join(root, pkg, "package.json");
    const manifest = existsSync(manifestPath) ? JSON.parse(readFileSync(manifestPath, "utf8")) : {};
    const deps = new Set(Object.keys(manifest.dependencies ?? {}));
    const devDeps = new Set([...deps, ...Object.keys(manifest.devDependencies ?? {})]);
    for (const file of files(join(root, pkg))) {
      const rel = file.slice(join(root, pkg).length + 1);
      const where = `packages/${pkg}/${rel}`;
      const inTest = !rel.startsWith("src/") && !rel.startsWith("bin/");
      const text = readFileSync(file, "utf8");
      if (!inTest && GROUND_TRUTH.test(text)) {
        errors.push(
          `${where}: mentions the zoo's ground truth (truth.json / GROUND_TRUTH.md); only tests and benchmark scorers may read it`,
        );
      }
      const allowed = new Set([pkg, ...rules.src, ...(inTest ? rules.test : [])]);
      for (const spec of importsOf(text)) {
        const dep = /^@llmdbg\/([^/]+)/.exec(spec)?.[1];
        if (dep !== undefined && !allowed.has(dep)) {
          errors.push(`${where}: imports @llmdbg/${dep}, which is not on ${pkg}'s ${inTest ? "test " : ""}allow-list`);
        }
        const npm = packageOf(spec);
        // the root's dev tools (vitest, fast-check) serve tests, and the testing package, which is only for tests
        const devTool = (inTest || pkg === "testing") && isRootDevTool(npm);
        if (npm !== null && npm !== `@llmdbg/${pkg}` && !(inTest ? devDeps : deps).has(npm) && !devTool) {
          errors.push(
            `${where}: imports ${npm}, which packages/${pkg}/package.json does not list in ${inTest ? "dependencies or devDependencies" : "dependencies"}`,
          );
        }
        if (!NETWORKED.has(pkg) && netModules.has(spec)) {
          errors.push(`${where}: imports ${spec}; only server and cli may use networking`);
        }
        if (rules.browser && !inTest && nodeBuiltins.has(spec) && !isNodeEntry(rel)) {
          errors.push(
            `${where}: imports ${spec}; ${pkg} must also run outside Node, so node: modules belong in its Node entry files`,
          );
        }
      }
    }
  }
  for (const dir of ["bench", "tools", "examples"]) {
    for (const file of files(join(repo, dir))) {
      for (const spec of importsOf(readFileSync(file, "utf8"))) {
        const dep = /^@llmdbg\/([^/]+)/.exec(spec)?.[1];
        if (dep !== undefined && (ALLOW[dep] === undefined || dep === "web")) {
          errors.push(`${file.slice(repo.length + 1)}: imports @llmdbg/${dep}, which is not a package it may use`);
        }
      }
    }
  }
  return errors;
}

/** The root package.json's devDependencies. */
let rootDev;
function isRootDevTool(npm) {
  rootDev ??= new Set(
    Object.keys(JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")).devDependencies ?? {}),
  );
  return rootDev.has(npm);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const repo = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
  const errors = checkDeps(repo);
  if (errors.length > 0) {
    console.error(errors.join("\n"));
    process.exit(1);
  }
  console.log(`package rules ok (${readdirSync(join(repo, "packages")).length} packages)`);
}
