// The program's pre-flight, end to end: index.ts in preview (Pulumi's mocks, in a process of its own:
// tests/graph/previewProcess.ts) runs ops/preflight.ts against the fake ARM (tests/ops/fake), which answers with the
// spec examples' usage, VM size and provider shapes. Too little quota stops the preview before any Azure resource is
// declared, with a message naming family, need and limit; enough quota lets the whole graph through. The cost lines
// (lib/core/cost.ts) reach the file PREFLIGHT_COST_SUMMARY names, and maxHourlyCost stops the preview.
import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { FakeAzure } from "../ops/fake/fakeAzure";
import {
  installProviders,
  installResourceGroup,
  installUsages,
  installVmSizes,
  usageRows,
  withRow,
} from "../ops/fake/quota";
import { ROOT, devStackConfig } from "./harness";
import { readStackConfig } from "../../lib/config/stack";
import { COST_SUMMARY_ENV, preflightStack } from "../../lib/program/preflightStep";
import { preflightArgs } from "../../lib/core/preflightRules";

const SUBSCRIPTION = "00000000-0000-0000-0000-000000000000";
const fake = new FakeAzure();

beforeAll(() => fake.start());
afterAll(() => fake.stop());
beforeEach(() => {
  fake.reset();
  installProviders(fake, SUBSCRIPTION);
  installVmSizes(fake, SUBSCRIPTION);
  installResourceGroup(fake, SUBSCRIPTION, "rg-azure-ml-mnist-dev", null);
});

function preview(
  config: Record<string, string> = {},
  extraEnv: Record<string, string> = {},
): Promise<{ declared: string[]; errors: string[] }> {
  const env = {
    ...fake.env(),
    ...extraEnv,
    PROGRAM_CONFIG: JSON.stringify(devStackConfig({ preflightChecks: "true", ...config })),
  };
  const tsx = path.join(ROOT, "node_modules", ".bin", "tsx");
  return new Promise((resolve, reject) =>
    execFile(tsx, ["tests/graph/previewProcess.ts"], { cwd: ROOT, env, timeout: 90_000 }, (err, stdout) =>
      err ? reject(err) : resolve(JSON.parse(stdout.trim().split("\n").pop()!)),
    ),
  );
}

const azure = (declared: string[]) => declared.filter((t) => t.startsWith("azure-native:"));

test("too little GPU quota: the preview stops before any Azure resource, naming family, need and limit", async () => {
  installUsages(fake, SUBSCRIPTION, withRow(usageRows(), "Standard NCASv3_T4", { limit: 0 }));
  const { declared, errors } = await preview();
  expect(azure(declared)).toEqual([]);
  expect(errors).toHaveLength(1);
  expect(errors[0]).toContain("ops/preflight.ts failed");
  expect(errors[0]).toContain("Standard NCASv3_T4 Family Cluster Dedicated vCPUs in westeurope: need 4");
  expect(errors[0]).toContain("limit 0");
  expect(errors[0]).toContain("az ml compute list-usage");
  expect(errors[0]).toContain("preflightChecks: false");
});

test("enough quota: the preview declares the whole graph", async () => {
  installUsages(fake, SUBSCRIPTION);
  const { declared, errors } = await preview();
  expect(errors).toEqual([]);
  expect(azure(declared)).toContain("azure-native:resources:ResourceGroup");
  expect(azure(declared)).toContain("azure-native:machinelearningservices:Workspace");
  expect(declared).toContain("command:online-deployment");
  expect(declared).toContain("command:sample-invoke");
  expect(fake.requests.some((r) => r.path.endsWith("/locations/westeurope/usages"))).toBe(true);
});

