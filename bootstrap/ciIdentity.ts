/**
 * The CI identity for pull-request previews and deploys (GitHub Actions OIDC, no client secrets).
 *
 * Two Entra applications, not one: a federated credential lets every workflow run whose OIDC subject matches act as
 * the application, so a single app holding both the pull_request and the deploy credential would hand deploy rights
 * to any pull-request run. Instead:
 *   - preview app: subject `repo:O/R:pull_request`, Reader on the stack's resource group, and write access to the
 *     previews' own state container when configured: nothing that reads or decrypts the production state (no access
 *     to its container, no Key Vault crypto rights), because a pull request runs code its author chose;
 *   - deploy app: subject `repo:O/R:environment:<env>` (or `repo:O/R:ref:refs/heads/<branch>`), Contributor plus a
 *     role-assignment right on the resource group (by default Role Based Access Control Administrator, constrained
 *     to a short list of data-plane roles, to service principals, never to the CI principals themselves), Storage
 *     Blob Data Contributor on the resource group (ops/ensure-code.ts uploads code with an Entra token: the
 *     workspace's storage account takes no keys) and write access to the state container.
 * The environment subject names no branch, so the environment itself is what binds deploys to main: by default this
 * component manages the GitHub environment with a deployment branch policy that admits only `deployEnvironmentBranch`
 * (@pulumi/github; the admin running the bootstrap needs a GitHub token with administration rights on the repository).
 * All resource roles are scoped to the resource group (or narrower). The one grant at subscription scope is a custom
 * read-only role for the quota pre-flight (QUOTA_READ_ACTIONS: Azure ML usages and VM sizes of a region, resource
 * provider registration), which are subscription-level reads that Reader on the resource group does not cover.
 *
 * This component is declared by the one-time admin project in bootstrap/, never by the stack it grants access to: a
 * deployer must not hold (and could destroy) its own role assignments, and creating app registrations needs Entra
 * rights the CI identity does not have.
 */
import * as pulumi from "@pulumi/pulumi";
import * as azuread from "@pulumi/azuread";
import * as github from "@pulumi/github";
import * as authorization from "@pulumi/azure-native/authorization";
import { GUID, STORAGE_ACCOUNT_ID } from "../lib/core/azureRules";

export const GITHUB_OIDC_ISSUER = "https://token.actions.githubusercontent.com";
export const AZURE_AD_TOKEN_EXCHANGE_AUDIENCE = "api://AzureADTokenExchange";
export const DEFAULT_DEPLOY_ENVIRONMENT = "production";
/** The one branch the deploy environment admits by default. */
export const DEFAULT_DEPLOY_ENVIRONMENT_BRANCH = "main";

/**
 * What the quota pre-flight (ops/preflight.ts, lib/azureml/quota.ts) reads at subscription scope: Azure ML's regional
 * usages and VM sizes (`/providers/Microsoft.MachineLearningServices/locations/{loc}/usages` and `.../vmSizes`: the
 * resource types `locations/usages` and `locations/vmSizes` of the ML resource provider, azure-rest-api-specs
 * machinelearningservices readme `operation-group-to-resource-type`) and the registration state of resource
 * providers (`/providers/{namespace}`). Reads only, and no other `locations/*` type (quotas, operation results ...).
 */
export const QUOTA_READ_ACTIONS: readonly string[] = [
  "Microsoft.MachineLearningServices/locations/usages/read",
  "Microsoft.MachineLearningServices/locations/vmsizes/read",
  "Microsoft.Resources/subscriptions/providers/read",
];

