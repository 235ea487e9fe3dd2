// The deployment gate and the wait's pure helpers, in-process (the mutation tier: jest.mutation.config.js).
import {
  cancelCommand,
  clockOf,
  gateFailure,
  imageBuildHints,
  parseWaitArgs,
  quotaHints,
  studioUrl,
  trialTable,
} from "../../ops/wait-for-job";
import { parseRunJobArgs } from "../../ops/run-job";
import type { TrialRun } from "../../lib/azureml/runHistory";

const SUB = "00000000-0000-0000-0000-000000000001";
const WS_ID = `/subscriptions/${SUB}/resourceGroups/rg-a/providers/Microsoft.MachineLearningServices/workspaces/mlw-a`;
const JOB_ID = `${WS_ID}/jobs/job-1`;
const SCOPE = { subscriptionId: SUB, resourceGroup: "rg-a", workspace: "mlw-a", workspaceId: WS_ID };

describe("gateFailure: the accuracy gate", () => {
  test("a value exactly at the threshold passes; just below fails", () => {
    expect(gateFailure(0.97, 0.97)).toBeUndefined();
    expect(gateFailure(0.9699, 0.97)).toBe("below");
    expect(gateFailure(0.98, 0.97)).toBeUndefined();
  });

  test("a Completed job without the metric never passes a threshold", () => {
    expect(gateFailure(undefined, 0.97)).toBe("missing");
    expect(gateFailure(Number.NaN, 0.97)).toBe("missing");
    expect(gateFailure(undefined, 0)).toBe("missing");
  });

  test("no threshold: nothing to check, whatever the value", () => {
    expect(gateFailure(undefined, undefined)).toBeUndefined();
    expect(gateFailure(0, undefined)).toBeUndefined();
  });
});

describe("parseWaitArgs: the gate's flags", () => {
  const base = ["--job-id", JOB_ID, "--arm-endpoint", "https://arm.example/"];

  test("defaults: minutes and seconds become milliseconds; no threshold unless asked", () => {
    const o = parseWaitArgs(base)!;
    expect(o).toMatchObject({
      minAccuracy: undefined,
      stuckMs: 30 * 60_000,
      preparingMs: 90 * 60_000,
      notFoundMs: 120_000,
      metric: "test_accuracy",
      logLines: 60,
      timeoutMs: 180 * 60_000,
      pollMs: 15_000,
      armEndpoint: "https://arm.example",
    });
    expect(o.job).toMatchObject({ id: JOB_ID, name: "job-1", workspace: "mlw-a", resourceGroup: "rg-a" });
  });

  test("every flag is carried through", () => {
    const o = parseWaitArgs([
      ...base,
      ...["--min-accuracy", "0.97", "--stuck-timeout-minutes", "2", "--preparing-timeout-minutes", "3"],
      ...["--not-found-seconds", "4", "--metric", "acc", "--log-lines", "5"],
      ...["--timeout-minutes", "6", "--poll-seconds", "7"],
    ])!;
    expect(o).toMatchObject({
      minAccuracy: 0.97,
      stuckMs: 120_000,
      preparingMs: 180_000,
      notFoundMs: 4000,
      metric: "acc",
      logLines: 5,
      timeoutMs: 360_000,
      pollMs: 7000,
    });
  });

  test("a threshold outside [0, 1] and an id that is not a job's are usage errors", () => {
    expect(() => parseWaitArgs([...base, "--min-accuracy", "1.5"])).toThrow(/min-accuracy/);
    expect(() => parseWaitArgs(["--job-id", `${WS_ID}/computes/c1`])).toThrow(/jobs/);
  });
});

test("parseRunJobArgs: the run hash's resolution and the wait's limits, both from one argv", () => {
  const saved = process.env.JOB_SPEC;
  process.env.JOB_SPEC = JSON.stringify({
    jobType: "Command",
    experimentName: "mnist-cnn",
    environmentId: `${WS_ID}/environments/e/versions/1`,
    computeId: `${WS_ID}/computes/gpu-1`,
    command: "python app.py",
    properties: { runHash: "3f9c2a1b4d5e" },
  });
  try {
    const o = parseRunJobArgs([
      ...["--workspace-id", WS_ID, "--run-hash", "3f9c2a1b4d5e", "--name-prefix", "training"],
      ...["--min-accuracy", "0.9", "--metric", "acc"],
    ])!;
    expect(o.submit).toMatchObject({ runHash: "3f9c2a1b4d5e", namePrefix: "training" });
    expect(o.wait).toMatchObject({ minAccuracy: 0.9, metric: "acc", stuckMs: 30 * 60_000 });
  } finally {
    if (saved === undefined) delete process.env.JOB_SPEC;
    else process.env.JOB_SPEC = saved;
  }
});

