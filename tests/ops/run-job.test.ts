/**
 * ops/run-job.ts: resolve the run hash to a job (reuse / follow / submit) and wait for it in one step, as a child
 * process against the fake (a workspace that remembers its jobs and moves them on as they are read).
 */
import { FakeAzure, WS_ID } from "./fake/fakeAzure";
import { fakeJob, installJobs, JOBS_PATH, jobStore, type JobStore } from "./fake/jobs";
import { runCli, startCli, waitFor, type CliResult } from "./fake/runCli";
import { installWorkspace, MLFLOW_RUN_PATH, RG, WS } from "./scenarios";
import { cli, NEXT_UP, parseRunJobArgs } from "../../ops/run-job";

const fake = new FakeAzure();
const outputs: CliResult[] = [];
beforeAll(() => fake.start());
afterAll(() => fake.stop());
beforeEach(() => fake.reset());

const HASH = "3f9c2a1b4d5e";
const studio = (name: string) => `https://ml.azure.com/runs/${name}?wsid=${WS_ID}`;

/** A command job's specification as components/trainingJob.ts resolves it. */
function jobSpec(hash = HASH): Record<string, unknown> {
  return {
    jobType: "Command",
    experimentName: "mnist-cnn",
    environmentId: `${WS_ID}/environments/mnist-train-gpu/versions/fedcba9876543210`,
    computeId: `${WS_ID}/computes/gpu-abc123`,
    command: "python app.py --epochs ${{inputs.epochs}} --output-dir ${{outputs.model_dir}}",
    properties: { runHash: hash },
  };
}

const ARGS = ["--workspace-id", WS_ID, "--run-hash", HASH, "--name-prefix", "training"];

function env(spec = jobSpec()): NodeJS.ProcessEnv {
  return fake.env({ JOB_SPEC: JSON.stringify(spec) });
}

async function runJob(args: string[] = []): Promise<CliResult> {
  const r = await runCli("run-job", [...ARGS, "--poll-seconds", "0.05", ...args], env());
  outputs.push(r);
  return r;
}

/** The workspace (its MLflow server) and its jobs; `metrics`: what each run (job name) logged. */
function install(store: JobStore, metrics: Record<string, Record<string, number>> = {}): JobStore {
  installWorkspace(fake);
  installJobs(fake, store);
  fake.on("GET", MLFLOW_RUN_PATH, (req) => {
    const run = req.query.get("run_id") ?? "";
    const logged = metrics[run] ?? metrics["*"];
    if (!logged) return { status: 404, body: { error_code: "RESOURCE_DOES_NOT_EXIST", message: "no run" } };
    const data = { metrics: Object.entries(logged).map(([key, value]) => ({ key, value, step: 0 })) };
    return { status: 200, body: { run: { info: { run_id: run, status: "FINISHED" }, data } } };
  });
  return store;
}

/** Run-history details of any run: the job's error (no log link). */
function installFailure(message: string): void {
  fake.on("GET", new RegExp(`^/history/v1\\.0${WS_ID}/runs/[^/]+/details$`), () => ({
    status: 200,
    body: { status: "Failed", error: { error: { code: "UserError", message } }, logFiles: {} },
  }));
}

test("no job of the run hash: submits one, waits through Preparing/Queued/Running, one result line", async () => {
  const store = install(
    { ...jobStore(), createdNext: ["Preparing", "Queued", "Running", "Completed"] },
    { "*": { test_accuracy: 0.991, test_loss: 0.03 } },
  );
  const r = await runJob(["--min-accuracy", "0.98"]);
  expect(r.code).toBe(0);
  expect(store.puts).toHaveLength(1);
  const name = store.puts[0].path.slice(JOBS_PATH.length + 1);
  expect(name).toMatch(new RegExp(`^training-${HASH}-[a-z0-9]{6}$`));
  expect(r.stdout.trim().split("\n")).toHaveLength(1);
  expect(r.json).toMatchObject({
    jobName: name,
    jobId: `${WS_ID}/jobs/${name}`,
    reused: false,
    submitStatus: "NotStarted",
    status: "Completed",
    testAccuracy: 0.991,
    studioUrl: studio(name),
  });
  expect(typeof r.json!.elapsedSeconds).toBe("number");
  expect(r.stderr).toContain(`run-job: submitted job ${name}`);
  expect(r.stderr).toContain(`run-job: waiting for job ${name}`);
  for (const s of ["Preparing", "Queued", "Running", "Completed"]) expect(r.stderr).toContain(`] ${s}\n`);
  expect(r.stderr).toContain("test_accuracy 0.991 >= threshold 0.98");
});

