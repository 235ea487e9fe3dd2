/**
 * purge-workspace: permanently deletes an Azure ML workspace (no 14-day soft-delete state left behind, so the
 * name is free again) and waits until ARM no longer finds it. Idempotent: a workspace that is already gone is a
 * success with "purged": false. Run by the graph on `pulumi destroy` in place of the plain (soft) delete.
 *
 *   tsx ops/purge-workspace.ts --workspace-id <ARM id> [--timeout-minutes 30] [--poll-seconds 10] [--arm-endpoint URL]
 *
 * = `az ml workspace delete --permanently-delete` = `DELETE <id>?api-version=...&forceToPurge=true`.
 * stdout: {"workspace": NAME, "purged": bool}.
 */
import { ARM_FLAGS, ArmClient, armCliOptions, deleteUntilGone, type ArmCliOptions } from "../lib/azure/arm";
import { usageLine, withFlags } from "../lib/toolkit/args";
import { CliError } from "../lib/toolkit/errors";
import { parseWorkspaceChildId, type ParsedId } from "../lib/azureml/ids";
import { log, writeResult } from "../lib/toolkit/log";
import { runCli } from "../lib/toolkit/run";
import { formatDuration, since } from "../lib/toolkit/time";
import type { PurgeResult } from "../lib/core/contracts";

const FLAGS = {
  "workspace-id": { type: "string", required: true, placeholder: "<ARM id>" },
  ...ARM_FLAGS,
} as const;

const USAGE = usageLine("bash scripts/env.sh tsx ops/purge-workspace.ts", FLAGS);

export interface PurgeOptions extends ArmCliOptions {
  /** the workspace's id and name */
  workspace: ParsedId;
}

export const parsePurgeArgs = withFlags(FLAGS, (a): PurgeOptions => ({
  workspace: parseWorkspaceChildId(a["workspace-id"], []),
  ...armCliOptions(a),
}));

/** DELETE with forceToPurge (409s retried) → follow the operation → wait until ARM no longer finds it. */
export async function purgeWorkspace(o: PurgeOptions): Promise<void> {
  const arm = new ArmClient(o.armEndpoint);
  const { name: workspace, workspaceId, resourceGroup } = o.workspace;
  const started = Date.now();
  const deadline = started + o.timeoutMs;
  log(`purge-workspace: permanently deleting workspace ${workspace} (resource group ${resourceGroup})`);
  const purged = await deleteUntilGone(arm, workspaceId, {
    query: { forceToPurge: "true" },
    deadline,
    pollMs: o.pollMs,
    what: "the workspace",
    operation: `purge of ${workspace}`,
    onAccepted: (status) => log(`  DELETE accepted (HTTP ${status})`),
    onStillThere: (state, pastDeadline) => {
      if (pastDeadline) {
        throw new CliError(
          `workspace ${workspace} still exists ${formatDuration(o.timeoutMs / 1000)} after the purge request`,
          [`Check: az ml workspace show -n ${workspace} -g ${resourceGroup}`],
        );
      }
      log(`  workspace still present (${state}); waiting`);
    },
  });
  if (!purged) {
    log(`purge-workspace: workspace ${workspace} does not exist (already deleted or purged); nothing to do`);
    log(
      "  Note: if a plain (soft) delete happened earlier and the name is still blocked ('Soft-deleted workspace exists'), " +
        "purge it under Azure portal > Azure Machine Learning > Recently deleted workspaces.",
    );
    writeResult({ workspace, purged: false } satisfies PurgeResult);
    return;
  }
  log(`purge-workspace: workspace ${workspace} purged (${since(started)})`);
  writeResult({ workspace, purged: true } satisfies PurgeResult);
}

export const cli = { name: "purge-workspace", usage: USAGE, parse: parsePurgeArgs, main: purgeWorkspace };

if (require.main === module) runCli(cli);
