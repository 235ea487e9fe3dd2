/** Where the local run keeps its state. */
import * as path from "node:path";
import { pathToFileURL } from "node:url";

export const ROOT = path.resolve(__dirname, "..");

/**
 * The state folder: <repo>/.local, or $MNIST_LOCAL_DIR (tests point it at a temp folder so they never touch the
 * user's registry or summary). Layout: data/, runs/<timestamp>/, mlruns/, registry/<model>/<version>/,
 * summary.json, server.json, serve/.
 */
export function localDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.MNIST_LOCAL_DIR ? path.resolve(env.MNIST_LOCAL_DIR) : path.join(ROOT, ".local");
}

/** The MLflow tracking store of the local runs: the one place that names it (a SQLite store would change only this). */
export function mlflowStoreUri(env: NodeJS.ProcessEnv = process.env): string {
  return pathToFileURL(path.join(localDir(env), "mlruns")).href;
}

/** The command that opens the MLflow UI on a store, with the project's venv (MLflow 3 refuses file stores unasked). */
export function mlflowUiCommand(storeUri: string): string {
  const optIn = storeUri.startsWith("file:") ? "MLFLOW_ALLOW_FILE_STORE=true " : "";
  return `${optIn}.venv/bin/mlflow ui --backend-store-uri ${storeUri}`;
}