test("a Completed job is reused with no PUT; its accuracy exactly at the threshold passes", async () => {
  const done = fakeJob(`training-${HASH}-done01`, "Completed", HASH);
  const store = install(jobStore([done]), { [done.name]: { test_accuracy: 0.98 } });
  const r = await runJob(["--min-accuracy", "0.98"]);
  expect(r.code).toBe(0);
  expect(store.puts).toHaveLength(0);
  expect(r.json).toMatchObject({
    jobName: done.name,
    jobId: `${WS_ID}/jobs/${done.name}`,
    reused: true,
    submitStatus: "Completed",
    status: "Completed",
    testAccuracy: 0.98,
  });
  expect(r.stderr).toContain(`run-job: reusing job ${done.name} (Completed`);
  expect(r.stderr).toContain("test_accuracy 0.98 >= threshold 0.98");
});

test.each([
  ["below the threshold", { test_accuracy: 0.9799 }, "test_accuracy 0.9799 is below the threshold 0.98"],
  ["that logged no metric", { test_loss: 0.1 }, "reported no 'test_accuracy' metric to check against 0.98"],
])(
  "a reused Completed job %s fails the gate and says the next up reuses it",
  async (_what, logged, message) => {
    const done = fakeJob(`training-${HASH}-done02`, "Completed", HASH);
    install(jobStore([done]), { [done.name]: logged });
    const r = await runJob(["--min-accuracy", "0.98"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`job ${done.name} Completed but ${message}`);
    for (const line of NEXT_UP.gate) expect(r.stderr).toContain(line);
    expect(r.stderr).toContain("`retrainNonce`");
    expect(r.json).toMatchObject({ jobName: done.name, status: "Completed", reused: true });
    expect(String(r.json!.error)).toContain(message);
  },
);

test("regression #1 (a failed job was sticky): a failed job fails the step; the next run submits a new job of the run hash and passes", async () => {
  const store = install(
    { ...jobStore(), createdNext: ["Running", "Failed"] },
    { "*": { test_accuracy: 0.99 } },
  );
  installFailure("Execution failed. User process 'python' exited with status code 1.");
  const failed = await runJob(["--min-accuracy", "0.98"]);
  expect(failed.code).toBe(1);
  const first = String(failed.json!.jobName);
  expect(failed.json).toMatchObject({
    status: "Failed",
    jobId: `${WS_ID}/jobs/${first}`,
    reused: false,
    studioUrl: studio(first),
  });
  expect(String(failed.json!.error)).toContain("User process 'python' exited with status code 1");
  expect(failed.stderr).toContain(`job ${first} Failed: UserError: Execution failed.`);
  expect(failed.stderr).toContain(`Studio: ${studio(first)}`);
  expect(failed.stderr).toContain("The next `pulumi up` submits a new job of this run hash");
  // the failed step left nothing in the state: the next `up` runs it again, which finds only the Failed job
  store.createdNext = ["Running", "Completed"];
  const again = await runJob(["--min-accuracy", "0.98"]);
  expect(again.code).toBe(0);
  expect(store.puts).toHaveLength(2);
  expect(again.json).toMatchObject({ status: "Completed", reused: false, testAccuracy: 0.99 });
  expect(again.json!.jobName).not.toBe(first);
  expect(again.stderr).toContain(`no completed or active job (${first} Failed): submitting one`);
});

test("a job still running at --timeout-minutes: exit 1, the next up follows it, nothing canceled", async () => {
  const running = fakeJob(`training-${HASH}-run001`, "Running", HASH);
  install(jobStore([running]));
  const r = await runJob(["--timeout-minutes", "0.01"]);
  expect(r.code).toBe(1);
  expect(r.json).toMatchObject({
    jobName: running.name,
    status: "Running",
    reused: true,
    submitStatus: "Running",
  });
  expect(r.stderr).toContain(`run-job: following job ${running.name} (Running`);
  expect(r.stderr).toMatch(/is still Running after \d+s \(limit --timeout-minutes\)/);
  for (const line of NEXT_UP.timeout) expect(r.stderr).toContain(line);
  expect(fake.count("POST", /cancel/)).toBe(0);
});

test("SIGINT while following an active job: exit 130, the job left running, the next up follows it", async () => {
  const queued = fakeJob(`training-${HASH}-que001`, "Queued", HASH);
  install(jobStore([queued]));
  const run = startCli("run-job", [...ARGS, "--poll-seconds", "0.1"], env());
  await waitFor(() => run.stderrSoFar().includes("] Queued"));
  run.child.kill("SIGINT");
  const r = await run.done;
  outputs.push(r);
  expect(r.code).toBe(130);
  expect(r.stderr).toContain(
    `run-job: SIGINT received — stopped waiting. Nothing was canceled: job ${queued.name}`,
  );
  expect(r.stderr).toContain(`az ml job cancel -n ${queued.name} -g ${RG} -w ${WS}`);
  expect(r.stderr).toContain(NEXT_UP.interrupted[0]);
  expect(r.json).toMatchObject({
    jobName: queued.name,
    status: "Interrupted",
    jobId: `${WS_ID}/jobs/${queued.name}`,
    reused: true,
    submitStatus: "Queued",
  });
  expect(fake.count("POST", /cancel/)).toBe(0);
});

test("a bad JOB_SPEC: exit 2 with run-job's usage line, nothing reaches the fake", async () => {
  const r = await runCli("run-job", ARGS, fake.env({ JOB_SPEC: JSON.stringify(jobSpec("0a1b2c3d4e5f")) }));
  outputs.push(r);
  expect(r.code).toBe(2);
  expect(r.stderr).toContain(`JOB_SPEC.properties.runHash must equal --run-hash ${HASH}`);
  expect(r.stderr).toContain(
    "usage: JOB_SPEC='<JSON>' bash scripts/env.sh tsx ops/run-job.ts --workspace-id <ARM id>",
  );
  expect(r.json).toHaveProperty("error");
  expect(fake.requests).toHaveLength(0);
});

test("flags: submit-job's and wait-for-job's (but --job-id) with their defaults", () => {
  const flags = [...cli.usage.matchAll(/--([a-z-]+)/g)].map((m) => m[1]);
  expect(flags).toEqual([
    "workspace-id",
    "run-hash",
    "name-prefix",
    "min-accuracy",
    "stuck-timeout-minutes",
    "preparing-timeout-minutes",
    "metric",
    "log-lines",
    "not-found-seconds",
    "timeout-minutes",
    "poll-seconds",
    "arm-endpoint",
  ]);
  const saved = process.env.JOB_SPEC;
  process.env.JOB_SPEC = JSON.stringify(jobSpec());
  try {
    const o = parseRunJobArgs([...ARGS, "--min-accuracy", "0.98", "--arm-endpoint", "https://arm.example"])!;
    expect(o.submit).toMatchObject({
      runHash: HASH,
      namePrefix: "training",
      armEndpoint: "https://arm.example",
    });
    expect(o.submit.workspace.workspaceId).toBe(WS_ID);
    expect(o.wait).toMatchObject({
      minAccuracy: 0.98,
      stuckMs: 30 * 60_000,
      preparingMs: 90 * 60_000,
      timeoutMs: 180 * 60_000,
      pollMs: 15_000,
      notFoundMs: 120_000,
      metric: "test_accuracy",
      logLines: 60,
      armEndpoint: "https://arm.example",
    });
    expect(parseRunJobArgs(["--help"])).toBeNull();
  } finally {
    if (saved === undefined) delete process.env.JOB_SPEC;
    else process.env.JOB_SPEC = saved;
  }
});

test("no secret appears in any output", () => {
  expect(outputs.length).toBeGreaterThan(6);
  for (const o of outputs) for (const s of fake.secrets()) expect(o.stdout + o.stderr).not.toContain(s);
});
