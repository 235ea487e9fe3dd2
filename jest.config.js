// Two tiers of jest tests (README "Tests"):
//   - "fast": every test file except the heavy ones; `npm test` runs it (with tsc, lint and the fast pytest tier);
//   - "heavy": the files in HEAVY below (real trainings, the 170-cell fault matrix, the slowest CLI suites);
//     `npm run test:full` (CI, .ci/run) runs both tiers.
// A test file is in exactly one tier: tests/tiers.test.ts checks it, and that HEAVY names only files that exist.
// `jest` alone runs both projects; `jest --selectProjects fast` (or heavy) one of them.

/**
 * Heavy-tier test files, relative to the repository root: the ones that train real models, run the fault matrix, or
 * take 12 s or more on an idle 2-core machine (their seconds, measured there, beside them). Everything else is fast:
 * `npm test` stays near 2 minutes. CI runs both.
 */
const HEAVY = [
  "tests/graph/converge.test.ts", // the fault matrix: 170 cells of up / retry / revert / destroy (~4.5 min)
  "tests/local/sweep.test.ts", // `npm run local -- --sweep 2`: two real trainings, serve, invoke
  "tests/local/integration.test.ts", // real training, the real azmlinfsrv, npm run local --skip-train
  "tests/local/mlflow-store.test.ts", // the venv's real `mlflow migrate-filestore` and MlflowClient
  "tests/local/registry.test.ts", // 59 s: a real `npm run local`, then serve through the MLflow registry
  "tests/local/download-model.test.ts", // 38 s: download-model spawned 10 times into a real MLflow store
  "tests/ops/wait-for-job.test.ts", // 33 s: 31 spawned runs of wait-for-job
  "tests/graph/variants.test.ts", // 28 s: the program reloaded for each config variant
  "tests/ops/rollout.test.ts", // 23 s: 33 spawned rollouts with their watches
  "tests/ops/promotion-flow.test.ts", // 23 s: dev, prod and a challenger through the real CLIs
  "tests/graph/sequence.test.ts", // 20 s: up A, up B, up A, destroy, up A
  "tests/ops/preflight.test.ts", // 20 s: 34 pre-flight runs
  "tests/ops/graph-steps.test.ts", // 17 s: the serving chain through the real CLIs, twice
  "tests/ops/promote-model.test.ts", // 17 s: 15 promotions
  "tests/graph/model-contract.test.ts", // 15 s: the model of Azure against the real CLIs
  "tests/ops/ensure-assets.test.ts", // 14 s: 23 uploads and registrations
  "tests/ops/submit-job.test.ts", // 12 s: 20 submissions
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
