// A vitest reporter that counts what the plain summary line of scripts/test.mjs reports, from vitest's own
// task tree rather than its JSON report (which has no field for a file that failed to load, nor for errors
// thrown after a test returned). A failure is: a failed test; a file or suite whose own errors() are not
// empty (a throw while loading, a failing beforeAll/afterAll); an unhandled error. Writes
// { passed, failed, failedTests, skipped, problems } as JSON (failedTests: failed tests alone) to the file named by LLMDBG_SUMMARY_FILE.
import { writeFileSync } from "node:fs";

export default class SummaryReporter {
  onTestRunEnd(testModules, unhandledErrors, reason) {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    let failedTests = 0;
    const problems = [];
    const firstLine = (e) => String(e?.message ?? e).split("\n")[0];
    const suiteErrors = (entity, label) => {
      for (const e of entity.errors()) {
        failed++;
        problems.push(`${label}: ${firstLine(e)}`);
      }
    };
    for (const m of testModules) {
      suiteErrors(m, m.relativeModuleId);
      for (const s of m.children.allSuites()) suiteErrors(s, `${m.relativeModuleId} > ${s.fullName}`);
      for (const t of m.children.allTests()) {
        const state = t.result().state;
        if (state === "passed") passed++;
        else if (state === "failed") {
          failed++;
          failedTests++;
          problems.push(`${m.relativeModuleId} > ${t.fullName}`);
        } else skipped++;
      }
    }
    for (const e of unhandledErrors) {
      failed++;
      problems.push(`unhandled error: ${firstLine(e)}`);
    }
    if (reason === "interrupted") {
      failed++;
      problems.push("the run was interrupted");
    }
    const file = process.env.LLMDBG_SUMMARY_FILE;
    if (file) writeFileSync(file, JSON.stringify({ passed, failed, failedTests, skipped, problems }));
  }
}
