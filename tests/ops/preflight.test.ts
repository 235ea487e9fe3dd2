import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { FakeAzure, RG, SUB } from "./fake/fakeAzure";
import {
  LOCATION,
  T4_PRICES,
  forbidden,
  installProviders,
  installResourceGroup,
  installUsages,
  installVmSizes,
  scopedUsageRows,
  usageRows,
  vmSizes,
  withPrices,
  withRow,
  type FakeWorkspace,
} from "./fake/quota";
import { runCli, type CliResult } from "./fake/runCli";
import { preflightProblems, quotaNeeds } from "../../ops/preflight";
import {
  HOURS_PER_MONTH,
  type CostInput,
  NO_TRAINING_LINES,
  costEstimate,
  costMarkdown,
  hourlyPrice,
} from "../../lib/core/cost";
import { preflightArgs, quotaProblems } from "../../lib/core/preflightRules";

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
  "gpu-idle-seconds": "120",
  "instance-type": "Standard_DS3_v2",
  "instance-count": "1",
  "training-nodes": "1",
  "job-timeout-minutes": "60",
  "resource-group": RG,
  stack: STACK,
  "deployment-name": DEPLOYMENT,
};

const fake = new FakeAzure();
const outputs: CliResult[] = [];
beforeAll(() => fake.start());
afterAll(() => fake.stop());
beforeEach(() => fake.reset());

async function preflight(over: Record<string, string> = {}, switches: string[] = []): Promise<CliResult> {
  const argv = Object.entries({ ...ARGS, ...over }).flatMap(([k, v]) => [`--${k}`, v]);
  const r = await runCli("preflight", [...switches, ...argv], fake.env());
  outputs.push(r);
  return r;
}

/** The flags of the GPU cluster and the training run, which a stack that never trains does not pass. */
const TRAINING_FLAGS = [
  "gpu-vm-size",
  "gpu-max-nodes",
  "gpu-low-priority",
  "gpu-idle-seconds",
  "training-nodes",
  "job-timeout-minutes",
];

/** The pre-flight of a stack that never trains (modelSource registry): --no-training, no GPU or training flags. */
async function preflightNoTraining(over: Record<string, string> = {}): Promise<CliResult> {
  const rest = Object.fromEntries(Object.entries(ARGS).filter(([k]) => !TRAINING_FLAGS.includes(k)));
  const argv = Object.entries({ ...rest, ...over }).flatMap(([k, v]) => [`--${k}`, v]);
  const r = await runCli("preflight", ["--no-training", ...argv], fake.env());
  outputs.push(r);
  return r;
}

/** A subscription where everything is registered; the usages and workspaces as given. */
function subscription(
  rows = usageRows(),
  ws: FakeWorkspace[] | null = workspaces(),
  pageSize?: number,
  sizes = vmSizes(),
): void {
  installProviders(fake, SUB);
  installUsages(fake, SUB, rows, pageSize);
  installVmSizes(fake, SUB, sizes);
  installResourceGroup(fake, SUB, RG, ws);
}

/** The sizes with the T4 priced (the spec example's shape; DS2_v2 and DS3_v2 keep the example's own prices). */
const pricedSizes = () => withPrices(vmSizes(), "Standard_NC4as_T4_v3", T4_PRICES);

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
  const { cost, ...rest } = r.json!;
  expect(rest).toEqual({ ok: true, location: LOCATION, needs: NEEDS, deploymentExists: false });
  expect(cost).toMatchObject({ endpoint: { instanceType: "Standard_DS3_v2" } });
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

/** Each override is a usage error (exit 2) with its message, and no request was sent. */
async function expectUsageErrors(cases: Array<[Record<string, string>, string]>): Promise<void> {
  for (const [over, message] of cases) {
    const r = await preflight(over);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
  }
  expect(fake.requests).toHaveLength(0);
}