describe("clockOf", () => {
  test("Preparing runs the image clock; node-waiting states and waiting trials the stuck one", () => {
    expect(clockOf("Preparing")).toBe("preparing");
    expect(clockOf("Preparing", true)).toBe("preparing");
    for (const s of ["NotStarted", "Starting", "Provisioning", "Queued"]) expect(clockOf(s)).toBe("nodes");
    expect(clockOf("Running")).toBeUndefined();
    expect(clockOf("Running", true)).toBe("nodes");
    expect(clockOf("Completed", false)).toBeUndefined();
  });
});

describe("links and hints", () => {
  test("studioUrl: the service's link when the job has one, else one built from the name and workspace", () => {
    const job = { properties: { services: { Studio: { endpoint: "https://studio/x" } } } };
    expect(studioUrl(job, "job-1", SCOPE)).toBe("https://studio/x");
    expect(studioUrl(undefined, "a b", SCOPE)).toBe(`https://ml.azure.com/runs/a%20b?wsid=${WS_ID}`);
    expect(studioUrl({ properties: {} }, "j", SCOPE)).toBe(`https://ml.azure.com/runs/j?wsid=${WS_ID}`);
    expect(studioUrl({}, "j", SCOPE)).toBe(`https://ml.azure.com/runs/j?wsid=${WS_ID}`);
    expect(studioUrl({ properties: { services: {} } }, "j", SCOPE)).toBe(
      `https://ml.azure.com/runs/j?wsid=${WS_ID}`,
    );
  });

  test("cancelCommand names the job and the workspace", () => {
    expect(cancelCommand("job-1", SCOPE)).toBe("az ml job cancel -n job-1 -g rg-a -w mlw-a");
  });

  test("quotaHints: the region's usage commands, and the cluster's show command when it is known", () => {
    const hints = quotaHints(SCOPE, `${WS_ID}/computes/gpu-x`, "westeurope");
    expect(hints).toContain("  az ml compute list-usage --location westeurope -o table");
    expect(hints).toContain(
      `  az rest --method get --url "/subscriptions/${SUB}/providers/Microsoft.MachineLearningServices/locations/westeurope/usages?api-version=2025-12-01"`,
    );
    expect(hints).toContain("  az ml compute show -n gpu-x -g rg-a -w mlw-a");
    const noCompute = quotaHints(SCOPE, undefined);
    expect(noCompute.some((l) => l.includes("compute show"))).toBe(false);
    expect(noCompute).toContain("  az ml compute list-usage --location <region> -o table");
    expect(noCompute.length).toBe(hints.length - 1);
  });

  test("imageBuildHints: how to stream the build and where its log is", () => {
    const h = imageBuildHints("job-1", SCOPE, "https://studio/x");
    expect(h).toContain("  az ml job stream -n job-1 -g rg-a -w mlw-a");
    expect(h).toContain("  or https://studio/x > Outputs + logs > azureml-logs/20_image_build_log.txt");
    expect(h.length).toBe(6);
  });
});

describe("trialTable", () => {
  const trial = (name: string, status: string, metrics: Record<string, number>): TrialRun => ({
    name,
    status,
    metrics,
    ...(metrics.val_accuracy !== undefined ? { metric: metrics.val_accuracy } : {}),
  });

  test("no trial: says why there is none", () => {
    expect(trialTable([], "test_accuracy")).toEqual([
      "no trial listed (no MLflow run has this sweep as its mlflow.parentRunId)",
    ]);
  });

  test("aligned columns, '-' for a metric not logged, the best starred", () => {
    const rows = trialTable(
      [trial("t1", "Completed", { val_accuracy: 0.9, test_accuracy: 0.91 }), trial("trial22", "Failed", {})],
      "test_accuracy",
      "t1",
    );
    expect(rows).toEqual([
      "trials (2; * = best): name, status, val_accuracy, test_accuracy",
      "* t1       Completed  0.9       0.91",
      "  trial22  Failed     -         -",
    ]);
  });

  test("without a best: no star and no legend", () => {
    const rows = trialTable([trial("t1", "Running", { val_accuracy: 0.5 })], "test_accuracy");
    expect(rows).toEqual([
      "trials (1): name, status, val_accuracy, test_accuracy",
      "  t1  Running    0.5       -",
    ]);
  });
});
