/**
 * delete-smart-detection: deletes what Azure adds by itself when an Application Insights component is created (the
 * smart detector alert rule `Failure Anomalies - <component>` and the action group `Application Insights Smart
 * Detection` it notifies, both in the component's resource group: CompositionalIT/farmer#637,
 * hashicorp/terraform-provider-azurerm#18026), once the component is gone. Run by the graph on `pulumi destroy`
 * after App Insights is deleted (components/mlWorkspace.ts); without it a stack deployed into an existing resource
 * group leaves one more rule behind on every up/destroy cycle.
 *
 *   tsx ops/delete-smart-detection.ts --app-insights-id <ARM id> [--timeout-minutes 30] [--poll-seconds 10]
 *     [--arm-endpoint URL]
 *
 * 1. `GET <component>` (api-version 2020-02-02, the version azure-native's applicationinsights.Component uses) until
 *    404: while the component exists Azure re-creates a deleted rule within minutes (terraform-provider-azurerm
 *    application_insights_resource.go, comment on issue #10563), so the rule goes only after the component.
 * 2. The rule: `GET`, then `DELETE` (200, or 204 "does not exist") and `GET` until 404, api-version 2021-04-01
 *    (azure-rest-api-specs alertsmanagement stable/2021-04-01 SmartDetectorAlertRulesApi.json, the version
 *    azure-native's alertsmanagement.SmartDetectorAlertRule uses).
 * 3. The action group, by its fixed name in the same resource group (never another group the rule may have been
 *    pointed at): kept while any smart detector rule left in the resource group names it (`GET
 *    .../smartDetectorAlertRules`, ListByResourceGroup, `properties.actionGroups.groupIds`), else `DELETE` and
 *    `GET` until 404, api-version 2023-01-01 (azure-rest-api-specs monitor stable/2023-01-01 actionGroups_API.json).
 *
 * Idempotent: what is already gone counts as done. stdout: {"rule", "ruleDeleted", "actionGroup",
 * "actionGroupDeleted", "actionGroupKeptFor": [rule names]}.
 */
import type { TokenCredential } from "@azure/identity";
import {
  ARM_FLAGS,
  ArmClient,
  armCliOptions,
  deleteUntilGone,
  listAll,
  type ArmCliOptions,
} from "../lib/azure/arm";
import { usageLine, withFlags } from "../lib/toolkit/args";
import { createCredential } from "../lib/azure/credential";
import { CliError, UsageError } from "../lib/toolkit/errors";
import { HttpError, jsonOf } from "../lib/azure/http";
import { log, writeResult } from "../lib/toolkit/log";
import { runCli } from "../lib/toolkit/run";
import { formatDuration, since, sleep } from "../lib/toolkit/time";

/** Microsoft.Insights/components (azure-rest-api-specs applicationinsights stable/2020-02-02 components_API.json). */
export const COMPONENTS_API_VERSION = "2020-02-02";
/** Microsoft.AlertsManagement/smartDetectorAlertRules (azure-rest-api-specs alertsmanagement stable/2021-04-01). */
export const SMART_DETECTOR_API_VERSION = "2021-04-01";
/** Microsoft.Insights/actionGroups (azure-rest-api-specs monitor stable/2023-01-01 actionGroups_API.json). */
export const ACTION_GROUPS_API_VERSION = "2023-01-01";

/** The rule Azure creates for a component (the name terraform-provider-azurerm builds: "Failure Anomalies - %s"). */
export const ruleNameFor = (component: string) => `Failure Anomalies - ${component}`;
/** The action group Azure creates beside it, one per resource group (farmer#637: "an Alert Group (that is also created)"). */
export const SMART_DETECTION_ACTION_GROUP = "Application Insights Smart Detection";

const FLAGS = {
  "app-insights-id": { type: "string", required: true, placeholder: "<ARM id>" },
  ...ARM_FLAGS,
} as const;

const USAGE = usageLine("bash scripts/env.sh tsx ops/delete-smart-detection.ts", FLAGS);

export interface ComponentRef {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
  id: string;
}

export interface DeleteSmartDetectionOptions extends ArmCliOptions {
  component: ComponentRef;
}