test("flags out of range are usage errors before any request", async () => {
  const cases: Array<[Record<string, string>, string]> = [
    [{ "gpu-max-nodes": "0" }, "--gpu-max-nodes must be an integer >= 1, got '0'"],
    [{ "instance-count": "1.5" }, "--instance-count must be an integer >= 1, got '1.5'"],
    [{ "gpu-low-priority": "yes" }, "--gpu-low-priority must be true or false, got 'yes'"],
    [{ "deployment-name": "d_bad" }, '--deployment-name: deployment name "d_bad" is invalid'],
  ];
  await expectUsageErrors(cases);
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

describe("cost before anything runs (prices of the spec example, examples/VirtualMachineSize/list.json)", () => {
  const lines = (r: CliResult) =>
    r.stderr
      .split("\n")
      .filter((l) => l.startsWith("  "))
      .map((l) => l.trim());
  let dir = "";
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "preflight-cost-"))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  test("the endpoint per hour and per month, the training run's upper bound, the cluster at zero: stderr and JSON", async () => {
    subscription(usageRows(), workspaces(), undefined, pricedSizes());
    const r = await preflight();
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(
      "preflight: cost (estimated retail prices of the VM sizes list of westeurope):",
    );
    const expected = [
      "endpoint: 0.29 USD/h, 211.70 USD/month (730 h a month): 1 × Standard_DS3_v2 at 0.29 USD/h each (Linux, Standard)",
      "training: at most 0.55 USD: 1 node × 1 h (jobTimeoutMinutes) + 120 s idle before release (gpuIdleSeconds) × 1 node = 1.0333 node-hours of Standard_NC4as_T4_v3 at 0.526 USD/h (Standard)",
      "GPU cluster when idle: 0.00 USD/h (min nodes 0: it scales to zero 120 s after its last job)",
    ];
    for (const line of expected) expect(lines(r)).toContain(line);
    expect(r.json?.cost).toEqual({
      hoursPerMonth: 730,
      endpoint: {
        instanceType: "Standard_DS3_v2",
        instances: { min: 1, max: 1 },
        autoscale: false,
        price: { perHour: 0.29, currency: "USD" },
        perHour: { min: 0.29, max: 0.29 },
        perMonth: { min: 211.7, max: 211.7 },
      },
      training: {
        vmSize: "Standard_NC4as_T4_v3",
        tier: "Standard",
        nodes: 1,
        nodeHours: 1.033333,
        nodesAtOnce: 1,
        wallMinutes: 60,
        price: { perHour: 0.526, currency: "USD" },
        maxCost: 0.543533,
      },
      idleCluster: { minNodes: 0, perHour: 0, releasedAfterSeconds: 120 },
      lines: expected,
    });
  });

  test("autoscale: the endpoint as a range from minInstances to maxInstances", async () => {
    subscription(usageRows(), workspaces(), undefined, pricedSizes());
    const r = await preflight({
      "instance-type": "Standard_DS2_v2",
      "instance-count": "4",
      "min-instances": "1",
    });
    expect(r.code).toBe(0);
    expect(lines(r)).toContain(
      "endpoint: 0.15..0.60 USD/h, 109.50..438.00 USD/month (730 h a month): 1..4 × Standard_DS2_v2 (autoscale minInstances..maxInstances) at 0.15 USD/h each (Linux, Standard)",
    );
    expect(r.json?.cost).toMatchObject({
      endpoint: {
        instances: { min: 1, max: 4 },
        autoscale: true,
        perHour: { min: 0.15, max: 0.6 },
        perMonth: { min: 109.5, max: 438 },
      },
    });
  });

  test("low-priority nodes bill the LowPriority price; a sweep's bound is its trials × trialTimeout", async () => {
    subscription(usageRows(), workspaces(), undefined, pricedSizes());
    const one = await preflight({ "gpu-low-priority": "true" });
    expect(one.code).toBe(0);
    expect(lines(one)).toContain(
      "training: at most 0.11 USD: 1 node × 1 h (jobTimeoutMinutes) + 120 s idle before release (gpuIdleSeconds) × 1 node = 1.0333 node-hours of Standard_NC4as_T4_v3 at 0.105 USD/h (LowPriority, gpuLowPriority)",
    );
    expect(one.json?.cost).toMatchObject({
      training: { tier: "LowPriority", price: { perHour: 0.105 }, maxCost: 0.1085 },
    });
    const sweep = await preflight({
      "gpu-low-priority": "true",
      "gpu-max-nodes": "2",
      "sweep-trials": "8",
      "sweep-concurrency": "2",
    });
    expect(sweep.code).toBe(0);
    // 8 trials × 1 h + 2 nodes × 120 s idle = 8.0667 node-hours × 0.105 = 0.847 → 0.85 USD; 2 at a time: 4 h wall.
    expect(lines(sweep)).toContain(
      "training: at most 0.85 USD: sweep of 8 trials × 1 node × 1 h (trialTimeout = jobTimeoutMinutes), 2 at a time (at most 4 h) + 120 s idle before release (gpuIdleSeconds) × 2 nodes = 8.0667 node-hours of Standard_NC4as_T4_v3 at 0.105 USD/h (LowPriority, gpuLowPriority)",
    );
    expect(sweep.json?.cost).toMatchObject({
      training: {
        sweep: { trials: 8, concurrency: 2, trialMinutes: 60 },
        nodesAtOnce: 2,
        wallMinutes: 240,
        maxCost: 0.847,
      },
    });
  });

  test("a size with no price published is said so and never fails the pre-flight, maxHourlyCost included", async () => {
    // the fixture's T4 carries no prices; DS3_v2's are removed here
    subscription(usageRows(), workspaces(), undefined, withPrices(vmSizes(), "Standard_DS3_v2", undefined));
    const r = await preflight({ "max-hourly-cost": "0.01" });
    expect(r.code).toBe(0);
    expect(lines(r)).toEqual(
      expect.arrayContaining([
        "endpoint: 1 × Standard_DS3_v2: no price published for Standard_DS3_v2",
        "training: no price published for Standard_NC4as_T4_v3 (Standard); at most 1.0333 node-hours: 1 node × 1 h (jobTimeoutMinutes) + 120 s idle before release (gpuIdleSeconds) × 1 node",
        "GPU cluster when idle: 0.00/h (min nodes 0: it scales to zero 120 s after its last job)",
        "maxHourlyCost: 0.01/h not checked, no price published for Standard_DS3_v2",
      ]),
    );
    const cost = r.json?.cost as { endpoint: object; training: object };
    expect(cost.endpoint).not.toHaveProperty("perHour");
    expect(cost.training).not.toHaveProperty("maxCost");
  });

  test("maxHourlyCost: an endpoint that costs more per hour at maxInstances fails, naming both figures and the currency", async () => {
    subscription(usageRows(), workspaces(), undefined, pricedSizes());
    const summary = path.join(dir, "cost.md");
    const over = {
      "instance-type": "Standard_DS2_v2",
      "instance-count": "4",
      "min-instances": "1",
      "cost-summary": summary,
    };
    const r = await preflight({ ...over, "max-hourly-cost": "0.5" });
    expect(r.code).toBe(1);
    const problem =
      "the endpoint costs up to 0.60 USD/h (4 × Standard_DS2_v2, autoscale maxInstances, at 0.15 USD/h each), more than maxHourlyCost 0.50 USD/h";
    expect(r.json?.error).toBe(`stack dev: ${problem}`);
    expect(r.json?.problems).toEqual([
      `${problem}: raise maxHourlyCost (or remove it), lower instanceCount (autoscale.maxInstances) or pick a cheaper instanceType`,
    ]);
    expect(r.json?.cost).toMatchObject({ maxHourlyCost: 0.5, problem });
    expect(r.stderr).toContain(`maxHourlyCost: exceeded, ${problem}`);
    // the summary is written before the refusal, so the pull request shows why
    expect(fs.readFileSync(summary, "utf8")).toContain(`- **maxHourlyCost**: exceeded, ${problem}`);

    const within = await preflight({ ...over, "max-hourly-cost": "0.6" });
    expect(within.code).toBe(0);
    expect(lines(within)).toContain(
      "maxHourlyCost: 0.60 USD/h, the endpoint's 0.60 USD/h at most is within it",
    );
  });

  test("maxHourlyCost beside a quota problem: both in one failure", async () => {
    subscription(
      withRow(usageRows(), "Standard NCASv3_T4", { limit: 0 }),
      workspaces(),
      undefined,
      pricedSizes(),
    );
    const r = await preflight({ "max-hourly-cost": "0.1" });
    expect(r.code).toBe(1);
    expect(r.json?.error).toBe(
      "stack dev does not fit this subscription in westeurope, and the endpoint costs up to 0.29 USD/h (1 × Standard_DS3_v2, at 0.29 USD/h each), more than maxHourlyCost 0.10 USD/h",
    );
    expect((r.json?.problems as string[]).some((p) => p.includes("need 4"))).toBe(true);
    expect((r.json?.problems as string[]).at(-1)).toContain("raise maxHourlyCost");
  });

  test("--cost-summary: the same lines as markdown for the pull-request comment", async () => {
    subscription(usageRows(), workspaces(), undefined, pricedSizes());
    const summary = path.join(dir, "cost.md");
    const r = await preflight({ "cost-summary": summary });
    expect(r.code).toBe(0);
    expect(fs.readFileSync(summary, "utf8")).toBe(
      [
        "#### Cost before anything runs: stack dev in westeurope (pre-flight)",
        "",
        "- **endpoint**: 0.29 USD/h, 211.70 USD/month (730 h a month): 1 × Standard_DS3_v2 at 0.29 USD/h each (Linux, Standard)",
        "- **training**: at most 0.55 USD: 1 node × 1 h (jobTimeoutMinutes) + 120 s idle before release (gpuIdleSeconds) × 1 node = 1.0333 node-hours of Standard_NC4as_T4_v3 at 0.526 USD/h (Standard)",
        "- **GPU cluster when idle**: 0.00 USD/h (min nodes 0: it scales to zero 120 s after its last job)",
        "",
        "Retail prices from Azure ML's VM sizes list of westeurope (estimatedVMPrices), 730 hours a month; the training figure is an upper bound; storage, registry, logs and traffic are not included.",
        "",
      ].join("\n"),
    );
  });

  test("Azure ML not registered: no prices to read, the summary says so", async () => {
    subscription();
    installProviders(fake, SUB, { "Microsoft.MachineLearningServices": "NotRegistered" });
    const summary = path.join(dir, "cost.md");
    const r = await preflight({ "cost-summary": summary });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      "preflight: cost not estimated: Microsoft.MachineLearningServices must be registered first",
    );
    expect(fs.readFileSync(summary, "utf8")).toContain("Not estimated: Microsoft.MachineLearningServices");
    expect(r.json).not.toHaveProperty("cost");
  });

  test("cost flags that contradict each other are usage errors before any request", async () => {
    const cases: Array<[Record<string, string>, string]> = [
      [
        { "min-instances": "3", "instance-count": "2" },
        "--min-instances (3) must not exceed --instance-count (2",
      ],
      [{ "sweep-trials": "8" }, "--sweep-trials and --sweep-concurrency go together"],
      [{ "max-hourly-cost": "-1" }, "--max-hourly-cost must be a number >= 0, got '-1'"],
      [{ "job-timeout-minutes": "0" }, "--job-timeout-minutes must be an integer >= 1, got '0'"],
    ];
    await expectUsageErrors(cases);
  });
});

