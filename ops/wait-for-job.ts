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
import { ArmClient, armEndpointFrom } from "../lib/cli/arm";
import { num, optNum, parseArgs, str } from "../lib/cli/args";
import { runCli } from "../lib/cli/run";
import { azWorkspaceFlags, parseWorkspaceChildId, type WorkspaceScope } from "../lib/cli/ids";
import { HttpError, sleep } from "../lib/cli/http";
import { elapsedSeconds, errorMessage, formatDuration, log, OpsError, writeResult } from "../lib/cli/log";
import { pickUserLog, runDetails, runMetrics, tail, trackingUri } from "../lib/cli/workspace";

const USAGE =
  "usage: tsx ops/wait-for-job.ts --job-id <ARM id> [--min-accuracy F] [--stuck-timeout-minutes N=30] " +
  "[--timeout-minutes N=180] [--poll-seconds N=15] [--metric test_accuracy] [--log-lines 60] [--arm-endpoint URL]";

export const TERMINAL = new Set(["Completed", "Failed", "Canceled"]);
/** States in which the job waits for something (compute, quota, image) rather than runs. */
export const WAITING = new Set(["NotStarted", "Starting", "Provisioning", "Preparing", "Queued"]);

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

export function studioUrl(job: JobBody, jobName: string, scope: WorkspaceScope): string {
  return (
    job.properties?.services?.Studio?.endpoint ??
    `https://ml.azure.com/runs/${encodeURIComponent(jobName)}?wsid=${scope.workspaceId}`
  );
}

export function cancelCommand(jobName: string, scope: WorkspaceScope): string {
  return `az ml job cancel -n ${jobName} ${azWorkspaceFlags(scope)}`;
}

export function quotaHints(scope: WorkspaceScope, computeId: string | undefined): string[] {
  const compute = computeId?.split("/").pop();
  return [
    "A job that never leaves NotStarted/Queued usually means the cluster cannot get nodes: no GPU quota for its VM",
    "family in this region (NCASv3_T4 quota is 0 by default), max nodes = 0, or another job holds the nodes. Check:",
    `  az ml compute list-usage ${azWorkspaceFlags(scope)} -o table`,
    `  az vm list-usage --location <region> -o table | grep -i "NCAS"`,
    ...(compute ? [`  az ml compute show -n ${compute} ${azWorkspaceFlags(scope)}`] : []),
    "Request quota under Azure portal > Quotas > Machine learning, or pick a VM size you have quota for.",
  ];
}

