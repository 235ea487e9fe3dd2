// ops/ensure-deployment.ts's pure decisions: the spec it accepts and the options it parses.
import { parseDeploymentSpec, parseEnsureDeploymentArgs } from "../../ops/ensure-deployment";
import { ENDPOINT_ID, withEnv } from "./support/env";

const SPEC = {
  location: "westeurope",
  properties: { endpointComputeType: "Managed", instanceType: "Standard_F2s_v2" },
};

describe("parseDeploymentSpec", () => {
  test("Managed and Kubernetes deployments with a location", () => {
    expect(parseDeploymentSpec({ ...SPEC })).toEqual(SPEC);
    const k8s = { location: "l", properties: { endpointComputeType: "Kubernetes" } };
    expect(parseDeploymentSpec(k8s)).toEqual(k8s);
  });

  test("each missing or wrong part is a usage error saying which", () => {
    expect(() => parseDeploymentSpec({ properties: SPEC.properties })).toThrow(
      "DEPLOYMENT_SPEC.location is required (a non-empty string)",
    );
    expect(() => parseDeploymentSpec({ location: "", properties: SPEC.properties })).toThrow(
      /location is required/,
    );
    expect(() => parseDeploymentSpec({ location: "l" })).toThrow(
      "DEPLOYMENT_SPEC.properties is required (an object)",
    );
    expect(() => parseDeploymentSpec({ location: "l", properties: "x" })).toThrow(/properties is required/);
    expect(() => parseDeploymentSpec({ location: "l", properties: [] })).toThrow(/properties is required/);
    expect(() =>
      parseDeploymentSpec({ location: "l", properties: { endpointComputeType: "AzureMLCompute" } }),
    ).toThrow(
      'DEPLOYMENT_SPEC.properties.endpointComputeType must be Managed or Kubernetes, got "AzureMLCompute"',
    );
  });
});

test("parseEnsureDeploymentArgs: endpoint, deployment name, spec, --keep-failed, log lines, longer defaults", () => {
  withEnv({ DEPLOYMENT_SPEC: JSON.stringify(SPEC) }, () => {
    const o = parseEnsureDeploymentArgs([
      "--endpoint-id",
      ENDPOINT_ID,
      "--deployment",
      "d-1",
      "--keep-failed",
    ])!;
    expect(o).toMatchObject({
      deployment: "d-1",
      spec: SPEC,
      keepFailed: true,
      logLines: 50,
      timeoutMs: 60 * 60_000,
      pollMs: 15_000,
    });
    expect(o.endpoint.name).toBe("ep-1");
    const p = parseEnsureDeploymentArgs([
      "--endpoint-id",
      ENDPOINT_ID,
      "--deployment",
      "d-1",
      "--log-lines",
      "3",
    ])!;
    expect(p.keepFailed).toBe(false);
    expect(p.logLines).toBe(3);
    expect(() => parseEnsureDeploymentArgs(["--endpoint-id", ENDPOINT_ID, "--deployment", "-bad"])).toThrow(
      /deployment/,
    );
  });
});

test("parseEnsureDeploymentArgs refuses an id that is not an endpoint's", () => {
  withEnv({ DEPLOYMENT_SPEC: JSON.stringify(SPEC) }, () => {
    expect(() =>
      parseEnsureDeploymentArgs([
        "--endpoint-id",
        ENDPOINT_ID.replace("onlineEndpoints", "computes"),
        "--deployment",
        "d-1",
      ]),
    ).toThrow(/onlineEndpoints/);
  });
});
