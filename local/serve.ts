/**
 * npm run serve -- [--model-name NAME] [--version V] [--port N] [--host H] [--workers N]
 * Serves a registered local model (default: the latest by createdAt) with the real azmlinfsrv in the foreground,
 * echoing its log, until Ctrl-C. See docs/local.md.
 */
import * as path from "node:path";
import { ROOT, localDir } from "./paths";
import { LocalUsageError, SERVE_USAGE, parseServeArgs } from "./options";
import { getVersion, latestVersion, listVersions } from "./registry";
import { type RunningServer, followFile, startServer, stopServer, waitForHealth } from "./server";

const REGISTRY = path.join(localDir(), "registry");

/** The curl line printed for a running server. Pure. */
export function curlExample(scoringUri: string): string {
  return `curl -s -X POST ${scoringUri} -H 'Content-Type: application/json' --data @scoring/sample-request.json`;
}

async function main(argv: string[]): Promise<number> {
  let opts;
  try {
    opts = parseServeArgs(argv);
  } catch (err) {
    if (err instanceof LocalUsageError) {
      process.stderr.write(`serve: ${err.message}\n\n${SERVE_USAGE}\n`);
      return 2;
    }
    throw err;
  }
  if (opts === null) {
    process.stdout.write(`${SERVE_USAGE}\n`);
    return 0;
  }
  const model = opts.version
    ? getVersion(REGISTRY, opts.modelName, opts.version)
    : latestVersion(REGISTRY, opts.modelName);
  if (!model) {
    const have = listVersions(REGISTRY, opts.modelName).map((v) => v.version);
    process.stderr.write(
      `serve: no ${opts.version ? `version ${opts.version} of ` : "registered version of "}${opts.modelName} in ` +
        `${path.relative(ROOT, REGISTRY)} (have: ${have.length ? have.join(", ") : "none"}); run \`npm run local\` first\n`,
    );
    return 1;
  }
  const logFile = path.join(localDir(), "serve", `azmlinfsrv-${model.name}-${model.version}.log`);
  process.stdout.write(
    `serve: ${model.name}:${model.version} (created ${model.createdAt}) from ${path.relative(ROOT, model.dir)}\n` +
      `serve: azmlinfsrv on ${opts.host}:${opts.port}, ${opts.workers} worker(s); log also in ${path.relative(ROOT, logFile)}\n`,
  );
  let server: RunningServer;
  try {
    server = await startServer({
      entryScript: path.join(ROOT, "scoring", "score.py"),
      modelDir: model.dir,
      port: opts.port,
      host: opts.host,
      workers: opts.workers,
      logFile,
      cwd: ROOT,
    });
  } catch (err) {
    process.stderr.write(`serve: ${(err as Error).message}\n`);
    return 1;
  }
  const stopFollow = followFile(logFile, (t) => process.stdout.write(t));
  let stopping = false;
  const stop = (sig: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`\nserve: ${sig}: stopping azmlinfsrv (pid ${server.pid})\n`);
    stopServer(server).finally(() => {
      stopFollow();
      process.exit(0);
    });
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  try {
    await waitForHealth(server, opts.healthTimeoutSeconds * 1000);
  } catch (err) {
    stopFollow();
    process.stderr.write(`serve: ${(err as Error).message}\n`);
    await stopServer(server);
    return 1;
  }
  process.stdout.write(
    `\nserve: ready. Scoring URI: ${server.scoringUri}\n` +
      `  npm run invoke -- --uri ${server.scoringUri}\n` +
      `  ${curlExample(server.scoringUri)}\n` +
      `serve: Ctrl-C to stop\n\n`,
  );
  const { code, signal } = await server.exited;
  if (stopping) return 0;
  stopFollow();
  process.stderr.write(`serve: azmlinfsrv exited (code ${code}${signal ? `, signal ${signal}` : ""})\n`);
  return 1;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`serve: internal error: ${(err as Error)?.stack ?? String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
