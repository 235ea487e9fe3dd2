/** Output conventions of the CLIs: progress on stderr, at most one JSON result line on stdout, both redacted. */
import { redact } from "./redact";

/** A progress line on stderr (redacted). */
export function log(message: string): void {
  process.stderr.write(`${redact(message)}\n`);
}

let resultWritten = false;

export function hasWrittenResult(): boolean {
  return resultWritten;
}

/**
 * The one stdout line a caller parses (redacted like everything else). Pass it `line satisfies <contract>` (see
 * lib/core/contracts.ts) so that what a CLI prints and what its reader expects are one type.
 */
export function writeResult(result: object): void {
  if (resultWritten) throw new Error("result already written");
  resultWritten = true;
  process.stdout.write(`${redact(JSON.stringify(result))}\n`);
}