/** Built-in Azure role definition GUIDs (the same in every tenant; Azure docs "Azure built-in roles"). */
export const ROLES = {
  reader: "acdd72a7-3385-48ef-bd42-f606fba81ae7",
  contributor: "b24988ac-6180-42a0-ab88-20f7382dd24c",
  userAccessAdministrator: "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",
  roleBasedAccessControlAdministrator: "f58310d9-a9f6-439a-9e8d-f62e7b41a168",
  storageBlobDataReader: "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
  storageBlobDataContributor: "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
  keyVaultCryptoUser: "12338af0-0e69-4776-bea7-57ae8d297424",
  keyVaultAdministrator: "00482a5a-887f-4fb3-b363-3b7fe8e74483",
  acrPull: "7f951dda-4ed3-4680-a7ca-43fe172d538d",
  acrPush: "8311e382-0749-4cb8-b61a-304f252e45ec",
  azureMlDataScientist: "f6c7c914-8db3-469d-8ca1-694a8f32e121",
  azureMlMetricsWriter: "635dd51f-9968-44d3-b7fb-6d9a6bd613ae",
  /** registries/read + registries/assets/*: write model versions into a registry (Learn: built-in roles, AI + ML). */
  azureMlRegistryUser: "1823dd4f-9b8c-4ab6-ab4e-7397a3684615",
} as const;

/**
 * Roles the deploy identity may assign (and remove) when `deployRoleAdmin` is "constrained": what the program's
 * identities can need (the workspace, compute and endpoint identities' data-plane roles), never
 * Owner/Contributor/User Access Administrator.
 */
export const DEFAULT_DELEGABLE_ROLES: readonly string[] = [
  ROLES.acrPull,
  ROLES.acrPush,
  ROLES.storageBlobDataReader,
  ROLES.storageBlobDataContributor,
  ROLES.keyVaultAdministrator,
  ROLES.azureMlDataScientist,
  ROLES.azureMlMetricsWriter,
];

// ---------------------------------------------------------------------------------------------------------------
// Pure helpers (no Pulumi engine needed)
// ---------------------------------------------------------------------------------------------------------------

export interface GithubRepository {
  owner: string;
  repo: string;
}

/** Parses and validates "owner/repo" (GitHub rules: owner 1-39 of [A-Za-z0-9-], repo 1-100 of [A-Za-z0-9._-]). */
export function parseGithubRepository(value: string, key = "githubRepository"): GithubRepository {
  const match = /^([A-Za-z0-9](?:[A-Za-z0-9-]{0,38}))\/([A-Za-z0-9._-]{1,100})$/.exec(value.trim());
  if (!match || match[1].endsWith("-") || match[2] === "." || match[2] === "..") {
    throw new Error(
      `config ${key} must be "owner/repo" (a GitHub repository, e.g. "contoso/mnist"), got ${JSON.stringify(value)}`,
    );
  }
  return { owner: match[1], repo: match[2] };
}

/** Validates a branch name for an OIDC `ref:refs/heads/<branch>` subject (a conservative subset of git's ref rules). */
export function validateBranchName(branch: string, key = "deployBranch"): string {
  const ok =
    /^[A-Za-z0-9._/-]{1,200}$/.test(branch) &&
    !branch.startsWith("/") &&
    !branch.endsWith("/") &&
    !branch.startsWith("-") &&
    !branch.endsWith(".") &&
    !branch.endsWith(".lock") &&
    !branch.includes("..") &&
    !branch.includes("//") &&
    !branch.startsWith("refs/");
  if (!ok) {
    throw new Error(
      `config ${key} must be a plain branch name such as "main" (letters, digits, . _ - /; no "..", no leading "refs/"), got ${JSON.stringify(branch)}`,
    );
  }
  return branch;
}

/** Validates a GitHub environment name for an OIDC `environment:<env>` subject. */
export function validateEnvironmentName(environment: string, key = "deployEnvironment"): string {
  if (!/^[A-Za-z0-9._-]{1,255}$/.test(environment)) {
    throw new Error(
      `config ${key} must be a GitHub environment name of letters, digits, ".", "_" or "-" (e.g. "production"), got ${JSON.stringify(environment)}`,
    );
  }
  return environment;
}

function repoSlug(repository: GithubRepository): string {
  return `${repository.owner}/${repository.repo}`;
}

