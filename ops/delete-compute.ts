/**
 * delete-compute: cancels the jobs still active on an Azure ML compute cluster, then deletes the cluster together
 * with its underlying VMs and waits until ARM no longer finds it. Idempotent: a cluster that is already gone is a
 * success with "deleted": false. Run by the graph when a GPU cluster is removed (components/gpuCompute.ts keeps the
 * cluster out of azure-native's hands), so `pulumi destroy` also stops a training job it left running.
 *
 *   tsx ops/delete-compute.ts --compute-id <ARM id> [--cancel-timeout-minutes 10] [--timeout-minutes 30]
 *     [--poll-seconds 10] [--arm-endpoint URL]
 *
 * Jobs first: `GET <ws>/jobs?listViewType=All` (Jobs_List, mfe.json 2025-12-01: its only filters are jobType, tag,
 * listViewType, properties; none names a compute), kept when `properties.computeId` is this cluster and the status is
 * active; each gets `POST <job id>/cancel` (Jobs_Cancel: 200, or 202 with Location, final-state-via location), then
 * the step waits up to --cancel-timeout-minutes for them to stop (a job still stopping then does not block the
 * delete).
 * = `az ml compute delete` = `DELETE <id>?api-version=2025-12-01&underlyingResourceAction=Delete`. The 2025-12-01
 * Compute_Delete requires `underlyingResourceAction` (Delete | Detach; azure-rest-api-specs examples/Compute/
 * delete.json), which azure-native's generic delete does not send; terraform azurerm switched to Delete
 * (hashicorp/terraform-provider-azurerm#16640), and a same-name cluster re-created after a detach kept its old VM
 * size (Azure/azure-rest-api-specs#18889).
 * stdout: {"compute": NAME, "deleted": bool}.
 */
import {
  ARM_FLAGS,
  ArmClient,
  armCliOptions,
  deleteUntilGone,
  listAll,
  retryOnConflict,
  type ArmCliOptions,
} from "../lib/azure/arm";
import { usageLine, withFlags } from "../lib/toolkit/args";
import { CliError, errorMessage } from "../lib/toolkit/errors";
import { azWorkspaceFlags, parseWorkspaceChildId, type ParsedId } from "../lib/azureml/ids";
import { log, writeResult } from "../lib/toolkit/log";
import { runCli } from "../lib/toolkit/run";
import { formatDuration, since, sleep } from "../lib/toolkit/time";
import type { ComputeRemovalResult } from "../lib/core/contracts";
import { CLUSTER_OWNER_TAG } from "../lib/core/naming";
import { ACTIVE_STATUSES, type JobItem } from "./submit-job";

const FLAGS = {
  "compute-id": { type: "string", required: true, placeholder: "<ARM id>" },
  // also the workspace's other clusters tagged `clusterOf=<owner>` (left by a failed `up`: see ops/ensure-compute.ts)
  owner: { type: "string", placeholder: "NAME" },
  // how long canceled jobs may take to stop before the delete goes ahead anyway
  "cancel-timeout-minutes": { type: "number", min: 0, default: 10 },
  ...ARM_FLAGS,
} as const;

const USAGE = usageLine("bash scripts/env.sh tsx ops/delete-compute.ts", FLAGS);

/** Delete the cluster's VMs with it; Detach would leave them behind (and a same-name cluster would reuse them). */
export const DELETE_QUERY = { underlyingResourceAction: "Delete" } as const;

export interface DeleteComputeOptions extends ArmCliOptions {
  /** the cluster's id and name (`.../workspaces/<ws>/computes/<name>`) */
  compute: ParsedId;
  cancelTimeoutMs: number;
  /** --owner: the `clusterOf` tag whose other clusters go too */
  owner?: string;
}

export const parseDeleteComputeArgs = withFlags(FLAGS, (a): DeleteComputeOptions => ({
  compute: parseWorkspaceChildId(a["compute-id"], ["computes"]),
  cancelTimeoutMs: a["cancel-timeout-minutes"] * 60_000,
  owner: a.owner,
  ...armCliOptions(a),
}));

