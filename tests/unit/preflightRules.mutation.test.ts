// lib/core/preflightRules.ts: the quota arithmetic at its edges, the rows that count, the CLI's arguments.
import {
  REQUIRED_PROVIDERS,
  deploymentVcpus,
  familyRow,
  preflightArgs,
  providerProblems,
  quotaProblems,
  servingNeed,
  type QuotaNeedsInput,
  type UsageRow,
  type VmSizeInfo,
} from "../../lib/core/preflightRules";

const SIZES: VmSizeInfo[] = [
  { name: "Standard_NC4as_T4_v3", family: "standardNCASv3_T4Family", vCPUs: 4 },
  { name: "Standard_DS3_v2", family: "standardDSv2Family", vCPUs: 4 },
  { name: "Standard_NC24ads_A100_v4", family: "standardNCADSA100v4Family", vCPUs: 24 },
  { name: "Standard_Broken", vCPUs: 4 } as VmSizeInfo,
];
const FAMILY =
  "/subscriptions/s/providers/Microsoft.MachineLearningServices/locations/westeurope/vmFamily/usages";
const row = (value: string, currentValue: number, limit: number, extra: Partial<UsageRow> = {}): UsageRow =>
  ({
    name: { value, localizedValue: `${value} (label)` },
    currentValue,
    limit,
    type: FAMILY,
    ...extra,
  }) as UsageRow;

const input = (over: Partial<QuotaNeedsInput> = {}): QuotaNeedsInput => ({
  location: "westeurope",
  gpu: { vmSize: "Standard_NC4as_T4_v3", maxNodes: 2, lowPriority: false },
  serving: { instanceType: "Standard_DS3_v2", instanceCount: 1 },
  deploymentExists: false,
  ...over,
});

test("deploymentVcpus: ceil(1.2 × count) × vCPUs, no reserve for the listed SKUs (any case)", () => {
  expect(deploymentVcpus(1, 4)).toBe(8);
  expect(deploymentVcpus(5, 4)).toBe(24);
  expect(deploymentVcpus(10, 2)).toBe(24);
  expect(deploymentVcpus(3, 24, "standard_nc24ads_a100_v4")).toBe(72);
  expect(deploymentVcpus(3, 4, "Standard_DS3_v2")).toBe(16);
});

