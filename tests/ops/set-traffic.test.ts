import { FakeAzure } from "./fake/fakeAzure";
import {
  canaryTraffic,
  putBody,
  rollbackTraffic,
  scaleShares,
  servingBesides,
} from "../../lib/azureml/traffic";
import { FakeEndpoint } from "./fake/endpoints";
import { runCli, type CliResult } from "./fake/runCli";
import { WS_ID } from "./scenarios";

const fake = new FakeAzure();
const outputs: CliResult[] = [];
beforeAll(() => fake.start());
afterAll(() => fake.stop());
beforeEach(() => fake.reset());

const EP = "mnist-ab12cd";
const EP_ID = `${WS_ID}/onlineEndpoints/${EP}`;
const UAI =
  "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/ep-id";

/**
 * The endpoint (tests/ops/fake/endpoints.ts) with deployments dold and dnew, dnew mirrored at 10 %: a PUT is
 * accepted (201 + Azure-AsyncOperation) and becomes visible on GET only after `lag` further reads.
 */
function installEndpoint(
  traffic: Record<string, number>,
  opts: {
    lag?: number;
    conflicts?: number;
    mirrorTraffic?: Record<string, number>;
    tags?: Record<string, string>;
  } = {},
) {
  const deployments = { dold: "right", dnew: "right" } as const;
  return new FakeEndpoint(fake, WS_ID, EP, {
    traffic,
    mirrorTraffic: { dnew: 10 },
    deployments,
    ...opts,
  }).install();
}

async function setTraffic(args: string[]): Promise<CliResult> {
  const r = await runCli(
    "set-traffic",
    ["--endpoint-id", EP_ID, "--poll-seconds", "0.05", ...args],
    fake.env(),
  );
  outputs.push(r);
  return r;
}

test("sets 100 % on the deployment, keeping the other fields, and waits out the read lag", async () => {
  const state = installEndpoint({ dold: 100 }, { lag: 3 });
  const r = await setTraffic(["--deployment", "dnew"]);
  expect(r.code).toBe(0);
  expect(r.json).toEqual({ endpoint: EP, traffic: { dnew: 100 }, changed: true });
  expect(state.puts).toHaveLength(1);
  const put = state.puts[0].body as { properties: object; identity: object };
  expect(put).toMatchObject({ location: "westeurope", kind: "Managed", tags: { stack: "dev" } });
  expect(put.identity).toEqual({
    type: "SystemAssigned,UserAssigned",
    userAssignedIdentities: { [UAI]: {} },
  });
  expect(put.properties).toMatchObject({
    authMode: "Key",
    description: "MNIST digits",
    publicNetworkAccess: "Enabled",
    traffic: { dnew: 100 },
  });
  // toMatchObject would take any mirror: the mirror is written, and empty
  expect((put.properties as { mirrorTraffic?: unknown }).mirrorTraffic).toEqual({});
  // the write records which deployment serves (what a later rollout goes back to)
  expect(put).toMatchObject({ tags: { stack: "dev", rolloutServing: "dnew" } });
  for (const ro of ["provisioningState", "scoringUri", "swaggerUri"])
    expect(put.properties).not.toHaveProperty(ro);
  expect(put).not.toHaveProperty("systemData");
  expect(r.stderr).toContain("endpoint still reports dold=100");
  expect(r.stderr).toContain("reports dnew=100");
});

test("409 while the endpoint is updating, then success", async () => {
  const state = installEndpoint({}, { conflicts: 2 });
  const r = await setTraffic(["--deployment", "dnew"]);
  expect(r.code).toBe(0);
  expect(state.puts).toHaveLength(3);
  expect(r.stderr).toContain("409 Conflict");
  expect(r.json).toEqual({ endpoint: EP, traffic: { dnew: 100 }, changed: true });
});

test("already at 100 % and recorded as serving: no PUT", async () => {
  const state = installEndpoint({ dnew: 100 }, { mirrorTraffic: {}, tags: { rolloutServing: "dnew" } });
  const r = await setTraffic(["--deployment", "dnew"]);
  expect(r.code).toBe(0);
  expect(state.puts).toHaveLength(0);
  expect(r.json).toMatchObject({ changed: false });
});

test("at 100 % but with a stale mirror or no record: one PUT ends the mirror and writes the record", async () => {
  const state = installEndpoint({ dnew: 100 }, { mirrorTraffic: { dold: 10 } });
  const r = await setTraffic(["--deployment", "dnew"]);
  expect(r.code).toBe(0);
  expect(state.puts.map((p) => [p.traffic, p.mirrorTraffic])).toEqual([[{ dnew: 100 }, {}]]);
  expect(state.tags).toMatchObject({ rolloutServing: "dnew" });
});

