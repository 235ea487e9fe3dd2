/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/tests"],
  testMatch: ["**/*.test.ts"],
  transform: { "^.+\\.ts$": ["ts-jest", { diagnostics: false }] },
  // Pulumi's runtime keeps promises alive after a test's last await; jest 30's clean-up of a test file's globals
  // would pull them from under it.
  testEnvironmentOptions: { globalsCleanup: "off" },
  testTimeout: 120000,
  // Several suites start real servers and train models; two CPU cores are all CI has.
  maxWorkers: 2,
};
