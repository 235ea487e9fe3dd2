// The security settings the workspace and its dependencies are declared with (docs/security.md has the why of each,
// against the AVM workspace modules and Microsoft's Azure ML security baseline), and what `pulumi destroy` leaves in
// a resource group the stack did not create: the real index.ts under the harness's mocks, CI config
// (`resourceGroupName` set), one `pulumi up` and then the destroy of the subscription model (tests/graph/azureModel.ts).
import * as pulumi from "@pulumi/pulumi";
import * as ml from "@pulumi/azure-native/machinelearningservices";
import {
  Harness,
  Registration,
  SUBSCRIPTION,
  SUFFIX,
  byType,
  dependsOn,
  devStackConfig,
  installMocks,
  one,
  unwrap,
} from "./harness";
import { SubscriptionModel } from "./azureModel";
import { appInsightsId } from "../../components/mlWorkspace";
import { SMART_DETECTION_ACTION_GROUP, ruleNameFor } from "../../ops/delete-smart-detection";
import { flagOf } from "../../lib/program/steps";

const ML = "azure-native:machinelearningservices";
const CMD = "command:local:Command";
const CI_RG = "rg-ci-shared";
const RG_ID = `/subscriptions/${SUBSCRIPTION}/resourceGroups/${CI_RG}`;

let h: Harness;
let model: SubscriptionModel;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const obj = (r: Registration) => unwrap(r.object) as Record<string, any>;
const cmd = (name: string) => one(h, CMD, name);

/** The step's `--app-insights-id` ('quoted' in the command). */
const flag = (command: string, name: string) => flagOf(command, name);

/** What Azure does by itself when a component is created: a Failure Anomalies rule and the Smart Detection group. */
function azureAddsSmartDetection(m: SubscriptionModel): { rule: string; group: string }[] {
  const added: { rule: string; group: string }[] = [];
  for (const id of [...m.existing]) {
    const hit =
      /^(\/subscriptions\/[^/]+\/resourceGroups\/[^/]+)\/providers\/azure-native:applicationinsights:Component\/(.+)$/.exec(
        id,
      );
    if (!hit) continue;
    const [, rg, name] = hit;
    const rule = `${rg}/providers/microsoft.alertsManagement/smartDetectorAlertRules/${ruleNameFor(name)}`;
    const group = `${rg}/providers/microsoft.insights/actionGroups/${SMART_DETECTION_ACTION_GROUP}`;
    m.existing.add(rule);
    m.existing.add(group);
    added.push({ rule, group });
  }
  return added;
}

/**
 * ops/delete-smart-detection.ts as tests/ops/delete-smart-detection.test.ts checks it against the fake ARM: with the
 * component gone, the component's rule goes, then the group unless another rule in the resource group remains.
 */
function runSmartDetectionCleanup(m: SubscriptionModel, command: string): void {
  const id = flag(command, "app-insights-id");
  const hit =
    /^(\/subscriptions\/[^/]+\/resourceGroups\/[^/]+)\/providers\/Microsoft\.Insights\/components\/(.+)$/.exec(
      id ?? "",
    );
  if (!hit) throw new Error(`not a component id: ${id}`);
  const [, rg, name] = hit;
  // The CLI waits until the component is gone: in the model the destroy has deleted it by now.
  const component = `${rg}/providers/azure-native:applicationinsights:Component/${name}`;
  if (m.existing.has(component)) throw new Error(`the cleanup ran while ${component} exists`);
  m.existing.delete(
    `${rg}/providers/microsoft.alertsManagement/smartDetectorAlertRules/${ruleNameFor(name)}`,
  );
  const rulesLeft = [...m.existing].filter((x) =>
    x.startsWith(`${rg}/providers/microsoft.alertsManagement/`),
  );
  if (rulesLeft.length === 0)
    m.existing.delete(`${rg}/providers/microsoft.insights/actionGroups/${SMART_DETECTION_ACTION_GROUP}`);
}

