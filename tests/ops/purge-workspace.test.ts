import { FakeAzure, type FakeReq } from "./fake/fakeAzure";
import { runCli, type CliResult } from "./fake/runCli";
import { WS, WS_ID } from "./scenarios";

const fake = new FakeAzure();
const outputs: CliResult[] = [];
beforeAll(() => fake.start());
afterAll(() => fake.stop());
beforeEach(() => fake.reset());

async function purge(): Promise<CliResult> {
  const r = await runCli("purge-workspace", ["--workspace-id", WS_ID, "--poll-seconds", "0.05"], fake.env());
  outputs.push(r);
  return r;
}

test("purges a workspace: DELETE with forceToPurge, follows the operation, waits for 404", async () => {
  const deletes: FakeReq[] = [];
  let gone = false;
  fake.sequence("DELETE", WS_ID, [
    { status: 503, body: { error: { code: "ServiceUnavailable", message: "busy" } } },
    (req) => {
      deletes.push(req);
      return {
        status: 202,
        headers: {
          location: `${fake.url}/subscriptions/x/providers/Microsoft.MachineLearningServices/locations/eastus/workspaceOperationsStatus/op9?api-version=2025-12-01&type=location`,
        },
      };
    },
  ]);
  let opPolls = 0;
  fake.on("GET", /workspaceOperationsStatus\/op9$/, () =>
    opPolls++ < 2 ? { status: 202 } : ((gone = true), { status: 200 }),
  );
  let gets = 0;
  fake.on("GET", WS_ID, () =>
    gone && gets++ >= 1
      ? { status: 404, body: { error: { code: "ResourceNotFound", message: "not found" } } }
      : { status: 200, body: { id: WS_ID, name: WS, properties: { provisioningState: "Deleting" } } },
  );
  const r = await purge();
  expect(r.code).toBe(0);
  expect(r.json).toEqual({ workspace: WS, purged: true });
  expect(deletes).toHaveLength(1);
  expect(deletes[0].query.get("forceToPurge")).toBe("true");
  expect(deletes[0].query.get("api-version")).toBe("2025-12-01");
  expect(r.stderr).toContain("HTTP 503");
  expect(r.stderr).toContain("workspace still present (Deleting)");
  expect(r.stderr).toContain(`workspace ${WS} purged`);
});

test("purge of an absent workspace succeeds with purged: false", async () => {
  fake.on("DELETE", WS_ID, {
    status: 404,
    body: { error: { code: "ResourceNotFound", message: `Workspace ${WS} not found` } },
  });
  const r = await purge();
  expect(r.code).toBe(0);
  expect(r.json).toEqual({ workspace: WS, purged: false });
  expect(r.stderr).toContain("does not exist");
});

test("a refused purge fails with the service's message", async () => {
  fake.on("DELETE", WS_ID, {
    status: 403,
    body: {
      error: {
        code: "AuthorizationFailed",
        message:
          "The client does not have authorization to perform action 'Microsoft.MachineLearningServices/workspaces/delete'",
      },
    },
  });
  const r = await purge();
  expect(r.code).toBe(1);
  expect(r.stderr).toContain("AuthorizationFailed");
  expect(r.json).toHaveProperty("error");
});

test("no secret appears in any output", () => {
  expect(outputs.length).toBeGreaterThan(2);
  for (const o of outputs) for (const s of fake.secrets()) expect(o.stdout + o.stderr).not.toContain(s);
});
