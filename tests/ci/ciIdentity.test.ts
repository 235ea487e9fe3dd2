import * as pulumi from "@pulumi/pulumi";
import { installMocks, promiseOf, RG_ID, SUBSCRIPTION } from "./mocks";
import {
  CiIdentity,
  constrainedRoleAssignmentCondition,
  deploySubject,
  parseGithubRepository,
  pullRequestSubject,
  readCiIdentitySettings,
  roleDefinitionId,
  QUOTA_READ_ACTIONS,
  ROLES,
  validateBranchName,
  validateEnvironmentName,
  blobContainerScope,
} from "../../bootstrap/ciIdentity";

const registered = installMocks(pulumi, "azure-ml-mnist-ci-bootstrap", {});

// Mocks do not see resource options: record each registration's parent from the monitor request.
const parents = new Map<string, string>();
{
  type Req = { getType(): string; getName(): string; getParent(): string };
  const monitor = pulumi.runtime.getMonitor() as unknown as {
    registerResource: (req: Req, cb: unknown) => unknown;
  };
  const original = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req: Req, cb: unknown) => {
    try {
      parents.set(`${req.getType()}::${req.getName()}`, req.getParent());
    } catch {
      // keep registering even if the request shape changes
    }
    return original(req, cb);
  };
}

const config = (values: Record<string, string>) => ({ get: (key: string) => values[key] });
const repo = { owner: "contoso", repo: "azure-ml-mnist" };

