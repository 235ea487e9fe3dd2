/**
 * ops/submit-job.ts: reuse or submit, as a child process against the fake (a workspace that remembers its jobs), and
 * its pure helpers.
 */
import { FakeAzure, WS_ID } from "./fake/fakeAzure";
import { fakeJob, installJobs, JOBS_PATH, jobResource, jobStore, type JobStore } from "./fake/jobs";
import { sweepJobSpec } from "./fake/sweep";
import { runCli, type CliResult } from "./fake/runCli";
import { checkJobSpec, chooseJob, newJobName, type JobItem } from "../../ops/submit-job";
import { UsageError } from "../../lib/toolkit/errors";

const fake = new FakeAzure();
const outputs: CliResult[] = [];
beforeAll(() => fake.start());
afterAll(() => fake.stop());
beforeEach(() => fake.reset());

const HASH_A = "3f9c2a1b4d5e";
const HASH_B = "0a1b2c3d4e5f";

/** A job specification as components/trainingJob.ts resolves it. */
function jobSpec(hash: string): Record<string, unknown> {
  return {
    jobType: "Command",
    displayName: "mnist-cnn",
    experimentName: "mnist-cnn",
    description: `Keras CNN on MNIST; run hash ${hash}`,
    codeId: `${WS_ID}/codes/mnist-train/versions/0123456789abcdef`,
    environmentId: `${WS_ID}/environments/mnist-train-gpu/versions/fedcba9876543210`,
    computeId: `${WS_ID}/computes/gpu-abc123`,
    command: "python app.py --epochs ${{inputs.epochs}} --output-dir ${{outputs.model_dir}}",
    inputs: { epochs: { jobInputType: "literal", value: "5" } },
    outputs: { model_dir: { jobOutputType: "uri_folder", mode: "ReadWriteMount" } },
    limits: { jobLimitsType: "Command", timeout: "PT60M" },
    identity: { identityType: "AMLToken" },
    properties: { runHash: hash },
    tags: { project: "azure-ml-mnist", runHash: hash },
  };
}

async function submit(hash: string, spec: string = JSON.stringify(jobSpec(hash))): Promise<CliResult> {
  const r = await runCli(
    "submit-job",
    ["--workspace-id", WS_ID, "--run-hash", hash, "--name-prefix", "training"],
    fake.env({ JOB_SPEC: spec }),
  );
  outputs.push(r);
  return r;
}

function withJobs(store: JobStore): JobStore {
  installJobs(fake, store);
  return store;
}

const studio = (name: string) => `https://ml.azure.com/runs/${name}?wsid=${WS_ID}`;

test("no job of the run hash: submits one under <prefix>-<hash>-<6>, JOB_SPEC as its properties", async () => {
  const store = withJobs(jobStore());
  const r = await submit(HASH_A);
  expect(r.code).toBe(0);
  expect(store.puts).toHaveLength(1);
  const name = store.puts[0].path.slice(JOBS_PATH.length + 1);
  expect(name).toMatch(new RegExp(`^training-${HASH_A}-[a-z0-9]{6}$`));
  expect(JSON.parse(store.puts[0].body)).toEqual({ properties: jobSpec(HASH_A) });
  expect(store.puts[0].query.get("api-version")).toBe("2025-12-01");
  // the name was checked to be free first, and the list asked for this hash over all views
  expect(fake.count("GET", `${JOBS_PATH}/${name}`)).toBe(1);
  const list = fake.requests.find((q) => q.method === "GET" && q.path === JOBS_PATH)!;
  expect(Object.fromEntries(list.query)).toMatchObject({
    jobType: "Command",
    properties: `runHash=${HASH_A}`,
    listViewType: "All",
  });
  expect(r.json).toEqual({
    jobName: name,
    jobId: `${WS_ID}/jobs/${name}`,
    status: "NotStarted",
    reused: false,
    studioUrl: studio(name),
  });
  expect(r.stderr).toContain("no job of this run hash: submitting one");
});

