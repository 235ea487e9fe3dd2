/**
 * Workspace data-plane reads used after a job ends: MLflow run metrics and run-history details (error, log URLs).
 * Both services live on the workspace's region host (`https://<region>.api.azureml.ms`), found through the
 * workspace's `mlFlowTrackingUri`; both accept the same ARM token (azureml-mlflow and azure-ai-ml do this).
 */
import type { ArmClient } from "./arm";
import { type WorkspaceScope, mlflowHttpBase, serviceOrigin } from "./ids";
import { CliError } from "./errors";
import { jsonOf } from "./http";

interface WorkspaceBody {
  properties?: { mlFlowTrackingUri?: string; discoveryUrl?: string; workspaceId?: string };
}

export async function trackingUri(arm: ArmClient, scope: WorkspaceScope): Promise<string> {
  const ws = await arm.get<WorkspaceBody>(scope.workspaceId);
  const uri = ws.properties?.mlFlowTrackingUri;
  if (!uri) throw new CliError(`workspace ${scope.workspace} reports no mlFlowTrackingUri`);
  return uri;
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
  const url = `${mlflowHttpBase(tracking)}/api/2.0/mlflow/runs/get?run_id=${encodeURIComponent(runId)}`;
  const body = await arm.http.getJson<{ run?: { data?: { metrics?: MlflowMetric[] } } }>(url);
  const out: Record<string, number> = {};
  for (const m of body.run?.data?.metrics ?? []) out[m.key] = Number(m.value);
  return out;
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
  const url = `${serviceOrigin(tracking)}/history/v1.0${scope.workspaceId}/runs/${encodeURIComponent(runId)}/details`;
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
