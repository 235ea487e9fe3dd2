/**
 * The bootstrap program (bootstrap/index.ts) under mocks: the CI identity is off unless githubRepository is set,
 * and config errors name the key. Each case loads the program in its own module registry with its own config.
 */
import type * as pulumiType from "@pulumi/pulumi";
import { installMocks, promiseOf, RG_ID, Registered } from "./mocks";

type Program = typeof import("../../bootstrap/index");
const PROJECT = "azure-ml-mnist-ci-bootstrap";

function load(config: Record<string, string>): { program: Program; registered: Registered[] } {
  let result: { program: Program; registered: Registered[] } | undefined;
  jest.isolateModules(() => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- a fresh instance per isolated registry
    const pulumi = require("@pulumi/pulumi") as typeof pulumiType;
    const registered = installMocks(pulumi, PROJECT, config);
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- load the program after its mocks, so its resources register against them
    const program = require("../../bootstrap/index") as Program;
    result = { program, registered };
  });
  return result!;
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 50));

test("without githubRepository: only the resource group, no identity, no role assignment", async () => {
  const { program, registered } = load({ resourceGroupName: "rg-mnist-dev" });
  expect(await promiseOf(program.stackResourceGroupId)).toBe(RG_ID);
  await settle();
  expect(registered.map((r) => r.type)).toEqual(["azure-native:resources:ResourceGroup"]);
  expect(registered[0].inputs.tags).toMatchObject({ project: "azure-ml-mnist", stack: "dev" });
  expect(program.previewClientId).toBeUndefined();
  expect(program.repositoryVariables).toBeUndefined();
});

test("existing resource group (createResourceGroup false) is looked up, not created", async () => {
  const { program, registered } = load({ resourceGroupName: "rg-mnist-dev", createResourceGroup: "false" });
  expect(await promiseOf(program.stackResourceGroupId)).toBe(RG_ID);
  await settle();
  expect(registered).toEqual([]);
});

test("with githubRepository: both identities, repository variables exported", async () => {
  const { program, registered } = load({
    resourceGroupName: "rg-mnist-dev",
    githubRepository: "contoso/azure-ml-mnist",
    deployBranch: "main",
  });
  const vars = await promiseOf(program.repositoryVariables!);
  expect(Object.keys(vars).sort()).toEqual([
    "AZURE_DEPLOY_CLIENT_ID",
    "AZURE_PREVIEW_CLIENT_ID",
    "AZURE_SUBSCRIPTION_ID",
    "AZURE_TENANT_ID",
  ]);
  expect(vars.AZURE_PREVIEW_CLIENT_ID).not.toBe(vars.AZURE_DEPLOY_CLIENT_ID);
  expect(program.deploySubject).toBe("repo:contoso/azure-ml-mnist:ref:refs/heads/main");
  await settle();
  const subjects = registered
    .filter((r) => r.type.endsWith("ApplicationFederatedIdentityCredential"))
    .map((r) => r.inputs.subject);
  expect(subjects).toEqual([
    "repo:contoso/azure-ml-mnist:pull_request",
    "repo:contoso/azure-ml-mnist:ref:refs/heads/main",
  ]);
  // Resource roles on the resource group; at the subscription only the pre-flight's read-only custom role.
  const quotaRole = registered.find((r) => r.type === "azure-native:authorization:RoleDefinition");
  expect(quotaRole?.inputs.permissions).toEqual([
    {
      actions: [
        "Microsoft.MachineLearningServices/locations/usages/read",
        "Microsoft.MachineLearningServices/locations/vmsizes/read",
        "Microsoft.Resources/subscriptions/providers/read",
      ],
    },
  ]);
  // a branch subject needs no GitHub environment
  expect(registered.filter((r) => r.type.startsWith("github:"))).toEqual([]);
  expect(program.deployEnvironmentBranch).toBeUndefined();
  for (const a of registered.filter((r) => r.type === "azure-native:authorization:RoleAssignment")) {
    if (String(a.inputs.scope) === RG_ID) continue;
    expect(String(a.inputs.scope)).toMatch(/^\/subscriptions\/[^/]+$/);
    expect(String(a.inputs.roleDefinitionId)).not.toMatch(/\/roleDefinitions\/[0-9a-f-]{36}$/);
  }
});

