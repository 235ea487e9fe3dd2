import { FakeAzure, SUB } from "./fake/fakeAzure";
import { runCli, startCli, waitFor, type CliResult } from "./fake/runCli";
import { installMetrics, installWorkspace, JOB, JOB_ID, jobBody, RG, STUDIO, WS } from "./scenarios";
import { trialOf } from "../../lib/azureml/runHistory";
import { WAIT_LIMIT_FLAGS, clockOf, gateFailure, trialTable } from "../../ops/wait-for-job";
import { installSweep, SWEEP, SWEEP_ID, SWEEP_STUDIO, trialName, type FakeTrial } from "./fake/sweep";

const fake = new FakeAzure();
const outputs: CliResult[] = [];
beforeAll(() => fake.start());
afterAll(() => fake.stop());
beforeEach(() => fake.reset());

async function wait(args: string[], env: Record<string, string> = {}, jobId = JOB_ID): Promise<CliResult> {
  const r = await runCli(
    "wait-for-job",
    ["--job-id", jobId, "--poll-seconds", "0.05", ...args],
    fake.env(env),
  );
  outputs.push(r);
  return r;
}

test("job completes: status changes, studio link, accuracy checked, JSON result", async () => {
  fake.sequence("GET", JOB_ID, [
    jobBody("NotStarted"),
    jobBody("Queued"),
    jobBody("Queued"),
    jobBody("Running"),
    jobBody("Running"),
    jobBody("Completed"),
  ]);
  installWorkspace(fake);
  installMetrics(fake, { test_accuracy: 0.9912, test_loss: 0.03 });
  const r = await wait(["--min-accuracy", "0.98"]);
  expect(r.stderr).toContain(`studio: ${STUDIO}`);
  expect(r.code).toBe(0);
  expect(r.json).toMatchObject({
    jobName: JOB,
    status: "Completed",
    testAccuracy: 0.9912,
    studioUrl: STUDIO,
  });
  expect(typeof r.json!.elapsedSeconds).toBe("number");
  const order = ["NotStarted", "Queued", "Running", "Completed"].map((s) => r.stderr.indexOf(`] ${s}`));
  expect(order.every((i) => i >= 0)).toBe(true);
  expect([...order].sort((a, b) => a - b)).toEqual(order);
  expect(r.stderr.match(/\] Queued/g)).toHaveLength(1);
});

const LOG_SIG = "c2VjcmV0LXNhcy1zaWduYXR1cmU9PQ";

function installRunDetails(error: { code: string; message: string } | undefined, withLog: boolean): void {
  fake.extraSecrets.push(LOG_SIG);
  const logUrl = `${fake.url}/logs/ExperimentRun/dcid.${JOB}/user_logs/std_log.txt?sv=2021-08-06&sr=b&sp=r&se=2026-11-27T00%3A00%3A00Z&sig=${LOG_SIG}`;
  fake.on("GET", `/history/v1.0${JOB_ID.replace(/\/jobs\/.*$/, "")}/runs/${JOB}/details`, () => ({
    status: 200,
    body: {
      runId: JOB,
      status: "Failed",
      ...(error ? { error: { error: { code: error.code, message: error.message } } } : {}),
      logFiles: withLog
        ? {
            "user_logs/std_log.txt": logUrl,
            "system_logs/lifecycler/execution-wrapper.log": `${fake.url}/x?sig=${LOG_SIG}`,
          }
        : {},
    },
  }));
  fake.on(
    "GET",
    `/logs/ExperimentRun/dcid.${JOB}/user_logs/std_log.txt`,
    (req) =>
      req.query.get("sig") === LOG_SIG && !req.headers.authorization
        ? {
            status: 200,
            headers: { "content-type": "text/plain" },
            body: [
              ...Array.from({ length: 100 }, (_, i) => `epoch line ${i}`),
              "Traceback (most recent call last):",
              "ValueError: input arrays have different lengths",
              "",
            ].join("\n"),
          }
        : { status: 403, body: "AuthenticationFailed" },
    { open: true },
  );
}

