/**
 * The serving steps that replace azure-native resources, against the fake ARM (tests/ops/fake/endpoints.ts, which
 * refuses what the service refuses): ensure-endpoint (create, reuse, inputs written with the live traffic, delete),
 * ensure-deployment (create, reuse without a PUT, follow, a failed provisioning deleted) and ensure-model (reuse or
 * register, never delete).
 */
import { FakeEndpoint } from "./fake/endpoints";
import { MODEL_VERSION, check } from "./fake/schemas";
import { FakeAzure } from "./fake/fakeAzure";
import { runCli, type CliResult } from "./fake/runCli";
import { WS_ID } from "./scenarios";

const fake = new FakeAzure();
const outputs: CliResult[] = [];
beforeAll(() => fake.start());
afterAll(() => fake.stop());
beforeEach(() => fake.reset());

const SPEC = {
  location: "westeurope",
  kind: "Managed",
  identity: { type: "SystemAssigned" },
  properties: { authMode: "Key", publicNetworkAccess: "Enabled", description: "MNIST digits" },
  tags: { stack: "dev" },
};

async function ensureEndpoint(ep: FakeEndpoint, spec: object = SPEC, extra: string[] = []) {
  const r = await runCli(
    "ensure-endpoint",
    ["--endpoint-id", ep.id, "--poll-seconds", "0.05", ...extra],
    fake.env({ ENDPOINT_SPEC: JSON.stringify(spec) }),
  );
  outputs.push(r);
  return r;
}

