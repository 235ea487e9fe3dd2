// lib/sweep.ts: the search space as Azure ML takes it, sampling within it, and the choice of the best trial (shared
// by the cloud wait step and the local sweep).
import {
  DEFAULT_SEARCH_SPACE,
  azureSearchSpace,
  bestTrial,
  sampleTrial,
  seededRandom,
} from "../../lib/sweep";

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
