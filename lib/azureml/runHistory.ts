/**
 * Workspace data-plane reads used while and after a job runs: MLflow run metrics, a sweep's trials (MLflow runs
 * search) and run-history details (error, log URLs). Both services live on the workspace's region host
 * (`https://<region>.api.azureml.ms`), found through the workspace's `mlFlowTrackingUri`; both accept the same ARM
 * token (azureml-mlflow and azure-ai-ml do this).
 */
import type { Trial } from "../core/sweep";
import type { ArmClient } from "../azure/arm";
import { type WorkspaceScope, mlflowHttpBase } from "./ids";
import { CliError } from "../toolkit/errors";
import { isAzureMlServiceUrl, jsonOf } from "../azure/http";

interface WorkspaceBody {
  properties?: { mlFlowTrackingUri?: string; discoveryUrl?: string; workspaceId?: string };
}

export async function trackingUri(arm: ArmClient, scope: WorkspaceScope): Promise<string> {
  const ws = await arm.get<WorkspaceBody>(scope.workspaceId);
  const uri = ws.properties?.mlFlowTrackingUri;
  if (!uri) throw new CliError(`workspace ${scope.workspace} reports no mlFlowTrackingUri`);
  trustedMlflowBase(arm, uri);
  return uri;
}

/**
 * The https base of the MLflow REST API under a tracking URI, when the ARM token may go there: an Azure ML regional
 * service host (`<region>.api.azureml.ms`, see AZURE_ML_SERVICE_HOST), or the ARM endpoint's own origin (a private
 * cloud's stand-in, the tests' fake). Any other host is refused before a request: the URI is workspace data, and
 * the token it would receive can manage the whole resource group.
 */
export function trustedMlflowBase(arm: ArmClient, tracking: string): string {
  const base = mlflowHttpBase(tracking);
  const url = new URL(base);
  if (url.origin === arm.origin || isAzureMlServiceUrl(url)) return base;
  throw new CliError(
    `refusing the workspace's MLflow tracking host ${url.host}: the ARM token goes only to ${arm.origin} and to Azure ML service hosts (https://<region>.api.azureml.ms)`,
  );
}

/** The workspace's region for a hint; undefined when it cannot be read (the hint then says `<region>`). */
export async function workspaceRegion(arm: ArmClient, scope: WorkspaceScope): Promise<string | undefined> {
  try {
    return (await arm.get<{ location?: string }>(scope.workspaceId)).location;
  } catch {
    return undefined;
  }
}

export interface MlflowMetric {
  key: string;
  value: number;
  step?: number;
  timestamp?: number;
}

/** MLflow REST `GET /api/2.0/mlflow/runs/get?run_id=<job name>` → the last value of each metric. */
export async function runMetrics(
  arm: ArmClient,
  tracking: string,
  runId: string,
): Promise<Record<string, number>> {
  const url = `${trustedMlflowBase(arm, tracking)}/api/2.0/mlflow/runs/get?run_id=${encodeURIComponent(runId)}`;
  const body = await arm.http.getJson<{ run?: { data?: { metrics?: MlflowMetric[] } } }>(url);
  return lastValues(body.run?.data?.metrics);
}

/** A run's `data.metrics` (each metric's latest value, as runs/get and runs/search give them) as name → value. */
function lastValues(metrics: MlflowMetric[] | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of metrics ?? []) out[m.key] = Number(m.value);
  return out;
}

/** An MLflow run as runs/search answers it (MLflow REST API 2.0 `Run`), the fields read here. */
export interface MlflowRun {
  info?: { run_id?: string; run_name?: string; status?: string; experiment_id?: string };
  data?: { metrics?: MlflowMetric[] };
}

/** MLflow REST `GET /api/2.0/mlflow/experiments/get-by-name`: runs/search takes experiment ids, jobs name theirs. */
export async function experimentId(arm: ArmClient, tracking: string, name: string): Promise<string> {
  const url = `${trustedMlflowBase(arm, tracking)}/api/2.0/mlflow/experiments/get-by-name?experiment_name=${encodeURIComponent(name)}`;
  const body = await arm.http.getJson<{ experiment?: { experiment_id?: string } }>(url);
  const id = body.experiment?.experiment_id;
  if (!id) throw new CliError(`MLflow knows no experiment '${name}'`);
  return id;
}