beforeAll(async () => {
  process.setMaxListeners(100);
  model = new SubscriptionModel();
  h = installMocks(false, model);
  pulumi.runtime.setAllConfig(devStackConfig({ resourceGroupName: CI_RG }));
  jest.isolateModules(() => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded after the mocks, so its resources register against them
    require("../../index");
  });
  await h.settle();
  h.endRun();
});

describe("declared settings", () => {
  test("App Insights' instrumentation key and connection string are secret outputs (encrypted in the state)", () => {
    expect(one(h, "azure-native:applicationinsights:Component").additionalSecretOutputs.sort()).toEqual([
      "connectionString",
      "instrumentationKey",
    ]);
  });

  test("storage: TLS 1.2, HTTPS only, no public blobs, no cross-tenant replication, no shared keys", () => {
    expect(obj(one(h, "azure-native:storage:StorageAccount"))).toMatchObject({
      minimumTlsVersion: "TLS1_2",
      enableHttpsTrafficOnly: true,
      allowBlobPublicAccess: false,
      allowCrossTenantReplication: false,
      // Entra ID only: ops/ensure-code.ts uploads with a storage token (tests/ops/ensure-assets.test.ts).
      allowSharedKeyAccess: false,
    });
  });

  test("key vault: RBAC, soft delete 7 days, no purge protection (destroy can still reclaim it)", () => {
    const kv = obj(one(h, "azure-native:keyvault:Vault")).properties;
    expect(kv).toMatchObject({
      enableRbacAuthorization: true,
      enableSoftDelete: true,
      softDeleteRetentionInDays: 7,
    });
    expect(kv.enablePurgeProtection).toBeUndefined();
    expect(kv.accessPolicies).toBeUndefined();
  });

  test("registry: no admin user", () => {
    expect(obj(one(h, "azure-native:containerregistry:Registry")).adminUserEnabled).toBe(false);
  });

  test("App Insights and Log Analytics: Entra-only ingestion, workspace-based", () => {
    const logs = one(h, "azure-native:operationalinsights:Workspace");
    expect(obj(logs).features).toEqual({ disableLocalAuth: true });
    const appi = obj(one(h, "azure-native:applicationinsights:Component"));
    expect(appi).toMatchObject({ disableLocalAuth: true, ingestionMode: "LogAnalytics" });
    expect(appi.workspaceResourceId).toContain(`law-dev-${SUFFIX}`);
  });

  test("workspace: system identity, identity-based datastores, public endpoint (documented), no legacy v1 mode", () => {
    const ws = obj(one(h, `${ML}:Workspace`));
    expect(ws.identity).toEqual({ type: "SystemAssigned" });
    // No account key in the datastores (AVM TF storage_access_type "identity"; the enum value, 2025-12-01 spelling).
    expect(ml.SystemDatastoresAuthMode.Identity).toBe("Identity");
    expect(ws.systemDatastoresAuthMode).toBe(ml.SystemDatastoresAuthMode.Identity);
    // Private endpoints / managed network break the one-command flow: docs/security.md.
    expect(ws.publicNetworkAccess).toBe("Enabled");
    expect(ws.managedNetwork).toBeUndefined();
    expect(ws.v1LegacyMode).toBeUndefined();
    expect(ws.hbiWorkspace).toBeUndefined();
  });

  test("resource logs of the workspace, the vault and the blob service go to the stack's Log Analytics workspace", () => {
    const settings = byType(h, "azure-native:monitor:DiagnosticSetting");
    const law = one(h, "azure-native:operationalinsights:Workspace");
    const target = (r: Registration) => String(obj(r).resourceUri);
    expect(settings.map(target).sort()).toEqual(
      [
        `${RG_ID}/providers/Microsoft.MachineLearningServices/workspaces/mlw-dev-${SUFFIX}`,
        `${RG_ID}/providers/azure-native:keyvault:Vault/kv-dev-${SUFFIX}`,
        `${RG_ID}/providers/Microsoft.Storage/storageAccounts/stdev${SUFFIX}/blobServices/default`,
      ].sort(),
    );
    for (const s of settings) {
      expect([s.name, obj(s)]).toEqual([
        s.name,
        expect.objectContaining({
          logAnalyticsDestinationType: "Dedicated",
          logs: [{ categoryGroup: "allLogs", enabled: true }],
        }),
      ]);
      expect([s.name, dependsOn(s, law)]).toEqual([s.name, true]);
    }
    // The workspace's setting goes before the purge step takes the workspace away.
    const wsSetting = settings.find((s) => target(s).includes("/workspaces/"))!;
    expect(dependsOn(wsSetting, cmd("ml-purge-on-destroy"))).toBe(true);
  });

  test("GPU cluster: SSH port closed (the enum value), local auth off, scales to zero", () => {
    const c = JSON.parse(String(obj(cmd("gpu-cluster")).environment.COMPUTE_SPEC)).properties;
    expect(ml.RemoteLoginPortPublicAccess.Disabled).toBe("Disabled");
    expect(c.properties.remoteLoginPortPublicAccess).toBe(ml.RemoteLoginPortPublicAccess.Disabled);
    expect(c.disableLocalAuth).toBe(true);
    expect(c.properties.scaleSettings.minNodeCount).toBe(0);
  });
});

