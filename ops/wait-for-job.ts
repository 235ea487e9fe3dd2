/**
 * wait-for-job: polls an Azure ML job until it reaches a terminal state (Completed, Failed, Canceled).
 *
 *   tsx ops/wait-for-job.ts --job-id <ARM id of the job> [--min-accuracy F] [--stuck-timeout-minutes 30]
 *     [--timeout-minutes 180] [--poll-seconds 15] [--metric test_accuracy] [--log-lines 60] [--arm-endpoint URL]
 *
 * stderr: studio link, each status change with the elapsed time, on failure the service's error and the tail of
 * the user log. stdout: one JSON line {"jobName","status","testAccuracy","studioUrl","elapsedSeconds"}.
 * Exit 0 only when the job Completed and (with --min-accuracy) its metric reached the threshold.
 */
import { ARM_FLAGS, ArmClient, armCliOptions, type ArmCliOptions } from "../lib/cli/arm";
import { usageLine, withFlags } from "../lib/cli/args";
import { CliError, errorMessage } from "../lib/cli/errors";
import { HttpError } from "../lib/cli/http";
import { azWorkspaceFlags, parseWorkspaceChildId, type ParsedId, type WorkspaceScope } from "../lib/cli/ids";
import { log, writeResult } from "../lib/cli/log";
import { runCli } from "../lib/cli/run";
import { elapsedSeconds, formatDuration, since, sleep } from "../lib/cli/time";
import {
  pickUserLog,
  runDetails,
  runMetrics,
  tail,
  trackingUri,
  workspaceRegion,
} from "../lib/cli/workspace";
import type { WaitResult } from "../lib/contracts";

const FLAGS = {
  "job-id": { type: "string", required: true, placeholder: "<ARM id>" },
  "min-accuracy": { type: "number", min: 0, max: 1, placeholder: "F" },
  "stuck-timeout-minutes": { type: "number", min: 0, default: 30 },
  metric: { type: "string", default: "test_accuracy", placeholder: "NAME" },
  "log-lines": { type: "number", integer: true, min: 0, default: 60 },
  "not-found-seconds": { type: "number", min: 0, default: 120 },
  ...ARM_FLAGS,
  // training takes hours, not minutes: a longer limit and a slower poll than the other ARM CLIs
  "timeout-minutes": { type: "number", min: 0, default: 180 },
  "poll-seconds": { type: "number", min: 0, default: 15 },
} as const;

const USAGE = usageLine("tsx ops/wait-for-job.ts", FLAGS);

export const TERMINAL = new Set(["Completed", "Failed", "Canceled"]);
/** States in which the job waits for something (compute, quota, image) rather than runs. */
export const WAITING = new Set(["NotStarted", "Starting", "Provisioning", "Preparing", "Queued"]);

export interface WaitOptions extends ArmCliOptions {
  /** the job's id, name and workspace */
  job: ParsedId;
  minAccuracy?: number;
  stuckMs: number;
  notFoundMs: number;
  metric: string;
  logLines: number;
}

/** argv → options; every check that needs no network (id shape, ranges) happens here. */
export const parseWaitArgs = withFlags(FLAGS, (a): WaitOptions => ({
  job: parseWorkspaceChildId(a["job-id"], ["jobs"]),
  minAccuracy: a["min-accuracy"],
  stuckMs: a["stuck-timeout-minutes"] * 60_000,
  notFoundMs: a["not-found-seconds"] * 1000,
  metric: a.metric,
  logLines: a["log-lines"],
  ...armCliOptions(a),
}));

interface JobBody {
  name?: string;
  properties?: {
    status?: string;
    experimentName?: string;
    displayName?: string;
    computeId?: string;
    services?: Record<string, { endpoint?: string } | undefined>;
  };
}

export function studioUrl(job: JobBody | undefined, jobName: string, scope: WorkspaceScope): string {
  return (
    job?.properties?.services?.Studio?.endpoint ??
    `https://ml.azure.com/runs/${encodeURIComponent(jobName)}?wsid=${scope.workspaceId}`
  );
}

export function cancelCommand(jobName: string, scope: WorkspaceScope): string {
  return `az ml job cancel -n ${jobName} ${azWorkspaceFlags(scope)}`;
}