test("an environment target: the environment is managed and admits main only (unless turned off)", async () => {
  const { program, registered } = load({
    resourceGroupName: "rg-mnist-dev",
    githubRepository: "contoso/azure-ml-mnist",
  });
  expect(program.deploySubject).toBe("repo:contoso/azure-ml-mnist:environment:production");
  expect(await promiseOf(program.deployEnvironmentBranch!)).toBe("main");
  await settle();
  const env = registered.find((r) => r.type === "github:index/repositoryEnvironment:RepositoryEnvironment");
  expect(env?.inputs).toMatchObject({ environment: "production", canAdminsBypass: false });
  const off = load({
    resourceGroupName: "rg-mnist-dev",
    githubRepository: "contoso/azure-ml-mnist",
    manageGithubEnvironment: "false",
  });
  await settle();
  expect(off.registered.filter((r) => r.type.startsWith("github:"))).toEqual([]);
});

test("config errors name the key", () => {
  expect(() => load({ resourceGroupName: "rg", githubRepository: "not-a-repo" })).toThrow(/githubRepository/);
  expect(() =>
    load({ resourceGroupName: "rg", githubRepository: "o/r", deployEnvironment: "prod env" }),
  ).toThrow(/deployEnvironment/);
  expect(() => load({ resourceGroupName: "bad/name" })).toThrow(/resourceGroupName/);
});

test("registryName: one shared registry, its primary region listed in regionDetails, and the deploy identity may write its assets", async () => {
  const { program, registered } = load({
    resourceGroupName: "rg-mnist-dev",
    githubRepository: "contoso/azure-ml-mnist",
    registryName: "mnist-models",
    registryLocation: "westeurope",
  });
  const registryId = await promiseOf(program.modelRegistryId!);
  await settle();
  const reg = registered.find((r) => r.type === "azure-native:machinelearningservices:Registry");
  expect(reg?.inputs).toMatchObject({
    registryName: "mnist-models",
    resourceGroupName: "rg-mnist-dev",
    location: "westeurope",
    identity: { type: "SystemAssigned" },
  });
  expect((reg?.inputs.regionDetails as { location: string }[]).map((d) => d.location)).toEqual([
    "westeurope",
  ]);
  const grants = registered.filter(
    (r) => r.type === "azure-native:authorization:RoleAssignment" && r.inputs.scope === registryId,
  );
  expect(grants.map((g) => [g.name, String(g.inputs.roleDefinitionId).split("/").pop()])).toEqual([
    ["ci-deploy-registry-assets", "1823dd4f-9b8c-4ab6-ab4e-7397a3684615"],
  ]);
});

test("without registryName there is no registry; a bad one is refused naming the key", () => {
  const { registered } = load({ resourceGroupName: "rg-mnist-dev" });
  expect(
    registered.filter((r) => r.type.endsWith(":Registry") && r.type.includes("machinelearning")),
  ).toEqual([]);
  expect(() => load({ resourceGroupName: "rg", registryName: "-bad" })).toThrow(/registryName/);
});

test("stagingEnvironment: the deploy app also trusts the dev environment, which admits main only as well", async () => {
  const { program, registered } = load({
    resourceGroupName: "rg-mnist-dev",
    githubRepository: "contoso/azure-ml-mnist",
    stagingEnvironment: "dev",
  });
  expect(program.stagingSubject).toBe("repo:contoso/azure-ml-mnist:environment:dev");
  await settle();
  const subjects = registered
    .filter((r) => r.type.endsWith("ApplicationFederatedIdentityCredential"))
    .map((r) => [r.name, r.inputs.subject]);
  expect(subjects).toEqual([
    ["ci-preview", "repo:contoso/azure-ml-mnist:pull_request"],
    ["ci-deploy", "repo:contoso/azure-ml-mnist:environment:production"],
    ["ci-deploy-staging", "repo:contoso/azure-ml-mnist:environment:dev"],
  ]);
  const envs = registered
    .filter((r) => r.type === "github:index/repositoryEnvironment:RepositoryEnvironment")
    .map((r) => r.inputs.environment);
  expect(envs).toEqual(["production", "dev"]);
  const branches = registered
    .filter((r) => r.type.endsWith("RepositoryEnvironmentDeploymentPolicy"))
    .map((r) => r.inputs.branchPattern);
  expect(branches).toEqual(["main", "main"]);
  expect(() =>
    load({ resourceGroupName: "rg", githubRepository: "o/r", stagingEnvironment: "production" }),
  ).toThrow(/stagingEnvironment must differ/);
  expect(() =>
    load({
      resourceGroupName: "rg",
      githubRepository: "o/r",
      deployBranch: "main",
      stagingEnvironment: "dev",
    }),
  ).toThrow(/stagingEnvironment/);
});
