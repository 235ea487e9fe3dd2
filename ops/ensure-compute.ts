/**
 * ensure-compute: makes an AmlCompute cluster exist with the program's settings, and removes the clusters of the same
 * owner that the program no longer declares:
 *   - absent: PUT, followed until Succeeded;
 *   - present with the same settings: nothing sent;
 *   - present with other mutable settings (max nodes, idle time, description): PUT (AmlCompute updates are PUTs:
 *     azure-ai-ml `_compute_operations.py` begin_update → begin_create_or_update);
 *   - then every other cluster of the workspace tagged `clusterOf=<the same owner>` (an earlier VM size, or one a
 *     failed `up` created) has its active jobs canceled and is deleted with its VMs (ops/delete-compute.ts).
 * Why a step and not an azure-native Compute: VM size and priority are part of the cluster's name, so going back
 * to an earlier size after a failed `up` would create a cluster that still exists, which the provider refuses
 * ("cannot create already existing resource"), and the old cluster's removal, pending in the state since the failed
 * `up`, would then delete the cluster in use. This step is updated in place (no replacement, so no pending delete):
 * it reuses what exists and sweeps what is not declared.
 *
 *   COMPUTE_SPEC='{"location","identity","properties":{"computeType":"AmlCompute",...},"tags":{"clusterOf":...}}'
 *     tsx ops/ensure-compute.ts --compute-id <ARM id> [--storage-account-id <ARM id>] [--timeout-minutes 30]
 *     [--poll-seconds 10] [--arm-endpoint URL]
 *
 * = Compute_Get → Compute_CreateOrUpdate (PUT, Azure-AsyncOperation; ML 2025-12-01 examples/Compute/createOrUpdate/
 * AmlCompute.json) → Compute_List + ops/delete-compute.ts for the others.
 * stdout: {"id","name","vmSize","principalId","created","updated","retired"} (ComputeResult); principalId is the
 * cluster's system-assigned identity, which the program grants access to the workspace's storage.
 */
import { createHash } from "node:crypto";
import { ARM_FLAGS, ArmClient, armCliOptions, awaitProvisioning, type ArmCliOptions } from "../lib/azure/arm";
import { usageLine, withFlags } from "../lib/toolkit/args";
import { jsonObjectFromEnv } from "../lib/azureml/assets";
import { CliError, UsageError } from "../lib/toolkit/errors";
import { azWorkspaceFlags, parseWorkspaceChildId, type ParsedId } from "../lib/azureml/ids";
import { log, writeResult } from "../lib/toolkit/log";
import { runCli } from "../lib/toolkit/run";
import { formatDuration } from "../lib/toolkit/time";
import type { ComputeResult } from "../lib/core/contracts";
import { OWNER_TAG, ownedClusters, removeCompute } from "./delete-compute";
import { STORAGE_ACCOUNT_ID } from "../lib/core/azureRules";

const FLAGS = {
  "compute-id": { type: "string", required: true, placeholder: "<ARM id>" },
  // the workspace's storage account: the cluster's identity gets Storage Blob Data Contributor on it
  "storage-account-id": { type: "string", placeholder: "<ARM id>" },
  ...ARM_FLAGS,
} as const;

const USAGE = usageLine("COMPUTE_SPEC='<JSON>' bash scripts/env.sh tsx ops/ensure-compute.ts", FLAGS);
const CLI = "ensure-compute";

/** The Compute body this step PUTs (ComputeResource, 2025-12-01, AmlCompute). */
export interface ComputeSpec {
  location: string;
  identity?: { type: string };
  properties: {
    computeType: "AmlCompute";
    properties: Record<string, unknown> & { vmSize: string };
  } & Record<string, unknown>;
  tags: Record<string, string>;
}

export interface EnsureComputeOptions extends ArmCliOptions {
  compute: ParsedId;
  spec: ComputeSpec;
  owner: string;
  storageAccountId?: string;
}

/** Built-in role "Storage Blob Data Contributor" (Learn: Azure built-in roles, Storage). */
export const STORAGE_BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe";
/** Role assignments API (azure-rest-api-specs authorization stable/2022-04-01, RoleAssignments_Create). */
export const AUTHORIZATION_API_VERSION = "2022-04-01";

