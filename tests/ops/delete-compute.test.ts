import { FakeAzure, type FakeReq, type FakeRes } from "./fake/fakeAzure";
import { fakeJob, installJobs, JOBS_PATH, jobStore, type JobStore } from "./fake/jobs";
import { runCli, type CliResult } from "./fake/runCli";
import { WS_ID } from "./scenarios";
import { activeOn } from "../../ops/delete-compute";

const COMPUTE = "gnc4ast4v3dk3x9q2";
const COMPUTE_ID = `${WS_ID}/computes/${COMPUTE}`;
const OP_PATH =
  "/subscriptions/x/providers/Microsoft.MachineLearningServices/locations/westeurope/computeOperationsStatus/op7";

const fake = new FakeAzure();
const outputs: CliResult[] = [];
beforeAll(() => fake.start());
afterAll(() => fake.stop());
let store: JobStore;
beforeEach(() => {
  fake.reset();
  // the workspace's jobs: none unless a test adds some
  store = jobStore();
  installJobs(fake, store);
});

async function deleteCompute(id = COMPUTE_ID, args: string[] = []): Promise<CliResult> {
  const r = await runCli(
    "delete-compute",
    ["--compute-id", id, "--poll-seconds", "0.05", ...args],
    fake.env(),
  );
  outputs.push(r);
  return r;
}

const computeBody = (state: string): FakeRes => ({
  status: 200,
  body: {
    id: COMPUTE_ID,
    name: COMPUTE,
    type: "Microsoft.MachineLearningServices/workspaces/computes",
    properties: { computeType: "AmlCompute", provisioningState: state },
  },
});
const notFound: FakeRes = {
  status: 404,
  body: { error: { code: "ResourceNotFound", message: `Compute ${COMPUTE} not found` } },
};

/** 202 with both LRO headers, as examples/Compute/delete.json shows; the async operation ends in `final`. */
function acceptDelete(deletes: FakeReq[], final: FakeRes["body"]): void {
  fake.on("DELETE", COMPUTE_ID, (req) => {
    deletes.push(req);
    return {
      status: 202,
      headers: {
        "azure-asyncoperation": `${fake.url}${OP_PATH}?api-version=2025-12-01&type=async`,
        location: `${fake.url}${OP_PATH}?api-version=2025-12-01&type=location`,
      },
    };
  });
  fake.sequence("GET", OP_PATH, [
    { status: 200, body: { status: "InProgress" } },
    { status: 200, body: final },
  ]);
}

test("deletes with underlyingResourceAction=Delete, follows the operation, waits for 404", async () => {
  const deletes: FakeReq[] = [];
  acceptDelete(deletes, { status: "Succeeded" });
  fake.sequence("GET", COMPUTE_ID, [computeBody("Deleting"), notFound]);
  const r = await deleteCompute();
  expect(r.code).toBe(0);
  expect(r.json).toEqual({ compute: COMPUTE, deleted: true });
  expect(deletes.map((d) => Object.fromEntries(d.query))).toEqual([
    { "api-version": "2025-12-01", underlyingResourceAction: "Delete" },
  ]);
  expect(fake.count("GET", OP_PATH)).toBe(2);
  expect(r.stderr).toContain("InProgress");
  expect(r.stderr).toContain("compute still present (Deleting)");
  expect(r.stderr).toContain(`compute ${COMPUTE} deleted`);
});

test("a cluster already gone is a success with deleted: false", async () => {
  fake.on("DELETE", COMPUTE_ID, notFound);
  const r = await deleteCompute();
  expect(r.code).toBe(0);
  expect(r.json).toEqual({ compute: COMPUTE, deleted: false });
  expect(r.stderr).toContain("does not exist");
  expect(fake.count("GET", COMPUTE_ID)).toBe(0);
});

test("409 (the cluster is busy) is retried, then the delete goes through", async () => {
  const deletes: FakeReq[] = [];
  fake.sequence("DELETE", COMPUTE_ID, [
    {
      status: 409,
      body: { error: { code: "Conflict", message: "Compute is being resized; try again later" } },
    },
    (req) => (deletes.push(req), { status: 200 }),
  ]);
  fake.on("GET", COMPUTE_ID, notFound);
  const r = await deleteCompute();
  expect(r.code).toBe(0);
  expect(r.json).toEqual({ compute: COMPUTE, deleted: true });
  expect(fake.count("DELETE", COMPUTE_ID)).toBe(2);
  expect(deletes[0].query.get("underlyingResourceAction")).toBe("Delete");
  expect(r.stderr).toContain("409 Conflict");
});

test("a failed delete operation fails with the service's error", async () => {
  acceptDelete([], {
    status: "Failed",
    error: { code: "ComputeDeleteFailed", message: "Nodes are still running a job" },
  });
  fake.on("GET", COMPUTE_ID, computeBody("Deleting"));
  const r = await deleteCompute();
  expect(r.code).toBe(1);
  expect(r.stderr).toContain("ComputeDeleteFailed: Nodes are still running a job");
  expect(String(r.json?.error)).toContain("failed");
  expect(fake.count("GET", COMPUTE_ID)).toBe(0);
});

test("an id that is not .../computes/<name> is a usage error before any request", async () => {
  const r = await deleteCompute(`${WS_ID}/jobs/${COMPUTE}`);
  expect(r.code).toBe(2);
  expect(r.stderr).toContain("computes/<name>");
  expect(r.stderr).toContain("usage: bash scripts/env.sh tsx ops/delete-compute.ts --compute-id <ARM id>");
  expect(fake.requests).toHaveLength(0);
});

