/**
 * One-time admin project (see docs/ci.md): the resource group the azure-ml-mnist stack deploys into and, when config
 * `githubRepository` is set, the GitHub Actions CI identities scoped to it. It lives apart from the main stack: the
 * identity that runs `pulumi up` must not own (and could otherwise destroy) its own role assignments, and creating
 * app registrations needs Entra rights that the CI identity does not have.
 *
 *   cd bootstrap && pulumi stack init admin && pulumi config set ... && GITHUB_TOKEN=... pulumi up
 *
 * GITHUB_TOKEN (or `pulumi config set github:token --secret`): a token with administration rights on the repository,
 * for the deploy environment and its branch policy (ciIdentity.ts); not needed with `manageGithubEnvironment: false`
 * or a `deployBranch` target.
 */
import * as pulumi from "@pulumi/pulumi";
import * as azuread from "@pulumi/azuread";
import * as authorization from "@pulumi/azure-native/authorization";
import * as resources from "@pulumi/azure-native/resources";
import { CiIdentity, readCiIdentitySettings } from "./ciIdentity";
import { ModelRegistry, validateRegistryName } from "./modelRegistry";

const config = new pulumi.Config();
const resourceGroupName = config.require("resourceGroupName");
if (!/^[-\w.()]{1,90}$/.test(resourceGroupName) || resourceGroupName.endsWith(".")) {
  throw new Error(
    `config resourceGroupName must be a resource group name (1-90 of letters, digits, - _ . ( )), got ${JSON.stringify(resourceGroupName)}`,
  );
}
const createResourceGroup = config.getBoolean("createResourceGroup") ?? true;
const mainStack = config.get("mainStack") ?? "dev";
// Validated before anything is declared, so a config typo fails the preview instead of half-applying.
const settings = readCiIdentitySettings(config);
// The registry dev promotes into and prod deploys from; unset: no registry (a single-stack setup).
const registryName = config.get("registryName");
if (registryName) validateRegistryName(registryName);

const client = authorization.getClientConfigOutput();

let resourceGroupId: pulumi.Output<string>;
if (createResourceGroup) {
  const rg = new resources.ResourceGroup(
    "stack-rg",
    {
      resourceGroupName,
      tags: { project: "azure-ml-mnist", stack: mainStack, "managed-by": "ci-bootstrap" },
    },
    // Deleting this group deletes the whole application: keep it when the bootstrap stack is destroyed.
    { protect: true },
  );
  resourceGroupId = rg.id;
} else {
  resourceGroupId = resources.getResourceGroupOutput({ resourceGroupName }).apply((rg) => rg.id);
}

const registry = registryName
  ? new ModelRegistry("models", {
      registryName,
      // from the group's id: created after the group
      resourceGroupName: resourceGroupId.apply((id) => id.split("/")[4]),
      location: config.get("registryLocation") ?? new pulumi.Config("azure-native").require("location"),
      tags: { project: "azure-ml-mnist", "managed-by": "ci-bootstrap" },
    })
  : undefined;

let identity: CiIdentity | undefined;
if (settings) {
  const admin = azuread.getClientConfigOutput();
  identity = new CiIdentity("ci", {
    ...settings,
    resourceGroupId,
    subscriptionId: client.subscriptionId,
    owners: [admin.objectId],
    registryId: registry?.registryId,
  });
}

export const stackResourceGroupName = resourceGroupName;
/** What both stacks' config `modelRegistryId` takes. */
export const modelRegistryId = registry?.registryId;
export const stackResourceGroupId = resourceGroupId;
export const tenantId = client.tenantId;
export const subscriptionId = client.subscriptionId;
export const previewClientId = identity?.previewClientId;
export const deployClientId = identity?.deployClientId;
export const previewSubject = identity?.previewSubject;
export const deploySubject = identity?.deploySubject;
export const stagingSubject = identity?.stagingSubject;
/** The one branch the deploy environment admits; undefined when the environment is not managed here. */
export const deployEnvironmentBranch = identity?.deployBranchPolicy?.branchPattern;
/** What to set as GitHub repository variables (Settings > Secrets and variables > Actions > Variables). */
export const repositoryVariables = identity
  ? pulumi
      .all([client.tenantId, client.subscriptionId, identity.previewClientId, identity.deployClientId])
      .apply(([tenant, subscription, preview, deploy]) => ({
        AZURE_TENANT_ID: tenant,
        AZURE_SUBSCRIPTION_ID: subscription,
        AZURE_PREVIEW_CLIENT_ID: preview,
        AZURE_DEPLOY_CLIENT_ID: deploy,
      }))
  : undefined;