/** OIDC subject of a workflow run triggered by `pull_request` (same-repository branches; forks get no token). */
export function pullRequestSubject(repository: GithubRepository): string {
  return `repo:${repoSlug(repository)}:pull_request`;
}

export type DeployTarget = { kind: "environment"; name: string } | { kind: "branch"; name: string };

/** OIDC subject of the deploy job: a job with `environment:` gets the environment subject, otherwise the ref. */
export function deploySubject(repository: GithubRepository, target: DeployTarget): string {
  return target.kind === "environment"
    ? `repo:${repoSlug(repository)}:environment:${target.name}`
    : `repo:${repoSlug(repository)}:ref:refs/heads/${target.name}`;
}

/** `/subscriptions/<sub>/providers/Microsoft.Authorization/roleDefinitions/<guid>` */
export function roleDefinitionId(subscriptionId: string, roleGuid: string): string {
  return `/subscriptions/${subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${roleGuid}`;
}

/** ARM id of a blob container, from its storage account id. */
export function blobContainerScope(storageAccountId: string, containerName: string): string {
  return `${storageAccountId.replace(/\/+$/, "")}/blobServices/default/containers/${containerName}`;
}

/** Which principals the constrained role-assignment right may grant to (always service principals only). */
export interface DelegablePrincipals {
  /** only these object ids (e.g. the workspace's and the endpoint's managed identities, once known) */
  only?: readonly string[];
  /** never these object ids (the CI principals: the deployer must not widen its own or the preview's rights) */
  never?: readonly string[];
}

/**
 * ABAC condition (version 2.0) for Role Based Access Control Administrator: role assignments may only be written or
 * deleted for the listed role definitions, for principals of type ServicePrincipal (managed identities included),
 * and only for the `only` principals, or never for the `never` ones. Attributes and operators as in Learn "Examples to
 * delegate Azure role assignment management with conditions" (Constrain roles and principal types / and specific
 * principals: `@Request[...roleAssignments:PrincipalType]`, `@Request[...roleAssignments:PrincipalId]`, `@Resource[...]`
 * for deletes) and "Azure role assignment condition format" (`ForAnyOfAllValues:GuidNotEquals`: the one principal of
 * the request differs from every listed id).
 */
export function constrainedRoleAssignmentCondition(
  roleGuids: readonly string[],
  principals: DelegablePrincipals = {},
): string {
  if (roleGuids.length === 0) throw new Error("constrainedRoleAssignmentCondition needs at least one role");
  for (const id of [...roleGuids, ...(principals.only ?? []), ...(principals.never ?? [])]) {
    if (!GUID.test(id)) throw new Error(`constrainedRoleAssignmentCondition: '${id}' is not a GUID`);
  }
  if (principals.only && principals.only.length === 0) {
    throw new Error(
      "constrainedRoleAssignmentCondition: an empty `only` list would allow no principal at all",
    );
  }
  const clause = (source: "Request" | "Resource") => {
    const attr = (name: string) => `@${source}[Microsoft.Authorization/roleAssignments:${name}]`;
    const parts = [
      `${attr("RoleDefinitionId")} ForAnyOfAnyValues:GuidEquals {${roleGuids.join(", ")}}`,
      `${attr("PrincipalType")} ForAnyOfAnyValues:StringEqualsIgnoreCase {'ServicePrincipal'}`,
    ];
    if (principals.only)
      parts.push(`${attr("PrincipalId")} ForAnyOfAnyValues:GuidEquals {${principals.only.join(", ")}}`);
    else if (principals.never?.length)
      parts.push(`${attr("PrincipalId")} ForAnyOfAllValues:GuidNotEquals {${principals.never.join(", ")}}`);
    return parts.join(" AND ");
  };
  return (
    `((!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})) OR (${clause("Request")}))` +
    ` AND ` +
    `((!(ActionMatches{'Microsoft.Authorization/roleAssignments/delete'})) OR (${clause("Resource")}))`
  );
}

