// The config keys that are YAML mappings (objects in the stack file): field readers shared by `deployment`, and the
// sweep and autoscale settings. Each field is checked like a key of its own; problems name `<key>.<field>`.
import { type Reader } from "./reader";
import {
  DEFAULT_SEARCH_SPACE,
  type EarlyTermination,
  type SamplingAlgorithm,
  type SearchSpace,
  type SweepSettings,
} from "../sweep";

type Raw = Record<string, unknown>;

export function unknownFields(r: Reader, key: string, given: Raw, known: readonly string[]): void {
  for (const k of Object.keys(given)) {
    if (!known.includes(k)) r.fail(`${key}.${k}`, given[k], `unknown setting; allowed: ${known.join(", ")}`);
  }
}

/** A number field: an integer in [min, max], or (`decimal`) a number in (min, max]. */
export function numberField(
  r: Reader,
  key: string,
  given: Raw,
  field: string,
  def: number,
  [min, max]: [number, number],
  decimal = false,
): number {
  const v = given[field];
  if (v === undefined) return def;
  const ok = decimal
    ? typeof v === "number" && Number.isFinite(v) && v > min && v <= max
    : typeof v === "number" && Number.isInteger(v) && v >= min && v <= max;
  if (ok) return v as number;
  r.fail(
    `${key}.${field}`,
    v,
    decimal ? `must be a number in (${min}, ${max}]` : `must be an integer in [${min}, ${max}]`,
  );
  return def;
}

function oneOf<T extends string>(
  r: Reader,
  key: string,
  given: Raw,
  field: string,
  def: T,
  options: readonly T[],
): T {
  const v = given[field];
  if (v === undefined) return def;
  if (typeof v === "string" && (options as readonly string[]).includes(v)) return v as T;
  r.fail(`${key}.${field}`, v, `must be one of ${options.join(", ")}`);
  return def;
}

/** A [min, max] range inside (lower, upper). */
function range(
  r: Reader,
  key: string,
  given: Raw,
  field: string,
  def: readonly [number, number],
  lower: number,
  upper: number,
): readonly [number, number] {
  const v = given[field];
  if (v === undefined) return def;
  const ok =
    Array.isArray(v) &&
    v.length === 2 &&
    v.every((x) => typeof x === "number" && x > lower && x < upper) &&
    (v[0] as number) < (v[1] as number);
  if (!ok) {
    r.fail(`${key}.${field}`, v, `must be [min, max] with ${lower} < min < max < ${upper}`);
    return def;
  }
  return [v[0] as number, v[1] as number];
}

function batchSizes(r: Reader, key: string, given: Raw): readonly number[] {
  const v = given.batchSize;
  if (v === undefined) return DEFAULT_SEARCH_SPACE.batchSize;
  const ok =
    Array.isArray(v) &&
    v.length > 0 &&
    v.every((x) => typeof x === "number" && Number.isInteger(x) && x >= 1 && x <= 4096);
  if (!ok) {
    r.fail(`${key}.batchSize`, v, "must be a non-empty list of integers in [1, 4096]");
    return DEFAULT_SEARCH_SPACE.batchSize;
  }
  return v as number[];
}

const SWEEP_FIELDS = [
  "trials",
  "concurrency",
  "sampling",
  "learningRate",
  "batchSize",
  "dropout",
  "earlyTermination",
  "slackFactor",
  "evaluationInterval",
  "delayEvaluation",
] as const;

/** `sweep`: when set, the training step is an Azure ML sweep job over the same command. */
export function readSweep(r: Reader): SweepSettings | undefined {
  const key = "sweep";
  const given = r.object(key);
  if (!given) return undefined;
  unknownFields(r, key, given, SWEEP_FIELDS);
  const searchSpace: SearchSpace = {
    learningRate: range(r, key, given, "learningRate", DEFAULT_SEARCH_SPACE.learningRate, 0, 1),
    batchSize: batchSizes(r, key, given),
    dropout: range(r, key, given, "dropout", DEFAULT_SEARCH_SPACE.dropout, 0, 1),
  };
  const sampling = oneOf<SamplingAlgorithm>(r, key, given, "sampling", "random", [
    "random",
    "grid",
    "bayesian",
  ]);
  const earlyTermination = oneOf<EarlyTermination>(r, key, given, "earlyTermination", "bandit", [
    "none",
    "bandit",
    "median",
  ]);
  return {
    trials: numberField(r, key, given, "trials", 8, [1, 1000]),
    concurrency: numberField(r, key, given, "concurrency", 2, [1, 100]),
    sampling,
    searchSpace,
    earlyTermination,
    slackFactor: numberField(r, key, given, "slackFactor", 0.1, [0, 1], true),
    evaluationInterval: numberField(r, key, given, "evaluationInterval", 1, [1, 100]),
    delayEvaluation: numberField(r, key, given, "delayEvaluation", 3, [0, 100]),
  };
}

/** Azure Monitor autoscale of the online deployment on its CPU utilisation. */
export interface AutoscaleSettings {
  readonly minInstances: number;
  readonly maxInstances: number;
  /** Scale out above this average CPU % (over 5 minutes); scale in below half of it. */
  readonly cpuTarget: number;
  readonly cooldownMinutes: number;
}

const AUTOSCALE_FIELDS = ["minInstances", "maxInstances", "cpuTarget", "cooldownMinutes"] as const;

/** `autoscale`: when set, the deployment scales between min and max instances on CPU. */
export function readAutoscale(r: Reader): AutoscaleSettings | undefined {
  const key = "autoscale";
  const given = r.object(key);
  if (!given) return undefined;
  unknownFields(r, key, given, AUTOSCALE_FIELDS);
  const settings = {
    minInstances: numberField(r, key, given, "minInstances", 1, [1, 50]),
    maxInstances: numberField(r, key, given, "maxInstances", 3, [1, 50]),
    cpuTarget: numberField(r, key, given, "cpuTarget", 70, [10, 95]),
    cooldownMinutes: numberField(r, key, given, "cooldownMinutes", 5, [1, 60]),
  };
  if (settings.minInstances > settings.maxInstances)
    r.fail(
      `${key}.minInstances`,
      settings.minInstances,
      `must not exceed autoscale.maxInstances (${settings.maxInstances})`,
    );
  return settings;
}