/** What the step prints (no caller parses it beyond the one-line contract). */
export interface SmartDetectionCleanupResult {
  rule: string;
  ruleDeleted: boolean;
  actionGroup: string;
  actionGroupDeleted: boolean;
  /** the rules still naming the action group, when it was kept */
  actionGroupKeptFor: string[];
}

const COMPONENT_RE =
  /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Insights\/components\/([^/]+)\/?$/i;

export function parseComponentId(id: string): ComponentRef {
  const m = COMPONENT_RE.exec(id.trim());
  if (!m) {
    throw new UsageError(
      `--app-insights-id '${id}' is not /subscriptions/<s>/resourceGroups/<rg>/providers/Microsoft.Insights/components/<name>`,
    );
  }
  const [, subscriptionId, resourceGroup, name] = m;
  return { subscriptionId, resourceGroup, name: decodeURIComponent(name), id: id.trim().replace(/\/$/, "") };
}

export const parseDeleteSmartDetectionArgs = withFlags(FLAGS, (a): DeleteSmartDetectionOptions => ({
  component: parseComponentId(a["app-insights-id"]),
  ...armCliOptions(a),
}));

/** An ArmClient for another resource provider: every request carries `apiVersion` instead of the ML one. */
class ProviderArm extends ArmClient {
  constructor(
    endpoint: string,
    private readonly apiVersion: string,
    credential: TokenCredential,
  ) {
    super(endpoint, credential);
  }

  override url(resourceId: string, query: Record<string, string> = {}): string {
    return super.url(resourceId, { "api-version": this.apiVersion, ...query });
  }
}

const rgPath = (c: ComponentRef) => `/subscriptions/${c.subscriptionId}/resourceGroups/${c.resourceGroup}`;
/** Names with spaces go into the path encoded (ARM names are matched case-insensitively, decoded). */
export const ruleId = (c: ComponentRef) =>
  `${rgPath(c)}/providers/Microsoft.AlertsManagement/smartDetectorAlertRules/${encodeURIComponent(ruleNameFor(c.name))}`;
export const actionGroupId = (c: ComponentRef) =>
  `${rgPath(c)}/providers/Microsoft.Insights/actionGroups/${encodeURIComponent(SMART_DETECTION_ACTION_GROUP)}`;

/** A smart detector rule as ListByResourceGroup returns it: 2021-04-01 `actionGroups.groupIds`; older `[{actionGroupId}]`. */
interface RuleBody {
  name?: string;
  properties?: { actionGroups?: { groupIds?: string[] } | Array<{ actionGroupId?: string }> };
}

export function actionGroupsOf(rule: RuleBody): string[] {
  const groups = rule.properties?.actionGroups;
  if (Array.isArray(groups)) return groups.map((g) => g.actionGroupId ?? "").filter(Boolean);
  return groups?.groupIds ?? [];
}

/** ARM ids compared as ARM compares them: case-insensitive, names decoded. */
const sameId = (a: string, b: string) =>
  decodeURIComponent(a).replace(/\/$/, "").toLowerCase() ===
  decodeURIComponent(b).replace(/\/$/, "").toLowerCase();

/**
 * GET `id`: its body, or undefined when ARM finds nothing, including a 409 MissingSubscriptionRegistration (nothing of
 * a resource provider the subscription never registered can exist).
 */
async function find<T>(arm: ArmClient, id: string): Promise<T | undefined> {
  const res = await arm.http.request("GET", arm.url(id), { accept: [404, 409] });
  if (res.status === 404) return undefined;
  if (res.status === 409) {
    if (/MissingSubscriptionRegistration/.test(res.text)) return undefined;
    throw new HttpError(res.status, "GET", res.url, res.text);
  }
  return jsonOf<T>(res);
}

/** Waits until the component is gone (the rule would come back otherwise); a CliError at the deadline. */
async function waitForComponentGone(
  arm: ArmClient,
  o: DeleteSmartDetectionOptions,
  deadline: number,
): Promise<void> {
  for (let first = true; ; first = false) {
    if (!(await find(arm, o.component.id))) return;
    if (Date.now() > deadline) {
      throw new CliError(
        `App Insights ${o.component.name} still exists ${formatDuration(o.timeoutMs / 1000)} later: its Failure Anomalies rule would come back`,
        [
          "Delete the component first (pulumi destroy does), then run this again.",
          `Check: az monitor app-insights component show -a ${o.component.name} -g ${o.component.resourceGroup}`,
        ],
      );
    }
    if (first)
      log(
        `  App Insights ${o.component.name} still exists; waiting for its delete (Azure re-creates the rule while it exists)`,
      );
    await sleep(o.pollMs);
  }
}

