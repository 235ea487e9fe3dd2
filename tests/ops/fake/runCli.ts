/**
 * Runs a CLI as a child process the way the Pulumi graph does (`tsx ops/<name>.ts ...`), as one process: `node
 * --import tsx` loads the script through tsx's loader in the node process itself, where the `tsx` command starts a
 * second node process for it (and relays signals to it). Same code, same argv, signals go straight to the CLI; it
 * saves a node start per run (the tests run a CLI a few hundred times).
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as path from "node:path";
import { pathToFileURL } from "node:url";

export const REPO = path.resolve(__dirname, "..", "..", "..");
const TSX_LOADER = pathToFileURL(path.join(REPO, "node_modules", "tsx", "dist", "loader.mjs")).href;

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** the parsed stdout line (undefined when stdout is not exactly one JSON line) */
  json: Record<string, unknown> | undefined;
}

/** `name`: an ops CLI (`wait-for-job`) or a repository path without `.ts` (`local/download-model`). */
export function startCli(
  name: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  cwd = REPO,
): { child: ChildProcess; done: Promise<CliResult>; stderrSoFar: () => string } {
  const child = spawn(
    process.execPath,
    ["--import", TSX_LOADER, path.join(REPO, name.includes("/") ? `${name}.ts` : `ops/${name}.ts`), ...args],
    {
      cwd,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<CliResult>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => {
      let json: Record<string, unknown> | undefined;
      const lines = stdout.split("\n").filter((l) => l.trim() !== "");
      if (lines.length === 1) {
        try {
          json = JSON.parse(lines[0]) as Record<string, unknown>;
        } catch {
          json = undefined;
        }
      }
      resolve({ code, signal, stdout, stderr, json });
    });
  });
  return { child, done, stderrSoFar: () => stderr };
}

export function runCli(name: string, args: string[], env: NodeJS.ProcessEnv, cwd = REPO): Promise<CliResult> {
  return startCli(name, args, env, cwd).done;
}

export async function waitFor(cond: () => boolean, timeoutMs = 20000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out waiting for condition");
    await new Promise((r) => setTimeout(r, 50));
  }
}
