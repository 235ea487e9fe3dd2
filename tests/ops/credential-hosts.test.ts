/**
 * The ARM token goes to the ARM endpoint's origin (and Azure ML's own service hosts) only. Each probe points a URL
 * that an answer names (`nextLink`, `Azure-AsyncOperation`, `Location`, the workspace's `mlFlowTrackingUri`) at a
 * second fake on another origin: the CLI must fail with a clear error, and that second fake must never see a request
 * carrying a bearer token. Without the origin checks in lib/azure/arm.ts and lib/azureml/runHistory.ts, each probe hands the
 * second fake a token the first one issued.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { FakeEndpoint } from "./fake/endpoints";
import { FakeAzure } from "./fake/fakeAzure";
import { runCli, type CliResult } from "./fake/runCli";
import { JOB_ID, WS_ID, jobBody, installMetrics } from "./scenarios";

const fake = new FakeAzure();
/** Another origin (another port): a host an attacker or a misbehaving proxy could name in an answer. */
const other = new FakeAzure();
const outputs: CliResult[] = [];
beforeAll(async () => {
  await fake.start();
  await other.start();
});
afterAll(async () => {
  await fake.stop();
  await other.stop();
});
beforeEach(() => {
  fake.reset();
  other.reset();
  // Whatever arrives there is logged; answer it like a server that took the token.
  other.on("GET", /.*/, { status: 200, body: { value: [], status: "Succeeded" } }, { open: true });
  other.on("POST", /.*/, { status: 200, body: {} }, { open: true });
});

/** Both fakes' CAs are trusted by the child (one file may hold several certificates). */
function env(): NodeJS.ProcessEnv {
  return fake.env({ NODE_EXTRA_CA_CERTS: caBundle() });
}

let bundle = "";
function caBundle(): string {
  if (!bundle) {
    bundle = path.join(path.dirname(fake.caFile), "both-cas.pem");
    fs.writeFileSync(bundle, fs.readFileSync(fake.caFile, "utf8") + fs.readFileSync(other.caFile, "utf8"));
  }
  return bundle;
}

async function run(name: string, args: string[]): Promise<CliResult> {
  const r = await runCli(name, args, env());
  outputs.push(r);
  return r;
}

function expectNoTokenThere(): void {
  expect(other.requests.filter((q) => q.headers.authorization !== undefined)).toEqual([]);
  expect(other.requests).toHaveLength(0);
}

function endpoint(traffic: Record<string, number>, names: string[]): FakeEndpoint {
  const deployments = Object.fromEntries(names.map((n) => [n, "right" as const]));
  return new FakeEndpoint(fake, WS_ID, "mnist-hosts", { traffic, deployments }).install();
}

test("nextLink on another origin: refused, the other host gets no token", async () => {
  const ep = endpoint({ dnew: 100 }, ["dnew", "dold"]);
  fake.on("GET", `${ep.id}/deployments`, {
    status: 200,
    body: { value: [], nextLink: `${other.url}${ep.id}/deployments?api-version=2025-12-01&$skipToken=2` },
  });
  const r = await run("retire-deployments", [
    "--endpoint-id",
    ep.id,
    "--keep",
    "dnew",
    "--poll-seconds",
    "0.05",
  ]);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain("refusing to follow the nextLink URL");
  expect(r.stderr).toContain(`not on the ARM endpoint ${fake.url}`);
  expectNoTokenThere();
});

test("Location on another origin (a deployment's DELETE): refused, the other host gets no token", async () => {
  const ep = endpoint({ dnew: 100 }, ["dnew", "dold"]);
  fake.on("DELETE", `${ep.id}/deployments/dold`, {
    status: 202,
    headers: { location: `${other.url}/subscriptions/x/operationResults/del-dold?api-version=2025-12-01` },
  });
  const r = await run("retire-deployments", [
    "--endpoint-id",
    ep.id,
    "--keep",
    "dnew",
    "--poll-seconds",
    "0.05",
  ]);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain("refusing to follow the Location URL");
  expectNoTokenThere();
});

test("Azure-AsyncOperation on another origin (set-traffic's PUT): refused, the other host gets no token", async () => {
  const ep = endpoint({ dold: 100 }, ["dold", "dnew"]);
  fake.on("PUT", ep.id, () => ({
    status: 201,
    headers: {
      "azure-asyncoperation": `${other.url}/subscriptions/x/mfeOperationsStatus/op?api-version=2025-12-01`,
    },
    body: ep.body(),
  }));
  const r = await run("set-traffic", [
    "--endpoint-id",
    ep.id,
    "--deployment",
    "dnew",
    "--poll-seconds",
    "0.05",
  ]);
  expect(r.code).not.toBe(0);
  expect(r.stderr).toContain("refusing to follow the Azure-AsyncOperation URL");
  expectNoTokenThere();
});

test("a workspace whose mlFlowTrackingUri names another host: refused, the other host gets no token", async () => {
  fake.on("GET", JOB_ID, jobBody("Completed"));
  fake.on("GET", WS_ID, {
    status: 200,
    body: {
      id: WS_ID,
      location: "eastus",
      properties: { mlFlowTrackingUri: `azureml://${other.url.slice(8)}/mlflow/v1.0${WS_ID}` },
    },
  });
  installMetrics(other, { test_accuracy: 0.99 });
  const r = await run("wait-for-job", [
    "--job-id",
    JOB_ID,
    "--poll-seconds",
    "0.05",
    "--min-accuracy",
    "0.9",
  ]);
  expect(r.code).not.toBe(0);
  expect(r.stderr).toContain(`refusing the workspace's MLflow tracking host ${other.url.slice(8)}`);
  expectNoTokenThere();
});

test("the ARM endpoint's own origin still gets every follow-up (the fake's LRO and paging URLs)", async () => {
  const ep = endpoint({ dnew: 100 }, ["dnew", "dold"]);
  const r = await run("retire-deployments", [
    "--endpoint-id",
    ep.id,
    "--keep",
    "dnew",
    "--poll-seconds",
    "0.05",
  ]);
  expect(r.code).toBe(0);
  expect(ep.deleted).toEqual(["dold"]);
  expectNoTokenThere();
});

test("a token for another audience is refused by ARM (401 InvalidAuthenticationTokenAudience), and the CLI fails", async () => {
  fake.on("GET", JOB_ID, jobBody("Completed"));
  // the CLI asks Entra for a storage token where ARM's is needed (AZURE_ARM_SCOPE is read by armScope)
  const r = await runCli(
    "wait-for-job",
    ["--job-id", JOB_ID, "--poll-seconds", "0.05"],
    fake.env({ NODE_EXTRA_CA_CERTS: caBundle(), AZURE_ARM_SCOPE: "https://storage.azure.com/.default" }),
  );
  outputs.push(r);
  expect(r.code).not.toBe(0);
  expect(r.stderr).toContain("InvalidAuthenticationTokenAudience");
  expect(fake.issued.map((t) => t.aud)).toContain("https://storage.azure.com");
  // the client asked for a fresh token twice (the refresh cap), and ARM refused each
  expect(fake.count("GET", JOB_ID)).toBe(3);
  expectNoTokenThere();
});

test("no secret appears in any output", () => {
  expect(outputs.length).toBeGreaterThan(4);
  for (const o of outputs)
    for (const s of [...fake.secrets(), ...other.secrets()]) expect(o.stdout + o.stderr).not.toContain(s);
});
