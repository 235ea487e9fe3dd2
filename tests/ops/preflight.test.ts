import { FakeAzure, RG, SUB } from "./fake/fakeAzure";
import {
  LOCATION,
  forbidden,
  installProviders,
  installResourceGroup,
  installUsages,
  installVmSizes,
  scopedUsageRows,
  usageRows,
  vmSizes,
  withRow,
  type FakeWorkspace,
} from "./fake/quota";
import { runCli, type CliResult } from "./fake/runCli";
import { preflightProblems, quotaNeeds } from "../../ops/preflight";

const STACK = "dev";
const DEPLOYMENT = "d-3f9c2a1b7e6d";
const ENDPOINT = "mnist-dev-k3x9q2";
const USAGES = `/subscriptions/${SUB}/providers/Microsoft.MachineLearningServices/locations/${LOCATION}/usages`;

/** The stack's workspace (running an older deployment) beside another stack's, which has the name. */
const workspaces = (deployments = ["d-0a1b2c3d4e5f"]): FakeWorkspace[] => [
  {
    name: "mlw-dev-k3x9q2",
    tags: { project: "azure-ml-mnist", stack: STACK },
    endpoints: { [ENDPOINT]: deployments },
  },
  { name: "mlw-prod-p0q1r2", tags: { stack: "prod" }, endpoints: { "mnist-prod-p0q1r2": [DEPLOYMENT] } },
];

const ARGS: Record<string, string> = {
  "subscription-id": SUB,
  location: LOCATION,
  "gpu-vm-size": "Standard_NC4as_T4_v3",
  "gpu-max-nodes": "1",
  "gpu-low-priority": "false",
  "instance-type": "Standard_DS3_v2",
  "instance-count": "1",
  "resource-group": RG,
  stack: STACK,
  "deployment-name": DEPLOYMENT,
};

const fake = new FakeAzure();
const outputs: CliResult[] = [];
beforeAll(() => fake.start());
afterAll(() => fake.stop());
beforeEach(() => fake.reset());

async function preflight(over: Record<string, string> = {}): Promise<CliResult> {
  const argv = Object.entries({ ...ARGS, ...over }).flatMap(([k, v]) => [`--${k}`, v]);
  const r = await runCli("preflight", argv, fake.env());
  outputs.push(r);
  return r;
}

/** A subscription where everything is registered; the usages and workspaces as given. */
function subscription(
  rows = usageRows(),
  ws: FakeWorkspace[] | null = workspaces(),
  pageSize?: number,
): void {
  installProviders(fake, SUB);
  installUsages(fake, SUB, rows, pageSize);
  installVmSizes(fake, SUB);
  installResourceGroup(fake, SUB, RG, ws);
}

const NEEDS = {
  gpu: { vmSize: "Standard_NC4as_T4_v3", family: "standardNCASv3_T4Family", vCPUs: 4, lowPriority: false },
  deployment: { instanceType: "Standard_DS3_v2", family: "standardDSv2Family", vCPUs: 8 },
};
/** The DSv2 row with 8 in use of 12: no room for a second DS3_v2 deployment's 8. */
const nearlyFull = () =>
  withRow(usageRows(), "Standard DSv2 Family Cluster Dedicated", { currentValue: 8, limit: 12 });

test("enough quota: exit 0 with what the stack needs", async () => {
  subscription();
  const r = await preflight();
  expect(r.code).toBe(0);
  expect(r.json).toEqual({ ok: true, location: LOCATION, needs: NEEDS, deploymentExists: false });
  expect(fake.count("GET", /\/providers\/Microsoft\.[A-Za-z]+$/)).toBe(6);
  for (const q of fake.requests.filter((x) => /\/providers\/Microsoft\.[A-Za-z]+$/.test(x.path)))
    expect(q.query.get("api-version")).toBe("2025-04-01");
  expect(r.stderr).toContain(`deployment ${DEPLOYMENT} does not exist yet`);
});

test("no GPU quota: exit 1 naming the family, the need, the limit and where to get more", async () => {
  subscription(withRow(usageRows(), "Standard NCASv3_T4", { limit: 0 }));
  const r = await preflight();
  expect(r.code).toBe(1);
  const line = r.stderr
    .split("\n")
    .find((l) => l.includes("Standard NCASv3_T4 Family Cluster Dedicated vCPUs"));
  expect(line).toBeDefined();
  for (const s of ["need 4", "limit 0", "az ml compute list-usage"]) expect(line).toContain(s);
  expect(r.stderr).toContain("preflightChecks: false");
  expect(r.json).toMatchObject({
    location: LOCATION,
    error: expect.stringContaining("stack dev does not fit"),
  });
  expect(r.json?.problems).toContainEqual(line!.trim());
});

