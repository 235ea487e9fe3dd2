/**
 * An online endpoint's traffic, as the CLIs that move it (ops/set-traffic.ts, ops/rollout.ts) read and write it.
 *
 * ARM has no traffic operation: PATCH accepts only tags/identity and a PUT without `traffic` zeroes it, so a write
 * reads the endpoint, PUTs the full body back with the new `traffic` (and `mirrorTraffic`, which sits beside it in
 * the properties), follows the long-running operation, and re-reads until the eventually consistent GET shows it.
 * A 409 (the endpoint is busy with another update) is retried. The split helpers are pure (unit-tested).
 */
import { retryOnConflict, type ArmClient } from "../azure/arm";
import { CliError } from "../toolkit/errors";
import { azWorkspaceFlags, type ParsedId } from "./ids";
import { log } from "../toolkit/log";
import { formatDuration, since, sleep } from "../toolkit/time";

/** deployment name → percent */
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

/**
 * What a write sets: `mirrorTraffic` undefined keeps the current one (minus the deployments going live); `tags`
 * sets (a string) or removes (undefined) the rollout's own endpoint tags, in the same PUT as the traffic.
 */
export interface TrafficTarget {
  traffic: Traffic;
  mirrorTraffic?: Traffic;
  tags?: RolloutTags;
}

/**
 * The rollout's record on the endpoint itself, written in the same PUT as the traffic it describes, so that an
 * interrupted `up` leaves it beside the split it left (a CI runner's disk is gone by the next run):
 *   - SERVING_TAG: the deployment that last took 100 % after passing its checks (smoke, watch): what an
 *     interrupted or failed rollout goes back to;
 *   - INTENT_TAG: `<deployment> <mode> <percent>` while a canary or mirror is staged; removed on pass or rollback.
 * ops/ensure-endpoint.ts keeps both when it writes the endpoint's own inputs.
 */
export const SERVING_TAG = "rolloutServing";
export const INTENT_TAG = "rolloutIntent";
export const ROLLOUT_TAGS = [SERVING_TAG, INTENT_TAG] as const;
export type RolloutTags = Partial<Record<(typeof ROLLOUT_TAGS)[number], string | undefined>>;

/**
 * `t` without its 0 % entries. Absent means 0 to the service, and the official client strips zeroes from both
 * maps before every PUT (azure-ai-ml operations/_online_endpoint_operations.py `_strip_zeroes_from_traffic`):
 * a deployment named at 0 in `traffic` while it is mirrored would be in both maps, which the service refuses
 * ("A deployment can only be set to live or mirror traffic, not both", Learn: how-to-safely-rollout-online-endpoints).
 */
export function nonZero(t: Traffic | undefined): Traffic {
  return Object.fromEntries(Object.entries(t ?? {}).filter(([, v]) => Number(v) !== 0));
}

/** `tags` with the rollout tags of `change` applied: a string sets, undefined removes. */
export function withRolloutTags(
  tags: Record<string, string> | undefined,
  change: RolloutTags | undefined,
): Record<string, string> | undefined {
  if (!change) return tags;
  const out: Record<string, string> = { ...(tags ?? {}) };
  for (const [k, v] of Object.entries(change)) {
    if (v === undefined) delete out[k];
    else out[k] = v;
  }
  return out;
}

/** Server-filled endpoint properties that a PUT must not send back. */
const READ_ONLY_PROPERTIES = ["provisioningState", "scoringUri", "swaggerUri"];

/** `mirror` without the deployments that hold live traffic in `traffic`. */
function mirrorBeside(mirror: Traffic, traffic: Traffic): Traffic {
  const out = { ...mirror };
  for (const dep of Object.keys(traffic)) if ((traffic[dep] ?? 0) > 0) delete out[dep];
  return out;
}

/** The identity as a PUT sends it: principal/tenant ids and the user-assigned identities' ids are read-only. */
function writableIdentity(identity: NonNullable<EndpointBody["identity"]>): EndpointBody["identity"] {
  const { type, userAssignedIdentities } = identity;
  if (!userAssignedIdentities) return { type };
  // send the identities' ARM ids with empty objects, as ARM expects
  return {
    type,
    userAssignedIdentities: Object.fromEntries(Object.keys(userAssignedIdentities).map((k) => [k, {}])),
  };
}

