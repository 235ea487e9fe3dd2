import { FakeAzure, type FakeReq, type FakeRes } from "./fake/fakeAzure";
import { runCli, type CliResult } from "./fake/runCli";
import { WS_ID } from "./scenarios";

const COMPUTE = "gnc4ast4v3dk3x9q2";
const COMPUTE_ID = `${WS_ID}/computes/${COMPUTE}`;
const OP_PATH =
  "/subscriptions/x/providers/Microsoft.MachineLearningServices/locations/westeurope/computeOperationsStatus/op7";

const fake = new FakeAzure();
const outputs: CliResult[] = [];
beforeAll(() => fake.start());
afterAll(() => fake.stop());
beforeEach(() => fake.reset());

async function deleteCompute(id = COMPUTE_ID): Promise<CliResult> {
  const r = await runCli("delete-compute", ["--compute-id", id, "--poll-seconds", "0.05"], fake.env());
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
  expect(r.stderr).toContain("usage: tsx ops/delete-compute.ts --compute-id <ARM id>");
  expect(fake.requests).toHaveLength(0);
});

test("no secret appears in any output", () => {
  for (const o of outputs) for (const s of fake.secrets()) expect(o.stdout + o.stderr).not.toContain(s);
});