export type DeployRoleAdmin = "constrained" | "userAccessAdministrator" | "none";

/** The validated CI identity settings, read from (bootstrap) config. */
export interface CiIdentitySettings {
  repository: GithubRepository;
  deployTarget: DeployTarget;
  /**
   * Environment target only: manage the GitHub environment and its deployment branch policy (true by default). Off,
   * the admin must set "Deployment branches" to this branch by hand, or any branch can reach the deploy identity.
   */
  manageGithubEnvironment: boolean;
  /** The one branch the deploy environment admits (environment target). */
  deployEnvironmentBranch: string;
  /**
   * Environment target only: a second GitHub environment (e.g. "dev") whose jobs also act as the deploy identity,
   * with the same branch policy. The deploy workflow runs the dev stack in it and the prod stack in the deploy
   * environment, whose required reviewers then approve each promotion to prod.
   */
  stagingEnvironment?: string;
  deployRoleAdmin: DeployRoleAdmin;
  /** Object ids the constrained role-assignment right may grant to; absent: any service principal but the CI's. */
  delegablePrincipalIds?: string[];
  /** Azure blob state backend: storage account ARM id + container, both or neither. */
  stateStorageAccountId?: string;
  stateContainerName?: string;
  /** The previews' own state container in that account (never the production one). */
  previewStateContainerName?: string;
  /** Key Vault (ARM id) holding the production `azurekeyvault://` secrets-provider key: for the deploy identity only. */
  secretsKeyVaultId?: string;
}

/** The config reader this needs (pulumi.Config fits). */
export interface ConfigReader {
  get(key: string): string | undefined;
}

function oneOf<T extends string>(
  value: string | undefined,
  allowed: readonly T[],
  key: string,
  fallback: T,
): T {
  if (value === undefined || value === "") return fallback;
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new Error(`config ${key} must be one of ${allowed.join(", ")}, got ${JSON.stringify(value)}`);
}

/**
 * Reads the CI identity settings; `undefined` (nothing to create) when `githubRepository` is not set.
 * Errors name the offending config key.
 */
