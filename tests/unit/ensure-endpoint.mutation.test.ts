// ops/ensure-endpoint.ts's pure decisions: the spec it accepts, what differs, the endpoint it writes.
import {
  desiredEndpoint,
  inputChanges,
  parseEndpointSpec,
  parseEnsureEndpointArgs,
  type EndpointSpec,
} from "../../ops/ensure-endpoint";
import { INTENT_TAG, SERVING_TAG, type EndpointBody } from "../../lib/azureml/traffic";
import { ENDPOINT_ID, withEnv } from "./support/env";

const SPEC: EndpointSpec = { location: "westeurope", properties: { authMode: "Key" }, tags: { owner: "me" } };

describe("parseEndpointSpec", () => {
  test("a location, a known auth mode, no traffic", () => {
    expect(parseEndpointSpec({ ...SPEC })).toEqual(SPEC);
    for (const mode of ["Key", "AMLToken", "AADToken"])
      expect(parseEndpointSpec({ location: "l", properties: { authMode: mode } }).properties.authMode).toBe(
        mode,
      );
  });

  test("each missing or wrong part is a usage error saying which", () => {
    expect(() => parseEndpointSpec({ properties: { authMode: "Key" } })).toThrow(
      "ENDPOINT_SPEC.location is required (a non-empty string)",
    );
    expect(() => parseEndpointSpec({ location: "", properties: { authMode: "Key" } })).toThrow(
      /location is required/,
    );
    expect(() => parseEndpointSpec({ location: "l" })).toThrow("ENDPOINT_SPEC.properties is required");
    expect(() => parseEndpointSpec({ location: "l", properties: "x" })).toThrow(
      "ENDPOINT_SPEC.properties is required",
    );
    expect(() => parseEndpointSpec({ location: "l", properties: { authMode: "key" } })).toThrow(
      'ENDPOINT_SPEC.properties.authMode must be one of Key, AMLToken, AADToken, got "key"',
    );
    expect(() => parseEndpointSpec({ location: "l", properties: { authMode: "Key", traffic: {} } })).toThrow(
      "ENDPOINT_SPEC must not set traffic: the rollout steps own it",
    );
    expect(() =>
      parseEndpointSpec({ location: "l", properties: { authMode: "Key", mirrorTraffic: {} } }),
    ).toThrow(/must not set traffic/);
  });
});

test("parseEnsureEndpointArgs: the spec from ENDPOINT_SPEC, none with --delete", () => {
  withEnv({ ENDPOINT_SPEC: JSON.stringify(SPEC) }, () => {
    const o = parseEnsureEndpointArgs(["--endpoint-id", ENDPOINT_ID, "--arm-endpoint", "https://arm.x"])!;
    expect(o).toMatchObject({ spec: SPEC, removing: false, armEndpoint: "https://arm.x", pollMs: 10_000 });
    expect(o.endpoint.name).toBe("ep-1");
  });
  withEnv({ ENDPOINT_SPEC: undefined }, () => {
    const o = parseEnsureEndpointArgs(["--endpoint-id", ENDPOINT_ID, "--delete"])!;
    expect(o.spec).toBeUndefined();
    expect(o.removing).toBe(true);
    expect(() => parseEnsureEndpointArgs(["--endpoint-id", ENDPOINT_ID])).toThrow(/ENDPOINT_SPEC/);
  });
});

describe("inputChanges", () => {
  const live: EndpointBody = {
    kind: "Managed",
    identity: { type: "SystemAssigned", principalId: "p" },
    tags: { owner: "me", [SERVING_TAG]: "d1", [INTENT_TAG]: "d2 canary 10" },
    properties: { authMode: "Key", description: "x", traffic: { d1: 100 } },
  };

  test("nothing differs: the rollout's own tags and unset inputs are not changes", () => {
    expect(inputChanges(live, SPEC)).toEqual([]);
    expect(
      inputChanges({ ...live, tags: { b: "2", a: "1" } }, { ...SPEC, tags: { a: "1", b: "2" } }),
    ).toEqual([]);
    expect(
      inputChanges({ properties: { authMode: "Key" } }, { location: "l", properties: { authMode: "Key" } }),
    ).toEqual([]);
    expect(inputChanges({}, { location: "l", properties: { authMode: "Key" }, kind: "Managed" })).toEqual([
      "authMode",
    ]);
  });

  test("each input that differs is named", () => {
    const spec: EndpointSpec = {
      location: "l",
      kind: "K8s",
      identity: { type: "UserAssigned" },
      properties: { authMode: "AMLToken", description: "y", publicNetworkAccess: "Disabled" },
      tags: { owner: "you" },
    };
    expect(inputChanges(live, spec)).toEqual([
      "authMode",
      "description",
      "publicNetworkAccess",
      "kind",
      "identity",
      "tags",
    ]);
    expect(inputChanges({ ...live, tags: undefined }, SPEC)).toEqual(["tags"]);
    expect(inputChanges(live, { ...SPEC, tags: undefined })).toEqual(["tags"]);
    expect(
      inputChanges({ ...live, identity: undefined }, { ...SPEC, identity: { type: "SystemAssigned" } }),
    ).toEqual(["identity"]);
  });
});

test("desiredEndpoint: the spec's inputs over the live endpoint; traffic and the rollout's tags kept", () => {
  const live: EndpointBody = {
    location: "westeurope",
    kind: "Managed",
    identity: { type: "SystemAssigned" },
    tags: { old: "tag", [SERVING_TAG]: "d1" },
    properties: { authMode: "Key", traffic: { d1: 100 }, provisioningState: "Succeeded" },
  };
  expect(
    desiredEndpoint(live, { location: "l", properties: { authMode: "AADToken" }, tags: { owner: "me" } }),
  ).toEqual({
    location: "westeurope",
    kind: "Managed",
    identity: { type: "SystemAssigned" },
    tags: { owner: "me", [SERVING_TAG]: "d1" },
    properties: { authMode: "AADToken", traffic: { d1: 100 }, provisioningState: "Succeeded" },
  });
  const d = desiredEndpoint(
    { properties: {} },
    { location: "l", kind: "K", identity: { type: "None" }, properties: { authMode: "Key" } },
  );
  expect(d).toMatchObject({ kind: "K", identity: { type: "None" }, tags: {} });
});

test("inputChanges: a kind or identity the endpoint already has is no change; ids of other kinds are refused", () => {
  const live: EndpointBody = {
    kind: "Managed",
    identity: { type: "SystemAssigned" },
    tags: {},
    properties: { authMode: "Key" },
  };
  expect(
    inputChanges(live, {
      location: "l",
      kind: "Managed",
      identity: { type: "SystemAssigned" },
      properties: { authMode: "Key" },
    }),
  ).toEqual([]);
  withEnv({ ENDPOINT_SPEC: JSON.stringify(SPEC) }, () => {
    expect(() => parseEnsureEndpointArgs(["--endpoint-id", `${ENDPOINT_ID}/deployments/d1`])).toThrow(
      /onlineEndpoints/,
    );
  });
});
