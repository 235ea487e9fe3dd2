/**
 * The one entry point of every CLI: secrets registered for redaction, flags parsed (and range-checked) before
 * anything else runs, `--help` on stdout, errors printed once, exit code 0 / the CliError's code (2 for usage) /
 * 1 for anything unexpected.
 */
import { CliError, UsageError, errorMessage } from "./errors";
import { hasWrittenResult, log, writeResult } from "./log";
import { registerSecretsFromEnv } from "./redact";

export interface Cli<O> {
  name: string;
  usage: string;
  /** argv → options, `null` for --help; throws UsageError. Runs before any network call. */
  parse(argv: string[]): O | null;
  /** does the work; returns the exit code (nothing = 0) */
  main(opts: O): Promise<number | void>;
  /**
   * The stdout line on failure, `{"error": ..., <what is known>}`, for a caller that parses stdout: on by default;
   * `false` for CLIs whose stdout is for people; an object adds fixed fields (`{passed: false}`).
   */
  resultLine?: false | Record<string, unknown>;
}

function fail<O>(cli: Cli<O>, err: unknown): number {
  const known = err instanceof CliError;
  log(`${cli.name}: ${known ? "" : "internal error: "}${errorMessage(err)}`);
  if (known) for (const h of err.hints) log(`  ${h}`);
  else if (err instanceof Error && err.stack) log(err.stack);
  if (err instanceof UsageError) log(`\n${cli.usage}`);
  if (cli.resultLine !== false && !hasWrittenResult()) {
    writeResult({ ...cli.resultLine, ...(known ? err.result : {}), error: errorMessage(err).split("\n")[0] });
  }
  return known ? err.exitCode : 1;
}

/** What runCli does, as the exit code (for tests in-process). */
export async function cliExitCode<O>(cli: Cli<O>, argv: string[]): Promise<number> {
  registerSecretsFromEnv();
  let opts: O | null;
  try {
    opts = cli.parse(argv);
  } catch (err) {
    return fail(cli, err);
  }
  if (opts === null) {
    process.stdout.write(`${cli.usage}\n`);
    return 0;
  }
  try {
    return (await cli.main(opts)) ?? 0;
  } catch (err) {
    return fail(cli, err);
  }
}

/** Runs the CLI with this process's arguments and sets its exit code; call under `require.main === module`. */
export function runCli<O>(cli: Cli<O>): void {
  void cliExitCode(cli, process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