describe("quotaProblems", () => {
  const rows = [row("standardNCASv3_T4Family dedicated", 0, 8), row("standardDSv2Family dedicated", 4, 12)];

  test("exactly at the limits fits", () => {
    expect(quotaProblems(input(), SIZES, rows)).toEqual([]);
    // DS3_v2: ceil(1.2) × 4 = 8 of 12 - 4 in use: exactly what is left
  });

  test("one vCPU over: the GPU family problem names need, label, limit and how to get more, then how to skip", () => {
    const p = quotaProblems(
      input({ gpu: { vmSize: "Standard_NC4as_T4_v3", maxNodes: 3, lowPriority: false } }),
      SIZES,
      rows,
    );
    expect(p).toEqual([
      "quota: standardNCASv3_T4Family dedicated (label) in westeurope: need 12 (gpuMaxNodes 3 × 4 vCPUs of Standard_NC4as_T4_v3), limit 8; see usage with `az ml compute list-usage --location westeurope -o table`; request more in the Azure portal > Quotas > Machine learning (Azure ML quota, not the VM quota of `az vm list-usage`)",
      "set `preflightChecks: false` to skip this check if you know better",
    ]);
  });

  test("the deployment needs room beside what is in use; none when it exists already", () => {
    const busy = [row("standardNCASv3_T4Family dedicated", 0, 8), row("standardDSv2Family dedicated", 5, 12)];
    const p = quotaProblems(input(), SIZES, busy);
    expect(p[0]).toBe(
      "quota: standardDSv2Family dedicated (label) in westeurope: need 8 more (ceil(1.2 × instanceCount 1) × 4 vCPUs of Standard_DS3_v2; during a rollout the previous deployment keeps its share until the new one holds the traffic), limit 12, in use 5; see usage with `az ml compute list-usage --location westeurope -o table`; request more in the Azure portal > Quotas > Machine learning (Azure ML quota, not the VM quota of `az vm list-usage`)",
    );
    expect(quotaProblems(input({ deploymentExists: true }), SIZES, busy)).toEqual([]);
    const a100 = quotaProblems(
      input({ serving: { instanceType: "Standard_NC24ads_A100_v4", instanceCount: 1 } }),
      SIZES,
      rows,
    );
    expect(a100[0]).toContain(
      "need 24 more (instanceCount 1 (no 20 % reserve for Standard_NC24ads_A100_v4) × 24 vCPUs",
    );
    expect(a100[0]).toContain("standardNCADSA100v4Family dedicated vCPUs (no quota row: 0)");
    expect(a100[0]).toContain("limit 0, in use 0");
  });

  test("low priority counts against the regional low-priority row, only when it has a limit", () => {
    const low = { vmSize: "Standard_NC4as_T4_v3", maxNodes: 2, lowPriority: true };
    const lp = (limit: number) => [
      ...rows,
      row("lowPriority", 0, limit, { type: "x/lowPriorityCores/usages" }),
    ];
    expect(quotaProblems(input({ gpu: low }), SIZES, lp(8))).toEqual([]);
    expect(quotaProblems(input({ gpu: low }), SIZES, lp(7))[0]).toBe(
      "quota: low-priority vCPUs in westeurope: need 8 (gpuMaxNodes 2 × 4 vCPUs of Standard_NC4as_T4_v3), limit 7; see usage with `az ml compute list-usage --location westeurope -o table`; request more in the Azure portal > Quotas > Machine learning (Azure ML quota, not the VM quota of `az vm list-usage`)",
    );
    expect(quotaProblems(input({ gpu: low }), SIZES, lp(-1))).toEqual([]);
    expect(quotaProblems(input({ gpu: low }), SIZES, rows)).toEqual([]);
  });

  test("the regional dedicated total: GPU and deployment together, only when it has a limit", () => {
    const total = (limit: number, label?: string) => [
      ...rows,
      {
        name: { value: "TotalDedicated", ...(label ? { localizedValue: label } : {}) },
        currentValue: 0,
        limit,
        type: "x/dedicatedCores/usages",
      } as UsageRow,
    ];
    expect(quotaProblems(input(), SIZES, total(16))).toEqual([]);
    expect(quotaProblems(input(), SIZES, total(15))[0]).toBe(
      "quota: Total Cluster Dedicated Regional vCPUs in westeurope: need 16, limit 15; see usage with `az ml compute list-usage --location westeurope -o table`; request more in the Azure portal > Quotas > Machine learning (Azure ML quota, not the VM quota of `az vm list-usage`)",
    );
    expect(quotaProblems(input(), SIZES, total(15, "Regional total"))[0]).toMatch(
      /^quota: Regional total in westeurope/,
    );
    expect(quotaProblems(input(), SIZES, total(-1))).toEqual([]);
  });

  test("sizes the region lacks (or without family/vCPUs) are named", () => {
    const p = quotaProblems(
      input({
        gpu: { vmSize: "Standard_Nope", maxNodes: 1, lowPriority: false },
        serving: { instanceType: "Standard_Broken", instanceCount: 1 },
      }),
      SIZES,
      rows,
    );
    expect(p).toEqual([
      "gpuVmSize = Standard_Nope: Azure ML offers no such VM size in this region (its VM sizes list has none)",
      "instanceType = Standard_Broken: Azure ML offers no such VM size in this region (its VM sizes list has none)",
      "set `preflightChecks: false` to skip this check if you know better",
    ]);
    expect(
      quotaProblems(
        input({ gpu: { vmSize: "standard_nc4as_t4_v3", maxNodes: 1, lowPriority: false } }),
        SIZES,
        rows,
      ),
    ).toEqual([]);
  });
});

describe("familyRow", () => {
  test("the vmFamily row, not a workspace's of the same name; by id without a type; else the largest", () => {
    const ws = row("standardNCASv3_T4Family dedicated", 9, 9, { type: "x/workspaces/usages" });
    const fam = row("standardNCASv3_T4Family dedicated", 1, 8);
    expect(familyRow([ws, fam], "Standard NCASv3_T4 Family")).toBe(fam);
    const byId = row("standardNCASv3_T4Family dedicated", 2, 8, {
      type: undefined,
      id: "/subscriptions/s/usages/x",
    });
    const wsId = row("standardNCASv3_T4Family dedicated", 9, 8, {
      type: undefined,
      id: "/subscriptions/s/workspaces/w/x",
    });
    expect(familyRow([wsId, byId], "standardNCASv3_T4Family")).toBe(byId);
    const u1 = row("standardNCASv3_T4Family dedicated", 2, 8, { type: undefined });
    const u2 = row("standardNCASv3_T4Family dedicated", 5, 8, { type: undefined });
    const u3 = row("standardNCASv3_T4Family dedicated", 5, 9, { type: undefined });
    expect(familyRow([u1, u2, u3], "standardNCASv3_T4Family")).toBe(u2);
    expect(
      familyRow([row("standardNCASv3_T4Family lowpriority", 0, 8)], "standardNCASv3_T4Family"),
    ).toBeUndefined();
    expect(familyRow([row("otherFamily dedicated", 0, 8)], "standardNCASv3_T4Family")).toBeUndefined();
    const byLabel = {
      name: { localizedValue: "Standard NCASv3_T4 Family Dedicated vCPUs" },
      currentValue: 0,
      limit: 4,
      type: FAMILY,
    } as UsageRow;
    expect(familyRow([byLabel], "standardNCASv3_T4Family")).toBe(byLabel);
  });
});