test("maxHourlyCost below the endpoint's hourly cost: the preview stops, naming both figures and the currency", async () => {
  installUsages(fake, SUBSCRIPTION);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "preflight-cost-"));
  const summary = path.join(dir, "cost.md");
  try {
    // the default instanceType Standard_DS2_v2: 0.15 USD/h in the spec example's prices (tests/fixtures/arm)
    const { declared, errors } = await preview({ maxHourlyCost: "0.1" }, { [COST_SUMMARY_ENV]: summary });
    expect(azure(declared)).toEqual([]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain("ops/preflight.ts failed");
    expect(errors[0]).toContain(
      "the endpoint costs up to 0.15 USD/h (1 × Standard_DS2_v2, at 0.15 USD/h each), more than maxHourlyCost 0.10 USD/h",
    );
    const md = fs.readFileSync(summary, "utf8");
    expect(md).toContain("- **endpoint**: 0.15 USD/h, 109.50 USD/month (730 h a month)");
    expect(md).toContain("- **maxHourlyCost**: exceeded");
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("preflightStack: what the program tells the pre-flight of a stack (autoscale range, sweep, limit, summary file)", () => {
  const config = devStackConfig({
    maxHourlyCost: "2.5",
    autoscale: JSON.stringify({ minInstances: 2, maxInstances: 5 }),
    instanceCount: "2",
    gpuMaxNodes: "4",
    sweep: JSON.stringify({ trials: 6, concurrency: 2 }),
    gpuLowPriority: "true",
    jobTimeoutMinutes: "45",
  });
  const cfg = readStackConfig(
    (k) => config[k.includes(":") ? k : `azure-ml-mnist:${k}`],
    "azure-ml-mnist",
    "dev",
  );
  const stack = preflightStack(cfg, SUBSCRIPTION, "d-3f9c2a1b7e6d", { [COST_SUMMARY_ENV]: "/tmp/cost.md" });
  expect(stack).toMatchObject({
    gpu: { vmSize: "Standard_NC4as_T4_v3", maxNodes: 4, lowPriority: true, idleSeconds: 120 },
    serving: { instanceType: "Standard_DS2_v2", instanceCount: 5, minInstances: 2 },
    training: { nodes: 1, timeoutMinutes: 45, sweep: { trials: 6, concurrency: 2 } },
    maxHourlyCost: 2.5,
    costSummaryFile: "/tmp/cost.md",
  });
  const args = preflightArgs(stack);
  expect(args.slice(args.indexOf("--max-hourly-cost"), args.indexOf("--max-hourly-cost") + 2)).toEqual([
    "--max-hourly-cost",
    "2.5",
  ]);
  // unset: no limit, no summary file, no autoscale minimum
  const plain = preflightStack(
    readStackConfig(
      (k) => devStackConfig()[k.includes(":") ? k : `azure-ml-mnist:${k}`],
      "azure-ml-mnist",
      "dev",
    ),
    SUBSCRIPTION,
    "d-3f9c2a1b7e6d",
    {},
  );
  expect(plain).not.toHaveProperty("maxHourlyCost");
  expect(plain).not.toHaveProperty("costSummaryFile");
  expect(plain.serving).not.toHaveProperty("minInstances");
});

/** The stack config the program reads, from devStackConfig's overrides. */
const stackConfig = (overrides: Record<string, string> = {}) => {
  const config = devStackConfig(overrides);
  return readStackConfig((k) => config[k.includes(":") ? k : `azure-ml-mnist:${k}`], "azure-ml-mnist", "dev");
};

/** A stack that deploys from the registry (modelSource registry, as Pulumi.prod.yaml): no GPU cluster, no job. */
const REGISTRY = {
  modelSource: "registry",
  modelRegistryId:
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.MachineLearningServices/registries/mnist-models",
  registryModelVersion: "1",
};

test("preflightStack: a registry stack never trains, so the pre-flight gets --no-training and no GPU or training flag", () => {
  const registry = preflightStack(stackConfig(REGISTRY), SUBSCRIPTION, "d-3f9c2a1b7e6d", {});
  expect(registry.trains).toBe(false);
  const args = preflightArgs(registry);
  expect(args).toContain("--no-training");
  for (const flag of ["--gpu-vm-size", "--gpu-max-nodes", "--training-nodes", "--job-timeout-minutes"])
    expect(args).not.toContain(flag);
  // the endpoint is still checked
  expect(args.slice(args.indexOf("--instance-type"), args.indexOf("--instance-type") + 2)).toEqual([
    "--instance-type",
    "Standard_DS2_v2",
  ]);

  // the default dev stack trains: every GPU and training flag, no --no-training
  const dev = preflightStack(stackConfig(), SUBSCRIPTION, "d-3f9c2a1b7e6d", {});
  expect(dev.trains).toBe(true);
  const devArgs = preflightArgs(dev);
  expect(devArgs).not.toContain("--no-training");
  expect(devArgs.slice(devArgs.indexOf("--gpu-vm-size"), devArgs.indexOf("--gpu-vm-size") + 2)).toEqual([
    "--gpu-vm-size",
    "Standard_NC4as_T4_v3",
  ]);
  expect(devArgs).toContain("--training-nodes");
});

test("a registry stack with no GPU quota at all: the preview declares the graph (no cluster, no training price)", async () => {
  installUsages(fake, SUBSCRIPTION, withRow(usageRows(), "Standard NCASv3_T4", { limit: 0 }));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "preflight-registry-"));
  const summary = path.join(dir, "cost.md");
  try {
    const { declared, errors } = await preview(REGISTRY, { [COST_SUMMARY_ENV]: summary });
    expect(errors).toEqual([]);
    expect(azure(declared)).toContain("azure-native:machinelearningservices:Workspace");
    expect(declared).toContain("command:online-deployment");
    const md = fs.readFileSync(summary, "utf8");
    expect(md).toContain("- **training**: none (modelSource registry");
    expect(md).toContain("- **GPU cluster**: none");
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
