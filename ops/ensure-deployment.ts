/**
 * ensure-deployment: makes an online deployment exist and be Succeeded, reusing one of the same name. The graph names
 * a deployment after a hash of everything that defines it (model, code, environment, instance type and count,
 * settings), so the same name means the same deployment:
 *   - Succeeded: reused, no PUT (a PUT of a live deployment is a rolling update, and resets an autoscaled
 *     `sku.capacity` to the declared one);
 *   - Creating/Updating (an `up` was interrupted while it provisioned): followed;
 *   - absent, or Failed/Canceled and holding no traffic: PUT (ARM PUT creates or re-provisions), then followed.
 * Why a step and not an azure-native OnlineDeployment: the provider refuses to create a resource that already exists
 * (pulumi-azure-native provider/pkg/provider/provider.go, CanCreate: "cannot create already existing resource"), so
 * reverting to a configuration whose deployment still serves (after a failed rollout) would fail `up`, and that
 * deployment holds the traffic and cannot be deleted to make room. Never deletes a deployment that serves.
 * On a failed provisioning: the operation's error and the deployment's log tail, then the failed deployment is
 * deleted (it bills while it stands) unless --keep-failed; exit 1. The next `up` creates it again.
 * Once it is Succeeded, the endpoint's other deployments that hold no traffic and are not recorded as serving (left
 * at 0 % by a failed smoke test or a rolled-back watch) are retired: this step runs on every change of the
 * deployment, a revert included, when the later steps of the serving deployment are unchanged and do not run.
 *
 *   DEPLOYMENT_SPEC='{"location","kind","sku","properties","tags"}' tsx ops/ensure-deployment.ts
 *     --endpoint-id <ARM id> --deployment NAME [--keep-failed] [--log-lines 50] [--timeout-minutes 60]
 *     [--poll-seconds 15] [--arm-endpoint URL]
 *
 * = `GET <endpoint>/deployments/<name>` → `PUT` with DEPLOYMENT_SPEC (OnlineDeployments_CreateOrUpdate, ML 2025-12-01,
 * examples/Workspace/OnlineDeployment/KubernetesOnlineDeployment and ManagedOnlineDeployment createOrUpdate.json:
 * 200/201 with Azure-AsyncOperation) → poll GET until provisioningState is Succeeded, Failed or Canceled.
 * stdout: {"id","name","endpoint","provisioningState","reused","retired"} (DeploymentResult).
 */
import {
  ARM_FLAGS,
  ArmClient,
  armCliOptions,
  awaitProvisioning,
  SETTLED_STATE,
  type ArmCliOptions,
} from "../lib/azure/arm";
import { usageLine, withFlags } from "../lib/toolkit/args";
import { checkNameSegment, jsonObjectFromEnv } from "../lib/azureml/assets";
import { mustKeep, retireFailed, retireStale } from "../lib/azureml/deployments";
import { CliError, UsageError, errorMessage } from "../lib/toolkit/errors";
import { azWorkspaceFlags, parseWorkspaceChildId, type ParsedId } from "../lib/azureml/ids";
import { log, writeResult } from "../lib/toolkit/log";
import { runCli } from "../lib/toolkit/run";
import { formatDuration, since } from "../lib/toolkit/time";
import type { EndpointBody } from "../lib/azureml/traffic";
import type { DeploymentResult } from "../lib/core/contracts";
import { failureDetails } from "../lib/azureml/deploymentCheck";

const FLAGS = {
  "endpoint-id": { type: "string", required: true, placeholder: "<ARM id>" },
  deployment: { type: "string", required: true, placeholder: "NAME" },
  "keep-failed": { type: "boolean" },
  "log-lines": { type: "number", integer: true, min: 0, max: 10000, default: 50 },
  ...ARM_FLAGS,
  // the first deployment of an environment builds its image: tens of minutes
  "timeout-minutes": { type: "number", min: 0, default: 60 },
  "poll-seconds": { type: "number", min: 0, default: 15 },
} as const;

const USAGE = usageLine("DEPLOYMENT_SPEC='<JSON>' bash scripts/env.sh tsx ops/ensure-deployment.ts", FLAGS);
const CLI = "ensure-deployment";

/** The OnlineDeployment body this step PUTs (OnlineDeploymentTrackedResource, 2025-12-01). */
export interface DeploymentSpec {
  location: string;
  kind?: string;
  sku?: { name: string; capacity?: number };
  properties: Record<string, unknown> & { endpointComputeType: string };
  tags?: Record<string, string>;
}

export interface EnsureDeploymentOptions extends ArmCliOptions {
  endpoint: ParsedId;
  deployment: string;
  spec: DeploymentSpec;
  keepFailed: boolean;
  logLines: number;
}

/** DEPLOYMENT_SPEC checked for what the service requires (location; properties.endpointComputeType). */
export function parseDeploymentSpec(raw: Record<string, unknown>): DeploymentSpec {
  if (typeof raw.location !== "string" || raw.location === "")
    throw new UsageError("DEPLOYMENT_SPEC.location is required (a non-empty string)");
  const props = raw.properties as Record<string, unknown> | undefined;
  if (!props || typeof props !== "object" || Array.isArray(props))
    throw new UsageError("DEPLOYMENT_SPEC.properties is required (an object)");
  if (props.endpointComputeType !== "Managed" && props.endpointComputeType !== "Kubernetes") {
    throw new UsageError(
      `DEPLOYMENT_SPEC.properties.endpointComputeType must be Managed or Kubernetes, got ${JSON.stringify(props.endpointComputeType)}`,
    );
  }
  return raw as unknown as DeploymentSpec;
}