test("a rollout needs room beside the running deployment", async () => {
  subscription(nearlyFull());
  const r = await preflight();
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(
    /Standard DSv2 Family Cluster Dedicated vCPUs in westeurope: need 8 more .*limit 12, in use 8/,
  );
  expect(fake.count("GET", new RegExp(`/onlineEndpoints/${ENDPOINT}/deployments/${DEPLOYMENT}$`))).toBe(1);
});

test("Azure ML usages rule: a workspace row named like the family row (0 in use) does not hide the subscription's 8", async () => {
  // examples/Usage/list.json: workspace and cluster rows carry the family row's name; only .../vmFamily/usages counts
  subscription(scopedUsageRows());
  const r = await preflight();
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(
    /Standard DSv2 Family Cluster Dedicated vCPUs in westeurope: need 8 more .*limit 12, in use 8/,
  );
});

test("the same with the deployment already running: nothing new to place, exit 0", async () => {
  subscription(nearlyFull(), workspaces(["d-0a1b2c3d4e5f", DEPLOYMENT]));
  const r = await preflight();
  expect(r.code).toBe(0);
  expect(r.json).toMatchObject({ ok: true, deploymentExists: true, needs: { deployment: { vCPUs: 0 } } });
  expect(r.stderr).toContain(`deployment ${DEPLOYMENT} already exists (${ENDPOINT})`);
});

test("unregistered providers: each named with its register command; no quota read before ML is registered", async () => {
  subscription();
  installProviders(fake, SUB, {
    "Microsoft.KeyVault": "NotRegistered",
    "Microsoft.MachineLearningServices": "Unregistered",
  });
  const r = await preflight();
  expect(r.code).toBe(1);
  expect(r.stderr).toContain("az provider register --namespace Microsoft.KeyVault");
  expect(r.stderr).toContain("az provider register --namespace Microsoft.MachineLearningServices");
  expect(r.stderr).toContain("Azure ML quota not checked");
  expect(fake.count("GET", USAGES)).toBe(0);
});

test("usages paged through nextLink: the GPU row on the last page counts", async () => {
  subscription(usageRows(), workspaces(), 2);
  const r = await preflight();
  expect(r.code).toBe(0);
  expect(fake.count("GET", USAGES)).toBe(3);
  expect(r.stderr).toContain("6 Azure ML usage rows and 3 VM sizes");
});

test("resource group not found: no deployment exists yet", async () => {
  subscription(usageRows(), null);
  const r = await preflight();
  expect(r.code).toBe(0);
  expect(r.json).toMatchObject({ ok: true, deploymentExists: false, needs: NEEDS });
  expect(fake.count("GET", /\/onlineEndpoints/)).toBe(0);
});

test("a 403 on the subscription-level reads names the role that covers them", async () => {
  subscription();
  fake.on("GET", USAGES, forbidden("Microsoft.MachineLearningServices/locations/usages/read"));
  const r = await preflight();
  expect(r.code).toBe(1);
  expect(r.stderr).toContain("AuthorizationFailed");
  expect(r.stderr).toContain(`Reader on /subscriptions/${SUB}`);
});

test("flags out of range are usage errors before any request", async () => {
  const cases: Array<[Record<string, string>, string]> = [
    [{ "gpu-max-nodes": "0" }, "--gpu-max-nodes must be an integer >= 1, got '0'"],
    [{ "instance-count": "1.5" }, "--instance-count must be an integer >= 1, got '1.5'"],
    [{ "gpu-low-priority": "yes" }, "--gpu-low-priority must be true or false, got 'yes'"],
    [{ "deployment-name": "d_bad" }, '--deployment-name: deployment name "d_bad" is invalid'],
  ];
  for (const [over, message] of cases) {
    const r = await preflight(over);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
  }
  expect(fake.requests).toHaveLength(0);
});

test("pure helpers: every problem once, and the needs of an existing deployment", () => {
  const stack = {
    location: LOCATION,
    gpu: { vmSize: "Standard_NC4as_T4_v3", maxNodes: 3, lowPriority: false },
    serving: { instanceType: "Standard_DS3_v2", instanceCount: 2 },
  };
  const providers = [{ namespace: "Microsoft.Storage", registrationState: "Registering" }];
  const problems = preflightProblems(stack, {
    providers,
    quota: { rows: usageRows(), sizes: vmSizes() },
    deploymentExists: false,
  });
  expect(problems.filter((p) => p.includes("preflightChecks: false"))).toHaveLength(1);
  expect(problems.at(-1)).toContain("preflightChecks: false");
  expect(problems.some((p) => p.includes("need 12"))).toBe(true);
  expect(quotaNeeds({ ...stack, deploymentExists: true }, vmSizes())).toEqual({
    gpu: { ...NEEDS.gpu, vCPUs: 12 },
    deployment: { ...NEEDS.deployment, vCPUs: 0 },
  });
});

test("no secret appears in any output", () => {
  for (const o of outputs) for (const s of fake.secrets()) expect(o.stdout + o.stderr).not.toContain(s);
});
