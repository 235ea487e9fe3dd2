/** Shared helpers of the tests/local suites: running a TypeScript CLI as a real process, the venv's Python. */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import * as path from "node:path";
import { runStreaming } from "../../local/proc";

export const ROOT = path.resolve(__dirname, "..", "..");
const venvPython = path.join(ROOT, ".venv", "bin", "python");
/** The project venv's python (scripts/env.sh builds it), else the one on PATH. */
export const PYTHON = existsSync(venvPython) ? venvPython : "python";

// A run in a file store, as the local runs logged them before MLflow 3's SQLite default (now only with
// MLFLOW_ALLOW_FILE_STORE=true).
const LOG_TO_FILE_STORE = `
import sys, mlflow
mlflow.set_tracking_uri(sys.argv[1])
mlflow.set_experiment("mnist-cnn")
with mlflow.start_run(run_name="old-run") as run:
    mlflow.log_params({"epochs": 15, "dropout": 0.5})
    for step, v in enumerate([0.9, 0.95]):
        mlflow.log_metric("val_accuracy", v, step=step)
print("RESULT {\\"run_id\\": \\"" + run.info.run_id + "\\"}")
`;

/** Writes a file store at `dir` holding one run, "old-run" of experiment mnist-cnn; returns its run id. */
export async function fileStoreWithOneRun(dir: string): Promise<string> {
  const env = { MLFLOW_TRACKING_URI: "", MLFLOW_ALLOW_FILE_STORE: "true" };
  const r = await runStreaming(PYTHON, ["-c", LOG_TO_FILE_STORE, `file://${dir}`], { cwd: ROOT, env });
  if (r.code !== 0 || typeof r.result?.run_id !== "string") throw new Error(r.tail.join("\n"));
  return r.result.run_id;
}
const TSX_CLI = path.join(ROOT, "node_modules", "tsx", "dist", "cli.mjs");

export interface ProcResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `tsx <script> ...args` with this Node (async: the test's own HTTP server keeps serving meanwhile). */
export function runTsx(
  script: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
  timeoutMs = 60_000,
): Promise<ProcResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [TSX_CLI, script, ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${script} timed out after ${timeoutMs} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    }, timeoutMs);
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