describe("destroy with resourceGroupName set (the resource group outlives the stack)", () => {
  test("the smart detection cleanup runs after App Insights is deleted, and names it by its id", () => {
    const step = cmd("ml-smart-detection-cleanup");
    const appi = one(h, "azure-native:applicationinsights:Component");
    // App Insights depends on the step: created after it, so deleted before it.
    expect(dependsOn(appi, step)).toBe(true);
    expect(dependsOn(step, appi)).toBe(false);
    const id = appInsightsId(SUBSCRIPTION, CI_RG, `appi-dev-${SUFFIX}`);
    expect(obj(step).delete).toBe(
      `exec node --import tsx ops/delete-smart-detection.ts --app-insights-id ${id}`,
    );
    expect(obj(step).triggers).toEqual([id]);
  });

  test("destroy leaves nothing derived from the stack's names but the soft-deleted vault; without the step, the rule stays", () => {
    expect(model.violations).toEqual([]);
    expect([...model.existing].filter((id) => id.startsWith(`${RG_ID}/`)).length).toBeGreaterThan(5);
    const added = azureAddsSmartDetection(model);
    expect(added).toHaveLength(1);

    const step = String(obj(cmd("ml-smart-detection-cleanup")).delete);
    const before = new Set(model.existing);
    model.destroy();
    // What the graph before this change left behind: one more rule (and the group) per up/destroy cycle.
    const withoutStep = [...model.existing];
    expect(withoutStep).toEqual(expect.arrayContaining([added[0].rule, added[0].group]));

    runSmartDetectionCleanup(model, step);
    const left = [...model.existing];
    // Key Vault soft delete is always on: the vault (random name) is kept 7 days, then purged by Azure; nothing bills.
    expect(left).toEqual([`${RG_ID}/providers/azure-native:keyvault:Vault/kv-dev-${SUFFIX}`]);
    expect(left.filter((id) => !id.includes(SUFFIX))).toEqual([]);
    expect(before.size).toBeGreaterThan(left.length);
  });

  test("the action group stays while another stack's rule in the shared resource group uses it", () => {
    const other = new SubscriptionModel();
    const rule = `${RG_ID}/providers/microsoft.alertsManagement/smartDetectorAlertRules/${ruleNameFor("appi-pr42-k3m9q1")}`;
    const group = `${RG_ID}/providers/microsoft.insights/actionGroups/${SMART_DETECTION_ACTION_GROUP}`;
    other.existing.add(rule);
    other.existing.add(group);
    runSmartDetectionCleanup(other, String(obj(cmd("ml-smart-detection-cleanup")).delete));
    expect([...other.existing].sort()).toEqual([group, rule].sort());
  });
});
