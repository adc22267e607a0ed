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
  const root = mkdtempSync(join(tmpdir(), "llmdbg-deps-"));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const write = (file: string, text: string) => {
    mkdirSync(join(root, file, ".."), { recursive: true });
    writeFileSync(join(root, file), text);
  };

  it("reports imports below a package, networking below server, and unknown packages", () => {
    write("tensor/src/a.ts", 'import "@llmdbg/core";\n');
    write("core/src/b.ts", 'import "node:net";\nimport * as T from "@llmdbg/tensor";\n');
    write("models/src/c.cjs", 'const http = require("http");\n');
    write("server/src/d.ts", 'import { createServer } from "node:http";\n');
    write("extra/src/e.ts", "export {};\n");
    const errors = checkDeps(`${root}/`);
    expect(errors).toEqual(
      expect.arrayContaining([
        "tensor/src/a.ts: imports @llmdbg/core, which is not above tensor",
        "core/src/b.ts: imports node:net; only server and above may use networking",
        "models/src/c.cjs: imports http; only server and above may use networking",
        expect.stringMatching(/^packages\/extra: not in the package order/),
      ]),
    );
    expect(errors).toHaveLength(4);
  });
});