test("job fails: the service's error, the user log tail and the studio link are surfaced", async () => {
  fake.sequence("GET", JOB_ID, [jobBody("Queued"), jobBody("Running"), jobBody("Failed")]);
  installWorkspace(fake);
  installRunDetails(
    { code: "UserError", message: "Execution failed. User process 'python' exited with status code 1." },
    true,
  );
  const r = await wait(["--min-accuracy", "0.98", "--log-lines", "5"]);
  expect(r.code).toBe(1);
  expect(r.json).toMatchObject({ jobName: JOB, status: "Failed", studioUrl: STUDIO });
  expect(String(r.json!.error)).toContain("User process 'python' exited with status code 1");
  expect(r.stderr).toContain(`job ${JOB} Failed: UserError: Execution failed.`);
  expect(r.stderr).toContain("last 5 lines of user_logs/std_log.txt");
  expect(r.stderr).toContain("| ValueError: input arrays have different lengths");
  expect(r.stderr).not.toContain("epoch line 10\n");
  expect(r.stderr).toContain(`Studio: ${STUDIO}`);
});

test("job canceled, no log exposed: says how to get the logs by hand", async () => {
  // run history has no details for this run: the CLI's GET of them goes unanswered (404), as this test means
  fake.allowUnrouted();
  fake.sequence("GET", JOB_ID, [jobBody("Running"), jobBody("CancelRequested"), jobBody("Canceled")]);
  installWorkspace(fake);
  const r = await wait([]);
  expect(r.code).toBe(1);
  expect(r.json).toMatchObject({ jobName: JOB, status: "Canceled" });
  expect(r.stderr).toContain(`job ${JOB} Canceled`);
  expect(r.stderr).toContain(`az ml job download -n ${JOB} -g ${RG} -w ${WS} --all`);
  expect(r.stderr).toContain(`Studio: ${STUDIO}`);
});

test("job stuck queued: fails after the stuck limit with Azure ML quota hints; the job is left alone", async () => {
  fake.sequence("GET", JOB_ID, [jobBody("NotStarted"), jobBody("Queued")]);
  installWorkspace(fake); // its region goes into the hints
  const r = await wait(["--stuck-timeout-minutes", "0.01"]);
  expect(r.code).toBe(1);
  expect(r.json).toMatchObject({ jobName: JOB, status: "Queued" });
  expect(r.stderr).toMatch(new RegExp(`job ${JOB} has been Queued for \\d+s without starting`));
  expect(r.stderr).toContain("no Azure ML quota for its");
  expect(r.stderr).toContain("  az ml compute list-usage --location eastus -o table\n");
  expect(r.stderr).toContain(
    `az rest --method get --url "/subscriptions/${SUB}/providers/Microsoft.MachineLearningServices/locations/eastus/usages?api-version=2025-12-01"`,
  );
  expect(r.stderr).toContain("Azure portal > Quotas > Machine learning");
  expect(r.stderr).toContain(`az ml compute show -n nc4t4abc -g ${RG} -w ${WS}`);
  expect(r.stderr).not.toMatch(/^\s+az vm list-usage/m);
  expect(r.stderr).toContain(`az ml job cancel -n ${JOB} -g ${RG} -w ${WS}`);
  expect(fake.count("POST", /cancel/)).toBe(0);
});

/** One minute of the scaled clock, in ms: the fake's job and the limits (the defaults) run on it. */
const MINUTE_MS = 80;
const scaled = (minutes: number) => String((minutes * MINUTE_MS) / 60_000);

