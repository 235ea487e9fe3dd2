import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import * as command from "@pulumi/command";
import * as resources from "@pulumi/azure-native/resources";
import * as storage from "@pulumi/azure-native/storage";
import * as keyvault from "@pulumi/azure-native/keyvault";
import * as containerregistry from "@pulumi/azure-native/containerregistry";
import * as operationalinsights from "@pulumi/azure-native/operationalinsights";
import * as applicationinsights from "@pulumi/azure-native/applicationinsights";
import * as authorization from "@pulumi/azure-native/authorization";
import * as monitor from "@pulumi/azure-native/monitor";
import * as ml from "@pulumi/azure-native/machinelearningservices";
import { SUFFIX_LENGTH, WorkspaceNames, resourceGroupName, workspaceNames } from "../lib/core/naming";
import { childName } from "../lib/program/children";
import { stepCommand } from "../lib/program/steps";
import type * as azureInputs from "@pulumi/azure-native/types/input";
import { MANAGED_NETWORK_MODES } from "../lib/config/schema";

export interface MlWorkspaceArgs {
  /** Pulumi project and stack: they name the resource group and the workspace's dependencies. */
  readonly project: string;
  readonly stack: string;
  /** Azure region of every resource (config `azure-native:location`). */
  readonly location: string;
  /** Deploy into this existing resource group instead of creating one. */
  readonly resourceGroupName?: string;
  /** Tags of every taggable resource in the workspace, including those other components declare inside it. */
  readonly tags: Readonly<Record<string, string>>;
  /** Purge the workspace on destroy (Azure otherwise soft-deletes it for 14 days and blocks its name). */
  readonly purgeOnDestroy: boolean;
  /** The workspace's managed network (default Disabled): see managedNetworkSettings. */
  readonly managedNetwork?: ManagedNetworkMode;
  /** Set on a second workspace in the same stack: it goes into the resource group's name to keep the two apart. */
  readonly nameQualifier?: string;
  /**
   * Nothing is declared in Azure until this settles, and nothing at all if it rejects: the pre-flight, so a
   * shortfall fails `pulumi preview` and `up` before any resource exists.
   */
  readonly after?: Promise<unknown>;
}

export type ManagedNetworkMode = (typeof MANAGED_NETWORK_MODES)[number];

/**
 * What the builds and jobs download: the package hosts the training and inference images are built from
 * (environments/training-gpu.yml, scoring/environment.yml: conda-forge and PyPI; Learn how-to-managed-network,
 * "Scenario: Use Python packages / conda": `pypi.org`, `*.pythonhosted.org`, `*.anaconda.org`, `*.anaconda.com`), and
 * the host of MNIST when no `trainingDataUri` is set (keras.datasets.mnist: storage.googleapis.com). Azure ML adds
 * its own required rules (Microsoft Container Registry, its service tags) by itself.
 */
export const OUTBOUND_HOSTS = [
  "pypi.org",
  "*.pythonhosted.org",
  "*.anaconda.org",
  "*.anaconda.com",
  "storage.googleapis.com",
] as const;

/**
 * The workspace's `managedNetwork` for a mode. Pure.
 *   - Disabled: unset, as before (no diff on existing stacks);
 *   - AllowInternetOutbound: the computes live in a network Azure ML manages, outbound open;
 *   - AllowOnlyApprovedOutbound: outbound only to Azure ML's required targets and the package hosts the image
 *     builds need, as FQDN rules. FQDN rules make Azure ML deploy an Azure Firewall (Standard unless `firewallSku`
 *     says Basic), which bills by the hour (Learn how-to-managed-network, "Pricing"); Basic here: it is enough for
 *     FQDN rules and the cheaper one.
 * The workspace keeps public network access: the program's steps (uploads, MLflow, smoke test, sample call) run from
 * outside the network. Turning that off needs a runner inside the network (docs/security.md#managed-network).
 */
export function managedNetworkSettings(
  mode: ManagedNetworkMode,
): azureInputs.machinelearningservices.ManagedNetworkSettingsArgs | undefined {
  if (mode === "Disabled") return undefined;
  if (mode === "AllowInternetOutbound") return { isolationMode: mode };
  const outboundRules = Object.fromEntries(
    OUTBOUND_HOSTS.map((host) => [
      `allow-${host.replace(/^\*\./, "").replace(/\./g, "-")}`,
      { type: "FQDN" as const, destination: host, category: "UserDefined" as const },
    ]),
  );
  return { isolationMode: mode, firewallSku: "Basic", outboundRules };
}

