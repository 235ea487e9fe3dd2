// What the stack costs, before anything runs: the pre-flight (ops/preflight.ts) prices the online endpoint, the
// training run and the idle cluster (a stack that never trains, modelSource registry, has neither) from the estimated VM prices Azure ML lists with each VM size of the region, and
// holds the endpoint to `maxHourlyCost`. Pure: the VM sizes come in as data.
//
// Facts it relies on:
// - `GET .../providers/Microsoft.MachineLearningServices/locations/{loc}/vmSizes` gives each size an optional
//   `estimatedVMPrices: {billingCurrency, unitOfMeasure: "OneHour", values: [{retailPrice, osType, vmTier}]}`, one value
//   per OS (Linux|Windows) and tier (Standard|LowPriority|Spot); retail prices, per hour.
// - A managed online deployment bills its instances' VM price for every hour they run (Linux images); an AmlCompute
//   cluster bills each node from allocation until it is released, `nodeIdleTimeBeforeScaleDown` after its last job,
//   and nothing at min nodes 0; low-priority nodes bill the LowPriority price.
// - A sweep trial is held to `trialTimeout`, at most `maxTotalTrials` run, `maxConcurrentTrials` at once.
import { sweepMinutes } from "./sweep";

// azure-rest-api-specs ML stable/2025-12-01 machineLearningServices.json definitions EstimatedVMPrice (examples/VirtualMachineSize/list.json)
export interface EstimatedVmPrice {
  retailPrice: number;
  osType: "Linux" | "Windows";
  vmTier: "Standard" | "LowPriority" | "Spot";
}

// azure-rest-api-specs ML stable/2025-12-01 machineLearningServices.json definitions EstimatedVMPrices (examples/VirtualMachineSize/list.json)
export interface EstimatedVmPrices {
  billingCurrency: string;
  unitOfMeasure: string;
  values: EstimatedVmPrice[];
}

/** A VM size as far as its price goes (the VM sizes list's `name` and `estimatedVMPrices`). */
export interface PricedSize {
  name: string;
  estimatedVMPrices?: EstimatedVmPrices;
}

/** Hours in a month, as Azure's pricing calculator counts them (24 × 365 / 12). */
export const HOURS_PER_MONTH = 730;

/** The price tier the training cluster's nodes bill at. */
export type GpuTier = "Standard" | "LowPriority";

export interface HourlyPrice {
  /** per VM per hour */
  perHour: number;
  currency: string;
}

/**
 * The Linux price of one VM of `size` per hour at `tier`, as the VM sizes list publishes it; undefined when the size
 * is not listed, carries no prices, none for Linux at that tier, or a unit other than OneHour. Several values for
 * the same OS and tier: the highest (the figures are upper bounds).
 */
export function hourlyPrice(
  sizes: readonly PricedSize[],
  size: string,
  tier: EstimatedVmPrice["vmTier"],
): HourlyPrice | undefined {
  const prices = sizes.find((s) => s.name.toLowerCase() === size.toLowerCase())?.estimatedVMPrices;
  if (!prices || prices.unitOfMeasure !== "OneHour" || !Array.isArray(prices.values)) return undefined;
  const matching = prices.values
    .filter((v) => v.osType === "Linux" && v.vmTier === tier)
    .map((v) => v.retailPrice)
    .filter((p) => typeof p === "number" && Number.isFinite(p) && p >= 0);
  if (!matching.length || !prices.billingCurrency) return undefined;
  return { perHour: Math.max(...matching), currency: prices.billingCurrency };
}

