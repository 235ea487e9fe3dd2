// The quota and registration pre-flight: what the stack needs of Azure ML's regional vCPU quota and of the
// subscription's resource providers, compared with what the subscription has. Pure: the answers of the ARM reads
// (usages, VM sizes, providers) come in as data, so every rule is tested without a network.
//
// Facts it relies on (API 2025-12-01 unless said otherwise):
// - `GET /subscriptions/{sub}/providers/Microsoft.MachineLearningServices/locations/{loc}/usages` lists Azure ML
//   quota rows `{type, currentValue, limit, name: {value, localizedValue}}`, one per VM family
//   ("Standard NCASv3_T4 Family Cluster Dedicated vCPUs", type .../vmFamily/usages), plus the regional totals
//   (.../dedicatedCores/usages, .../lowPriorityCores/usages) (azure-rest-api-specs examples/Usage/list.json).
//   The same list carries rows of type .../workspaces/usages and .../workspaces/computes/usages (also spelt
//   .../workspace/usages) with the family row's very name and a workspace's or a cluster's share as currentValue;
//   only the vmFamily row holds the subscription's usage. This is Azure ML's own quota, not the VM quota
//   `az vm list-usage` shows.
// - `GET .../locations/{loc}/vmSizes` gives each size's `family` key (standardDSv2Family) and `vCPUs`
//   (examples/VirtualMachineSize/list.json), and its estimated prices (lib/core/cost.ts reads them).
// - Low-priority cores are one regional value across families; dedicated cores have a limit per family (GPU
//   families start at 0) (Azure ML docs, how-to-manage-quotas).
// - A managed online deployment needs ceil(1.2 × instances) × vCPUs of its size (the docs: "request 10 instances
//   … must have a quota for 12"), except the SKUs the managed-endpoint SKU list marks "Skip 20% Reservation";
//   during a rollout the old deployment still holds its share.
import type { EstimatedVmPrices } from "./cost";

// azure-rest-api-specs ML stable/2025-12-01 machineLearningServices.json definitions VirtualMachineSize (examples/VirtualMachineSize/list.json)
export interface VmSizeInfo {
  name: string;
  family?: string;
  vCPUs?: number;
  estimatedVMPrices?: EstimatedVmPrices;
}

export interface UsageRow {
  id?: string;
  type?: string;
  currentValue: number;
  limit: number;
  name: { value?: string; localizedValue?: string };
}

export interface ProviderInfo {
  namespace: string;
  registrationState?: string;
}

/** What the stack will ask of Azure ML's quota. */
export interface QuotaNeedsInput {
  location: string;
  /** the GPU cluster at its maximum; absent: the stack never trains (modelSource registry), no cluster to hold */
  gpu?: { vmSize: string; maxNodes: number; lowPriority: boolean };
  serving: { instanceType: string; instanceCount: number };
  /** The deployment this `up` declares already exists (nothing new to place) */
  deploymentExists: boolean;
}

/** Resource providers the program's resources live in. */
export const REQUIRED_PROVIDERS = [
  "Microsoft.MachineLearningServices",
  "Microsoft.Storage",
  "Microsoft.KeyVault",
  "Microsoft.ContainerRegistry",
  "Microsoft.Insights",
  "Microsoft.OperationalInsights",
] as const;

/** Lowercase letters and digits only: "standardNCASv3_T4Family" and "Standard NCASv3_T4 Family ..." meet. */
const squash = (s: string) => s.toLowerCase().replace(/[^a-z0-9]/g, "");

function rowText(row: UsageRow): string {
  return squash(`${row.name.value ?? ""} ${row.name.localizedValue ?? ""}`);
}

/** Where a usage row counts: the subscription's family row, a workspace's or a cluster's share, or unknown. */
function rowScope(row: UsageRow): "family" | "other" | "unknown" {
  if (row.type) return /\/vmFamily\/usages$/i.test(row.type) ? "family" : "other";
  // No type: a subscription-level id (no /workspaces/ segment) is the family row; no id either says nothing.
  if (row.id) return /\/workspaces?\//i.test(row.id) ? "other" : "family";
  return "unknown";
}

/**
 * The family's dedicated-vCPU row (clusters and managed deployments draw on it): the row of type
 * .../vmFamily/usages, never a workspace's or a cluster's row of the same name. A row without a type counts by its
 * id; when neither tells, the candidate with the largest currentValue is taken, as the family row sums the
 * workspace rows and so is never below them (taking it never under-counts).
 */
export function familyRow(rows: readonly UsageRow[], family: string): UsageRow | undefined {
  const key = squash(family);
  const named = rows.filter((r) => {
    const t = squash(r.name.value ?? "") || rowText(r);
    return t.startsWith(key) && t.includes("dedicated");
  });
  const own = named.find((r) => rowScope(r) === "family");
  if (own) return own;
  const unknown = named.filter((r) => rowScope(r) === "unknown");
  return unknown.reduce<UsageRow | undefined>(
    (a, r) => (a && a.currentValue >= r.currentValue ? a : r),
    undefined,
  );
}

