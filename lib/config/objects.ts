// The config keys that are YAML mappings (objects in the stack file): field readers shared by `deployment`, and the
// sweep and autoscale settings. Each field is checked like a key of its own; problems name `<key>.<field>`.
import { type Reader } from "./reader";
import {
  type Choice,
  DEFAULT_GRID_CHOICES,
  DEFAULT_SEARCH_SPACE,
  type EarlyTermination,
  isChoice,
  type Range,
  type SamplingAlgorithm,
  type SearchSpace,
  type SweepSettings,
} from "../core/sweep";

type Raw = Record<string, unknown>;

export function unknownFields(r: Reader, key: string, given: Raw, known: readonly string[]): void {
  for (const k of Object.keys(given)) {
    if (!known.includes(k)) r.fail(`${key}.${k}`, given[k], `unknown setting; allowed: ${known.join(", ")}`);
  }
}

const INTEGER_TEXT = /^[+-]?\d+$/;
const DECIMAL_TEXT = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/**
 * A number field's value as written, or as `pulumi config set --path` stores it: that keeps only integers, true and
 * false typed and every other value a string ("0.2"), so a string that is wholly a number counts as that number
 * (pulumi.com/docs/iac/cli/commands/pulumi_config_set: "integers are treated as numbers. All other values are treated
 * as strings"). Anything else is returned as it is, for the field's rule to refuse.
 */
function numeric(v: unknown, integer = false): unknown {
  if (typeof v !== "string") return v;
  const t = v.trim();
  return (integer ? INTEGER_TEXT : DECIMAL_TEXT).test(t) ? Number(t) : v;
}

