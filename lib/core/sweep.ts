// Hyperparameter sweeps, shared by the graph (an Azure ML sweep job), the wait step (which trial won) and the local
// run (`npm run local -- --sweep N`): one search space, one way to sample it, one way to pick the best trial.
// Pure.

/** Bounds a parameter is drawn between. */
export type Range = readonly [min: number, max: number];
/** Values a parameter takes one of (Azure's `choice`). */
export interface Choice {
  readonly choice: readonly number[];
}

/** The search space over app.py's flags, in natural units. */
export interface SearchSpace {
  /** Drawn log-uniformly between the bounds (uniformly with `learningRateUniform`), or one of a choice. */
  readonly learningRate: Range | Choice;
  /** One of these values. */
  readonly batchSize: readonly number[];
  /** Drawn uniformly between the bounds, or one of a choice. */
  readonly dropout: Range | Choice;
  /** Set for Bayesian sampling, which takes no loguniform: the learning rate's range is drawn uniformly. */
  readonly learningRateUniform?: true;
}

/** A space of ranges, as the default is. */
export interface RangeSearchSpace extends SearchSpace {
  readonly learningRate: Range;
  readonly dropout: Range;
}

export type SamplingAlgorithm = "random" | "grid" | "bayesian";
export type EarlyTermination = "none" | "bandit" | "median";

export interface SweepSettings {
  /** Trials in all (Azure's limits.maxTotalTrials). */
  readonly trials: number;
  /** Trials at once (limits.maxConcurrentTrials); each takes `trainingNodes` nodes of the cluster. */
  readonly concurrency: number;
  readonly sampling: SamplingAlgorithm;
  readonly searchSpace: SearchSpace;
  readonly earlyTermination: EarlyTermination;
  /** Bandit: a trial stops when its metric falls this fraction below the best (slackFactor). */
  readonly slackFactor: number;
  /** Early termination looks at the primary metric every this many epochs, after `delayEvaluation` epochs. */
  readonly evaluationInterval: number;
  readonly delayEvaluation: number;
}

/** The metric the sweep maximises: app.py logs it after every epoch (early termination needs a per-epoch value). */
export const PRIMARY_METRIC = "val_accuracy";

export const DEFAULT_SEARCH_SPACE: RangeSearchSpace = {
  learningRate: [1e-3, 1e-2],
  batchSize: [64, 128, 256],
  dropout: [0.25, 0.5],
};

/**
 * Grid sampling's values where the stack gives none (a grid takes only choices): the ends of the default ranges,
 * and for the learning rate also the training default 0.003 between them.
 */
export const DEFAULT_GRID_CHOICES = {
  learningRate: [0.001, 0.003, 0.01],
  dropout: [0.25, 0.5],
} as const satisfies Record<string, readonly number[]>;

export const isChoice = (v: Range | Choice): v is Choice => "choice" in v;

/**
 * The search space as Azure ML's sweep job takes it (azure-ai-ml `search_space.py`): `["choice", [[values]]]`
 * (values doubly nested), `["uniform", [min, max]]`, and `["loguniform", [min, max]]` whose bounds are natural-log
 * exponents (LogUniform samples exp(uniform(min, max))). Keys are app.py's flags with underscores.
 */
export function azureSearchSpace(space: SearchSpace): Record<string, [string, unknown[]]> {
  const expression = (v: Range | Choice, log: boolean): [string, unknown[]] =>
    isChoice(v)
      ? ["choice", [[...v.choice]]]
      : log
        ? ["loguniform", [Math.log(v[0]), Math.log(v[1])]]
        : ["uniform", [v[0], v[1]]];
  return {
    learning_rate: expression(space.learningRate, !space.learningRateUniform),
    batch_size: ["choice", [[...space.batchSize]]],
    dropout: expression(space.dropout, false),
  };
}

/** A trial's hyperparameters. */
export interface TrialParameters {
  learningRate: number;
  batchSize: number;
  dropout: number;
}

/** Seeded, so a local sweep is reproducible (mulberry32). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One of `values` for a draw `r` in [0, 1). */
const pick = (values: readonly number[], r: number) =>
  values[Math.min(values.length - 1, Math.floor(r * values.length))];

/** One random draw from the space, as Azure's random sampling draws it (one `random()` per parameter). */
export function sampleTrial(space: SearchSpace, random: () => number): TrialParameters {
  const lr = space.learningRate;
  let learningRate: number;
  if (isChoice(lr)) learningRate = pick(lr.choice, random());
  else if (space.learningRateUniform)
    learningRate = Number((lr[0] + (lr[1] - lr[0]) * random()).toPrecision(3));
  else {
    const [lo, hi] = lr.map(Math.log);
    learningRate = Number(Math.exp(lo + (hi - lo) * random()).toPrecision(3));
  }
  const batchSize = pick(space.batchSize, random());
  const d = space.dropout;
  const dropout = isChoice(d)
    ? pick(d.choice, random())
    : Number((d[0] + (d[1] - d[0]) * random()).toFixed(3));
  return { learningRate, batchSize, dropout };
}

/** A finished (or running) trial as the wait step or the local run sees it. */
export interface Trial {
  name: string;
  status: string;
  /** The primary metric's last value, when the trial logged one. */
  metric?: number;
}

/**
 * The best trial: among the Completed ones with a metric, the highest; ties go to the first in the given order.
 * Undefined when none completed with a metric.
 */
export function bestTrial(trials: readonly Trial[]): Trial | undefined {
  let best: Trial | undefined;
  for (const t of trials) {
    if (t.status !== "Completed" || t.metric === undefined || !Number.isFinite(t.metric)) continue;
    if (!best || t.metric > best.metric!) best = t;
  }
  return best;
}

/** How long a sweep may run: every trial its whole limit, `concurrency` at a time (its job-level timeout). */
export function sweepMinutes(sweep: { trials: number; concurrency: number }, trialMinutes: number): number {
  return trialMinutes * Math.ceil(sweep.trials / sweep.concurrency);
}
