/**
 * The fakes refuse what Azure refuses: one named test per rule, each with its source. The rules themselves live in
 * the fakes (tests/ops/fake/*), where every CLI test meets them; these tests pin them down so that a fake cannot
 * quietly become lenient again.
 */
import { readFileSync } from "node:fs";
import * as https from "node:https";
import { FakeEndpoint, scoringRequestError } from "./fake/endpoints";
import { FakeAzure } from "./fake/fakeAzure";
import {
  CODE_VERSION,
  ENVIRONMENT_VERSION,
  JOB_BASE,
  MODEL_VERSION,
  ONLINE_ENDPOINT,
  violation,
} from "./fake/schemas";
import { WS_ID } from "./scenarios";

const fake = new FakeAzure();
const ep = () =>
  new FakeEndpoint(fake, WS_ID, "mnist-rules", {
    traffic: { a: 100 },
    deployments: { a: "right", b: "right" },
  });

test("traffic: a deployment named in both maps is refused, at 0 % too (Learn how-to-safely-rollout-online-endpoints: live or mirror, not both; azure-ai-ml strips zeroes)", () => {
  expect(ep().refusal({ a: 100, b: 0 }, { b: 10 })).toContain("cannot receive both live and mirror traffic");
  expect(ep().refusal({ a: 100 }, { b: 10 })).toBeUndefined();
});

test("traffic: live sums to 0 or 100, mirror to at most 50, only known deployments (the service's messages)", () => {
  expect(ep().refusal({ a: 90 }, {})).toBe("Traffic values need to sum to 0 or 100");
  expect(ep().refusal({ a: 100 }, { b: 60 })).toBe("Traffic values need to sum to utmost 50");
  expect(ep().refusal({ zz: 100 }, {})).toContain("Deployment zz not found");
  expect(ep().refusal({}, {})).toBeUndefined();
});

test("GET shows no zero entries (azure-ai-ml get() treats absent as 0)", () => {
  const e = new FakeEndpoint(fake, WS_ID, "mnist-rules", {
    traffic: { a: 100, b: 0 },
    mirrorTraffic: { b: 0 },
    deployments: { a: "right", b: "right" },
  });
  expect(e.body().properties.traffic).toEqual({ a: 100 });
  expect(e.body().properties.mirrorTraffic).toEqual({});
});

