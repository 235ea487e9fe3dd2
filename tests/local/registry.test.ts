/**
 * The local MLflow Model Registry, for real, in a temp state folder: `npm run local` (1,000 images, 1 epoch) registers
 * its run's MLflow model past the gate, with tags and the alias champion; the version leads to the run and the run to
 * its model; `npm run serve` serves models:/mnist-cnn@champion; a run below the gate registers nothing and exits 1
 * with both numbers. ~2 minutes on 2 cores.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { runStreaming } from "../../local/proc";
import { CHAMPION, ModelNotFound, resolveModel } from "../../local/registry";
import { freePort } from "../../local/server";
import { PYTHON, ROOT, runTsx } from "./helpers";

jest.setTimeout(300_000);

const state = mkdtempSync(path.join(tmpdir(), "mlflow-registry-"));
const trackingUri = `sqlite:///${state}/mlflow.db`;
const env = { MNIST_LOCAL_DIR: state, PATH: `${path.dirname(PYTHON)}:${process.env.PATH}` };
const TINY = ["--train-limit", "1000", "--epochs", "1", "--workers", "1"];

// What the MLflow store says, read with MLflow's own client: the registered model, its versions and aliases, and the
// run of the champion with its logged model.
const READ_STORE = `
import json, sys
from pathlib import Path
from mlflow import MlflowClient
from mlflow.artifacts import download_artifacts
client = MlflowClient(sys.argv[1])
model = client.get_registered_model("mnist-cnn")
versions = client.search_model_versions("name = 'mnist-cnn'")
champion = client.get_model_version_by_alias("mnist-cnn", "champion")
run = client.get_run(champion.run_id)
folder = Path(download_artifacts(f"runs:/{champion.run_id}/model", tracking_uri=sys.argv[1]))
print("RESULT " + json.dumps({
    "aliases": model.aliases, "versions": sorted(str(v.version) for v in versions),
    "champion": {"version": str(champion.version), "run_id": champion.run_id, "source": champion.source,
                 "tags": champion.tags},
    "run": {"artifact_uri": run.info.artifact_uri, "status": run.info.status, "metrics": run.data.metrics},
    "model_files": sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()),
    "mlmodel": (folder / "MLmodel").read_text(),
    "runs": len(client.search_runs([e.experiment_id for e in client.search_experiments()])),
}))
`;

interface Store {
  aliases: Record<string, number>;
  versions: string[];
  champion: { version: string; run_id: string; source: string; tags: Record<string, string> };
  run: { artifact_uri: string; status: string; metrics: Record<string, number> };
  model_files: string[];
  mlmodel: string;
  runs: number;
}

async function readStore(): Promise<Store> {
  const r = await runStreaming(PYTHON, ["-c", READ_STORE, trackingUri], { cwd: ROOT });
  if (r.code !== 0 || !r.result) throw new Error(r.tail.join("\n"));
  return r.result as unknown as Store;
}

const summary = () => JSON.parse(readFileSync(path.join(state, "summary.json"), "utf8"));

test("before any run: --skip-train and serve find no champion and say so", async () => {
  const r = await runTsx("local/run-local.ts", ["--skip-train"], env, 60_000);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain("--skip-train: no models:/mnist-cnn@champion in");
  expect(r.stderr).toContain("(versions: none)");
  await expect(resolveModel({ trackingUri, name: "mnist-cnn" })).rejects.toBeInstanceOf(ModelNotFound);
});

test("npm run local past the gate: the run's MLflow model registered with its tags and the alias champion", async () => {
  const r = await runTsx(
    "local/run-local.ts",
    [...TINY, "--min-accuracy", "0", "--port", String(await freePort())],
    env,
    240_000,
  );
  const s = summary();
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  expect(r.stdout).toContain("gate: test accuracy");
  expect(r.stdout).toMatch(
    /\[5\/7\] register\n {2}registered runs:\/\w+\/model as models:\/mnist-cnn\/1 in /,
  );
  expect(s).toMatchObject({
    passed: true,
    model_version: "1",
    model_uri: "models:/mnist-cnn/1",
    min_accuracy: 0,
  });

  const store = await readStore();
  expect(store.aliases).toEqual({ [CHAMPION]: 1 });
  expect(store.versions).toEqual(["1"]);
  // the version leads to its run, the run to its model: the source is the run's artifact folder model/
  expect(store.champion.run_id).toBe(s.mlflow_run_id);
  expect(store.champion.source).toBe(`${store.run.artifact_uri}/model`);
  expect(store.champion.tags).toMatchObject({
    run_id: s.mlflow_run_id,
    source: "npm run local",
    test_accuracy: String(s.test_accuracy),
    min_accuracy: "0",
    sample_accuracy: String(s.sample_accuracy),
    train_limit: "1000",
    run_dir: s.run_dir,
  });
  expect(store.run.status).toBe("FINISHED");
  expect(store.run.metrics.test_accuracy).toBeCloseTo(s.test_accuracy);
  // the MLflow model: Keras with its ONNX copy, signature and input example; served from where the version points
  expect(store.model_files).toEqual(
    expect.arrayContaining(["MLmodel", "data/model.keras", "mnist_cnn.onnx", "input_example.json"]),
  );
  expect(store.mlmodel).toMatch(/onnx:\n(\s+.*\n)*?\s+data: mnist_cnn.onnx/);
  expect(store.mlmodel).toContain('"shape": [-1, 28, 28, 1]');
  expect(store.mlmodel).toContain('"shape": [-1, 10]');
  expect(`file://${s.model_dir}`).toBe(store.champion.source);
  const meta = JSON.parse(readFileSync(path.join(s.run_dir, "outputs", "model_meta.json"), "utf8"));
  expect(meta.mlflow_model).toEqual({
    uri: `runs:/${s.mlflow_run_id}/model`,
    artifact_uri: store.champion.source,
  });
});

test("npm run serve resolves models:/mnist-cnn@champion and serves it", async () => {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [path.join(ROOT, "node_modules", "tsx", "dist", "cli.mjs"), "local/serve.ts", "--port", String(port)],
    { cwd: ROOT, env: { ...process.env, ...env, MNIST_LOCAL_DIR: state }, stdio: ["ignore", "pipe", "pipe"] },
  );
  let out = "";
  child.stderr.on("data", (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`serve not ready:\n${out}`)), 120_000);
      child.stdout.on("data", (c: Buffer) => {
        out += c.toString();
        if (out.includes("serve: ready")) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.on("close", () => reject(new Error(`serve exited:\n${out}`)));
    });
    const champion = await resolveModel({ trackingUri, name: "mnist-cnn" });
    expect(out).toContain(`serve: models:/mnist-cnn/1 @champion (created ${champion.createdAt}`);
    expect(out).toContain(`from ${path.relative(ROOT, champion.dir)}`);
    const body = readFileSync(path.join(ROOT, "scoring", "sample-request.json"));
    const res = await fetch(`http://127.0.0.1:${port}/score`, { method: "POST", body });
    expect(res.status).toBe(200);
    const answer = (await res.json()) as { predictions: number[] };
    expect(answer.predictions).toHaveLength(JSON.parse(body.toString()).data.length);
  } finally {
    child.kill("SIGTERM");
    await exited;
  }
  // a version that is not there: the versions that are, with their aliases
  const r = await runTsx("local/serve.ts", ["--version", "7"], env, 60_000);
  expect(r.code).not.toBe(0);
  expect(r.stderr).toContain("no models:/mnist-cnn/7 in");
  expect(r.stderr).toContain("(versions: 1 (@champion))");
});

test("a run below the gate registers nothing and exits 1 with both numbers", async () => {
  const before = await readStore();
  const r = await runTsx(
    "local/run-local.ts",
    [...TINY, "--min-accuracy", "0.999", "--port", String(await freePort())],
    env,
    240_000,
  );
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(
    /run-local: FAILED: test accuracy 0\.\d{4} is below --min-accuracy 0\.999: the model is not registered/,
  );
  expect(r.stdout).not.toContain("] serve"); // neither served
  const after = await readStore();
  expect(after.runs).toBe(before.runs + 1); // the training run is in MLflow ...
  expect(after.versions).toEqual(["1"]); // ... but no version was registered
  expect(after.aliases).toEqual({ [CHAMPION]: 1 }); // and the champion stayed
});