/**
 * A role assignment's name from what it grants (scope, principal, role): the same grant always has the same name, so
 * writing it again is an idempotent PUT. Pure.
 */
export function roleAssignmentName(scope: string, principalId: string, roleId: string): string {
  const h = createHash("sha256").update(`${scope.toLowerCase()}|${principalId}|${roleId}`).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** COMPUTE_SPEC checked: an AmlCompute with a VM size, and the owner tag that finds its earlier clusters. */
export function parseComputeSpec(raw: Record<string, unknown>): ComputeSpec {
  if (typeof raw.location !== "string" || raw.location === "")
    throw new UsageError("COMPUTE_SPEC.location is required (a non-empty string)");
  const props = raw.properties as { computeType?: unknown; properties?: { vmSize?: unknown } } | undefined;
  if (props?.computeType !== "AmlCompute")
    throw new UsageError(
      `COMPUTE_SPEC.properties.computeType must be AmlCompute, got ${JSON.stringify(props?.computeType)}`,
    );
  if (typeof props.properties?.vmSize !== "string")
    throw new UsageError("COMPUTE_SPEC.properties.properties.vmSize is required");
  const owner = (raw.tags as Record<string, unknown> | undefined)?.[OWNER_TAG];
  if (typeof owner !== "string" || owner === "")
    throw new UsageError(
      `COMPUTE_SPEC.tags.${OWNER_TAG} is required: it finds the clusters the program no longer declares`,
    );
  return raw as unknown as ComputeSpec;
}

export const parseEnsureComputeArgs = withFlags(FLAGS, (a): EnsureComputeOptions => {
  const spec = parseComputeSpec(jsonObjectFromEnv("COMPUTE_SPEC"));
  const storage = a["storage-account-id"];
  if (storage !== undefined && !STORAGE_ACCOUNT_ID.test(storage))
    throw new UsageError(`--storage-account-id must be a storage account's ARM id, got '${storage}'`);
  return {
    compute: parseWorkspaceChildId(a["compute-id"], ["computes"]),
    spec,
    owner: spec.tags[OWNER_TAG],
    storageAccountId: storage,
    ...armCliOptions(a),
  };
});

/**
 * The cluster identity's Storage Blob Data Contributor on the workspace's account: the account takes no keys and the
 * datastores are identity-based, so a job (identity `managed`) reads its code and writes its outputs as that
 * identity (Learn how-to-identity-based-service-authentication). A PUT under a name derived from the grant: the
 * same grant is the same assignment, so a retry or a revert never meets "RoleAssignmentExists" the way a Pulumi
 * role assignment replaced create-before-delete would. The service answers any PUT of a grant that exists (the same
 * name included) with 409 RoleAssignmentExists, not 200 (Azure/azure-cli#8599; hashicorp/terraform-provider-azurerm
 * #28694: scope, role and principal define the assignment), so that 409 is the grant in place.
 */
async function grantStorage(arm: ArmClient, o: EnsureComputeOptions, principalId: string): Promise<void> {
  const scope = o.storageAccountId!;
  const roleId = `/subscriptions/${o.compute.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${STORAGE_BLOB_DATA_CONTRIBUTOR}`;
  const id = `${scope}/providers/Microsoft.Authorization/roleAssignments/${roleAssignmentName(scope, principalId, STORAGE_BLOB_DATA_CONTRIBUTOR)}`;
  const res = await arm.send("PUT", id, {
    query: { "api-version": AUTHORIZATION_API_VERSION },
    body: { properties: { roleDefinitionId: roleId, principalId, principalType: "ServicePrincipal" } },
    accept: [409],
  });
  if (res.status === 409 && !/RoleAssignmentExists/.test(res.text)) {
    throw new CliError(
      `granting the cluster's identity Storage Blob Data Contributor was refused (HTTP 409)`,
    );
  }
  log(`${CLI}: the cluster's identity holds Storage Blob Data Contributor on ${scope.split("/").pop()}`);
}

/** ISO 8601 durations as seconds (the service may answer PT2M for PT120S), other strings lower-cased. */
function normal(v: unknown): unknown {
  if (typeof v !== "string") return v;
  const m = /^PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?$/.exec(v);
  if (m && v !== "PT") return Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0);
  return v.toLowerCase();
}

