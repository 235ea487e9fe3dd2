/**
 * An online endpoint's deployments as the rollout CLIs see them: which exist, and how one that failed its checks is
 * removed. A deployment bills its instances (and holds ceil(1.2 × instances) × vCPUs of quota) for as long as it
 * stands, whether or not it takes traffic. The step that creates it (ops/ensure-deployment.ts) deletes it when its
 * own provisioning fails: that step is then not in the state and creates it again next time. A deployment that
 * failed a later check (smoke test, watch) stays until the next successful `up` retires it, unless the step was
 * told to retire it now (--retire-failed): its creating step is in the state and would not create it again.
 * Never one that holds live or mirrored traffic, or the one recorded as serving (a deployment with traffic cannot
 * be deleted anyway: Learn, how-to-safely-rollout-online-endpoints).
 */
import { deleteUntilGone, listAll, type ArmClient } from "../azure/arm";
import { errorMessage } from "../toolkit/errors";
import { azWorkspaceFlags, type ParsedId } from "./ids";
import { log } from "../toolkit/log";
import { SERVING_TAG, nonZero, type EndpointBody } from "./traffic";

/** The names of the endpoint's deployments (OnlineDeployments_List, pages via nextLink). */
export async function listDeployments(arm: ArmClient, endpoint: ParsedId): Promise<string[]> {
  const items = await listAll<{ name: string }>(arm, arm.url(`${endpoint.id}/deployments`), {
    missingIsEmpty: true,
  });
  return items.map((d) => d.name);
}

/** The command that deletes `dep` by hand. Pure. */
function deleteByHand(endpoint: ParsedId, dep: string): string {
  return `az ml online-deployment delete -n ${dep} -e ${endpoint.name} ${azWorkspaceFlags(endpoint)} --yes`;
}

/** The hint for a failed deployment left in place: it bills, and how to remove it now. Pure. */
export function leftInPlace(endpoint: ParsedId, dep: string): string {
  return (
    `${dep} stays at 0 % for inspection and bills its instances until the next successful \`pulumi up\` ` +
    `retires it; to stop that now: ${deleteByHand(endpoint, dep)}`
  );
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
 * Deletes `dep` unless the endpoint as it reads now says it must stay. Never throws: whether it is gone, and one
 * sentence on what became of it, for the failure's hints.
 */
async function deleteUnlessNeeded(
  arm: ArmClient,
  endpoint: ParsedId,
  dep: string,
  o: { pollMs: number; timeoutMs: number; cli: string },
): Promise<{ gone: boolean; said: string }> {
  try {
    const keep = mustKeep(await arm.tryGet<EndpointBody>(endpoint.id), dep);
    if (keep) return { gone: false, said: `${dep} stays: ${keep}.` };
    log(`${o.cli}: deleting the failed deployment ${dep} (it bills while it stands)`);
    const deadline = Date.now() + o.timeoutMs;
    const deleted = await deleteUntilGone(arm, `${endpoint.id}/deployments/${encodeURIComponent(dep)}`, {
      deadline,
      pollMs: o.pollMs,
      what: `deployment ${dep}`,
      operation: `delete of ${dep}`,
      onStillThere: (state, past) => {
        if (past) throw new Error(`deployment ${dep} is still ${state} after its delete`);
      },
    });
    return {
      gone: true,
      said: deleted
        ? `${dep} was deleted (it would bill while it stands); the next \`pulumi up\` creates it again if it is still wanted.`
        : `${dep} was already gone.`,
    };
  } catch (err) {
    return {
      gone: false,
      said: `${dep} could not be deleted (${errorMessage(err)}); it bills until deleted: ${deleteByHand(endpoint, dep)}`,
    };
  }
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
  return (await deleteUnlessNeeded(arm, endpoint, dep, o)).said;
}

/**
 * Deletes the endpoint's deployments that nothing needs: not `keep`, holding no live or mirrored traffic, and not
 * recorded as serving (a deployment left at 0 % by a failed smoke test or a rolled-back watch). Run by
 * ops/ensure-deployment.ts, the one serving step that runs again on every change of the deployment, a revert
 * included (the smoke, traffic and retirement steps of the serving deployment are unchanged then, so they do not).
 * Returns the names deleted; a deployment that cannot be deleted is said and left.
 */
export async function retireStale(
  arm: ArmClient,
  endpoint: ParsedId,
  keep: string,
  o: { pollMs: number; timeoutMs: number; cli: string },
): Promise<string[]> {
  const current = await arm.tryGet<EndpointBody>(endpoint.id);
  const names = await listDeployments(arm, endpoint);
  const stale = names.filter((n) => n !== keep && mustKeep(current, n) === undefined);
  const deleted: string[] = [];
  for (const dep of stale) {
    log(
      `${o.cli}: ${dep} holds no traffic and is not the serving deployment: retiring it (it bills while it stands)`,
    );
    const { gone, said } = await deleteUnlessNeeded(arm, endpoint, dep, o);
    if (gone) deleted.push(dep);
    else log(`  ${said}`);
  }
  return deleted;
}
