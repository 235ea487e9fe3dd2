// Two tiers of jest tests (README "Tests"):
//   - "fast": every test file except the heavy ones; `npm test` runs it (with tsc, lint and the fast pytest tier);
//   - "heavy": the files in HEAVY below, which train real models or run the 170-cell fault matrix; `npm run test:full`
//     (CI, .ci/run) runs both tiers.
// A test file is in exactly one tier: tests/tiers.test.ts checks it, and that HEAVY names only files that exist.
// `jest` alone runs both projects; `jest --selectProjects fast` (or heavy) one of them.

/** Heavy-tier test files, relative to the repository root. */
const HEAVY = [
  "tests/graph/converge.test.ts", // the fault matrix: 170 cells of up / retry / revert / destroy (~4.5 min)
  "tests/local/sweep.test.ts", // `npm run local -- --sweep 2`: two real trainings, serve, invoke
  "tests/local/integration.test.ts", // real training, the real azmlinfsrv, npm run local --skip-train
  "tests/local/mlflow-store.test.ts", // the venv's real `mlflow migrate-filestore` and MlflowClient
];

const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** Settings both tiers share. */
const common = {
  rootDir: __dirname,
  testEnvironment: "node",
  roots: ["<rootDir>/tests"],
  transform: { "^.+\\.ts$": ["ts-jest", { diagnostics: false }] },
  // Pulumi's runtime keeps promises alive after a test's last await; jest 30's clean-up of a test file's globals
  // would pull them from under it.
  testEnvironmentOptions: { globalsCleanup: "off" },
};

/** @type {import('jest').Config} */
module.exports = {
  testTimeout: 120000,
  // Several suites start real servers and train models; two CPU cores are all CI has.
  maxWorkers: 2,
  projects: [
    {
      ...common,
      displayName: "fast",
      testMatch: ["<rootDir>/tests/**/*.test.ts"],
      testPathIgnorePatterns: ["/node_modules/", ...HEAVY.map((f) => `^${escape(`${__dirname}/${f}`)}$`)],
    },
    {
      ...common,
      displayName: "heavy",
      testMatch: HEAVY.map((f) => `<rootDir>/${f}`),
    },
  ],
};
