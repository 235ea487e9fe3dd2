/** The errors every CLI reports the same way (see runCli): a message, hint lines, an exit code. */

/** A failure the CLI explains and exits on (1 unless said otherwise); `hints` are printed below the message. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly hints: string[] = [],
    readonly exitCode = 1,
    /** what is known for the stdout JSON line written on failure (besides `error`) */
    readonly result: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = "CliError";
  }
}

/** Bad flags or input files: exit 2, with the usage text, before any network call. */
export class UsageError extends CliError {
  constructor(message: string) {
    super(message, [], 2);
    this.name = "UsageError";
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