/**
 * The child runs of `parentRunId`: MLflow REST `POST /api/2.0/mlflow/runs/search` with
 * `filter: tags.mlflow.parentRunId = '<parent>'`, every page (`next_page_token`). Azure ML's Jobs_List has no parent
 * filter (only $skipToken, jobType, tag, listViewType, properties), so a sweep's trials are read here. UNVERIFIED:
 * that Azure ML sets `mlflow.parentRunId` on a sweep's trials (it does on child runs in its MLflow docs, how-to-track-
 * experiments-mlflow; no sweep was run against a live workspace).
 */
export async function childRuns(
  arm: ArmClient,
  tracking: string,
  experiment: string,
  parentRunId: string,
): Promise<MlflowRun[]> {
  const url = `${trustedMlflowBase(arm, tracking)}/api/2.0/mlflow/runs/search`;
  const filter = `tags.mlflow.parentRunId = '${parentRunId}'`;
  const runs: MlflowRun[] = [];
  let token: string | undefined;
  for (let page = 1; page === 1 || token; page++) {
    if (page > 100) throw new CliError("the MLflow run search did not end after 100 pages");
    const body = { experiment_ids: [experiment], filter, ...(token ? { page_token: token } : {}) };
    const res = await arm.http.request("POST", url, { body });
    const answer = jsonOf<{ runs?: MlflowRun[]; next_page_token?: string }>(res);
    runs.push(...(answer.runs ?? []));
    token = answer.next_page_token || undefined;
  }
  return runs;
}

/** MLflow run status → the job status words the CLIs print (MLflow RunStatus; Azure ML maps its statuses onto them). */
const MLFLOW_STATUS: Readonly<Record<string, string>> = {
  SCHEDULED: "Queued",
  RUNNING: "Running",
  FINISHED: "Completed",
  FAILED: "Failed",
  KILLED: "Canceled",
};

/** A trial with every final metric it logged (the gate reads one, the sweep ranks by another). */
export interface TrialRun extends Trial {
  metrics: Record<string, number>;
}

/** An MLflow child run as a sweep trial: its run id (the trial job's name), status, `primary` metric, all metrics. */
export function trialOf(run: MlflowRun, primary: string): TrialRun {
  const metrics = lastValues(run.data?.metrics);
  const raw = run.info?.status ?? "";
  return {
    name: run.info?.run_id ?? run.info?.run_name ?? "?",
    status: MLFLOW_STATUS[raw] ?? (raw || "Unknown"),
    ...(metrics[primary] !== undefined ? { metric: metrics[primary] } : {}),
    metrics,
  };
}

export interface RunDetails {
  status?: string;
  error?: { error?: { code?: string; message?: string } };
  logFiles?: Record<string, string>;
}

/**
 * Run-history `GET /history/v1.0/<workspace id>/runs/<run id>/details` (what `az ml job stream` reads): the error of
 * a failed run and pre-signed URLs of its log files. (unverified against a live workspace: shape taken from
 * azure-ai-ml's RunDetails model.)
 */
export async function runDetails(
  arm: ArmClient,
  tracking: string,
  scope: WorkspaceScope,
  runId: string,
): Promise<RunDetails | undefined> {
  const url = `${new URL(trustedMlflowBase(arm, tracking)).origin}/history/v1.0${scope.workspaceId}/runs/${encodeURIComponent(runId)}/details`;
  const res = await arm.http.request("GET", url, { accept: [403, 404] });
  if (res.status !== 200) return undefined;
  return jsonOf<RunDetails>(res);
}

/** The user log of a command job, most specific first (v2 jobs: `user_logs/std_log.txt`). */
export function pickUserLog(logFiles: Record<string, string> | undefined): [string, string] | undefined {
  if (!logFiles) return undefined;
  const names = Object.keys(logFiles);
  const preferred = [
    (n: string) => n === "user_logs/std_log.txt",
    (n: string) => /^user_logs\/std_log.*\.txt$/.test(n),
    (n: string) => /azureml-logs\/70_driver_log.*\.txt$/.test(n),
    (n: string) => /std_log/.test(n),
  ];
  for (const p of preferred) {
    const hit = names.filter(p).sort()[0];
    if (hit) return [hit, logFiles[hit]];
  }
  return undefined;
}

export function tail(text: string, lines: number): string[] {
  const all = text.replace(/\r\n/g, "\n").replace(/\n+$/, "").split("\n");
  return all.slice(Math.max(0, all.length - lines));
}
