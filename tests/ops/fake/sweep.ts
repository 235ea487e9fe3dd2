/**
 * A hyperparameter sweep for FakeAzure: the sweep job's GET (jobType Sweep, one status per poll, the service's
 * `best_child_run_id` once it is Completed, when given) and its trials as the workspace's MLflow server shows them:
 * experiments/get-by-name, runs/search filtered by `tags.mlflow.parentRunId` (paged by `next_page_token`), runs/get;
 * a failed trial's run-history details (error, a SAS link to its user log). Each trial's status follows the sweep's
 * polls, so trials finish one after another while the sweep runs.
 * Shapes: SweepJob (azure-rest-api-specs ML 2025-12-01 examples/Job/SweepJob), MLflow REST API 2.0 (Run, SearchRuns).
 */
import { type FakeAzure, type FakeReq, WS_ID } from "./fakeAzure";

export const SWEEP_HASH = "3f9c2a1b4d5e";
export const SWEEP = `training-${SWEEP_HASH}-sw01ab`;
export const SWEEP_ID = `${WS_ID}/jobs/${SWEEP}`;
export const SWEEP_STUDIO = `https://ml.azure.com/runs/${SWEEP}?wsid=${WS_ID}`;
export const EXPERIMENT = "mnist-cnn";
export const EXPERIMENT_ID = "6b1c9e7d-0000-4000-8000-000000000042";
const MLFLOW = `/mlflow/v1.0${WS_ID}/api/2.0/mlflow`;

/** A sweep job's specification as the graph gives it (azure-native SweepJobArgs, 2025-12-01). */
export function sweepJobSpec(runHash: string): Record<string, unknown> {
  return {
    jobType: "Sweep",
    displayName: "mnist-cnn-sweep",
    experimentName: EXPERIMENT,
    computeId: `${WS_ID}/computes/gpu-abc123`,
    samplingAlgorithm: { samplingAlgorithmType: "Random" },
    objective: { primaryMetric: "val_accuracy", goal: "Maximize" },
    limits: {
      jobLimitsType: "Sweep",
      maxTotalTrials: 4,
      maxConcurrentTrials: 2,
      trialTimeout: "PT60M",
      timeout: "PT120M",
    },
    earlyTermination: { policyType: "Bandit", slackFactor: 0.1, evaluationInterval: 1, delayEvaluation: 2 },
    trial: {
      command:
        "python app.py --epochs ${{inputs.epochs}} --learning-rate ${{search_space.learning_rate}} " +
        "--batch-size ${{search_space.batch_size}} --dropout ${{search_space.dropout}} --output-dir ${{outputs.model_dir}}",
      codeId: `${WS_ID}/codes/mnist-train/versions/0123456789abcdef`,
      environmentId: `${WS_ID}/environments/mnist-train-gpu/versions/fedcba9876543210`,
    },
    searchSpace: {
      learning_rate: ["loguniform", [-6.907755278982137, -4.605170185988091]],
      batch_size: ["choice", [[64, 128, 256]]],
      dropout: ["uniform", [0.25, 0.5]],
    },
    inputs: { epochs: { jobInputType: "literal", value: "5" } },
    outputs: { model_dir: { jobOutputType: "uri_folder", mode: "ReadWriteMount" } },
    properties: { runHash },
    tags: { project: "azure-ml-mnist", runHash },
  };
}

/**
 * Why Azure ML refuses a sweep job's sampling, search space and early termination, or undefined when it takes them:
 * grid sampling takes only `choice`; Bayesian sampling takes only choice, uniform and quniform, and no early
 * termination policy.
 */
// "Grid sampling can only be used with `choice` hyperparameters"; "Bayesian sampling only supports `choice`, `uniform`, and `quniform` distributions" (learn.microsoft.com azure/machine-learning/how-to-tune-hyperparameters)
// "Bayesian sampling does not support early termination. When using Bayesian sampling, set early_termination_policy = None." (learn.microsoft.com azure/machine-learning/v1/how-to-tune-hyperparameters-v1)
export function sweepRefusal(spec: Record<string, unknown>): string | undefined {
  const allowed: Record<string, string[]> = {
    Grid: ["choice"],
    Bayesian: ["choice", "uniform", "quniform"],
  };
  const kind = (spec.samplingAlgorithm as { samplingAlgorithmType?: string } | undefined)
    ?.samplingAlgorithmType;
  const space = (spec.searchSpace ?? {}) as Record<string, [string, unknown[]]>;
  for (const [name, [expression]] of Object.entries(space)) {
    if (kind && allowed[kind] && !allowed[kind].includes(expression))
      return `${kind} sampling does not support '${expression}' (search space '${name}')`;
  }
  if (kind === "Bayesian" && spec.earlyTermination !== undefined && spec.earlyTermination !== null)
    return "Bayesian sampling does not support early termination";
  return undefined;
}

export interface FakeTrial {
  /** the trial's run id (Azure ML names a sweep's trials `<sweep>_<n>`) */
  name: string;
  /** its MLflow status (SCHEDULED, RUNNING, FINISHED, FAILED, KILLED) at each poll of the sweep; the last repeats */
  statuses: string[];
  /** what it logs: val_accuracy shows while it runs and after an early stop (KILLED), everything once FINISHED */
  metrics?: Record<string, number>;
  /** a failed trial's error and user log (run-history details) */
  failure?: { code: string; message: string; log: string };
}

export interface FakeSweep {
  /** the sweep job's status at each GET; the last repeats */
  statuses: string[];
  trials: FakeTrial[];
  /** the service's pick, in the job's properties once it is Completed */
  bestChildRunId?: string;
  /** runs/search page size */
  pageSize?: number;
}

