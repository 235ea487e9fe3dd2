// lib/core/sweep.ts: the search space as Azure ML takes it, sampling within it, and the choice of the best trial (shared
// by the cloud wait step and the local sweep); and the sweep job's parts per sampling algorithm, checked against the
// rules Azure ML refuses a sweep by (tests/ops/fake/sweep.ts sweepRefusal).
import { sweepParts } from "../../components/trainingJob";
import { readStackConfig } from "../../lib/config/stack";
import {
  DEFAULT_GRID_CHOICES,
  DEFAULT_SEARCH_SPACE,
  type SweepSettings,
  azureSearchSpace,
  bestTrial,
  sampleTrial,
  seededRandom,
} from "../../lib/core/sweep";
import { sweepRefusal } from "../ops/fake/sweep";

/** The sweep settings a stack with `sweep` (and the location) reads to. */
function sweepOf(sweep: object, values: Record<string, string> = {}): SweepSettings {
  const all: Record<string, string> = { ...values, sweep: JSON.stringify(sweep) };
  const cfg = readStackConfig(
    (k) => (k === "azure-native:location" ? "westeurope" : all[k]),
    "azure-ml-mnist",
    "dev",
  );
  return cfg.training.sweep!;
}

test("Azure's expressions: loguniform bounds are natural-log exponents, choices doubly nested", () => {
  const s = azureSearchSpace({ learningRate: [1e-4, 1e-2], batchSize: [32, 64], dropout: [0.1, 0.4] });
  expect(s.learning_rate[0]).toBe("loguniform");
  expect(s.learning_rate[1]).toEqual([Math.log(1e-4), Math.log(1e-2)]);
  expect(s.batch_size).toEqual(["choice", [[32, 64]]]);
  expect(s.dropout).toEqual(["uniform", [0.1, 0.4]]);
});

test("sampled trials stay inside the space and repeat for the same seed", () => {
  const a = seededRandom(7);
  const draws = Array.from({ length: 200 }, () => sampleTrial(DEFAULT_SEARCH_SPACE, a));
  for (const d of draws) {
    expect(d.learningRate).toBeGreaterThanOrEqual(DEFAULT_SEARCH_SPACE.learningRate[0] * 0.999);
    expect(d.learningRate).toBeLessThanOrEqual(DEFAULT_SEARCH_SPACE.learningRate[1] * 1.001);
    expect(DEFAULT_SEARCH_SPACE.batchSize).toContain(d.batchSize);
    expect(d.dropout).toBeGreaterThanOrEqual(DEFAULT_SEARCH_SPACE.dropout[0]);
    expect(d.dropout).toBeLessThanOrEqual(DEFAULT_SEARCH_SPACE.dropout[1]);
  }
  // Every batch size comes up, and log-uniform draws fall on both sides of the geometric middle.
  expect(new Set(draws.map((d) => d.batchSize)).size).toBe(DEFAULT_SEARCH_SPACE.batchSize.length);
  const middle = Math.sqrt(DEFAULT_SEARCH_SPACE.learningRate[0] * DEFAULT_SEARCH_SPACE.learningRate[1]);
  const below = draws.filter((d) => d.learningRate < middle).length;
  expect(below).toBeGreaterThan(60);
  expect(below).toBeLessThan(140);
  const b = seededRandom(7);
  expect(Array.from({ length: 5 }, () => sampleTrial(DEFAULT_SEARCH_SPACE, b))).toEqual(draws.slice(0, 5));
});

test("the best trial: the highest metric among completed ones; failures and running trials never win", () => {
  expect(
    bestTrial([
      { name: "t1", status: "Completed", metric: 0.981 },
      { name: "t2", status: "Failed", metric: 0.999 },
      { name: "t3", status: "Completed", metric: 0.987 },
      { name: "t4", status: "Running", metric: 0.995 },
      { name: "t5", status: "Completed" },
      { name: "t6", status: "Completed", metric: 0.987 },
    ])?.name,
  ).toBe("t3");
  expect(bestTrial([{ name: "t1", status: "Failed", metric: 0.9 }])).toBeUndefined();
  expect(bestTrial([{ name: "t1", status: "Completed", metric: Number.NaN }])).toBeUndefined();
});

