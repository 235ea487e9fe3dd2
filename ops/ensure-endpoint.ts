/**
 * ensure-endpoint: makes a managed online endpoint exist with the program's inputs (auth mode, description, public
 * network access, identity, tags), and never lets a write of those inputs touch its traffic:
 *   - absent: PUT without traffic (traffic cannot be set at creation: there are no deployments yet; Learn,
 *     reference-yaml-endpoint-online), then followed until Succeeded;
 *   - present with the same inputs: nothing sent;
 *   - present with other inputs (or Failed): PUT of the endpoint as it reads now with the new inputs, carrying
 *     its live `traffic`, `mirrorTraffic` and the rollout's own tags, then re-read until it reports that traffic.
 * Why a step and not an azure-native OnlineEndpoint: the provider PUTs only the inputs it holds, and the traffic
 * is not one of them (the rollout steps own it), so an input change would PUT the endpoint without `traffic`. What
 * the service does with that is documented nowhere; the official client always sends the map it read
 * (azure-ai-ml entities/_endpoint/online_endpoint.py `_to_rest_online_endpoint`; the CLI's `online-endpoint update`
 * is GET, merge, PUT). Also, an interrupted create of the provider's resource leaves a pending create that the next
 * `up` cannot get past ("cannot create already existing resource"), where this step finds and follows it.
 *
 *   ENDPOINT_SPEC='{"location","kind","identity","properties":{"authMode",...},"tags"}' tsx ops/ensure-endpoint.ts
 *     --endpoint-id <ARM id> [--timeout-minutes 30] [--poll-seconds 10] [--arm-endpoint URL]
 *   tsx ops/ensure-endpoint.ts --endpoint-id <ARM id> --delete      (the graph's delete: the endpoint and its
 *                                                                     deployments go)
 *
 * = OnlineEndpoints Get / CreateOrUpdate (PUT, Azure-AsyncOperation) / Delete (202, Location), ML 2025-12-01.
 * stdout: {"id","name","scoringUri","swaggerUri","authMode","created","updated"} (EndpointResult), or with --delete
 * {"name","deleted"}.
 */
import {
  ARM_FLAGS,
  ArmClient,
  armCliOptions,
  awaitProvisioning,
  deleteUntilGone,
  type ArmCliOptions,
} from "../lib/azure/arm";
import { usageLine, withFlags } from "../lib/toolkit/args";
import { jsonObjectFromEnv } from "../lib/azureml/assets";
import { CliError, UsageError } from "../lib/toolkit/errors";
import { azWorkspaceFlags, parseWorkspaceChildId, type ParsedId } from "../lib/azureml/ids";
import { log, writeResult } from "../lib/toolkit/log";
import { runCli } from "../lib/toolkit/run";
import { formatDuration, since } from "../lib/toolkit/time";
import {
  ROLLOUT_TAGS,
  formatTraffic,
  nonZero,
  writeTraffic,
  type EndpointBody,
} from "../lib/azureml/traffic";
import type { EndpointRemovalResult, EndpointResult } from "../lib/core/contracts";
import { ENDPOINT_AUTH_MODES } from "../lib/core/azureRules";

const FLAGS = {
  "endpoint-id": { type: "string", required: true, placeholder: "<ARM id>" },
  delete: { type: "boolean" },
  ...ARM_FLAGS,
} as const;

const USAGE = usageLine("ENDPOINT_SPEC='<JSON>' bash scripts/env.sh tsx ops/ensure-endpoint.ts", FLAGS);
const CLI = "ensure-endpoint";

/** The endpoint's inputs this step owns (OnlineEndpointTrackedResource, 2025-12-01, without traffic). */
export interface EndpointSpec {
  location: string;
  kind?: string;
  identity?: { type: string };
  properties: { authMode: string; description?: string; publicNetworkAccess?: string };
  tags?: Record<string, string>;
}

export interface EnsureEndpointOptions extends ArmCliOptions {
  endpoint: ParsedId;
  spec?: EndpointSpec;
  removing: boolean;
}

