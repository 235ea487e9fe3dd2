/**
 * preflight: checks, before the Pulumi program declares any resource (in `pulumi preview` too), that the
 * subscription can hold the stack: the resource providers it needs are registered, and Azure ML's quota in the
 * region covers the GPU cluster at its maximum size and a new online deployment (ceil(1.2 × instances) × vCPUs,
 * beside whatever already runs). The rules are lib/core/preflightRules.ts; this CLI reads what they compare (lib/azureml/quota.ts).
 * It also says what the stack costs, from the prices the same VM sizes list carries (lib/core/cost.ts): the endpoint
 * per hour and per month, an upper bound of the training run, the cluster at zero when idle; and it refuses an
 * endpoint that costs more per hour than --max-hourly-cost (config maxHourlyCost).
 *
 *   tsx ops/preflight.ts --subscription-id <GUID> --location <region> --gpu-vm-size <size> --gpu-max-nodes N
 *     --gpu-low-priority true|false --gpu-idle-seconds N --instance-type <size> --instance-count N
 *     [--min-instances N] --training-nodes N --job-timeout-minutes N [--sweep-trials N --sweep-concurrency N]
 *     [--max-hourly-cost X] [--cost-summary FILE] --resource-group <name> --stack <name>
 *     --deployment-name <d-...> [--arm-endpoint URL]
 *   tsx ops/preflight.ts --no-training --subscription-id <GUID> --location <region> --instance-type <size> ...
 *
 * --instance-count is what the quota must hold (with autoscale its maxInstances), --min-instances autoscale's
 * minimum; --cost-summary: a file the cost lines are written to as markdown (the pull-request comment's section).
 * --no-training: the stack never trains (modelSource registry: no GPU cluster, no job), so only the endpoint's quota
 * and cost are checked; the GPU and training flags are then refused, and without it they are required.
 *
 * Reads only (Reader at subscription scope). stdout: {"ok": true, "location", "needs", "deploymentExists", "cost"};
 * when the stack does not fit or costs more than --max-hourly-cost, exit 1 with every problem on stderr, one a line,
 * and {"error", "location", "problems", "cost"}.
 */
import { ARM_FLAGS, ArmClient, armEndpointFrom } from "../lib/azure/arm";
import { usageLine, withFlags, type FlagValues } from "../lib/toolkit/args";
import { CliError, UsageError, errorMessage } from "../lib/toolkit/errors";
import { HttpError } from "../lib/azure/http";
import { log, writeResult } from "../lib/toolkit/log";
import * as fs from "node:fs";
import { ML_NAMESPACE, findDeployment, mlUsages, mlVmSizes, providerInfos } from "../lib/azureml/quota";
import { runCli } from "../lib/toolkit/run";
import type { PreflightFailure, PreflightResult } from "../lib/core/contracts";
import { validateName } from "../lib/core/naming";
import {
  REQUIRED_PROVIDERS,
  deploymentVcpus,
  providerProblems,
  quotaProblems,
} from "../lib/core/preflightRules";
import type { ProviderInfo, QuotaNeedsInput, UsageRow, VmSizeInfo } from "../lib/core/preflightRules";
import { type CostEstimate, type CostInput, costEstimate, costMarkdown } from "../lib/core/cost";
import { GUID, LOCATION, VM_SIZE } from "../lib/core/azureRules";

const FLAGS = {
  "subscription-id": { type: "string", required: true, placeholder: "<GUID>" },
  location: { type: "string", required: true, placeholder: "<region>" },
  // The GPU and training flags: required unless --no-training, refused with it (buildOptions).
  "no-training": { type: "boolean" },
  "gpu-vm-size": { type: "string", placeholder: "<VM size>" },
  "gpu-max-nodes": { type: "number", min: 1, integer: true },
  "gpu-low-priority": { type: "string", placeholder: "true|false" },
  "gpu-idle-seconds": { type: "number", min: 0, integer: true },
  "instance-type": { type: "string", required: true, placeholder: "<VM size>" },
  "instance-count": { type: "number", required: true, min: 1, integer: true },
  "min-instances": { type: "number", min: 1, integer: true },
  "training-nodes": { type: "number", min: 1, integer: true },
  "job-timeout-minutes": { type: "number", min: 1, integer: true },
  "sweep-trials": { type: "number", min: 1, integer: true },
  "sweep-concurrency": { type: "number", min: 1, integer: true },
  "max-hourly-cost": { type: "number", min: 0 },
  "cost-summary": { type: "string", placeholder: "<file>" },
  "resource-group": { type: "string", required: true, placeholder: "<name>" },
  stack: { type: "string", required: true, placeholder: "<name>" },
  "deployment-name": { type: "string", required: true, placeholder: "<d-...>" },
  "arm-endpoint": ARM_FLAGS["arm-endpoint"],
} as const;

