/**
 * The ARM reads of the quota and registration pre-flight (ops/preflight.ts): Azure ML's usages and VM sizes in a
 * region, the registration state of resource providers, and whether the stack's online deployment already exists.
 * Reads only. Shapes (azure-rest-api-specs): ML 2025-12-01 examples/Usage/list.json and
 * examples/VirtualMachineSize/list.json; Microsoft.Resources 2025-04-01 examples/GetProvider.json.
 */
import { type ArmClient, listAll } from "../azure/arm";
import { jsonOf } from "../azure/http";
import type { ProviderInfo, UsageRow, VmSizeInfo } from "../core/preflightRules";

/** Microsoft.Resources API version of the provider reads. */
export const RESOURCES_API_VERSION = "2025-04-01";
export const ML_NAMESPACE = "Microsoft.MachineLearningServices";
const seg = encodeURIComponent;
const mlLocation = (sub: string, location: string) =>
  `/subscriptions/${seg(sub)}/providers/${ML_NAMESPACE}/locations/${seg(location)}`;

/** Azure ML's quota rows in a region (`.../locations/{loc}/usages`, pageable). */
export function mlUsages(arm: ArmClient, sub: string, location: string): Promise<UsageRow[]> {
  return listAll<UsageRow>(arm, arm.url(`${mlLocation(sub, location)}/usages`));
}

/**
 * The VM sizes Azure ML offers in a region, with family, vCPUs and estimated prices (`.../locations/{loc}/vmSizes`;
 * `estimatedVMPrices` is optional per size: lib/core/cost.ts says "no price published" without it).
 */
export function mlVmSizes(arm: ArmClient, sub: string, location: string): Promise<VmSizeInfo[]> {
  return listAll<VmSizeInfo>(arm, arm.url(`${mlLocation(sub, location)}/vmSizes`));
}

/** One resource provider's registration state; a namespace ARM does not know reads as `NotFound`. */
export async function providerInfo(arm: ArmClient, sub: string, namespace: string): Promise<ProviderInfo> {
  const url = arm.url(`/subscriptions/${seg(sub)}/providers/${seg(namespace)}`, {
    "api-version": RESOURCES_API_VERSION,
  });
  const res = await arm.http.request("GET", url, { accept: [404] });
  if (res.status === 404) return { namespace, registrationState: "NotFound" };
  const body = jsonOf<ProviderInfo>(res);
  return { namespace: body.namespace ?? namespace, registrationState: body.registrationState };
}

/** The registration state of each namespace, read in parallel. */
export function providerInfos(
  arm: ArmClient,
  sub: string,
  namespaces: readonly string[],
): Promise<ProviderInfo[]> {
  return Promise.all(namespaces.map((ns) => providerInfo(arm, sub, ns)));
}

export interface DeploymentQuery {
  subscriptionId: string;
  resourceGroup: string;
  /** the Pulumi stack: its workspaces carry the tag `stack=<stack>` */
  stack: string;
  deployment: string;
}

interface Tagged {
  id: string;
  name?: string;
  tags?: Record<string, string> | null;
}

/** True when the resource has the tag (names compare case-insensitively, as ARM's do; values exactly). */
export function hasTag(resource: Tagged, name: string, value: string): boolean {
  return Object.entries(resource.tags ?? {}).some(
    ([k, v]) => k.toLowerCase() === name.toLowerCase() && v === value,
  );
}

/** The stack's workspaces in the resource group; none when the resource group does not exist yet (404). */
export async function stackWorkspaces(arm: ArmClient, q: DeploymentQuery): Promise<Tagged[]> {
  const url = arm.url(
    `/subscriptions/${seg(q.subscriptionId)}/resourceGroups/${seg(q.resourceGroup)}/providers/${ML_NAMESPACE}/workspaces`,
  );
  const workspaces = await listAll<Tagged>(arm, url, { missingIsEmpty: true });
  return workspaces.filter((ws) => hasTag(ws, "stack", q.stack));
}

/**
 * The endpoint (id) under which the stack already runs a deployment of that name, or undefined: every online
 * endpoint of the stack's workspaces is asked for `deployments/{name}`.
 */
export async function findDeployment(arm: ArmClient, q: DeploymentQuery): Promise<string | undefined> {
  for (const ws of await stackWorkspaces(arm, q)) {
    const endpoints = await listAll<Tagged>(arm, arm.url(`${ws.id}/onlineEndpoints`));
    for (const ep of endpoints) {
      if (await arm.tryGet(`${ep.id}/deployments/${seg(q.deployment)}`)) return ep.id;
    }
  }
  return undefined;
}