describe("pure helpers", () => {
  test("subjects", () => {
    expect(pullRequestSubject(repo)).toBe("repo:contoso/azure-ml-mnist:pull_request");
    expect(deploySubject(repo, { kind: "environment", name: "production" })).toBe(
      "repo:contoso/azure-ml-mnist:environment:production",
    );
    expect(deploySubject(repo, { kind: "branch", name: "main" })).toBe(
      "repo:contoso/azure-ml-mnist:ref:refs/heads/main",
    );
  });

  test("repository validation names the key", () => {
    expect(parseGithubRepository("contoso/azure-ml-mnist")).toEqual(repo);
    for (const bad of [
      "contoso",
      "contoso/",
      "/repo",
      "a/b/c",
      "https://github.com/a/b",
      "-x/y",
      "x/..",
      "o w/r",
    ]) {
      expect(() => parseGithubRepository(bad)).toThrow(/githubRepository/);
    }
  });

  test("branch and environment validation name the key", () => {
    expect(validateBranchName("main")).toBe("main");
    expect(validateBranchName("release/v1.2")).toBe("release/v1.2");
    for (const bad of ["", "refs/heads/main", "a..b", "x.lock", "/a", "a/", "has space", "a:b"]) {
      expect(() => validateBranchName(bad)).toThrow(/deployBranch/);
    }
    expect(validateEnvironmentName("production")).toBe("production");
    for (const bad of ["", "prod env", "a/b", "x".repeat(256)]) {
      expect(() => validateEnvironmentName(bad)).toThrow(/deployEnvironment/);
    }
  });

  test("settings: off without githubRepository, defaults, exclusivity", () => {
    expect(readCiIdentitySettings(config({}))).toBeUndefined();
    expect(readCiIdentitySettings(config({ githubRepository: "  " }))).toBeUndefined();
    const s = readCiIdentitySettings(config({ githubRepository: "contoso/azure-ml-mnist" }));
    expect(s?.deployTarget).toEqual({ kind: "environment", name: "production" });
    expect(s?.deployRoleAdmin).toBe("constrained");
    expect(
      readCiIdentitySettings(config({ githubRepository: "o/r", deployBranch: "main" }))?.deployTarget,
    ).toEqual({
      kind: "branch",
      name: "main",
    });
    expect(() =>
      readCiIdentitySettings(
        config({ githubRepository: "o/r", deployBranch: "main", deployEnvironment: "prod" }),
      ),
    ).toThrow(/mutually exclusive/);
    expect(() =>
      readCiIdentitySettings(config({ githubRepository: "o/r", deployRoleAdmin: "owner" })),
    ).toThrow(/deployRoleAdmin/);
    expect(() =>
      readCiIdentitySettings(config({ githubRepository: "o/r", stateContainerName: "state" })),
    ).toThrow(/stateStorageAccountId/);
  });

  test("settings: the deploy environment is managed and admits main by default; a branch target manages none", () => {
    const s = readCiIdentitySettings(config({ githubRepository: "o/r" }))!;
    expect(s.manageGithubEnvironment).toBe(true);
    expect(s.deployEnvironmentBranch).toBe("main");
    expect(
      readCiIdentitySettings(config({ githubRepository: "o/r", manageGithubEnvironment: "false" }))!
        .manageGithubEnvironment,
    ).toBe(false);
    expect(
      readCiIdentitySettings(config({ githubRepository: "o/r", deployBranch: "main" }))!
        .manageGithubEnvironment,
    ).toBe(false);
    expect(
      readCiIdentitySettings(config({ githubRepository: "o/r", deployEnvironmentBranch: "release" }))!
        .deployEnvironmentBranch,
    ).toBe("release");
    expect(() =>
      readCiIdentitySettings(config({ githubRepository: "o/r", deployEnvironmentBranch: "refs/heads/main" })),
    ).toThrow(/deployEnvironmentBranch/);
    expect(() =>
      readCiIdentitySettings(config({ githubRepository: "o/r", manageGithubEnvironment: "yes" })),
    ).toThrow(/manageGithubEnvironment/);
  });

  test("settings: previews get their own state container, never the production one; previewStateAccess is gone", () => {
    const account = "/subscriptions/s/resourceGroups/r/providers/Microsoft.Storage/storageAccounts/a";
    const base = { githubRepository: "o/r", stateStorageAccountId: account, stateContainerName: "state" };
    expect(
      readCiIdentitySettings(config({ ...base, previewStateContainerName: "previews" }))!
        .previewStateContainerName,
    ).toBe("previews");
    expect(() => readCiIdentitySettings(config({ ...base, previewStateContainerName: "state" }))).toThrow(
      /must differ from stateContainerName/,
    );
    expect(() => readCiIdentitySettings(config({ ...base, previewStateContainerName: "Bad_Name" }))).toThrow(
      /previewStateContainerName/,
    );
    expect(() =>
      readCiIdentitySettings(config({ githubRepository: "o/r", previewStateContainerName: "previews" })),
    ).toThrow(/needs stateStorageAccountId/);
    expect(() => readCiIdentitySettings(config({ ...base, previewStateAccess: "read" }))).toThrow(
      /previewStateAccess is no longer read/,
    );
  });

  test("settings: delegablePrincipalIds are object ids", () => {
    const id = "11111111-2222-3333-4444-555555555555";
    expect(
      readCiIdentitySettings(config({ githubRepository: "o/r", delegablePrincipalIds: ` ${id} ,` }))!
        .delegablePrincipalIds,
    ).toEqual([id]);
    expect(() =>
      readCiIdentitySettings(config({ githubRepository: "o/r", delegablePrincipalIds: "not-a-guid" })),
    ).toThrow(/delegablePrincipalIds/);
  });

  test("the quota role reads Azure ML usages and VM sizes only: no wildcard", () => {
    expect(QUOTA_READ_ACTIONS).toEqual([
      "Microsoft.MachineLearningServices/locations/usages/read",
      "Microsoft.MachineLearningServices/locations/vmsizes/read",
      "Microsoft.Resources/subscriptions/providers/read",
    ]);
    for (const action of QUOTA_READ_ACTIONS) expect(action).not.toContain("*");
  });

  test("role ids and ABAC condition", () => {
    expect(roleDefinitionId("sub", ROLES.reader)).toBe(
      "/subscriptions/sub/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7",
    );
    const condition = constrainedRoleAssignmentCondition([ROLES.acrPull]);
    expect(condition).toContain("roleAssignments/write");
    expect(condition).toContain("roleAssignments/delete");
    expect(condition).toContain(`GuidEquals {${ROLES.acrPull}}`);
    expect(condition).not.toContain(ROLES.contributor);
    expect(() => constrainedRoleAssignmentCondition(["acrpull"])).toThrow(/not a GUID/);
    expect(() => constrainedRoleAssignmentCondition([ROLES.acrPull], { only: [] })).toThrow(/empty/);
    expect(
      blobContainerScope(
        "/subscriptions/s/resourceGroups/r/providers/Microsoft.Storage/storageAccounts/a/",
        "st",
      ),
    ).toBe(
      "/subscriptions/s/resourceGroups/r/providers/Microsoft.Storage/storageAccounts/a/blobServices/default/containers/st",
    );
  });
});