test("providerProblems: each unregistered provider with its command; all registered: none", () => {
  const all = REQUIRED_PROVIDERS.map((namespace) => ({
    namespace: namespace.toLowerCase(),
    registrationState: "Registered",
  }));
  expect(providerProblems(all)).toEqual([]);
  const p = providerProblems([
    { namespace: "Microsoft.Storage", registrationState: "Registering" },
    ...all.slice(0, 1),
  ]);
  expect(p[0]).toBe(
    "resource provider Microsoft.Storage is Registering in this subscription: run `az provider register --namespace Microsoft.Storage`",
  );
  expect(p).toContain(
    "resource provider Microsoft.KeyVault is NotRegistered in this subscription: run `az provider register --namespace Microsoft.KeyVault`",
  );
  expect(p.length).toBe(REQUIRED_PROVIDERS.length - 1 + 1);
  expect(p[p.length - 1]).toBe("set `preflightChecks: false` to skip this check if you know better");
});

test("preflightArgs: every flag; the optional ones only when set", () => {
  const base = {
    subscriptionId: "s",
    location: "l",
    gpu: { vmSize: "v", maxNodes: 2, lowPriority: true, idleSeconds: 120 },
    serving: { instanceType: "t", instanceCount: 3 },
    training: { nodes: 1, timeoutMinutes: 60 },
    resourceGroupName: "rg",
    stack: "dev",
    deploymentName: "d-1",
    trains: true,
  };
  expect(preflightArgs(base)).toEqual([
    ...["--subscription-id", "s", "--location", "l", "--gpu-vm-size", "v", "--gpu-max-nodes", "2"],
    ...[
      "--gpu-low-priority",
      "true",
      "--gpu-idle-seconds",
      "120",
      "--instance-type",
      "t",
      "--instance-count",
      "3",
    ],
    ...["--training-nodes", "1", "--job-timeout-minutes", "60"],
    ...["--resource-group", "rg", "--stack", "dev", "--deployment-name", "d-1"],
  ]);
  const all = preflightArgs({
    ...base,
    serving: { ...base.serving, minInstances: 1 },
    training: { ...base.training, sweep: { trials: 8, concurrency: 2 } },
    maxHourlyCost: 1.5,
    costSummaryFile: "cost.md",
  });
  const deployOnly = preflightArgs({
    ...base,
    trains: false,
    training: { ...base.training, sweep: { trials: 8, concurrency: 2 } },
  });
  expect(deployOnly).toContain("--no-training");
  for (const flag of [
    "--gpu-vm-size",
    "--gpu-max-nodes",
    "--training-nodes",
    "--job-timeout-minutes",
    "--sweep-trials",
  ])
    expect(deployOnly).not.toContain(flag);
  expect(deployOnly.slice(0, 5)).toEqual(["--subscription-id", "s", "--location", "l", "--no-training"]);
  for (const [flag, v] of [
    ["--min-instances", "1"],
    ["--sweep-trials", "8"],
    ["--sweep-concurrency", "2"],
    ["--max-hourly-cost", "1.5"],
    ["--cost-summary", "cost.md"],
  ])
    expect(all[all.indexOf(flag) + 1]).toBe(v);
});

test("servingNeed: autoscale's maximum, else the count", () => {
  expect(servingNeed({ instanceType: "t", instanceCount: 2 })).toEqual({
    instanceType: "t",
    instanceCount: 2,
  });
  expect(servingNeed({ instanceType: "t", instanceCount: 2, autoscale: { maxInstances: 5 } })).toEqual({
    instanceType: "t",
    instanceCount: 5,
  });
});

describe("limits of 0 (many subscriptions' default) refuse any need", () => {
  test("a low-priority limit of 0 refuses low-priority nodes", () => {
    const low = { vmSize: "Standard_NC4as_T4_v3", maxNodes: 1, lowPriority: true };
    const rows = [
      {
        name: { value: "standardDSv2Family dedicated" },
        currentValue: 0,
        limit: 100,
        type: FAMILY,
      } as UsageRow,
      {
        name: { value: "lowPriority" },
        currentValue: 0,
        limit: 0,
        type: "x/lowPriorityCores/usages",
      } as UsageRow,
    ];
    expect(quotaProblems(input({ gpu: low }), SIZES, rows)[0]).toMatch(
      /^quota: low-priority vCPUs in westeurope: need 4 .*limit 0;/,
    );
  });

  test("a regional dedicated total of 0 refuses, and a GPU family without a row is named as having none", () => {
    const rows = [
      {
        name: { value: "standardDSv2Family dedicated" },
        currentValue: 0,
        limit: 100,
        type: FAMILY,
      } as UsageRow,
      { name: { value: "Total" }, currentValue: 0, limit: 0, type: "x/dedicatedCores/usages" } as UsageRow,
    ];
    const p = quotaProblems(input(), SIZES, rows);
    expect(p[0]).toMatch(
      /^quota: standardNCASv3_T4Family dedicated vCPUs \(no quota row: 0\) in westeurope: need 8 .*limit 0;/,
    );
    expect(p[1]).toMatch(/^quota: Total Cluster Dedicated Regional vCPUs in westeurope: need 16, limit 0;/);
  });
});
