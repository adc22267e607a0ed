// Runs vitest and ends with the plain summary line CI reads: "N passed, N failed". The counts come from
// scripts/summary-reporter.mjs, which counts a file that fails to load, a failing beforeAll and an error
// thrown after a test returned as failures too. Extra arguments go to vitest (a file filter, --root, …).
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const dir = mkdtempSync(join(tmpdir(), "llmdbg-test-"));
const file = join(dir, "summary.json");
const reporter = new URL("./summary-reporter.mjs", import.meta.url).pathname;
const vitest = new URL("../node_modules/vitest/vitest.mjs", import.meta.url).pathname;
const args = [vitest, "run", "--reporter=default", `--reporter=${reporter}`, ...process.argv.slice(2)];
const r = spawnSync(process.execPath, args, { stdio: "inherit", env: { ...process.env, LLMDBG_SUMMARY_FILE: file } });
let summary;
try {
  summary = JSON.parse(readFileSync(file, "utf8"));
} catch {
  summary = { passed: 0, failed: 0, skipped: 0, problems: [] };
}
rmSync(dir, { recursive: true, force: true });
const code = r.status ?? 1;
// vitest failed for a reason the reporter could not see (a crash, a bad config, a signal): still a failure
if (code !== 0 && summary.failed === 0) {
  summary.failed = 1;
  summary.problems.push(`vitest exited with ${r.status ?? r.signal} and reported no failing test`);
}
if (summary.passed === 0 && summary.failed === 0) {
  summary.failed = 1;
  summary.problems.push("no test ran");
}
if (summary.problems.length > 0) console.log(`\nfailures:\n  ${summary.problems.join("\n  ")}`);
const skipped = summary.skipped > 0 ? `, ${summary.skipped} skipped` : "";
console.log(`${summary.passed} passed, ${summary.failed} failed${skipped}`);
process.exit(summary.failed === 0 ? 0 : 1);