function typedRow(rows: readonly UsageRow[], typeSuffix: string): UsageRow | undefined {
  return rows.find((r) => (r.type ?? "").toLowerCase().endsWith(typeSuffix.toLowerCase()));
}

/** Managed-endpoint SKUs that Azure ML deploys without the 20 % upgrade reserve. */
// "Skip 20% Reservation" = Yes (MicrosoftDocs/azure-ai-docs articles/machine-learning/reference-managed-online-endpoints-vm-sku-list.md, learn.microsoft.com/azure/machine-learning/reference-managed-online-endpoints-vm-sku-list)
export const NO_RESERVE_SKUS: readonly string[] = [
  "Standard_NC24ads_A100_v4",
  "Standard_NC48ads_A100_v4",
  "Standard_NC96ads_A100_v4",
  "Standard_NC40ads_H100_v5",
  "Standard_NC80adis_H100_v5",
  "Standard_ND96amsr_A100_v4",
  "Standard_ND96asr_v4",
  "Standard_ND40rs_v2",
  "Standard_ND96is_H100_v5",
  "Standard_ND96isr_H100_v5",
];

const noReserve = (instanceType?: string) =>
  NO_RESERVE_SKUS.some((s) => s.toLowerCase() === instanceType?.toLowerCase());

/**
 * vCPUs a managed deployment of `count` instances holds: 20 % extra for upgrades (rounded up to whole instances),
 * none for the SKUs in NO_RESERVE_SKUS. Without `instanceType` the reserve is assumed.
 */
export function deploymentVcpus(count: number, vCPUs: number, instanceType?: string): number {
  return (noReserve(instanceType) ? count : Math.ceil(1.2 * count)) * vCPUs;
}

const HOW_TO_GET_MORE = (location: string) =>
  `see usage with \`az ml compute list-usage --location ${location} -o table\`; request more in the Azure portal > ` +
  "Quotas > Machine learning (Azure ML quota, not the VM quota of `az vm list-usage`)";
const HOW_TO_SKIP = "set `preflightChecks: false` to skip this check if you know better";

function sizeInfo(
  sizes: readonly VmSizeInfo[],
  name: string,
  key: string,
  problems: string[],
): VmSizeInfo | undefined {
  const s = sizes.find((x) => x.name.toLowerCase() === name.toLowerCase());
  if (!s || !s.family || !s.vCPUs) {
    problems.push(
      `${key} = ${name}: Azure ML offers no such VM size in this region (its VM sizes list has none)`,
    );
    return undefined;
  }
  return s;
}

/**
 * Every quota shortfall, each naming the family, the need, the limit and how to get more. An empty list means the
 * stack fits.
 */
export function quotaProblems(
  input: QuotaNeedsInput,
  sizes: readonly VmSizeInfo[],
  rows: readonly UsageRow[],
): string[] {
  const problems: string[] = [];
  const where = `in ${input.location}`;
  let dedicatedNeed = 0;

  const gpu = input.gpu && sizeInfo(sizes, input.gpu.vmSize, "gpuVmSize", problems);
  if (input.gpu && gpu) {
    const need = input.gpu.maxNodes * gpu.vCPUs!;
    const why = `gpuMaxNodes ${input.gpu.maxNodes} × ${gpu.vCPUs} vCPUs of ${gpu.name}`;
    if (input.gpu.lowPriority) {
      // One regional low-priority limit; the family rows say -1 there.
      const row = typedRow(rows, "/lowPriorityCores/usages");
      if (row && row.limit >= 0 && need > row.limit)
        problems.push(
          `quota: low-priority vCPUs ${where}: need ${need} (${why}), limit ${row.limit}; ${HOW_TO_GET_MORE(input.location)}`,
        );
    } else {
      dedicatedNeed += need;
      const row = familyRow(rows, gpu.family!);
      const limit = row ? row.limit : 0;
      const label =
        row?.name.localizedValue ?? row?.name.value ?? `${gpu.family} dedicated vCPUs (no quota row: 0)`;
      // The cluster scales from zero: what it needs is the limit itself; nodes busy elsewhere only make it wait.
      if (need > limit)
        problems.push(
          `quota: ${label} ${where}: need ${need} (${why}), limit ${limit}; ${HOW_TO_GET_MORE(input.location)}`,
        );
    }
  }

  const dep = sizeInfo(sizes, input.serving.instanceType, "instanceType", problems);
  if (dep && !input.deploymentExists) {
    const need = deploymentVcpus(input.serving.instanceCount, dep.vCPUs!, dep.name);
    dedicatedNeed += need;
    const instances = noReserve(dep.name)
      ? `instanceCount ${input.serving.instanceCount} (no 20 % reserve for ${dep.name})`
      : `ceil(1.2 × instanceCount ${input.serving.instanceCount})`;
    const why =
      `${instances} × ${dep.vCPUs} vCPUs of ${dep.name}` +
      "; during a rollout the previous deployment keeps its share until the new one holds the traffic";
    const row = familyRow(rows, dep.family!);
    const limit = row ? row.limit : 0;
    const used = row ? row.currentValue : 0;
    const label =
      row?.name.localizedValue ?? row?.name.value ?? `${dep.family} dedicated vCPUs (no quota row: 0)`;
    if (need > limit - used)
      problems.push(
        `quota: ${label} ${where}: need ${need} more (${why}), limit ${limit}, in use ${used}; ${HOW_TO_GET_MORE(input.location)}`,
      );
  }

  const total = typedRow(rows, "/dedicatedCores/usages");
  if (total && total.limit >= 0 && dedicatedNeed > total.limit)
    problems.push(
      `quota: ${total.name.localizedValue ?? "Total Cluster Dedicated Regional vCPUs"} ${where}: need ${dedicatedNeed}, limit ${total.limit}; ${HOW_TO_GET_MORE(input.location)}`,
    );
  return problems.length ? [...problems, HOW_TO_SKIP] : [];
}

