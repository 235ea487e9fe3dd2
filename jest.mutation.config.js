// The mutation-testing tier (stryker.config.mjs): only fast, in-process test files that exercise the modules Stryker
// mutates. Stryker runs the related test files once per mutant, so their import time is paid thousands of times:
//   - tests that spawn an ops CLI (tests/ops/fake/runCli.ts) are left out: the child process runs without Stryker's
//     active mutant, so they can never kill one, and they are slow;
//   - tests/ops/lib.test.ts and tests/local/invoke-lib.test.ts are left out: they drive the HTTP client against real
//     local servers with real retry waits, so a mutant that lengthens a wait or a retry loop becomes a timeout
//     (10-15 s each with the worker's restart; ~40 of them in lib/azure/http.ts); tests/unit/http.mutation.test.ts
//     covers the same code with a fake fetch and no waits;
//   - tests/graph/config.test.ts takes only ROOT from tests/graph/harness.ts, which loads the Pulumi runtime: here
//     that import resolves to tests/unit/support/harness-root.ts.
// Same transform and environment as jest.config.js.
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: "node",
  rootDir: __dirname,
  roots: ["<rootDir>/tests"],
  testMatch: [
    "<rootDir>/tests/unit/**/*.test.ts",
    "<rootDir>/tests/graph/naming.test.ts",
    "<rootDir>/tests/graph/preflight.test.ts",
    "<rootDir>/tests/graph/config.test.ts",
  ],
  moduleNameMapper: { "^\\./harness$": "<rootDir>/tests/unit/support/harness-root.ts" },
  transform: { "^.+\\.ts$": ["ts-jest", { diagnostics: false }] },
  testEnvironmentOptions: { globalsCleanup: "off" },
  testTimeout: 60000,
  maxWorkers: 1,
};