/** What the cost estimate needs of the stack. */
export interface CostInput {
  serving: {
    instanceType: string;
    /** instances without autoscale; with it, its maxInstances */
    instanceCount: number;
    /** autoscale's minInstances; absent without autoscale */
    minInstances?: number;
  };
  /** the GPU cluster; absent (with `training`): the stack never trains, no cluster and no run to price */
  gpu?: { vmSize: string; lowPriority: boolean; idleSeconds: number };
  /** the training run; absent (with `gpu`): the stack never trains (modelSource registry) */
  training?: {
    nodes: number;
    /** the job's time limit (a sweep's trialTimeout) */
    timeoutMinutes: number;
    sweep?: { trials: number; concurrency: number };
  };
  /** the most the endpoint may cost per hour (at its maximum instances); absent: no limit */
  maxHourlyCost?: number;
}

/** Money in the JSON result: rounded to a millionth, so float noise (0.15 × 730 = 109.49999…) does not show. */
const amount = (x: number) => Math.round(x * 1e6) / 1e6;

export interface EndpointCost {
  instanceType: string;
  instances: { min: number; max: number };
  autoscale: boolean;
  /** absent: no price published for the size */
  price?: HourlyPrice;
  perHour?: { min: number; max: number };
  perMonth?: { min: number; max: number };
}

export interface TrainingCost {
  vmSize: string;
  tier: GpuTier;
  nodes: number;
  /** the run's node-hours at most: every job (or trial) its whole time limit, plus the idle time before release */
  nodeHours: number;
  /** at most this many nodes at once (a sweep's concurrency × nodes) */
  nodesAtOnce: number;
  /** the run's wall time at most, in minutes */
  wallMinutes: number;
  sweep?: { trials: number; concurrency: number; trialMinutes: number };
  price?: HourlyPrice;
  /** upper bound of the run's cost; absent: no price published */
  maxCost?: number;
}

export interface CostEstimate {
  hoursPerMonth: number;
  endpoint: EndpointCost;
  /** the training run's upper bound; absent when the stack never trains (modelSource registry) */
  training?: TrainingCost;
  /** the GPU cluster between runs: min nodes 0, nothing billed; absent when the stack has no cluster */
  idleCluster?: { minNodes: 0; perHour: 0; releasedAfterSeconds: number };
  maxHourlyCost?: number;
  /** the maxHourlyCost refusal, when the endpoint's hourly cost at its maximum exceeds it */
  problem?: string;
  /** the human lines (stderr, PR comment) */
  lines: string[];
}

/** 0.526 → "0.526", 2 → "2": prices as published, to 4 decimals at most. */
const priceText = (x: number) => String(Number(x.toFixed(4)));
/** Totals in cents: 109.5 → "109.50 USD"; an upper bound rounds up (0.5435 → "0.55 USD"). */
const money = (x: number, currency: string, up = false) =>
  `${(up ? Math.ceil(Number((x * 100).toFixed(6))) / 100 : x).toFixed(2)} ${currency}`;
/** Hourly figures at least in cents, to 4 decimals where they have them (0.5 → "0.50", 0.1052 → "0.1052"). */
const rate = (x: number, currency?: string) => {
  const r = Number(x.toFixed(4));
  const shown = r.toFixed(Math.max(2, (String(r).split(".")[1] ?? "").length));
  return currency ? `${shown} ${currency}` : shown;
};
const range = (lo: number, hi: number, f: (x: number) => string) =>
  lo === hi ? f(hi) : `${f(lo).split(" ")[0]}..${f(hi)}`;
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
const minutesText = (m: number) => (m % 60 === 0 ? `${m / 60} h` : `${m} min`);

export const NO_PRICE = "no price published";

function endpointCost(input: CostInput, sizes: readonly PricedSize[]): EndpointCost {
  const { instanceType, instanceCount, minInstances } = input.serving;
  const instances = { min: minInstances ?? instanceCount, max: instanceCount };
  const price = hourlyPrice(sizes, instanceType, "Standard");
  const base = { instanceType, instances, autoscale: minInstances !== undefined };
  if (!price) return base;
  const perHour = { min: amount(instances.min * price.perHour), max: amount(instances.max * price.perHour) };
  const perMonth = { min: amount(perHour.min * HOURS_PER_MONTH), max: amount(perHour.max * HOURS_PER_MONTH) };
  return { ...base, price, perHour, perMonth };
}

