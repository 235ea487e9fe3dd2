/**
 * The guardrails cover the `command:local:Command` steps that create Azure ML resources from a JSON body in their
 * environment (ENDPOINT_SPEC, DEPLOYMENT_SPEC, COMPUTE_SPEC, MODEL_SPEC, JOB_SPEC, ...), run through the pack's own
 * policies as the analyzer would: a bad body is reported naming the step and the variable; an absent or unknown one
 * (preview) is skipped.
 */
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";
import type { ResourceValidationPolicy } from "@pulumi/policy";
import {
  CODE_VERSION,
  COMMAND,
  COMPUTE,
  ENVIRONMENT_VERSION,
  JOB,
  MODEL_VERSION,
  ONLINE_DEPLOYMENT,
  ONLINE_ENDPOINT,
  STEP_SPECS,
  stepSpecs,
} from "../../policy/validators";

// policy/index.ts constructs a PolicyPack, which would start the analyzer's gRPC server: capture it instead, and keep
// the rest of the module real (unknownCheckingProxy: the proxy the analyzer hands policies their props through).
jest.mock("@pulumi/policy", () => ({
  ...jest.requireActual<typeof import("@pulumi/policy")>("@pulumi/policy"),
  PolicyPack: jest.fn(),
}));
const { unknownCheckingProxy } = jest.requireActual<typeof import("@pulumi/policy")>("@pulumi/policy");

/** What a `pulumi preview` sends for a string input not known yet (@pulumi/pulumi runtime/rpc unknownValue). */
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

const tags = { project: "azure-ml-mnist", stack: "dev" };
const endpointBody = (authMode: unknown = "Key", t: unknown = tags) => ({
  location: "westeurope",
  kind: "Managed",
  identity: { type: "SystemAssigned" },
  properties: { authMode, publicNetworkAccess: "Enabled", description: "MNIST" },
  tags: t,
});
const deploymentBody = (instanceType = "Standard_DS3_v2", t: unknown = tags) => ({
  location: "westeurope",
  kind: "Managed",
  sku: { name: "Default", capacity: 1 },
  properties: {
    endpointComputeType: "Managed",
    instanceType,
    model: "azureml:mnist:1",
    environmentId: "env",
  },
  tags: t,
});
const computeBody = (minNodeCount = 0, vmSize = "Standard_NC4as_T4_v3", t: unknown = tags) => ({
  location: "westeurope",
  identity: { type: "SystemAssigned" },
  properties: {
    computeType: "AmlCompute",
    description: "GPU training cluster",
    disableLocalAuth: true,
    properties: {
      vmSize,
      vmPriority: "Dedicated",
      osType: "Linux",
      scaleSettings: { minNodeCount, maxNodeCount: 1, nodeIdleTimeBeforeScaleDown: "PT120S" },
      enableNodePublicIp: true,
      remoteLoginPortPublicAccess: "Disabled",
    },
  },
  tags: t,
});
const modelBody = (t: unknown = tags) => ({
  modelType: "custom_model",
  modelUri: "azureml://jobs/job-1/outputs/model",
  jobName: "job-1",
  description: "Keras CNN",
  tags: t,
});
const jobBody = (t: unknown = tags) => ({
  jobType: "Command",
  command: "python app.py",
  environmentId: "env",
  tags: t,
});

const step = (name: string, environment: unknown) => ({
  type: COMMAND,
  name,
  props: { create: "tsx ops/ensure.ts", logging: "stderr", environment } as Record<string, unknown>,
});
const endpointStep = (body: unknown = endpointBody()) =>
  step("online-endpoint", { ENDPOINT_SPEC: JSON.stringify(body) });
const deploymentStep = (body: unknown = deploymentBody()) =>
  step("online-deployment", { DEPLOYMENT_SPEC: JSON.stringify(body) });
const computeStep = (body: unknown = computeBody()) =>
  step("gpu-cluster", { COMPUTE_SPEC: JSON.stringify(body) });
