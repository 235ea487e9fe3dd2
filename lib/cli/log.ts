/** Output conventions shared by the ops CLIs: progress on stderr, exactly one JSON line on stdout. */
import { redact } from "./redact";

const started = Date.now();

export function elapsedSeconds(): number {
  return Math.round((Date.now() - started) / 1000);
}

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  if (h > 0) return `${h}h${String(m).padStart(2, "0")}m${String(r).padStart(2, "0")}s`;
  if (m > 0) return `${m}m${String(r).padStart(2, "0")}s`;
  return `${r}s`;
}

/** A progress line on stderr (redacted). */
export function log(message: string): void {
  process.stderr.write(`${redact(message)}\n`);
}

let resultWritten = false;

export function hasWrittenResult(): boolean {
  return resultWritten;
}

/** The one stdout line the Pulumi graph parses (redacted like everything else). */
export function writeResult(result: unknown): void {
  if (resultWritten) throw new Error("result already written");
  resultWritten = true;
  process.stdout.write(`${redact(JSON.stringify(result))}\n`);
}

/** A failure the CLI reports and exits 1 on; `hint` lines follow the message. */
export class OpsError extends Error {
  constructor(
    message: string,
    readonly hints: string[] = [],
    readonly exitCode = 1,
    /** fields for the stdout JSON line written on failure (besides `error`) */
    readonly result: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = "OpsError";
  }
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