/** A list (or `{choice: [...]}`) of numbers, each as `numeric` reads it. */
function numericList(v: unknown, integer = false): unknown {
  if (Array.isArray(v)) return v.map((x) => numeric(x, integer));
  if (v !== null && typeof v === "object" && Array.isArray((v as Raw).choice))
    return { ...(v as Raw), choice: numericList((v as Raw).choice, integer) };
  return v;
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
  if (given[field] === undefined) return def;
  const v = numeric(given[field], !decimal);
  const ok = decimal
    ? typeof v === "number" && Number.isFinite(v) && v > min && v <= max
    : typeof v === "number" && Number.isInteger(v) && v >= min && v <= max;
  if (ok) return v as number;
  r.fail(
    `${key}.${field}`,
    given[field],
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

/**
 * A parameter's values: `[min, max]` inside (lower, upper), or `{choice: [values]}` inside it. Grid sampling takes
 * only choices: a range is refused, and an unset key takes `gridDefault`.
 */
// "Grid sampling can only be used with `choice` hyperparameters" (learn.microsoft.com azure/machine-learning/how-to-tune-hyperparameters)
function values(
  r: Reader,
  key: string,
  given: Raw,
  field: string,
  def: Range,
  gridDefault: readonly number[],
  sampling: SamplingAlgorithm,
): Range | Choice {
  const v = numericList(given[field]);
  const grid = sampling === "grid";
  if (v === undefined) return grid ? { choice: [...gridDefault] } : def;
  const inside = (x: unknown): x is number => typeof x === "number" && x > 0 && x < 1;
  if (Array.isArray(v) && v.length === 2 && v.every(inside) && v[0] < v[1]) {
    if (!grid) return [v[0], v[1]];
    r.fail(
      `${key}.${field}`,
      v,
      `must be a choice of values with sweep.sampling grid (Azure ML's grid takes only choice hyperparameters): ` +
        `write {choice: [${v.join(", ")}]}, or leave it out for {choice: [${gridDefault.join(", ")}]}`,
    );
    return { choice: [...gridDefault] };
  }
  const choice = v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Raw).choice : undefined;
  const fields = v !== null && typeof v === "object" ? Object.keys(v) : [];
  if (Array.isArray(choice) && choice.length > 0 && choice.every(inside) && fields.length === 1) {
    return { choice: [...new Set(choice)] };
  }
  r.fail(
    `${key}.${field}`,
    given[field],
    "must be [min, max] with 0 < min < max < 1, or {choice: [values]} with each value in (0, 1)",
  );
  return grid ? { choice: [...gridDefault] } : def;
}

function batchSizes(r: Reader, key: string, given: Raw): readonly number[] {
  const v = numericList(given.batchSize, true);
  if (v === undefined) return DEFAULT_SEARCH_SPACE.batchSize;
  const ok =
    Array.isArray(v) &&
    v.length > 0 &&
    v.every((x) => typeof x === "number" && Number.isInteger(x) && x >= 1 && x <= 4096);
  if (!ok) {
    r.fail(`${key}.batchSize`, given.batchSize, "must be a non-empty list of integers in [1, 4096]");
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

/** The sweep fields the stack file set, by settings object (not a field of it: the settings are in the run hash). */
const GIVEN = new WeakMap<SweepSettings, ReadonlySet<"concurrency" | "batchSize">>();

/**
 * Which of the fields that other keys judge (concurrency, batchSize) the stack set to a valid value; the others
 * hold defaults (an invalid value is reported on its own and falls back to the default). For lib/config/stack.ts.
 */
export function sweepFieldsGiven(sweep: SweepSettings): ReadonlySet<"concurrency" | "batchSize"> {
  return GIVEN.get(sweep) ?? new Set();
}

/** Trials at once by default; lib/config/stack.ts lowers it to what gpuMaxNodes holds. */
export const DEFAULT_SWEEP_CONCURRENCY = 2;

/**
 * `sweep`: when set, the training step is an Azure ML sweep job over the same command. What Azure refuses is
 * refused here, naming the key; where a default would be refused, the default adapts: grid sampling gets lists of
 * values, Bayesian sampling a uniform learning rate and no early termination.
 */
export function readSweep(r: Reader): SweepSettings | undefined {
  const key = "sweep";
  const given = r.object(key);
  if (!given) return undefined;
  unknownFields(r, key, given, SWEEP_FIELDS);
  const sampling = oneOf<SamplingAlgorithm>(r, key, given, "sampling", "random", [
    "random",
    "grid",
    "bayesian",
  ]);
  const bayesian = sampling === "bayesian";
  const learningRate = values(
    r,
    key,
    given,
    "learningRate",
    DEFAULT_SEARCH_SPACE.learningRate,
    DEFAULT_GRID_CHOICES.learningRate,
    sampling,
  );
  const searchSpace: SearchSpace = {
    learningRate,
    batchSize: batchSizes(r, key, given),
    dropout: values(
      r,
      key,
      given,
      "dropout",
      DEFAULT_SEARCH_SPACE.dropout,
      DEFAULT_GRID_CHOICES.dropout,
      sampling,
    ),
    // Absent unless set, so the spaces (and run hashes) of random sweeps stay as they were.
    // "Bayesian sampling only supports `choice`, `uniform`, and `quniform` distributions" (learn.microsoft.com azure/machine-learning/how-to-tune-hyperparameters)
    ...(bayesian && !isChoice(learningRate) ? { learningRateUniform: true as const } : {}),
  };
  // "Bayesian sampling does not support early termination. When using Bayesian sampling, set early_termination_policy = None." (learn.microsoft.com azure/machine-learning/v1/how-to-tune-hyperparameters-v1)
  const earlyTermination = oneOf<EarlyTermination>(
    r,
    key,
    given,
    "earlyTermination",
    bayesian ? "none" : "bandit",
    ["none", "bandit", "median"],
  );
  if (bayesian && earlyTermination !== "none") {
    r.fail(
      `${key}.earlyTermination`,
      earlyTermination,
      "must be none with sweep.sampling bayesian: Azure ML's Bayesian sampling takes no early termination policy (leave it out: with bayesian it defaults to none)",
    );
  }
  const sweep: SweepSettings = {
    trials: numberField(r, key, given, "trials", 8, [1, 1000]),
    concurrency: numberField(r, key, given, "concurrency", DEFAULT_SWEEP_CONCURRENCY, [1, 100]),
    sampling,
    searchSpace,
    earlyTermination,
    slackFactor: numberField(r, key, given, "slackFactor", 0.1, [0, 1], true),
    evaluationInterval: numberField(r, key, given, "evaluationInterval", 1, [1, 100]),
    delayEvaluation: numberField(r, key, given, "delayEvaluation", 3, [0, 100]),
  };
  const taken = { concurrency: sweep.concurrency, batchSize: sweep.searchSpace.batchSize };
  // Compared as read: a concurrency of "2" (a --path set) is set, not left to the default that adapts.
  const read = {
    concurrency: numeric(given.concurrency, true),
    batchSize: numericList(given.batchSize, true),
  };
  const set = (["concurrency", "batchSize"] as const).filter(
    (f) => JSON.stringify(read[f]) === JSON.stringify(taken[f]),
  );
  GIVEN.set(sweep, new Set(set));
  return sweep;
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