/** A job of the store on `compute` (a cluster's ARM id). */
const jobOn = (name: string, status: string, compute: string) => ({
  ...fakeJob(name, status, "3f9c2a1b4d5e"),
  computeId: compute,
});

test("regression #7 (destroy left a training job running): jobs still active on the cluster are canceled (Jobs_Cancel) and stopped before the delete", async () => {
  const running = jobOn("training-run001", "Running", COMPUTE_ID);
  // ARM ids compare case-insensitively; a sweep is canceled as a whole
  const queued = { ...jobOn("training-swp002", "Queued", COMPUTE_ID.toLowerCase()), jobType: "Sweep" };
  const done = jobOn("training-done03", "Completed", COMPUTE_ID);
  const elsewhere = jobOn("training-other4", "Running", `${WS_ID}/computes/cpu-cluster`);
  store.jobs.push(running, done, elsewhere, queued);
  store.pageSize = 2; // the list is read over two pages
  const deletes: FakeReq[] = [];
  acceptDelete(deletes, { status: "Succeeded" });
  fake.on("GET", COMPUTE_ID, notFound);
  const r = await deleteCompute();
  expect(r.code).toBe(0);
  expect(r.json).toEqual({ compute: COMPUTE, deleted: true });
  expect(store.cancels).toEqual([running.name, queued.name]);
  expect([done.status, elsewhere.status]).toEqual(["Completed", "Running"]);
  expect([running.status, queued.status]).toEqual(["Canceled", "Canceled"]);
  // the whole list (no server-side compute filter exists), then every cancel and its operation, then the delete
  const lists = fake.requests.filter((q) => q.method === "GET" && q.path === JOBS_PATH);
  expect(lists).toHaveLength(2);
  expect(lists[0].query.get("listViewType")).toBe("All");
  expect(lists[0].query.get("api-version")).toBe("2025-12-01");
  const at = (method: string, re: RegExp) =>
    fake.requests.findIndex((q) => q.method === method && re.test(q.path));
  expect(at("POST", /\/cancel$/)).toBeGreaterThan(at("GET", new RegExp(`^${JOBS_PATH}$`)));
  expect(at("GET", /mfeOperationResults/)).toBeGreaterThan(at("POST", /\/cancel$/));
  expect(at("DELETE", /computes/)).toBeGreaterThan(at("GET", new RegExp(`^${JOBS_PATH}/training-swp002$`)));
  expect(r.stderr).toContain(`canceling 2 active job(s): ${running.name} Running, ${queued.name} Queued`);
  expect(r.stderr).toContain(`cancel of job ${running.name} accepted (HTTP 202)`);
  expect(r.stderr).toContain(`job ${queued.name} Canceled`);
  expect(deletes).toHaveLength(1);
});

test("a refused cancel and a job that keeps stopping do not block the delete", async () => {
  const refused = jobOn("training-paus01", "Paused", COMPUTE_ID);
  const slow = jobOn("training-slow02", "Running", COMPUTE_ID);
  store.jobs.push(refused, slow);
  store.refuseCancel = [refused.name];
  // Jobs_Cancel accepted, but the job stays CancelRequested past --cancel-timeout-minutes
  fake.on("GET", `${JOBS_PATH}/${slow.name}`, () => ({
    status: 200,
    body: { id: `${JOBS_PATH}/${slow.name}`, name: slow.name, properties: { status: "CancelRequested" } },
  }));
  fake.on("DELETE", COMPUTE_ID, { status: 200 });
  fake.on("GET", COMPUTE_ID, notFound);
  const r = await deleteCompute(COMPUTE_ID, ["--cancel-timeout-minutes", "0.005"]);
  expect(r.code).toBe(0);
  expect(r.json).toEqual({ compute: COMPUTE, deleted: true });
  expect(store.cancels).toEqual([slow.name]);
  expect(r.stderr).toContain(`could not cancel job ${refused.name}: `);
  expect(r.stderr).toContain("cannot be canceled in its state.; deleting the compute anyway");
  expect(r.stderr).toMatch(
    new RegExp(
      `still stopping after \\d+s \\(--cancel-timeout-minutes\\): ${slow.name} CancelRequested; deleting the compute anyway`,
    ),
  );
  expect(fake.count("DELETE", COMPUTE_ID)).toBe(1);
});

test("activeOn: the cluster's id in any case, active statuses only", () => {
  const job = (status: string, computeId?: string) => ({ name: "j", properties: { status, computeId } });
  expect(activeOn(job("Running", COMPUTE_ID.toUpperCase()), COMPUTE_ID)).toBe(true);
  expect(activeOn(job("Preparing", `${COMPUTE_ID}/`), COMPUTE_ID)).toBe(true);
  expect(
    ["Completed", "Failed", "Canceled", "CancelRequested"].map((s) =>
      activeOn(job(s, COMPUTE_ID), COMPUTE_ID),
    ),
  ).toEqual([false, false, false, false]);
  expect(activeOn(job("Running", `${COMPUTE_ID}x`), COMPUTE_ID)).toBe(false);
  expect(activeOn(job("Running"), COMPUTE_ID)).toBe(false);
});

test("no secret appears in any output", () => {
  expect(outputs.length).toBeGreaterThan(3);
  for (const o of outputs) for (const s of fake.secrets()) expect(o.stdout + o.stderr).not.toContain(s);
});
