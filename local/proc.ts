/** Running a child process with its output streamed line by line (prefixed) and teed to a log file. */
import { spawn } from "node:child_process";
import { createWriteStream, mkdirSync } from "node:fs";
import * as path from "node:path";

export interface StreamedRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Last lines of stdout+stderr (for error messages). */
  tail: string[];
  /** The JSON after the last stdout line starting with "RESULT " (training/app.py's contract), if any. */
  result?: Record<string, unknown>;
}

/** Parses `RESULT {...}` lines; returns the last valid one. Pure. */
export function parseResultLine(lines: string[]): Record<string, unknown> | undefined {
  for (let i = lines.length - 1; i >= 0; i--) {
    const m = /^RESULT\s+(\{.*\})\s*$/.exec(lines[i]);
    if (!m) continue;
    try {
      return JSON.parse(m[1]) as Record<string, unknown>;
    } catch {
      /* keep looking */
    }
  }
  return undefined;
}

/**
 * TensorFlow start-up lines that say nothing about this run (TF_CPP_MIN_LOG_LEVEL does not silence them); they are
 * kept in the log file but not echoed. Pure.
 */
export function isNoise(line: string): boolean {
  return (
    /^I0000 .*oneDNN custom operations are on/.test(line) ||
    /^WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR$/.test(line)
  );
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Each output line is passed here (already prefixed), e.g. console.log. */
  onLine?: (line: string) => void;
  prefix?: string;
  logFile?: string;
  /** Registers a kill function so Ctrl-C can stop the child; returns an unregister function. */
  onChild?: (kill: () => void) => () => void;
}

/** Cuts a stream's chunks into lines (\n, \r\n or a lone \r, as progress bars write); `flush` passes the rest. */
export function lineSplitter(onLine: (line: string) => void): { data(chunk: Buffer): void; flush(): void } {
  let buf = "";
  return {
    data(chunk: Buffer) {
      buf += chunk.toString("utf8");
      let i: number;
      while ((i = buf.search(/\r?\n|\r/)) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(buf[i] === "\r" && buf[i + 1] === "\n" ? i + 2 : i + 1);
        onLine(line);
      }
    },
    flush() {
      if (buf) onLine(buf);
      buf = "";
    },
  };
}

export function runStreaming(command: string, args: string[], opts: RunOptions = {}): Promise<StreamedRun> {
  return new Promise((resolve) => {
    if (opts.logFile) mkdirSync(path.dirname(opts.logFile), { recursive: true });
    const log = opts.logFile ? createWriteStream(opts.logFile, { flags: "a" }) : undefined;
    const child = spawn(command, args, {
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const unregister = opts.onChild?.(() => child.kill("SIGTERM")) ?? (() => undefined);
    const tail: string[] = [];
    const stdoutLines: string[] = [];
    const feed = (isStdout: boolean) =>
      lineSplitter((line) => {
        log?.write(`${line}\n`);
        if (isStdout) stdoutLines.push(line);
        tail.push(line);
        if (tail.length > 60) tail.shift();
        if (stdoutLines.length > 1000) stdoutLines.splice(0, stdoutLines.length - 200);
        if (!isNoise(line)) opts.onLine?.(`${opts.prefix ?? ""}${line}`);
      });
    const out = feed(true);
    const err = feed(false);
    child.stdout.on("data", (c: Buffer) => out.data(c));
    child.stderr.on("data", (c: Buffer) => err.data(c));
    let spawnError: Error | undefined;
    child.once("error", (e) => {
      spawnError = e;
    });
    child.once("close", (code, signal) => {
      out.flush();
      err.flush();
      unregister();
      if (spawnError) tail.push(`spawn ${command} failed: ${spawnError.message}`);
      log?.end();
      resolve({
        code: spawnError ? -1 : code,
        signal,
        tail,
        result: parseResultLine(stdoutLines),
      });
    });
  });
}
