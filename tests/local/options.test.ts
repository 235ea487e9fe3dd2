import { UsageError } from "../../lib/toolkit/errors";
import { DEFAULTS } from "../../lib/config/schema";
import {
  CLOUD_MIN_ACCURACY,
  DEFAULT_SWEEP_EPOCHS,
  DEFAULT_SWEEP_SEED,
  QUICK_MIN_ACCURACY,
  RUN_LOCAL_USAGE,
  TRAINING_DEFAULT_EPOCHS,
  gateOf,
  parseRunLocalArgs,
  parseServeArgs,
  trainArgs,
} from "../../local/options";
import { isNoise, lineSplitter, parseResultLine } from "../../local/proc";
import { CHAMPION, assertSafeName, describeVersions, modelUri } from "../../local/registry";
import {
  type Candidate,
  formatSummaryBlock,
  runStamp,
  summarize,
  versionTags,
  type Summary,
} from "../../local/run-local";
import {
  fromRoot,
  mlflowStoreFile,
  mlflowStoreUri,
  mlflowUiCommand,
  mlflowVersion,
  shellWord,
} from "../../local/paths";
import { curlExample } from "../../local/serve";
import { isListening, isPortFree, loopbackBootstrap, scoringUriFor, serverCommand } from "../../local/server";
import { readFileSync } from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { ROOT } from "./helpers";