const modelStep = (body: unknown = modelBody()) =>
  step("model-version", { MODEL_SPEC: JSON.stringify(body) });
const jobStep = (body: unknown = jobBody()) => step("training-run", { JOB_SPEC: JSON.stringify(body) });

type Resource = ReturnType<typeof step>;

const policies = (): Record<string, ResourceValidationPolicy> => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require("../../policy/index");
  const { PolicyPack } = jest.requireMock("@pulumi/policy") as { PolicyPack: jest.Mock };
  expect(PolicyPack).toHaveBeenCalledTimes(1);
  const list = PolicyPack.mock.calls[0][1].policies as ResourceValidationPolicy[];
  return Object.fromEntries(list.map((p) => [p.name, p]));
};

/** Every violation each policy of the pack reports for the resource, as `policy: message`. */
function violations(resource: Resource, config: object = {}): string[] {
  const found: string[] = [];
  for (const policy of Object.values(policies())) {
    const validate = policy.validateResource as (a: unknown, r: (m: string) => void) => void;
    validate({ ...resource, urn: `urn:${resource.name}`, getConfig: () => config }, (m) =>
      found.push(`${policy.name}: ${m}`),
    );
  }
  return found;
}

describe("a step's spec is read as the azure-native resource it creates", () => {
  test("ENDPOINT_SPEC, DEPLOYMENT_SPEC and COMPUTE_SPEC are the resource's inputs; the versions' and job's are its properties", () => {
    const read = (r: Resource) =>
      stepSpecs(r).map(({ type, props, envVar, subject }) => ({ type, props, envVar, subject }));
    expect(read(endpointStep())).toEqual([
      {
        type: ONLINE_ENDPOINT,
        props: endpointBody(),
        envVar: "ENDPOINT_SPEC",
        subject: "step online-endpoint (ENDPOINT_SPEC)",
      },
    ]);
    expect(read(deploymentStep())).toEqual([
      expect.objectContaining({ type: ONLINE_DEPLOYMENT, props: deploymentBody() }),
    ]);
    expect(read(computeStep())).toEqual([expect.objectContaining({ type: COMPUTE, props: computeBody() })]);
    expect(read(modelStep())).toEqual([
      expect.objectContaining({ type: MODEL_VERSION, props: { properties: modelBody() } }),
    ]);
    expect(read(jobStep())).toEqual([
      expect.objectContaining({ type: JOB, props: { properties: jobBody() } }),
    ]);
    expect(Object.fromEntries(Object.entries(STEP_SPECS).map(([k, v]) => [k, v.type]))).toEqual({
      ENDPOINT_SPEC: ONLINE_ENDPOINT,
      DEPLOYMENT_SPEC: ONLINE_DEPLOYMENT,
      COMPUTE_SPEC: COMPUTE,
      MODEL_SPEC: MODEL_VERSION,
      JOB_SPEC: JOB,
      ENVIRONMENT_SPEC: ENVIRONMENT_VERSION,
      ASSET_SPEC: CODE_VERSION,
    });
  });

  test("only command steps carry specs", () => {
    const notAStep = { ...endpointStep(), type: "azure-native:resources:ResourceGroup" };
    expect(stepSpecs(notAStep)).toEqual([]);
  });

  // The mapping is only right if the azure-native type takes the body that way: check the installed SDK.
  test("each spec's shape matches its azure-native type's arguments in @pulumi/azure-native", () => {
    const sdk = path.dirname(require.resolve("@pulumi/azure-native/package.json"));
    for (const { type, wrappedIn } of Object.values(STEP_SPECS)) {
      const [, mod, name] = type.split(":");
      const file = path.join(sdk, mod, `${name[0].toLowerCase()}${name.slice(1)}.d.ts`);
      expect(existsSync(file)).toBe(true);
      const text = readFileSync(file, "utf8");
      const start = text.indexOf(`export interface ${name}Args {`);
      expect(start).toBeGreaterThanOrEqual(0);
      const args = text.slice(start, text.indexOf("\n}", start));
      // unwrapped: the body's top-level keys are the type's inputs (tags included); wrapped: one input holds it
      const input = wrappedIn ?? "tags";
      expect({ type, input, found: new RegExp(`\\n {4}${input}\\??:`).test(args) }).toEqual({
        type,
        input,
        found: true,
      });
    }
  });
});