describe("Azure ML rules on a sweep's sampling (how-to-tune-hyperparameters)", () => {
  test("the rules themselves: grid refuses a non-choice expression, Bayesian loguniform and any early termination", () => {
    const random = sweepParts(sweepOf({}), 60);
    expect(sweepRefusal(random)).toBeUndefined();
    expect(sweepRefusal({ ...random, samplingAlgorithm: { samplingAlgorithmType: "Grid" } })).toBe(
      "Grid sampling does not support 'loguniform' (search space 'learning_rate')",
    );
    const bayesian = { ...random, samplingAlgorithm: { samplingAlgorithmType: "Bayesian" } };
    expect(sweepRefusal(bayesian)).toContain("does not support 'loguniform'");
    const uniform = {
      ...bayesian,
      searchSpace: { ...random.searchSpace, learning_rate: ["uniform", [0.001, 0.01]] },
    };
    expect(sweepRefusal(uniform)).toBe("Bayesian sampling does not support early termination");
  });

  test("grid sampling can only be used with choice hyperparameters: every parameter is a choice", () => {
    const defaults = sweepParts(sweepOf({ sampling: "grid" }), 60);
    expect(sweepRefusal(defaults)).toBeUndefined();
    expect(defaults.searchSpace).toEqual({
      learning_rate: ["choice", [[...DEFAULT_GRID_CHOICES.learningRate]]],
      batch_size: ["choice", [[64, 128, 256]]],
      dropout: ["choice", [[...DEFAULT_GRID_CHOICES.dropout]]],
    });
    const given = sweepParts(sweepOf({ sampling: "grid", learningRate: { choice: [0.002, 0.02] } }), 60);
    expect(sweepRefusal(given)).toBeUndefined();
    expect(given.searchSpace.learning_rate).toEqual(["choice", [[0.002, 0.02]]]);
    // Grid keeps its early termination: the docs' grid "supports early termination of low-performance jobs".
    expect(given.earlyTermination).toMatchObject({ policyType: "Bandit" });
  });

  test("Bayesian sampling supports only choice, uniform and quniform, and no early termination", () => {
    const parts = sweepParts(sweepOf({ sampling: "bayesian", learningRate: [0.0005, 0.005] }), 60);
    expect(sweepRefusal(parts)).toBeUndefined();
    expect(parts.searchSpace.learning_rate).toEqual(["uniform", [0.0005, 0.005]]);
    expect(parts.searchSpace.dropout).toEqual(["uniform", [0.25, 0.5]]);
    expect(parts.earlyTermination).toBeUndefined();
  });

  test("random sampling keeps the log-uniform learning rate, Bandit, and the space it always had", () => {
    const sweep = sweepOf({ trials: 6 });
    expect(sweep.searchSpace).toEqual(DEFAULT_SEARCH_SPACE);
    expect(sweepParts(sweep, 60).searchSpace.learning_rate[0]).toBe("loguniform");
    expect(sweep.earlyTermination).toBe("bandit");
  });

  test("local draws follow the same space: choices come from their lists, a uniform learning rate is linear", () => {
    const r = seededRandom(11);
    const grid = sweepOf({ sampling: "grid" }).searchSpace;
    const draws = Array.from({ length: 100 }, () => sampleTrial(grid, r));
    expect(new Set(draws.map((d) => d.learningRate))).toEqual(new Set(DEFAULT_GRID_CHOICES.learningRate));
    expect(new Set(draws.map((d) => d.dropout))).toEqual(new Set(DEFAULT_GRID_CHOICES.dropout));
    const bayesian = sweepOf({ sampling: "bayesian" }).searchSpace;
    const lr = Array.from({ length: 200 }, () => sampleTrial(bayesian, r).learningRate);
    // Uniform on [0.001, 0.01]: about half below the arithmetic middle (log-uniform would put ~80 % there).
    const below = lr.filter((x) => x < 0.0055).length;
    expect(below).toBeGreaterThan(70);
    expect(below).toBeLessThan(130);
  });
});