/** Where to look when a job waits for nodes: Azure ML's own quota (clusters draw on it, not on the VM quota). */
export function quotaHints(
  scope: WorkspaceScope,
  computeId: string | undefined,
  region = "<region>",
): string[] {
  const compute = computeId?.split("/").pop();
  const usages = `/subscriptions/${scope.subscriptionId}/providers/Microsoft.MachineLearningServices/locations/${region}/usages`;
  return [
    "A job that never leaves NotStarted/Queued usually means the cluster cannot get nodes: no Azure ML quota for its",
    "VM family in this region (NCASv3_T4 is 0 by default; Azure ML's own quota, not the VM quota `az vm list-usage`",
    "shows), max nodes = 0, or another job holds the nodes. Check:",
    `  az ml compute list-usage --location ${region} -o table`,
    `  az rest --method get --url "${usages}?api-version=2025-12-01"`,
    ...(compute ? [`  az ml compute show -n ${compute} ${azWorkspaceFlags(scope)}`] : []),
    "Request more under Azure portal > Quotas > Machine learning, or pick a VM size you have quota for.",
  ];
}

/** What a wait knows while it runs: the studio link improves once the job has been read. */
interface Watch {
  o: WaitOptions;
  arm: ArmClient;
  studio: string;
  started: number;
}

/** Ctrl-C / SIGTERM stop the waiting, never the job: say so, print how to cancel it, exit 130/143. */
function onInterrupt(w: Watch): void {
  const { name: jobName, ...scope } = w.o.job;
  const stop = (signal: NodeJS.Signals, code: number) => {
    log("");
    log(
      `wait-for-job: ${signal} received — stopped waiting. Nothing was canceled: job ${jobName} keeps running in Azure ML.`,
    );
    log(`  To cancel it:  ${cancelCommand(jobName, scope)}`);
    log(`  To watch it:   az ml job stream -n ${jobName} ${azWorkspaceFlags(scope)}`);
    log(`  Studio:        ${w.studio}`);
    writeResult({ jobName, status: "Interrupted", studioUrl: w.studio, elapsedSeconds: elapsedSeconds() });
    process.exit(code);
  };
  process.once("SIGINT", () => stop("SIGINT", 130));
  process.once("SIGTERM", () => stop("SIGTERM", 143));
}

/** Fails when the job has waited for nodes longer than the stuck limit, or the whole wait is over its limit. */
async function checkLimits(
  w: Watch,
  job: JobBody,
  status: string,
  waitingSince: number | undefined,
): Promise<void> {
  const { stuckMs, timeoutMs } = w.o;
  const { name: jobName, ...scope } = w.o.job;
  const now = Date.now();
  const known = {
    jobName,
    status,
    studioUrl: w.studio,
    elapsedSeconds: elapsedSeconds(),
  } satisfies WaitResult;
  if (waitingSince !== undefined && now - waitingSince >= stuckMs) {
    throw new CliError(
      `job ${jobName} has been ${status} for ${since(waitingSince)} without starting ` +
        `(stuck limit ${formatDuration(stuckMs / 1000)}); it keeps waiting in Azure ML.`,
      [
        ...quotaHints(scope, job.properties?.computeId, await workspaceRegion(w.arm, scope)),
        `To cancel it: ${cancelCommand(jobName, scope)}`,
        `Studio: ${w.studio}`,
      ],
      1,
      known,
    );
  }
  if (now - w.started >= timeoutMs) {
    throw new CliError(
      `job ${jobName} is still ${status} after ${since(w.started)} (limit --timeout-minutes); it keeps running in Azure ML.`,
      [`To cancel it: ${cancelCommand(jobName, scope)}`, `Studio: ${w.studio}`],
      1,
      known,
    );
  }
}

/** Polls the job, one line per status change, until it is Completed, Failed or Canceled; returns that status. */
async function pollUntilTerminal(w: Watch): Promise<string> {
  const { id: jobId, name: jobName, ...scope } = w.o.job;
  let lastStatus = "";
  let waitingSince: number | undefined;
  for (let first = true; ; first = false) {
    // a job read right after its submission can 404 for a moment: only the first read waits that out
    const job = await w.arm.get<JobBody>(jobId, { notFoundRetryMs: first ? w.o.notFoundMs : 0 });
    const status = job.properties?.status ?? "Unknown";
    if (first) {
      w.studio = studioUrl(job, jobName, scope);
      const exp = job.properties?.experimentName;
      log(`  studio: ${w.studio}${exp ? `  (experiment ${exp})` : ""}`);
    }
    if (status !== lastStatus) log(`  [${since(w.started).padStart(8)}] ${status}`);
    lastStatus = status;
    if (TERMINAL.has(status)) return status;
    waitingSince = WAITING.has(status) ? (waitingSince ?? Date.now()) : undefined;
    await checkLimits(w, job, status, waitingSince);
    await sleep(w.o.pollMs);
  }
}