test("a Completed job of the run hash is reused: no PUT, the newest one, with its studio link", async () => {
  const older = fakeJob(`training-${HASH_A}-old001`, "Completed", HASH_A);
  const newer = fakeJob(`training-${HASH_A}-new002`, "Completed", HASH_A);
  const store = withJobs(jobStore([older, newer, fakeJob(`training-${HASH_A}-fail03`, "Failed", HASH_A)]));
  const r = await submit(HASH_A);
  expect(r.code).toBe(0);
  expect(store.puts).toHaveLength(0);
  expect(r.json).toEqual({
    jobName: newer.name,
    jobId: `${WS_ID}/jobs/${newer.name}`,
    status: "Completed",
    reused: true,
    studioUrl: studio(newer.name),
  });
  expect(r.stderr).toContain(`reusing job ${newer.name} (Completed, ${studio(newer.name)}): no new training`);
});

test("only Failed and Canceled jobs of the run hash: a new job under a different name", async () => {
  const failed = fakeJob(`training-${HASH_A}-fail01`, "Failed", HASH_A);
  const canceled = fakeJob(`training-${HASH_A}-cncl02`, "Canceled", HASH_A);
  const store = withJobs(jobStore([failed, canceled]));
  const r = await submit(HASH_A);
  expect(r.code).toBe(0);
  expect(store.puts).toHaveLength(1);
  expect(r.json).toMatchObject({ reused: false, status: "NotStarted" });
  expect([failed.name, canceled.name]).not.toContain(r.json!.jobName);
  expect(r.stderr).toContain(`no completed or active job (${failed.name} Failed, ${canceled.name} Canceled)`);
});

test("a Running job of the run hash is followed, not submitted again", async () => {
  const running = fakeJob(`training-${HASH_A}-run001`, "Running", HASH_A);
  const store = withJobs(jobStore([fakeJob(`training-${HASH_A}-fail01`, "Failed", HASH_A), running]));
  const r = await submit(HASH_A);
  expect(r.code).toBe(0);
  expect(store.puts).toHaveLength(0);
  expect(r.json).toMatchObject({ jobName: running.name, status: "Running", reused: true });
  expect(r.stderr).toContain(`following job ${running.name} (Running`);
  expect(r.stderr).toContain("which a previous run started");
});

test("A -> B -> A: the third run reuses A's job (the fake remembers and completes what was created)", async () => {
  const store = withJobs(jobStore());
  const complete = () => store.jobs.forEach((j) => (j.status = "Completed"));
  const a1 = await submit(HASH_A);
  complete();
  const b = await submit(HASH_B);
  complete();
  const a2 = await submit(HASH_A);
  expect([a1.code, b.code, a2.code]).toEqual([0, 0, 0]);
  expect(store.puts).toHaveLength(2);
  expect(a1.json).toMatchObject({ reused: false });
  expect(b.json).toMatchObject({ reused: false });
  expect(b.json!.jobName).not.toBe(a1.json!.jobName);
  expect(a2.json).toMatchObject({ jobName: a1.json!.jobName, status: "Completed", reused: true });
});

test("the job list is followed through nextLink pages", async () => {
  const others = Array.from({ length: 5 }, (_, i) =>
    fakeJob(`training-${HASH_A}-f0000${i}`, "Failed", HASH_A),
  );
  const done = fakeJob(`training-${HASH_A}-done01`, "Completed", HASH_A);
  const store = withJobs(jobStore([...others, done], 2));
  const r = await submit(HASH_A);
  expect(r.code).toBe(0);
  expect(fake.count("GET", JOBS_PATH)).toBe(3);
  expect(store.puts).toHaveLength(0);
  expect(r.json).toMatchObject({ jobName: done.name, reused: true });
});

test("a list that ignores the property filter: the client-side filter still picks the right job", async () => {
  const other = fakeJob(`training-${HASH_B}-done01`, "Completed", HASH_B);
  const otherRunning = fakeJob(`training-${HASH_B}-run001`, "Running", HASH_B);
  const mine = fakeJob(`training-${HASH_A}-done02`, "Completed", HASH_A, "2026-01-01T00:00:00Z");
  const store = withJobs({ ...jobStore([mine, other, otherRunning]), ignoreFilter: true });
  const r = await submit(HASH_A);
  expect(r.json).toMatchObject({ jobName: mine.name, reused: true });
  store.jobs.splice(0, 1); // only other hashes left: submit
  const r2 = await submit(HASH_A);
  expect(r2.json).toMatchObject({ reused: false });
  expect(store.puts).toHaveLength(1);
});