test("regression #6 (Preparing counted as stuck): a first job, Preparing 25 (scaled) minutes, Queued 10, Running, Completed passes with the default limits", async () => {
  let first: number | undefined;
  let runningAt: number | undefined;
  fake.on("GET", JOB_ID, () => {
    first ??= Date.now();
    const m = (Date.now() - first) / MINUTE_MS;
    const status = m < 25 ? "Preparing" : m < 35 ? "Queued" : m < 40 ? "Running" : "Completed";
    if (status === "Running") runningAt ??= Date.now();
    return jobBody(status);
  });
  installWorkspace(fake);
  installMetrics(fake, { test_accuracy: 0.99 });
  const limit = (flag: "stuck-timeout-minutes" | "preparing-timeout-minutes" | "timeout-minutes") =>
    scaled(WAIT_LIMIT_FLAGS[flag].default);
  const r = await wait([
    "--min-accuracy",
    "0.98",
    "--stuck-timeout-minutes",
    limit("stuck-timeout-minutes"),
    "--preparing-timeout-minutes",
    limit("preparing-timeout-minutes"),
    "--timeout-minutes",
    limit("timeout-minutes"),
  ]);
  expect(r.stderr).not.toContain("without starting");
  expect(r.code).toBe(0);
  expect(r.json).toMatchObject({ jobName: JOB, status: "Completed", testAccuracy: 0.99 });
  const order = ["Preparing", "Queued", "Running", "Completed"].map((s) => r.stderr.indexOf(`] ${s}\n`));
  expect(order.every((i) => i >= 0)).toBe(true);
  expect([...order].sort((a, b) => a - b)).toEqual(order);
  // the job waited longer than the stuck limit in all: one clock over Preparing and Queued would have failed it
  expect(runningAt! - first!).toBeGreaterThan(WAIT_LIMIT_FLAGS["stuck-timeout-minutes"].default * MINUTE_MS);
});

test("an image build past --preparing-timeout-minutes: says so and where its log is, no quota hints", async () => {
  fake.sequence("GET", JOB_ID, [jobBody("NotStarted"), jobBody("Preparing")]);
  installWorkspace(fake);
  const r = await wait(["--preparing-timeout-minutes", "0.01"]);
  expect(r.code).toBe(1);
  expect(r.json).toMatchObject({ jobName: JOB, status: "Preparing", studioUrl: STUDIO });
  expect(r.stderr).toMatch(
    new RegExp(`job ${JOB} has been Preparing for \\d+s \\(limit --preparing-timeout-minutes 1s\\)`),
  );
  expect(r.stderr).toContain("Docker image build, conda environment setup");
  expect(r.stderr).toContain(`  az ml job stream -n ${JOB} -g ${RG} -w ${WS}\n`);
  expect(r.stderr).toContain(`${STUDIO} > Outputs + logs > azureml-logs/20_image_build_log.txt`);
  expect(r.stderr).toContain(`az ml job cancel -n ${JOB} -g ${RG} -w ${WS}`);
  expect(r.stderr).not.toContain("quota");
  expect(fake.count("POST", /cancel/)).toBe(0);
});

test("clockOf: Preparing has its own clock; NotStarted/Starting/Provisioning/Queued and waiting trials the stuck one", () => {
  const statuses = [
    "NotStarted",
    "Starting",
    "Provisioning",
    "Queued",
    "Preparing",
    "Running",
    "Finalizing",
    "Completed",
  ];
  expect(statuses.map((s) => clockOf(s))).toEqual([
    "nodes",
    "nodes",
    "nodes",
    "nodes",
    "preparing",
    undefined,
    undefined,
    undefined,
  ]);
  expect(clockOf("Running", true)).toBe("nodes");
  expect(clockOf("Preparing", true)).toBe("preparing");
});

test("gateFailure: below the threshold fails, exactly at it passes, a missing metric fails", () => {
  expect(gateFailure(0.98, 0.98)).toBeUndefined();
  expect(gateFailure(0.9799, 0.98)).toBe("below");
  expect(gateFailure(0.99, 0.98)).toBeUndefined();
  expect(gateFailure(undefined, 0.98)).toBe("missing");
  expect(gateFailure(Number.NaN, 0.98)).toBe("missing");
  expect(gateFailure(undefined, undefined)).toBeUndefined();
  expect(gateFailure(0.5, 0)).toBeUndefined();
});

