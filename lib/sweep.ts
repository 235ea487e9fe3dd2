// Hyperparameter sweeps, shared by the graph (an Azure ML sweep job), the wait step (which trial won) and the local
// run (`npm run local -- --sweep N`): one search space, one way to sample it, one way to pick the best trial.
// Pure.

/** The search space over app.py's flags, in natural units. */
export interface SearchSpace {
  /** Sampled log-uniformly between the two values. */
  readonly learningRate: readonly [min: number, max: number];
  /** One of these values. */
  readonly batchSize: readonly number[];
  /** Sampled uniformly between the two values. */
  readonly dropout: readonly [min: number, max: number];
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

export const DEFAULT_SEARCH_SPACE: SearchSpace = {
  learningRate: [1e-3, 1e-2],
  batchSize: [64, 128, 256],
  dropout: [0.25, 0.5],
};

/**
 * The search space as Azure ML's sweep job takes it (azure-ai-ml `search_space.py`): `["choice", [[values]]]`
 * (values doubly nested), `["uniform", [min, max]]`, and `["loguniform", [min, max]]` whose bounds are natural-log
 * exponents (LogUniform samples exp(uniform(min, max))). Keys are app.py's flags with underscores.
 */
export function azureSearchSpace(space: SearchSpace): Record<string, [string, unknown[]]> {
  return {
    learning_rate: ["loguniform", [Math.log(space.learningRate[0]), Math.log(space.learningRate[1])]],
    batch_size: ["choice", [[...space.batchSize]]],
    dropout: ["uniform", [space.dropout[0], space.dropout[1]]],
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

/** One random draw from the space, as Azure's random sampling draws it. */
export function sampleTrial(space: SearchSpace, random: () => number): TrialParameters {
  const [lo, hi] = space.learningRate.map(Math.log);
  const learningRate = Math.exp(lo + (hi - lo) * random());
  const batchSize =
    space.batchSize[Math.min(space.batchSize.length - 1, Math.floor(random() * space.batchSize.length))];
  const dropout = space.dropout[0] + (space.dropout[1] - space.dropout[0]) * random();
  return {
    learningRate: Number(learningRate.toPrecision(3)),
    batchSize,
    dropout: Number(dropout.toFixed(3)),
  };
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