/** Providers that are not registered, each with the command that registers it. */
export function providerProblems(providers: readonly ProviderInfo[]): string[] {
  const problems: string[] = [];
  for (const ns of REQUIRED_PROVIDERS) {
    const p = providers.find((x) => x.namespace.toLowerCase() === ns.toLowerCase());
    const state = p?.registrationState ?? "NotRegistered";
    if (state !== "Registered")
      problems.push(
        `resource provider ${ns} is ${state} in this subscription: run \`az provider register --namespace ${ns}\``,
      );
  }
  return problems.length ? [...problems, HOW_TO_SKIP] : [];
}

/** What the pre-flight CLI (ops/preflight.ts) is told of a stack. */
export interface PreflightStack {
  subscriptionId: string;
  location: string;
  /**
   * whether the stack trains (modelSource train): false (modelSource registry) declares no GPU cluster and no job,
   * so the pre-flight is told --no-training and neither the cluster's quota nor a training run is checked or priced
   */
  trains: boolean;
  /** the GPU cluster's config; passed on only when the stack trains */
  gpu: { vmSize: string; maxNodes: number; lowPriority: boolean; idleSeconds: number };
  /** instanceCount: with autoscale its maxInstances (servingNeed); minInstances: autoscale's, absent without it */
  serving: { instanceType: string; instanceCount: number; minInstances?: number };
  /** the training run's config; passed on only when the stack trains */
  training: { nodes: number; timeoutMinutes: number; sweep?: { trials: number; concurrency: number } };
  resourceGroupName: string;
  stack: string;
  deploymentName: string;
  /** the most the endpoint may cost per hour; absent: no limit */
  maxHourlyCost?: number;
  /** where the pre-flight writes its cost lines as markdown (the pull-request comment's section) */
  costSummaryFile?: string;
}

/**
 * The pre-flight CLI's arguments for a stack (ops/preflight.ts); optional flags only when set. A stack that never
 * trains gets --no-training and none of the GPU cluster's or the training run's flags (the CLI refuses them there).
 */
export function preflightArgs(p: PreflightStack): string[] {
  const optional = (flag: string, v: string | number | undefined) =>
    v === undefined ? [] : [flag, String(v)];
  const gpu = p.trains
    ? [
        "--gpu-vm-size",
        p.gpu.vmSize,
        "--gpu-max-nodes",
        String(p.gpu.maxNodes),
        "--gpu-low-priority",
        String(p.gpu.lowPriority),
        "--gpu-idle-seconds",
        String(p.gpu.idleSeconds),
      ]
    : ["--no-training"];
  const training = p.trains
    ? [
        "--training-nodes",
        String(p.training.nodes),
        "--job-timeout-minutes",
        String(p.training.timeoutMinutes),
        ...optional("--sweep-trials", p.training.sweep?.trials),
        ...optional("--sweep-concurrency", p.training.sweep?.concurrency),
      ]
    : [];
  return [
    "--subscription-id",
    p.subscriptionId,
    "--location",
    p.location,
    ...gpu,
    "--instance-type",
    p.serving.instanceType,
    "--instance-count",
    String(p.serving.instanceCount),
    ...optional("--min-instances", p.serving.minInstances),
    ...training,
    ...optional("--max-hourly-cost", p.maxHourlyCost),
    ...optional("--cost-summary", p.costSummaryFile),
    "--resource-group",
    p.resourceGroupName,
    "--stack",
    p.stack,
    "--deployment-name",
    p.deploymentName,
  ];
}

/** What the deployment may grow to: with autoscale its maximum, which the quota must hold. */
export function servingNeed(serving: {
  instanceType: string;
  instanceCount: number;
  autoscale?: { maxInstances: number };
}): { instanceType: string; instanceCount: number } {
  return {
    instanceType: serving.instanceType,
    instanceCount: serving.autoscale?.maxInstances ?? serving.instanceCount,
  };
}
