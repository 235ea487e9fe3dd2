// A read-only `pulumi preview` (dry run): no listKeys/token invokes, no secret in anything registered.
import * as pulumi from "@pulumi/pulumi";
import { Harness, MOCK_KEY, devStackConfig, installMocks, one } from "./harness";

let h: Harness;
let prog: typeof import("../../index");

beforeAll(async () => {
  h = installMocks(true);
  pulumi.runtime.setAllConfig(devStackConfig());
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded after the mocks, so its resources register against them
  prog = require("../../index");
  await h.settle();
});

test("the program registers its whole graph in preview", () => {
  expect(one(h, "command:local:Command", "sample-invoke")).toBeDefined();
  expect(pulumi.runtime.isDryRun()).toBe(true);
});

test("with every step's output unknown (no command runs in a preview), the whole graph is still declared", () => {
  const steps = h.registrations.filter((r) => r.type === "command:local:Command").map((r) => r.name);
  expect(steps).toEqual(
    expect.arrayContaining([
      "gpu-cluster",
      "training-run",
      "model-version",
      "online-endpoint",
      "online-deployment",
      "online-smoke",
      "online-traffic",
      "online-retire",
      "sample-invoke",
    ]),
  );
  // what depends on a step's output is unknown, as in a real first preview
  const unknown = (name: string) =>
    one(h, "command:local:Command", name).object.create === pulumi.runtime.unknownValue;
  expect(["online-deployment", "online-smoke", "online-traffic", "sample-invoke"].map(unknown)).toEqual([
    true,
    true,
    true,
    true,
  ]);
  const modelSpec = (
    one(h, "command:local:Command", "model-version").object.environment as Record<string, unknown>
  ).MODEL_SPEC;
  expect(modelSpec).toBe(pulumi.runtime.unknownValue);
  // what depends on config alone is known: the endpoint's own step
  expect(unknown("online-endpoint")).toBe(false);
});

test("listOnlineEndpointKeys is not invoked (the preview identity is Reader only)", () => {
  expect(h.calls).not.toContain("azure-native:machinelearningservices:listOnlineEndpointKeys");
  expect(h.calls).not.toContain("azure-native:machinelearningservices:getOnlineEndpointToken");
  expect(h.calls).toContain("azure-native:authorization:getClientConfig");
});

test("no key output, and no key or token in anything registered", () => {
  expect((prog as Record<string, unknown>).endpointKey).toBeUndefined();
  const all = JSON.stringify(h.registrations.map((r) => r.object));
  expect(all).not.toContain(MOCK_KEY);
  expect(all).not.toContain("ENDPOINT_KEY");
});