async function main(argv: string[]): Promise<void> {
  const args = parseArgs(
    argv,
    {
      "job-id": { required: true },
      "min-accuracy": {},
      "stuck-timeout-minutes": { default: "30" },
      "timeout-minutes": { default: "180" },
      "poll-seconds": { default: "15" },
      metric: { default: "test_accuracy" },
      "log-lines": { default: "60" },
      "not-found-seconds": { default: "120" },
      "arm-endpoint": {},
    },
    USAGE,
  );
  const jobId = str(args, "job-id");
  const id = parseWorkspaceChildId(jobId, ["jobs"]);
  const jobName = id.children[0][1];
  const minAccuracy = optNum(args, "min-accuracy");
  const stuckMs = num(args, "stuck-timeout-minutes", { min: 0 }) * 60_000;
  const timeoutMs = num(args, "timeout-minutes", { min: 0 }) * 60_000;
  const pollMs = num(args, "poll-seconds", { min: 0 }) * 1000;
  const notFoundMs = num(args, "not-found-seconds", { min: 0 }) * 1000;
  const metric = str(args, "metric");
  const logLines = num(args, "log-lines", { min: 0 });
  const arm = new ArmClient(armEndpointFrom(args["arm-endpoint"]));

  let studio = `https://ml.azure.com/runs/${encodeURIComponent(jobName)}?wsid=${id.workspaceId}`;
  const onSignal = (signal: NodeJS.Signals, code: number) => {
    log("");
    log(
      `wait-for-job: ${signal} received — stopped waiting. Nothing was canceled: job ${jobName} keeps running in Azure ML.`,
    );
    log(`  To cancel it:  ${cancelCommand(jobName, id)}`);
    log(`  To watch it:   az ml job stream -n ${jobName} ${azWorkspaceFlags(id)}`);
    log(`  Studio:        ${studio}`);
    writeResult({ jobName, status: "Interrupted", studioUrl: studio, elapsedSeconds: elapsedSeconds() });
    process.exit(code);
  };
  process.once("SIGINT", () => onSignal("SIGINT", 130));
  process.once("SIGTERM", () => onSignal("SIGTERM", 143));

  log(
    `wait-for-job: waiting for job ${jobName} in workspace ${id.workspace} (resource group ${id.resourceGroup})`,
  );
  const started = Date.now();
  let lastStatus = "";
  let waitingSince: number | undefined;
  let job: JobBody;
  let first = true;
  for (;;) {
    // a job read right after its submission can 404 for a moment: only the first read waits that out
    job = await arm.get<JobBody>(jobId, { notFoundRetryMs: first ? notFoundMs : 0 });
    const status = job.properties?.status ?? "Unknown";
    if (first) {
      studio = studioUrl(job, jobName, id);
      const exp = job.properties?.experimentName;
      log(`  studio: ${studio}${exp ? `  (experiment ${exp})` : ""}`);
      first = false;
    }
    const now = Date.now();
    if (status !== lastStatus) {
      log(`  [${formatDuration((now - started) / 1000).padStart(8)}] ${status}`);
      lastStatus = status;
    }
    if (TERMINAL.has(status)) break;
    if (WAITING.has(status)) waitingSince ??= now;
    else waitingSince = undefined;
    if (waitingSince !== undefined && now - waitingSince >= stuckMs) {
      throw new OpsError(
        `job ${jobName} has been ${status} for ${formatDuration((now - waitingSince) / 1000)} without starting ` +
          `(stuck limit ${formatDuration(stuckMs / 1000)}); it keeps waiting in Azure ML.`,
        [
          ...quotaHints(id, job.properties?.computeId),
          `To cancel it: ${cancelCommand(jobName, id)}`,
          `Studio: ${studio}`,
        ],
        1,
        { jobName, status, studioUrl: studio, elapsedSeconds: elapsedSeconds() },
      );
    }
    if (now - started >= timeoutMs) {
      throw new OpsError(
        `job ${jobName} is still ${status} after ${formatDuration((now - started) / 1000)} (limit --timeout-minutes); it keeps running in Azure ML.`,
        [`To cancel it: ${cancelCommand(jobName, id)}`, `Studio: ${studio}`],
        1,
        { jobName, status, studioUrl: studio, elapsedSeconds: elapsedSeconds() },
      );
    }
    await sleep(pollMs);
  }

  const status = job.properties?.status ?? "Unknown";
  const base = { jobName, status, studioUrl: studio };
  if (status !== "Completed") {
    const error = await explainFailure(arm, id, jobName, logLines);
    throw new OpsError(`job ${jobName} ${status}${error ? `: ${error}` : ""}`, [`Studio: ${studio}`], 1, {
      ...base,
      elapsedSeconds: elapsedSeconds(),
    });
  }

  let testAccuracy: number | null = null;
  try {
    const metrics = await runMetrics(arm, await trackingUri(arm, id), jobName);
    testAccuracy = metrics[metric] ?? null;
    log(
      `  metrics: ${
        Object.entries(metrics)
          .map(([k, v]) => `${k}=${v}`)
          .join(", ") || "(none)"
      }`,
    );
  } catch (err) {
    log(`  could not read the run's MLflow metrics: ${errorMessage(err)}`);
  }
  if (minAccuracy !== undefined) {
    if (testAccuracy === null) {
      throw new OpsError(
        `job ${jobName} Completed but reported no '${metric}' metric to check against ${minAccuracy}`,
        [`Studio (Metrics tab): ${studio}`],
        1,
        { ...base, testAccuracy, elapsedSeconds: elapsedSeconds() },
      );
    }
    if (testAccuracy < minAccuracy) {
      throw new OpsError(
        `job ${jobName} Completed but ${metric} ${testAccuracy} is below the threshold ${minAccuracy}`,
        [
          `Studio: ${studio}`,
          "Train longer (more epochs) or change the model, then re-run `pulumi up` (a new job name is derived from the new inputs).",
        ],
        1,
        { ...base, testAccuracy, elapsedSeconds: elapsedSeconds() },
      );
    }
    log(`  ${metric} ${testAccuracy} >= threshold ${minAccuracy}`);
  }
  log(`wait-for-job: job ${jobName} Completed in ${formatDuration((Date.now() - started) / 1000)}`);
  writeResult({ ...base, testAccuracy, elapsedSeconds: elapsedSeconds() });
}

/** The service's error for a failed/canceled job and the tail of its user log (or what to run where neither is exposed). */
async function explainFailure(
  arm: ArmClient,
  id: WorkspaceScope,
  jobName: string,
  logLines: number,
): Promise<string> {
  const manual = [
    `  The service exposed no user log for this job here. To see it:`,
    `    az ml job download -n ${jobName} ${azWorkspaceFlags(id)} --all --download-path ./job-${jobName}`,
    `    (then read ./job-${jobName}/artifacts/user_logs/std_log.txt), or open the studio link > Outputs + logs.`,
  ];
  let details;
  try {
    details = await runDetails(arm, await trackingUri(arm, id), id, jobName);
  } catch (err) {
    log(`  could not read the run details: ${errorMessage(err)}`);
  }
  const root = details?.error?.error;
  const message = root ? [root.code, root.message].filter(Boolean).join(": ") : "";
  if (message) log(`  error: ${message}`);
  const userLog = pickUserLog(details?.logFiles);
  if (!userLog || logLines === 0) {
    for (const l of manual) log(l);
    return message;
  }
  try {
    const res = await arm.http.request("GET", userLog[1], {
      anonymous: true,
      headers: { accept: "text/plain" },
    });
    const lines = tail(res.text, logLines);
    log(`  ---- last ${lines.length} lines of ${userLog[0]} ----`);
    for (const l of lines) log(`  | ${l}`);
    log(`  ---- end of ${userLog[0]} ----`);
  } catch (err) {
    log(
      `  could not read ${userLog[0]}: ${err instanceof HttpError ? `HTTP ${err.status}` : errorMessage(err)}`,
    );
    for (const l of manual) log(l);
  }
  return message;
}

if (require.main === module) runCli("wait-for-job", main);
