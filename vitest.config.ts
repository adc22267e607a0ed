import { defineConfig } from "vitest/config";

export default defineConfig({
  resolve: { conditions: ["node"] },
  test: {
    include: ["packages/*/test/**/*.test.ts", "scripts/test/**/*.test.ts", "bench/test/**/*.test.ts"],
    setupFiles: ["./vitest.setup.ts"],
    testTimeout: 60_000,
    // one ORT worker per test file; two files at a time fits the 2-core machine
    maxWorkers: 2,
  },
});