describe("npm run local flags", () => {
  test("defaults", () => {
    expect(parseRunLocalArgs([])).toEqual({
      data: undefined,
      epochs: undefined,
      batchSize: undefined,
      learningRate: undefined,
      dropout: undefined,
      seed: undefined,
      trainLimit: undefined,
      sweep: undefined,
      minAccuracy: undefined,
      port: 5001,
      host: "127.0.0.1",
      workers: 2, // the cloud's serving.workerCount: local serves like the cloud
      keepServing: false,
      skipTrain: false,
      modelName: "mnist-cnn",
      healthTimeoutSeconds: 180,
      verbose: false,
    });
  });
  test("model name and workers default to the stack config's (one schema)", () => {
    const o = parseRunLocalArgs([])!;
    expect([o.modelName, o.workers]).toEqual([DEFAULTS.model.modelName, DEFAULTS.serving.workerCount]);
    expect(parseServeArgs([])).toMatchObject({ modelName: o.modelName, workers: o.workers });
  });
  test("all flags, and the training pass-through", () => {
    // the training flags, passed through to training/app.py as given
    const training = ["--epochs", "3", "--batch-size", "64", "--learning-rate", "0.002", "--dropout", "0.3"];
    training.push("--seed", "7");
    training.push("--train-limit", "500");
    const o = parseRunLocalArgs([
      "--data",
      "/data/mnist.npz",
      ...training,
      "--port",
      "5099",
      "--workers",
      "3",
      "--keep-serving",
      "--host",
      "0.0.0.0",
    ]);
    expect(o).toMatchObject({
      epochs: 3,
      batchSize: 64,
      learningRate: 0.002,
      dropout: 0.3,
      seed: 7,
      port: 5099,
      workers: 3,
      keepServing: true,
    });
    expect(trainArgs(o!, "/data/mnist.npz", "/out")).toEqual([
      "training/app.py",
      "--data",
      "/data/mnist.npz",
      "--output-dir",
      "/out",
      ...training,
    ]);
    expect(trainArgs(parseRunLocalArgs([])!, "d.npz", "o")).toEqual([
      "training/app.py",
      "--data",
      "d.npz",
      "--output-dir",
      "o",
    ]);
  });
  test.each([
    [["--epochs", "0"], /--epochs/],
    [["--epochs", "1.5"], /integer/],
    [["--port", "70000"], /--port/],
    [["--workers", "x"], /--workers/],
    [["--learning-rate", "-1"], /--learning-rate/],
    [["--host", "example.com"], /--host/],
    [["--model-name", "../x"], /--model-name/],
    [["--skip-train", "--epochs", "2"], /--skip-train.*--epochs/],
    [["--dropout", "0"], /--dropout must be in \(0, 1\), got 0/],
    [["--dropout", "1"], /--dropout must be in \(0, 1\)/],
    [["--dropout", "1.5"], /--dropout/],
    [["--sweep", "0"], /--sweep/],
    [["--sweep", "101"], /--sweep/],
    [["--sweep", "2.5"], /integer/],
    [["--sweep", "3", "--sweep-epochs", "0"], /--sweep-epochs/],
    [["--sweep-epochs", "3"], /--sweep-epochs goes with --sweep N/],
    [["--sweep-seed", "3"], /--sweep-seed goes with --sweep N/],
    [["--sweep", "3", "--learning-rate", "0.01", "--dropout", "0.2"], /drop --learning-rate, --dropout$/],
    [["--sweep", "3", "--batch-size", "64"], /--sweep draws .* per trial: drop --batch-size/],
    [["--sweep", "3", "--epochs", "5"], /--sweep-epochs: drop --epochs/],
    [["--skip-train", "--sweep", "3"], /--skip-train.*--sweep/],
    [["--min-accuracy", "1.5"], /--min-accuracy/],
    [["--min-accuracy", "-0.1"], /--min-accuracy/],
    [["--nope"], /nope/],
  ])("rejects %j", (argv, msg) => {
    expect(() => parseRunLocalArgs(argv)).toThrow(UsageError);
    expect(() => parseRunLocalArgs(argv)).toThrow(msg);
  });
  test("--sweep N: trials of a few epochs, the draws seeded; data, seed and train limit pass through", () => {
    expect(parseRunLocalArgs(["--sweep", "4"])!.sweep).toEqual({
      trials: 4,
      epochs: DEFAULT_SWEEP_EPOCHS,
      seed: DEFAULT_SWEEP_SEED,
    });
    expect(DEFAULT_SWEEP_EPOCHS).toBe(2);
    const o = parseRunLocalArgs([
      "--sweep",
      "2",
      "--sweep-epochs",
      "1",
      "--sweep-seed",
      "9",
      "--train-limit",
      "300",
      "--seed",
      "3",
    ])!;
    expect(o).toMatchObject({ sweep: { trials: 2, epochs: 1, seed: 9 }, trainLimit: 300, seed: 3 });
    expect(o.epochs).toBeUndefined();
  });
  test("the gate: the cloud's minTestAccuracy for a full-length run, the quick floor for a shortened one", () => {
    expect(CLOUD_MIN_ACCURACY).toBe(DEFAULTS.training.minTestAccuracy);
    expect(QUICK_MIN_ACCURACY).toBeLessThan(CLOUD_MIN_ACCURACY);
    const gate = (argv: string[]) => gateOf(parseRunLocalArgs(argv)!);
    expect(gate([])).toBe(CLOUD_MIN_ACCURACY);
    expect(gate(["--epochs", String(TRAINING_DEFAULT_EPOCHS)])).toBe(CLOUD_MIN_ACCURACY);
    expect(gate(["--epochs", "30", "--data", "/full/mnist.npz"])).toBe(CLOUD_MIN_ACCURACY);
    expect(gate(["--epochs", "1"])).toBe(QUICK_MIN_ACCURACY);
    expect(gate(["--train-limit", "1000"])).toBe(QUICK_MIN_ACCURACY);
    expect(gate(["--sweep", "2"])).toBe(QUICK_MIN_ACCURACY);
    expect(gate(["--epochs", "1", "--min-accuracy", "0.5"])).toBe(0.5);
    expect(gate(["--min-accuracy", "0"])).toBe(0);
    expect(gate(["--skip-train", "--min-accuracy", "0.9"])).toBe(0.9); // not a training flag
    expect(RUN_LOCAL_USAGE).toContain("--min-accuracy F");
  });
  test("the epochs the gate counts as full length are training/app.py's default", () => {
    const app = readFileSync(path.join(ROOT, "training", "app.py"), "utf8");
    expect(app).toContain(`parser.add_argument("--epochs", type=int, default=${TRAINING_DEFAULT_EPOCHS},`);
  });
  test("the usage names the sweep flags", () => {
    for (const flag of ["--sweep N", "--sweep-epochs E", "--sweep-seed S", "--dropout F"]) {
      expect(RUN_LOCAL_USAGE).toContain(flag);
    }
  });
  test("help", () => {
    expect(parseRunLocalArgs(["--help"])).toBeNull();
    expect(parseServeArgs(["-h"])).toBeNull();
  });
  test("serve flags", () => {
    expect(parseServeArgs(["--version", "3", "--port", "6000"])).toEqual({
      modelName: "mnist-cnn",
      version: "3",
      port: 6000,
      host: "127.0.0.1",
      workers: 2,
      healthTimeoutSeconds: 180,
    });
  });
});

