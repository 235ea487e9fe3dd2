/**
 * retire-deployments: deletes an online endpoint's deployments other than the one to keep, once that one serves:
 * only those holding 0 % of the live and 0 % of the mirrored traffic. One that still holds traffic is left with a
 * log line: a serving deployment is never deleted. Run by the graph after the rollout (ops/rollout.ts) passed.
 *
 *   tsx ops/retire-deployments.ts --endpoint-id <ARM id> --keep NAME [--timeout-minutes 30] [--poll-seconds 10]
 *     [--arm-endpoint URL]
 *
 * Lists `GET <endpoint>/deployments` (pages via nextLink), then per deployment `DELETE` (long-running operation)
 * and waits until ARM answers 404 for it. The program's deployments are `retainOnDelete`: this is what removes an
 * old one, after (and only after) the new one holds the traffic; the endpoint's own delete takes the last one.
 * A deployment with live traffic cannot be deleted (Azure ML docs, how-to-safely-rollout-online-endpoints).
 * stdout: {"endpoint","kept","deleted":[...],"skipped":[...]} (RetireResult).
 */
import { ARM_FLAGS, ArmClient, armCliOptions, deleteUntilGone, type ArmCliOptions } from "../lib/azure/arm";
import { usageLine, withFlags } from "../lib/toolkit/args";
import { CliError } from "../lib/toolkit/errors";
import { azWorkspaceFlags, parseWorkspaceChildId, type ParsedId } from "../lib/azureml/ids";
import { log, writeResult } from "../lib/toolkit/log";
import { listAll } from "../lib/azure/arm";
import { runCli } from "../lib/toolkit/run";
import { formatDuration, since } from "../lib/toolkit/time";
import type { EndpointBody } from "../lib/azureml/traffic";
import type { RetireResult } from "../lib/core/contracts";

const FLAGS = {
  "endpoint-id": { type: "string", required: true, placeholder: "<ARM id>" },
  keep: { type: "string", required: true, placeholder: "NAME" },
  ...ARM_FLAGS,
} as const;

const USAGE = usageLine("bash scripts/env.sh tsx ops/retire-deployments.ts", FLAGS);

export interface RetireOptions extends ArmCliOptions {
  endpoint: ParsedId;
  keep: string;
}

export const parseRetireArgs = withFlags(FLAGS, (a): RetireOptions => ({
  endpoint: parseWorkspaceChildId(a["endpoint-id"], ["onlineEndpoints"]),
  keep: a.keep,
  ...armCliOptions(a),
}));

/**
 * Which deployments go and which stay, with the reason for each one that stays. Pure: `names` are the endpoint's
 * deployments, `traffic`/`mirror` its live and mirrored split.
 */
export function retirePlan(
  names: string[],
  keep: string,
  traffic: Record<string, number> = {},
  mirror: Record<string, number> = {},
): { remove: string[]; skip: Array<{ name: string; why: string }> } {
  const remove: string[] = [];
  const skip: Array<{ name: string; why: string }> = [];
  for (const name of names.filter((n) => n !== keep)) {
    const live = traffic[name] ?? 0;
    const mirrored = mirror[name] ?? 0;
    if (live > 0 || mirrored > 0) {
      skip.push({
        name,
        why: live > 0 ? `still holds ${live} % of the traffic` : `still mirrors ${mirrored} %`,
      });
    } else remove.push(name);
  }
  return { remove, skip };
}

/** DELETE one deployment (409s retried), follow the operation, then wait until ARM no longer finds it. */
async function deleteDeployment(arm: ArmClient, o: RetireOptions, name: string): Promise<void> {
  const id = `${o.endpoint.id}/deployments/${encodeURIComponent(name)}`;
  const started = Date.now();
  const deadline = started + o.timeoutMs;
  log(`retire-deployments: deleting deployment ${name}`);
  await deleteUntilGone(arm, id, {
    deadline,
    pollMs: o.pollMs,
    what: `deployment ${name}`,
    operation: `delete of ${name}`,
    onStillThere: (_state, pastDeadline) => {
      if (pastDeadline) {
        throw new CliError(
          `deployment ${name} still exists ${formatDuration(o.timeoutMs / 1000)} after its delete`,
          [
            `Check: az ml online-deployment show -n ${name} -e ${o.endpoint.name} ${azWorkspaceFlags(o.endpoint)}`,
          ],
        );
      }
    },
  });
  log(`retire-deployments: deployment ${name} deleted (${since(started)})`);
}

/** List the deployments → keep the named one and every one with traffic → delete the rest, one by one. */
export async function retireDeployments(o: RetireOptions): Promise<void> {
  const arm = new ArmClient(o.armEndpoint);
  const endpoint = await arm.tryGet<EndpointBody>(o.endpoint.id);
  if (!endpoint) throw new CliError(`endpoint ${o.endpoint.name} not found (${o.endpoint.id})`);
  const names = (await listAll<{ name: string }>(arm, arm.url(`${o.endpoint.id}/deployments`))).map(
    (d) => d.name,
  );
  if (!names.includes(o.keep)) {
    throw new CliError(
      `deployment ${o.keep} is not on endpoint ${o.endpoint.name}: refusing to retire the others`,
      [`Deployments found: ${names.join(", ") || "(none)"}`],
    );
  }
  const { traffic, mirrorTraffic } = endpoint.properties ?? {};
  const plan = retirePlan(names, o.keep, traffic, mirrorTraffic);
  for (const s of plan.skip)
    log(`retire-deployments: keeping ${s.name}: it ${s.why} (never delete a serving deployment)`);
  if (!plan.remove.length) log(`retire-deployments: nothing to retire besides ${o.keep}`);
  for (const name of plan.remove) await deleteDeployment(arm, o, name);
  writeResult({
    endpoint: o.endpoint.name,
    kept: o.keep,
    deleted: plan.remove,
    skipped: plan.skip.map((s) => s.name),
  } satisfies RetireResult);
}

export const cli = {
  name: "retire-deployments",
  usage: USAGE,
  parse: parseRetireArgs,
  main: retireDeployments,
};

if (require.main === module) runCli(cli);