/** The tag that names the component a cluster belongs to: what finds the clusters a failed `up` left behind. */
export const OWNER_TAG = CLUSTER_OWNER_TAG;

/** The workspace's clusters tagged `clusterOf=<owner>`, other than `exceptId` (Compute_List, pages via nextLink). */
export async function ownedClusters(
  arm: ArmClient,
  workspaceId: string,
  owner: string,
  exceptId: string,
): Promise<string[]> {
  const items = await listAll<{ id?: string; name: string; tags?: Record<string, string> | null }>(
    arm,
    arm.url(`${workspaceId}/computes`),
    { missingIsEmpty: true },
  );
  return items
    .filter((c) => c.tags?.[OWNER_TAG] === owner)
    .map((c) => c.id ?? `${workspaceId}/computes/${c.name}`)
    .filter((id) => id.toLowerCase() !== exceptId.toLowerCase());
}

/** A listed job that runs on `computeId` (ARM ids compare case-insensitively) and can still use it. */
export function activeOn(job: JobItem, computeId: string): boolean {
  const norm = (id: string) => id.trim().replace(/\/+$/, "").toLowerCase();
  const on = job.properties?.computeId;
  return !!on && norm(on) === norm(computeId) && ACTIVE_STATUSES.has(job.properties?.status ?? "");
}

/** Jobs still active on the cluster: the workspace's whole list (archived too), filtered here. */
async function activeJobs(arm: ArmClient, o: DeleteComputeOptions): Promise<JobItem[]> {
  const url = arm.url(`${o.compute.workspaceId}/jobs`, { listViewType: "All" });
  // a workspace that is already gone has no jobs (its 404 is an empty list)
  const items = await listAll<JobItem>(arm, url, { missingIsEmpty: true, maxPages: 1000 });
  return items.filter((j) => activeOn(j, o.compute.id));
}

/** POST .../cancel and follow its operation; false (with a note) when the service refused it. */
async function cancelJob(
  arm: ArmClient,
  o: DeleteComputeOptions,
  jobId: string,
  deadline: number,
): Promise<boolean> {
  const name = jobId.split("/").pop()!;
  try {
    const res = await retryOnConflict(() => arm.send("POST", `${jobId}/cancel`, { accept: [404] }), {
      deadline,
      pollMs: o.pollMs,
      what: `job ${name}`,
    });
    if (res.status === 404) return false;
    log(`  cancel of job ${name} accepted (HTTP ${res.status})`);
    await arm.waitForLro(res, {
      pollMs: o.pollMs,
      timeoutMs: Math.max(0, deadline - Date.now()),
      what: `cancel of job ${name}`,
    });
    return true;
  } catch (err) {
    log(`  could not cancel job ${name}: ${errorMessage(err)}; deleting the compute anyway`);
    return false;
  }
}

/** Polls the canceled jobs until none is active or canceling any more, or the deadline passes (then says which). */
async function waitStopped(
  arm: ArmClient,
  o: DeleteComputeOptions,
  jobIds: string[],
  deadline: number,
): Promise<void> {
  let left = jobIds;
  for (;;) {
    const states = await Promise.all(
      left.map(async (id) => {
        const job = await arm.tryGet<JobItem>(id).catch(() => undefined);
        return [id, job?.properties?.status ?? "gone"] as const;
      }),
    );
    left = states.filter(([, s]) => ACTIVE_STATUSES.has(s) || s === "CancelRequested").map(([id]) => id);
    for (const [id, s] of states) if (!left.includes(id)) log(`  job ${id.split("/").pop()} ${s}`);
    if (left.length === 0) return;
    if (Date.now() > deadline) {
      const still = states
        .filter(([id]) => left.includes(id))
        .map(([id, s]) => `${id.split("/").pop()} ${s}`);
      log(
        `  still stopping after ${formatDuration(o.cancelTimeoutMs / 1000)} (--cancel-timeout-minutes): ` +
          `${still.join(", ")}; deleting the compute anyway`,
      );
      return;
    }
    await sleep(o.pollMs);
  }
}