/** Options a component adds to `childOptions`: its own dependencies and any other resource option. */
export type ChildOptions = Omit<pulumi.CustomResourceOptions, "parent" | "dependsOn"> & {
  readonly dependsOn?: pulumi.Resource[];
};

/**
 * What a component declared inside a workspace takes from it: names, location, tags, the name suffix, the storage
 * account its jobs write to, and `childOptions` (destroy order). MlWorkspace is one; a test or another program can
 * hand any object of this shape.
 */
export interface WorkspaceRef {
  readonly stack: string;
  readonly location: string;
  readonly tags: Readonly<Record<string, string>>;
  /** The per-stack random suffix of the names Azure keeps after a delete. */
  readonly nameSuffix: pulumi.Output<string>;
  readonly resourceGroupName: pulumi.Output<string>;
  /** The workspace's ARM id. */
  readonly workspaceId: pulumi.Output<string>;
  /** The ARM id of the workspace's storage account (jobs write their outputs there). */
  readonly storageAccountId: pulumi.Output<string>;
  /** True with a managed network: computes get no public IP. */
  readonly isolated: boolean;
  childOptions(parent: pulumi.Resource, extra?: ChildOptions): pulumi.CustomResourceOptions;
}

/**
 * The ARM id an Application Insights component gets (Microsoft.Insights/components, the id azure-native reports),
 * built from its parts so that a step can name it before the component exists.
 */
export function appInsightsId(subscriptionId: string, resourceGroup: string, name: string): string {
  return `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.Insights/components/${name}`;
}

/**
 * Resource logs of every category (category group `allLogs`) into resource-specific tables (`Dedicated`), as the
 * AVM workspace modules default to (Azure/terraform-azurerm-avm-res-machinelearningservices-workspace
 * variables.tf `diagnostic_settings`: log_groups ["allLogs"], log_analytics_destination_type "Dedicated").
 */
const ALL_LOGS = [{ categoryGroup: "allLogs", enabled: true }];

/**
 * The Azure ML workspace and everything it needs: resource group (unless given), Log Analytics + Application
 * Insights, storage account, Key Vault (RBAC mode), container registry. Names carry a per-stack random suffix
 * because Azure reserves them after delete (soft delete, global uniqueness). Components that declare resources
 * inside the workspace take its handles: names, location, tags, the name suffix and `childOptions` (destroy order).
 */
export class MlWorkspace extends pulumi.ComponentResource implements WorkspaceRef {
  /** The stack the names derive from. */
  readonly stack: string;
  readonly location: string;
  readonly tags: Readonly<Record<string, string>>;
  /** Random per-stack suffix for names Azure reserves after delete (endpoints, clusters). */
  readonly nameSuffix: pulumi.Output<string>;
  readonly names: pulumi.Output<WorkspaceNames>;
  readonly resourceGroupName: pulumi.Output<string>;
  readonly workspaceName: pulumi.Output<string>;
  /** The workspace's ARM id. */
  readonly workspaceId: pulumi.Output<string>;
  /** The workspace GUID (names the default blob container). */
  readonly workspaceGuid: pulumi.Output<string>;
  readonly storageAccountName: pulumi.Output<string>;
  readonly studioUrl: pulumi.Output<string>;
  /** Undefined when the stack deploys into an existing resource group. */
  readonly resourceGroup?: resources.ResourceGroup;
  readonly logAnalytics: operationalinsights.Workspace;
  readonly appInsights: applicationinsights.Component;
  readonly storageAccount: storage.StorageAccount;
  readonly storageAccountId: pulumi.Output<string>;
  readonly keyVault: keyvault.Vault;
  readonly containerRegistry: containerregistry.Registry;
  readonly workspace: ml.Workspace;
  /** Its delete purges the (retained) workspace when purgeOnDestroy; a no-op otherwise. */
  readonly purgeStep: command.local.Command;
  /** True when the workspace has a managed network: its computes then take no public IPs. */
  readonly isolated: boolean;
  /**
   * Its delete removes what Azure adds beside App Insights by itself (the Failure Anomalies smart detector rule, and
   * the Smart Detection action group once no rule uses it). Created before App Insights, so deleted after it.
   */
  readonly smartDetectionCleanup: command.local.Command;
  /** Resource logs of the workspace, the key vault and the blob service, into the Log Analytics workspace. */
  readonly diagnosticSettings: monitor.DiagnosticSetting[];

