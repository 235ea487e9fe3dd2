import { FakeAzure, SUB } from "./fake/fakeAzure";
import { runCli, startCli, waitFor, type CliResult } from "./fake/runCli";
import { installMetrics, installWorkspace, JOB, JOB_ID, jobBody, RG, STUDIO, WS } from "./scenarios";

const fake = new FakeAzure();
const outputs: CliResult[] = [];
beforeAll(() => fake.start());
afterAll(() => fake.stop());
beforeEach(() => fake.reset());

async function wait(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const r = await runCli(
    "wait-for-job",
    ["--job-id", JOB_ID, "--poll-seconds", "0.05", ...args],
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

test("accuracy below the threshold fails with both numbers", async () => {
  fake.sequence("GET", JOB_ID, [jobBody("Running"), jobBody("Completed")]);
  installWorkspace(fake);
  installMetrics(fake, { test_accuracy: 0.9731, test_loss: 0.09 });
  const r = await wait(["--min-accuracy", "0.985"]);
  expect(r.code).toBe(1);
  expect(r.json).toMatchObject({ jobName: JOB, status: "Completed", testAccuracy: 0.9731 });
  expect(r.stderr).toContain("test_accuracy 0.9731 is below the threshold 0.985");
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
  expect(r.stderr).toContain("usage: tsx ops/wait-for-job.ts");
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