describe("ABAC condition: by role, by principal type, by principal", () => {
  const ci = ["00000000-0000-4000-8000-0000000000c1", "00000000-0000-4000-8000-0000000000c2"];
  const write = (c: string) =>
    c.split(" AND ((!(ActionMatches{'Microsoft.Authorization/roleAssignments/delete'}))")[0];
  const del = (c: string) =>
    c.split(" AND ((!(ActionMatches{'Microsoft.Authorization/roleAssignments/delete'}))")[1];

  test("writes and deletes: service principals only, never the CI principals", () => {
    const c = constrainedRoleAssignmentCondition([ROLES.acrPull, ROLES.storageBlobDataReader], { never: ci });
    for (const [part, source] of [
      [write(c), "Request"],
      [del(c), "Resource"],
    ] as const) {
      expect(part).toContain(
        `@${source}[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {${ROLES.acrPull}, ${ROLES.storageBlobDataReader}}`,
      );
      expect(part).toContain(
        `@${source}[Microsoft.Authorization/roleAssignments:PrincipalType] ForAnyOfAnyValues:StringEqualsIgnoreCase {'ServicePrincipal'}`,
      );
      expect(part).toContain(
        `@${source}[Microsoft.Authorization/roleAssignments:PrincipalId] ForAnyOfAllValues:GuidNotEquals {${ci.join(", ")}}`,
      );
    }
  });

  test("an allow-list of principals replaces the exclusion", () => {
    const only = ["00000000-0000-4000-8000-0000000000e1"];
    const c = constrainedRoleAssignmentCondition([ROLES.acrPull], { only });
    expect(c).toContain(
      `@Request[Microsoft.Authorization/roleAssignments:PrincipalId] ForAnyOfAnyValues:GuidEquals {${only[0]}}`,
    );
    expect(c).toContain(
      `@Resource[Microsoft.Authorization/roleAssignments:PrincipalId] ForAnyOfAnyValues:GuidEquals {${only[0]}}`,
    );
    expect(c).not.toContain("GuidNotEquals");
  });

  test("balanced parentheses (a condition ARM would refuse otherwise)", () => {
    const c = constrainedRoleAssignmentCondition([ROLES.acrPull], { never: ci });
    let depth = 0;
    for (const ch of c.replace(/\{[^}]*\}/g, "")) {
      depth += ch === "(" ? 1 : ch === ")" ? -1 : 0;
      expect(depth).toBeGreaterThanOrEqual(0);
    }
    expect(depth).toBe(0);
  });
});

