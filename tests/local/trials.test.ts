/** The local sweep's pure parts (local/trials.ts): the trials drawn, what each gave, the winner, the table. */
import { DEFAULT_SEARCH_SPACE, PRIMARY_METRIC, sampleTrial, seededRandom } from "../../lib/core/sweep";
import type { PlannedTrial, TrialRecord } from "../../local/trials";
import { bestRecord, formatTrialTable, planTrials, sweepSummary, trialRecord } from "../../local/trials";

const planned = (name: string, learningRate = 0.004, batchSize = 128, dropout = 0.3): PlannedTrial => ({
  name,
  params: { learningRate, batchSize, dropout },
});

const metrics = (val: number[], test: number) => ({
  test_accuracy: test,
  epochs: val.map((v, i) => ({ epoch: i + 1, val_accuracy: v, val_loss: 0.6 })),
});

const record = (name: string, val: number | null, extra: Partial<TrialRecord> = {}): TrialRecord => ({
  name,
  status: val === null ? "Failed" : "Completed",
  learning_rate: 0.00412,
  batch_size: 128,
  dropout: 0.311,
  val_accuracy: val,
  test_accuracy: val === null ? null : val - 0.001,
  seconds: 12.34,
  output_dir: `/runs/x/trials/${name}`,
  ...extra,
});

describe("planTrials", () => {
  test("trial-1..N, drawn from the space with lib/core/sweep.ts's seeded sampling", () => {
    const plan = planTrials(3, 7);
    const random = seededRandom(7);
    expect(plan).toEqual(
      [1, 2, 3]
        .map((k) => planned(`trial-${k}`))
        .map((t) => ({ name: t.name, params: sampleTrial(DEFAULT_SEARCH_SPACE, random) })),
    );
    expect(planTrials(3, 7)).toEqual(plan); // reproducible
    expect(planTrials(3, 8)).not.toEqual(plan);
    for (const { params } of plan) {
      expect(params.learningRate).toBeGreaterThanOrEqual(DEFAULT_SEARCH_SPACE.learningRate[0]);
      expect(params.learningRate).toBeLessThanOrEqual(DEFAULT_SEARCH_SPACE.learningRate[1]);
      expect(DEFAULT_SEARCH_SPACE.batchSize).toContain(params.batchSize);
      expect(params.dropout).toBeGreaterThan(0);
      expect(params.dropout).toBeLessThan(1); // app.py's --dropout range
    }
  });
});

describe("trialRecord", () => {
  const run = { code: 0, seconds: 9.5, outputDir: "/o" };
  test("the last epoch's val_accuracy (the primary metric) and the test accuracy", () => {
    expect(PRIMARY_METRIC).toBe("val_accuracy");
    expect(trialRecord(planned("trial-1"), run, metrics([0.9, 0.95], 0.94))).toEqual({
      name: "trial-1",
      status: "Completed",
      learning_rate: 0.004,
      batch_size: 128,
      dropout: 0.3,
      val_accuracy: 0.95,
      test_accuracy: 0.94,
      seconds: 9.5,
      output_dir: "/o",
    });
  });
  test("a failed app.py, or no metric, is a Failed trial with the reason", () => {
    const failed = trialRecord(planned("trial-2"), { ...run, code: 1 }, undefined);
    expect(failed).toMatchObject({
      status: "Failed",
      val_accuracy: null,
      test_accuracy: null,
      error: "exit 1",
    });
    const empty = trialRecord(planned("trial-3"), run, { test_accuracy: 0.9, epochs: [] });
    expect(empty).toMatchObject({ status: "Failed", error: "no val_accuracy in metrics.json" });
    const nan = trialRecord(planned("trial-4"), run, metrics([Number.NaN], 0.9));
    expect(nan.status).toBe("Failed");
  });
});

describe("bestRecord (lib/core/sweep.ts's bestTrial)", () => {
  test("the highest val_accuracy of the completed trials; ties go to the first", () => {
    const records = [
      record("trial-1", 0.95),
      record("trial-2", null),
      record("trial-3", 0.97),
      record("trial-4", 0.97),
    ];
    expect(bestRecord(records)?.name).toBe("trial-3");
    expect(bestRecord([record("trial-1", null)])).toBeUndefined();
    expect(bestRecord([])).toBeUndefined();
  });
});

describe("formatTrialTable", () => {
  test("one row per trial, numbers right-aligned, the winner marked", () => {
    const records = [
      record("trial-1", 0.965),
      record("trial-2", null, { error: "exit 1", learning_rate: 0.00123, batch_size: 64, seconds: 3 }),
      record("trial-10", 0.9712, { test_accuracy: 0.9705, dropout: 0.25 }),
    ];
    const lines = formatTrialTable(records, "trial-10").split("\n");
    expect(lines).toEqual([
      "    trial     learning_rate  batch_size  dropout  val_accuracy  test_accuracy    time  status",
      "    trial-1         0.00412         128    0.311        0.9650         0.9640  12.3 s  Completed",
      "    trial-2         0.00123          64    0.311             -              -   3.0 s  Failed (exit 1)",
      "  * trial-10        0.00412         128    0.250        0.9712         0.9705  12.3 s  Completed",
      "  * best by val_accuracy (the last epoch's), as the cloud sweep's wait step picks it",
    ]);
  });
  test("no winner: no mark, no footnote", () => {
    const table = formatTrialTable([record("trial-1", null, { error: "exit 1" })]);
    expect(table).not.toContain("*");
    expect(table.split("\n")).toHaveLength(2);
  });
});

test("sweepSummary: what .local/summary.json records", () => {
  const records = [record("trial-1", 0.96), record("trial-2", 0.97)];
  expect(sweepSummary({ trials: 2, epochs: 2, seed: 1 }, "mnist-cnn-sweep-x", records, records[1])).toEqual({
    trials_requested: 2,
    epochs: 2,
    seed: 1,
    search_space: DEFAULT_SEARCH_SPACE,
    primary_metric: "val_accuracy",
    mlflow_experiment: "mnist-cnn-sweep-x",
    best: "trial-2",
    trials: records,
  });
});
