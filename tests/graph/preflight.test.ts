// lib/core/preflightRules.ts without a network: the usage rows and VM sizes have the shapes of the 2025-12-01 spec examples
// (tests/fixtures/arm/, examples/Usage/list.json and examples/VirtualMachineSize/list.json; the NC T4 family row
// and size as third-party listings show them).
import * as fs from "fs";
import * as path from "path";
import {
  NO_RESERVE_SKUS,
  QuotaNeedsInput,
  REQUIRED_PROVIDERS,
  UsageRow,
  VmSizeInfo,
  deploymentVcpus,
  familyRow,
  providerProblems,
  quotaProblems,
  servingNeed,
} from "../../lib/core/preflightRules";

const fixture = <T>(name: string) =>
  (JSON.parse(fs.readFileSync(path.join(__dirname, "..", "fixtures", "arm", name), "utf8")) as { value: T })
    .value;
const rows = fixture<UsageRow[]>("usages-westeurope.json");
const sizes = fixture<VmSizeInfo[]>("vmsizes-westeurope.json");
/** The same with this workspace's and its clusters' rows before each family row (see tests/ops/fake/quota.ts). */
const scoped = fixture<UsageRow[]>("usages-westeurope-scoped.json");

const stack = (over: Partial<QuotaNeedsInput> = {}): QuotaNeedsInput => ({
  location: "westeurope",
  gpu: { vmSize: "Standard_NC4as_T4_v3", maxNodes: 1, lowPriority: false },
  serving: { instanceType: "Standard_DS3_v2", instanceCount: 1 },
  deploymentExists: false,
  ...over,
});

test("a managed deployment needs ceil(1.2 × instances) × vCPUs", () => {
  expect(deploymentVcpus(1, 4)).toBe(8);
  expect(deploymentVcpus(10, 4)).toBe(48);
  expect(deploymentVcpus(3, 8)).toBe(32);
});

test("managed-endpoint SKU list rule: sizes marked 'Skip 20% Reservation' need no 1.2 factor", () => {
  expect(deploymentVcpus(2, 24, "Standard_NC24ads_A100_v4")).toBe(48);
  expect(deploymentVcpus(2, 24, "STANDARD_NC24ADS_A100_V4")).toBe(48);
  expect(deploymentVcpus(2, 4, "Standard_DS3_v2")).toBe(12);
  expect(NO_RESERVE_SKUS).toEqual(
    expect.arrayContaining(["Standard_ND96asr_v4", "Standard_ND96isr_H100_v5"]),
  );
  // One A100 instance in a family with 24 vCPUs free fits; with the reserve it would need 48.
  const a100 = { name: "Standard_NC24ads_A100_v4", family: "standardNCADSA100v4Family", vCPUs: 24 };
  const row: UsageRow = {
    type: "Microsoft.MachineLearningServices/vmFamily/usages",
    currentValue: 0,
    limit: 24,
    name: { value: "Standard NCADSA100v4 Family Cluster Dedicated vCPUs" },
  };
  const serving = { instanceType: a100.name, instanceCount: 1 };
  expect(quotaProblems(stack({ serving }), [...sizes, a100], [...rows, row])).toEqual([]);
  expect(
    quotaProblems(stack({ serving: { ...serving, instanceCount: 2 } }), [...sizes, a100], [...rows, row])[0],
  ).toContain("need 48 more (instanceCount 2 (no 20 % reserve for Standard_NC24ads_A100_v4) × 24 vCPUs");
});

test("Azure ML usages rule: workspace and cluster rows share the family row's name; only the vmFamily row counts", () => {
  // examples/Usage/list.json: rows of type .../workspaces/usages and .../workspaces/computes/usages come first here
  const row = familyRow(scoped, "standardDSv2Family");
  expect(row).toMatchObject({ type: "Microsoft.MachineLearningServices/vmFamily/usages", currentValue: 8 });
  expect(familyRow(scoped, "standardNCASv3_T4Family")?.type).toMatch(/\/vmFamily\/usages$/);
  // 8 in use in the subscription, 8 more for the new deployment: 16 > 12 (the workspace row's 0 would hide it).
  expect(quotaProblems(stack(), sizes, scoped)[0]).toMatch(
    /DSv2 Family Cluster Dedicated vCPUs in westeurope: need 8 more .*limit 12, in use 8/,
  );
});

test("usage rows without a type: the id tells the family row; with neither, the largest usage (never under-counts)", () => {
  const untyped = scoped.map(({ type: _type, ...r }) => r);
  expect(familyRow(untyped, "standardDSv2Family")?.currentValue).toBe(8);
  expect(familyRow(untyped, "standardDSv2Family")?.id).not.toContain("/workspaces/");
  const bare = untyped.map(({ id: _id, ...r }) => r);
  expect(familyRow(bare, "standardDSv2Family")?.currentValue).toBe(8);
  // A typed workspace row is never the family's, even when nothing else matches.
  expect(
    familyRow(
      scoped.filter((r) => !r.type?.endsWith("/vmFamily/usages")),
      "standardDSv2Family",
    ),
  ).toBeUndefined();
});

