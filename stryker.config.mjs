// Mutation testing (StrykerJS) of the TypeScript that guards production: `npm run test:mutation`.
// Inner loop: `STRYKER_MUTATE_FILES=lib/azureml/traffic.ts npm run test:mutation` (one module; comma-separate
// several; keeps the ops files' function ranges, which `-- --mutate <file>` would widen to the whole file), incremental:
// only mutants whose code or covering tests changed since reports/mutation/stryker-incremental.json are run again;
// `-- --force` runs them all. Results: reports/mutation/mutation.html and .json; docs/testing.md has the scores.
//
// The ops CLIs' main bodies run only in a child process the tests spawn, whose coverage never reaches Stryker: with
// perTest coverage the spawning tests are never chosen for those mutants (docs/testing.md, the spawned-CLI limitation). So for ops/*.ts only the named pure functions are mutated; their
// line ranges are computed here from the source (TypeScript's parser) so that edits elsewhere in a file do not
// shift them.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const ts = createRequire(import.meta.url)("typescript");

/** `file:start-end` for each named top-level function, class or const of `file` (throws when one is missing). */
function only(file, names) {
  const sf = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.ES2022, true);
  const found = new Map();
  for (const st of sf.statements) {
    const declared = ts.isVariableStatement(st)
      ? st.declarationList.declarations.map((d) => d.name.getText(sf))
      : (ts.isFunctionDeclaration(st) || ts.isClassDeclaration(st)) && st.name
        ? [st.name.text]
        : [];
    const line = (pos) => sf.getLineAndCharacterOfPosition(pos).line + 1;
    for (const n of declared) found.set(n, `${file}:${line(st.getStart(sf))}-${line(st.getEnd())}`);
  }
  return names.map((n) => {
    if (!found.has(n)) throw new Error(`stryker.config.mjs: ${file} has no top-level ${n}`);
    return found.get(n);
  });
}

/**
 * STRYKER_MUTATE_FILES=a.ts,b.ts keeps only those files' entries (with their function ranges, which `--mutate` on
 * the command line would replace by the whole file): the inner loop on one module.
 */
function selected(entries) {
  const files = process.env.STRYKER_MUTATE_FILES?.split(",").filter(Boolean);
  return files ? entries.filter((e) => files.includes(e.split(":")[0])) : entries;
}

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: "jest",
  jest: { projectType: "custom", configFile: "jest.mutation.config.js", enableFindRelatedTests: true },
  coverageAnalysis: "perTest",
  // every covering test runs, not only up to the first failure: the report's killedBy then lists all the tests that
  // kill a mutant, which tells which suite kills it (docs/testing.md's before/after table).
  disableBail: true,
  checkers: [],
  tsconfigFile: "tsconfig.json",
  // Module-level constants (SCHEMA's defaults and descriptions, flag tables) would each cost a run of every test;
  // tests/graph/config.test.ts pins the schema against the rendered Pulumi.yaml instead.
  ignoreStatic: true,
  incremental: true,
  incrementalFile: "reports/mutation/stryker-incremental.json",
  concurrency: 2,
  // the tier's tests take milliseconds: a mutant that makes one wait or loop is a timeout soon
  timeoutMS: 2000,
  reporters: ["clear-text", "progress", "html", "json"],
  htmlReporter: { fileName: "reports/mutation/mutation.html" },
  jsonReporter: { fileName: "reports/mutation/mutation.json" },
  // the sandbox copy: never the Python venv, the local Node, the local runs' data
  ignorePatterns: [".venv", ".tools", ".local", ".pytest_cache", "reports", "bench/out", "outputs", "mlruns"],
  thresholds: { high: 90, low: 85, break: null },
  mutate: selected([
    // the deployment gate and its pure helpers
    ...only("ops/wait-for-job.ts", [
      "clockOf",
      "waitLimitsFrom",
      "parseWaitArgs",
      "studioUrl",
      "cancelCommand",
      "quotaHints",
      "imageBuildHints",
      "gateFailure",
      "trialTable",
    ]),
    ...only("ops/run-job.ts", ["parseRunJobArgs"]),
    // traffic and rollout
    "lib/azureml/traffic.ts",
    "lib/azureml/deployments.ts",
    "lib/azureml/metrics.ts",
    ...only("ops/rollout.ts", ["checkWatchFlags", "parseRolloutArgs"]),
    // HTTP client and credentials
    "lib/azure/http.ts",
    "lib/azure/credential.ts",
    // the config schema and its reader
    "lib/config/reader.ts",
    "lib/config/schema.ts",
    "lib/config/stack.ts",
    "lib/config/objects.ts",
    // naming, pre-flight rules
    "lib/core/naming.ts",
    "lib/core/preflightRules.ts",
    // the converge steps' pure decisions
    ...only("ops/ensure-deployment.ts", ["parseDeploymentSpec", "parseEnsureDeploymentArgs"]),
    ...only("ops/ensure-endpoint.ts", [
      "parseEndpointSpec",
      "parseEnsureEndpointArgs",
      "ownTags",
      "same",
      "sortedTags",
      "inputChanges",
      "desiredEndpoint",
    ]),
    ...only("ops/ensure-compute.ts", [
      "roleAssignmentName",
      "parseComputeSpec",
      "parseEnsureComputeArgs",
      "normal",
      "settingChanges",
    ]),
  ]),
};
