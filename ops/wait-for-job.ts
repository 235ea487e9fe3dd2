/**
 * wait-for-job: polls an Azure ML job until it reaches a terminal state (Completed, Failed, Canceled).
 *
 *   tsx ops/wait-for-job.ts --job-id <ARM id of the job> [--min-accuracy F] [--stuck-timeout-minutes 30]
 *     [--preparing-timeout-minutes 90] [--timeout-minutes 180] [--poll-seconds 15] [--metric test_accuracy]
 *     [--log-lines 60] [--arm-endpoint URL]
 *
 * stderr: studio link, each status change with the elapsed time, on failure the service's error and the tail of
 * the user log. stdout: one JSON line {"jobName","status","testAccuracy","studioUrl","elapsedSeconds"}.
 * Exit 0 only when the job Completed and (with --min-accuracy) its metric reached the threshold.
 * Two clocks while the job has not started: Preparing (the environment image build) against
 * --preparing-timeout-minutes, and waiting for nodes (NotStarted/Starting/Provisioning/Queued) against
 * --stuck-timeout-minutes; each restarts when the job enters its states again. `followJob` is the same wait
 * in-process (ops/run-job.ts), returning the result instead of printing it.
 *
 * A sweep job (jobType Sweep) is followed the same way, plus: one line per trial as it finishes (read from MLflow),
 * and once the sweep completes the best trial (the service's best_child_run_id, else the highest val_accuracy)
 * is the one whose `--metric` is checked; the result line adds "bestTrial" and "trials".
 */
import { ARM_FLAGS, ArmClient, armCliOptions, type ArmCliOptions } from "../lib/azure/arm";
import { usageLine, withFlags, type FlagValues } from "../lib/toolkit/args";
import { CliError, errorMessage } from "../lib/toolkit/errors";
import { HttpError } from "../lib/azure/http";
import {
  azWorkspaceFlags,
  parseWorkspaceChildId,
  type ParsedId,
  type WorkspaceScope,
} from "../lib/azureml/ids";
import { log, writeResult } from "../lib/toolkit/log";
import { runCli } from "../lib/toolkit/run";
import { elapsedSeconds, formatDuration, since, sleep } from "../lib/toolkit/time";
import {
  childRuns,
  experimentId,
  pickUserLog,
  runDetails,
  runMetrics,
  tail,
  trackingUri,
  trialOf,
  workspaceRegion,
  type TrialRun,
} from "../lib/azureml/runHistory";
import type { TrialResult, WaitResult } from "../lib/core/contracts";
import { PRIMARY_METRIC, bestTrial } from "../lib/core/sweep";

/** The wait's flags but the job's id: what ops/run-job.ts takes too. */
export const WAIT_LIMIT_FLAGS = {
  "min-accuracy": { type: "number", min: 0, max: 1, placeholder: "F" },
  "stuck-timeout-minutes": { type: "number", min: 0, default: 30 },
  // a first job builds the CUDA image (several GB of NVIDIA wheels) before it queues for a node
  "preparing-timeout-minutes": { type: "number", min: 0, default: 90 },
  metric: { type: "string", default: "test_accuracy", placeholder: "NAME" },
  "log-lines": { type: "number", integer: true, min: 0, default: 60 },
  "not-found-seconds": { type: "number", min: 0, default: 120 },
  ...ARM_FLAGS,
  // training takes hours, not minutes: a longer limit and a slower poll than the other ARM CLIs
  "timeout-minutes": { type: "number", min: 0, default: 180 },
  "poll-seconds": { type: "number", min: 0, default: 15 },
} as const;

const FLAGS = {
  "job-id": { type: "string", required: true, placeholder: "<ARM id>" },
  ...WAIT_LIMIT_FLAGS,
} as const;

const USAGE = usageLine("bash scripts/env.sh tsx ops/wait-for-job.ts", FLAGS);

export const TERMINAL = new Set(["Completed", "Failed", "Canceled"]);
/**
 * States in which the job waits for nodes, the stuck clock's (quota, scale-up; azure-ai-ml entities/_job/job.py:
 * "Queued ... waiting for all the requested nodes to be ready").
 */