/** What a stack that trains has: its GPU cluster and its run. */
type Training = { gpu: NonNullable<CostInput["gpu"]>; training: NonNullable<CostInput["training"]> };

function trainingCost(input: Training, sizes: readonly PricedSize[]): TrainingCost {
  const { nodes, timeoutMinutes, sweep } = input.training;
  const tier: GpuTier = input.gpu.lowPriority ? "LowPriority" : "Standard";
  const price = hourlyPrice(sizes, input.gpu.vmSize, tier);
  // Node-hours: a sweep's trials each run at most trialTimeout on `nodes` nodes; running them `concurrency` at a
  // time changes the wall time, not the node-hours. After the last job the nodes idle until released.
  const jobs = sweep?.trials ?? 1;
  const nodesAtOnce = nodes * Math.min(jobs, sweep?.concurrency ?? 1);
  const idleHours = input.gpu.idleSeconds / 3600;
  const nodeHours = amount((jobs * nodes * timeoutMinutes) / 60 + nodesAtOnce * idleHours);
  // The sweep's own limit, as the sweep job gets it.
  const wallMinutes = sweep ? sweepMinutes(sweep, timeoutMinutes) : timeoutMinutes;
  return {
    vmSize: input.gpu.vmSize,
    tier,
    nodes,
    nodeHours,
    nodesAtOnce,
    wallMinutes,
    ...(sweep ? { sweep: { ...sweep, trialMinutes: timeoutMinutes } } : {}),
    ...(price ? { price, maxCost: amount(nodeHours * price.perHour) } : {}),
  };
}

function endpointLine(e: EndpointCost): string {
  const count = range(e.instances.min, e.instances.max, String);
  const what = `${count} × ${e.instanceType}${e.autoscale ? " (autoscale minInstances..maxInstances)" : ""}`;
  if (!e.price || !e.perHour || !e.perMonth) return `endpoint: ${what}: ${NO_PRICE} for ${e.instanceType}`;
  const c = e.price.currency;
  const perHour = range(e.perHour.min, e.perHour.max, (x) => rate(x, c));
  const perMonth = range(e.perMonth.min, e.perMonth.max, (x) => money(x, c));
  return (
    `endpoint: ${perHour}/h, ${perMonth}/month (${HOURS_PER_MONTH} h a month): ` +
    `${what} at ${rate(e.price.perHour, c)}/h each (Linux, Standard)`
  );
}

function trainingLine(t: TrainingCost, idleSeconds: number): string {
  const tierText = `${t.tier}${t.tier === "LowPriority" ? ", gpuLowPriority" : ""}`;
  const run = t.sweep
    ? `sweep of ${plural(t.sweep.trials, "trial")} × ${plural(t.nodes, "node")} × ${minutesText(t.sweep.trialMinutes)} ` +
      `(trialTimeout = jobTimeoutMinutes), ${t.sweep.concurrency} at a time (at most ${minutesText(t.wallMinutes)})`
    : `${plural(t.nodes, "node")} × ${minutesText(t.wallMinutes)} (jobTimeoutMinutes)`;
  const idle = `+ ${idleSeconds} s idle before release (gpuIdleSeconds) × ${plural(t.nodesAtOnce, "node")}`;
  const hours = `${priceText(t.nodeHours)} node-hours`;
  if (!t.price || t.maxCost === undefined)
    return `training: ${NO_PRICE} for ${t.vmSize} (${tierText}); at most ${hours}: ${run} ${idle}`;
  const p = `${t.vmSize} at ${rate(t.price.perHour, t.price.currency)}/h (${tierText})`;
  return `training: at most ${money(t.maxCost, t.price.currency, true)}: ${run} ${idle} = ${hours} of ${p}`;
}

/** The lines of a stack that never trains (modelSource registry): no run and no cluster to price. */
export const NO_TRAINING_LINES = [
  "training: none (modelSource registry: this stack deploys a registry version and never trains)",
  "GPU cluster: none (no cluster is declared without training)",
] as const;

