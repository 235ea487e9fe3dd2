/**
 * The local sweep (`npm run local -- --sweep N`): which trials to run, what each one gave, which one won, and the
 * table of them. Sampling and selection are lib/core/sweep.ts's, the same as the cloud sweep and its wait step. Pure.
 */
import {
  DEFAULT_SEARCH_SPACE,
  PRIMARY_METRIC,
  type SearchSpace,
  type TrialParameters,
  bestTrial,
  sampleTrial,
  seededRandom,
} from "../lib/core/sweep";
import type { SweepOptions } from "./options";

export interface PlannedTrial {
  /** trial-1 ... trial-N: the trial's MLflow run name and its folder under <run>/trials/ */
  name: string;
  params: TrialParameters;
}

/** N draws from the space, seeded: the same options give the same trials. */
export function planTrials(
  trials: number,
  seed: number,
  space: SearchSpace = DEFAULT_SEARCH_SPACE,
): PlannedTrial[] {
  const random = seededRandom(seed);
  return Array.from({ length: trials }, (_, i) => ({
    name: `trial-${i + 1}`,
    params: sampleTrial(space, random),
  }));
}

/** A finished trial, as .local/summary.json records it. */
export interface TrialRecord {
  name: string;
  /** Completed: app.py exited 0 and metrics.json has a val_accuracy; else Failed. */
  status: "Completed" | "Failed";
  learning_rate: number;
  batch_size: number;
  dropout: number;
  /** the primary metric: its last epoch's value (metrics.json), as the cloud wait step reads the last logged one */
  val_accuracy: number | null;
  test_accuracy: number | null;
  seconds: number;
  output_dir: string;
  /** why it failed, for the table and the summary */
  error?: string;
}

const num = (x: unknown): number | null => (typeof x === "number" && Number.isFinite(x) ? x : null);

/** A trial's record from its exit code and metrics.json (undefined when it wrote none). */
export function trialRecord(
  trial: PlannedTrial,
  run: { code: number | null; seconds: number; outputDir: string },
  metrics: Record<string, unknown> | undefined,
): TrialRecord {
  const epochs = Array.isArray(metrics?.epochs) ? (metrics.epochs as Record<string, unknown>[]) : [];
  const val = num(epochs.at(-1)?.[PRIMARY_METRIC]);
  const completed = run.code === 0 && val !== null;
  return {
    name: trial.name,
    status: completed ? "Completed" : "Failed",
    learning_rate: trial.params.learningRate,
    batch_size: trial.params.batchSize,
    dropout: trial.params.dropout,
    val_accuracy: val,
    test_accuracy: num(metrics?.test_accuracy),
    seconds: run.seconds,
    output_dir: run.outputDir,
    ...(completed
      ? {}
      : { error: run.code === 0 ? `no ${PRIMARY_METRIC} in metrics.json` : `exit ${run.code}` }),
  };
}

/** The winner: lib/core/sweep.ts's bestTrial over the records (the highest val_accuracy of the completed; ties: first). */
export function bestRecord(records: readonly TrialRecord[]): TrialRecord | undefined {
  const best = bestTrial(
    records.map((r) => ({ name: r.name, status: r.status, metric: r.val_accuracy ?? undefined })),
  );
  return records.find((r) => r.name === best?.name);
}

/** What .local/summary.json says of a sweep (`sweep`; null for a single training). */
export interface SweepSummary {
  trials_requested: number;
  epochs: number;
  seed: number;
  search_space: SearchSpace;
  primary_metric: typeof PRIMARY_METRIC;
  /** the MLflow experiment of the trials (runs trial-1 ... trial-N) */
  mlflow_experiment: string;
  /** the winner's name */
  best: string;
  trials: TrialRecord[];
}

export function sweepSummary(
  o: SweepOptions,
  experiment: string,
  records: TrialRecord[],
  best: TrialRecord,
): SweepSummary {
  return {
    trials_requested: o.trials,
    epochs: o.epochs,
    seed: o.seed,
    search_space: DEFAULT_SEARCH_SPACE,
    primary_metric: PRIMARY_METRIC,
    mlflow_experiment: experiment,
    best: best.name,
    trials: records,
  };
}

const fixed = (x: number | null, digits: number) => (x === null ? "-" : x.toFixed(digits));

/**
 * The table of trials, the winner marked with `*`:
 *
 *     trial    learning_rate  batch_size  dropout  val_accuracy  test_accuracy    time  status
 *   * trial-1        0.00412         128    0.311        0.9650         0.9605  12.3 s  Completed
 */
export function formatTrialTable(records: readonly TrialRecord[], best?: string): string {
  const head = [
    "trial",
    "learning_rate",
    "batch_size",
    "dropout",
    PRIMARY_METRIC,
    "test_accuracy",
    "time",
    "status",
  ];
  const rows = records.map((r) => [
    r.name,
    r.learning_rate.toPrecision(3),
    String(r.batch_size),
    r.dropout.toFixed(3),
    fixed(r.val_accuracy, 4),
    fixed(r.test_accuracy, 4),
    `${r.seconds.toFixed(1)} s`,
    r.error ? `${r.status} (${r.error})` : r.status,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  // names and status left-aligned, numbers right-aligned
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 0 || i === cells.length - 1 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join("  ")
      .trimEnd();
  const out = [
    `    ${line(head)}`,
    ...rows.map((row, i) => `  ${records[i].name === best ? "*" : " "} ${line(row)}`),
  ];
  if (best)
    out.push(`  * best by ${PRIMARY_METRIC} (the last epoch's), as the cloud sweep's wait step picks it`);
  return out.join("\n");
}
