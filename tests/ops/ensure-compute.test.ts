/**
 * ops/ensure-compute.ts against a fake ARM that keeps a workspace's clusters (Compute Get/CreateOrUpdate/List/Delete,
 * ML 2025-12-01 shapes): create, reuse without a PUT (durations the service normalizes compare equal), update of a
 * mutable setting, and removal of the owner's other clusters (a revert to an earlier VM size, or one a failed `up`
 * left), never another owner's.
 */
import { FakeAzure, type FakeReq } from "./fake/fakeAzure";
import { installJobs, jobStore } from "./fake/jobs";
import { runCli, type CliResult } from "./fake/runCli";
import { WS_ID } from "./scenarios";
import { STORAGE_BLOB_DATA_CONTRIBUTOR, roleAssignmentName, settingChanges } from "../../ops/ensure-compute";

const fake = new FakeAzure();
const outputs: CliResult[] = [];
beforeAll(() => fake.start());
afterAll(() => fake.stop());

interface Cluster {
  tags: Record<string, string>;
  properties: Record<string, unknown>;
  state: string;
}

/** The workspace's clusters by name, and the PUTs and DELETEs they got. */
function installComputes(initial: Record<string, Cluster>) {
  const clusters = new Map(Object.entries(initial));
  const puts: Array<{ name: string; body: Record<string, unknown> }> = [];
  const deletes: string[] = [];
  const id = (n: string) => `${WS_ID}/computes/${n}`;
  const body = (n: string, c: Cluster) => ({
    id: id(n),
    name: n,
    type: "Microsoft.MachineLearningServices/workspaces/computes",
    location: "westeurope",
    identity: { type: "SystemAssigned", principalId: "p-1", tenantId: "t-1" },
    tags: c.tags,
    // what the service shows: the settings as it normalizes them (PT120S reads PT2M), plus read-only fields
    properties: { ...c.properties, provisioningState: c.state, createdOn: "2026-12-01T00:00:00Z" },
  });
  const one = new RegExp(`^${WS_ID.replace(/[/.]/g, "\\$&")}/computes/([^/]+)$`);
  fake.on("GET", `${WS_ID}/computes`, () => ({
    status: 200,
    body: { value: [...clusters].map(([n, c]) => body(n, c)) },
  }));
  fake.on("GET", one, (req: FakeReq) => {
    const n = one.exec(req.path)![1];
    const c = clusters.get(n);
    return c ? { status: 200, body: body(n, c) } : { status: 404, body: { error: { code: "NotFound" } } };
  });
  fake.on("PUT", one, (req: FakeReq) => {
    const n = one.exec(req.path)![1];
    const b = JSON.parse(req.body) as { tags: Record<string, string>; properties: Record<string, unknown> };
    puts.push({ name: n, body: b });
    const props = JSON.parse(JSON.stringify(b.properties).replace(/"PT120S"/g, '"PT2M"'));
    clusters.set(n, { tags: b.tags, properties: props, state: "Succeeded" });
    return { status: 201, body: body(n, clusters.get(n)!) };
  });
  fake.on("DELETE", one, (req: FakeReq) => {
    const n = one.exec(req.path)![1];
    if (req.query.get("underlyingResourceAction") !== "Delete") return { status: 400, body: {} };
    deletes.push(n);
    clusters.delete(n);
    return { status: 200 };
  });
  return { clusters, puts, deletes };
}

const props = (vmSize: string, maxNodeCount = 1) => ({
  computeType: "AmlCompute",
  properties: {
    vmSize,
    vmPriority: "Dedicated",
    scaleSettings: { minNodeCount: 0, maxNodeCount, nodeIdleTimeBeforeScaleDown: "PT120S" },
  },
});
const spec = (vmSize: string, maxNodeCount = 1) => ({
  location: "westeurope",
  identity: { type: "SystemAssigned" },
  properties: props(vmSize, maxNodeCount),
  tags: { stack: "dev", clusterOf: "gpu" },
});

async function ensure(name: string, s: object): Promise<CliResult> {
  const r = await runCli(
    "ensure-compute",
    ["--compute-id", `${WS_ID}/computes/${name}`, "--poll-seconds", "0.05"],
    fake.env({ COMPUTE_SPEC: JSON.stringify(s) }),
  );
  outputs.push(r);
  return r;
}

beforeEach(() => {
  fake.reset();
  installJobs(fake, jobStore());
});

test("absent: created; present with the same settings (as the service normalizes them): nothing sent", async () => {
  const f = installComputes({});
  const first = await ensure("gt4", spec("Standard_NC4as_T4_v3"));
  expect(first.code).toBe(0);
  expect(first.json).toMatchObject({ name: "gt4", created: true, updated: false, retired: [] });
  const again = await ensure("gt4", spec("Standard_NC4as_T4_v3"));
  expect(again.json).toMatchObject({ created: false, updated: false });
  expect(f.puts).toHaveLength(1);
});

