/**
 * set-traffic: routes 100 % of a managed online endpoint's traffic to one deployment (create/update), or moves it
 * off that deployment (--delete, run by `pulumi destroy`/replace) only if it still holds traffic.
 *
 *   tsx ops/set-traffic.ts --endpoint-id <ARM id> --deployment NAME [--delete]
 *     [--timeout-minutes 30] [--poll-seconds 10] [--arm-endpoint URL]
 *
 * ARM has no traffic operation: PATCH accepts only tags/identity and a PUT without `traffic` zeroes it,
 * so this reads the endpoint, PUTs the full body back with the new traffic, follows the long-running operation,
 * and re-reads until the (eventually consistent) GET shows it. 409 (endpoint busy updating) is retried; the
 * write is lib/azureml/traffic.ts, shared with ops/rollout.ts.
 * stdout: {"endpoint": NAME, "traffic": {...}, "changed": bool}.
 */
import { ARM_FLAGS, ArmClient, armCliOptions, type ArmCliOptions } from "../lib/azure/arm";
import { usageLine, withFlags } from "../lib/toolkit/args";
import { parseWorkspaceChildId, type ParsedId } from "../lib/azureml/ids";
import { writeResult } from "../lib/toolkit/log";
import { runCli } from "../lib/toolkit/run";
import { moveTraffic } from "../lib/azureml/traffic";
import type { TrafficResult } from "../lib/core/contracts";

const FLAGS = {
  "endpoint-id": { type: "string", required: true, placeholder: "<ARM id>" },
  deployment: { type: "string", required: true, placeholder: "NAME" },
  delete: { type: "boolean" },
  ...ARM_FLAGS,
} as const;

const USAGE = usageLine("bash scripts/env.sh tsx ops/set-traffic.ts", FLAGS);

export interface TrafficOptions extends ArmCliOptions {
  /** the endpoint's id, name and workspace */
  endpoint: ParsedId;
  deployment: string;
  /** move traffic off the deployment instead of onto it */
  removing: boolean;
}

export const parseTrafficArgs = withFlags(FLAGS, (a): TrafficOptions => ({
  endpoint: parseWorkspaceChildId(a["endpoint-id"], ["onlineEndpoints"]),
  deployment: a.deployment,
  removing: a.delete,
  ...armCliOptions(a),
}));

/** Read the endpoint → decide the traffic → PUT it (409s retried) → wait until the endpoint reports it. */
export async function setTraffic(o: TrafficOptions): Promise<void> {
  const arm = new ArmClient(o.armEndpoint);
  const moved = await moveTraffic(arm, o.endpoint, o.deployment, o.removing, { ...o, cli: "set-traffic" });
  writeResult({ endpoint: o.endpoint.name, ...moved } satisfies TrafficResult);
}

export const cli = { name: "set-traffic", usage: USAGE, parse: parseTrafficArgs, main: setTraffic };

if (require.main === module) runCli(cli);