/** DELETE (409s retried) → GET until 404; false when there was nothing to delete. */
async function deleteIfThere(
  arm: ArmClient,
  id: string,
  what: string,
  o: DeleteSmartDetectionOptions,
  deadline: number,
): Promise<boolean> {
  if (!(await find(arm, id))) {
    log(`  ${what}: not there (already deleted, or never created); nothing to do`);
    return false;
  }
  await deleteUntilGone(arm, id, {
    deadline,
    pollMs: o.pollMs,
    what,
    operation: `delete of ${what}`,
    onAccepted: (status) => log(`  ${what}: DELETE accepted (HTTP ${status})`),
    onStillThere: (state, pastDeadline) => {
      if (pastDeadline) {
        throw new CliError(
          `${what} still exists (${state}) ${formatDuration(o.timeoutMs / 1000)} after the delete request`,
        );
      }
      log(`  ${what} still present (${state}); waiting`);
    },
  });
  log(`  ${what}: deleted`);
  return true;
}

/** component gone → rule deleted → action group deleted unless a remaining rule names it → print. */
export async function deleteSmartDetection(o: DeleteSmartDetectionOptions): Promise<void> {
  const credential = createCredential();
  const components = new ProviderArm(o.armEndpoint, COMPONENTS_API_VERSION, credential);
  const rules = new ProviderArm(o.armEndpoint, SMART_DETECTOR_API_VERSION, credential);
  const groups = new ProviderArm(o.armEndpoint, ACTION_GROUPS_API_VERSION, credential);
  const c = o.component;
  const started = Date.now();
  const deadline = started + o.timeoutMs;
  const rule = ruleNameFor(c.name);
  log(
    `delete-smart-detection: what Azure added for App Insights ${c.name} (resource group ${c.resourceGroup})`,
  );

  await waitForComponentGone(components, o, deadline);
  const ruleDeleted = await deleteIfThere(rules, ruleId(c), `rule '${rule}'`, o, deadline);

  const groupId = actionGroupId(c);
  let actionGroupDeleted = false;
  let keptFor: string[] = [];
  if (await find(groups, groupId)) {
    const left = await listAll<RuleBody>(
      rules,
      rules.url(`${rgPath(c)}/providers/Microsoft.AlertsManagement/smartDetectorAlertRules`),
      { missingIsEmpty: true },
    );
    // Our rule is gone (GET answered 404); a list that still shows it for a moment must not keep the group.
    keptFor = left
      .filter((r) => (r.name ?? "").toLowerCase() !== rule.toLowerCase())
      .filter((r) => actionGroupsOf(r).some((g) => sameId(g, groupId)))
      .map((r) => r.name ?? "?");
    if (keptFor.length > 0) {
      log(
        `  action group '${SMART_DETECTION_ACTION_GROUP}': kept, still used by ${keptFor.map((n) => `'${n}'`).join(", ")}`,
      );
    } else {
      actionGroupDeleted = await deleteIfThere(
        groups,
        groupId,
        `action group '${SMART_DETECTION_ACTION_GROUP}'`,
        o,
        deadline,
      );
    }
  } else {
    log(`  action group '${SMART_DETECTION_ACTION_GROUP}': not there; nothing to do`);
  }

  log(`delete-smart-detection: done (${since(started)})`);
  writeResult({
    rule,
    ruleDeleted,
    actionGroup: SMART_DETECTION_ACTION_GROUP,
    actionGroupDeleted,
    actionGroupKeptFor: keptFor,
  } satisfies SmartDetectionCleanupResult);
}

export const cli = {
  name: "delete-smart-detection",
  usage: USAGE,
  parse: parseDeleteSmartDetectionArgs,
  main: deleteSmartDetection,
};

if (require.main === module) runCli(cli);