test("a mutable setting changed (max nodes): written in place", async () => {
  const f = installComputes({});
  await ensure("gt4", spec("Standard_NC4as_T4_v3", 1));
  const r = await ensure("gt4", spec("Standard_NC4as_T4_v3", 4));
  expect(r.json).toMatchObject({ updated: true });
  expect(r.stderr).toContain("properties.properties.scaleSettings.maxNodeCount");
  expect(f.puts).toHaveLength(2);
});

test("regression (found by the fault matrix): a revert to an earlier VM size reuses that cluster and removes the newer one; another component's cluster stays", async () => {
  const f = installComputes({
    gt4: {
      tags: { stack: "dev", clusterOf: "gpu" },
      properties: props("Standard_NC4as_T4_v3"),
      state: "Succeeded",
    },
    gv100: { tags: { clusterOf: "gpu" }, properties: props("Standard_NC6s_v3"), state: "Succeeded" },
    other: { tags: { clusterOf: "gpu2" }, properties: props("Standard_NC6s_v3"), state: "Succeeded" },
  });
  const r = await ensure("gt4", spec("Standard_NC4as_T4_v3"));
  expect(r.code).toBe(0);
  expect(r.json).toMatchObject({ created: false, updated: false, retired: ["gv100"] });
  expect(f.puts).toHaveLength(0);
  expect(f.deletes).toEqual(["gv100"]);
  expect([...f.clusters.keys()].sort()).toEqual(["gt4", "other"]);
});

test("--storage-account-id: the cluster's identity gets Storage Blob Data Contributor under a name derived from the grant; later runs send the same PUT and take its 409 RoleAssignmentExists as the grant in place", async () => {
  installComputes({});
  const account = "/subscriptions/s-1/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/stdev1";
  const grants: FakeReq[] = [];
  let exists = false;
  // as the service answers: 201 for a new grant, 409 RoleAssignmentExists for any PUT of one that exists
  fake.on("PUT", /\/roleAssignments\/[0-9a-f-]+$/, (req) => {
    grants.push(req);
    if (exists)
      return {
        status: 409,
        body: { error: { code: "RoleAssignmentExists", message: "The role assignment already exists." } },
      };
    exists = true;
    return { status: 201, body: {} };
  });
  const run = async () => {
    const r = await runCli(
      "ensure-compute",
      ["--compute-id", `${WS_ID}/computes/gt4`, "--storage-account-id", account, "--poll-seconds", "0.05"],
      fake.env({ COMPUTE_SPEC: JSON.stringify(spec("Standard_NC4as_T4_v3")) }),
    );
    outputs.push(r);
    return r;
  };
  for (let i = 0; i < 3; i++) expect((await run()).code).toBe(0);
  expect(new Set(grants.map((g) => g.path)).size).toBe(1);
  expect(grants[0].path).toBe(
    `${account}/providers/Microsoft.Authorization/roleAssignments/${roleAssignmentName(account, "p-1", STORAGE_BLOB_DATA_CONTRIBUTOR)}`,
  );
  expect(grants[0].query.get("api-version")).toBe("2022-04-01");
  expect(JSON.parse(grants[0].body)).toEqual({
    properties: {
      roleDefinitionId: `/subscriptions/${WS_ID.split("/")[2]}/providers/Microsoft.Authorization/roleDefinitions/ba92f5b4-2d11-453d-a403-e96b0029c9fe`,
      principalId: "p-1",
      principalType: "ServicePrincipal",
    },
  });
});

test("a spec without the owner tag is refused before any request", async () => {
  installComputes({});
  const r = await ensure("gt4", { ...spec("Standard_NC4as_T4_v3"), tags: { stack: "dev" } });
  expect(r.code).toBe(2);
  expect(r.stderr).toContain("COMPUTE_SPEC.tags.clusterOf is required");
  expect(fake.requests.filter((q) => q.path.includes("/computes"))).toHaveLength(0);
});

test("settingChanges (pure): durations compare by value, strings case-insensitively, extra live fields ignored", () => {
  const live = { properties: { vmSize: "STANDARD_NC4AS_T4_V3", idle: "PT2M", extra: 1 } };
  expect(settingChanges(live, { properties: { vmSize: "Standard_NC4as_T4_v3", idle: "PT120S" } })).toEqual(
    [],
  );
  expect(settingChanges(live, { properties: { idle: "PT300S" } })).toEqual(["properties.idle"]);
  expect(settingChanges(live, { properties: { missing: 0 } })).toEqual(["properties.missing"]);
});

test("no secret appears in any output", () => {
  for (const r of outputs) for (const s of fake.secrets()) expect(r.stdout + r.stderr).not.toContain(s);
  expect(outputs.length).toBeGreaterThan(4);
});