/** The flags that describe the GPU cluster and the training run: all of them without --no-training, none with it. */
const TRAINING_FLAGS = [
  "gpu-vm-size",
  "gpu-max-nodes",
  "gpu-low-priority",
  "gpu-idle-seconds",
  "training-nodes",
  "job-timeout-minutes",
  "sweep-trials",
  "sweep-concurrency",
] as const;
/** Of TRAINING_FLAGS, those a stack that trains must give. */
const REQUIRED_TRAINING_FLAGS = TRAINING_FLAGS.filter((f) => !f.startsWith("sweep-"));

const USAGE =
  usageLine("bash scripts/env.sh tsx ops/preflight.ts", FLAGS) +
  `\n  without --no-training, ${REQUIRED_TRAINING_FLAGS.map((f) => `--${f}`).join(", ")} are required;` +
  "\n  with --no-training (a stack that never trains, modelSource registry) they and the sweep flags are refused";

export interface PreflightOptions {
  subscriptionId: string;
  resourceGroup: string;
  stack: string;
  deployment: string;
  armEndpoint: string;
  /** what the rules compare, `deploymentExists` still to be read */
  stackNeeds: Omit<QuotaNeedsInput, "deploymentExists">;
  /** what the cost estimate prices */
  costInput: CostInput;
  /** where the cost lines go as markdown, if anywhere */
  costSummaryFile?: string;
}

/** The value of a flag that must match `re`, else a usage error that names the flag and the expected form. */
function matching(flag: string, value: string, re: RegExp, form: string): string {
  if (!re.test(value)) throw new UsageError(`--${flag} must be ${form}, got '${value}'`);
  return value;
}

/** lib/core/naming's rule for an Azure name, as a usage error. */
function azureName(flag: string, kind: "resourceGroup" | "deployment", value: string): string {
  try {
    return validateName(kind, value);
  } catch (err) {
    throw new UsageError(`--${flag}: ${errorMessage(err)}`);
  }
}

/** The sweep's trials and concurrency: both flags or neither. */
function sweepOf(a: FlagValues<typeof FLAGS>): NonNullable<CostInput["training"]>["sweep"] {
  const trials = a["sweep-trials"];
  const concurrency = a["sweep-concurrency"];
  if (trials === undefined && concurrency === undefined) return undefined;
  if (trials === undefined || concurrency === undefined)
    throw new UsageError("--sweep-trials and --sweep-concurrency go together");
  return { trials, concurrency };
}

const vmSize = (flag: string, value: string) =>
  matching(flag, value, VM_SIZE, "an Azure VM size such as Standard_DS3_v2");

/**
 * The GPU cluster and the training run, as the quota rules and the cost estimate take them: from the flags that a
 * stack that trains must give; nothing with --no-training, where any of those flags is a usage error.
 */
function trainingOf(
  a: FlagValues<typeof FLAGS>,
): { quota: QuotaNeedsInput["gpu"]; cost: Pick<CostInput, "gpu" | "training"> } | undefined {
  if (a["no-training"]) {
    const given = TRAINING_FLAGS.filter((f) => a[f] !== undefined);
    if (given.length)
      throw new UsageError(
        `--no-training: the stack has no GPU cluster and no training run; leave out ${given.map((f) => `--${f}`).join(", ")}`,
      );
    return undefined;
  }
  const missing = REQUIRED_TRAINING_FLAGS.find((f) => a[f] === undefined);
  if (missing)
    throw new UsageError(`--${missing} is required (or --no-training, for a stack that never trains)`);
  const gpuVmSize = vmSize("gpu-vm-size", a["gpu-vm-size"]!);
  const lowPriority =
    matching("gpu-low-priority", a["gpu-low-priority"]!, /^(true|false)$/, "true or false") === "true";
  const sweep = sweepOf(a);
  return {
    quota: { vmSize: gpuVmSize, maxNodes: a["gpu-max-nodes"]!, lowPriority },
    cost: {
      gpu: { vmSize: gpuVmSize, lowPriority, idleSeconds: a["gpu-idle-seconds"]! },
      training: {
        nodes: a["training-nodes"]!,
        timeoutMinutes: a["job-timeout-minutes"]!,
        ...(sweep ? { sweep } : {}),
      },
    },
  };
}