/** ENDPOINT_SPEC checked: a location, an auth mode the service knows, and no traffic (the rollout owns it). */
export function parseEndpointSpec(raw: Record<string, unknown>): EndpointSpec {
  if (typeof raw.location !== "string" || raw.location === "")
    throw new UsageError("ENDPOINT_SPEC.location is required (a non-empty string)");
  const props = raw.properties as Record<string, unknown> | undefined;
  if (!props || typeof props !== "object") throw new UsageError("ENDPOINT_SPEC.properties is required");
  if (!(ENDPOINT_AUTH_MODES as readonly string[]).includes(String(props.authMode))) {
    throw new UsageError(
      `ENDPOINT_SPEC.properties.authMode must be one of ${ENDPOINT_AUTH_MODES.join(", ")}, got ${JSON.stringify(props.authMode)}`,
    );
  }
  if ("traffic" in props || "mirrorTraffic" in props)
    throw new UsageError("ENDPOINT_SPEC must not set traffic: the rollout steps own it");
  return raw as unknown as EndpointSpec;
}

export const parseEnsureEndpointArgs = withFlags(FLAGS, (a): EnsureEndpointOptions => ({
  endpoint: parseWorkspaceChildId(a["endpoint-id"], ["onlineEndpoints"]),
  spec: a.delete ? undefined : parseEndpointSpec(jsonObjectFromEnv("ENDPOINT_SPEC")),
  removing: a.delete,
  ...armCliOptions(a),
}));