/**
 * The PUT body for `endpoint` with `traffic` (and `mirrorTraffic` when given): every writable field of the GET kept
 * (location, kind, tags, sku, identity, authMode, description, publicNetworkAccess, mirrorTraffic, compute,
 * properties...), read-only ones dropped. A deployment cannot take live and mirrored traffic at once ("A deployment
 * can't receive both live and mirror traffic", Learn: how-to-safely-rollout-online-endpoints), so a kept
 * `mirrorTraffic` loses the deployments going live.
 */
export function putBody(
  endpoint: EndpointBody,
  traffic: Traffic,
  mirrorTraffic?: Traffic,
  tags?: RolloutTags,
): EndpointBody {
  const props: Record<string, unknown> = { ...(endpoint.properties ?? {}) };
  for (const k of READ_ONLY_PROPERTIES) delete props[k];
  const live = nonZero(traffic);
  props.traffic = live;
  if (mirrorTraffic) props.mirrorTraffic = nonZero(mirrorBeside(mirrorTraffic, live));
  else if (props.mirrorTraffic && typeof props.mirrorTraffic === "object") {
    props.mirrorTraffic = nonZero(mirrorBeside(props.mirrorTraffic as Traffic, live));
  }
  const body: EndpointBody = { location: endpoint.location, properties: props as EndpointBody["properties"] };
  if (endpoint.kind !== undefined) body.kind = endpoint.kind;
  const newTags = withRolloutTags(endpoint.tags, tags);
  if (newTags !== undefined) body.tags = newTags;
  if (endpoint.sku !== undefined) body.sku = endpoint.sku;
  if (endpoint.identity) body.identity = writableIdentity(endpoint.identity);
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
 * The shares of `entries` scaled to sum to `total` in whole percents (largest remainder, ties to the earlier one);
 * all 0 when none has any.
 */
export function scaleShares(entries: Array<[string, number]>, total: number): Traffic {
  const sum = entries.reduce((s, [, v]) => s + Math.max(0, v), 0);
  if (sum <= 0) return Object.fromEntries(entries.map(([k]) => [k, 0]));
  const raw = entries.map(([k, v]) => [k, (Math.max(0, v) * total) / sum] as const);
  const floored = raw.map(([k, v]) => [k, Math.floor(v)] as [string, number]);
  let rest = total - floored.reduce((s, [, v]) => s + v, 0);
  const order = raw.map(([, v], i) => [i, v - Math.floor(v)] as const).sort((a, b) => b[1] - a[1]);
  for (const [i] of order) {
    if (rest <= 0) break;
    floored[i][1] += 1;
    rest--;
  }
  return Object.fromEntries(floored);
}

/**
 * Traffic without `dep`: the other deployments keep their relative shares scaled back up to 100 % (largest
 * remainder), or everything is 0 when no other deployment had any.
 */
export function trafficWithout(current: Traffic | undefined, dep: string): Traffic {
  return scaleShares(
    Object.entries(current ?? {}).filter(([k]) => k !== dep),
    100,
  );
}

/** The deployments other than `dep` that serve live traffic (> 0 %): what a rollout of `dep` replaces. */
export function servingBesides(traffic: Traffic | undefined, dep: string): string[] {
  return Object.entries(traffic ?? {})
    .filter(([k, v]) => k !== dep && v > 0)
    .map(([k]) => k);
}

/** A canary split: `dep` at `percent`, the deployments serving now sharing the rest in their current proportions. */
export function canaryTraffic(current: Traffic | undefined, dep: string, percent: number): Traffic {
  const others = Object.entries(current ?? {}).filter(([k]) => k !== dep);
  return { ...scaleShares(others, 100 - percent), [dep]: percent };
}

/** Back to what served before the rollout: `dep` at 0, the others as they were (scaled to 100 % without it). */
export function rollbackTraffic(before: Traffic | undefined, dep: string): Traffic {
  return { ...trafficWithout(before, dep), [dep]: 0 };
}

/** The three writes of a watched rollout of `dep`: the split it is watched under, and what a pass or a breach sets. */
export interface RolloutPlan {
  stage: TrafficTarget;
  pass: TrafficTarget;
  rollback: TrafficTarget;
}

/**
 * canary: `dep` takes `percent` of the live traffic; mirror: live traffic stays with what served (`dep` absent from
 * it, as a deployment cannot take both) and `dep` gets a copy of `percent` of it. A pass gives `dep` 100 % (ends
 * any mirror, records `dep` as serving); a breach puts back what served before, no mirror. Each write also sets or
 * clears the intent tag. Pure.
 */
export function rolloutPlan(
  mode: "canary" | "mirror",
  before: Traffic,
  dep: string,
  percent: number,
): RolloutPlan {
  const back = nonZero(rollbackTraffic(before, dep));
  const all = nonZero(trafficAllTo(before, dep));
  const staged = { [INTENT_TAG]: `${dep} ${mode} ${percent}` };
  const passed = { [SERVING_TAG]: dep, [INTENT_TAG]: undefined };
  const ended = { [INTENT_TAG]: undefined };
  if (mode === "canary") {
    return {
      stage: { traffic: nonZero(canaryTraffic(before, dep, percent)), tags: staged },
      pass: { traffic: all, mirrorTraffic: {}, tags: passed },
      rollback: { traffic: back, mirrorTraffic: {}, tags: ended },
    };
  }
  return {
    stage: { traffic: back, mirrorTraffic: { [dep]: percent }, tags: staged },
    pass: { traffic: all, mirrorTraffic: {}, tags: passed },
    rollback: { traffic: back, mirrorTraffic: {}, tags: ended },
  };
}

export function sameTraffic(a: Traffic | undefined, b: Traffic): boolean {
  const keys = new Set([...Object.keys(a ?? {}), ...Object.keys(b)]);
  for (const k of keys) if ((a?.[k] ?? 0) !== (b[k] ?? 0)) return false;
  return true;
}

/** `a=90, b=10`, or `(none)`. */
export function formatTraffic(t: Traffic | undefined): string {
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
): { target: Traffic; tags: RolloutTags } | { unchanged: string } {
  const before = current.properties?.traffic ?? {};
  const tags = current.tags ?? {};
  if (removing) {
    if (!((before[dep] ?? 0) > 0))
      return { unchanged: `deployment ${dep} holds no traffic; leaving the endpoint as it is` };
    // the record must never name a deployment that no longer serves
    return {
      target: nonZero(trafficWithout(before, dep)),
      tags: tags[SERVING_TAG] === dep ? { [SERVING_TAG]: undefined } : {},
    };
  }
  const target = nonZero(trafficAllTo(before, dep));
  const recorded = tags[SERVING_TAG] === dep && tags[INTENT_TAG] === undefined;
  const mirrored = Object.keys(nonZero(current.properties?.mirrorTraffic)).length > 0;
  if (
    sameTraffic(before, target) &&
    !mirrored &&
    recorded &&
    current.properties?.provisioningState === "Succeeded"
  ) {
    return { unchanged: `${dep} already has 100 %` };
  }
  return { target, tags: { [SERVING_TAG]: dep, [INTENT_TAG]: undefined } };
}

/** How a write waits: poll period, time limit, and the CLI name its lines start with. */
export interface WriteOptions {
  pollMs: number;
  timeoutMs: number;
  cli: string;
}

/** PUTs the endpoint back with `target` and follows the operation; a 409 (busy endpoint) re-reads and tries again. */
async function putTarget(
  arm: ArmClient,
  endpoint: ParsedId,
  current: EndpointBody,
  target: TrafficTarget,
  o: WriteOptions & { deadline: number },
): Promise<void> {
  let latest = current;
  await retryOnConflict(
    async () => {
      const res = await arm.send("PUT", endpoint.id, {
        body: putBody(latest, target.traffic, target.mirrorTraffic, target.tags),
      });
      log(`  PUT accepted (HTTP ${res.status})`);
      await arm.waitForLro(res, {
        pollMs: o.pollMs,
        timeoutMs: Math.max(0, o.deadline - Date.now()),
        what: `endpoint ${endpoint.name} update`,
      });
    },
    {
      deadline: o.deadline,
      pollMs: o.pollMs,
      what: "the endpoint",
      // another writer may have changed the endpoint meanwhile: re-read before the next PUT
      beforeRetry: async () => {
        latest = (await arm.tryGet<EndpointBody>(endpoint.id)) ?? latest;
      },
    },
  );
}

/** True when the endpoint shows `target` (mirror included when the target sets it). */
function reports(now: EndpointBody, target: TrafficTarget): boolean {
  const p = now.properties;
  if (!sameTraffic(p?.traffic, target.traffic)) return false;
  if (!target.mirrorTraffic) return true;
  return sameTraffic(p?.mirrorTraffic, mirrorBeside(nonZero(target.mirrorTraffic), target.traffic));
}

function shown(p: EndpointBody["properties"]): string {
  const mirror = Object.entries(p?.mirrorTraffic ?? {}).filter(([, v]) => v > 0);
  return (
    formatTraffic(p?.traffic) +
    (mirror.length ? ` (mirror ${formatTraffic(Object.fromEntries(mirror))})` : "")
  );
}

/** Re-reads until the endpoint reports `target` and Succeeded: the read lags the write (Azure/azure-dev PR #3881). */
async function awaitReported(
  arm: ArmClient,
  endpoint: ParsedId,
  target: TrafficTarget,
  o: WriteOptions & { started: number; deadline: number },
): Promise<EndpointBody> {
  for (;;) {
    const now = await arm.get<EndpointBody>(endpoint.id);
    const state = now.properties?.provisioningState ?? "?";
    if (reports(now, target) && state === "Succeeded") {
      log(`${o.cli}: endpoint ${endpoint.name} reports ${shown(now.properties)} (${since(o.started)})`);
      return now;
    }
    if (/^(Failed|Canceled)$/.test(state)) {
      throw new CliError(
        `endpoint ${endpoint.name} is ${state} after the traffic update (traffic ${shown(now.properties)})`,
        [`Inspect: az ml online-endpoint show -n ${endpoint.name} ${azWorkspaceFlags(endpoint)}`],
      );
    }
    if (Date.now() > o.deadline) {
      throw new CliError(
        `endpoint ${endpoint.name} still reports ${shown(now.properties)} (${state}) after ${formatDuration(o.timeoutMs / 1000)}`,
      );
    }
    log(`  endpoint still reports ${shown(now.properties)} (${state}); re-reading`);
    await sleep(o.pollMs);
  }
}

/**
 * Writes `target` onto the endpoint read as `current` (PUT, 409s retried, operation followed) and waits until the
 * endpoint reports it; returns the endpoint as it then reads. `started` (default now) starts the time limit.
 */
export async function writeTraffic(
  arm: ArmClient,
  endpoint: ParsedId,
  current: EndpointBody,
  target: TrafficTarget,
  o: WriteOptions & { started?: number },
): Promise<EndpointBody> {
  const started = o.started ?? Date.now();
  const deadline = started + o.timeoutMs;
  const mirror = target.mirrorTraffic ? ` and mirror traffic to ${formatTraffic(target.mirrorTraffic)}` : "";
  log(`${o.cli}: setting traffic to ${formatTraffic(target.traffic)}${mirror}`);
  await putTarget(arm, endpoint, current, target, { ...o, deadline });
  return awaitReported(arm, endpoint, target, { ...o, started, deadline });
}

/** What a move did: the endpoint's traffic afterwards, and whether anything was written. */
export interface MoveResult {
  traffic: Traffic;
  changed: boolean;
}

/**
 * set-traffic's step, shared with rollout: 100 % to `dep`, or (`removing`) traffic off `dep` only if it still holds
 * some. Reads the endpoint unless given it; a gone endpoint is nothing to move when removing, an error otherwise.
 */
export async function moveTraffic(
  arm: ArmClient,
  endpoint: ParsedId,
  dep: string,
  removing: boolean,
  o: WriteOptions & { current?: EndpointBody },
): Promise<MoveResult> {
  const started = Date.now();
  const current = o.current ?? (await arm.tryGet<EndpointBody>(endpoint.id));
  if (!current) {
    if (!removing) throw new CliError(`endpoint ${endpoint.name} not found (${endpoint.id})`);
    log(`${o.cli}: endpoint ${endpoint.name} no longer exists; nothing to move`);
    return { traffic: {}, changed: false };
  }
  const before = current.properties?.traffic ?? {};
  const state = current.properties?.provisioningState ?? "?";
  log(`${o.cli}: endpoint ${endpoint.name} traffic now: ${formatTraffic(before)} (${state})`);
  const decision = decideTraffic(current, dep, removing);
  if ("unchanged" in decision) {
    log(`${o.cli}: ${decision.unchanged}`);
    return { traffic: before, changed: false };
  }
  // moving traffic to a deployment ends any mirror; moving it off keeps the others' mirror as it is
  const target: TrafficTarget = removing
    ? { traffic: decision.target, tags: decision.tags }
    : { traffic: decision.target, mirrorTraffic: {}, tags: decision.tags };
  const after = await writeTraffic(arm, endpoint, current, target, { ...o, started });
  return { traffic: after.properties?.traffic ?? {}, changed: true };
}

/** Where a rollout of `dep` starts from: what served before it, and the write that first settles a half-done one. */
export interface RolloutStart {
  /** the deployments that served before: what a breach goes back to (none: a first deployment, or a revert) */
  previous: string[];
  /** the live traffic the rollout plans from, once `restore` (if any) is written */
  base: Traffic;
  /** a write that settles the endpoint before anything else: back to the recorded serving deployment */
  restore?: TrafficTarget;
  /** why `restore` is needed, for the log */
  note?: string;
}

/**
 * Pure: where a rollout of `dep` starts on `current` (whose deployments are `existing`). An earlier rollout that was
 * interrupted (SIGTERM of a cancelled CI job, a killed runner) or failed half way leaves its intent tag, a split, or
 * a stale mirror. When the endpoint records which deployment last passed (SERVING_TAG) and it still exists, that one
 * first gets 100 % back with no mirror and no intent: traffic never stays on a deployment that has not passed, and
 * the new rollout (a retry of the same deployment, or a revert to the serving one) starts from a settled endpoint.
 * Without the record (an endpoint whose traffic was set by hand), the live split is taken as it is, and only a
 * stale mirror is ended.
 */
export function rolloutStart(
  current: EndpointBody,
  dep: string,
  existing: ReadonlySet<string>,
): RolloutStart {
  const live = nonZero(current.properties?.traffic);
  const mirror = nonZero(current.properties?.mirrorTraffic);
  const tags = current.tags ?? {};
  const serving = tags[SERVING_TAG];
  const intent = tags[INTENT_TAG];
  const halfDone =
    intent !== undefined ||
    Object.keys(mirror).length > 0 ||
    (serving !== undefined && live[serving] !== 100);
  if (serving !== undefined && existing.has(serving) && halfDone) {
    const base = { [serving]: 100 };
    const left = `${formatTraffic(live)}${Object.keys(mirror).length ? `, mirror ${formatTraffic(mirror)}` : ""}`;
    return {
      previous: serving === dep ? [] : [serving],
      base,
      restore: { traffic: base, mirrorTraffic: {}, tags: { [INTENT_TAG]: undefined } },
      note: `an earlier rollout${intent ? ` (${intent})` : ""} did not finish (${left}): ${serving}, which last passed, gets 100 % back first`,
    };
  }
  if (Object.keys(mirror).length > 0 || intent !== undefined) {
    return {
      previous: servingBesides(live, dep),
      base: live,
      restore: { traffic: live, mirrorTraffic: {}, tags: { [INTENT_TAG]: undefined } },
      note: `a stale mirror or intent (${formatTraffic(mirror)}${intent ? `; ${intent}` : ""}) is ended first`,
    };
  }
  return { previous: servingBesides(live, dep), base: live };
}