describe("CiIdentity under mocks", () => {
  const stateAccount = `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-state/providers/Microsoft.Storage/storageAccounts/pulumistate`;
  const vault = `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-state/providers/Microsoft.KeyVault/vaults/kv-pulumi`;
  let identity: CiIdentity;

  beforeAll(async () => {
    const settings = readCiIdentitySettings(
      config({
        githubRepository: "contoso/azure-ml-mnist",
        deployEnvironment: "production",
        stateStorageAccountId: stateAccount,
        stateContainerName: "pulumi-state",
        previewStateContainerName: "pulumi-previews",
        secretsKeyVaultId: vault,
      }),
    )!;
    identity = new CiIdentity("ci", { ...settings, resourceGroupId: RG_ID, subscriptionId: SUBSCRIPTION });
    await Promise.all(
      [...identity.previewRoleAssignments, ...identity.deployRoleAssignments].map((r) => promiseOf(r.urn)),
    );
    await promiseOf(identity.deployFederatedCredential.urn);
    await promiseOf(identity.previewFederatedCredential.urn);
  });

  const ofType = (type: string) => registered.filter((r) => r.type === type);

  test("two applications, two service principals keyed by client id", async () => {
    expect(ofType("azuread:index/application:Application").map((r) => r.inputs.displayName)).toEqual([
      "gha-azure-ml-mnist-preview",
      "gha-azure-ml-mnist-deploy",
    ]);
    const sps = ofType("azuread:index/servicePrincipal:ServicePrincipal");
    expect(sps).toHaveLength(2);
    expect(sps.map((s) => s.inputs.clientId)).toEqual([
      await promiseOf(identity.previewClientId),
      await promiseOf(identity.deployClientId),
    ]);
  });

  test("federated credential subjects: pull_request (preview) and the deploy environment (deploy)", async () => {
    const creds = ofType(
      "azuread:index/applicationFederatedIdentityCredential:ApplicationFederatedIdentityCredential",
    );
    expect(creds.map((c) => c.inputs.subject)).toEqual([
      "repo:contoso/azure-ml-mnist:pull_request",
      "repo:contoso/azure-ml-mnist:environment:production",
    ]);
    for (const c of creds) {
      expect(c.inputs.issuer).toBe("https://token.actions.githubusercontent.com");
      expect(c.inputs.audiences).toEqual(["api://AzureADTokenExchange"]);
      expect(String(c.inputs.applicationId)).toMatch(/^\/applications\//);
    }
    // each credential sits on its own app: the PR subject never reaches the deployer
    expect(await promiseOf(identity.previewFederatedCredential.applicationId)).toBe(
      await promiseOf(identity.previewApplication.id),
    );
    expect(await promiseOf(identity.deployFederatedCredential.applicationId)).toBe(
      await promiseOf(identity.deployApplication.id),
    );
    expect(await promiseOf(identity.previewApplication.id)).not.toBe(
      await promiseOf(identity.deployApplication.id),
    );
  });

  test("the pre-flight's custom role only reads, and only at the one subscription", () => {
    const [role] = ofType("azure-native:authorization:RoleDefinition");
    expect(role.inputs.permissions).toEqual([{ actions: [...QUOTA_READ_ACTIONS] }]);
    for (const action of QUOTA_READ_ACTIONS) expect(action).toMatch(/\/read$/);
    expect(role.inputs.assignableScopes).toEqual([`/subscriptions/${SUBSCRIPTION}`]);
    const atSubscription = ofType("azure-native:authorization:RoleAssignment").filter(
      (a) => String(a.inputs.scope) === `/subscriptions/${SUBSCRIPTION}`,
    );
    expect(atSubscription).toHaveLength(2);
    for (const a of atSubscription) expect(a.name).toMatch(/-quota-read$/);
  });

  test("resource role scopes are the resource group (or the state container), never the subscription", () => {
    const assignments = ofType("azure-native:authorization:RoleAssignment").filter(
      (a) => !a.name.endsWith("-quota-read"),
    );
    expect(assignments.length).toBeGreaterThanOrEqual(5);
    for (const a of assignments) {
      const scope = String(a.inputs.scope);
      expect(scope).not.toMatch(/^\/subscriptions\/[^/]+\/?$/);
      expect(scope.startsWith(RG_ID) || scope.startsWith(stateAccount) || scope === vault).toBe(true);
      expect(a.inputs.principalType).toBe("ServicePrincipal");
      expect(String(a.inputs.roleDefinitionId)).toMatch(
        new RegExp(
          `^/subscriptions/${SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/[0-9a-f-]{36}$`,
        ),
      );
    }
  });

  test("preview: nothing that reads or decrypts production; deploy gets Contributor + constrained RBAC admin", async () => {
    const roleOf = (id: string) => id.split("/").pop();
    const byPrincipal = async (sp: typeof identity.previewServicePrincipal) => {
      const objectId = await promiseOf(sp.objectId);
      return ofType("azure-native:authorization:RoleAssignment")
        .filter((a) => a.inputs.principalId === objectId)
        .map((a) => ({
          role: roleOf(String(a.inputs.roleDefinitionId)),
          scope: a.inputs.scope,
          condition: a.inputs.condition,
        }));
    };
    const quotaRead = <T extends { scope: unknown }>(entries: T[]) =>
      entries.filter((e) => e.scope === `/subscriptions/${SUBSCRIPTION}`);
    const preview = await byPrincipal(identity.previewServicePrincipal);
    expect(quotaRead(preview)).toHaveLength(1);
    preview.splice(preview.indexOf(quotaRead(preview)[0]), 1);
    preview.sort((a, b) => String(a.role).localeCompare(String(b.role)));
    // its own state container only; neither the production container nor the secrets key
    expect(preview).toEqual([
      { role: ROLES.reader, scope: RG_ID, condition: undefined },
      {
        role: ROLES.storageBlobDataContributor,
        scope: `${stateAccount}/blobServices/default/containers/pulumi-previews`,
        condition: undefined,
      },
    ]);
    const deploy = await byPrincipal(identity.deployServicePrincipal);
    expect(quotaRead(deploy)).toHaveLength(1);
    deploy.splice(deploy.indexOf(quotaRead(deploy)[0]), 1);
    expect(deploy.map((d) => d.role).sort()).toEqual(
      [
        ROLES.contributor,
        ROLES.roleBasedAccessControlAdministrator,
        ROLES.storageBlobDataContributor,
        ROLES.storageBlobDataContributor,
        ROLES.keyVaultCryptoUser,
      ].sort(),
    );
    const find = (role: string) => deploy.find((d) => d.role === role)!;
    expect(find(ROLES.contributor).scope).toBe(RG_ID);
    // the state container, and the resource group for the code upload (next test)
    expect(
      deploy
        .filter((d) => d.role === ROLES.storageBlobDataContributor)
        .map((d) => d.scope)
        .sort(),
    ).toEqual([RG_ID, `${stateAccount}/blobServices/default/containers/pulumi-state`].sort());
    expect(find(ROLES.keyVaultCryptoUser).scope).toBe(vault);
    expect(find(ROLES.roleBasedAccessControlAdministrator).scope).toBe(RG_ID);
    const condition = String(find(ROLES.roleBasedAccessControlAdministrator).condition);
    expect(condition).toContain("GuidEquals");
    expect(condition).toContain("StringEqualsIgnoreCase {'ServicePrincipal'}");
    const ciIds = [
      await promiseOf(identity.previewServicePrincipal.objectId),
      await promiseOf(identity.deployServicePrincipal.objectId),
    ];
    expect(condition).toContain(`ForAnyOfAllValues:GuidNotEquals {${ciIds.join(", ")}}`);
    expect(deploy.map((d) => d.role)).not.toContain(ROLES.userAccessAdministrator);
  });

  test("deploy: Storage Blob Data Contributor on the resource group (code upload without account keys); preview: none", async () => {
    const assignments = ofType("azure-native:authorization:RoleAssignment");
    const blobDataOnRg = assignments.filter(
      (a) =>
        String(a.inputs.roleDefinitionId).endsWith(`/${ROLES.storageBlobDataContributor}`) &&
        a.inputs.scope === RG_ID,
    );
    expect(blobDataOnRg.map((a) => a.name)).toEqual(["ci-deploy-rg-blob-data"]);
    expect(blobDataOnRg[0].inputs).toMatchObject({
      principalId: await promiseOf(identity.deployServicePrincipal.objectId),
      principalType: "ServicePrincipal",
      roleDefinitionId: roleDefinitionId(SUBSCRIPTION, ROLES.storageBlobDataContributor),
    });
    expect(blobDataOnRg[0].inputs.condition).toBeUndefined();
    // the preview identity reads the resource group's control plane only: no blob data role on it
    const previewId = await promiseOf(identity.previewServicePrincipal.objectId);
    expect(
      assignments.filter(
        (a) =>
          a.inputs.principalId === previewId &&
          a.inputs.scope === RG_ID &&
          !String(a.inputs.roleDefinitionId).endsWith(`/${ROLES.reader}`),
      ),
    ).toEqual([]);
  });

  test("the deploy environment admits main only, admins cannot bypass it, through a provider for the owner", () => {
    const [provider] = ofType("pulumi:providers:github");
    expect(provider.inputs.owner).toBe("contoso");
    const [env] = ofType("github:index/repositoryEnvironment:RepositoryEnvironment");
    expect(env.inputs).toMatchObject({
      repository: "azure-ml-mnist",
      environment: "production",
      canAdminsBypass: false,
      deploymentBranchPolicy: { protectedBranches: false, customBranchPolicies: true },
    });
    const policies = ofType(
      "github:index/repositoryEnvironmentDeploymentPolicy:RepositoryEnvironmentDeploymentPolicy",
    );
    expect(policies.map((p) => p.inputs)).toEqual([
      { repository: "azure-ml-mnist", environment: "production", branchPattern: "main" },
    ]);
  });

  test("children are parented to the component", async () => {
    const componentUrn = await promiseOf(identity.urn);
    const children = [...parents.entries()].filter(
      ([key]) => !key.startsWith("azure-ml-mnist:ci:CiIdentity"),
    );
    expect(children.length).toBeGreaterThanOrEqual(11);
    for (const [, parent] of children) expect(parent).toBe(componentUrn);
  });
});