export function readCiIdentitySettings(config: ConfigReader): CiIdentitySettings | undefined {
  const repositoryValue = config.get("githubRepository");
  if (repositoryValue === undefined || repositoryValue.trim() === "") return undefined;
  const repository = parseGithubRepository(repositoryValue);

  const environment = config.get("deployEnvironment");
  const branch = config.get("deployBranch");
  if (environment && branch) {
    throw new Error(
      "config deployEnvironment and deployBranch are mutually exclusive: a job that declares an environment gets the " +
        "environment subject, never the branch subject",
    );
  }
  const deployTarget: DeployTarget = branch
    ? { kind: "branch", name: validateBranchName(branch) }
    : { kind: "environment", name: validateEnvironmentName(environment || DEFAULT_DEPLOY_ENVIRONMENT) };

  if (config.get("previewStateAccess")) {
    throw new Error(
      "config previewStateAccess is no longer read: previews get no access to the production state container. " +
        "Give them their own with previewStateContainerName (docs/ci.md, Pull-request previews)",
    );
  }
  const manageValue = config.get("manageGithubEnvironment");
  if (manageValue && !["true", "false"].includes(manageValue)) {
    throw new Error(
      `config manageGithubEnvironment must be true or false, got ${JSON.stringify(manageValue)}`,
    );
  }
  const stagingValue = config.get("stagingEnvironment") || undefined;
  if (stagingValue && deployTarget.kind !== "environment") {
    throw new Error(
      "config stagingEnvironment needs an environment target (it cannot be used with deployBranch)",
    );
  }
  if (stagingValue && stagingValue === deployTarget.name) {
    throw new Error(`config stagingEnvironment must differ from deployEnvironment (${deployTarget.name})`);
  }
  const stagingEnvironment = stagingValue
    ? validateEnvironmentName(stagingValue, "stagingEnvironment")
    : undefined;
  const deployEnvironmentBranch = validateBranchName(
    config.get("deployEnvironmentBranch") || DEFAULT_DEPLOY_ENVIRONMENT_BRANCH,
    "deployEnvironmentBranch",
  );
  const delegableValue = config.get("delegablePrincipalIds");
  const delegablePrincipalIds = delegableValue
    ? delegableValue
        .split(",")
        .map((x) => x.trim())
        .filter(Boolean)
    : undefined;
  if (
    delegablePrincipalIds &&
    (!delegablePrincipalIds.length || delegablePrincipalIds.some((x) => !GUID.test(x)))
  ) {
    throw new Error(
      `config delegablePrincipalIds must be comma-separated object ids (GUIDs), got ${JSON.stringify(delegableValue)}`,
    );
  }

  const stateStorageAccountId = config.get("stateStorageAccountId") || undefined;
  const stateContainerName = config.get("stateContainerName") || undefined;
  const previewStateContainerName = config.get("previewStateContainerName") || undefined;
  if (previewStateContainerName && !stateStorageAccountId) {
    throw new Error(
      "config previewStateContainerName needs stateStorageAccountId (the account that holds it)",
    );
  }
  if (previewStateContainerName && previewStateContainerName === stateContainerName) {
    throw new Error(
      "config previewStateContainerName must differ from stateContainerName: previews must not reach the production state",
    );
  }
  if (Boolean(stateStorageAccountId) !== Boolean(stateContainerName)) {
    throw new Error(
      "config stateStorageAccountId and stateContainerName must be set together (azblob state backend)",
    );
  }
  if (stateStorageAccountId && !STORAGE_ACCOUNT_ID.test(stateStorageAccountId)) {
    throw new Error(
      `config stateStorageAccountId must be a storage account ARM id, got ${JSON.stringify(stateStorageAccountId)}`,
    );
  }
  for (const [key, value] of [
    ["stateContainerName", stateContainerName],
    ["previewStateContainerName", previewStateContainerName],
  ] as const) {
    if (value && !/^[a-z0-9](?:[a-z0-9]|-(?!-)){1,61}[a-z0-9]$/.test(value)) {
      throw new Error(
        `config ${key} must be a blob container name (3-63 of a-z, 0-9, -), got ${JSON.stringify(value)}`,
      );
    }
  }
  const secretsKeyVaultId = config.get("secretsKeyVaultId") || undefined;
  if (
    secretsKeyVaultId &&
    !/^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.KeyVault\/vaults\/[^/]+$/i.test(
      secretsKeyVaultId,
    )
  ) {
    throw new Error(
      `config secretsKeyVaultId must be a key vault ARM id, got ${JSON.stringify(secretsKeyVaultId)}`,
    );
  }

  return {
    repository,
    deployTarget,
    manageGithubEnvironment: deployTarget.kind === "environment" && manageValue !== "false",
    deployEnvironmentBranch,
    ...(stagingEnvironment ? { stagingEnvironment } : {}),
    deployRoleAdmin: oneOf(
      config.get("deployRoleAdmin"),
      ["constrained", "userAccessAdministrator", "none"] as const,
      "deployRoleAdmin",
      "constrained",
    ),
    ...(delegablePrincipalIds ? { delegablePrincipalIds } : {}),
    stateStorageAccountId,
    stateContainerName,
    previewStateContainerName,
    secretsKeyVaultId,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The component
// ---------------------------------------------------------------------------------------------------------------

export interface CiIdentityArgs extends CiIdentitySettings {
  /** ARM id of the stack's resource group: the scope of every resource role. */
  resourceGroupId: pulumi.Input<string>;
  /** Subscription that holds the resource group (for role definition ids). */
  subscriptionId: pulumi.Input<string>;
  /** Object ids that own the app registrations and service principals (e.g. the admin running bootstrap). */
  owners?: pulumi.Input<pulumi.Input<string>[]>;
  /** The shared model registry (ARM id): the deploy identity promotes into it (dev) and deploys from it (prod). */
  registryId?: pulumi.Input<string>;
  /** Prefix of the app registrations' display names; default `gha-<repo>`. */
  displayNamePrefix?: string;
}

interface Grant {
  name: string;
  /** A built-in role's GUID, or the full id of a custom role definition. */
  role: string | pulumi.Output<string>;
  scope: pulumi.Input<string>;
  condition?: pulumi.Input<string>;
}

export class CiIdentity extends pulumi.ComponentResource {
  public readonly previewApplication: azuread.Application;
  public readonly previewServicePrincipal: azuread.ServicePrincipal;
  public readonly previewFederatedCredential: azuread.ApplicationFederatedIdentityCredential;
  public readonly deployApplication: azuread.Application;
  public readonly deployServicePrincipal: azuread.ServicePrincipal;
  public readonly deployFederatedCredential: azuread.ApplicationFederatedIdentityCredential;
  /** The custom read-only role for the quota pre-flight, assignable at the subscription. */
  public readonly quotaReaderRole: authorization.RoleDefinition;
  public readonly previewRoleAssignments: authorization.RoleAssignment[];
  public readonly deployRoleAssignments: authorization.RoleAssignment[];
  /** Client ids for the repository variables AZURE_PREVIEW_CLIENT_ID / AZURE_DEPLOY_CLIENT_ID. */
  public readonly previewClientId: pulumi.Output<string>;
  public readonly deployClientId: pulumi.Output<string>;
  public readonly previewSubject: string;
  public readonly deploySubject: string;
  /** The GitHub environment of the deploy job and its branch policy (environment target, when managed). */
  public readonly deployEnvironment?: github.RepositoryEnvironment;
  /** The staging environment's OIDC subject and its federated credential on the deploy app (stagingEnvironment). */
  public readonly stagingSubject?: string;
  public readonly stagingFederatedCredential?: azuread.ApplicationFederatedIdentityCredential;
  public readonly deployBranchPolicy?: github.RepositoryEnvironmentDeploymentPolicy;

  constructor(name: string, args: CiIdentityArgs, opts?: pulumi.ComponentResourceOptions) {
    super("azure-ml-mnist:ci:CiIdentity", name, {}, opts);
    const prefix = args.displayNamePrefix ?? `gha-${args.repository.repo}`;
    this.previewSubject = pullRequestSubject(args.repository);
    this.deploySubject = deploySubject(args.repository, args.deployTarget);

    const makeApp = (role: "preview" | "deploy", subject: string, description: string) => {
      const app = new azuread.Application(
        `${name}-${role}`,
        { displayName: `${prefix}-${role}`, owners: args.owners, description },
        { parent: this },
      );
      const sp = new azuread.ServicePrincipal(
        `${name}-${role}`,
        { clientId: app.clientId, owners: args.owners, description },
        { parent: this },
      );
      const credential = new azuread.ApplicationFederatedIdentityCredential(
        `${name}-${role}`,
        {
          applicationId: app.id, // "/applications/<objectId>", not the client id: azuread v6 takes the application resource id
          displayName: `github-${role}`,
          description: `GitHub Actions OIDC: ${subject}`,
          audiences: [AZURE_AD_TOKEN_EXCHANGE_AUDIENCE],
          issuer: GITHUB_OIDC_ISSUER,
          subject,
        },
        { parent: this },
      );
      return { app, sp, credential };
    };

    const repo = `${args.repository.owner}/${args.repository.repo}`;
    const preview = makeApp(
      "preview",
      this.previewSubject,
      `pulumi preview on pull requests of ${repo} (read-only)`,
    );
    const deploy = makeApp("deploy", this.deploySubject, `pulumi up for ${repo}`);
    this.previewApplication = preview.app;
    this.previewServicePrincipal = preview.sp;
    this.previewFederatedCredential = preview.credential;
    this.deployApplication = deploy.app;
    this.deployServicePrincipal = deploy.sp;
    this.deployFederatedCredential = deploy.credential;
    this.previewClientId = preview.app.clientId;
    this.deployClientId = deploy.app.clientId;

    if (args.deployTarget.kind === "environment" && args.manageGithubEnvironment) {
      const guard = this.guardDeployEnvironment(name, args.repository, args.deployTarget.name, args);
      this.deployEnvironment = guard.environment;
      this.deployBranchPolicy = guard.policy;
    }
    if (args.stagingEnvironment) {
      const staging = { kind: "environment", name: args.stagingEnvironment } as const;
      this.stagingSubject = deploySubject(args.repository, staging);
      this.stagingFederatedCredential = new azuread.ApplicationFederatedIdentityCredential(
        `${name}-deploy-staging`,
        {
          applicationId: deploy.app.id,
          displayName: "github-deploy-staging",
          description: `GitHub Actions OIDC: ${this.stagingSubject}`,
          audiences: [AZURE_AD_TOKEN_EXCHANGE_AUDIENCE],
          issuer: GITHUB_OIDC_ISSUER,
          subject: this.stagingSubject,
        },
        { parent: this },
      );
      if (args.manageGithubEnvironment)
        this.guardDeployEnvironment(`${name}-staging`, args.repository, args.stagingEnvironment, args);
    }

    const stateScope =
      args.stateStorageAccountId && args.stateContainerName
        ? blobContainerScope(args.stateStorageAccountId, args.stateContainerName)
        : undefined;
    const previewStateScope =
      args.stateStorageAccountId && args.previewStateContainerName
        ? blobContainerScope(args.stateStorageAccountId, args.previewStateContainerName)
        : undefined;

    const subscriptionScope = pulumi.interpolate`/subscriptions/${args.subscriptionId}`;
    this.quotaReaderRole = new authorization.RoleDefinition(
      `${name}-quota-reader`,
      {
        roleName: `${prefix}-quota-reader`,
        description: `Reads Azure ML quota, VM sizes and provider registration for the pre-flight of ${repo}`,
        roleType: "CustomRole",
        permissions: [{ actions: [...QUOTA_READ_ACTIONS] }],
        assignableScopes: [subscriptionScope],
        scope: subscriptionScope,
      },
      { parent: this },
    );
    const quotaRead: Grant = { name: "quota-read", role: this.quotaReaderRole.id, scope: subscriptionScope };
    const previewGrants: Grant[] = [
      { name: "rg-reader", role: ROLES.reader, scope: args.resourceGroupId },
      quotaRead,
    ];
    const deployGrants: Grant[] = [
      { name: "rg-contributor", role: ROLES.contributor, scope: args.resourceGroupId },
      // Data plane for the code upload: the workspace's storage account (random name, created by the stack) has shared
      // keys off, so Contributor's listKeys no longer opens it; "Data: datastores and datasets | User's identity |
      // Storage Blob Data Contributor" (Learn: how-to-disable-local-auth-storage). Granted here, not in the stack: the
      // constrained role-assignment right refuses the deployer itself.
      { name: "rg-blob-data", role: ROLES.storageBlobDataContributor, scope: args.resourceGroupId },
      quotaRead,
    ];
    if (args.deployRoleAdmin === "constrained") {
      deployGrants.push({
        name: "rg-rbac-admin",
        role: ROLES.roleBasedAccessControlAdministrator,
        scope: args.resourceGroupId,
        condition: pulumi
          .all([preview.sp.objectId, deploy.sp.objectId])
          .apply(([previewId, deployId]) =>
            constrainedRoleAssignmentCondition(
              DEFAULT_DELEGABLE_ROLES,
              args.delegablePrincipalIds
                ? { only: args.delegablePrincipalIds }
                : { never: [previewId, deployId] },
            ),
          ),
      });
    } else if (args.deployRoleAdmin === "userAccessAdministrator") {
      deployGrants.push({ name: "rg-uaa", role: ROLES.userAccessAdministrator, scope: args.resourceGroupId });
    }
    if (stateScope) {
      deployGrants.push({ name: "state", role: ROLES.storageBlobDataContributor, scope: stateScope });
    }
    // Previews write their own stack's state (and its lock) in their own container, nothing of production's: the
    // production checkpoint is read, and its secrets decrypted, only by the deploy identity.
    if (previewStateScope) {
      previewGrants.push({
        name: "preview-state",
        role: ROLES.storageBlobDataContributor,
        scope: previewStateScope,
      });
    }
    if (args.registryId) {
      deployGrants.push({ name: "registry-assets", role: ROLES.azureMlRegistryUser, scope: args.registryId });
    }
    if (args.secretsKeyVaultId) {
      deployGrants.push({
        name: "secrets-key",
        role: ROLES.keyVaultCryptoUser,
        scope: args.secretsKeyVaultId,
      });
    }

    const assign = (role: "preview" | "deploy", sp: azuread.ServicePrincipal, grants: Grant[]) =>
      grants.map(
        (grant) =>
          new authorization.RoleAssignment(
            `${name}-${role}-${grant.name}`,
            {
              principalId: sp.objectId,
              principalType: "ServicePrincipal", // avoids the replication race for a brand-new principal
              roleDefinitionId:
                typeof grant.role === "string"
                  ? pulumi
                      .output(args.subscriptionId)
                      .apply((sub) => roleDefinitionId(sub, grant.role as string))
                  : grant.role,
              scope: grant.scope,
              ...(grant.condition ? { condition: grant.condition, conditionVersion: "2.0" } : {}),
              description: `CI ${role} identity for ${repo}`,
            },
            { parent: this },
          ),
      );
    this.previewRoleAssignments = assign("preview", preview.sp, previewGrants);
    this.deployRoleAssignments = assign("deploy", deploy.sp, deployGrants);

    this.registerOutputs({
      previewClientId: this.previewClientId,
      deployClientId: this.deployClientId,
      previewSubject: this.previewSubject,
      deploySubject: this.deploySubject,
    });
  }

  /**
   * The deploy job's GitHub environment, admitting `deployEnvironmentBranch` only: "Selected branches and tags" with
   * one branch pattern (GitHub docs, "Managing environments for deployment" > "Deployment branches and tags": a job
   * from any other branch that references the environment fails before it starts, so GitHub never issues it the
   * `environment:<name>` OIDC subject nor the environment's secrets). Admins cannot bypass it (canAdminsBypass).
   * Required reviewers and a wait timer stay the admin's to set by hand; this resource ignores them after creation.
   * The provider authenticates with GITHUB_TOKEN (or `github:token`), a token with administration rights on the
   * repository.
   */
  private guardDeployEnvironment(
    name: string,
    repository: GithubRepository,
    environment: string,
    args: CiIdentityArgs,
  ): { environment: github.RepositoryEnvironment; policy: github.RepositoryEnvironmentDeploymentPolicy } {
    const provider = new github.Provider(`${name}-github`, { owner: repository.owner }, { parent: this });
    const env = new github.RepositoryEnvironment(
      `${name}-deploy-environment`,
      {
        repository: repository.repo,
        environment,
        canAdminsBypass: false,
        deploymentBranchPolicy: { protectedBranches: false, customBranchPolicies: true },
      },
      { parent: this, provider, ignoreChanges: ["reviewers", "waitTimer", "preventSelfReview"] },
    );
    const policy = new github.RepositoryEnvironmentDeploymentPolicy(
      `${name}-deploy-branch`,
      {
        repository: repository.repo,
        environment: env.environment,
        branchPattern: args.deployEnvironmentBranch,
      },
      { parent: this, provider },
    );
    return { environment: env, policy };
  }
}
