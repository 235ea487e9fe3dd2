/** ARM resource ids and azureml:// URIs. Pure functions (unit-tested). */
import { CliError, UsageError } from "../toolkit/errors";

export interface WorkspaceScope {
  subscriptionId: string;
  resourceGroup: string;
  workspace: string;
  /** `/subscriptions/<s>/resourceGroups/<rg>/providers/Microsoft.MachineLearningServices/workspaces/<ws>` */
  workspaceId: string;
}

export interface ParsedId extends WorkspaceScope {
  /** the id as given (trimmed) */
  id: string;
  /** the last child's name (the job, endpoint, version ...), or the workspace's for a workspace id */
  name: string;
  /** child segments below the workspace: e.g. [["jobs", "<name>"]] or [["models", n], ["versions", v]] */
  children: Array<[string, string]>;
}

const WS_RE =
  /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.MachineLearningServices\/workspaces\/([^/]+)((?:\/[^/]+\/[^/]+)*)\/?$/i;

export function parseWorkspaceChildId(id: string, expected: string[] = []): ParsedId {
  const m = WS_RE.exec(id.trim());
  if (!m) {
    throw new UsageError(
      `'${id}' is not an Azure ML resource id (/subscriptions/<s>/resourceGroups/<rg>/providers/Microsoft.MachineLearningServices/workspaces/<ws>/...)`,
    );
  }
  const [, subscriptionId, resourceGroup, workspace, rest] = m;
  const parts = rest ? rest.split("/").filter(Boolean) : [];
  const children: Array<[string, string]> = [];
  for (let i = 0; i < parts.length; i += 2) children.push([parts[i], decodeURIComponent(parts[i + 1])]);
  const types = children.map(([t]) => t.toLowerCase());
  if (
    expected.length &&
    (types.length !== expected.length || types.some((t, i) => t !== expected[i].toLowerCase()))
  ) {
    const want = expected.map((t) => `/${t}/<name>`).join("");
    throw new UsageError(`'${id}' is not a .../workspaces/<ws>${want} id`);
  }
  return {
    id: id.trim(),
    name: children.length ? children[children.length - 1][1] : workspace,
    subscriptionId,
    resourceGroup,
    workspace,
    workspaceId: `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.MachineLearningServices/workspaces/${workspace}`,
    children,
  };
}

/** The az CLI flags that address a workspace. */
export function azWorkspaceFlags(scope: WorkspaceScope): string {
  return `-g ${scope.resourceGroup} -w ${scope.workspace}`;
}

/**
 * `azureml://<host>/mlflow/v1.0/subscriptions/...` (workspace `mlFlowTrackingUri`) → the https base the MLflow
 * REST API lives under (`<base>/api/2.0/mlflow/...`). azureml-mlflow swaps the scheme the same way (unverified
 * against a live workspace).
 */
export function mlflowHttpBase(trackingUri: string): string {
  const m = /^azureml:\/\/(.+?)\/?$/i.exec(trackingUri.trim());
  if (m) return `https://${m[1]}`;
  if (/^https?:\/\//i.test(trackingUri)) return trackingUri.replace(/\/+$/, "");
  throw new CliError(`unrecognised MLflow tracking URI '${trackingUri}'`);
}

/** The region host (`https://<region>.api.azureml.ms`) the run-history service shares with MLflow. */
export function serviceOrigin(trackingUri: string): string {
  return new URL(mlflowHttpBase(trackingUri)).origin;
}

export type ModelLocation =
  | { kind: "datastore"; datastore: string; path: string }
  | { kind: "job-output"; job: string; output: string; subPath: string }
  | { kind: "blob-url"; url: string };

/** Where a model version's files live, from its `modelUri` (Learn: how-to-manage-models). */
export function parseModelUri(uri: string): ModelLocation {
  const u = uri.trim();
  let m =
    /^azureml:\/\/(?:subscriptions\/[^/]+\/resource[gG]roups\/[^/]+\/(?:providers\/Microsoft\.MachineLearningServices\/)?workspaces\/[^/]+\/)?datastores\/([^/]+)\/paths\/(.*)$/i.exec(
      u,
    );
  if (m) return { kind: "datastore", datastore: m[1], path: m[2].replace(/^\/+/, "") };
  m = /^azureml:\/\/jobs\/([^/]+)\/outputs\/([^/]+)(?:\/paths\/(.*))?\/?$/i.exec(u);
  if (m) return { kind: "job-output", job: m[1], output: m[2], subPath: (m[3] ?? "").replace(/\/+$/, "") };
  if (/^https:\/\/[^/]+\.blob\.[^/]+\//i.test(u)) return { kind: "blob-url", url: u };
  throw new CliError(`model URI '${uri}' is not a form download-model understands`, [
    "supported: azureml://[subscriptions/.../workspaces/<ws>/]datastores/<ds>/paths/<p>, azureml://jobs/<job>/outputs/<out>[/paths/<p>], https://<account>.blob.<suffix>/<container>/<p>",
  ]);
}

/** Blob URL → account host, container, prefix. */
export function parseBlobUrl(url: string): { accountUrl: string; container: string; prefix: string } {
  const u = new URL(url);
  const [container, ...rest] = u.pathname.replace(/^\/+/, "").split("/");
  return { accountUrl: u.origin, container, prefix: decodeURIComponent(rest.join("/")) };
}
