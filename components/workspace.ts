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
import * as ml from "@pulumi/azure-native/machinelearningservices";
import { SUFFIX_LENGTH, WorkspaceNames, resourceGroupName, workspaceNames } from "./naming";
import { TSX } from "./commands";

export interface MlWorkspaceArgs {
  project: string;
  stack: string;
  location: string;
  /** Deploy into this existing resource group instead of creating one. */
  existingResourceGroupName?: string;
  tags: Record<string, string>;
  /** Purge the workspace on destroy (Azure otherwise soft-deletes it for 14 days and blocks its name). */
  purgeOnDestroy: boolean;
}

/**
 * The Azure ML workspace and everything it needs: resource group (unless given), Log Analytics + Application
 * Insights, storage account, Key Vault (RBAC mode), container registry. Names carry a per-stack random suffix
 * because Azure reserves them after delete (soft delete, global uniqueness).
 */
export class MlWorkspace extends pulumi.ComponentResource {
  readonly suffix: random.RandomString;
  readonly names: pulumi.Output<WorkspaceNames>;
  /** Undefined when the stack deploys into an existing resource group. */
  readonly resourceGroup?: resources.ResourceGroup;
  readonly resourceGroupName: pulumi.Output<string>;
  readonly logAnalytics: operationalinsights.Workspace;
  readonly appInsights: applicationinsights.Component;
  readonly storageAccount: storage.StorageAccount;
  readonly keyVault: keyvault.Vault;
  readonly containerRegistry: containerregistry.Registry;
  readonly workspace: ml.Workspace;
  /** Its delete purges the (retained) workspace when purgeOnDestroy; a no-op otherwise. */
  readonly purgeStep: command.local.Command;
  /**
   * What everything inside the workspace depends on: deleted only after all of it, and (with purge) before the
   * storage account, vault, registry and insights the workspace uses.
   */
  readonly deletionAnchor: pulumi.Resource;
  readonly workspaceName: pulumi.Output<string>;
  /** The workspace GUID (names the default blob container). */
  readonly workspaceGuid: pulumi.Output<string>;
  readonly studioUrl: pulumi.Output<string>;

  constructor(name: string, args: MlWorkspaceArgs, opts?: pulumi.ComponentResourceOptions) {
    super("azure-ml-mnist:index:MlWorkspace", name, {}, opts);
    const child = { parent: this };
    const { location, tags } = args;

    // Destroyed with the stack, so a re-created stack gets fresh names while soft-deleted ones expire.
    this.suffix = new random.RandomString(
      "name-suffix",
      { length: SUFFIX_LENGTH, lower: true, upper: false, numeric: true, special: false },
      child,
    );
    this.names = this.suffix.result.apply((s) => workspaceNames(args.stack, s));

    if (args.existingResourceGroupName) {
      this.resourceGroupName = pulumi.output(args.existingResourceGroupName);
    } else {
      this.resourceGroup = new resources.ResourceGroup(
        "rg",
        { resourceGroupName: resourceGroupName(args.project, args.stack), location, tags },
        child,
      );
      this.resourceGroupName = this.resourceGroup.name;
    }
    const rg = this.resourceGroupName;

    this.logAnalytics = new operationalinsights.Workspace(
      "logs",
      {
        resourceGroupName: rg,
        location,
        workspaceName: this.names.logAnalytics,
        sku: { name: "PerGB2018" },
        retentionInDays: 30,
        tags,
      },
      child,
    );

    this.appInsights = new applicationinsights.Component(
      "insights",
      {
        resourceGroupName: rg,
        location,
        resourceName: this.names.appInsights,
        kind: "web",
        applicationType: "web",
        workspaceResourceId: this.logAnalytics.id,
        ingestionMode: "LogAnalytics",
        tags,
      },
      child,
    );

    // Workspace storage must be StorageV2 (not Premium, not HNS). Shared keys stay on: blob uploads and the
    // default datastore use the account key.
    this.storageAccount = new storage.StorageAccount(
      "storage",
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
        allowSharedKeyAccess: true,
        tags,
      },
      child,
    );

    const client = authorization.getClientConfigOutput(child);
    // RBAC mode: the service's own access policies would otherwise fight the ones in this program.
    // No purge protection: it is irreversible and would block reclaiming the name.
    this.keyVault = new keyvault.Vault(
      "vault",
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
      child,
    );

    // Without its own registry, Azure ML creates one on the first image build, outside the stack.
    this.containerRegistry = new containerregistry.Registry(
      "registry",
      {
        resourceGroupName: rg,
        location,
        registryName: this.names.containerRegistry,
        sku: { name: "Basic" },
        adminUserEnabled: false,
        tags,
      },
      child,
    );

    // The system identity gets its roles on storage/vault/registry/insights from the service: adding them here
    // fails with RoleAssignmentExists.
    this.workspace = new ml.Workspace(
      "workspace",
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
        tags,
      },
      // With purge on, Pulumi's plain DELETE (a soft delete) is skipped: the purge step deletes it for good.
      { ...child, retainOnDelete: args.purgeOnDestroy },
    );

    // Always present, so switching purgeOnDestroy off is an update of this step (its delete becomes a no-op)
    // rather than its removal, which would run the purge on a live workspace. Created after the workspace, so
    // deleted before it and before its dependencies; everything inside the workspace depends on this step.
    this.purgeStep = new command.local.Command(
      "purge-on-destroy",
      {
        create: `echo '${JSON.stringify({ purgeOnDestroy: args.purgeOnDestroy })}'`,
        delete: args.purgeOnDestroy
          ? pulumi.interpolate`${TSX} ops/purge-workspace.ts --workspace-id ${this.workspace.id}`
          : "echo 'purgeOnDestroy is off: the workspace is soft-deleted by Azure for 14 days' >&2",
        logging: "stderr",
      },
      { ...child, dependsOn: [this.workspace] },
    );
    this.deletionAnchor = this.purgeStep;

    this.workspaceName = this.workspace.name;
    this.workspaceGuid = this.workspace.workspaceId;
    this.studioUrl = pulumi.interpolate`https://ml.azure.com/home?wsid=${this.workspace.id}`;

    this.registerOutputs({
      resourceGroupName: this.resourceGroupName,
      workspaceName: this.workspaceName,
      studioUrl: this.studioUrl,
    });
  }
}
