// lib/config/stack.ts: the rules between keys (each key alone is its setting's rule), as `pulumi preview` reports them.
import { ConfigError, readStackConfig } from "../../lib/config/stack";

const P = "azure-ml-mnist";

/** The problems readStackConfig reports for `values` (project keys), or [] when it accepts them. */
function problems(values: Record<string, string>): string[] {
  try {
    readStackConfig((k) => (k === "azure-native:location" ? "westeurope" : values[k]), P, "dev");
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}

test("modelSource registry needs the registry and the version", () => {
  expect(problems({ modelSource: "registry" })).toEqual([
    `${P}:modelRegistryId = "(unset)" is invalid: is required with modelSource registry`,
    `${P}:registryModelVersion = "(unset)" is invalid: is required with modelSource registry`,
  ]);
});

test("trainingNodes must not exceed gpuMaxNodes; equal is fine", () => {
  expect(problems({ gpuMaxNodes: "2", trainingNodes: "2", batchSize: "128" })).toEqual([]);
  expect(problems({ gpuMaxNodes: "1", trainingNodes: "2", batchSize: "128" })).toContain(
    `${P}:trainingNodes = "2" is invalid: must not exceed gpuMaxNodes (1)`,
  );
});

test("with autoscale, instanceCount lies within its bounds (inclusive)", () => {
  const auto = JSON.stringify({ minInstances: 2, maxInstances: 4 });
  expect(problems({ autoscale: auto, instanceCount: "2" })).toEqual([]);
  expect(problems({ autoscale: auto, instanceCount: "4" })).toEqual([]);
  for (const n of ["1", "5"])
    expect(problems({ autoscale: auto, instanceCount: n })).toEqual([
      `${P}:instanceCount = "${n}" is invalid: must lie within autoscale.minInstances..maxInstances (2..4)`,
    ]);
});

test("mirror takes at most 50 %; canary may take more", () => {
  expect(problems({ rolloutMode: "mirror", rolloutPercent: "50" })).toEqual([]);
  expect(problems({ rolloutMode: "mirror", rolloutPercent: "51" })).toEqual([
    `${P}:rolloutPercent = "51" is invalid: must be at most 50 with rolloutMode mirror (Azure mirrors at most 50 % of the traffic)`,
  ]);
  expect(problems({ rolloutMode: "canary", rolloutPercent: "60" })).toEqual([]);
});

test("a probe timeout may equal the probe period, not exceed it", () => {
  const dep = (timeout: number) => JSON.stringify({ probePeriodSeconds: 10, probeTimeoutSeconds: timeout });
  expect(problems({ deployment: dep(10) })).toEqual([]);
  expect(problems({ deployment: dep(11) })).toEqual([
    `${P}:deployment.probeTimeoutSeconds = 11 is invalid: must not exceed deployment.probePeriodSeconds`,
  ]);
});

test("an unknown project key is named with the known ones; other namespaces are not judged", () => {
  const p = (() => {
    try {
      readStackConfig((k) => (k === "azure-native:location" ? "westeurope" : undefined), P, "dev", [
        `${P}:epochz`,
        "aws:region",
        "azure-native:location",
      ]);
      return [];
    } catch (err) {
      return (err as ConfigError).problems;
    }
  })();
  expect(p.length).toBe(1);
  expect(p[0]).toMatch(
    new RegExp(`^${P}:epochz is not a setting of this program \\(known: [a-zA-Z, ]*epochs, `),
  );
  expect(p[0]).toMatch(/\(known: [a-z]/);
});

test("a location that is not a region name", () => {
  expect(() =>
    readStackConfig((k) => (k === "azure-native:location" ? "West Europe" : undefined), P, "dev"),
  ).toThrow(
    'azure-native:location = "West Europe" is invalid: must be an Azure region name such as westeurope',
  );
});
