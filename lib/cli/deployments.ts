/**
 * An online endpoint's deployments as the rollout CLIs see them: which exist, and the one way a deployment that
 * failed its checks is removed. A deployment bills its instances (and holds ceil(1.2 × instances) × vCPUs of quota)
 * for as long as it stands, whether or not it takes traffic, so one that failed is deleted by the step that failed
 * it, after its log tail was printed; the next `up` creates it again if it is still wanted. Never one that holds
 * live or mirrored traffic, or the one recorded as serving (a deployment with traffic cannot be deleted anyway:
 * Learn, how-to-safely-rollout-online-endpoints).
 */
import { deleteUntilGone, listAll, type ArmClient } from "./arm";
import { errorMessage } from "./errors";
import { azWorkspaceFlags, type ParsedId } from "./ids";
import { log } from "./log";
import { SERVING_TAG, nonZero, type EndpointBody } from "./traffic";

/** The names of the endpoint's deployments (OnlineDeployments_List, pages via nextLink). */
export async function listDeployments(arm: ArmClient, endpoint: ParsedId): Promise<string[]> {
  const items = await listAll<{ name: string }>(arm, arm.url(`${endpoint.id}/deployments`), {
    missingIsEmpty: true,
  });
  return items.map((d) => d.name);
}

/** Why `dep` must stay on `endpoint` as it reads now, or undefined when it may go. Pure. */
export function mustKeep(endpoint: EndpointBody | undefined, dep: string): string | undefined {
  if (!endpoint) return undefined;
  const live = nonZero(endpoint.properties?.traffic)[dep];
  const mirrored = nonZero(endpoint.properties?.mirrorTraffic)[dep];
  if (live) return `it holds ${live} % of the traffic`;
  if (mirrored) return `it mirrors ${mirrored} %`;
  if (endpoint.tags?.[SERVING_TAG] === dep) return "it is recorded as the deployment that serves";
  return undefined;
}

/**
 * Deletes `dep` after it failed (provisioning, smoke test, watch) unless the endpoint as it reads now says it must
 * stay. Never throws: returns one sentence on what became of it, for the failure's hints.
 */
export async function retireFailed(
  arm: ArmClient,
  endpoint: ParsedId,
  dep: string,
  o: { pollMs: number; timeoutMs: number; cli: string },
): Promise<string> {
  const az = `az ml online-deployment delete -n ${dep} -e ${endpoint.name} ${azWorkspaceFlags(endpoint)} --yes`;
  try {
    const keep = mustKeep(await arm.tryGet<EndpointBody>(endpoint.id), dep);
    if (keep) return `${dep} stays: ${keep}.`;
    log(`${o.cli}: deleting the failed deployment ${dep} (it bills while it stands)`);
    const deadline = Date.now() + o.timeoutMs;
    const gone = await deleteUntilGone(arm, `${endpoint.id}/deployments/${encodeURIComponent(dep)}`, {
      deadline,
      pollMs: o.pollMs,
      what: `deployment ${dep}`,
      operation: `delete of ${dep}`,
      onStillThere: (state, past) => {
        if (past) throw new Error(`deployment ${dep} is still ${state} after its delete`);
      },
    });
    return gone
      ? `${dep} was deleted (it would bill while it stands); the next \`pulumi up\` creates it again if it is still wanted.`
      : `${dep} was already gone.`;
  } catch (err) {
    return `${dep} could not be deleted (${errorMessage(err)}); it bills until deleted: ${az}`;
  }
}