test("accuracy below the threshold fails with both numbers", async () => {
  fake.sequence("GET", JOB_ID, [jobBody("Running"), jobBody("Completed")]);
  installWorkspace(fake);
  installMetrics(fake, { test_accuracy: 0.9731, test_loss: 0.09 });
  const r = await wait(["--min-accuracy", "0.985"]);
  expect(r.code).toBe(1);
  expect(r.json).toMatchObject({ jobName: JOB, status: "Completed", testAccuracy: 0.9731 });
  expect(r.stderr).toContain("test_accuracy 0.9731 is below the threshold 0.985");
});

test.each([
  [0.985, 0],
  [0.9849, 1],
])("the gate end to end: test_accuracy %p against --min-accuracy 0.985 exits %p", async (accuracy, code) => {
  fake.sequence("GET", JOB_ID, [jobBody("Running"), jobBody("Completed")]);
  installWorkspace(fake);
  installMetrics(fake, { test_accuracy: accuracy, test_loss: 0.05 });
  const r = await wait(["--min-accuracy", "0.985"]);
  expect(r.code).toBe(code);
  expect(r.json).toMatchObject({ jobName: JOB, status: "Completed", testAccuracy: accuracy });
  if (code === 1) expect(r.stderr).toContain(`test_accuracy ${accuracy} is below the threshold 0.985`);
  else expect(r.stderr).not.toContain("below the threshold");
});

test("a Completed job that logged no test_accuracy fails the gate: nothing to check is not a pass", async () => {
  fake.sequence("GET", JOB_ID, [jobBody("Running"), jobBody("Completed")]);
  installWorkspace(fake);
  installMetrics(fake, { test_loss: 0.05, val_accuracy: 0.99 });
  const r = await wait(["--min-accuracy", "0.98"]);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain("Completed but reported no 'test_accuracy' metric to check against 0.98");
  expect(r.json).toMatchObject({ jobName: JOB, status: "Completed" });
});

test("429 (Retry-After honoured) and 503 then success", async () => {
  fake.sequence("GET", JOB_ID, [
    jobBody("Running"),
    {
      status: 429,
      headers: { "retry-after": "1" },
      body: { error: { code: "TooManyRequests", message: "Rate limit exceeded" } },
    },
    { status: 503, body: { error: { code: "ServiceUnavailable", message: "try later" } } },
    jobBody("Completed"),
  ]);
  installWorkspace(fake);
  installMetrics(fake, { test_accuracy: 0.99 });
  const t0 = Date.now();
  const r = await wait([]);
  expect(r.code).toBe(0);
  expect(Date.now() - t0).toBeGreaterThanOrEqual(1000);
  expect(r.stderr).toMatch(/HTTP 429 from .* retrying in 1\.0s/);
  expect(r.stderr).toMatch(/HTTP 503 from .* retrying in/);
  expect(r.json).toMatchObject({ status: "Completed", testAccuracy: 0.99 });
});

test("404 right after submission is retried briefly", async () => {
  fake.sequence("GET", JOB_ID, [
    { status: 404, body: { error: { code: "UserError", message: "Job not found" } } },
    { status: 404, body: { error: { code: "UserError", message: "Job not found" } } },
    jobBody("Completed"),
  ]);
  installWorkspace(fake);
  installMetrics(fake, { test_accuracy: 0.99 });
  const r = await wait(["--not-found-seconds", "10"]);
  expect(r.code).toBe(0);
  expect(r.stderr).toContain("404 from");
});

test("a job that does not exist fails once the 404 window has passed", async () => {
  fake.on("GET", JOB_ID, { status: 404, body: { error: { code: "UserError", message: "Job not found" } } });
  const r = await wait(["--not-found-seconds", "0.2"]);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain("HTTP 404 UserError: Job not found");
});

