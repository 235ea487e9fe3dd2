/** Where the local run keeps its state. */
import { readFileSync } from "node:fs";
import * as path from "node:path";

export const ROOT = path.resolve(__dirname, "..");

/**
 * The state folder: <repo>/.local, or $MNIST_LOCAL_DIR (tests point it at a temp folder so they never touch the
 * user's registry or summary). Layout: data/, runs/<timestamp>/, mlflow.db (+ mlartifacts/), registry/<model>/<version>/,
 * summary.json, server.json, serve/, mlflow-ui/ (the UI's venv), and mlruns/ from before the SQLite store.
 */
export function localDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.MNIST_LOCAL_DIR ? path.resolve(env.MNIST_LOCAL_DIR) : path.join(ROOT, ".local");
}

/** The MLflow tracking store of the local runs, a SQLite database (MLflow 3's default backend): named only here. */
export function mlflowStoreFile(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(localDir(env), "mlflow.db");
}

/** Its URI: sqlite:/// and the absolute path (sqlite:////home/me/repo/.local/mlflow.db), as SQLAlchemy reads it. */
export function mlflowStoreUri(env: NodeJS.ProcessEnv = process.env): string {
  return `sqlite:///${mlflowStoreFile(env)}`;
}

/** The file store the local runs used before (MLflow 3 keeps it behind MLFLOW_ALLOW_FILE_STORE), migrated once. */
export function legacyMlflowStore(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(localDir(env), "mlruns");
}

/** The mlflow-skinny version training pins: the UI's full mlflow must be the same (it reads the same schema). */
export function mlflowVersion(
  requirements = readFileSync(path.join(ROOT, "training", "requirements.txt"), "utf8"),
): string {
  const pin = /^mlflow-skinny==(\S+)/m.exec(requirements);
  if (!pin) throw new Error("training/requirements.txt: no mlflow-skinny==<version> pin");
  return pin[1];
}

/** A word for bash: as is when plain, else single-quoted. */
export function shellWord(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** A path for humans and for commands run from the repo folder: relative when inside it. */
export function fromRoot(p: string): string {
  const rel = path.relative(ROOT, p);
  return rel.startsWith("..") || path.isAbsolute(rel) ? p : rel;
}

/**
 * The one command (run from the repo folder) that opens the MLflow UI on the store at http://127.0.0.1:5000. The
 * venv's mlflow-skinny has no server, and the full mlflow would change the inference server's packages in .venv
 * (gunicorn, cryptography), so the first time it installs the full mlflow, of training's version, into its own venv
 * <state>/mlflow-ui; later it just starts it.
 */
export function mlflowUiCommand(env: NodeJS.ProcessEnv = process.env, version = mlflowVersion()): string {
  const venv = shellWord(fromRoot(path.join(localDir(env), "mlflow-ui")));
  const install = `.venv/bin/python -m venv ${venv} && ${venv}/bin/pip install -q mlflow==${version}`;
  const ui = `${venv}/bin/mlflow ui --backend-store-uri ${shellWord(mlflowStoreUri(env))} --host 127.0.0.1 --port 5000`;
  return `{ [ -x ${venv}/bin/mlflow ] || { ${install}; }; } && ${ui}`;
}
