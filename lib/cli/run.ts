/** Common entry point: secrets registered for redaction, errors printed once, exit code 0/1 (2 for usage). */
import { errorMessage, hasWrittenResult, log, OpsError, writeResult } from "./log";
import { redact, registerSecretsFromEnv } from "./redact";

export function runCli(name: string, main: (argv: string[]) => Promise<void>): void {
  registerSecretsFromEnv();
  main(process.argv.slice(2)).then(
    () => {
      process.exitCode = 0;
    },
    (err: unknown) => {
      const code = err instanceof OpsError ? err.exitCode : 1;
      log(`${name}: ${errorMessage(err)}`);
      if (err instanceof OpsError) for (const h of err.hints) log(`  ${h}`);
      if (!(err instanceof OpsError) && err instanceof Error && err.stack && process.env.OPS_DEBUG) {
        log(redact(err.stack));
      }
      if (!hasWrittenResult()) {
        const extra = err instanceof OpsError ? err.result : {};
        writeResult({ ...extra, error: errorMessage(err).split("\n")[0] });
      }
      process.exitCode = code;
    },
  );
}
