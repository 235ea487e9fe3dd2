/**
 * The earlier file store (<state>/mlruns) migrated once into the SQLite store with the venv's real
 * `mlflow migrate-filestore` (mlflow-skinny + sqlalchemy + alembic), and read back with MlflowClient. ~10 s.
 */
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { migrateFileStore, needsMigration } from "../../local/mlflow-store";
import { runStreaming } from "../../local/proc";
import { PYTHON, ROOT, fileStoreWithOneRun } from "./helpers";

jest.setTimeout(120_000);

const python = (args: string[]) =>
  runStreaming(PYTHON, args, { cwd: ROOT, env: { MLFLOW_TRACKING_URI: "" } });

const READ_BACK = `
import json, sys
from mlflow import MlflowClient
client = MlflowClient(sys.argv[1])
exp = client.get_experiment_by_name("mnist-cnn")
run = client.search_runs([exp.experiment_id])[0]
history = [m.value for m in client.get_metric_history(run.info.run_id, "val_accuracy")]
print("RESULT " + json.dumps({"run_id": run.info.run_id, "name": run.info.run_name, "params": run.data.params,
                              "history": history, "artifact_uri": run.info.artifact_uri}))
`;

const state = mkdtempSync(path.join(tmpdir(), "mlflow-store-"));

test("needsMigration: only a non-empty file store without a database", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "needs-"));
  const [fileStore, db] = [path.join(dir, "mlruns"), path.join(dir, "mlflow.db")];
  expect(needsMigration(fileStore, db)).toBe(false);
  mkdirSync(fileStore);
  expect(needsMigration(fileStore, db)).toBe(false); // empty
  mkdirSync(path.join(fileStore, "0"));
  expect(needsMigration(fileStore, db)).toBe(true);
  writeFileSync(db, "");
  expect(needsMigration(fileStore, db)).toBe(false); // migrated before (or a database started since)
});

test("a file store's runs end up in the SQLite database; mlruns/ stays for their artifacts", async () => {
  const fileStore = path.join(state, "mlruns");
  const runId = await fileStoreWithOneRun(fileStore);
  const db = path.join(state, "mlflow.db");
  expect(needsMigration(fileStore, db)).toBe(true);

  const lines: string[] = [];
  await migrateFileStore(fileStore, db, (args) =>
    runStreaming(PYTHON, args, { cwd: ROOT, onLine: (l) => lines.push(l) }),
  );
  expect(lines.join("\n")).toMatch(/Migration completed successfully/);
  // the database under its name, the partial one gone
  expect(readdirSync(state).sort()).toEqual(["mlflow.db", "mlruns"]);
  expect(needsMigration(fileStore, db)).toBe(false);

  const read = await python(["-c", READ_BACK, `sqlite:///${db}`]);
  expect(read.code).toBe(0);
  expect(read.result).toMatchObject({
    run_id: runId,
    name: "old-run",
    params: { epochs: "15", dropout: "0.5" },
    history: [0.9, 0.95],
  });
  expect(read.result!.artifact_uri).toContain(fileStore); // artifacts are not copied: they stay in mlruns/
});

test("a failed migration leaves no database behind (the next run tries again) and says why", async () => {
  const dir = mkdtempSync(path.join(tmpdir(), "bad-store-"));
  const fileStore = path.join(dir, "mlruns");
  mkdirSync(path.join(fileStore, "not-an-experiment"), { recursive: true });
  const db = path.join(dir, "mlflow.db");
  await expect(
    migrateFileStore(fileStore, db, (args) => runStreaming(PYTHON, args, { cwd: ROOT })),
  ).rejects.toThrow(/mlflow migrate-filestore failed \(exit 1\): .*Cannot find mlruns directory/);
  expect(readdirSync(dir)).toEqual(["mlruns"]);
});
