// Train once, promote, deploy the same version elsewhere: the dev stack (modelSource train + modelRegistryId)
// promotes its gated model after the live sample call; the prod stack (modelSource registry) never trains and
// deploys exactly the configured registry version through the same endpoint, smoke test, rollout and sample call.
import { Harness, runProgram, Registration, installMocks, unwrap } from "./harness";
import { flagOf } from "../../lib/program/steps";
import { readStackConfig } from "../../lib/config/stack";
import { ConfigError } from "../../lib/config/reader";
import { registryModel } from "../../program";

const REGISTRY_ID =
  "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-shared/providers/Microsoft.MachineLearningServices/registries/mnist-registry";
const CMD = "command:local:Command";
let h: Harness;

beforeAll(() => {
  process.setMaxListeners(100);
  h = installMocks(false);
});

const run = (overrides: Record<string, string | undefined>) => runProgram(h, overrides);

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const obj = (r: Registration) => unwrap(r.object) as Record<string, any>;
const step = (regs: Registration[], name: string) => regs.filter((r) => r.type === CMD && r.name === name);
const urnOf = (regs: Registration[], name: string) => step(regs, name)[0]?.urn;

describe("dev: trains, gates, then promotes", () => {
  let regs: Registration[];
  beforeAll(async () => {
    regs = await run({
      "azure-ml-mnist:modelRegistryId": REGISTRY_ID,
      "azure-ml-mnist:promotionMinGain": "0.001",
    });
  });

  test("the promotion step names the workspace version, the registry and the margin", () => {
    const [p] = step(regs, "promotion-promote");
    expect(p).toBeDefined();
    const create = String(obj(p).create);
    expect(flagOf(create, "model-id")).toMatch(
      /\/workspaces\/[^/]+\/models\/mnist-cnn\/versions\/[0-9a-f]{12}$/,
    );
    expect(flagOf(create, "registry-id")).toBe(REGISTRY_ID);
    expect(flagOf(create, "min-gain")).toBe("0.001");
    // never deletes: a registry refuses to re-create a deleted version
    expect(obj(p).delete).toBeUndefined();
  });

  test("it waits for the sample call on the live endpoint (every gate of the stack)", () => {
    const [p] = step(regs, "promotion-promote");
    expect(p.dependencies).toContain(urnOf(regs, "sample-invoke"));
  });

  test("without modelRegistryId there is no promotion", async () => {
    const plain = await run({});
    expect(step(plain, "promotion-promote")).toEqual([]);
    expect(step(plain, "training-run")).toHaveLength(1);
  });
});

describe("prod: deploys a registry version and never trains", () => {
  let regs: Registration[];
  beforeAll(async () => {
    regs = await run({
      "azure-ml-mnist:modelSource": "registry",
      "azure-ml-mnist:modelRegistryId": REGISTRY_ID,
      "azure-ml-mnist:registryModelVersion": "0123456789ab",
    });
  });

  test("no cluster, no training code or environment, no job, no workspace model, no promotion", () => {
    for (const name of [
      "gpu-cluster",
      "training-run",
      "model-version",
      "promotion-promote",
      "train-code-ensure",
    ])
      expect([name, step(regs, name).length]).toEqual([name, 0]);
    expect(regs.filter((r) => r.type === "azure-ml-mnist:index:TrainingJob")).toEqual([]);
    expect(regs.filter((r) => r.type === "azure-ml-mnist:index:GpuCompute")).toEqual([]);
  });

  test("the deployment names exactly the configured registry version", () => {
    const [d] = step(regs, "online-deployment");
    const spec = JSON.parse(String(obj(d).environment.DEPLOYMENT_SPEC));
    expect(spec.properties.model).toBe(
      "azureml://registries/mnist-registry/models/mnist-cnn/versions/0123456789ab",
    );
  });

  test("the same smoke test, rollout and sample call follow the deployment", () => {
    for (const name of ["online-smoke", "online-traffic", "sample-invoke"])
      expect(step(regs, name)).toHaveLength(1);
  });

  test("another registry version is another deployment (a rollback is a config change)", async () => {
    const older = await run({
      "azure-ml-mnist:modelSource": "registry",
      "azure-ml-mnist:modelRegistryId": REGISTRY_ID,
      "azure-ml-mnist:registryModelVersion": "fedcba987654",
    });
    const name = (r: Registration[]) =>
      flagOf(String(obj(step(r, "online-deployment")[0]).create), "deployment");
    expect(name(older)).not.toBe(name(regs));
  });
});

describe("config", () => {
  const read = (cfg: Record<string, string>) =>
    readStackConfig((k) => cfg[k.replace("azure-ml-mnist:", "")], "azure-ml-mnist", "prod");

  test("modelSource registry needs the registry and the version, named in the error", () => {
    expect(() => read({ modelSource: "registry" })).toThrow(ConfigError);
    try {
      read({ modelSource: "registry" });
    } catch (e) {
      expect(String(e)).toContain("modelRegistryId");
      expect(String(e)).toContain("registryModelVersion");
    }
    expect.assertions(3);
  });

  test("a registry id must be one", () => {
    expect(() =>
      read({
        modelRegistryId: "/subscriptions/x/resourceGroups/y/providers/Microsoft.Storage/storageAccounts/z",
      }),
    ).toThrow(/modelRegistryId/);
  });

  test("registryModel builds the id an online deployment takes", () => {
    expect(registryModel(REGISTRY_ID, "mnist-cnn", "3").modelId).toBe(
      "azureml://registries/mnist-registry/models/mnist-cnn/versions/3",
    );
  });
});

test("Pulumi.prod.yaml is a valid registry stack of the declared types", () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- yaml only here
  const { parse } = require("yaml") as typeof import("yaml");
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- fs only here
  const fs = require("fs") as typeof import("fs");
  const declared = (
    parse(fs.readFileSync("Pulumi.yaml", "utf8")) as { config: Record<string, { type: string }> }
  ).config;
  const stack = (parse(fs.readFileSync("Pulumi.prod.yaml", "utf8")) as { config: Record<string, unknown> })
    .config;
  const values: Record<string, string> = {};
  for (const [key, value] of Object.entries(stack)) {
    const [ns, name] = key.split(":");
    if (ns !== "azure-ml-mnist") continue;
    if (name !== "tags")
      expect([name, typeof value]).toEqual([
        name,
        { string: "string", integer: "number", boolean: "boolean" }[declared[name].type],
      ]);
    values[name] = typeof value === "object" ? JSON.stringify(value) : String(value);
  }
  const cfg = readStackConfig(
    (k) => (k === "azure-native:location" ? String(stack[k]) : values[k.replace("azure-ml-mnist:", "")]),
    "azure-ml-mnist",
    "prod",
  );
  expect(cfg.registry.modelSource).toBe("registry");
  expect(cfg.registry.registryId).toMatch(/\/registries\/mnist-models$/);
});
