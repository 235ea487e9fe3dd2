// The deployment's name is known before anything is declared (program.ts planStack): the pre-flight gets it at once
// instead of waiting for the last line of the program. It must be the name the components arrive at, for every
// shape of stack: checked here against what the program actually declares.
import { Harness, runProgram, ROOT, Registration, devStackConfig, installMocks, unwrap } from "./harness";
import { flagOf } from "../../lib/program/steps";
import { readStackConfig } from "../../lib/config/stack";
import { planStack } from "../../program";

let h: Harness;
beforeAll(() => {
  process.setMaxListeners(100);
  h = installMocks(false);
});

const run = (overrides: Record<string, string | undefined>) => runProgram(h, overrides);

const declared = (regs: Registration[]) => {
  const step = regs.find((r) => r.type === "command:local:Command" && r.name === "online-deployment")!;
  return flagOf(String((unwrap(step.object) as { create: string }).create), "deployment");
};
const planned = (overrides: Record<string, string | undefined>) => {
  const config = devStackConfig(overrides);
  const cfg = readStackConfig(
    (k) => config[k.includes(":") ? k : `azure-ml-mnist:${k}`],
    "azure-ml-mnist",
    "dev",
  );
  return planStack(cfg, ROOT).deploymentName;
};

const REGISTRY =
  "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.MachineLearningServices/registries/mnist-models";

test.each<[string, Record<string, string>]>([
  ["the dev stack", {}],
  ["other hyperparameters", { "azure-ml-mnist:epochs": "3", "azure-ml-mnist:learningRate": "0.01" }],
  ["another GPU size", { "azure-ml-mnist:gpuVmSize": "Standard_NC6s_v3" }],
  [
    "a curated training environment (the .keras model served: TensorFlow in the inference image)",
    {
      "azure-ml-mnist:trainingEnvironment":
        "azureml://registries/azureml/environments/AzureML-tensorflow-2.16-cuda12/versions/10",
    },
  ],
  [
    "another instance type and count",
    { "azure-ml-mnist:instanceType": "Standard_DS3_v2", "azure-ml-mnist:instanceCount": "2" },
  ],
  [
    "a registry stack (prod)",
    {
      "azure-ml-mnist:modelSource": "registry",
      "azure-ml-mnist:modelRegistryId": REGISTRY,
      "azure-ml-mnist:registryModelVersion": "0123456789ab",
    },
  ],
])("%s: the planned deployment name is the declared one", async (_what, overrides) => {
  const name = planned(overrides);
  expect(name).toMatch(/^d-[0-9a-f]{12}$/);
  expect(declared(await run(overrides))).toBe(name);
});

test("a change the deployment does not depend on keeps the name; one it does changes it", () => {
  expect(planned({ "azure-ml-mnist:sampleMinAccuracy": "0.9" })).toBe(planned({}));
  expect(planned({ "azure-ml-mnist:epochs": "3" })).not.toBe(planned({}));
});