function buildOptions(a: FlagValues<typeof FLAGS>): PreflightOptions {
  const minInstances = a["min-instances"];
  if (minInstances !== undefined && minInstances > a["instance-count"])
    throw new UsageError(
      `--min-instances (${minInstances}) must not exceed --instance-count (${a["instance-count"]}, autoscale's maximum)`,
    );
  const training = trainingOf(a);
  const instanceType = vmSize("instance-type", a["instance-type"]);
  return {
    subscriptionId: matching("subscription-id", a["subscription-id"], GUID, "a subscription GUID"),
    resourceGroup: azureName("resource-group", "resourceGroup", a["resource-group"]),
    stack: matching("stack", a.stack, /^\S+$/, "a Pulumi stack name"),
    deployment: azureName("deployment-name", "deployment", a["deployment-name"]),
    armEndpoint: armEndpointFrom(a["arm-endpoint"]),
    stackNeeds: {
      location: matching("location", a.location, LOCATION, "a region name such as westeurope"),
      ...(training ? { gpu: training.quota } : {}),
      serving: { instanceType, instanceCount: a["instance-count"] },
    },
    costInput: {
      serving: {
        instanceType,
        instanceCount: a["instance-count"],
        ...(minInstances !== undefined ? { minInstances } : {}),
      },
      ...training?.cost,
      ...(a["max-hourly-cost"] !== undefined ? { maxHourlyCost: a["max-hourly-cost"] } : {}),
    },
    ...(a["cost-summary"] ? { costSummaryFile: a["cost-summary"] } : {}),
  };
}

export const parsePreflightArgs = withFlags(FLAGS, buildOptions);

/** What the ARM reads found. `quota` is absent when Azure ML is not registered (its quota cannot be read yet). */
export interface Facts {
  providers: ProviderInfo[];
  quota?: { rows: UsageRow[]; sizes: VmSizeInfo[] };
  deploymentExists: boolean;
}

/** The lists joined, each line once; a line in several lists (the rules' shared skip hint) comes last. */
export function joinProblems(...lists: string[][]): string[] {
  const all = lists.flat();
  const shared = new Set(all.filter((p, i) => all.indexOf(p) !== i));
  return [...new Set([...all.filter((p) => !shared.has(p)), ...shared])];
}

/** Every problem, provider registrations first. */
export function preflightProblems(stackNeeds: PreflightOptions["stackNeeds"], facts: Facts): string[] {
  const providers = providerProblems(facts.providers);
  if (!facts.quota) {
    return joinProblems([`Azure ML quota not checked: ${ML_NAMESPACE} must be registered first`], providers);
  }
  const input = { ...stackNeeds, deploymentExists: facts.deploymentExists };
  return joinProblems(providers, quotaProblems(input, facts.quota.sizes, facts.quota.rows));
}

/** The vCPUs the stack asks for (sizes found: the rules passed). */
export function quotaNeeds(input: QuotaNeedsInput, sizes: readonly VmSizeInfo[]): PreflightResult["needs"] {
  const size = (name: string) => sizes.find((s) => s.name.toLowerCase() === name.toLowerCase());
  const dep = size(input.serving.instanceType);
  const { instanceType, instanceCount } = input.serving;
  const gpuNeed = (gpu: NonNullable<QuotaNeedsInput["gpu"]>) => {
    const info = size(gpu.vmSize);
    return {
      vmSize: gpu.vmSize,
      family: info?.family ?? "unknown",
      vCPUs: gpu.maxNodes * (info?.vCPUs ?? 0),
      lowPriority: gpu.lowPriority,
    };
  };
  return {
    // absent when the stack never trains (--no-training): no cluster, nothing to hold
    ...(input.gpu ? { gpu: gpuNeed(input.gpu) } : {}),
    deployment: {
      instanceType,
      family: dep?.family ?? "unknown",
      vCPUs: input.deploymentExists ? 0 : deploymentVcpus(instanceCount, dep?.vCPUs ?? 0),
    },
  };
}

