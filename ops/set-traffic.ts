/**
 * set-traffic: routes 100 % of a managed online endpoint's traffic to one deployment (create/update), or moves it
 * off that deployment (--delete, run by `pulumi destroy`/replace) only if it still holds traffic.
 *
 *   tsx ops/set-traffic.ts --endpoint-id <ARM id> --deployment NAME [--delete]
 *     [--timeout-minutes 30] [--poll-seconds 10] [--arm-endpoint URL]
 *
 * ARM has no traffic operation: PATCH accepts only tags/identity and a PUT without `traffic` zeroes it (facts §8),
 * so this reads the endpoint, PUTs the full body back with the new traffic, follows the long-running operation,
 * and re-reads until the (eventually consistent) GET shows it. 409 (endpoint busy updating) is retried.
 * stdout: {"endpoint": NAME, "traffic": {...}, "changed": bool}.
 */
import { ArmClient, armEndpointFrom, isConflict } from "../lib/cli/arm";
import { num, parseArgs, str } from "../lib/cli/args";
import { runCli } from "../lib/cli/run";
import { azWorkspaceFlags, parseWorkspaceChildId } from "../lib/cli/ids";
import { sleep } from "../lib/cli/http";
import { errorMessage, formatDuration, log, OpsError, writeResult } from "../lib/cli/log";

const USAGE =
  "usage: tsx ops/set-traffic.ts --endpoint-id <ARM id> --deployment NAME [--delete] [--timeout-minutes 30] " +
  "[--poll-seconds 10] [--arm-endpoint URL]";

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

async function main(argv: string[]): Promise<void> {
  const args = parseArgs(
    argv,
    {
      "endpoint-id": { required: true },
      deployment: { required: true },
      delete: { boolean: true },
      "timeout-minutes": { default: "30" },
      "poll-seconds": { default: "10" },
      "arm-endpoint": {},
    },
    USAGE,
  );
  const endpointId = str(args, "endpoint-id");
  const scope = parseWorkspaceChildId(endpointId, ["onlineEndpoints"]);
  const endpointName = endpointId.split("/").pop()!;
  const dep = str(args, "deployment");
  const removing = args.delete === true;
  const timeoutMs = num(args, "timeout-minutes", { min: 0 }) * 60_000;
  const pollMs = num(args, "poll-seconds", { min: 0 }) * 1000;
  const arm = new ArmClient(armEndpointFrom(args["arm-endpoint"]));
  const started = Date.now();
  const deadline = started + timeoutMs;

  const current = await arm.tryGet<EndpointBody>(endpointId);
  if (!current) {
    if (removing) {
      log(`set-traffic: endpoint ${endpointName} no longer exists; nothing to move`);
      writeResult({ endpoint: endpointName, traffic: {}, changed: false });
      return;
    }
    throw new OpsError(`endpoint ${endpointName} not found (${endpointId})`);
  }
  const before = current.properties?.traffic ?? {};
  log(
    `set-traffic: endpoint ${endpointName} traffic now: ${fmt(before)} (${current.properties?.provisioningState ?? "?"})`,
  );

  let target: Traffic;
  if (removing) {
    if (!((before[dep] ?? 0) > 0)) {
      log(`set-traffic: deployment ${dep} holds no traffic; leaving the endpoint as it is`);
      writeResult({ endpoint: endpointName, traffic: before, changed: false });
      return;
    }
    target = trafficWithout(before, dep);
  } else {
    target = trafficAllTo(before, dep);
    if (sameTraffic(before, target) && current.properties?.provisioningState === "Succeeded") {
      log(`set-traffic: ${dep} already has 100 %`);
      writeResult({ endpoint: endpointName, traffic: before, changed: false });
      return;
    }
  }
  log(`set-traffic: setting traffic to ${fmt(target)}`);

  let latest: EndpointBody = current;
  for (let attempt = 1; ; attempt++) {
    try {
      const res = await arm.send("PUT", endpointId, { body: putBody(latest, target) });
      log(`  PUT accepted (HTTP ${res.status})`);
      await arm.waitForLro(res, {
        pollMs,
        timeoutMs: Math.max(0, deadline - Date.now()),
        what: `endpoint ${endpointName} update`,
      });
      break;
    } catch (err) {
      if (!isConflict(err) || Date.now() > deadline) throw err;
      log(
        `  409 Conflict (${errorMessage(err).replace(/^.*HTTP 409\s*/, "")}); the endpoint is busy, retrying in ${formatDuration(pollMs / 1000)} (attempt ${attempt})`,
      );
      await sleep(pollMs);
      // another writer may have changed the endpoint meanwhile: re-read before the next PUT
      latest = (await arm.tryGet<EndpointBody>(endpointId)) ?? latest;
    }
  }

  // The read lags the write (Azure/azure-dev PR #3881): re-read until the service reports the new traffic.
  for (;;) {
    const now = await arm.get<EndpointBody>(endpointId);
    const t = now.properties?.traffic ?? {};
    const state = now.properties?.provisioningState ?? "?";
    if (sameTraffic(t, target) && state === "Succeeded") {
      log(
        `set-traffic: endpoint ${endpointName} reports ${fmt(t)} (${formatDuration((Date.now() - started) / 1000)})`,
      );
      writeResult({ endpoint: endpointName, traffic: t, changed: true });
      return;
    }
    if (/^(Failed|Canceled)$/.test(state)) {
      throw new OpsError(
        `endpoint ${endpointName} is ${state} after the traffic update (traffic ${fmt(t)})`,
        [`Inspect: az ml online-endpoint show -n ${endpointName} ${azWorkspaceFlags(scope)}`],
      );
    }
    if (Date.now() > deadline) {
      throw new OpsError(
        `endpoint ${endpointName} still reports ${fmt(t)} (${state}) after ${formatDuration(timeoutMs / 1000)}`,
      );
    }
    log(`  endpoint still reports ${fmt(t)} (${state}); re-reading`);
    await sleep(pollMs);
  }
}

if (require.main === module) runCli("set-traffic", main);