describe("a stack that never trains (--no-training, modelSource registry: no GPU cluster, no job)", () => {
  const lines = (r: CliResult) =>
    r.stderr
      .split("\n")
      .filter((l) => l.startsWith("  "))
      .map((l) => l.trim());
  /** No GPU quota at all: a stack that trains would fail here ("no GPU quota" above). */
  const noGpuQuota = () => withRow(usageRows(), "Standard NCASv3_T4", { limit: 0 });
  let dir = "";
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "preflight-registry-"))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  test("0 GPU quota: passes; no GPU need, the endpoint priced, training and the cluster none", async () => {
    subscription(noGpuQuota(), workspaces(), undefined, pricedSizes());
    const summary = path.join(dir, "cost.md");
    const r = await preflightNoTraining({ "cost-summary": summary });
    expect(r.code).toBe(0);
    const { cost, ...rest } = r.json!;
    expect(rest).toEqual({
      ok: true,
      location: LOCATION,
      needs: { deployment: NEEDS.deployment },
      deploymentExists: false,
    });
    const expected = [
      "endpoint: 0.29 USD/h, 211.70 USD/month (730 h a month): 1 × Standard_DS3_v2 at 0.29 USD/h each (Linux, Standard)",
      "training: none (modelSource registry: this stack deploys a registry version and never trains)",
      "GPU cluster: none (no cluster is declared without training)",
    ];
    expect(lines(r).filter((l) => /^[A-Za-z ]+: /.test(l) && !l.startsWith("deployment "))).toEqual(expected);
    expect(cost).toEqual({
      hoursPerMonth: 730,
      endpoint: {
        instanceType: "Standard_DS3_v2",
        instances: { min: 1, max: 1 },
        autoscale: false,
        price: { perHour: 0.29, currency: "USD" },
        perHour: { min: 0.29, max: 0.29 },
        perMonth: { min: 211.7, max: 211.7 },
      },
      lines: expected,
    });
    // nothing of the GPU cluster: no size, no family, no need, no quota row
    for (const s of ["NC4as_T4", "NCASv3_T4", "gpuMaxNodes", "GPU cluster when idle", "node-hours"])
      expect(r.stderr).not.toContain(s);
    expect(r.stderr).toContain("preflight: ok (no GPU cluster (--no-training), new deployment 8 vCPUs)");
    const md = fs.readFileSync(summary, "utf8");
    expect(md).toContain(
      "- **training**: none (modelSource registry: this stack deploys a registry version and never trains)",
    );
    expect(md).toContain("- **GPU cluster**: none (no cluster is declared without training)");
    expect(md).not.toContain("upper bound");
    expect(md).toContain("730 hours a month; storage, registry, logs and traffic are not included.");
  });

  test("the endpoint's quota is still checked: 0 deployment quota fails, naming the family and the need", async () => {
    subscription(
      withRow(noGpuQuota(), "Standard DSv2 Family Cluster Dedicated", { limit: 0 }),
      workspaces(),
      undefined,
      pricedSizes(),
    );
    const r = await preflightNoTraining();
    expect(r.code).toBe(1);
    expect(r.json?.error).toBe("stack dev does not fit this subscription in westeurope");
    const problems = r.json?.problems as string[];
    expect(problems[0]).toMatch(
      /^quota: Standard DSv2 Family Cluster Dedicated vCPUs in westeurope: need 8 more .*limit 0, in use 8/,
    );
    expect(problems.some((p) => p.includes("NCASv3_T4"))).toBe(false);
    expect(problems.at(-1)).toContain("preflightChecks: false");
  });

  test("the endpoint's cost is still held to --max-hourly-cost", async () => {
    subscription(noGpuQuota(), workspaces(), undefined, pricedSizes());
    const r = await preflightNoTraining({ "max-hourly-cost": "0.1" });
    expect(r.code).toBe(1);
    expect(r.json?.error).toBe(
      "stack dev: the endpoint costs up to 0.29 USD/h (1 × Standard_DS3_v2, at 0.29 USD/h each), more than maxHourlyCost 0.10 USD/h",
    );
    expect(r.json?.cost).not.toHaveProperty("training");
    expect(r.json?.cost).not.toHaveProperty("idleCluster");
  });

  test("without --no-training the same subscription still fails on the GPU shortfall", async () => {
    subscription(noGpuQuota(), workspaces(), undefined, pricedSizes());
    const r = await preflight();
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("Standard NCASv3_T4 Family Cluster Dedicated vCPUs in westeurope: need 4");
  });

  test("the GPU and training flags: refused with --no-training, each required without it", async () => {
    const withIt = await preflightNoTraining({ "gpu-vm-size": "Standard_NC4as_T4_v3", "sweep-trials": "2" });
    expect(withIt.code).toBe(2);
    expect(withIt.stderr).toContain(
      "--no-training: the stack has no GPU cluster and no training run; leave out --gpu-vm-size, --sweep-trials",
    );
    for (const flag of TRAINING_FLAGS) {
      const argv = Object.entries(ARGS)
        .filter(([k]) => k !== flag)
        .flatMap(([k, v]) => [`--${k}`, v]);
      const r = await runCli("preflight", argv, fake.env());
      outputs.push(r);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`--${flag} is required (or --no-training, for a stack that never trains)`);
    }
    expect(fake.requests).toHaveLength(0);
  });

  test("pure: quotaProblems and quotaNeeds without a GPU cluster check only the deployment", () => {
    const serving = { instanceType: "Standard_DS3_v2", instanceCount: 1 };
    const input = { location: LOCATION, serving, deploymentExists: false };
    expect(quotaProblems(input, vmSizes(), noGpuQuota())).toEqual([]);
    expect(quotaNeeds(input, vmSizes())).toEqual({ deployment: NEEDS.deployment });
    const full = withRow(noGpuQuota(), "Standard DSv2 Family Cluster Dedicated", { limit: 4 });
    expect(quotaProblems(input, vmSizes(), full)[0]).toContain("need 8 more");
  });
});

