/**
 * purge-workspace: permanently deletes an Azure ML workspace (no 14-day soft-delete state left behind, so the
 * name is free again) and waits until ARM no longer finds it. Idempotent: a workspace that is already gone is a
 * success with "purged": false. Run by the graph on `pulumi destroy` in place of the plain (soft) delete.
 *
 *   tsx ops/purge-workspace.ts --workspace-id <ARM id> [--timeout-minutes 30] [--poll-seconds 10] [--arm-endpoint URL]
 *
 * = `az ml workspace delete --permanently-delete` = `DELETE <id>?api-version=...&forceToPurge=true` (facts §9).
 * stdout: {"workspace": NAME, "purged": bool}.
 */
import { ArmClient, armEndpointFrom, isConflict } from "../lib/cli/arm";
import { num, parseArgs, str } from "../lib/cli/args";
import { runCli } from "../lib/cli/run";
import { parseWorkspaceChildId } from "../lib/cli/ids";
import { sleep } from "../lib/cli/http";
import { errorMessage, formatDuration, log, OpsError, writeResult } from "../lib/cli/log";

const USAGE =
  "usage: tsx ops/purge-workspace.ts --workspace-id <ARM id> [--timeout-minutes 30] [--poll-seconds 10] [--arm-endpoint URL]";

async function main(argv: string[]): Promise<void> {
  const args = parseArgs(
    argv,
    {
      "workspace-id": { required: true },
      "timeout-minutes": { default: "30" },
      "poll-seconds": { default: "10" },
      "arm-endpoint": {},
    },
    USAGE,
  );
  const id = parseWorkspaceChildId(str(args, "workspace-id"), []);
  const timeoutMs = num(args, "timeout-minutes", { min: 0 }) * 60_000;
  const pollMs = num(args, "poll-seconds", { min: 0 }) * 1000;
  const arm = new ArmClient(armEndpointFrom(args["arm-endpoint"]));
  const started = Date.now();
  const deadline = started + timeoutMs;

  log(`purge-workspace: permanently deleting workspace ${id.workspace} (resource group ${id.resourceGroup})`);
  let res;
  for (let attempt = 1; ; attempt++) {
    try {
      res = await arm.send("DELETE", id.workspaceId, { query: { forceToPurge: "true" }, accept: [404] });
      break;
    } catch (err) {
      if (!isConflict(err) || Date.now() > deadline) throw err;
      log(
        `  409 Conflict (${errorMessage(err).replace(/^.*HTTP 409\s*/, "")}); retrying (attempt ${attempt})`,
      );
      await sleep(pollMs);
    }
  }
  if (res.status === 404) {
    log(
      `purge-workspace: workspace ${id.workspace} does not exist (already deleted or purged); nothing to do`,
    );
    log(
      "  Note: if a plain (soft) delete happened earlier and the name is still blocked ('Soft-deleted workspace exists'), " +
        "purge it under Azure portal > Azure Machine Learning > Recently deleted workspaces.",
    );
    writeResult({ workspace: id.workspace, purged: false });
    return;
  }
  log(`  DELETE accepted (HTTP ${res.status})`);
  await arm.waitForLro(res, {
    pollMs,
    timeoutMs: Math.max(0, deadline - Date.now()),
    what: `purge of ${id.workspace}`,
  });

  for (;;) {
    const ws = await arm.tryGet<{ properties?: { provisioningState?: string } }>(id.workspaceId);
    if (!ws) break;
    if (Date.now() > deadline) {
      throw new OpsError(
        `workspace ${id.workspace} still exists ${formatDuration(timeoutMs / 1000)} after the purge request`,
        [`Check: az ml workspace show -n ${id.workspace} -g ${id.resourceGroup}`],
      );
    }
    log(`  workspace still present (${ws.properties?.provisioningState ?? "?"}); waiting`);
    await sleep(pollMs);
  }
  log(`purge-workspace: workspace ${id.workspace} purged (${formatDuration((Date.now() - started) / 1000)})`);
  writeResult({ workspace: id.workspace, purged: true });
}

if (require.main === module) runCli("purge-workspace", main);