describe("PUT bodies follow their 2025-12-01 definitions (fake/schemas.ts, after mfe.json)", () => {
  const endpointPut = (over: Record<string, unknown> = {}, props: Record<string, unknown> = {}) => ({
    location: "westeurope",
    kind: "Managed",
    identity: { type: "SystemAssigned" },
    tags: {},
    properties: { authMode: "Key", traffic: {}, ...props },
    ...over,
  });
  test("OnlineEndpointTrackedResource: authMode an EndpointAuthMode, required; location required; read-only and unknown fields refused", () => {
    expect(violation(endpointPut(), ONLINE_ENDPOINT)).toBeUndefined();
    expect(violation(endpointPut({}, { authMode: "Password" }), ONLINE_ENDPOINT)).toBe(
      "properties.authMode: 'Password' is not one of AMLToken, Key, AADToken",
    );
    expect(violation(endpointPut({ properties: { traffic: {} } }), ONLINE_ENDPOINT)).toBe(
      "properties.authMode is required (OnlineEndpoint)",
    );
    expect(violation(endpointPut({ location: undefined }), ONLINE_ENDPOINT)).toContain(
      "location is required",
    );
    expect(violation(endpointPut({}, { provisioningState: "Succeeded" }), ONLINE_ENDPOINT)).toContain(
      "properties.provisioningState is read-only",
    );
    expect(violation(endpointPut({ systemData: {} }), ONLINE_ENDPOINT)).toContain("systemData is read-only");
    expect(violation(endpointPut({ etag: "x" }), ONLINE_ENDPOINT)).toContain("Could not find member 'etag'");
    expect(violation(endpointPut({ identity: { type: "Both" } }), ONLINE_ENDPOINT)).toContain(
      "identity.type",
    );
    expect(
      violation(endpointPut({ identity: { type: "SystemAssigned", principalId: "p" } }), ONLINE_ENDPOINT),
    ).toContain("identity.principalId is read-only");
  });
  test("JobBaseResource: jobType Command or Sweep; a CommandJob needs command and environmentId; status is the service's", () => {
    const command = { jobType: "Command", command: "python app.py", environmentId: "e", computeId: "c" };
    expect(violation({ properties: command }, JOB_BASE)).toBeUndefined();
    expect(violation({ properties: { ...command, jobType: "Pipeline" } }, JOB_BASE)).toContain(
      'properties.jobType: "Pipeline" is not one of Command, Sweep',
    );
    expect(violation({ properties: { ...command, command: undefined } }, JOB_BASE)).toContain(
      "properties.command is required (CommandJob)",
    );
    expect(violation({ properties: { ...command, status: "Completed" } }, JOB_BASE)).toContain(
      "properties.status is read-only",
    );
    expect(violation({ properties: { ...command, searchSpace: {} } }, JOB_BASE)).toContain(
      "Could not find member 'searchSpace' on object of type 'CommandJob'",
    );
    expect(
      violation({ properties: { ...command, outputs: { m: { jobOutputType: "folder" } } } }, JOB_BASE),
    ).toContain("properties.outputs.m.jobOutputType: 'folder' is not one of");
  });
  test("CodeVersion, EnvironmentVersion, ModelVersion: their own properties only, provisioningState the service's", () => {
    expect(violation({ properties: { codeUri: "https://x/c" } }, CODE_VERSION)).toBeUndefined();
    expect(violation({ properties: { codeUri: "u", image: "i" } }, CODE_VERSION)).toContain(
      "Could not find member 'image'",
    );
    expect(violation({ properties: { image: "i", osType: "Linux" } }, ENVIRONMENT_VERSION)).toBeUndefined();
    expect(violation({ properties: { image: "i", osType: "linux" } }, ENVIRONMENT_VERSION)).toContain(
      "properties.osType: 'linux' is not one of Linux, Windows",
    );
    expect(violation({ properties: { modelUri: "m", provisioningState: "x" } }, MODEL_VERSION)).toContain(
      "is read-only",
    );
    expect(violation({}, MODEL_VERSION)).toBe("properties is required (ModelVersionResource)");
  });
  test("an endpoint PUT replaces it: every writable field its GET shows must be there (ARM RPC: PUT is a full replace)", () => {
    const e = ep();
    const full = () => {
      const b = JSON.parse(JSON.stringify(e.body())) as Record<string, unknown> & {
        properties: Record<string, unknown>;
      };
      for (const k of ["id", "name", "type", "systemData"]) delete b[k];
      for (const k of ["provisioningState", "scoringUri", "swaggerUri"]) delete b.properties[k];
      const id = b.identity as { type: string; userAssignedIdentities?: Record<string, unknown> };
      b.identity = {
        type: id.type,
        userAssignedIdentities: Object.fromEntries(
          Object.keys(id.userAssignedIdentities ?? {}).map((k) => [k, {}]),
        ),
      };
      return b;
    };
    expect(violation(full(), ONLINE_ENDPOINT)).toBeUndefined();
    expect(e.replaceRefusal(full())).toBeUndefined();
    for (const k of ["sku", "kind", "identity", "tags", "location"]) {
      const b = full();
      delete b[k];
      expect(e.replaceRefusal(b)).toContain(`it has ${k}, the body has none`);
    }
    const b = full();
    delete b.properties.publicNetworkAccess;
    expect(e.replaceRefusal(b)).toContain("properties.publicNetworkAccess");
    expect(e.replaceRefusal({ ...full(), kind: "K8s" })).toContain(
      "kind of endpoint mnist-rules cannot change",
    );
  });
});

test("scoring takes score.py's request shape only: {data: [784 numbers in [0, 1] or 28x28, ...]} (else 400)", () => {
  const flat = Array.from({ length: 784 }, () => 0.5);
  const square = Array.from({ length: 28 }, () => Array.from({ length: 28 }, () => 0));
  expect(scoringRequestError(JSON.stringify({ data: [flat, square] }))).toBeUndefined();
  expect(scoringRequestError("not json")).toBe("request body is not JSON");
  expect(scoringRequestError(JSON.stringify({ input_data: [flat] }))).toContain('expected {"data"');
  expect(scoringRequestError(JSON.stringify({ data: [] }))).toContain('expected {"data"');
  expect(scoringRequestError(JSON.stringify({ data: [flat.slice(1)] }))).toBe(
    "data[0]: expected 784 values or 28x28, got 783",
  );
  expect(scoringRequestError(JSON.stringify({ data: [flat.map(() => 255)] }))).toContain("in [0, 1]");
});

describe("a request no route answers fails the test (FakeAzure.assertAllRouted, run after each test)", () => {
  const live = new FakeAzure();
  beforeAll(() => live.start());
  afterAll(() => live.stop());
  const get = (p: string) =>
    new Promise<number>((resolve, reject) => {
      https
        .get(`${live.url}${p}`, { ca: readFileSync(live.caFile) }, (res) => {
          res.resume();
          res.on("end", () => resolve(res.statusCode ?? 0));
        })
        .on("error", reject);
    });
  test("unrouted: 404 NoRoute, recorded, and the check throws naming it", async () => {
    expect(await get("/subscriptions/x/nothing-here")).toBe(404);
    expect(() => live.assertAllRouted()).toThrow(
      "the fake Azure had no route for: GET /subscriptions/x/nothing-here",
    );
    expect(() => live.assertAllRouted()).not.toThrow(); // reported once
  });
  test("allowUnrouted: a test that means it is not failed", async () => {
    live.allowUnrouted();
    expect(await get("/history/v1.0/runs/none/details")).toBe(404);
    expect(() => live.assertAllRouted()).not.toThrow();
  });
});
