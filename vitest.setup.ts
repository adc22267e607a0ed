// Property-based tests run from a fixed seed so CI is reproducible; FC_SEED=<n> explores other seeds
// (a failing run prints its seed and counterexample).
//
// Commands record their runs in the run store by default: every test file gets its own empty store folder, so
// a test (or an `llmdbg` it spawns, which inherits the environment) never writes into the user's home.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll } from "vitest";

const seed = process.env.FC_SEED === undefined ? 20261123 : Number(process.env.FC_SEED);
fc.configureGlobal({ seed });

const home = mkdtempSync(join(tmpdir(), "llmdbg-home-"));
process.env.LLMDBG_HOME = home;
afterAll(() => rmSync(home, { recursive: true, force: true }));