test("--delete moves traffic off its deployment when it still holds it", async () => {
  const state = installEndpoint({ dnew: 100, dold: 0 }, { tags: { rolloutServing: "dnew" } });
  const r = await setTraffic(["--deployment", "dnew", "--delete"]);
  expect(r.code).toBe(0);
  expect(state.puts[0].traffic).toEqual({});
  expect(r.json).toEqual({ endpoint: EP, traffic: {}, changed: true });
  // the record never names a deployment that no longer serves
  expect(state.tags).not.toHaveProperty("rolloutServing");
});

test("--delete is a no-op when another deployment took the traffic (blue/green)", async () => {
  const state = installEndpoint({ dold: 0, dnew: 100 });
  const r = await setTraffic(["--deployment", "dold", "--delete"]);
  expect(r.code).toBe(0);
  expect(state.puts).toHaveLength(0);
  expect(r.json).toEqual({ endpoint: EP, traffic: { dnew: 100 }, changed: false });
  expect(r.stderr).toContain("holds no traffic");
});

test("--delete on a gone endpoint is a no-op", async () => {
  fake.on("GET", EP_ID, { status: 404, body: { error: { code: "ResourceNotFound", message: "not found" } } });
  const r = await setTraffic(["--deployment", "dnew", "--delete"]);
  expect(r.code).toBe(0);
  expect(r.json).toEqual({ endpoint: EP, traffic: {}, changed: false });
});

test("a PUT the service rejects fails with its message", async () => {
  installEndpoint({});
  fake.on("PUT", EP_ID, {
    status: 400,
    body: { error: { code: "UserError", message: "Deployment dnew not found" } },
  });
  const r = await setTraffic(["--deployment", "dnew"]);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain("HTTP 400 UserError: Deployment dnew not found");
  expect(r.json).toHaveProperty("error");
});

test("a failed update operation fails with its error", async () => {
  installEndpoint({});
  fake.on("GET", /mfeOperationsStatus\/ep-op$/, {
    status: 200,
    body: {
      status: "Failed",
      error: { code: "BadArgument", message: "Traffic values must sum to 0 or 100" },
    },
  });
  const r = await setTraffic(["--deployment", "dnew"]);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain(
    "endpoint mnist-ab12cd update failed: BadArgument: Traffic values must sum to 0 or 100",
  );
});

test("no secret appears in any output", () => {
  expect(outputs.length).toBeGreaterThan(5);
  for (const o of outputs) for (const s of fake.secrets()) expect(o.stdout + o.stderr).not.toContain(s);
});

describe("lib/azureml/traffic helpers (pure)", () => {
  test("scaleShares: whole percents summing to the total, largest remainder first", () => {
    expect(
      scaleShares(
        [
          ["a", 1],
          ["b", 1],
          ["c", 1],
        ],
        100,
      ),
    ).toEqual({ a: 34, b: 33, c: 33 });
    expect(
      scaleShares(
        [
          ["a", 70],
          ["b", 30],
        ],
        90,
      ),
    ).toEqual({ a: 63, b: 27 });
    expect(scaleShares([["a", 0]], 90)).toEqual({ a: 0 });
  });
  test("servingBesides: the others with live traffic", () => {
    expect(servingBesides({ a: 90, b: 10, c: 0, d: 0 }, "b")).toEqual(["a"]);
    expect(servingBesides({ b: 100 }, "b")).toEqual([]);
    expect(servingBesides(undefined, "b")).toEqual([]);
  });
  test("canary and rollback splits", () => {
    expect(canaryTraffic({ a: 100 }, "n", 10)).toEqual({ a: 90, n: 10 });
    expect(canaryTraffic({ a: 100, old: 0 }, "n", 99)).toEqual({ a: 1, old: 0, n: 99 });
    expect(rollbackTraffic({ a: 90, n: 10 }, "n")).toEqual({ a: 100, n: 0 });
  });
  test("putBody with an explicit mirror: set as given, without a deployment going live, no zero entries", () => {
    const ep = { location: "l", properties: { traffic: { a: 100 }, mirrorTraffic: { old: 5 } } };
    // a deployment named at 0 in `traffic` while mirrored would be in both maps, which the service refuses
    expect(putBody(ep, { a: 100, n: 0 }, { n: 20 }).properties).toEqual({
      traffic: { a: 100 },
      mirrorTraffic: { n: 20 },
    });
    expect(putBody(ep, { a: 0, n: 100 }, { n: 20 }).properties?.mirrorTraffic).toEqual({});
    expect(putBody(ep, { a: 0, n: 100 }).properties?.mirrorTraffic).toEqual({ old: 5 });
  });
});
