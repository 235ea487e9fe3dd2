// Shared bits of the steps that run this repository's CLIs (ops/): as local.Command resources, or (the pre-flight)
// from the program itself while it runs, preview included.
import { spawn } from "child_process";
import * as pulumi from "@pulumi/pulumi";

/**
 * The CLIs run with the project's tsx, relative to the working directory Pulumi gives the program (the project
 * root). A relative path keeps machine-specific paths out of the state: a different checkout is not a change.
 */
export const TSX = "node_modules/.bin/tsx";

/**
 * How a command step starts its CLI: `exec`, so that the CLI replaces `/bin/sh` and a cancelled step (pulumi-command
 * kills its direct child: Go's exec.CommandContext sends SIGKILL to that process only) stops the CLI itself instead
 * of leaving it running behind the step; and `node --import tsx`, one process (the tsx binary would start a second
 * node under it, which the kill would not reach).
 */
export const STEP_RUNNER = ["exec", "node", "--import", "tsx"] as const;

/** `s` as one /bin/sh word: as is when it holds only safe characters, else single-quoted. */
export function shellQuote(s: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s)) return s;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * The command string of a step that runs `script` with `args`: every value quoted for /bin/sh, so no name from
 * config or from Azure (a resource group `rg-(a)` is valid in Azure) can break or extend the command.
 */
export function stepCommand(
  script: string,
  args: ReadonlyArray<pulumi.Input<string | number>>,
): pulumi.Output<string> {
  return pulumi
    .all(args.map((a) => pulumi.output(a)))
    .apply((values) =>
      [
        ...STEP_RUNNER.slice(0, 1),
        ...[...STEP_RUNNER.slice(1), script, ...values.map(String)].map(shellQuote),
      ].join(" "),
    );
}

/** The words of a command string as /bin/sh splits them (plain words and single quotes: what stepCommand writes). */
export function splitCommand(command: string): string[] {
  const words: string[] = [];
  const re = /'((?:[^']|'\\'')*)'|(\S+)/g;
  let current = "";
  let last = -1;
  for (let m = re.exec(command); m; m = re.exec(command)) {
    const part = m[1] !== undefined ? m[1].replace(/'\\''/g, "'") : m[2];
    if (m.index === last) current += part;
    else {
      if (last >= 0) words.push(current);
      current = part;
    }
    last = re.lastIndex;
  }
  if (last >= 0) words.push(current);
  return words;
}

/** The value after `--flag` in a step's command, or undefined. */
export function flagOf(command: string, flag: string): string | undefined {
  const words = splitCommand(command);
  const i = words.indexOf(`--${flag}`);
  return i >= 0 ? words[i + 1] : undefined;
}

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