export const NODE_WAITING: ReadonlySet<string> = new Set([
  "NotStarted",
  "Starting",
  "Provisioning",
  "Queued",
]);
/**
 * Not stuck but building (azure-ai-ml entities/_job/job.py: "Preparing - The run environment is being prepared and
 * is in one of two stages: Docker image build, conda environment setup"): its own clock.
 */
export const PREPARING = "Preparing";
/** States in which the job waits for something (compute, quota, image) rather than runs. */
export const WAITING: ReadonlySet<string> = new Set([...NODE_WAITING, PREPARING]);

/** Which limit a waiting job counts against: the image build's or the nodes' (undefined: it runs or ended). */
export type WaitClock = "preparing" | "nodes";

/** The clock a status runs; `trialsWait`: a sweep whose listed trials all wait for nodes. */
export function clockOf(status: string, trialsWait = false): WaitClock | undefined {
  if (status === PREPARING) return "preparing";
  return NODE_WAITING.has(status) || trialsWait ? "nodes" : undefined;
}

/** What the wait's own flags parse to (everything but the job). */
export interface WaitLimits extends ArmCliOptions {
  minAccuracy?: number;
  stuckMs: number;
  preparingMs: number;
  notFoundMs: number;
  metric: string;
  logLines: number;
}

export interface WaitOptions extends WaitLimits {
  /** the job's id, name and workspace */
  job: ParsedId;
}

/** WAIT_LIMIT_FLAGS' values → limits. */
export function waitLimitsFrom(a: FlagValues<typeof WAIT_LIMIT_FLAGS>): WaitLimits {
  return {
    minAccuracy: a["min-accuracy"],
    stuckMs: a["stuck-timeout-minutes"] * 60_000,
    preparingMs: a["preparing-timeout-minutes"] * 60_000,
    notFoundMs: a["not-found-seconds"] * 1000,
    metric: a.metric,
    logLines: a["log-lines"],
    ...armCliOptions(a),
  };
}

/** argv → options; every check that needs no network (id shape, ranges) happens here. */
export const parseWaitArgs = withFlags(FLAGS, (a): WaitOptions => ({
  job: parseWorkspaceChildId(a["job-id"], ["jobs"]),
  ...waitLimitsFrom(a),
}));

/** Why a wait failed; ops/run-job.ts says per reason what the next `pulumi up` does. */
export type WaitFailure = "failed" | "gate" | "stuck" | "preparing" | "timeout";

/** A wait's failure (exit 1), with the reason and the result line known so far. */
export class WaitError extends CliError {
  constructor(
    readonly failure: WaitFailure,
    message: string,
    hints: string[],
    result: Record<string, unknown>,
  ) {
    super(message, hints, 1, result);
    this.name = "WaitError";
  }
}

/** What a caller in-process (ops/run-job.ts) changes about the wait. */
export interface WaitHooks {
  /** the name that starts progress lines (default wait-for-job) */
  cli?: string;
  /** fields every result line of the wait carries besides its own (failures and interrupts included) */
  extra?: Record<string, unknown>;
  /** lines said after the cancel command when SIGINT/SIGTERM stops the wait */
  interruptHints?: string[];
  /** an ARM client to share (its token) */
  arm?: ArmClient;
}

