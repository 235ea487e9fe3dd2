/**
 * The Azure ML registry the stacks share: dev promotes the model versions that passed its gates into it, prod deploys
 * from it (docs/deploy.md, "Promote to prod"). Declared once, here, apart from both stacks: destroying prod or dev
 * never touches it, and it outlives every workspace. Kept when this project is destroyed too (retainOnDelete): a
 * registry never takes back a deleted version ("was deleted at ..., it cannot be recreated": Azure/azureml-assets
 * PR #2919), so its history is not ours to throw away by accident.
 */
import * as pulumi from "@pulumi/pulumi";
import * as ml from "@pulumi/azure-native/machinelearningservices";
import { REGISTRY_NAME } from "../lib/core/azureRules";

export function validateRegistryName(name: string): string {
  if (!REGISTRY_NAME.test(name)) {
    throw new Error(
      `config registryName must be 3-32 letters, digits, '_' or '-', starting with a letter or digit, got ${JSON.stringify(name)}`,
    );
  }
  return name;
}

export interface ModelRegistryArgs {
  readonly registryName: string;
  readonly resourceGroupName: pulumi.Input<string>;
  /** The primary region: fixed once created; it must be a region the workspaces that use the registry are in. */
  readonly location: pulumi.Input<string>;
  readonly tags?: Record<string, string>;
}

export class ModelRegistry extends pulumi.ComponentResource {
  readonly registry: ml.Registry;
  /** What the stacks' config `modelRegistryId` takes. */
  readonly registryId: pulumi.Output<string>;

  constructor(name: string, args: ModelRegistryArgs, opts?: pulumi.ComponentResourceOptions) {
    super("azure-ml-mnist:bootstrap:ModelRegistry", name, {}, opts);
    this.registry = new ml.Registry(
      `${name}-registry`,
      {
        registryName: validateRegistryName(args.registryName),
        resourceGroupName: args.resourceGroupName,
        location: args.location,
        // The body of Learn's how-to-manage-registries REST example: the primary region is listed in regionDetails too
        // ("The list must include the primary location": reference-yaml-registry); the service creates the storage and
        // registry itself (no bring-your-own in 2025-12-01 RegistryRegionArmDetails). Premium registry as in that
        // example: the spec leaves acrAccountSku open and no cheaper SKU is documented to work.
        regionDetails: [
          {
            location: args.location,
            storageAccountDetails: [{ systemCreatedStorageAccount: { storageAccountType: "Standard_LRS" } }],
            acrDetails: [{ systemCreatedAcrAccount: { acrAccountSku: "Premium" } }],
          },
        ],
        identity: { type: ml.ManagedServiceIdentityType.SystemAssigned },
        publicNetworkAccess: "Enabled",
        tags: args.tags,
      },
      { parent: this, retainOnDelete: true },
    );
    this.registryId = this.registry.id;
    this.registerOutputs({ registryId: this.registryId });
  }
}