test("token expiry mid-wait: short-lived tokens are renewed and a revoked token is replaced", async () => {
  fake.tokenLifetimeSec = 1;
  let polls = 0;
  fake.on("GET", JOB_ID, (_req, f) => {
    polls++;
    // phase 1 (polls 1-6): 1-second tokens, renewed as they expire; phase 2: long-lived tokens
    if (polls === 6) f.tokenLifetimeSec = 3600;
    // the service revokes tokens mid-wait (continuous access evaluation): the next call gets a claims challenge
    if (polls === 10) f.revokeTokens();
    return polls < 14 ? jobBody("Running") : jobBody("Completed");
  });
  installWorkspace(fake);
  installMetrics(fake, { test_accuracy: 0.99 });
  const r = await wait(["--poll-seconds", "0.3"]);
  expect(r.code).toBe(0);
  expect(r.json).toMatchObject({ status: "Completed" });
  expect(fake.issued.length).toBeGreaterThanOrEqual(3);
  expect(fake.issued.some((t) => t.withClaims)).toBe(true);
  expect(r.stderr).toContain("getting a fresh token");
});

test("in GitHub Actions every Entra token is minted from a NEW GitHub ID token, so the wait outlives both", async () => {
  // 1-second Entra tokens and 2-second ID tokens: a wait of ~4 s fails on any token or assertion kept too long
  fake.tokenLifetimeSec = 1;
  fake.github.lifetimeSec = 2;
  const before = fake.issued.length;
  let polls = 0;
  fake.on("GET", JOB_ID, () => (++polls < 8 ? jobBody("Running") : jobBody("Completed")));
  installWorkspace(fake);
  installMetrics(fake, { test_accuracy: 0.99 });
  const r = await wait(["--poll-seconds", "0.5"], fake.github.env());
  expect(r.code).toBe(0);
  expect(r.json).toMatchObject({ status: "Completed" });
  const assertions = fake.issued.slice(before).map((t) => t.assertion);
  expect(assertions.length).toBeGreaterThanOrEqual(8);
  expect(new Set(assertions).size).toBe(assertions.length);
  const minted = new Set(fake.github.issued.map((t) => t.token));
  expect(assertions.every((a) => a !== undefined && minted.has(a))).toBe(true);
});

test("SIGINT: nothing is canceled, the job keeps running and the cancel command is printed (exit 130)", async () => {
  fake.on("GET", JOB_ID, jobBody("Running"));
  const run = startCli("wait-for-job", ["--job-id", JOB_ID, "--poll-seconds", "0.1"], fake.env());
  await waitFor(() => run.stderrSoFar().includes("] Running"));
  run.child.kill("SIGINT");
  const r = await run.done;
  outputs.push(r);
  expect(r.code).toBe(130);
  expect(r.stderr).toContain(`job ${JOB} keeps running in Azure ML`);
  expect(r.stderr).toContain(`az ml job cancel -n ${JOB} -g ${RG} -w ${WS}`);
  expect(r.json).toMatchObject({ jobName: JOB, status: "Interrupted" });
  expect(fake.count("POST", /cancel/)).toBe(0);
});

test("SIGTERM exits 143 with the same message", async () => {
  fake.on("GET", JOB_ID, jobBody("Queued"));
  const run = startCli("wait-for-job", ["--job-id", JOB_ID, "--poll-seconds", "0.1"], fake.env());
  await waitFor(() => run.stderrSoFar().includes("] Queued"));
  run.child.kill("SIGTERM");
  const r = await run.done;
  outputs.push(r);
  expect(r.code).toBe(143);
  expect(r.stderr).toContain(`az ml job cancel -n ${JOB} -g ${RG} -w ${WS}`);
});

test("overall timeout: fails while the job is still running, leaving it running", async () => {
  fake.on("GET", JOB_ID, jobBody("Running"));
  const r = await wait(["--timeout-minutes", "0.01"]);
  expect(r.code).toBe(1);
  expect(r.json).toMatchObject({ jobName: JOB, status: "Running" });
  expect(r.stderr).toMatch(/is still Running after \d+s/);
  expect(r.stderr).toContain(`az ml job cancel -n ${JOB} -g ${RG} -w ${WS}`);
});