describe("ensure-endpoint", () => {
  test("absent: created without traffic, then its scoring URI is printed", async () => {
    const ep = new FakeEndpoint(fake, WS_ID, "mnist-new", { traffic: {}, absent: true }).install();
    const r = await ensureEndpoint(ep);
    expect(r.code).toBe(0);
    expect(ep.puts).toHaveLength(1);
    expect(ep.puts[0].body.properties).not.toHaveProperty("traffic");
    expect(r.json).toMatchObject({
      name: "mnist-new",
      created: true,
      updated: false,
      authMode: "Key",
      scoringUri: "https://mnist-new.westeurope.inference.ml.azure.com/score",
    });
  });

  test("present with the same inputs: nothing is sent", async () => {
    const ep = new FakeEndpoint(fake, WS_ID, "mnist-same", {
      traffic: { dold: 100 },
      identityType: "SystemAssigned",
    }).install();
    const r = await ensureEndpoint(ep);
    expect(r.code).toBe(0);
    expect(ep.puts).toHaveLength(0);
    expect(r.json).toMatchObject({ created: false, updated: false });
  });

  test("regression #5: an input change (tags, auth mode) is written WITH the live traffic, mirror and rollout record", async () => {
    const ep = new FakeEndpoint(fake, WS_ID, "mnist-tags", {
      traffic: { dold: 90, dnew: 10 },
      mirrorTraffic: { dmir: 20 },
      deployments: { dold: "right", dnew: "right", dmir: "right" },
      tags: { rolloutServing: "dold", rolloutIntent: "dnew canary 10" },
      identityType: "SystemAssigned",
    }).install();
    const r = await ensureEndpoint(ep, {
      ...SPEC,
      properties: { ...SPEC.properties, authMode: "AMLToken" },
      tags: { stack: "dev", owner: "me" },
    });
    expect(r.code).toBe(0);
    expect(ep.puts).toHaveLength(1);
    const body = ep.puts[0].body as { tags: object; properties: Record<string, unknown> };
    expect(body.properties).toMatchObject({
      authMode: "AMLToken",
      traffic: { dold: 90, dnew: 10 },
      mirrorTraffic: { dmir: 20 },
    });
    expect(body.tags).toEqual({
      stack: "dev",
      owner: "me",
      rolloutServing: "dold",
      rolloutIntent: "dnew canary 10",
    });
    expect(ep.traffic).toEqual({ dold: 90, dnew: 10 });
    expect(r.json).toMatchObject({ updated: true, authMode: "AMLToken" });
  });

  test("--delete: the endpoint goes (with its deployments); a second delete finds nothing", async () => {
    const ep = new FakeEndpoint(fake, WS_ID, "mnist-del", { traffic: { dold: 100 } }).install();
    const r = await runCli(
      "ensure-endpoint",
      ["--endpoint-id", ep.id, "--delete", "--poll-seconds", "0.05"],
      fake.env(),
    );
    outputs.push(r);
    expect(r.code).toBe(0);
    expect(r.json).toEqual({ name: "mnist-del", deleted: true });
    expect(ep.exists).toBe(false);
    const again = await runCli("ensure-endpoint", ["--endpoint-id", ep.id, "--delete"], fake.env());
    outputs.push(again);
    expect(again.json).toEqual({ name: "mnist-del", deleted: false });
  });

  test("a spec that sets traffic is refused before any request (the rollout steps own it)", async () => {
    const ep = new FakeEndpoint(fake, WS_ID, "mnist-bad", { traffic: {} }).install();
    const r = await ensureEndpoint(ep, { ...SPEC, properties: { ...SPEC.properties, traffic: { a: 100 } } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("ENDPOINT_SPEC must not set traffic");
    expect(fake.requests.filter((q) => q.path.includes("onlineEndpoints"))).toHaveLength(0);
  });
});

const DEPLOYMENT_SPEC = {
  location: "westeurope",
  kind: "Managed",
  sku: { name: "Default", capacity: 1 },
  properties: {
    endpointComputeType: "Managed",
    instanceType: "Standard_DS2_v2",
    model: `${WS_ID}/models/mnist-cnn/versions/abc`,
  },
  tags: { stack: "dev" },
};

async function ensureDeployment(ep: FakeEndpoint, dep: string, extra: string[] = []) {
  const r = await runCli(
    "ensure-deployment",
    ["--endpoint-id", ep.id, "--deployment", dep, "--poll-seconds", "0.05", ...extra],
    fake.env({ DEPLOYMENT_SPEC: JSON.stringify(DEPLOYMENT_SPEC) }),
  );
  outputs.push(r);
  return r;
}

describe("ensure-deployment", () => {
  test("absent: PUT, followed through Creating until Succeeded", async () => {
    const ep = new FakeEndpoint(fake, WS_ID, "mnist-dep", {
      traffic: { dold: 100 },
      provisioningPolls: 2,
    }).install();
    const r = await ensureDeployment(ep, "dnew");
    expect(r.code).toBe(0);
    expect(ep.deploymentPuts.map((p) => p.name)).toEqual(["dnew"]);
    expect(r.stderr).toContain("Creating");
    expect(r.json).toMatchObject({ name: "dnew", provisioningState: "Succeeded", reused: false });
    // the serving deployment is untouched
    expect(ep.traffic).toEqual({ dold: 100 });
  });

  test("regression #2 and #10: a deployment of the same name that serves is reused without any PUT (a revert never collides; an autoscaled capacity is never reset)", async () => {
    const ep = new FakeEndpoint(fake, WS_ID, "mnist-dep", { traffic: { dold: 100 } }).install();
    const r = await ensureDeployment(ep, "dold");
    expect(r.code).toBe(0);
    expect(ep.deploymentPuts).toHaveLength(0);
    expect(r.json).toMatchObject({ name: "dold", provisioningState: "Succeeded", reused: true });
  });

  test("regression #9: a failed provisioning prints the log tail, deletes the failed deployment and exits 1; the next run creates it again", async () => {
    const ep = new FakeEndpoint(fake, WS_ID, "mnist-dep", {
      traffic: { dold: 100 },
      failProvisioning: ["dnew"],
    }).install();
    const r = await ensureDeployment(ep, "dnew", ["--log-lines", "5"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("deployment dnew is Failed");
    expect(r.stderr).toContain("inference-server log");
    expect(r.stderr).toContain("whatever served before keeps serving");
    expect(ep.deleted).toEqual(["dnew"]);
    expect(ep.traffic).toEqual({ dold: 100 });
    expect(r.json).toMatchObject({ name: "dnew", provisioningState: "Failed" });
  });

  test("regression #9: once Succeeded, deployments nothing needs (0 %, not serving, not mirrored) are retired, so a revert does not leave a failed one billing", async () => {
    const ep = new FakeEndpoint(fake, WS_ID, "mnist-dep", {
      traffic: { dold: 100 },
      mirrorTraffic: { dmir: 10 },
      deployments: { dold: "right", dfailed: "wrong", dmir: "right" },
      tags: { rolloutServing: "dold" },
    }).install();
    const r = await ensureDeployment(ep, "dold");
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ name: "dold", reused: true, retired: ["dfailed"] });
    expect(ep.deleted).toEqual(["dfailed"]);
    expect(ep.traffic).toEqual({ dold: 100 });
    expect(ep.mirrorTraffic).toEqual({ dmir: 10 });
  });

  test("a DEPLOYMENT_SPEC without endpointComputeType is refused before any request", async () => {
    const ep = new FakeEndpoint(fake, WS_ID, "mnist-dep", { traffic: {} }).install();
    const r = await runCli(
      "ensure-deployment",
      ["--endpoint-id", ep.id, "--deployment", "dnew"],
      fake.env({ DEPLOYMENT_SPEC: JSON.stringify({ location: "westeurope", properties: {} }) }),
    );
    outputs.push(r);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("endpointComputeType");
    expect(ep.deploymentPuts).toHaveLength(0);
  });
});

describe("ensure-model", () => {
  const MODEL_ID = `${WS_ID}/models/mnist-cnn/versions/3f9c2a1b7d4e`;
  const spec = {
    modelType: "custom_model",
    modelUri: "azureml://jobs/training-3f9c2a1b7d4e-abcdef/outputs/model_dir",
    jobName: "training-3f9c2a1b7d4e-abcdef",
    tags: { stack: "dev" },
  };
  const ensureModel = async () => {
    const r = await runCli(
      "ensure-model",
      ["--workspace-id", WS_ID, "--name", "mnist-cnn", "--version", "3f9c2a1b7d4e"],
      fake.env({ MODEL_SPEC: JSON.stringify(spec) }),
    );
    outputs.push(r);
    return r;
  };

  test("regression #3: absent → registered; present → reused; never a DELETE", async () => {
    let exists = false;
    const puts: unknown[] = [];
    fake.on("GET", MODEL_ID, () =>
      exists ? { status: 200, body: { id: MODEL_ID, properties: spec } } : { status: 404, body: {} },
    );
    fake.on("PUT", MODEL_ID, (req) => {
      puts.push(JSON.parse(req.body));
      // ModelVersions_CreateOrUpdate takes a ModelVersionResource of 2025-12-01 (fake/schemas.ts)
      const refused = check(MODEL_VERSION, JSON.parse(req.body));
      if (refused) return refused;
      exists = true;
      return { status: 201, body: { id: MODEL_ID } };
    });
    const first = await ensureModel();
    expect(first.code).toBe(0);
    expect(first.json).toEqual({ id: MODEL_ID, name: "mnist-cnn", version: "3f9c2a1b7d4e", reused: false });
    expect(puts).toEqual([{ properties: spec }]);
    const again = await ensureModel();
    expect(again.json).toMatchObject({ reused: true });
    expect(puts).toHaveLength(1);
    expect(fake.requests.filter((q) => q.method === "DELETE")).toHaveLength(0);
  });
});

test("no secret appears in any output", () => {
  const secrets = [fake.clientSecret, ...fake.extraSecrets];
  for (const r of outputs) for (const s of secrets) expect(r.stdout + r.stderr).not.toContain(s);
  expect(outputs.length).toBeGreaterThan(8);
});