test("5xx on the list is retried by the toolkit", async () => {
  const done = fakeJob(`training-${HASH_A}-done01`, "Completed", HASH_A);
  const store = withJobs(jobStore());
  fake.sequence("GET", JOBS_PATH, [
    { status: 503, body: { error: { code: "ServiceUnavailable", message: "busy" } } },
    { status: 200, body: { value: [jobResource(done, fake)] } },
  ]);
  const r = await submit(HASH_A);
  expect(r.code).toBe(0);
  expect(fake.count("GET", JOBS_PATH)).toBe(2);
  expect(r.stderr).toContain("HTTP 503");
  expect(store.puts).toHaveLength(0);
  expect(r.json).toMatchObject({ jobName: done.name, reused: true });
});

test.each([
  ["not JSON", "{jobType: Command", "JOB_SPEC is not JSON"],
  [
    "another run hash",
    JSON.stringify(jobSpec(HASH_B)),
    `JOB_SPEC.properties.runHash must equal --run-hash ${HASH_A}`,
  ],
  [
    "neither Command nor Sweep",
    JSON.stringify({ ...jobSpec(HASH_A), jobType: "Pipeline" }),
    'JOB_SPEC.jobType must be "Command" or "Sweep", got "Pipeline"',
  ],
  [
    "a Sweep without a search space",
    JSON.stringify({ ...sweepJobSpec(HASH_A), searchSpace: undefined }),
    "JOB_SPEC.searchSpace is required for a Sweep job (an object)",
  ],
])("bad JOB_SPEC (%s): exit 2 naming the problem, nothing reaches the fake", async (_what, spec, message) => {
  withJobs(jobStore());
  const r = await submit(HASH_A, spec);
  expect(r.code).toBe(2);
  expect(r.stderr).toContain(message);
  expect(r.stderr).toContain("usage: JOB_SPEC='<JSON>' bash scripts/env.sh tsx ops/submit-job.ts");
  expect(fake.requests).toHaveLength(0);
});

const sweepJob = (name: string, status: string, hash: string) => ({
  ...fakeJob(name, status, hash),
  jobType: "Sweep",
});

test("a Sweep spec: listed as jobType=Sweep, submitted with the spec as its properties", async () => {
  // a Completed command job of the same hash is not a sweep: it is neither listed nor reused
  const store = withJobs(jobStore([fakeJob(`training-${HASH_A}-cmd001`, "Completed", HASH_A)]));
  const r = await submit(HASH_A, JSON.stringify(sweepJobSpec(HASH_A)));
  expect(r.code).toBe(0);
  expect(store.puts).toHaveLength(1);
  expect(JSON.parse(store.puts[0].body)).toEqual({ properties: sweepJobSpec(HASH_A) });
  const list = fake.requests.find((q) => q.method === "GET" && q.path === JOBS_PATH)!;
  expect(list.query.get("jobType")).toBe("Sweep");
  expect(r.json).toMatchObject({ status: "NotStarted", reused: false });
  expect(r.json!.jobName).toMatch(new RegExp(`^training-${HASH_A}-[a-z0-9]{6}$`));
  expect(r.stderr).toContain(`looking for sweep jobs of run hash ${HASH_A}`);
  expect(store.jobs.at(-1)!.jobType).toBe("Sweep");
});

test("a Completed sweep of the run hash is reused, also from a list that ignores the type filter", async () => {
  const sweep = sweepJob(`training-${HASH_A}-swp001`, "Completed", HASH_A);
  const command = fakeJob(`training-${HASH_A}-cmd002`, "Completed", HASH_A); // newer, but a command job
  const store = withJobs({ ...jobStore([sweep, command]), ignoreFilter: true });
  const r = await submit(HASH_A, JSON.stringify(sweepJobSpec(HASH_A)));
  expect(r.code).toBe(0);
  expect(store.puts).toHaveLength(0);
  expect(r.json).toMatchObject({ jobName: sweep.name, status: "Completed", reused: true });
  expect(r.stderr).toContain(`reusing job ${sweep.name} (Completed`);
});

test("no secret appears in any output", () => {
  expect(outputs.length).toBeGreaterThan(5);
  for (const o of outputs) for (const s of fake.secrets()) expect(o.stdout + o.stderr).not.toContain(s);
});