/** The run's final `--metric` from MLflow; undefined (with a note) when it cannot be read. */
async function readMetric(w: Watch): Promise<number | undefined> {
  try {
    const metrics = await runMetrics(w.arm, await trackingUri(w.arm, w.o.job), w.o.job.name);
    const shown = Object.entries(metrics).map(([k, v]) => `${k}=${v}`);
    log(`  metrics: ${shown.join(", ") || "(none)"}`);
    return metrics[w.o.metric];
  } catch (err) {
    log(`  could not read the run's MLflow metrics: ${errorMessage(err)}`);
    return undefined;
  }
}

/** Fails unless the metric is there and reaches `--min-accuracy` (nothing to check without it). */
function checkAccuracy(w: Watch, result: WaitResult): void {
  const { metric, minAccuracy } = w.o;
  const jobName = w.o.job.name;
  const value = result.testAccuracy;
  if (minAccuracy === undefined) return;
  if (value === undefined) {
    throw new CliError(
      `job ${jobName} Completed but reported no '${metric}' metric to check against ${minAccuracy}`,
      [`Studio (Metrics tab): ${w.studio}`],
      1,
      { ...result },
    );
  }
  if (value < minAccuracy) {
    throw new CliError(
      `job ${jobName} Completed but ${metric} ${value} is below the threshold ${minAccuracy}`,
      [
        `Studio: ${w.studio}`,
        "Train longer (more epochs) or change the model, then re-run `pulumi up` (a new job name is derived from the new inputs).",
      ],
      1,
      { ...result },
    );
  }
  log(`  ${metric} ${value} >= threshold ${minAccuracy}`);
}

/** The service's error for a failed/canceled job and the tail of its user log (or what to run where neither is exposed). */
async function explainFailure(w: Watch): Promise<string> {
  const { arm, o } = w;
  const manual = [
    `  The service exposed no user log for this job here. To see it:`,
    `    az ml job download -n ${o.job.name} ${azWorkspaceFlags(o.job)} --all --download-path ./job-${o.job.name}`,
    `    (then read ./job-${o.job.name}/artifacts/user_logs/std_log.txt), or open the studio link > Outputs + logs.`,
  ];
  let details;
  try {
    details = await runDetails(arm, await trackingUri(arm, o.job), o.job, o.job.name);
  } catch (err) {
    log(`  could not read the run details: ${errorMessage(err)}`);
  }
  const root = details?.error?.error;
  const message = root ? [root.code, root.message].filter(Boolean).join(": ") : "";
  if (message) log(`  error: ${message}`);
  const userLog = pickUserLog(details?.logFiles);
  if (!userLog || o.logLines === 0 || !(await printLogTail(arm, userLog, o.logLines))) {
    for (const l of manual) log(l);
  }
  return message;
}

/** Prints the last lines of a (pre-signed) log URL; false when it could not be read. */
async function printLogTail(arm: ArmClient, [name, url]: [string, string], lines: number): Promise<boolean> {
  try {
    const res = await arm.http.request("GET", url, { anonymous: true, headers: { accept: "text/plain" } });
    const last = tail(res.text, lines);
    log(`  ---- last ${last.length} lines of ${name} ----`);
    for (const l of last) log(`  | ${l}`);
    log(`  ---- end of ${name} ----`);
    return true;
  } catch (err) {
    log(`  could not read ${name}: ${err instanceof HttpError ? `HTTP ${err.status}` : errorMessage(err)}`);
    return false;
  }
}

/** Wait → on failure explain it → read the metric → check it → print the result line. */
export async function waitForJob(o: WaitOptions): Promise<void> {
  const w: Watch = {
    o,
    arm: new ArmClient(o.armEndpoint),
    studio: studioUrl(undefined, o.job.name, o.job),
    started: Date.now(),
  };
  onInterrupt(w);
  log(
    `wait-for-job: waiting for job ${o.job.name} in workspace ${o.job.workspace} (resource group ${o.job.resourceGroup})`,
  );
  const status = await pollUntilTerminal(w);
  if (status !== "Completed") {
    const error = await explainFailure(w);
    throw new CliError(
      `job ${o.job.name} ${status}${error ? `: ${error}` : ""}`,
      [`Studio: ${w.studio}`],
      1,
      {
        jobName: o.job.name,
        status,
        studioUrl: w.studio,
        elapsedSeconds: elapsedSeconds(),
      } satisfies WaitResult,
    );
  }
  const result: WaitResult = {
    jobName: o.job.name,
    status,
    studioUrl: w.studio,
    testAccuracy: await readMetric(w),
    elapsedSeconds: elapsedSeconds(),
  };
  checkAccuracy(w, result);
  log(`wait-for-job: job ${o.job.name} Completed in ${since(w.started)}`);
  writeResult(result satisfies WaitResult);
}

export const cli = { name: "wait-for-job", usage: USAGE, parse: parseWaitArgs, main: waitForJob };

if (require.main === module) runCli(cli);