describe("every policy covers the steps", () => {
  test("the steps of a compliant program pass every policy", () => {
    for (const r of [endpointStep(), deploymentStep(), computeStep(), modelStep(), jobStep()])
      expect({ step: r.name, violations: violations(r) }).toEqual({ step: r.name, violations: [] });
    expect(violations(deploymentStep(deploymentBody("Standard_NC4as_T4_v3")))).toEqual([]);
  });

  test("an endpoint step without auth is reported, naming the step and the variable", () => {
    expect(violations(endpointStep(endpointBody("None")))).toEqual([
      expect.stringMatching(
        /^ml-endpoint-auth-required: step online-endpoint \(ENDPOINT_SPEC\): online endpoint authMode must be one of .*got "None"/,
      ),
    ]);
    expect(violations(endpointStep({ ...endpointBody(), properties: {} }))).toEqual([
      expect.stringMatching(/^ml-endpoint-auth-required: step online-endpoint \(ENDPOINT_SPEC\): .*got none/),
    ]);
  });

  test("a GPU size outside the list is reported on a deployment step and on a cluster step", () => {
    expect(violations(deploymentStep(deploymentBody("Standard_ND96asr_v4")))).toEqual([
      "ml-gpu-vm-size-allowed: step online-deployment (DEPLOYMENT_SPEC): GPU VM size Standard_ND96asr_v4 is not in the allowed list " +
        "(Standard_NC4as_T4_v3, Standard_NC8as_T4_v3, Standard_NC6s_v3, Standard_NC24ads_A100_v4)",
    ]);
    expect(violations(computeStep(computeBody(0, "Standard_NV36ads_A10_v5")))).toEqual([
      expect.stringMatching(
        /^ml-gpu-vm-size-allowed: step gpu-cluster \(COMPUTE_SPEC\): GPU VM size Standard_NV36ads_A10_v5 is not/,
      ),
    ]);
    expect(
      violations(computeStep(computeBody(0, "Standard_NV36ads_A10_v5")), {
        allowedGpuVmSizes: ["Standard_NV36ads_A10_v5"],
      }),
    ).toEqual([]);
  });

  test("a cluster step with warm nodes is reported unless the config allows them", () => {
    expect(violations(computeStep(computeBody(2)))).toEqual([
      expect.stringMatching(
        /^ml-compute-scale-to-zero: step gpu-cluster \(COMPUTE_SPEC\): .*minNodeCount must be 0/,
      ),
    ]);
    expect(violations(computeStep(computeBody(2)), { allowNonZeroMinNodes: true })).toEqual([]);
  });

  test.each([
    [
      "online-endpoint",
      "ENDPOINT_SPEC",
      ONLINE_ENDPOINT,
      endpointStep(endpointBody("Key", { project: "p" })),
    ],
    [
      "online-deployment",
      "DEPLOYMENT_SPEC",
      ONLINE_DEPLOYMENT,
      deploymentStep(deploymentBody(undefined, { project: "p" })),
    ],
    [
      "gpu-cluster",
      "COMPUTE_SPEC",
      COMPUTE,
      computeStep(computeBody(0, undefined, { project: "p", stack: " " })),
    ],
    ["model-version", "MODEL_SPEC", MODEL_VERSION, modelStep(modelBody({ project: "p" }))],
    ["training-run", "JOB_SPEC", JOB, jobStep(jobBody({ project: "p" }))],
  ])("a %s step whose %s lacks a required tag is reported", (name, envVar, type, resource) => {
    expect(violations(resource)).toEqual([
      `azure-required-tags: step ${name} (${envVar}): ${type} is missing required tag(s) stack (required: project, stack)`,
    ]);
  });

  test("tags: a spec without any is reported, requiredTags applies, exemptTypes skips by the type the step creates", () => {
    expect(violations(modelStep({ ...modelBody(), tags: undefined }))).toEqual([
      expect.stringMatching(/step model-version \(MODEL_SPEC\): .* missing required tag\(s\) project, stack/),
    ]);
    expect(violations(endpointStep(), { requiredTags: ["project", "stack", "costCenter"] })).toEqual([
      expect.stringMatching(/^azure-required-tags: step online-endpoint \(ENDPOINT_SPEC\): .*costCenter/),
    ]);
    expect(
      violations(modelStep({ ...modelBody(), tags: undefined }), { exemptTypes: [MODEL_VERSION] }),
    ).toEqual([]);
  });

  test("a known spec that is not a JSON object is reported by every policy that covers its type", () => {
    const broken = step("online-endpoint", { ENDPOINT_SPEC: "{not json" });
    expect(violations(broken).sort()).toEqual([
      expect.stringMatching(
        /^azure-required-tags: step online-endpoint \(ENDPOINT_SPEC\): ENDPOINT_SPEC is not a JSON object/,
      ),
      expect.stringMatching(
        /^ml-endpoint-auth-required: step online-endpoint \(ENDPOINT_SPEC\): ENDPOINT_SPEC is not/,
      ),
    ]);
    expect(violations(step("model-version", { MODEL_SPEC: "[1]" }))).toEqual([
      expect.stringMatching(
        /^azure-required-tags: step model-version \(MODEL_SPEC\): MODEL_SPEC is not a JSON object/,
      ),
    ]);
  });
});