interface JobBody {
  name?: string;
  properties?: {
    status?: string;
    jobType?: string;
    /** the job's property bag: a completed sweep's `best_child_run_id` (Azure ML docs, how-to-train-keras) */
    properties?: Record<string, string> | null;
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

/** What a wait knows of a sweep's trials while it runs. */
interface SweepWatch {
  /** the workspace's MLflow tracking URI and the sweep's experiment id, read once */
  tracking?: string;
  experiment?: string;
  /** the latest listing */
  trials: TrialRun[];
  /** trials whose terminal state has been printed */
  reported: Set<string>;
  /** the last listing failure printed (each new one is printed once) */
  lastError?: string;
}

/** What a wait knows while it runs: the studio link improves once the job has been read. */
interface Watch {
  o: WaitOptions;
  arm: ArmClient;
  studio: string;
  started: number;
  /** set on the first read when the job is a sweep */
  sweep?: SweepWatch;
  cli: string;
  extra: Record<string, unknown>;
  interruptHints: string[];
}

/** The clock running now and since when: it restarts when the job moves to the other clock's states. */
interface Timer {
  clock: WaitClock;
  since: number;
}

/** `job <name>` or `sweep <name>`, for messages. */
function what(w: Watch): string {
  return `${w.sweep ? "sweep" : "job"} ${w.o.job.name}`;
}

const trialResult = ({ name, status, metric }: TrialRun): TrialResult => ({
  name,
  status,
  ...(metric !== undefined ? { metric } : {}),
});

/** What the result line says whatever happens next: the job, its status, the link, the trials so far. */
function knownResult(w: Watch, status: string) {
  return {
    ...w.extra,
    jobName: w.o.job.name,
    status,
    studioUrl: w.studio,
    elapsedSeconds: elapsedSeconds(),
    ...(w.sweep ? { trials: w.sweep.trials.map(trialResult) } : {}),
  } satisfies WaitResult;
}

/** Ctrl-C / SIGTERM stop the waiting, never the job: say so, print how to cancel it, exit 130/143. */
function onInterrupt(w: Watch): void {
  const { name: jobName, ...scope } = w.o.job;
  const stop = (signal: NodeJS.Signals, code: number) => {
    log("");
    log(
      `${w.cli}: ${signal} received — stopped waiting. Nothing was canceled: job ${jobName} keeps running in Azure ML.`,
    );
    log(`  To cancel it:  ${cancelCommand(jobName, scope)}`);
    log(`  To watch it:   az ml job stream -n ${jobName} ${azWorkspaceFlags(scope)}`);
    log(`  Studio:        ${w.studio}`);
    for (const h of w.interruptHints) log(`  ${h}`);
    writeResult(knownResult(w, "Interrupted"));
    process.exit(code);
  };
  process.once("SIGINT", () => stop("SIGINT", 130));
  process.once("SIGTERM", () => stop("SIGTERM", 143));
}

/** "Queued", or for a sweep whose trials all wait: "Running with every trial waiting (2 Queued)". */
function waitingState(w: Watch, status: string): string {
  if (WAITING.has(status) || !trialsWaiting(w.sweep)) return status;
  const counts = new Map<string, number>();
  for (const t of w.sweep!.trials) counts.set(t.status, (counts.get(t.status) ?? 0) + 1);
  return `${status} with every trial waiting (${[...counts].map(([k, n]) => `${n} ${k}`).join(", ")})`;
}

/** Where to see an image build, for the Preparing limit's message. */
export function imageBuildHints(jobName: string, scope: WorkspaceScope, studio: string): string[] {
  return [
    "Preparing = Azure ML builds the job's environment image (Docker image build, conda environment setup). The first",
    "job of a new environment version builds it (a CUDA base with tensorflow[and-cuda] takes a while); later jobs reuse it.",
    "To see the build log:",
    `  az ml job stream -n ${jobName} ${azWorkspaceFlags(scope)}`,
    `  or ${studio} > Outputs + logs > azureml-logs/20_image_build_log.txt`,
    "A build that fails ends the job Failed with its error; one that is only slow needs a larger --preparing-timeout-minutes.",
  ];
}

/**
 * Fails when the job has waited for nodes longer than the stuck limit, built its image longer than the preparing
 * limit, or the whole wait is over its limit.
 */
async function checkLimits(w: Watch, job: JobBody, status: string, timer: Timer | undefined): Promise<void> {
  const { stuckMs, preparingMs, timeoutMs } = w.o;
  const { name: jobName, ...scope } = w.o.job;
  const now = Date.now();
  const cancel = `To cancel it: ${cancelCommand(jobName, scope)}`;
  if (timer?.clock === "nodes" && now - timer.since >= stuckMs) {
    throw new WaitError(
      "stuck",
      `${what(w)} has been ${waitingState(w, status)} for ${since(timer.since)} without starting ` +
        `(stuck limit ${formatDuration(stuckMs / 1000)}); it keeps waiting in Azure ML.`,
      [
        ...quotaHints(scope, job.properties?.computeId, await workspaceRegion(w.arm, scope)),
        cancel,
        `Studio: ${w.studio}`,
      ],
      knownResult(w, status),
    );
  }
  if (timer?.clock === "preparing" && now - timer.since >= preparingMs) {
    throw new WaitError(
      "preparing",
      `${what(w)} has been Preparing for ${since(timer.since)} (limit --preparing-timeout-minutes ` +
        `${formatDuration(preparingMs / 1000)}); it keeps preparing in Azure ML.`,
      [...imageBuildHints(jobName, scope, w.studio), cancel, `Studio: ${w.studio}`],
      knownResult(w, status),
    );
  }
  if (now - w.started >= timeoutMs) {
    throw new WaitError(
      "timeout",
      `${what(w)} is still ${status} after ${since(w.started)} (limit --timeout-minutes); it keeps running in Azure ML.`,
      [cancel, `Studio: ${w.studio}`],
      knownResult(w, status),
    );
  }
}

/** The first read: the studio link, and whether this is a sweep (whose trials are then followed too). */
function onFirstRead(w: Watch, job: JobBody): void {
  const { name: jobName, ...scope } = w.o.job;
  w.studio = studioUrl(job, jobName, scope);
  const exp = job.properties?.experimentName;
  log(`  studio: ${w.studio}${exp ? `  (experiment ${exp})` : ""}`);
  if (job.properties?.jobType === "Sweep") {
    w.sweep = { trials: [], reported: new Set() };
    log(`  sweep job: each trial is reported as it finishes; the best is picked by ${PRIMARY_METRIC}`);
  }
}

/** Polls the job, one line per status change, until it is Completed, Failed or Canceled; returns its last read. */
async function pollUntilTerminal(w: Watch): Promise<JobBody> {
  let lastStatus = "";
  let timer: Timer | undefined;
  for (let first = true; ; first = false) {
    // a job read right after its submission can 404 for a moment: only the first read waits that out
    const job = await w.arm.get<JobBody>(w.o.job.id, { notFoundRetryMs: first ? w.o.notFoundMs : 0 });
    const status = job.properties?.status ?? "Unknown";
    if (first) onFirstRead(w, job);
    if (status !== lastStatus) log(`  [${since(w.started).padStart(8)}] ${status}`);
    lastStatus = status;
    if (w.sweep && !WAITING.has(status)) await followTrials(w, w.sweep, job);
    if (TERMINAL.has(status)) return job;
    // a sweep that runs while every trial waits for nodes is stuck the same way a queued job is
    const clock = clockOf(status, trialsWaiting(w.sweep));
    if (clock !== timer?.clock) timer = clock ? { clock, since: Date.now() } : undefined;
    await checkLimits(w, job, status, timer);
    await sleep(w.o.pollMs);
  }
}

/** True when trials are listed and none of them has started. */
function trialsWaiting(s: SweepWatch | undefined): boolean {
  return !!s && s.trials.length > 0 && s.trials.every((t) => WAITING.has(t.status));
}

/**
 * Lists the sweep's trials (MLflow child runs of the sweep) and prints one line for each that reached a terminal
 * state since the last poll. A listing that fails is noted and the wait goes on: the trials are a report, the
 * sweep's own status decides.
 */
async function followTrials(w: Watch, s: SweepWatch, job: JobBody): Promise<void> {
  try {
    s.tracking ??= await trackingUri(w.arm, w.o.job);
    // a job without an experiment name runs in "Default" (CLI v2 sweep job YAML reference, experiment_name)
    s.experiment ??= await experimentId(w.arm, s.tracking, job.properties?.experimentName ?? "Default");
    const runs = await childRuns(w.arm, s.tracking, s.experiment, w.o.job.name);
    s.trials = runs.map((r) => trialOf(r, PRIMARY_METRIC));
    s.lastError = undefined;
  } catch (err) {
    const message = errorMessage(err);
    if (message !== s.lastError) log(`  could not list the sweep's trials (MLflow runs/search): ${message}`);
    s.lastError = message;
    return;
  }
  for (const t of s.trials) {
    if (!TERMINAL.has(t.status) || s.reported.has(t.name)) continue;
    s.reported.add(t.name);
    const metric = t.metric !== undefined ? `  ${PRIMARY_METRIC} ${t.metric}` : "";
    log(`  [${since(w.started).padStart(8)}] trial ${t.name} ${t.status}${metric}`);
  }
}

/** A run's final `--metric` from MLflow; undefined (with a note) when it cannot be read. */
async function readMetric(w: Watch, runId: string): Promise<number | undefined> {
  try {
    const metrics = await runMetrics(w.arm, await trackingUri(w.arm, w.o.job), runId);
    const shown = Object.entries(metrics).map(([k, v]) => `${k}=${v}`);
    log(`  metrics${runId === w.o.job.name ? "" : ` of ${runId}`}: ${shown.join(", ") || "(none)"}`);
    return metrics[w.o.metric];
  } catch (err) {
    log(`  could not read the MLflow metrics of ${runId}: ${errorMessage(err)}`);
    return undefined;
  }
}

/**
 * Fails unless the metric is there and reaches `--min-accuracy` (nothing to check without it). `subject` names what
 * was measured: the job, or a sweep's best trial.
 */
function checkAccuracy(w: Watch, result: WaitResult, subject = `job ${w.o.job.name}`): void {
  const { metric, minAccuracy } = w.o;
  const value = result.testAccuracy;
  const gate = gateFailure(value, minAccuracy);
  if (gate === "missing") {
    throw new WaitError(
      "gate",
      `${subject} Completed but reported no '${metric}' metric to check against ${minAccuracy}`,
      [`Studio (Metrics tab): ${w.studio}`],
      { ...result },
    );
  }
  if (gate === "below") {
    throw new WaitError(
      "gate",
      `${subject} Completed but ${metric} ${value} is below the threshold ${minAccuracy}`,
      [
        `Studio: ${w.studio}`,
        "Train longer (more epochs) or change the model, then re-run `pulumi up` (new inputs give a new run hash, hence a new job).",
      ],
      { ...result },
    );
  }
  if (minAccuracy !== undefined) log(`  ${metric} ${value} >= threshold ${minAccuracy}`);
}

/** The accuracy gate: no threshold passes; a missing metric fails; `value < minAccuracy` fails, equal passes. */
export function gateFailure(
  value: number | undefined,
  minAccuracy: number | undefined,
): "missing" | "below" | undefined {
  if (minAccuracy === undefined) return undefined;
  if (value === undefined || Number.isNaN(value)) return "missing";
  return value < minAccuracy ? "below" : undefined;
}

/** The service's error for a failed/canceled job and the tail of its user log (or what to run where neither is exposed). */
async function explainFailure(w: Watch, runId = w.o.job.name, withLog = true): Promise<string> {
  const { arm, o } = w;
  const manual = [
    `  The service exposed no user log for ${runId} here. To see it:`,
    `    az ml job download -n ${runId} ${azWorkspaceFlags(o.job)} --all --download-path ./job-${runId}`,
    `    (then read ./job-${runId}/artifacts/user_logs/std_log.txt), or open the studio link > Outputs + logs.`,
  ];
  let details;
  try {
    details = await runDetails(arm, await trackingUri(arm, o.job), o.job, runId);
  } catch (err) {
    log(`  could not read the run details: ${errorMessage(err)}`);
  }
  const root = details?.error?.error;
  const message = root ? [root.code, root.message].filter(Boolean).join(": ") : "";
  if (message) log(`  error: ${message}`);
  if (!withLog) return message;
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

/**
 * A Failed or Canceled job: the service's error and the log tail, then the failure (with `hints` first). A sweep
 * has no user log of its own (its trials run the script): its error, then its first failed trial's.
 */
async function failJob(w: Watch, status: string, hints: string[] = []): Promise<never> {
  const error = await explainFailure(w, w.o.job.name, !w.sweep);
  if (w.sweep) await explainFailedTrial(w, w.sweep);
  throw new WaitError(
    "failed",
    `${what(w)} ${status}${error ? `: ${error}` : ""}`,
    [...hints, `Studio: ${w.studio}`],
    knownResult(w, status),
  );
}

/** A command job at its end: fail it, or read its metric and check it. */
async function finishJob(w: Watch, status: string): Promise<WaitResult> {
  if (status !== "Completed") await failJob(w, status);
  const result: WaitResult = { ...knownResult(w, status), testAccuracy: await readMetric(w, w.o.job.name) };
  checkAccuracy(w, result);
  return result;
}

/** The trials as a table, the best one starred: name, status, the primary metric and `metric`. */
export function trialTable(trials: readonly TrialRun[], metric: string, best?: string): string[] {
  if (trials.length === 0)
    return ["no trial listed (no MLflow run has this sweep as its mlflow.parentRunId)"];
  const width = Math.max(...trials.map((t) => t.name.length));
  const value = (t: TrialRun, key: string) => (t.metrics[key] !== undefined ? String(t.metrics[key]) : "-");
  return [
    `trials (${trials.length}${best ? "; * = best" : ""}): name, status, ${PRIMARY_METRIC}, ${metric}`,
    ...trials.map(
      (t) =>
        `${t.name === best ? "*" : " "} ${t.name.padEnd(width)}  ${t.status.padEnd(9)}  ` +
        `${value(t, PRIMARY_METRIC).padEnd(8)}  ${value(t, metric)}`,
    ),
  ];
}

/**
 * The best trial: the service's pick (`best_child_run_id` in the sweep's properties, the documented way to read it:
 * Azure ML docs how-to-train-keras, `returned_sweep_job.properties["best_child_run_id"]`) when it set one, else
 * the completed trial with the highest primary metric (lib/core/sweep.ts, as the local sweep picks).
 */
function pickBest(s: SweepWatch, job: JobBody): string | undefined {
  const byService = job.properties?.properties?.best_child_run_id;
  if (byService) {
    log(`  best trial: ${byService} (the sweep's best_child_run_id)`);
    return byService;
  }
  const best = bestTrial(s.trials);
  if (best) {
    log(
      `  best trial: ${best.name} (${PRIMARY_METRIC} ${best.metric}, the highest of the completed trials; ` +
        "the sweep reports no best_child_run_id)",
    );
  }
  return best?.name;
}

/** The first failed trial's error and log tail: why a sweep without a completed trial has no model. */
async function explainFailedTrial(w: Watch, s: SweepWatch): Promise<void> {
  const failed = s.trials.find((t) => t.status === "Failed");
  if (!failed) return;
  log(`  first failed trial, ${failed.name}:`);
  await explainFailure(w, failed.name);
}

/** A sweep at its end: fail it, or pick its best trial and check that trial's metric. */
async function finishSweep(w: Watch, s: SweepWatch, job: JobBody, status: string): Promise<WaitResult> {
  if (status !== "Completed") await failJob(w, status, trialTable(s.trials, w.o.metric));
  const best = pickBest(s, job);
  if (!best) {
    await explainFailedTrial(w, s);
    throw new WaitError(
      "gate",
      `${what(w)} Completed without a completed trial that reported ${PRIMARY_METRIC}; no model to take`,
      [...trialTable(s.trials, w.o.metric), `Studio: ${w.studio}`],
      knownResult(w, status),
    );
  }
  for (const line of trialTable(s.trials, w.o.metric, best)) log(`  ${line}`);
  // the listing has the best trial's metrics; one it does not list (MLflow lag, no parent tag) is read alone
  const listed = s.trials.find((t) => t.name === best)?.metrics[w.o.metric];
  const result: WaitResult = {
    ...knownResult(w, status),
    testAccuracy: listed ?? (await readMetric(w, best)),
    bestTrial: best,
  };
  checkAccuracy(w, result, `trial ${best} (best of ${what(w)})`);
  return result;
}

/**
 * Wait → on failure explain it → read the metric (a sweep: of its best trial) → check it; the result, or a
 * WaitError (with the result known so far) when the job failed, the gate refused it or a limit ran out.
 */
export async function followJob(o: WaitOptions, hooks: WaitHooks = {}): Promise<WaitResult> {
  const w: Watch = {
    o,
    arm: hooks.arm ?? new ArmClient(o.armEndpoint),
    studio: studioUrl(undefined, o.job.name, o.job),
    started: Date.now(),
    cli: hooks.cli ?? "wait-for-job",
    extra: hooks.extra ?? {},
    interruptHints: hooks.interruptHints ?? [],
  };
  onInterrupt(w);
  log(
    `${w.cli}: waiting for job ${o.job.name} in workspace ${o.job.workspace} (resource group ${o.job.resourceGroup})`,
  );
  const job = await pollUntilTerminal(w);
  const status = job.properties?.status ?? "Unknown";
  const result = w.sweep ? await finishSweep(w, w.sweep, job, status) : await finishJob(w, status);
  log(`${w.cli}: ${what(w)} Completed in ${since(w.started)}`);
  return result;
}

/** followJob, then the result line. */
export async function waitForJob(o: WaitOptions): Promise<void> {
  writeResult((await followJob(o)) satisfies WaitResult);
}

export const cli = { name: "wait-for-job", usage: USAGE, parse: parseWaitArgs, main: waitForJob };

if (require.main === module) runCli(cli);
