/**
 * A first `pulumi preview` runs no command, so every step's stdout is unknown and so is everything computed from
 * it (the harness's mocks answer a dry run's commands with unknown outputs). The program must still declare its
 * whole graph then: the same resources, under the same parents, as an `up` where every step ran. A resource created
 * inside an `apply` of a step's output would be missing from the preview (and from the diff a reviewer sees).
 * Also here: the mocks refuse enum-typed inputs azure-native types `string | <enum>` that Azure would refuse.
 */
import * as pulumi from "@pulumi/pulumi";
import { devStackConfig, enumViolations, installMocks, newResource, type Registration } from "./harness";

async function declare(preview: boolean): Promise<Registration[]> {
  const h = installMocks(preview);
  pulumi.runtime.setAllConfig(devStackConfig());
  jest.isolateModules(() => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded after the mocks, so its resources register against them
    require("../../index");
  });
  await h.settle();
  return [...h.registrations];
}

const shape = (regs: Registration[]) =>
  regs.map((r) => `${r.type}::${r.name} (parent ${r.parent.split("::").pop() || "-"})`).sort();

describe("a first preview, every step's output unknown", () => {
  let preview: Registration[] = [];
  let up: Registration[] = [];
  beforeAll(async () => {
    preview = await declare(true);
    up = await declare(false);
  }, 120_000);

  test("the preview really had unknowns: the steps after training got unknown inputs", () => {
    const steps = preview.filter((r) => r.type === "command:local:Command");
    expect(steps.length).toBeGreaterThan(5);
    expect(steps.filter((r) => r.object.create === pulumi.runtime.unknownValue).length).toBeGreaterThan(0);
    // and in the up, nothing is unknown
    expect(up.filter((r) => r.object.create === pulumi.runtime.unknownValue)).toEqual([]);
  });

  test("the same resources, under the same parents, as an up where every step ran", () => {
    expect(preview.length).toBeGreaterThan(20);
    expect(shape(preview)).toEqual(shape(up));
  });
});

describe("enum-typed inputs are checked against @pulumi/azure-native's enums", () => {
  const COMPUTE = "azure-native:machinelearningservices:Compute";
  const cluster = (access: string) => ({
    identity: { type: "SystemAssigned" },
    properties: { computeType: "AmlCompute", properties: { remoteLoginPortPublicAccess: access } },
  });

  test("remoteLoginPortPublicAccess 'Disable' (tsc takes any string there) is refused; 'Disabled' passes", () => {
    expect(enumViolations(COMPUTE, cluster("Disabled"))).toEqual([]);
    expect(enumViolations(COMPUTE, cluster("Disable"))).toEqual([
      `${COMPUTE} properties.properties.remoteLoginPortPublicAccess: 'Disable' is not one of Enabled, Disabled, NotSpecified`,
    ]);
  });

  test("items of arrays and maps too (`*`): an autoscale rule's operator", () => {
    const profiles = [
      { rules: [{ metricTrigger: { operator: "GreaterThan" } }, { metricTrigger: { operator: "Above" } }] },
    ];
    expect(enumViolations("azure-native:monitor:AutoscaleSetting", { profiles })).toEqual([
      expect.stringContaining("profiles.*.rules.*.metricTrigger.operator: 'Above' is not one of"),
    ]);
  });

  test("a step's spec (the GPU cluster's COMPUTE_SPEC) with a misspelt enum fails the run at settle()", async () => {
    const h = installMocks(false);
    newResource({
      type: "command:local:Command",
      name: "gpu-cluster",
      inputs: { create: "x", environment: { COMPUTE_SPEC: JSON.stringify(cluster("Disable")) } },
      provider: "",
      id: "",
      custom: true,
    } as pulumi.runtime.MockResourceArgs);
    await expect(h.settle()).rejects.toThrow(
      "gpu-cluster COMPUTE_SPEC: azure-native:machinelearningservices:Compute properties.properties.remoteLoginPortPublicAccess: 'Disable'",
    );
    await expect(h.settle()).resolves.toBeUndefined(); // reported once
  });
});
