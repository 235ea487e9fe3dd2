/**
 * set-traffic: routes 100 % of a managed online endpoint's traffic to one deployment (create/update), or moves it
 * off that deployment (--delete, run by `pulumi destroy`/replace) only if it still holds traffic.
 *
 *   tsx ops/set-traffic.ts --endpoint-id <ARM id> --deployment NAME [--delete]
 *     [--timeout-minutes 30] [--poll-seconds 10] [--arm-endpoint URL]
 *
 * ARM has no traffic operation: PATCH accepts only tags/identity and a PUT without `traffic` zeroes it,
 * so this reads the endpoint, PUTs the full body back with the new traffic, follows the long-running operation,
 * and re-reads until the (eventually consistent) GET shows it. 409 (endpoint busy updating) is retried.
 * stdout: {"endpoint": NAME, "traffic": {...}, "changed": bool}.
 */
import { ARM_FLAGS, ArmClient, armCliOptions, retryOnConflict, type ArmCliOptions } from "../lib/cli/arm";
import { usageLine, withFlags } from "../lib/cli/args";
import { CliError } from "../lib/cli/errors";
import { azWorkspaceFlags, parseWorkspaceChildId, type ParsedId } from "../lib/cli/ids";
import { log, writeResult } from "../lib/cli/log";
import { runCli } from "../lib/cli/run";
import { formatDuration, since, sleep } from "../lib/cli/time";
import type { TrafficResult } from "../lib/contracts";

const FLAGS = {
  "endpoint-id": { type: "string", required: true, placeholder: "<ARM id>" },
  deployment: { type: "string", required: true, placeholder: "NAME" },
  delete: { type: "boolean" },
  ...ARM_FLAGS,
} as const;

const USAGE = usageLine("tsx ops/set-traffic.ts", FLAGS);

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

export type Traffic = Record<string, number>;

export interface EndpointBody {
  id?: string;
  name?: string;
  type?: string;
  location?: string;
  kind?: string;
  tags?: Record<string, string>;
  sku?: unknown;
  identity?: {
    type?: string;
    principalId?: string;
    tenantId?: string;
    userAssignedIdentities?: Record<string, unknown>;
  };
  systemData?: unknown;
  properties?: {
    authMode?: string;
    traffic?: Traffic;
    mirrorTraffic?: Traffic;
    provisioningState?: string;
    scoringUri?: string;
    swaggerUri?: string;
    [k: string]: unknown;
  };
}

/** Server-filled endpoint properties that a PUT must not send back. */
const READ_ONLY_PROPERTIES = ["provisioningState", "scoringUri", "swaggerUri"];

/**
 * The PUT body for `endpoint` with `traffic`: every writable field of the GET kept (location, kind, tags, sku,
 * identity, authMode, description, publicNetworkAccess, mirrorTraffic, compute, properties...), read-only ones
 * dropped. A deployment cannot take live and mirrored traffic at once, so it leaves `mirrorTraffic` when it goes live.
 */
export function putBody(endpoint: EndpointBody, traffic: Traffic): EndpointBody {
  const props: Record<string, unknown> = { ...(endpoint.properties ?? {}) };
  for (const k of READ_ONLY_PROPERTIES) delete props[k];
  props.traffic = traffic;
  if (props.mirrorTraffic && typeof props.mirrorTraffic === "object") {
    const mirror = { ...(props.mirrorTraffic as Traffic) };
    for (const dep of Object.keys(traffic)) if ((traffic[dep] ?? 0) > 0) delete mirror[dep];
    props.mirrorTraffic = mirror;
  }
  const body: EndpointBody = { location: endpoint.location, properties: props as EndpointBody["properties"] };
  if (endpoint.kind !== undefined) body.kind = endpoint.kind;
  if (endpoint.tags !== undefined) body.tags = endpoint.tags;
  if (endpoint.sku !== undefined) body.sku = endpoint.sku;
  if (endpoint.identity) {
    const { type, userAssignedIdentities } = endpoint.identity;
    body.identity = { type };
    if (userAssignedIdentities) {
      // principalId/clientId inside are read-only: send the ids with empty objects, as ARM expects.
      body.identity.userAssignedIdentities = Object.fromEntries(
        Object.keys(userAssignedIdentities).map((k) => [k, {}]),
      );
    }
  }
  return body;
}

/** Traffic with `dep` at 100 % and every other deployment named at 0. */
export function trafficAllTo(current: Traffic | undefined, dep: string): Traffic {
  const out: Traffic = {};
  for (const k of Object.keys(current ?? {})) out[k] = 0;
  out[dep] = 100;
  return out;
}

/**
 * Traffic without `dep`: the other deployments keep their relative shares scaled back up to 100 % (largest
 * remainder), or everything is 0 when no other deployment had any.
 */
export function trafficWithout(current: Traffic | undefined, dep: string): Traffic {
  const others = Object.entries(current ?? {}).filter(([k]) => k !== dep);
  const sum = others.reduce((s, [, v]) => s + Math.max(0, v), 0);
  if (sum <= 0) return Object.fromEntries(others.map(([k]) => [k, 0]));
  const raw = others.map(([k, v]) => [k, (Math.max(0, v) * 100) / sum] as const);
  const floored = raw.map(([k, v]) => [k, Math.floor(v)] as [string, number]);
  let rest = 100 - floored.reduce((s, [, v]) => s + v, 0);
  const order = raw.map(([, v], i) => [i, v - Math.floor(v)] as const).sort((a, b) => b[1] - a[1]);
  for (const [i] of order) {
    if (rest <= 0) break;
    floored[i][1] += 1;
    rest--;
  }
  return Object.fromEntries(floored);
}