describe("sweep jobs", () => {
  const waitSweep = (args: string[]) => wait(args, {}, SWEEP_ID);

  /** Four trials, two at a time: #0 and #2 complete, #1 fails, #3 is stopped early; #2 has the best val_accuracy. */
  const TRIALS: FakeTrial[] = [
    {
      name: trialName(0),
      statuses: ["SCHEDULED", "RUNNING", "RUNNING", "FINISHED"],
      metrics: { val_accuracy: 0.985, test_accuracy: 0.9861 },
    },
    { name: trialName(1), statuses: ["SCHEDULED", "RUNNING", "FAILED"] },
    {
      name: trialName(2),
      statuses: ["SCHEDULED", "SCHEDULED", "SCHEDULED", "RUNNING", "RUNNING", "FINISHED"],
      metrics: { val_accuracy: 0.9912, test_accuracy: 0.9907 },
    },
    {
      name: trialName(3),
      statuses: ["SCHEDULED", "SCHEDULED", "SCHEDULED", "RUNNING", "KILLED"],
      metrics: { val_accuracy: 0.97 },
    },
  ];
  const STATUSES = [
    "NotStarted",
    "Running",
    "Running",
    "Running",
    "Running",
    "Running",
    "Running",
    "Completed",
  ];

  /** The stderr offset of each line; -1 when absent. */
  const at = (stderr: string, text: string) => stderr.indexOf(text);

  test("trials reported as they finish, one failing; the service's best_child_run_id picks the best", async () => {
    installWorkspace(fake);
    // the service's pick wins even where the listing would pick another (it may rank a trial by its best epoch,
    // runs/search gives each metric's last value)
    const searches = installSweep(fake, { statuses: STATUSES, trials: TRIALS, bestChildRunId: trialName(0) });
    const r = await waitSweep(["--min-accuracy", "0.98"]);
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({
      jobName: SWEEP,
      status: "Completed",
      studioUrl: SWEEP_STUDIO,
      bestTrial: trialName(0),
      testAccuracy: 0.9861,
      trials: [
        { name: trialName(0), status: "Completed", metric: 0.985 },
        { name: trialName(1), status: "Failed" },
        { name: trialName(2), status: "Completed", metric: 0.9912 },
        { name: trialName(3), status: "Canceled", metric: 0.97 },
      ],
    });
    expect(r.stderr).toContain(`best trial: ${trialName(0)} (the sweep's best_child_run_id)`);
    // one line per trial, in the order they finished, while the sweep was still Running
    const lines = [
      `] trial ${trialName(1)} Failed\n`,
      `] trial ${trialName(0)} Completed  val_accuracy 0.985\n`,
      `] trial ${trialName(3)} Canceled  val_accuracy 0.97\n`,
      `] trial ${trialName(2)} Completed  val_accuracy 0.9912\n`,
    ].map((l) => at(r.stderr, l));
    expect(lines.every((i) => i > at(r.stderr, "] Running"))).toBe(true);
    expect([...lines].sort((a, b) => a - b)).toEqual(lines);
    expect(r.stderr.match(/\] trial /g)).toHaveLength(4);
    expect(at(r.stderr, `trial ${trialName(2)} Completed`)).toBeLessThan(at(r.stderr, "] Completed"));
    expect(r.stderr).toContain("test_accuracy 0.9861 >= threshold 0.98");
    expect(searches[0]).toEqual({
      experiment_ids: ["6b1c9e7d-0000-4000-8000-000000000042"],
      filter: `tags.mlflow.parentRunId = '${SWEEP}'`,
    });
  });

  test("no best_child_run_id: the completed trial with the highest val_accuracy (trials read in pages)", async () => {
    installWorkspace(fake);
    const searches = installSweep(fake, { statuses: STATUSES, trials: TRIALS, pageSize: 3 });
    const r = await waitSweep(["--min-accuracy", "0.98"]);
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ bestTrial: trialName(2), testAccuracy: 0.9907 });
    expect((r.json!.trials as unknown[]).length).toBe(4);
    expect(r.stderr).toContain(
      `best trial: ${trialName(2)} (val_accuracy 0.9912, the highest of the completed trials; the sweep reports no best_child_run_id)`,
    );
    expect(r.stderr).toMatch(new RegExp(`\\* ${trialName(2)}\\s+Completed\\s+0\\.9912\\s+0\\.9907`));
    expect(searches.some((b) => b.page_token === "3")).toBe(true);
  });

  test("the best trial below --min-accuracy: exit 1 naming the trial and its accuracy", async () => {
    installWorkspace(fake);
    const trials = TRIALS.map((t) =>
      t.name === trialName(2) ? { ...t, metrics: { val_accuracy: 0.9912, test_accuracy: 0.9731 } } : t,
    );
    installSweep(fake, { statuses: STATUSES, trials, bestChildRunId: trialName(2) });
    const r = await waitSweep(["--min-accuracy", "0.985"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `trial ${trialName(2)} (best of sweep ${SWEEP}) Completed but test_accuracy 0.9731 is below the threshold 0.985`,
    );
    expect(r.json).toMatchObject({
      jobName: SWEEP,
      status: "Completed",
      bestTrial: trialName(2),
      testAccuracy: 0.9731,
    });
    expect(r.json!.error).toContain(trialName(2));
  });

  test.each(["Completed", "Failed"])(
    "no trial completed (sweep %s): fails with the trials' table and the studio link",
    async (end) => {
      installWorkspace(fake);
      const trials: FakeTrial[] = [
        {
          name: trialName(0),
          statuses: ["RUNNING", "FAILED"],
          failure: {
            code: "UserError",
            message: "Execution failed. User process 'python' exited with status code 1.",
            log: "epoch 1/5\nTraceback (most recent call last):\nValueError: learning rate must be positive\n",
          },
        },
        { name: trialName(1), statuses: ["RUNNING", "RUNNING", "KILLED"], metrics: { val_accuracy: 0.5 } },
      ];
      installSweep(fake, { statuses: ["Running", "Running", "Running", end], trials });
      // a Failed sweep's own run has no run-history details here (404): the trial's are what the CLI shows
      if (end === "Failed") fake.allowUnrouted();
      const r = await waitSweep(["--min-accuracy", "0.98"]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(
        end === "Completed" ? `sweep ${SWEEP} Completed without a completed trial` : `sweep ${SWEEP} Failed`,
      );
      expect(r.stderr).toMatch(new RegExp(`  ${trialName(0)}\\s+Failed\\s+-`));
      expect(r.stderr).toMatch(new RegExp(`  ${trialName(1)}\\s+Canceled`));
      expect(r.stderr).toContain(`Studio: ${SWEEP_STUDIO}`);
      // why: the first failed trial's error and the tail of its log (a sweep has no user log of its own)
      expect(r.stderr).toContain(`first failed trial, ${trialName(0)}:`);
      expect(r.stderr).toContain("error: UserError: Execution failed.");
      expect(r.stderr).toContain("| ValueError: learning rate must be positive");
      expect(r.stderr).not.toContain(`az ml job download -n ${SWEEP} `);
      expect(r.json).toMatchObject({
        jobName: SWEEP,
        status: end,
        trials: [
          { name: trialName(0), status: "Failed" },
          { name: trialName(1), status: "Canceled" },
        ],
      });
      expect(r.json).not.toHaveProperty("bestTrial");
    },
  );

  test("a running sweep whose trials all stay queued is stuck: quota hints, the sweep left alone", async () => {
    installWorkspace(fake);
    const queued = [0, 1].map((n) => ({ name: trialName(n), statuses: ["SCHEDULED"] }));
    installSweep(fake, { statuses: ["Queued", "Running"], trials: queued });
    const r = await waitSweep(["--stuck-timeout-minutes", "0.01"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      new RegExp(
        `sweep ${SWEEP} has been Running with every trial waiting \\(2 Queued\\) for \\d+s without starting`,
      ),
    );
    expect(r.stderr).toContain("no Azure ML quota for its");
    expect(r.stderr).toContain(`az ml job cancel -n ${SWEEP} -g ${RG} -w ${WS}`);
    expect(r.json).toMatchObject({
      jobName: SWEEP,
      status: "Running",
      trials: [{ status: "Queued" }, { status: "Queued" }],
    });
    expect(fake.count("POST", /cancel/)).toBe(0);
  });
});

describe("sweep helpers", () => {
  const run = (status: string, metrics: Record<string, number> = {}) => ({
    info: { run_id: "s_1", status },
    data: { metrics: Object.entries(metrics).map(([key, value]) => ({ key, value })) },
  });

  test("trialOf: MLflow statuses as job statuses, the primary metric, every metric", () => {
    expect(trialOf(run("FINISHED", { val_accuracy: 0.99, test_accuracy: 0.98 }), "val_accuracy")).toEqual({
      name: "s_1",
      status: "Completed",
      metric: 0.99,
      metrics: { val_accuracy: 0.99, test_accuracy: 0.98 },
    });
    const statuses = ["SCHEDULED", "RUNNING", "FAILED", "KILLED", "PAUSED", ""].map(
      (s) => trialOf(run(s), "val_accuracy").status,
    );
    expect(statuses).toEqual(["Queued", "Running", "Failed", "Canceled", "PAUSED", "Unknown"]);
    expect(trialOf(run("FAILED"), "val_accuracy")).not.toHaveProperty("metric");
  });

  test("trialTable: aligned columns, '-' for what a trial did not log, the best starred", () => {
    const t = (name: string, status: string, metrics: Record<string, number>) => ({ name, status, metrics });
    expect(
      trialTable(
        [t("s_10", "Completed", { val_accuracy: 0.99, test_accuracy: 0.985 }), t("s_2", "Failed", {})],
        "test_accuracy",
        "s_10",
      ),
    ).toEqual([
      "trials (2; * = best): name, status, val_accuracy, test_accuracy",
      "* s_10  Completed  0.99      0.985",
      "  s_2   Failed     -         -",
    ]);
    expect(trialTable([], "test_accuracy")[0]).toContain("no trial listed");
  });
});

test("usage errors exit 2 with a JSON error line", async () => {
  const r = await runCli("wait-for-job", ["--job-id", "/not/an/id"], fake.env());
  outputs.push(r);
  expect(r.code).toBe(2);
  expect(r.json).toHaveProperty("error");
});

test("a threshold outside [0, 1]: usage error naming the flag and range, and no request reaches Azure", async () => {
  const tokensBefore = fake.issued.length;
  const r = await wait(["--min-accuracy", "7"]);
  expect(r.code).toBe(2);
  expect(r.stderr).toContain("wait-for-job: --min-accuracy must be a number in [0, 1], got '7'");
  expect(r.stderr).toMatch(/usage: .*tsx ops\/wait-for-job\.ts/);
  expect(r.json).toEqual({ error: "--min-accuracy must be a number in [0, 1], got '7'" });
  expect(fake.requests).toHaveLength(0); // not even a token request
  expect(fake.issued).toHaveLength(tokensBefore);
});

test("no secret (client secret, tokens, SAS signature) appears in any output", () => {
  expect(outputs.length).toBeGreaterThan(8);
  const secrets = fake.secrets();
  expect(secrets.length).toBeGreaterThan(3);
  for (const o of outputs) {
    for (const s of secrets) {
      expect(o.stdout).not.toContain(s);
      expect(o.stderr).not.toContain(s);
    }
  }
});