describe("absent or unknown specs are skipped", () => {
  test("a step without an environment, or without a known variable, is not checked", () => {
    expect(violations(step("smoke-test", undefined))).toEqual([]);
    expect(violations(step("smoke-test", {}))).toEqual([]);
    expect(violations(step("other", { OTHER_SPEC: "{not json", ENDPOINT_SPEC: 42 }))).toEqual([]);
    expect(stepSpecs(step("smoke-test", { PATH: "/bin" }))).toEqual([]);
  });

  test("a value not known yet (the preview's sentinel) is skipped, plain or through the analyzer's proxy", () => {
    type Env = Record<string, Record<string, unknown>>;
    const cases: Array<[unknown, (props: Env) => unknown]> = [
      [{ ENDPOINT_SPEC: UNKNOWN }, (p) => p.environment.ENDPOINT_SPEC],
      [{ DEPLOYMENT_SPEC: UNKNOWN, MODEL_SPEC: UNKNOWN }, (p) => p.environment.MODEL_SPEC],
      [UNKNOWN, (p) => p.environment],
    ];
    for (const [environment, read] of cases) {
      const plain = step("online-endpoint", environment);
      expect(stepSpecs(plain)).toEqual([]);
      expect(violations(plain)).toEqual([]);
      // as the analyzer hands them over: reading an unknown value through the proxy throws UnknownValueError
      const proxied = { ...plain, props: unknownCheckingProxy(plain.props) as Record<string, unknown> };
      expect(() => read(proxied.props as Env)).toThrow(/can't be known during preview/);
      expect(stepSpecs(proxied)).toEqual([]);
      expect(violations(proxied)).toEqual([]);
    }
  });

  test("through the proxy a known bad spec is still reported, beside an unknown one", () => {
    const bad = endpointStep(endpointBody("None", {}));
    const proxied = {
      ...bad,
      props: unknownCheckingProxy({
        ...bad.props,
        environment: { ...(bad.props.environment as object), JOB_SPEC: UNKNOWN },
      }),
    };
    expect(violations(proxied).sort()).toEqual([
      expect.stringMatching(
        /^azure-required-tags: step online-endpoint \(ENDPOINT_SPEC\): .*missing required tag/,
      ),
      expect.stringMatching(/^ml-endpoint-auth-required: step online-endpoint \(ENDPOINT_SPEC\): /),
    ]);
  });
});
