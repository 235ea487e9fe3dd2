/**
 * npm run invoke -- --uri URL [--key KEY] [--request FILE] [--expected FILE] [--min-accuracy F]
 *                   [--deployment NAME] [--json] [--timeout-seconds N] [--retries N] [--retry-delay-seconds F]
 * Thin wrapper over cli/invoke-lib.ts (see INVOKE_USAGE there). Never prints the key.
 */
import { EXIT_ERROR, INVOKE_USAGE, UsageError, parseInvokeArgs, runInvoke } from "../lib/invoke";

async function main(): Promise<number> {
  let opts;
  try {
    opts = parseInvokeArgs(process.argv.slice(2));
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`invoke: ${err.message}\n\n${INVOKE_USAGE}\n`);
      return EXIT_ERROR;
    }
    throw err;
  }
  if (opts === null) {
    process.stdout.write(`${INVOKE_USAGE}\n`);
    return 0;
  }
  const json = opts.json;
  const outcome = await runInvoke(opts, {
    out: (l) => process.stdout.write(`${l}\n`),
    info: (l) => (json ? process.stderr : process.stdout).write(`${l}\n`),
    err: (l) => process.stderr.write(`${l}\n`),
  });
  return outcome.exitCode;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`invoke: internal error: ${(err as Error)?.message ?? String(err)}\n`);
    process.exitCode = EXIT_ERROR;
  },
);