/** Cancels the jobs still active on the cluster (Jobs_Cancel) and waits for them to stop; never fails the step. */
async function cancelActiveJobs(arm: ArmClient, o: DeleteComputeOptions): Promise<void> {
  let jobs: JobItem[];
  try {
    jobs = await activeJobs(arm, o);
  } catch (err) {
    log(
      `  could not list the workspace's jobs: ${errorMessage(err)}; deleting the compute without canceling any`,
    );
    return;
  }
  if (jobs.length === 0) {
    log("  no active job on the compute");
    return;
  }
  const deadline = Date.now() + o.cancelTimeoutMs;
  const ids = jobs.map((j) => j.id ?? `${o.compute.workspaceId}/jobs/${j.name}`);
  log(
    `  canceling ${jobs.length} active job(s): ${jobs.map((j) => `${j.name} ${j.properties?.status}`).join(", ")}`,
  );
  const canceled: string[] = [];
  for (const id of ids) if (await cancelJob(arm, o, id, deadline)) canceled.push(id);
  if (canceled.length) await waitStopped(arm, o, canceled, deadline);
}

/**
 * Cancel the jobs still active on the cluster → DELETE with underlyingResourceAction=Delete (409s retried) →
 * follow the operation → wait for 404. Resolves false when the cluster did not exist.
 */
export async function removeCompute(arm: ArmClient, o: DeleteComputeOptions): Promise<boolean> {
  const { id, name, workspace } = o.compute;
  log(`delete-compute: canceling the jobs still active on compute ${name} (workspace ${workspace})`);
  await cancelActiveJobs(arm, o);
  const started = Date.now();
  const deadline = started + o.timeoutMs;
  log(`delete-compute: deleting compute ${name} and its VMs (workspace ${workspace})`);
  const deleted = await deleteUntilGone(arm, id, {
    query: DELETE_QUERY,
    deadline,
    pollMs: o.pollMs,
    what: `compute ${name}`,
    operation: `delete of compute ${name}`,
    onAccepted: (status) => log(`  DELETE accepted (HTTP ${status})`),
    onStillThere: (state, pastDeadline) => {
      if (pastDeadline) {
        throw new CliError(
          `compute ${name} still exists (${state}) ${formatDuration(o.timeoutMs / 1000)} after the delete request`,
          [`Check: az ml compute show -n ${name} ${azWorkspaceFlags(o.compute)}`],
          1,
          { compute: name },
        );
      }
      log(`  compute still present (${state}); waiting`);
    },
  });
  if (!deleted) log(`delete-compute: compute ${name} does not exist (already deleted); nothing to do`);
  else log(`delete-compute: compute ${name} deleted (${since(started)})`);
  return deleted;
}

/** removeCompute of the named cluster, then (with --owner) of the owner's other clusters; one result line. */
export async function deleteCompute(o: DeleteComputeOptions): Promise<void> {
  const arm = new ArmClient(o.armEndpoint);
  const deleted = await removeCompute(arm, o);
  const others: string[] = [];
  if (o.owner) {
    for (const id of await ownedClusters(arm, o.compute.workspaceId, o.owner, o.compute.id)) {
      if (await removeCompute(arm, { ...o, compute: parseWorkspaceChildId(id, ["computes"]) }))
        others.push(id.split("/").pop()!);
    }
  }
  writeResult({
    compute: o.compute.name,
    deleted,
    ...(others.length ? { others } : {}),
  } satisfies ComputeRemovalResult);
}

export const cli = {
  name: "delete-compute",
  usage: USAGE,
  parse: parseDeleteComputeArgs,
  main: deleteCompute,
};

if (require.main === module) runCli(cli);