/** The spec's leaves that the live cluster does not show (paths), for the mutable settings it holds. Pure. */
export function settingChanges(live: unknown, spec: unknown, path = ""): string[] {
  if (spec !== null && typeof spec === "object" && !Array.isArray(spec)) {
    const l = (live ?? {}) as Record<string, unknown>;
    return Object.entries(spec as Record<string, unknown>).flatMap(([k, v]) =>
      settingChanges(l[k], v, path ? `${path}.${k}` : k),
    );
  }
  return normal(live) === normal(spec) ? [] : [path];
}

interface ComputeBody {
  id?: string;
  name?: string;
  identity?: { type?: string; principalId?: string };
  properties?: { provisioningState?: string; properties?: Record<string, unknown> } & Record<string, unknown>;
  tags?: Record<string, string>;
}

/** Waits until the cluster is Succeeded; Failed or the deadline is an error that says what the next `up` does. */
async function settle(arm: ArmClient, o: EnsureComputeOptions, started: number): Promise<ComputeBody> {
  const r = await awaitProvisioning<ComputeBody>(arm, o.compute.id, { ...o, started, whileMissing: true });
  if (r.body && r.state === "Succeeded") return r.body;
  throw new CliError(
    `compute ${o.compute.name} is ${r.state}${r.state === "Failed" ? "" : ` after ${formatDuration(o.timeoutMs / 1000)}`}`,
    [
      "The next `pulumi up` writes it again.",
      `Inspect: az ml compute show -n ${o.compute.name} ${azWorkspaceFlags(o.compute)}`,
    ],
  );
}

/** Ensure the cluster, then sweep the owner's other clusters → print. */
export async function ensureCompute(o: EnsureComputeOptions): Promise<void> {
  const arm = new ArmClient(o.armEndpoint);
  const started = Date.now();
  const live = await arm.tryGet<ComputeBody>(o.compute.id);
  const changes = live ? settingChanges({ ...live, location: o.spec.location }, o.spec) : [];
  const write = !live || changes.length > 0 || live.properties?.provisioningState === "Failed";
  if (write) {
    log(
      live
        ? `${CLI}: compute ${o.compute.name}: writing ${changes.join(", ") || "it again"}`
        : `${CLI}: creating compute ${o.compute.name} (${o.spec.properties.properties.vmSize})`,
    );
    const res = await arm.send("PUT", o.compute.id, { body: o.spec });
    log(`  PUT accepted (HTTP ${res.status})`);
    await arm.waitForLro(res, {
      pollMs: o.pollMs,
      timeoutMs: o.timeoutMs,
      what: `compute ${o.compute.name}`,
    });
  } else log(`${CLI}: compute ${o.compute.name} has these settings already: nothing sent`);
  const settled = await settle(arm, o, started);
  const principalId = settled.identity?.principalId;
  if (!principalId) throw new CliError(`compute ${o.compute.name} reports no system-assigned identity`);
  if (o.storageAccountId) await grantStorage(arm, o, principalId);
  const retired: string[] = [];
  for (const id of await ownedClusters(arm, o.compute.workspaceId, o.owner, o.compute.id)) {
    log(`${CLI}: ${id.split("/").pop()} (${OWNER_TAG}=${o.owner}) is no longer declared: removing it`);
    if (
      await removeCompute(arm, {
        ...o,
        compute: parseWorkspaceChildId(id, ["computes"]),
        cancelTimeoutMs: 10 * 60_000,
      })
    )
      retired.push(id.split("/").pop()!);
  }
  writeResult({
    id: o.compute.id,
    name: o.compute.name,
    vmSize: o.spec.properties.properties.vmSize,
    principalId,
    created: !live,
    updated: !!live && write,
    retired,
  } satisfies ComputeResult);
}

export const cli = { name: CLI, usage: USAGE, parse: parseEnsureComputeArgs, main: ensureCompute };

if (require.main === module) runCli(cli);