describe("server command", () => {
  const spec = {
    entryScript: "scoring/score.py",
    modelDir: "/reg/m/1",
    port: 5005,
    logFile: "/tmp/x.log",
    workers: 2,
  };
  test("127.0.0.1: azmlinfsrv's own entry point with the host replaced", () => {
    const c = serverCommand(spec);
    expect(c.command).toBe("python");
    expect(c.args[0]).toBe("-c");
    expect(c.args[1]).toContain('c.DEFAULT_HOST = "127.0.0.1"');
    expect(c.args[1]).toContain("from azureml_inference_server_http.amlserver import run");
    expect(c.args.slice(2)).toEqual([
      "--entry_script",
      path.resolve("scoring/score.py"),
      "--model_dir",
      "/reg/m/1",
      "--port",
      "5005",
      "--worker_count",
      "2",
    ]);
    // the app root is the scoring folder, as in Azure: azmlinfsrv then serves its swagger*.json
    expect(c.env).toEqual({ WORKER_COUNT: "2", AML_APP_ROOT: path.resolve("scoring") });
    expect(serverCommand({ ...spec, appRoot: "/app" }).env.AML_APP_ROOT).toBe("/app");
  });
  test("0.0.0.0: the azmlinfsrv script unchanged", () => {
    const c = serverCommand({ ...spec, host: "0.0.0.0" });
    expect(c.command).toBe("azmlinfsrv");
    expect(c.args[0]).toBe("--entry_script");
    expect(scoringUriFor(5005, "0.0.0.0")).toBe("http://127.0.0.1:5005/score");
  });
  test("bootstrap is one python -c line", () => {
    expect(loopbackBootstrap("127.0.0.1")).not.toContain("\n");
  });
  test("isPortFree sees a taken port", async () => {
    const srv = net.createServer();
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
    const port = (srv.address() as net.AddressInfo).port;
    expect(await isPortFree(port)).toBe(false);
    expect(await isListening(port)).toBe(true);
    await new Promise<void>((r) => srv.close(() => r()));
    expect(await isPortFree(port)).toBe(true);
    expect(await isListening(port)).toBe(false);
  });
});

