// scripts/check-deps.mjs sees every form of import, including a bare side-effect import and require(), and
// reports a package that imports one below it or (below server) a networking module.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { checkDeps, importsOf } from "../check-deps.mjs";

describe("importsOf", () => {
  it("finds static, side-effect, type-only, re-export, dynamic and require forms", () => {
    const src = [
      'import * as T from "@llmdbg/tensor";',
      'import { a, b } from "./a.js";',
      'import type { X } from "@llmdbg/core";',
      'import "node:net";',
      "import './side.js';",
      'export * from "./all.js";',
      'export { c } from "./c.js";',
      'export type { Y } from "./y.js";',
      'const m = await import("node:http");',
      'const h = require("https");',
      'const d = require ( "dgram" );',
    ].join("\n");
    expect(importsOf(src).sort()).toEqual(
      [
        "./a.js",
        "./all.js",
        "./c.js",
        "./side.js",
        "./y.js",
        "@llmdbg/core",
        "@llmdbg/tensor",
        "dgram",
        "https",
        "node:http",
        "node:net",
      ].sort(),
    );
  });

  it("does not take an ordinary string or a property named import for an import", () => {
    expect(importsOf('const s = "from x"; obj.import = 1; const t = `import`;')).toEqual([]);
  });
});

describe("checkDeps", () => {
  const repo = mkdtempSync(join(tmpdir(), "llmdbg-deps-"));
  afterAll(() => rmSync(repo, { recursive: true, force: true }));
  const write = (file: string, text: string) => {
    mkdirSync(join(repo, file, ".."), { recursive: true });
    writeFileSync(join(repo, file), text);
  };
  const manifest = (pkg: string, deps: string[], dev: string[] = []) =>
    write(
      `packages/${pkg}/package.json`,
      JSON.stringify({
        dependencies: Object.fromEntries(deps.map((d) => [d, "*"])),
        devDependencies: Object.fromEntries(dev.map((d) => [d, "*"])),
      }),
    );

  it("reports imports off the allow-list, undeclared packages, networking, node: modules in browser code, unknown packages", () => {
    manifest("tensor", []);
    write("packages/tensor/src/a.ts", 'import "@llmdbg/core";\n');
    manifest("core", ["@llmdbg/tensor"]);
    write(
      "packages/core/src/b.ts",
      'import "node:net";\nimport * as T from "@llmdbg/tensor";\nimport { x } from "@llmdbg/protocol";\n',
    );
    write("packages/core/src/node.ts", 'import { readFileSync } from "node:fs";\n');
    write("packages/core/src/c.ts", 'import { readFileSync } from "node:fs";\n');
    manifest("models", ["@llmdbg/tensor"], ["@llmdbg/testing"]);
    write("packages/models/src/d.cjs", 'const http = require("http");\n');
    write("packages/models/test/e.test.ts", 'import { tinyModel } from "@llmdbg/testing";\nimport { it } from "vitest";\n');
    write("packages/models/src/f.ts", 'import { tinyModel } from "@llmdbg/testing";\n');
    manifest("server", []);
    write("packages/server/src/g.ts", 'import { createServer } from "node:http";\n');
    write("packages/extra/src/h.ts", "export {};\n");
    write("bench/i.ts", 'import "@llmdbg/web";\n');
    // the zoo's ground truth is for tests and scorers only; a method that reads it proves nothing
    write("packages/core/src/j.ts", 'const f = "zoo/stories/truth.json";\n');
    write("packages/core/test/k.test.ts", 'const f = "zoo/stories/truth.json";\n');
    write("package.json", JSON.stringify({ devDependencies: { vitest: "*" } }));
    const errors = checkDeps(repo);
    expect(errors.sort()).toEqual(
      [
        "packages/tensor/src/a.ts: imports @llmdbg/core, which is not on tensor's allow-list",
        "packages/tensor/src/a.ts: imports @llmdbg/core, which packages/tensor/package.json does not list in dependencies",
        "packages/core/src/b.ts: imports node:net; only server and cli may use networking",
        "packages/core/src/b.ts: imports node:net; core must also run outside Node, so node: modules belong in its Node entry files",
        "packages/core/src/b.ts: imports @llmdbg/protocol, which packages/core/package.json does not list in dependencies",
        "packages/core/src/c.ts: imports node:fs; core must also run outside Node, so node: modules belong in its Node entry files",
        "packages/models/src/d.cjs: imports http; only server and cli may use networking",
        "packages/models/src/d.cjs: imports http; models must also run outside Node, so node: modules belong in its Node entry files",
        "packages/models/src/f.ts: imports @llmdbg/testing, which is not on models's allow-list",
        "packages/models/src/f.ts: imports @llmdbg/testing, which packages/models/package.json does not list in dependencies",
        "packages/extra: not in the allow-list of scripts/check-deps.mjs (tensor, protocol, core, formats, tokenizers, models, convert, testing, methods, analysis, train, zoo, store, server, cli, web)",
        "bench/i.ts: imports @llmdbg/web, which is not a package it may use",
        "packages/core/src/j.ts: mentions the zoo's ground truth (truth.json / GROUND_TRUTH.md); only tests and benchmark scorers may read it",
      ].sort(),
    );
  });
});