  constructor(name: string, args: MlWorkspaceArgs, opts?: pulumi.ComponentResourceOptions) {
    super("azure-ml-mnist:index:MlWorkspace", name, {}, opts);
    const { location, tags } = args;
    this.stack = args.stack;
    this.location = location;
    this.tags = tags;
    this.isolated = (args.managedNetwork ?? "Disabled") !== "Disabled";
    const child = (role: string) => ({ name: childName(name, role), opts: { parent: this } });

    // Destroyed with the stack, so a re-created stack gets fresh names while soft-deleted ones expire.
    const suffix = child("name-suffix");
    const nameSuffix = new random.RandomString(
      suffix.name,
      { length: SUFFIX_LENGTH, lower: true, upper: false, numeric: true, special: false },
      suffix.opts,
    );
    this.nameSuffix = nameSuffix.result;
    this.names = this.nameSuffix.apply((s) => workspaceNames(args.stack, s));

    // Every resource below depends on the resource group's name, so this holds all of them back.
    const gate: pulumi.Output<unknown> = pulumi.output(
      args.after ?? Promise.resolve(true),
    ) as pulumi.Output<unknown>;
    if (args.resourceGroupName) {
      const existing = args.resourceGroupName;
      this.resourceGroupName = gate.apply(() => existing);
    } else {
      const c = child("rg");
      this.resourceGroup = new resources.ResourceGroup(
        c.name,
        {
          // A second workspace in the stack sets nameQualifier, so the two never share one.
          resourceGroupName: gate.apply(() =>
            resourceGroupName(args.project, args.stack, args.nameQualifier),
          ),
          location,
          tags,
        },
        c.opts,
      );
      this.resourceGroupName = this.resourceGroup.name;
    }
    const rg = this.resourceGroupName;

    const logs = child("logs");
    this.logAnalytics = new operationalinsights.Workspace(
      logs.name,
      {
        resourceGroupName: rg,
        location,
        workspaceName: this.names.logAnalytics,
        sku: { name: "PerGB2018" },
        retentionInDays: 30,
        // Ingestion and queries with Entra ID only, no workspace keys (nothing here sends with a key: App Insights
        // ingests through its own pipeline, diagnostic settings through Azure Monitor).
        features: { disableLocalAuth: true },
        tags,
      },
      logs.opts,
    );

    const client = authorization.getClientConfigOutput({ parent: this });

    // Creating a component makes Azure add, by itself, a smart detector alert rule `Failure Anomalies - <name>` and
    // an action group `Application Insights Smart Detection` in the resource group (CompositionalIT/farmer#637;
    // hashicorp/terraform-provider-azurerm#18026). Pulumi does not know them, so they outlive `pulumi destroy` unless
    // the resource group goes too (the `resourceGroupName` path keeps it): this step's delete removes them. It must
    // run AFTER the component is deleted: while the component exists Azure re-creates a deleted rule within minutes
    // (terraform-provider-azurerm internal/services/applicationinsights/application_insights_resource.go, the
    // comment on issue #10563, which therefore deletes the rule after ComponentsDelete). So the component depends on
    // this step (created first, deleted last) and the step names the component by an id built from its parts, never
    // by the component's output. Declaring the rule in Pulumi instead would race Azure's asynchronous creation:
    // azure-native refuses to create a resource that already exists, and an import fails while it does not yet.
    const cleanup = child("smart-detection-cleanup");
    const insightsId = pulumi
      .all([client.subscriptionId, rg, this.names])
      .apply(([sub, group, n]) => appInsightsId(sub, group, n.appInsights));
    this.smartDetectionCleanup = new command.local.Command(
      cleanup.name,
      {
        create: pulumi.interpolate`echo 'destroying App Insights ${insightsId} also deletes its Failure Anomalies rule' >&2`,
        // Single quotes: a resource group name may hold parentheses, never a quote (ARM naming rules).
        delete: stepCommand("ops/delete-smart-detection.ts", ["--app-insights-id", insightsId]),
        logging: "stderr",
        // Another component (a new name) replaces the step, so the old step's delete cleans up after the old one.
        triggers: [insightsId],
      },
      { parent: this },
    );

    const insights = child("insights");
    this.appInsights = new applicationinsights.Component(
      insights.name,
      {
        resourceGroupName: rg,
        location,
        resourceName: this.names.appInsights,
        kind: "web",
        applicationType: "web",
        workspaceResourceId: this.logAnalytics.id,
        ingestionMode: "LogAnalytics",
        // Telemetry is ingested only with an Entra token (role Monitoring Metrics Publisher), never with the
        // instrumentation key alone (Learn: azure-monitor/app/azure-ad-authentication, "Disable local authentication").
        disableLocalAuth: true,
        tags,
      },
      {
        ...insights.opts,
        dependsOn: [this.smartDetectionCleanup],
        // the instrumentation key and connection string are outputs azure-native stores in the state: encrypted there
        additionalSecretOutputs: ["instrumentationKey", "connectionString"],
      },
    );

    // Workspace storage must be StorageV2 (not Premium, not HNS). No shared keys: every reader and writer uses Entra
    // ID and a data role (Learn: how-to-disable-local-auth-storage, "Scenarios for role assignments"):
    // ops/ensure-code.ts uploads with a storage token (the deployer holds Storage Blob Data Contributor,
    // bootstrap/ciIdentity.ts), the workspace's datastores are identity-based (systemDatastoresAuthMode below), the
    // endpoint's system identity gets its role from the service, and the GPU cluster's identity needs one
    // (docs/security.md, Identity-based storage access).
    const st = child("storage");
    this.storageAccount = new storage.StorageAccount(
      st.name,
      {
        resourceGroupName: rg,
        location,
        accountName: this.names.storageAccount,
        kind: "StorageV2",
        sku: { name: "Standard_LRS" },
        isHnsEnabled: false,
        minimumTlsVersion: "TLS1_2",
        allowBlobPublicAccess: false,
        enableHttpsTrafficOnly: true,
        allowSharedKeyAccess: false,
        // AVM storage default; replication of this account's blobs into another tenant is never wanted here.
        allowCrossTenantReplication: false,
        tags,
      },
      st.opts,
    );
    this.storageAccountName = this.storageAccount.name;
    this.storageAccountId = this.storageAccount.id;

    // RBAC mode: the service's own access policies would otherwise fight the ones in this program.
    // No purge protection: once on it cannot be turned off, and a vault with it cannot be purged before its retention
    // ends (Learn: key-vault/general/soft-delete-overview), so destroy could not clean up; the AVM workspace's
    // WAF-aligned test vault leaves it unset too (tests/e2e/waf-aligned/dependencies.bicep `enablePurgeProtection:
    // null`). Soft delete (7 days) stays: the name is random per stack, so a re-created stack never meets it.
    const kv = child("vault");
    this.keyVault = new keyvault.Vault(
      kv.name,
      {
        resourceGroupName: rg,
        location,
        vaultName: this.names.keyVault,
        properties: {
          tenantId: client.tenantId,
          sku: { family: "A", name: "standard" },
          enableRbacAuthorization: true,
          enableSoftDelete: true,
          softDeleteRetentionInDays: 7,
        },
        tags,
      },
      kv.opts,
    );

    // Without its own registry, Azure ML creates one on the first image build, outside the stack.
    const acr = child("registry");
    this.containerRegistry = new containerregistry.Registry(
      acr.name,
      {
        resourceGroupName: rg,
        location,
        registryName: this.names.containerRegistry,
        // A managed network reaches the registry through a private endpoint, which needs Premium (Learn
        // how-to-managed-network, "Azure Container Registry ... Premium"); Basic otherwise (cost: docs/security.md).
        sku: { name: this.isolated ? "Premium" : "Basic" },
        adminUserEnabled: false,
        tags,
      },
      acr.opts,
    );

    // The system identity gets its roles on storage/vault/registry/insights from the service: adding them here
    // fails with RoleAssignmentExists. That holds for identity-based datastores too: "the managed identity is
    // automatically assigned the permissions it needs to access the storage account" (Learn:
    // how-to-disable-local-auth-storage, "Create a new workspace").
    const mlw = child("workspace");
    this.workspace = new ml.Workspace(
      mlw.name,
      {
        resourceGroupName: rg,
        location,
        workspaceName: this.names.workspace,
        friendlyName: `MNIST CNN (${args.stack})`,
        description: "Keras CNN on MNIST, trained and served by the azure-ml-mnist Pulumi program",
        identity: { type: "SystemAssigned" },
        sku: { name: "Basic", tier: "Basic" },
        kind: "Default",
        storageAccount: this.storageAccount.id,
        keyVault: this.keyVault.id,
        applicationInsights: this.appInsights.id,
        containerRegistry: this.containerRegistry.id,
        publicNetworkAccess: "Enabled",
        managedNetwork: managedNetworkSettings(args.managedNetwork ?? "Disabled"),
        // No stored keys (azure-rest-api-specs machinelearningservices stable/2025-12-01 workspaceRP.json).
        systemDatastoresAuthMode: ml.SystemDatastoresAuthMode.Identity,
        tags,
      },
      // With purge on, Pulumi's plain DELETE (a soft delete) is skipped: the purge step deletes it for good.
      { ...mlw.opts, retainOnDelete: args.purgeOnDestroy },
    );

    // Always present, so switching purgeOnDestroy off is an update of this step (its delete becomes a no-op)
    // rather than its removal, which would run the purge on a live workspace. Created after the workspace, so
    // deleted before it and before its dependencies; everything inside the workspace depends on this step.
    const purge = child("purge-on-destroy");
    this.purgeStep = new command.local.Command(
      purge.name,
      {
        create: `echo '${JSON.stringify({ purgeOnDestroy: args.purgeOnDestroy })}'`,
        delete: args.purgeOnDestroy
          ? stepCommand("ops/purge-workspace.ts", ["--workspace-id", this.workspace.id])
          : "echo 'purgeOnDestroy is off: the workspace is soft-deleted by Azure for 14 days' >&2",
        logging: "stderr",
      },
      { ...purge.opts, dependsOn: [this.workspace] },
    );

    // Resource logs into the stack's Log Analytics workspace (MCSB baseline LT-4; the AVM modules' diagnosticSettings
    // interface). Deleted before the resource they watch; the workspace's goes before the purge step, since a purged
    // workspace takes its settings with it.
    const diag = (role: string, resourceUri: pulumi.Input<string>, before: pulumi.Resource[] = []) => {
      const d = child(role);
      return new monitor.DiagnosticSetting(
        d.name,
        {
          name: this.names.apply((n) => `diag-${n.workspace}`),
          resourceUri,
          workspaceId: this.logAnalytics.id,
          logAnalyticsDestinationType: "Dedicated",
          logs: ALL_LOGS,
        },
        { parent: this, dependsOn: before },
      );
    };
    this.diagnosticSettings = [
      diag("workspace-diagnostics", this.workspace.id, [this.purgeStep]),
      diag("vault-diagnostics", this.keyVault.id),
      // Blob logs are settings of the blob service, not of the account (Learn: storage/blobs/monitor-blob-storage).
      diag("blob-diagnostics", pulumi.interpolate`${this.storageAccount.id}/blobServices/default`),
    ];

    this.workspaceName = this.workspace.name;
    this.workspaceId = this.workspace.id;
    this.workspaceGuid = this.workspace.workspaceId;
    this.studioUrl = pulumi.interpolate`https://ml.azure.com/home?wsid=${this.workspace.id}`;

    this.registerOutputs({
      resourceGroupName: this.resourceGroupName,
      workspaceName: this.workspaceName,
      studioUrl: this.studioUrl,
    });
  }

  /**
   * Options for a resource declared inside the workspace by another component: parented to that component, and
   * depending on the purge step, so it is created after the workspace and deleted before it (and, with purge on,
   * before the storage account, vault, registry and insights the workspace uses).
   */
  childOptions(parent: pulumi.Resource, extra: ChildOptions = {}): pulumi.CustomResourceOptions {
    return { ...extra, parent, dependsOn: [this.purgeStep, ...(extra.dependsOn ?? [])] };
  }
}