describe("misc pure helpers", () => {
  test("RESULT line", () => {
    expect(parseResultLine(["x", 'RESULT {"test_accuracy": 0.99, "output_dir": "o"}', "tail"])).toEqual({
      test_accuracy: 0.99,
      output_dir: "o",
    });
    expect(parseResultLine(['RESULT {"a": 1}', 'RESULT {"a": 2}'])).toEqual({ a: 2 });
    expect(parseResultLine(["RESULT {bad", "nothing"])).toBeUndefined();
  });
  test("TF start-up noise", () => {
    expect(
      isNoise(
        "I0000 00:00:1795706803.606483   18364 port.cc:153] oneDNN custom operations are on. You may see",
      ),
    ).toBe(true);
    expect(
      isNoise("WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"),
    ).toBe(true);
    expect(isNoise("epoch 1/12: loss 1.98")).toBe(false);
  });
  test("line splitter: \\n, \\r\\n, a lone \\r (progress bars), and the rest on flush", () => {
    const lines: string[] = [];
    const split = lineSplitter((l) => lines.push(l));
    split.data(Buffer.from("a\r\nb\rc\nd"));
    split.data(Buffer.from("e\n"));
    split.data(Buffer.from("tail"));
    split.flush();
    expect(lines).toEqual(["a", "b", "c", "de", "tail"]);
  });
  test("run stamp", () => {
    expect(runStamp(new Date("2026-11-26T15:04:05.123Z"))).toBe("2026-11-26T15-04-05-123Z");
  });
  test("curl example", () => {
    expect(curlExample("http://127.0.0.1:5001/score")).toContain("--data @scoring/sample-request.json");
  });
  test("summary block", () => {
    const s: Summary = {
      passed: true,
      test_accuracy: 0.9875,
      min_accuracy: 0.98,
      model_name: "mnist-cnn",
      model_version: "3",
      model_uri: "models:/mnist-cnn/3",
      mlflow_run_id: "abc",
      model_dir: "/s/mlartifacts/abc/artifacts/model",
      data: "/d.npz",
      run_dir: "/runs/x",
      scoring_uri: "http://127.0.0.1:5001/score",
      sample_total: 20,
      sample_correct: 20,
      sample_accuracy: 1,
      latency_ms: 40,
      server_log: "/runs/x/azmlinfsrv.log",
      server_pid: null,
      kept_serving: false,
      timings: { prepare: 1, train: 100, register: 0.1, serve_start: 8, invoke: 0.2, total: 110 },
      sweep: null,
      finished_at: "2026-01-01T00:00:00Z",
    };
    const b = formatSummaryBlock(s);
    expect(b).toContain("models:/mnist-cnn/3  (/s/mlartifacts/abc/artifacts/model)");
    expect(b).toContain("--min-accuracy 0.98");
    expect(b).toContain("98.75%");
    expect(b).toContain("20/20 correct (100.00%)");
    expect(b).toContain("2.00 ms/image");
    expect(b).toContain("PASSED");
    expect(formatSummaryBlock({ ...s, timings: { ...s.timings, prepare: null } })).toContain(
      "prepare skipped",
    );
    expect(b).not.toContain("sweep");
    const failed = formatSummaryBlock({
      ...s,
      passed: false,
      model_version: null,
      model_uri: "runs:/abc/model",
    });
    expect(failed).toContain("runs:/abc/model  (not registered)");
    expect(failed).toContain("FAILED");
  });
  test("summary of a run: registered past the gate, or not", () => {
    const version = {
      name: "mnist-cnn",
      version: "3",
      source: "file:///s/mlartifacts/abc/artifacts/model",
      runId: "abc",
      aliases: [CHAMPION],
      tags: {},
      createdAt: "",
      dir: "/s/mlartifacts/abc/artifacts/model",
      files: [],
    };
    const model: Candidate = {
      name: "mnist-cnn",
      version,
      runId: "abc",
      dir: version.dir,
      testAccuracy: 0.99,
      dataPath: null,
    };
    const timings = { prepare: null, train: null, register: null, serve_start: 8, invoke: 0.2, total: 9 };
    const run = { runDir: "/runs/x", timings, keep: false, min: 0.9 };
    const server = { scoringUri: "http://127.0.0.1:5001/score", pid: 42 };
    const sample = { total: 20, correct: 19, accuracy: 0.95, latencyMs: 40.26, passed: true };
    const s = summarize(run, model, sample, server, "/runs/x/azmlinfsrv.log");
    expect(s).toMatchObject({
      passed: true,
      test_accuracy: 0.99,
      min_accuracy: 0.9,
      model_version: "3",
      model_uri: "models:/mnist-cnn/3",
      mlflow_run_id: "abc",
      model_dir: version.dir,
      sample_correct: 19,
      sample_accuracy: 0.95,
      latency_ms: 40.3,
      server_pid: null,
      kept_serving: false,
      timings,
      sweep: null,
    });
    // below the gate: the sample check failed, nothing registered
    const below = summarize(run, { ...model, version: null }, { ...sample, passed: false }, server, "l");
    expect(below).toMatchObject({ passed: false, model_version: null, model_uri: "runs:/abc/model" });
    // the sample passed but nothing was registered: not passed either
    expect(summarize(run, { ...model, version: null }, sample, server, "l").passed).toBe(false);
  });
  test("the tags of a registered version: run id, test accuracy, source, the gate", () => {
    const o = parseRunLocalArgs(["--epochs", "2", "--train-limit", "500"])!;
    const c = { runId: "abc", testAccuracy: 0.97, dataPath: "/d.npz", metrics: { train_seconds: 5.5 } };
    const sample = { total: 20, correct: 20, accuracy: 1, latencyMs: 1, passed: true };
    expect(versionTags(o, c, sample, 0.8, "/runs/x")).toEqual({
      source: "npm run local",
      run_id: "abc",
      test_accuracy: 0.97,
      sample_accuracy: 1,
      min_accuracy: 0.8,
      data: "/d.npz",
      run_dir: "/runs/x",
      train_limit: 500,
      train_seconds: 5.5,
      sweep_trial: undefined,
      sweep_experiment: undefined,
    });
    const sweep = parseRunLocalArgs(["--sweep", "2"])!;
    const won = { best: "trial-2", mlflow_experiment: "mnist-cnn-sweep-x" } as Candidate["sweep"];
    expect(versionTags(sweep, { ...c, sweep: won }, sample, 0.8, "/r")).toMatchObject({
      source: "npm run local --sweep",
      sweep_trial: "trial-2",
      sweep_experiment: "mnist-cnn-sweep-x",
    });
  });
});

