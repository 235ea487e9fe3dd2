// Shared bits of the steps that run this repository's CLIs (ops/): as local.Command resources, or (the pre-flight)
// from the program itself while it runs, preview included.
import { spawn } from "child_process";

/**
 * The CLIs run with the project's tsx, relative to the working directory Pulumi gives the program (the project
 * root). A relative path keeps machine-specific paths out of the state: a different checkout is not a change.
 */
export const TSX = "node_modules/.bin/tsx";

/** The ops/ CLIs print exactly one JSON line on stdout; progress goes to stderr. */
export function parseJsonLine<T>(stdout: string, what: string): T {
  const line = stdout
    .trim()
    .split(/\r?\n/)
    .reverse()
    .find((l) => l.trim().startsWith("{"));
  if (!line) throw new Error(`${what} printed no JSON result line on stdout`);
  return JSON.parse(line) as T;
}

/** ISO 8601 duration from seconds (Azure ML durations: PT120S, PT0.5S). */
export function isoSeconds(seconds: number): string {
  return `PT${seconds}S`;
}

/**
 * Runs an ops/ CLI from the program and resolves to its JSON result line; rejects with its stderr (the CLI's own
 * message: what failed and what to do) when it exits non-zero. Its progress is passed through to Pulumi's log.
 */
export function runCliStep<T>(script: string, args: string[]): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const child = spawn(TSX, [script, ...args], { stdio: ["ignore", "pipe", "pipe"], env: process.env });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code === 0) {
        try {
          resolve(parseJsonLine<T>(stdout, script));
        } catch (e) {
          reject(e);
        }
        return;
      }
      const message = stderr
        .split(/\r?\n/)
        .filter((l) => l.trim() && !l.startsWith("{"))
        .join("\n");
      reject(new Error(`${script} failed (exit ${code}):\n${message}`));
    });
  });
}