/** The training run and the idle cluster: their figures and lines, or none when the stack never trains. */
function trainingPart(
  input: CostInput,
  sizes: readonly PricedSize[],
  endpoint: EndpointCost,
): { fields: Pick<CostEstimate, "training" | "idleCluster">; lines: string[] } {
  const { gpu } = input;
  if (!gpu || !input.training) return { fields: {}, lines: [...NO_TRAINING_LINES] };
  const training = trainingCost({ gpu, training: input.training }, sizes);
  const known = training.price?.currency ?? endpoint.price?.currency;
  const idleCurrency = known ? ` ${known}` : "";
  return {
    fields: {
      training,
      idleCluster: { minNodes: 0, perHour: 0, releasedAfterSeconds: gpu.idleSeconds },
    },
    lines: [
      trainingLine(training, gpu.idleSeconds),
      `GPU cluster when idle: 0.00${idleCurrency}/h (min nodes 0: it scales to zero ${gpu.idleSeconds} s after its last job)`,
    ],
  };
}

/**
 * The stack's cost from the VM sizes list: the endpoint per hour and per month (its instance range with autoscale),
 * an upper bound of the training run, the idle cluster (both "none" for a stack that never trains: no `gpu` and
 * `training` in the input); and the refusal when the endpoint's hourly cost at its maximum exceeds
 * `maxHourlyCost`. A size without a price is said so and is never a problem by itself.
 */
export function costEstimate(input: CostInput, sizes: readonly PricedSize[]): CostEstimate {
  const endpoint = endpointCost(input, sizes);
  const run = trainingPart(input, sizes, endpoint);
  const lines = [endpointLine(endpoint), ...run.lines];
  const limit = input.maxHourlyCost;
  let problem: string | undefined;
  if (limit !== undefined) {
    if (!endpoint.price || !endpoint.perHour) {
      lines.push(`maxHourlyCost: ${rate(limit)}/h not checked, ${NO_PRICE} for ${endpoint.instanceType}`);
    } else {
      const c = endpoint.price.currency;
      const most = `${rate(endpoint.perHour.max, c)}/h`;
      if (endpoint.perHour.max > limit) {
        const at = `${endpoint.instances.max} × ${endpoint.instanceType}${endpoint.autoscale ? ", autoscale maxInstances" : ""}`;
        problem =
          `the endpoint costs up to ${most} (${at}, at ${rate(endpoint.price.perHour, c)}/h each), ` +
          `more than maxHourlyCost ${rate(limit, c)}/h`;
        lines.push(`maxHourlyCost: exceeded, ${problem}`);
      } else {
        lines.push(`maxHourlyCost: ${rate(limit, c)}/h, the endpoint's ${most} at most is within it`);
      }
    }
  }
  return {
    hoursPerMonth: HOURS_PER_MONTH,
    endpoint,
    ...run.fields,
    ...(limit !== undefined ? { maxHourlyCost: limit } : {}),
    ...(problem ? { problem } : {}),
    lines,
  };
}

/** The cost lines as the markdown section of the pull-request comment (and the job summary): one bullet each. */
export function costMarkdown(estimate: CostEstimate, where: { stack: string; location: string }): string {
  const bullet = (line: string) => {
    const at = line.indexOf(": ");
    return `- **${line.slice(0, at)}**: ${line.slice(at + 2)}`;
  };
  return [
    `#### Cost before anything runs: stack ${where.stack} in ${where.location} (pre-flight)`,
    "",
    ...estimate.lines.map(bullet),
    "",
    `Retail prices from Azure ML's VM sizes list of ${where.location} (estimatedVMPrices), ${estimate.hoursPerMonth} hours ` +
      `a month; ${estimate.training ? "the training figure is an upper bound; " : ""}storage, registry, logs and traffic are not included.`,
    "",
  ].join("\n");
}
