/**
 * delete-compute: deletes an Azure ML compute cluster together with its underlying VMs and waits until ARM no
 * longer finds it. Idempotent: a cluster that is already gone is a success with "deleted": false. Run by the graph
 * when a GPU cluster is removed (components/gpuCompute.ts keeps the cluster out of azure-native's hands).
 *
 *   tsx ops/delete-compute.ts --compute-id <ARM id> [--timeout-minutes 30] [--poll-seconds 10] [--arm-endpoint URL]
 *
 * = `az ml compute delete` = `DELETE <id>?api-version=2025-12-01&underlyingResourceAction=Delete`. The 2025-12-01
 * Compute_Delete requires `underlyingResourceAction` (Delete | Detach; azure-rest-api-specs examples/Compute/
 * delete.json), which azure-native's generic delete does not send; terraform azurerm switched to Delete
 * (hashicorp/terraform-provider-azurerm#16640), and a same-name cluster re-created after a detach kept its old VM
 * size (Azure/azure-rest-api-specs#18889).
 * stdout: {"compute": NAME, "deleted": bool}.
 */
import { ARM_FLAGS, ArmClient, armCliOptions, deleteUntilGone, type ArmCliOptions } from "../lib/cli/arm";
import { usageLine, withFlags } from "../lib/cli/args";
import { CliError } from "../lib/cli/errors";
import { azWorkspaceFlags, parseWorkspaceChildId, type ParsedId } from "../lib/cli/ids";
import { log, writeResult } from "../lib/cli/log";
import { runCli } from "../lib/cli/run";
import { formatDuration, since } from "../lib/cli/time";
import type { ComputeRemovalResult } from "../lib/contracts";

const FLAGS = {
  "compute-id": { type: "string", required: true, placeholder: "<ARM id>" },
  ...ARM_FLAGS,
} as const;

const USAGE = usageLine("tsx ops/delete-compute.ts", FLAGS);

/** Delete the cluster's VMs with it; Detach would leave them behind (and a same-name cluster would reuse them). */
export const DELETE_QUERY = { underlyingResourceAction: "Delete" } as const;

export interface DeleteComputeOptions extends ArmCliOptions {
  /** the cluster's id and name (`.../workspaces/<ws>/computes/<name>`) */
  compute: ParsedId;
}

export const parseDeleteComputeArgs = withFlags(FLAGS, (a): DeleteComputeOptions => ({
  compute: parseWorkspaceChildId(a["compute-id"], ["computes"]),
  ...armCliOptions(a),
}));

/** DELETE with underlyingResourceAction=Delete (409s retried) → follow the operation → wait for 404. */
export async function deleteCompute(o: DeleteComputeOptions): Promise<void> {
  const arm = new ArmClient(o.armEndpoint);
  const { id, name, workspace } = o.compute;
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
  if (!deleted) {
    log(`delete-compute: compute ${name} does not exist (already deleted); nothing to do`);
    writeResult({ compute: name, deleted: false } satisfies ComputeRemovalResult);
    return;
  }
  log(`delete-compute: compute ${name} deleted (${since(started)})`);
  writeResult({ compute: name, deleted: true } satisfies ComputeRemovalResult);
}

export const cli = {
  name: "delete-compute",
  usage: USAGE,
  parse: parseDeleteComputeArgs,
  main: deleteCompute,
};

if (require.main === module) runCli(cli);