describe("helpers", () => {
  const item = (name: string, status: string, runHash: string, createdAt: string): JobItem => ({
    name,
    properties: { status, properties: { runHash } },
    systemData: { createdAt },
  });

  test("chooseJob: newest Completed, else newest active, else submit; other hashes never count", () => {
    const h = HASH_A;
    expect(chooseJob([], h)).toBeUndefined();
    expect(chooseJob([item("x", "Completed", HASH_B, "2026-02-01")], h)).toBeUndefined();
    expect(
      chooseJob([item("f", "Failed", h, "2026-03-01"), item("c", "CancelRequested", h, "2026-03-02")], h),
    ).toBeUndefined();
    const jobs = [
      item("c1", "Completed", h, "2026-01-01T00:00:00Z"),
      item("r", "Queued", h, "2026-05-01T00:00:00Z"),
      item("c2", "Completed", h, "2026-02-01T00:00:00Z"),
    ];
    expect(chooseJob(jobs, h)).toEqual({ action: "reuse", job: jobs[2] });
    expect(chooseJob(jobs.slice(1, 2), h)).toEqual({ action: "follow", job: jobs[1] });
    expect(
      chooseJob([{ name: "n", properties: { status: "Completed", properties: null } }], h),
    ).toBeUndefined();
  });

  test("newJobName: prefix, hash and 6 characters of [a-z0-9]", () => {
    let i = 0;
    expect(newJobName("training", HASH_A, (n) => (i++ * 7) % n)).toBe(`training-${HASH_A}-ahov29`);
    expect(newJobName("training", HASH_A)).toMatch(/^training-3f9c2a1b4d5e-[a-z0-9]{6}$/);
  });

  test("chooseJob: only jobs of the asked type (an item without a type counts as that type)", () => {
    const typed = (name: string, jobType: string, createdAt: string): JobItem => {
      const j = item(name, "Completed", HASH_A, createdAt);
      return { ...j, properties: { ...j.properties, jobType } };
    };
    const sweep = typed("s", "Sweep", "2026-01-01");
    const command = typed("c", "Command", "2026-02-01");
    expect(chooseJob([sweep, command], HASH_A, "Sweep")).toEqual({ action: "reuse", job: sweep });
    expect(chooseJob([sweep, command], HASH_A)).toEqual({ action: "reuse", job: command });
    expect(chooseJob([sweep], HASH_A, "Command")).toBeUndefined();
    const untyped = item("u", "Completed", HASH_A, "2026-03-01");
    expect(chooseJob([untyped], HASH_A, "Sweep")).toEqual({ action: "reuse", job: untyped });
  });

  test("checkJobSpec: a Sweep needs objective, sampling algorithm, search space and trial command", () => {
    const spec = sweepJobSpec(HASH_A);
    expect(checkJobSpec(spec, HASH_A)).toEqual(spec);
    const without = (patch: Record<string, unknown>) => () => checkJobSpec({ ...spec, ...patch }, HASH_A);
    expect(without({ objective: undefined })).toThrow("JOB_SPEC.objective is required for a Sweep job");
    expect(without({ samplingAlgorithm: {} })).toThrow(
      "JOB_SPEC.samplingAlgorithm.samplingAlgorithmType is required",
    );
    expect(without({ searchSpace: {} })).toThrow("JOB_SPEC.searchSpace must name at least one parameter");
    expect(without({ trial: { environmentId: "x" } })).toThrow(
      new UsageError("JOB_SPEC.trial.command is required (a non-empty string)"),
    );
    expect(without({ objective: { primaryMetric: "val_accuracy" } })).toThrow("JOB_SPEC.objective.goal");
    expect(without({ properties: { runHash: HASH_B } })).toThrow(/must equal --run-hash/);
  });

  test("checkJobSpec: Command, command and environment present, run hash equal", () => {
    expect(checkJobSpec(jobSpec(HASH_A), HASH_A)).toEqual(jobSpec(HASH_A));
    expect(() => checkJobSpec({ ...jobSpec(HASH_A), command: "" }, HASH_A)).toThrow(
      new UsageError("JOB_SPEC.command is required (a non-empty string)"),
    );
    expect(() => checkJobSpec({ ...jobSpec(HASH_A), properties: {} }, HASH_A)).toThrow(/got undefined/);
  });
});