/** `<sweep>_<n>`, Azure ML's name for the n-th trial. */
export const trialName = (n: number) => `${SWEEP}_${n}`;

/** Installs the sweep; returns the runs/search requests it received (parsed bodies). */
export function installSweep(fake: FakeAzure, sweep: FakeSweep): Array<Record<string, unknown>> {
  let polls = 0;
  const searches: Array<Record<string, unknown>> = [];
  const at = <T>(list: T[]) => list[Math.min(Math.max(polls, 1), list.length) - 1];
  fake.on("GET", SWEEP_ID, () => {
    polls++;
    return { status: 200, body: sweepBody(at(sweep.statuses), sweep.bestChildRunId) };
  });
  fake.on("GET", `${MLFLOW}/experiments/get-by-name`, (req) =>
    req.query.get("experiment_name") === EXPERIMENT
      ? { status: 200, body: { experiment: { experiment_id: EXPERIMENT_ID, name: EXPERIMENT } } }
      : { status: 404, body: { error_code: "RESOURCE_DOES_NOT_EXIST", message: "No such experiment" } },
  );
  fake.on("POST", `${MLFLOW}/runs/search`, (req) => {
    const body = JSON.parse(req.body) as Record<string, unknown>;
    searches.push(body);
    return searchAnswer(sweep, body, (t) => runOf(t, at(t.statuses)));
  });
  fake.on("GET", `${MLFLOW}/runs/get`, (req: FakeReq) => {
    const t = sweep.trials.find((x) => x.name === req.query.get("run_id"));
    if (!t) return { status: 404, body: { error_code: "RESOURCE_DOES_NOT_EXIST", message: "Run not found" } };
    return { status: 200, body: { run: runOf(t, at(t.statuses)) } };
  });
  for (const t of sweep.trials) if (t.failure) installFailure(fake, t.name, t.failure);
  return searches;
}

/** Run-history details of a failed trial, with its user log behind a SAS link (a secret the CLI must not print). */
function installFailure(fake: FakeAzure, run: string, f: NonNullable<FakeTrial["failure"]>): void {
  const sig = Buffer.from(`sig-${run}`).toString("base64url");
  fake.extraSecrets.push(sig);
  const logPath = `/logs/ExperimentRun/dcid.${run}/user_logs/std_log.txt`;
  fake.on("GET", `/history/v1.0${WS_ID}/runs/${run}/details`, () => ({
    status: 200,
    body: {
      runId: run,
      status: "Failed",
      error: { error: { code: f.code, message: f.message } },
      logFiles: { "user_logs/std_log.txt": `${fake.url}${logPath}?sv=2021-08-06&sr=b&sp=r&sig=${sig}` },
    },
  }));
  fake.on(
    "GET",
    logPath,
    (req) => (req.query.get("sig") === sig ? { status: 200, body: f.log } : { status: 403, body: "" }),
    { open: true },
  );
}

/** runs/search: this experiment's children of the sweep, one page from `page_token`. */
function searchAnswer(
  sweep: FakeSweep,
  body: Record<string, unknown>,
  run: (t: FakeTrial) => Record<string, unknown>,
): { status: number; body: unknown } {
  const parent = /^tags\.mlflow\.parentRunId = '([^']*)'$/.exec(String(body.filter ?? ""))?.[1];
  const mine = (body.experiment_ids as string[] | undefined)?.includes(EXPERIMENT_ID) && parent === SWEEP;
  const trials = mine ? sweep.trials : [];
  const size = sweep.pageSize ?? 1000;
  const start = Number(body.page_token ?? 0);
  const next = start + size < trials.length ? { next_page_token: String(start + size) } : {};
  return { status: 200, body: { runs: trials.slice(start, start + size).map(run), ...next } };
}

/** A trial as MLflow's Run: info and the metrics logged so far (each metric's latest value). */
function runOf(t: FakeTrial, status: string): Record<string, unknown> {
  // per-epoch val_accuracy while it runs and when early termination stops it; everything once it has finished
  const logged =
    status === "FINISHED"
      ? (t.metrics ?? {})
      : (status === "RUNNING" || status === "KILLED") && t.metrics?.val_accuracy !== undefined
        ? { val_accuracy: t.metrics.val_accuracy }
        : {};
  return {
    info: {
      run_id: t.name,
      run_uuid: t.name,
      run_name: t.name,
      experiment_id: EXPERIMENT_ID,
      status,
      lifecycle_stage: "active",
    },
    data: {
      metrics: Object.entries(logged).map(([key, value]) => ({
        key,
        value,
        timestamp: 1764151200000,
        step: 4,
      })),
      tags: [{ key: "mlflow.parentRunId", value: SWEEP }],
    },
  };
}

/** The sweep job as Jobs_Get answers it. */
function sweepBody(status: string, best: string | undefined): Record<string, unknown> {
  const spec = sweepJobSpec(SWEEP_HASH);
  return {
    id: SWEEP_ID,
    name: SWEEP,
    type: "Microsoft.MachineLearningServices/workspaces/jobs",
    properties: {
      ...spec,
      status,
      properties: {
        runHash: SWEEP_HASH,
        ...(status === "Completed" && best ? { best_child_run_id: best } : {}),
      },
      services: { Studio: { jobServiceType: "Studio", endpoint: SWEEP_STUDIO } },
    },
    systemData: { createdAt: "2026-11-26T10:00:00Z", createdBy: "ci" },
  };
}