export function sameTraffic(a: Traffic | undefined, b: Traffic): boolean {
  const keys = new Set([...Object.keys(a ?? {}), ...Object.keys(b)]);
  for (const k of keys) if ((a?.[k] ?? 0) !== (b[k] ?? 0)) return false;
  return true;
}

function fmt(t: Traffic | undefined): string {
  const e = Object.entries(t ?? {});
  return e.length ? e.map(([k, v]) => `${k}=${v}`).join(", ") : "(none)";
}

/**
 * The traffic to set, or the reason there is nothing to do: --delete of a deployment that holds no traffic, or a
 * deployment that already has 100 % on a settled endpoint. Pure.
 */
export function decideTraffic(
  current: EndpointBody,
  dep: string,
  removing: boolean,
): { target: Traffic } | { unchanged: string } {
  const before = current.properties?.traffic ?? {};
  if (removing) {
    if (!((before[dep] ?? 0) > 0))
      return { unchanged: `deployment ${dep} holds no traffic; leaving the endpoint as it is` };
    return { target: trafficWithout(before, dep) };
  }
  const target = trafficAllTo(before, dep);
  if (sameTraffic(before, target) && current.properties?.provisioningState === "Succeeded") {
    return { unchanged: `${dep} already has 100 %` };
  }
  return { target };
}

/** PUTs the endpoint back with `target` and follows the operation; a 409 (busy endpoint) re-reads and tries again. */
async function putTraffic(
  arm: ArmClient,
  o: TrafficOptions,
  current: EndpointBody,
  target: Traffic,
  deadline: number,
) {
  let latest = current;
  await retryOnConflict(
    async () => {
      const res = await arm.send("PUT", o.endpoint.id, { body: putBody(latest, target) });
      log(`  PUT accepted (HTTP ${res.status})`);
      await arm.waitForLro(res, {
        pollMs: o.pollMs,
        timeoutMs: Math.max(0, deadline - Date.now()),
        what: `endpoint ${o.endpoint.name} update`,
      });
    },
    {
      deadline,
      pollMs: o.pollMs,
      what: "the endpoint",
      // another writer may have changed the endpoint meanwhile: re-read before the next PUT
      beforeRetry: async () => {
        latest = (await arm.tryGet<EndpointBody>(o.endpoint.id)) ?? latest;
      },
    },
  );
}

/** Re-reads until the endpoint reports `target` and Succeeded: the read lags the write (Azure/azure-dev PR #3881). */
async function awaitReported(
  arm: ArmClient,
  o: TrafficOptions,
  target: Traffic,
  started: number,
): Promise<Traffic> {
  const deadline = started + o.timeoutMs;
  for (;;) {
    const now = await arm.get<EndpointBody>(o.endpoint.id);
    const t = now.properties?.traffic ?? {};
    const state = now.properties?.provisioningState ?? "?";
    if (sameTraffic(t, target) && state === "Succeeded") {
      log(`set-traffic: endpoint ${o.endpoint.name} reports ${fmt(t)} (${since(started)})`);
      return t;
    }
    if (/^(Failed|Canceled)$/.test(state)) {
      throw new CliError(
        `endpoint ${o.endpoint.name} is ${state} after the traffic update (traffic ${fmt(t)})`,
        [`Inspect: az ml online-endpoint show -n ${o.endpoint.name} ${azWorkspaceFlags(o.endpoint)}`],
      );
    }
    if (Date.now() > deadline) {
      throw new CliError(
        `endpoint ${o.endpoint.name} still reports ${fmt(t)} (${state}) after ${formatDuration(o.timeoutMs / 1000)}`,
      );
    }
    log(`  endpoint still reports ${fmt(t)} (${state}); re-reading`);
    await sleep(o.pollMs);
  }
}

/** Read the endpoint → decide the traffic → PUT it (409s retried) → wait until the endpoint reports it. */
export async function setTraffic(o: TrafficOptions): Promise<void> {
  const arm = new ArmClient(o.armEndpoint);
  const started = Date.now();
  const name = o.endpoint.name;
  const current = await arm.tryGet<EndpointBody>(o.endpoint.id);
  if (!current) {
    if (!o.removing) throw new CliError(`endpoint ${name} not found (${o.endpoint.id})`);
    log(`set-traffic: endpoint ${name} no longer exists; nothing to move`);
    writeResult({ endpoint: name, traffic: {}, changed: false } satisfies TrafficResult);
    return;
  }
  const before = current.properties?.traffic ?? {};
  log(
    `set-traffic: endpoint ${name} traffic now: ${fmt(before)} (${current.properties?.provisioningState ?? "?"})`,
  );
  const decision = decideTraffic(current, o.deployment, o.removing);
  if ("unchanged" in decision) {
    log(`set-traffic: ${decision.unchanged}`);
    writeResult({ endpoint: name, traffic: before, changed: false } satisfies TrafficResult);
    return;
  }
  log(`set-traffic: setting traffic to ${fmt(decision.target)}`);
  await putTraffic(arm, o, current, decision.target, started + o.timeoutMs);
  const traffic = await awaitReported(arm, o, decision.target, started);
  writeResult({ endpoint: name, traffic, changed: true } satisfies TrafficResult);
}

export const cli = { name: "set-traffic", usage: USAGE, parse: parseTrafficArgs, main: setTraffic };

if (require.main === module) runCli(cli);