/** The tags the program owns: all but the rollout's record. */
function ownTags(tags: Record<string, string> | undefined): Record<string, string> {
  const out = { ...(tags ?? {}) };
  for (const k of ROLLOUT_TAGS) delete out[k];
  return out;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
const sortedTags = (t: Record<string, string>) => Object.fromEntries(Object.entries(t).sort());

/** The inputs in which `live` differs from `spec`, by name (empty: nothing to write). Pure. */
export function inputChanges(live: EndpointBody, spec: EndpointSpec): string[] {
  const p = live.properties ?? {};
  const changes: string[] = [];
  for (const k of ["authMode", "description", "publicNetworkAccess"] as const) {
    if (spec.properties[k] !== undefined && !same(p[k], spec.properties[k])) changes.push(k);
  }
  if (spec.kind !== undefined && live.kind !== undefined && live.kind !== spec.kind) changes.push("kind");
  if (spec.identity && live.identity?.type !== spec.identity.type) changes.push("identity");
  if (!same(sortedTags(ownTags(live.tags)), sortedTags(spec.tags ?? {}))) changes.push("tags");
  return changes;
}

/**
 * The endpoint as it should read: `live` with the spec's inputs, its traffic, mirror and rollout tags as they are
 * (the PUT body is built from this by lib/azureml/traffic.ts putBody, which drops the read-only fields). Pure.
 */
export function desiredEndpoint(live: EndpointBody, spec: EndpointSpec): EndpointBody {
  const rolloutTags = Object.fromEntries(
    Object.entries(live.tags ?? {}).filter(([k]) => (ROLLOUT_TAGS as readonly string[]).includes(k)),
  );
  return {
    ...live,
    kind: spec.kind ?? live.kind,
    identity: spec.identity ?? live.identity,
    tags: { ...(spec.tags ?? {}), ...rolloutTags },
    properties: { ...live.properties, ...spec.properties },
  };
}

/** Waits until the endpoint is Succeeded; a Failed or Canceled one, or the deadline, is an error. */
async function settle(arm: ArmClient, o: EnsureEndpointOptions, started: number): Promise<EndpointBody> {
  const r = await awaitProvisioning<EndpointBody>(arm, o.endpoint.id, { ...o, started, whileMissing: true });
  if (r.body && r.state === "Succeeded") return r.body;
  if (!r.timedOut) {
    throw new CliError(`endpoint ${o.endpoint.name} is ${r.state}`, [
      "The next `pulumi up` writes it again.",
      `Inspect: az ml online-endpoint show -n ${o.endpoint.name} ${azWorkspaceFlags(o.endpoint)}`,
    ]);
  }
  throw new CliError(
    `endpoint ${o.endpoint.name} is still ${r.state} after ${formatDuration(o.timeoutMs / 1000)}`,
    ["It keeps provisioning in Azure ML; the next `pulumi up` follows it."],
  );
}

/** PUT the spec as the first write (no traffic), follow it. */
async function create(arm: ArmClient, o: EnsureEndpointOptions & { spec: EndpointSpec }, started: number) {
  log(`${CLI}: creating endpoint ${o.endpoint.name} (${o.spec.properties.authMode} auth)`);
  const res = await arm.send("PUT", o.endpoint.id, { body: o.spec });
  log(`  PUT accepted (HTTP ${res.status})`);
  await arm.waitForLro(res, {
    pollMs: o.pollMs,
    timeoutMs: o.timeoutMs,
    what: `endpoint ${o.endpoint.name}`,
  });
  return settle(arm, o, started);
}

/** Write the inputs with the live traffic (writeTraffic: PUT, 409s, operation, re-read until it reports it). */
async function update(
  arm: ArmClient,
  o: EnsureEndpointOptions & { spec: EndpointSpec },
  live: EndpointBody,
  changes: string[],
): Promise<EndpointBody> {
  const traffic = nonZero(live.properties?.traffic);
  const mirrorTraffic = nonZero(live.properties?.mirrorTraffic);
  log(
    `${CLI}: endpoint ${o.endpoint.name}: writing ${changes.join(", ") || "it again"} with its live traffic (${formatTraffic(traffic)})`,
  );
  let now = live;
  // a 409 retry inside writeTraffic re-reads the endpoint, which can drop the new inputs: check and go again
  for (let attempt = 1; attempt <= 3; attempt++) {
    now = await writeTraffic(
      arm,
      o.endpoint,
      desiredEndpoint(now, o.spec),
      { traffic, mirrorTraffic },
      {
        ...o,
        cli: CLI,
      },
    );
    if (inputChanges(now, o.spec).length === 0) return now;
  }
  throw new CliError(
    `endpoint ${o.endpoint.name} did not take its new inputs (${inputChanges(now, o.spec).join(", ")})`,
  );
}

async function remove(arm: ArmClient, o: EnsureEndpointOptions): Promise<void> {
  const started = Date.now();
  if (!(await arm.tryGet<EndpointBody>(o.endpoint.id))) {
    log(`${CLI}: endpoint ${o.endpoint.name} does not exist: nothing to delete`);
    writeResult({ name: o.endpoint.name, deleted: false } satisfies EndpointRemovalResult);
    return;
  }
  log(`${CLI}: deleting endpoint ${o.endpoint.name} and its deployments`);
  const deleted = await deleteUntilGone(arm, o.endpoint.id, {
    deadline: started + o.timeoutMs,
    pollMs: o.pollMs,
    what: `endpoint ${o.endpoint.name}`,
    operation: `delete of endpoint ${o.endpoint.name}`,
    onStillThere: (state, past) => {
      if (past) throw new CliError(`endpoint ${o.endpoint.name} is still ${state} after its delete`);
    },
  });
  log(`${CLI}: endpoint ${o.endpoint.name} ${deleted ? `deleted (${since(started)})` : "was already gone"}`);
  writeResult({ name: o.endpoint.name, deleted } satisfies EndpointRemovalResult);
}

/** Create, update with the live traffic, or leave as it is → print. */
export async function ensureEndpoint(o: EnsureEndpointOptions): Promise<void> {
  const arm = new ArmClient(o.armEndpoint);
  if (o.removing || !o.spec) return remove(arm, o);
  const spec = o.spec;
  const started = Date.now();
  const live = await arm.tryGet<EndpointBody>(o.endpoint.id);
  let now: EndpointBody;
  let updated = false;
  const state = live?.properties?.provisioningState;
  if (!live) now = await create(arm, { ...o, spec }, started);
  else if (state === "Creating" || state === "Updating") {
    log(`${CLI}: endpoint ${o.endpoint.name} is ${state} (an earlier run started it): following it`);
    now = await settle(arm, o, started);
  } else now = live;
  const changes = inputChanges(now, spec);
  if (changes.length > 0 || now.properties?.provisioningState !== "Succeeded") {
    now = await update(arm, { ...o, spec }, now, changes);
    updated = true;
  } else if (live) log(`${CLI}: endpoint ${o.endpoint.name} has these inputs already: nothing sent`);
  const p = now.properties ?? {};
  writeResult({
    id: o.endpoint.id,
    name: o.endpoint.name,
    scoringUri: p.scoringUri ?? "",
    swaggerUri: p.swaggerUri ?? "",
    authMode: String(p.authMode ?? spec.properties.authMode),
    created: !live,
    updated,
  } satisfies EndpointResult);
}

export const cli = { name: CLI, usage: USAGE, parse: parseEnsureEndpointArgs, main: ensureEndpoint };

if (require.main === module) runCli(cli);
