/**
 * npm run serve -- [--model-name NAME] [--version N] [--port N] [--host H] [--workers N]
 * Serves a model of the local MLflow Model Registry (<state>/mlflow.db): models:/<name>@champion, the version
 * `npm run local` last registered past its gate, or models:/<name>/<N> with --version; with the real azmlinfsrv in the
 * foreground, echoing its log, until Ctrl-C. See docs/local.md.
 */
import * as path from "node:path";
import { CliError } from "../lib/toolkit/errors";
import { runCli, type Cli } from "../lib/toolkit/run";
import { ROOT, localDir, mlflowStoreFile, mlflowStoreUri } from "./paths";
import { SERVE_USAGE, parseServeArgs, type ServeOptions } from "./options";
import {
  CHAMPION,
  ModelNotFound,
  type RegisteredVersion,
  describeVersions,
  modelUri,
  resolveModel,
} from "./registry";
import { type RunningServer, followFile, startServer, stopServer, waitForHealth } from "./server";

/** The curl line printed for a running server. Pure. */
export function curlExample(scoringUri: string): string {
  return `curl -s -X POST ${scoringUri} -H 'Content-Type: application/json' --data @scoring/sample-request.json`;
}

/** The version to serve: models:/<name>/<--version>, else models:/<name>@champion; a CliError naming what there is. */
export async function findModel(
  opts: Pick<ServeOptions, "modelName" | "version">,
): Promise<RegisteredVersion> {
  const ref = { version: opts.version, alias: CHAMPION };
  try {
    return await resolveModel({ trackingUri: mlflowStoreUri(), name: opts.modelName, ...ref });
  } catch (err) {
    if (!(err instanceof ModelNotFound)) throw new CliError((err as Error).message);
    throw new CliError(
      `no ${modelUri(opts.modelName, ref)} in ${path.relative(ROOT, mlflowStoreFile())} (versions: ` +
        `${describeVersions(err.versions)}); run \`npm run local\` first`,
    );
  }
}

/** Ctrl-C / SIGTERM: stop the server's process group, then exit 0. Returns whether a stop is under way. */
function stopOnSignal(server: RunningServer, stopFollow: () => void): () => boolean {
  let stopping = false;
  const stop = (sig: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`\nserve: ${sig}: stopping azmlinfsrv (pid ${server.pid})\n`);
    void stopServer(server).finally(() => {
      stopFollow();
      process.exit(0);
    });
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  return () => stopping;
}

/** Find the model → start azmlinfsrv (log echoed) → wait for health → serve until Ctrl-C or the server exits. */
export async function serve(opts: ServeOptions): Promise<number> {
  const model = await findModel(opts);
  const logFile = path.join(localDir(), "serve", `azmlinfsrv-${model.name}-${model.version}.log`);
  const aliases = model.aliases.map((a) => ` @${a}`).join("");
  process.stdout.write(
    `serve: ${modelUri(model.name, model)}${aliases} (created ${model.createdAt}, run ${model.runId ?? "none"}) ` +
      `from ${path.relative(ROOT, model.dir)}\n` +
      `serve: azmlinfsrv on ${opts.host}:${opts.port}, ${opts.workers} worker(s); log also in ${path.relative(ROOT, logFile)}\n`,
  );
  const server = await startServer({
    entryScript: path.join(ROOT, "scoring", "score.py"),
    modelDir: model.dir,
    port: opts.port,
    host: opts.host,
    workers: opts.workers,
    logFile,
    cwd: ROOT,
  }).catch((err: Error) => {
    throw new CliError(err.message);
  });
  const stopFollow = followFile(logFile, (t) => process.stdout.write(t));
  const stopping = stopOnSignal(server, stopFollow);
  try {
    await waitForHealth(server, opts.healthTimeoutSeconds * 1000);
  } catch (err) {
    stopFollow();
    await stopServer(server);
    throw new CliError((err as Error).message);
  }
  process.stdout.write(
    `\nserve: ready. Scoring URI: ${server.scoringUri}\n` +
      `  npm run invoke -- --uri ${server.scoringUri}\n` +
      `  ${curlExample(server.scoringUri)}\n` +
      `serve: Ctrl-C to stop\n\n`,
  );
  const { code, signal } = await server.exited;
  if (stopping()) return 0;
  stopFollow();
  throw new CliError(`azmlinfsrv exited (code ${code}${signal ? `, signal ${signal}` : ""})`);
}

export const cli: Cli<ServeOptions> = {
  name: "serve",
  usage: SERVE_USAGE,
  parse: parseServeArgs,
  // a tool for people: its output is the server's log, not a result line
  resultLine: false,
  main: serve,
};

if (require.main === module) runCli(cli);
