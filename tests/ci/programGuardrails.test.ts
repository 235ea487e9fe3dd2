/**
 * Cross-check of the main program (index.ts, run under the graph harness's mocks as in `pulumi up`) against the
 * guardrail policy pack: every azure-native resource it declares, and every command step that creates an Azure ML
 * resource from a JSON body (ENDPOINT_SPEC, DEPLOYMENT_SPEC, MODEL_SPEC, COMPUTE_SPEC, JOB_SPEC, ...), passes every
 * policy of the pack with its defaults.
 */
import { devStackConfig, installMocks, MOCK_KEY, Registration, unwrap } from "../graph/harness";
import * as pulumi from "@pulumi/pulumi";
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { COMMAND, COMPUTE, NamedResource, stepSpecs } from "../../policy/validators";

// policy/index.ts constructs a PolicyPack, which would start the analyzer's gRPC server: capture it instead.
jest.mock("@pulumi/policy", () => ({ PolicyPack: jest.fn() }));

const harness = installMocks(false);
let policies: ResourceValidationPolicy[] = [];

beforeAll(async () => {
  pulumi.runtime.setAllConfig(devStackConfig());
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- load the program after its mocks, so its resources register against them
  require("../../index");
  await harness.settle();
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- the pack's own policies, as `--policy-pack policy` runs them
  require("../../policy/index");
  const { PolicyPack } = jest.requireMock("@pulumi/policy") as { PolicyPack: jest.Mock };
  policies = PolicyPack.mock.calls[0][1].policies as ResourceValidationPolicy[];
});

const asResource = (r: Registration): NamedResource => ({
  type: r.type,
  name: r.name,
  props: unwrap(r.object) as Record<string, unknown>,
});

/** Every violation the pack's policies report for the resource (defaults: no policy config), as `policy: message`. */
function violations(resource: NamedResource): string[] {
  expect(policies).toHaveLength(5);
  const found: string[] = [];
  for (const policy of policies) {
    const validate = policy.validateResource as (a: unknown, r: (m: string) => void) => void;
    validate({ ...resource, getConfig: () => ({}) }, (m) => found.push(`${policy.name}: ${m}`));
  }
  return found;
}

const custom = () => harness.registrations.filter((r) => r.custom);
const steps = () => custom().filter((r) => r.type === COMMAND);
const stepNamed = (name: string) => {
  const found = steps().filter((r) => r.name === name);
  expect(found).toHaveLength(1);
  return asResource(found[0]);
};

/** The step with its one spec replaced by `edit` of the parsed body. */
function withSpec(
  resource: NamedResource,
  envVar: string,
  edit: (body: Record<string, unknown>) => void,
): NamedResource {
  const environment = resource.props.environment as Record<string, string>;
  const body = JSON.parse(environment[envVar]) as Record<string, unknown>;
  edit(body);
  return {
    ...resource,
    props: { ...resource.props, environment: { ...environment, [envVar]: JSON.stringify(body) } },
  };
}
const record = (v: unknown) => v as Record<string, unknown>;

test("every azure-native resource and every command step of the dev stack passes the guardrails", () => {
  const checked = custom().filter((r) => r.type.startsWith("azure-native:") || r.type === COMMAND);
  expect(checked.filter((r) => r.type.startsWith("azure-native:")).length).toBeGreaterThan(5);
  const failing = checked
    .map(asResource)
    .map((r) => ({ resource: `${r.type}::${r.name}`, violations: violations(r) }))
    .filter((r) => r.violations.length > 0);
  expect(failing).toEqual([]);
});

test("the guardrails read the endpoint, deployment, model and job steps' bodies, and the GPU cluster wherever it is declared", () => {
  const specs = steps().flatMap((r) => stepSpecs(asResource(r)));
  expect(specs.filter((s) => s.error !== undefined)).toEqual([]);
  const read = specs.map((s) => `${s.step} ${s.envVar}`);
  expect(read).toEqual(
    expect.arrayContaining([
      "online-endpoint ENDPOINT_SPEC",
      "online-deployment DEPLOYMENT_SPEC",
      "model-version MODEL_SPEC",
      "training-run JOB_SPEC",
    ]),
  );
  // The GPU cluster is an azure-native Compute or a COMPUTE_SPEC step: either way the pack sees it.
  const clusterSteps = specs.filter((s) => s.envVar === "COMPUTE_SPEC");
  const clusters = custom().filter((r) => r.type === COMPUTE);
  expect(clusterSteps.length + clusters.length).toBeGreaterThanOrEqual(1);
  for (const s of clusterSteps) expect(s.step).toBe("gpu-cluster");
});

test("a violating body in any of the program's steps is reported, naming the step and the variable", () => {
  const endpoint = withSpec(stepNamed("online-endpoint"), "ENDPOINT_SPEC", (b) => {
    record(b.properties).authMode = "None";
  });
  expect(violations(endpoint)).toEqual([
    expect.stringMatching(/^ml-endpoint-auth-required: step online-endpoint \(ENDPOINT_SPEC\): .*authMode/),
  ]);
  const deployment = withSpec(stepNamed("online-deployment"), "DEPLOYMENT_SPEC", (b) => {
    record(b.properties).instanceType = "Standard_ND96asr_v4";
  });
  expect(violations(deployment)).toEqual([
    expect.stringMatching(
      /^ml-gpu-vm-size-allowed: step online-deployment \(DEPLOYMENT_SPEC\): .*Standard_ND96asr_v4/,
    ),
  ]);
  for (const [name, envVar] of [
    ["model-version", "MODEL_SPEC"],
    ["training-run", "JOB_SPEC"],
    ["online-endpoint", "ENDPOINT_SPEC"],
  ]) {
    const untagged = withSpec(stepNamed(name), envVar, (b) => {
      delete record(b.tags).stack;
    });
    expect(violations(untagged)).toEqual([
      expect.stringMatching(
        new RegExp(
          `^azure-required-tags: step ${name} \\(${envVar}\\): .* missing required tag\\(s\\) stack`,
        ),
      ),
    ]);
  }
  // the cluster step, once the program declares the cluster as one (check it if present)
  const clusterStep = steps()
    .map(asResource)
    .find((r) => stepSpecs(r).some((s) => s.envVar === "COMPUTE_SPEC"));
  if (clusterStep !== undefined) {
    const warm = withSpec(clusterStep, "COMPUTE_SPEC", (b) => {
      const aml = record(record(b.properties).properties);
      record(aml.scaleSettings).minNodeCount = 2;
      aml.vmSize = "Standard_ND96asr_v4";
    });
    expect(violations(warm).sort()).toEqual([
      expect.stringMatching(/^ml-compute-scale-to-zero: step gpu-cluster \(COMPUTE_SPEC\): .*minNodeCount/),
      expect.stringMatching(
        /^ml-gpu-vm-size-allowed: step gpu-cluster \(COMPUTE_SPEC\): .*Standard_ND96asr_v4/,
      ),
    ]);
  }
});

test("outside a dry run too, no endpoint key is fetched by the program or carried by any step (the steps read it when they run)", () => {
  expect(harness.calls.some((t) => /:list[A-Z]\w*Keys$/.test(t))).toBe(false);
  const text = JSON.stringify(harness.registrations.map((r) => unwrap(r.object)));
  expect(text).not.toContain(MOCK_KEY);
  expect(text).not.toContain("ENDPOINT_KEY");
});