/** A 403 on a read: which role is missing, and how to skip the check. */
function explainForbidden(err: unknown, o: PreflightOptions): never {
  if (!(err instanceof HttpError) || err.status !== 403) throw err;
  throw new CliError(
    err.message,
    [
      `Give the identity Reader on /subscriptions/${o.subscriptionId}: it covers every read of the pre-flight. ` +
        `Reader on the resource group ${o.resourceGroup} alone does not cover the subscription-level reads ` +
        "(Azure ML usages and VM sizes of the region, resource provider registrations).",
      "Or set `preflightChecks: false` to skip this check.",
    ],
    1,
    { location: o.stackNeeds.location },
  );
}

/** The ARM reads: providers first; quota and the deployment only once Azure ML is registered. */
export async function gatherFacts(arm: ArmClient, o: PreflightOptions): Promise<Facts> {
  const { location } = o.stackNeeds;
  const providers = await providerInfos(arm, o.subscriptionId, REQUIRED_PROVIDERS);
  const ml = providers.find((p) => p.namespace.toLowerCase() === ML_NAMESPACE.toLowerCase());
  if (ml?.registrationState !== "Registered") return { providers, deploymentExists: false };
  const [rows, sizes, endpoint] = await Promise.all([
    mlUsages(arm, o.subscriptionId, location),
    mlVmSizes(arm, o.subscriptionId, location),
    findDeployment(arm, o),
  ]);
  log(`  ${rows.length} Azure ML usage rows and ${sizes.length} VM sizes in ${location}`);
  log(
    endpoint
      ? `  deployment ${o.deployment} already exists (${endpoint.split("/").pop()}): no new deployment quota needed`
      : `  deployment ${o.deployment} does not exist yet: it needs quota beside whatever runs now`,
  );
  return { providers, quota: { rows, sizes }, deploymentExists: endpoint !== undefined };
}

/** The cost lines on stderr and, when asked, as markdown in the summary file (written before any refusal). */
function reportCost(o: PreflightOptions, cost: CostEstimate | undefined, why: string): void {
  const where = { stack: o.stack, location: o.stackNeeds.location };
  if (cost) {
    log(`preflight: cost (estimated retail prices of the VM sizes list of ${where.location}):`);
    for (const line of cost.lines) log(`  ${line}`);
  } else log(`preflight: cost not estimated: ${why}`);
  if (!o.costSummaryFile) return;
  const markdown = cost
    ? costMarkdown(cost, where)
    : `#### Cost before anything runs: stack ${where.stack} in ${where.location} (pre-flight)\n\nNot estimated: ${why}\n`;
  fs.writeFileSync(o.costSummaryFile, markdown);
}

export async function preflight(o: PreflightOptions): Promise<void> {
  const { location } = o.stackNeeds;
  log(
    `preflight: stack ${o.stack} in ${location} (subscription ${o.subscriptionId}, resource group ${o.resourceGroup})`,
  );
  const facts = await gatherFacts(new ArmClient(o.armEndpoint), o).catch((err) => explainForbidden(err, o));
  const cost = facts.quota ? costEstimate(o.costInput, facts.quota.sizes) : undefined;
  reportCost(o, cost, `${ML_NAMESPACE} must be registered first (its VM sizes list carries the prices)`);
  const quota = preflightProblems(o.stackNeeds, facts);
  const problems = cost?.problem
    ? [
        ...quota,
        `${cost.problem}: raise maxHourlyCost (or remove it), lower instanceCount (autoscale.maxInstances) or pick a cheaper instanceType`,
      ]
    : quota;
  if (problems.length) {
    const result = { location, problems, ...(cost ? { cost } : {}) } satisfies Omit<
      PreflightFailure,
      "error"
    >;
    const fits = `stack ${o.stack} does not fit this subscription in ${location}`;
    const message = !cost?.problem
      ? fits
      : quota.length
        ? `${fits}, and ${cost.problem}`
        : `stack ${o.stack}: ${cost.problem}`;
    throw new CliError(message, problems, 1, result);
  }
  const input = { ...o.stackNeeds, deploymentExists: facts.deploymentExists };
  const needs = quotaNeeds(input, facts.quota!.sizes);
  const gpu = needs.gpu ? `GPU ${needs.gpu.vCPUs} vCPUs` : "no GPU cluster (--no-training)";
  log(`preflight: ok (${gpu}, new deployment ${needs.deployment.vCPUs} vCPUs)`);
  writeResult({
    ok: true,
    location,
    needs,
    deploymentExists: facts.deploymentExists,
    cost: cost!,
  } satisfies PreflightResult & { cost: CostEstimate });
}

export const cli = { name: "preflight", usage: USAGE, parse: parsePreflightArgs, main: preflight };

if (require.main === module) runCli(cli);