export const parseEnsureDeploymentArgs = withFlags(FLAGS, (a): EnsureDeploymentOptions => ({
  endpoint: parseWorkspaceChildId(a["endpoint-id"], ["onlineEndpoints"]),
  deployment: checkNameSegment("deployment", a.deployment),
  spec: parseDeploymentSpec(jsonObjectFromEnv("DEPLOYMENT_SPEC")),
  keepFailed: a["keep-failed"],
  logLines: a["log-lines"],
  ...armCliOptions(a),
}));

interface DeploymentBody {
  id?: string;
  name?: string;
  properties?: { provisioningState?: string };
}

/** Waits until the deployment's provisioning settles; its disappearance or the deadline is an error. */
async function follow(
  arm: ArmClient,
  id: string,
  o: EnsureDeploymentOptions,
  started: number,
): Promise<DeploymentBody> {
  const r = await awaitProvisioning<DeploymentBody>(arm, id, { ...o, started, whileMissing: false });
  if (!r.body) throw new CliError(`deployment ${o.deployment} disappeared while it was provisioning`);
  if (!r.timedOut) return r.body;
  throw new CliError(
    `deployment ${o.deployment} is still ${r.state} after ${formatDuration(o.timeoutMs / 1000)}; it keeps provisioning in Azure ML`,
    [
      "The next `pulumi up` follows it (same name, same content) instead of creating another.",
      `Watch it: az ml online-deployment show -n ${o.deployment} -e ${o.endpoint.name} ${azWorkspaceFlags(o.endpoint)}`,
    ],
    1,
    { name: o.deployment, provisioningState: r.state },
  );
}

/** PUT the spec (409s are the service's "busy": the caller's next `up` retries) and follow its operation. */
async function put(arm: ArmClient, id: string, o: EnsureDeploymentOptions): Promise<string | undefined> {
  const res = await arm.send("PUT", id, { body: o.spec });
  log(`  PUT accepted (HTTP ${res.status})`);
  try {
    await arm.waitForLro(res, {
      pollMs: o.pollMs,
      timeoutMs: o.timeoutMs,
      what: `deployment ${o.deployment}`,
    });
    return undefined;
  } catch (err) {
    // the operation's error; the deployment's state is read next and decides
    return errorMessage(err);
  }
}

/** Failed: its log tail, then (unless --keep-failed and unless it serves) it goes; exit 1. */
async function failed(
  arm: ArmClient,
  o: EnsureDeploymentOptions,
  state: string,
  why?: string,
): Promise<never> {
  const more = await failureDetails(arm, o.endpoint, o.deployment, o.logLines);
  const left = o.keepFailed
    ? `${o.deployment} is left in place for inspection (--keep-failed); it bills until deleted.`
    : await retireFailed(arm, o.endpoint, o.deployment, { ...o, cli: CLI });
  throw new CliError(
    `deployment ${o.deployment} is ${state}${why ? `: ${why}` : ""}`,
    ["No traffic was moved: whatever served before keeps serving.", left, ...more],
    1,
    { name: o.deployment, provisioningState: state },
  );
}

/** Reuse, follow or create → print. */
export async function ensureDeployment(o: EnsureDeploymentOptions): Promise<void> {
  const arm = new ArmClient(o.armEndpoint);
  const id = `${o.endpoint.id}/deployments/${encodeURIComponent(o.deployment)}`;
  const started = Date.now();
  const result = (state: string, reused: boolean): DeploymentResult => ({
    id,
    name: o.deployment,
    endpoint: o.endpoint.name,
    provisioningState: state,
    reused,
  });
  log(`${CLI}: deployment ${o.deployment} of endpoint ${o.endpoint.name}`);
  const existing = await arm.tryGet<DeploymentBody>(id);
  const state = existing?.properties?.provisioningState;
  if (state === "Succeeded") {
    log(`${CLI}: ${o.deployment} exists and is Succeeded: reused, nothing sent`);
    writeResult({
      ...result(state, true),
      retired: await retireStale(arm, o.endpoint, o.deployment, { ...o, cli: CLI }),
    });
    return;
  }
  let why: string | undefined;
  if (existing && !SETTLED_STATE.test(state ?? "")) {
    log(`${CLI}: ${o.deployment} is ${state ?? "?"} (an earlier run started it): following it`);
  } else {
    if (existing) {
      // Failed or Canceled: never touch one that serves; otherwise a PUT provisions it again
      const keep = mustKeep(await arm.tryGet<EndpointBody>(o.endpoint.id), o.deployment);
      if (keep) throw new CliError(`deployment ${o.deployment} is ${state} and ${keep}: not re-provisioned`);
      log(`${CLI}: ${o.deployment} is ${state}: provisioning it again`);
    } else log(`${CLI}: creating ${o.deployment} (${o.spec.properties.instanceType ?? "?"})`);
    why = await put(arm, id, o);
  }
  const after = await follow(arm, id, o, started);
  const final = after.properties?.provisioningState ?? "Unknown";
  if (final !== "Succeeded") return failed(arm, o, final, why);
  log(`${CLI}: ${o.deployment} is Succeeded (${since(started)})`);
  const retired = await retireStale(arm, o.endpoint, o.deployment, { ...o, cli: CLI });
  writeResult({ ...result(final, existing !== undefined), retired });
}

export const cli = { name: CLI, usage: USAGE, parse: parseEnsureDeploymentArgs, main: ensureDeployment };

if (require.main === module) runCli(cli);