test("VM size families meet their usage rows whatever the spelling", () => {
  expect(familyRow(rows, "standardDSv2Family")?.limit).toBe(24);
  expect(familyRow(rows, "standardNCASv3_T4Family")?.name.value).toBe(
    "Standard NCASv3_T4 Family Cluster Dedicated vCPUs",
  );
  expect(familyRow(rows, "standardNDSv2Family")).toBeUndefined();
});

test("the dev stack fits: 4 GPU vCPUs of 8, a DS3_v2 deployment's 8 of the 16 left", () => {
  expect(quotaProblems(stack(), sizes, rows)).toEqual([]);
});

test("too few GPU vCPUs: the error names the family, the need, the limit and how to get more", () => {
  const problems = quotaProblems(
    stack({ gpu: { vmSize: "Standard_NC4as_T4_v3", maxNodes: 3, lowPriority: false } }),
    sizes,
    rows,
  );
  expect(problems[0]).toContain("Standard NCASv3_T4 Family Cluster Dedicated vCPUs in westeurope: need 12");
  expect(problems[0]).toContain("limit 8");
  expect(problems[0]).toContain("az ml compute list-usage --location westeurope");
  expect(problems[0]).toContain("Quotas > Machine learning");
  expect(problems.at(-1)).toContain("preflightChecks: false");
});

test("a rollout needs room beside the running deployment; an unchanged deployment needs none", () => {
  const tight = rows.map((r) =>
    r.name.value?.startsWith("Standard DSv2") && r.limit > 0 ? { ...r, limit: 12 } : r,
  );
  // 8 in use by the old deployment, 8 more for the new one: 16 > 12.
  expect(quotaProblems(stack(), sizes, tight)[0]).toMatch(
    /DSv2 Family Cluster Dedicated vCPUs in westeurope: need 8 more .*limit 12, in use 8/,
  );
  expect(quotaProblems(stack({ deploymentExists: true }), sizes, tight)).toEqual([]);
});

test("low-priority nodes count against the regional low-priority limit, not the family's", () => {
  const lp = stack({ gpu: { vmSize: "Standard_NC4as_T4_v3", maxNodes: 10, lowPriority: true } });
  expect(quotaProblems(lp, sizes, rows)).toEqual([]);
  const big = stack({ gpu: { vmSize: "Standard_NC4as_T4_v3", maxNodes: 20, lowPriority: true } });
  expect(quotaProblems(big, sizes, rows)[0]).toContain(
    "low-priority vCPUs in westeurope: need 80 (gpuMaxNodes 20",
  );
});

test("a family without a quota row has none; a size the region lacks is named", () => {
  const noT4 = rows.filter((r) => !r.name.value?.includes("NCASv3_T4"));
  expect(quotaProblems(stack(), sizes, noT4)[0]).toContain("need 4");
  expect(quotaProblems(stack(), sizes, noT4)[0]).toContain("limit 0");
  expect(
    quotaProblems(stack({ serving: { instanceType: "Standard_F2s_v2", instanceCount: 1 } }), sizes, rows)[0],
  ).toContain("instanceType = Standard_F2s_v2: Azure ML offers no such VM size in this region");
});

test("unregistered resource providers are named with the command that registers them", () => {
  const all = REQUIRED_PROVIDERS.map((namespace) => ({ namespace, registrationState: "Registered" }));
  expect(providerProblems(all)).toEqual([]);
  const some = all.map((p) =>
    p.namespace === "Microsoft.MachineLearningServices" ? { ...p, registrationState: "NotRegistered" } : p,
  );
  expect(providerProblems(some)[0]).toBe(
    "resource provider Microsoft.MachineLearningServices is NotRegistered in this subscription: run `az provider register --namespace Microsoft.MachineLearningServices`",
  );
  expect(providerProblems(all.slice(1))).toHaveLength(2);
});

test("with autoscale the deployment's quota is counted at its maximum", () => {
  const serving = { instanceType: "Standard_DS3_v2", instanceCount: 1 };
  expect(servingNeed(serving)).toEqual(serving);
  expect(servingNeed({ ...serving, autoscale: { maxInstances: 4 } })).toEqual({
    ...serving,
    instanceCount: 4,
  });
  // 4 instances of DS3_v2: ceil(4.8) × 4 = 20 vCPUs, more than the 16 left in the fixture's DSv2 row.
  expect(
    quotaProblems(
      stack({ serving: servingNeed({ ...serving, autoscale: { maxInstances: 4 } }) }),
      sizes,
      rows,
    )[0],
  ).toContain("need 20 more");
});
