/**
 * npm run invoke -- --uri URL [--auth Key|AMLToken|AADToken] [--endpoint-id ID] [--arm-endpoint URL] [--key KEY]
 *                   [--request FILE] [--expected FILE] [--min-accuracy F] [--deployment NAME] [--json]
 *                   [--timeout-seconds N] [--retries N] [--retry-delay-seconds F]
 * The invocation client as a CLI (the graph's sample invocation runs it with --json); the logic is lib/azureml/invoke.ts
 * (see INVOKE_USAGE there). Never prints the key.
 */
import { runCli, type Cli } from "../lib/toolkit/run";
import { INVOKE_USAGE, parseInvokeArgs, runInvoke, type InvokeOptions } from "../lib/azureml/invoke";

export const cli: Cli<InvokeOptions> = {
  name: "invoke",
  usage: INVOKE_USAGE,
  parse: (argv) => parseInvokeArgs(argv),
  // With --json, stdout is one JSON line even for a usage error (runInvoke writes it for every later failure).
  resultLine: process.argv.includes("--json") ? { passed: false } : false,
  main: async (opts) => {
    const write = (stream: NodeJS.WriteStream) => (line: string) => stream.write(`${line}\n`);
    const outcome = await runInvoke(opts, {
      out: write(process.stdout),
      info: write(opts.json ? process.stderr : process.stdout),
      err: write(process.stderr),
    });
    return outcome.exitCode;
  },
};

if (require.main === module) runCli(cli);