describe("cost arithmetic (lib/core/cost.ts, pure)", () => {
  const input = (over: Partial<CostInput> = {}): CostInput => ({
    serving: { instanceType: "Standard_DS2_v2", instanceCount: 2 },
    gpu: { vmSize: "Standard_NC4as_T4_v3", lowPriority: false, idleSeconds: 0 },
    training: { nodes: 2, timeoutMinutes: 90 },
    ...over,
  });
  const sizes = pricedSizes();

  test("hourlyPrice: the Linux price of the tier, nothing for another OS, tier, unit or an unlisted size", () => {
    expect(hourlyPrice(sizes, "Standard_DS3_v2", "Standard")).toEqual({ perHour: 0.29, currency: "USD" });
    expect(hourlyPrice(sizes, "standard_ds3_v2", "LowPriority")).toEqual({ perHour: 0.06, currency: "USD" });
    // the T4's Spot price is published; DS3_v2 has none (and never its Windows 0.5)
    expect(hourlyPrice(sizes, "Standard_NC4as_T4_v3", "Spot")?.perHour).toBe(0.052);
    expect(hourlyPrice(sizes, "Standard_DS3_v2", "Spot")).toBeUndefined();
    expect(hourlyPrice(sizes, "Standard_F2s_v2", "Standard")).toBeUndefined();
    expect(hourlyPrice(vmSizes(), "Standard_NC4as_T4_v3", "Standard")).toBeUndefined();
    const daily = { ...T4_PRICES, unitOfMeasure: "OneDay" };
    expect(
      hourlyPrice(withPrices(sizes, "Standard_NC4as_T4_v3", daily), "Standard_NC4as_T4_v3", "Standard"),
    ).toBe(undefined);
    // two Linux Standard values: the higher (an upper bound)
    const twice = {
      ...T4_PRICES,
      values: [...T4_PRICES.values, { retailPrice: 0.6, osType: "Linux", vmTier: "Standard" }],
    };
    expect(
      hourlyPrice(
        withPrices(sizes, "Standard_NC4as_T4_v3", twice as typeof T4_PRICES),
        "Standard_NC4as_T4_v3",
        "Standard",
      )?.perHour,
    ).toBe(0.6);
  });

  test("instances × price, 730 hours a month; nodes × price × time limit", () => {
    const c = costEstimate(input(), sizes);
    expect(HOURS_PER_MONTH).toBe(730);
    expect(c.endpoint.perHour).toEqual({ min: 0.3, max: 0.3 });
    expect(c.endpoint.perMonth).toEqual({ min: 219, max: 219 });
    // 2 nodes × 1.5 h × 0.526, no idle time
    expect(c.training).toMatchObject({ nodeHours: 3, maxCost: 1.578, wallMinutes: 90 });
    expect(c.lines[1]).toMatch(/^training: at most 1\.58 USD: 2 nodes × 90 min \(jobTimeoutMinutes\)/);
    expect(c.idleCluster).toEqual({ minNodes: 0, perHour: 0, releasedAfterSeconds: 0 });
    expect(c.problem).toBeUndefined();
  });

  test("a sweep: every trial its whole limit on its nodes; concurrency sets the wall time and the idle nodes", () => {
    const sweep = (trials: number, concurrency: number) =>
      costEstimate(
        input({
          gpu: { vmSize: "Standard_NC4as_T4_v3", lowPriority: false, idleSeconds: 360 },
          training: { nodes: 2, timeoutMinutes: 30, sweep: { trials, concurrency } },
        }),
        sizes,
      ).training;
    // 5 trials × 2 nodes × 0.5 h = 5 node-hours, + 3 × 2 nodes × 0.1 h idle = 5.6; 3 at a time: 2 rounds = 60 min
    expect(sweep(5, 3)).toMatchObject({ nodeHours: 5.6, nodesAtOnce: 6, wallMinutes: 60, maxCost: 2.9456 });
    // more concurrency than trials: only the trials' nodes idle
    expect(sweep(2, 5)).toMatchObject({ nodeHours: 2.4, nodesAtOnce: 4, wallMinutes: 30 });
  });

  test("maxHourlyCost compares the endpoint at its maximum, not its minimum", () => {
    const autoscaled = input({
      serving: { instanceType: "Standard_DS2_v2", instanceCount: 3, minInstances: 1 },
    });
    expect(costEstimate({ ...autoscaled, maxHourlyCost: 0.44 }, sizes).problem).toBe(
      "the endpoint costs up to 0.45 USD/h (3 × Standard_DS2_v2, autoscale maxInstances, at 0.15 USD/h each), more than maxHourlyCost 0.44 USD/h",
    );
    expect(costEstimate({ ...autoscaled, maxHourlyCost: 0.45 }, sizes).problem).toBeUndefined();
    // hourly figures keep the decimals they have: 0.4499 is not shown as 0.45
    expect(costEstimate({ ...autoscaled, maxHourlyCost: 0.4499 }, sizes).problem).toContain(
      "more than maxHourlyCost 0.4499 USD/h",
    );
  });

  test("no gpu and no training (a stack that never trains): training and the cluster none, no figures", () => {
    const c = costEstimate(
      { serving: { instanceType: "Standard_DS2_v2", instanceCount: 2 }, maxHourlyCost: 1 },
      sizes,
    );
    expect(c.lines).toEqual([
      "endpoint: 0.30 USD/h, 219.00 USD/month (730 h a month): 2 × Standard_DS2_v2 at 0.15 USD/h each (Linux, Standard)",
      "training: none (modelSource registry: this stack deploys a registry version and never trains)",
      "GPU cluster: none (no cluster is declared without training)",
      "maxHourlyCost: 1.00 USD/h, the endpoint's 0.30 USD/h at most is within it",
    ]);
    expect(c.lines.slice(1, 3)).toEqual(NO_TRAINING_LINES);
    expect(c).not.toHaveProperty("training");
    expect(c).not.toHaveProperty("idleCluster");
    expect(c.problem).toBeUndefined();
    const md = costMarkdown(c, { stack: "prod", location: "westeurope" });
    expect(md).toContain("- **training**: none (modelSource registry");
    expect(md).toContain("- **GPU cluster**: none");
    expect(md).not.toContain("the training figure is an upper bound");
    // with training the sentence stays
    expect(costMarkdown(costEstimate(input(), sizes), { stack: "dev", location: "westeurope" })).toContain(
      "a month; the training figure is an upper bound; storage",
    );
  });

  test("the markdown has one bullet per line, the label in bold", () => {
    const md = costMarkdown(costEstimate({ ...input(), maxHourlyCost: 1 }, sizes), {
      stack: "pr",
      location: "eastus",
    });
    expect(md.split("\n").filter((l) => l.startsWith("- **"))).toEqual([
      expect.stringMatching(/^- \*\*endpoint\*\*: 0\.30 USD\/h/),
      expect.stringMatching(/^- \*\*training\*\*: at most 1\.58 USD/),
      expect.stringMatching(/^- \*\*GPU cluster when idle\*\*: 0\.00 USD\/h/),
      "- **maxHourlyCost**: 1.00 USD/h, the endpoint's 0.30 USD/h at most is within it",
    ]);
    expect(md).toContain("stack pr in eastus");
  });

  test("preflightArgs: the cost flags only when set", () => {
    const base = {
      subscriptionId: SUB,
      location: LOCATION,
      trains: true,
      gpu: { vmSize: "Standard_NC4as_T4_v3", maxNodes: 2, lowPriority: true, idleSeconds: 120 },
      serving: { instanceType: "Standard_DS2_v2", instanceCount: 4 },
      training: { nodes: 1, timeoutMinutes: 60 },
      resourceGroupName: RG,
      stack: STACK,
      deploymentName: DEPLOYMENT,
    };
    const plain = preflightArgs(base);
    for (const flag of ["--min-instances", "--sweep-trials", "--max-hourly-cost", "--cost-summary"])
      expect(plain).not.toContain(flag);
    const all = preflightArgs({
      ...base,
      serving: { ...base.serving, minInstances: 1 },
      training: { ...base.training, sweep: { trials: 8, concurrency: 2 } },
      maxHourlyCost: 0.5,
      costSummaryFile: "/tmp/cost.md",
    });
    const after = (flag: string) => all[all.indexOf(flag) + 1];
    expect([after("--min-instances"), after("--sweep-trials"), after("--sweep-concurrency")]).toEqual([
      "1",
      "8",
      "2",
    ]);
    expect([after("--max-hourly-cost"), after("--cost-summary"), after("--gpu-idle-seconds")]).toEqual([
      "0.5",
      "/tmp/cost.md",
      "120",
    ]);
    expect(all).not.toContain("--no-training");
    // a stack that never trains: --no-training and none of the GPU or training flags, the rest as before
    const registry = preflightArgs({
      ...base,
      trains: false,
      serving: { ...base.serving, minInstances: 1 },
      training: { ...base.training, sweep: { trials: 8, concurrency: 2 } },
      maxHourlyCost: 0.5,
    });
    expect(registry).toContain("--no-training");
    for (const flag of TRAINING_FLAGS) expect(registry).not.toContain(`--${flag}`);
    for (const flag of ["--sweep-trials", "--sweep-concurrency"]) expect(registry).not.toContain(flag);
    const at = (flag: string) => registry[registry.indexOf(flag) + 1];
    expect([
      at("--instance-type"),
      at("--instance-count"),
      at("--min-instances"),
      at("--max-hourly-cost"),
    ]).toEqual(["Standard_DS2_v2", "4", "1", "0.5"]);
  });
});

test("no secret appears in any output", () => {
  for (const o of outputs) for (const s of fake.secrets()) expect(o.stdout + o.stderr).not.toContain(s);
});