describe("registry names", () => {
  test("models:/ URIs: the alias champion by default, or a version", () => {
    expect(modelUri("mnist-cnn", {})).toBe("models:/mnist-cnn@champion");
    expect(modelUri("mnist-cnn", { alias: "challenger" })).toBe("models:/mnist-cnn@challenger");
    expect(modelUri("mnist-cnn", { version: "4", alias: CHAMPION })).toBe("models:/mnist-cnn/4");
  });
  test("versions listed newest first with their aliases", () => {
    expect(describeVersions([])).toBe("none");
    expect(
      describeVersions([
        { version: "1", aliases: [] },
        { version: "2", aliases: ["champion"] },
      ]),
    ).toBe("2 (@champion), 1");
  });
  test("safe names", () => {
    expect(() => assertSafeName("x", "mnist-cnn")).not.toThrow();
    expect(() => assertSafeName("x", "1.2_a")).not.toThrow();
    for (const bad of ["", "..", "../x", "a/b", "-x", "a b", "m@champion"])
      expect(() => assertSafeName("x", bad)).toThrow();
  });
});

describe("MLflow store", () => {
  test("one SQLite store under the state folder, for training, the migration and the UI command", () => {
    const env = { MNIST_LOCAL_DIR: "/srv/my state" };
    expect(mlflowStoreFile(env)).toBe("/srv/my state/mlflow.db");
    expect(mlflowStoreUri(env)).toBe("sqlite:////srv/my state/mlflow.db"); // sqlite:/// + an absolute path
    expect(mlflowUiCommand(env, "3.15.0")).toBe(
      "{ [ -x '/srv/my state/mlflow-ui'/bin/mlflow ] || { .venv/bin/python -m venv '/srv/my state/mlflow-ui' && " +
        "'/srv/my state/mlflow-ui'/bin/pip install -q mlflow==3.15.0; }; } && '/srv/my state/mlflow-ui'/bin/mlflow " +
        "ui --backend-store-uri 'sqlite:////srv/my state/mlflow.db' --host 127.0.0.1 --port 5000",
    );
  });
  test("in the repo: the UI's venv relative to it, no file-store opt-in", () => {
    const cmd = mlflowUiCommand({});
    expect(cmd).toContain(".venv/bin/python -m venv .local/mlflow-ui && .local/mlflow-ui/bin/pip install");
    expect(cmd).toContain(` --backend-store-uri sqlite:///${path.join(ROOT, ".local", "mlflow.db")} `);
    expect(cmd).not.toContain("MLFLOW_ALLOW_FILE_STORE");
  });
  test("the UI's full mlflow is training's mlflow-skinny version (the same database schema)", () => {
    const pinned = /^mlflow-skinny==(\S+)/m.exec(
      readFileSync(path.join(ROOT, "training", "requirements.txt"), "utf8"),
    );
    expect(mlflowUiCommand({})).toContain(`pip install -q mlflow==${pinned![1]};`);
    expect(mlflowVersion("numpy==1\nmlflow-skinny==9.9.9\n")).toBe("9.9.9");
    expect(() => mlflowVersion("mlflow==1\n")).toThrow(/mlflow-skinny/);
  });
  test("shell words and repo paths", () => {
    expect(shellWord("a/b-c.db")).toBe("a/b-c.db");
    expect(shellWord("it's here")).toBe(`'it'\\''s here'`);
    expect(fromRoot(path.join(ROOT, ".local", "x"))).toBe(".local/x");
    expect(fromRoot("/elsewhere/x")).toBe("/elsewhere/x");
  });
});
