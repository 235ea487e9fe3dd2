/**
 * `npm run local -- --sweep 2 --sweep-epochs 1 --train-limit 1000 --min-accuracy 0` for real, in a temp state folder
 * that holds an earlier file store: the store is migrated once, two trials of training/app.py run with the drawn
 * hyperparameters, the best by val_accuracy is served and registered (champion, tagged with its trial), and
 * .local/summary.json and MLflow record the trials. ~30 s.
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { DEFAULT_SWEEP_SEED } from "../../local/options";
import { runStreaming } from "../../local/proc";
import { CHAMPION, resolveModel } from "../../local/registry";
import { freePort } from "../../local/server";
import { bestRecord, planTrials } from "../../local/trials";
import { PYTHON, ROOT, fileStoreWithOneRun, runTsx } from "./helpers";

jest.setTimeout(180_000);

const READ_RUNS = `
import json, sys
from mlflow import MlflowClient
client = MlflowClient(sys.argv[1])
runs = {e.name: sorted(r.info.run_name for r in client.search_runs([e.experiment_id]))
        for e in client.search_experiments()}
print("RESULT " + json.dumps(runs))
`;

test("a local sweep: trials, the winner registered and served, the summary, MLflow runs trial-1..2", async () => {
  const state = mkdtempSync(path.join(tmpdir(), "sweep-"));
  await fileStoreWithOneRun(path.join(state, "mlruns"));
  const args = ["--sweep", "2", "--sweep-epochs", "1", "--train-limit", "1000", "--workers", "1"];
  args.push("--min-accuracy", "0"); // a tiny sweep: the gate is not what this test is about
  const r = await runTsx(
    "local/run-local.ts",
    [...args, "--port", String(await freePort())],
    { MNIST_LOCAL_DIR: state, PATH: `${path.dirname(PYTHON)}:${process.env.PATH}` },
    150_000,
  );
  expect(r.stderr).not.toMatch(/FAILED/);
  expect(r.stdout).toMatch(/mlflow: migrating the earlier file store .*mlruns into .*mlflow\.db/);
  expect(r.stdout).toContain("[2/7] sweep (2 trials, 1 epoch each)");

  const s = JSON.parse(readFileSync(path.join(state, "summary.json"), "utf8"));
  expect(s.passed).toBe(true);
  expect(r.code).toBe(0);
  const plan = planTrials(2, DEFAULT_SWEEP_SEED);
  expect(s.sweep).toMatchObject({ trials_requested: 2, epochs: 1, seed: DEFAULT_SWEEP_SEED });
  expect(s.sweep.trials.map((t: { name: string }) => t.name)).toEqual(["trial-1", "trial-2"]);
  for (const [i, t] of s.sweep.trials.entries()) {
    expect(t).toMatchObject({ status: "Completed", batch_size: plan[i].params.batchSize });
    const meta = JSON.parse(readFileSync(path.join(t.output_dir, "model_meta.json"), "utf8"));
    expect(meta.hyperparameters).toMatchObject({
      epochs: 1,
      learning_rate: plan[i].params.learningRate,
      batch_size: plan[i].params.batchSize,
      dropout: plan[i].params.dropout,
    });
    const rows = JSON.parse(readFileSync(path.join(t.output_dir, "metrics.json"), "utf8")).epochs;
    expect(t.val_accuracy).toBe(rows.at(-1).val_accuracy);
  }
  // the winner: registered, served, its accuracy the summary's; the table marks it
  const best = bestRecord(s.sweep.trials)!;
  expect(s.sweep.best).toBe(best.name);
  expect(s.test_accuracy).toBe(best.test_accuracy);
  const version = await resolveModel({ trackingUri: `sqlite:///${state}/mlflow.db`, name: "mnist-cnn" });
  expect(version).toMatchObject({
    version: "1",
    aliases: [CHAMPION],
    dir: s.model_dir,
    runId: s.mlflow_run_id,
  });
  expect(version.tags).toMatchObject({
    source: "npm run local --sweep",
    run_id: s.mlflow_run_id,
    sweep_trial: best.name,
    sweep_experiment: s.sweep.mlflow_experiment,
  });
  const meta = JSON.parse(readFileSync(path.join(best.output_dir, "model_meta.json"), "utf8"));
  expect(meta.mlflow_run_id).toBe(s.mlflow_run_id); // the winner's run is the registered one
  expect(r.stdout).toMatch(new RegExp(`\\n  \\* ${best.name} `));
  expect(r.stdout).toContain(`sweep            ${best.name} of 2 won: val_accuracy`);
  expect(r.stdout).toContain(
    `npm run local -- --learning-rate ${best.learning_rate} --batch-size ${best.batch_size} --dropout ${best.dropout}`,
  );

  // MLflow: the migrated run and the trials, in one SQLite store
  const runs = await runStreaming(PYTHON, ["-c", READ_RUNS, `sqlite:///${state}/mlflow.db`], { cwd: ROOT });
  expect(runs.result).toMatchObject({
    "mnist-cnn": ["old-run"],
    [s.sweep.mlflow_experiment]: ["trial-1", "trial-2"],
  });
});
