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

test("listOnlineEndpointKeys is not invoked (the preview identity is Reader only)", () => {
  expect(h.calls).not.toContain("azure-native:machinelearningservices:listOnlineEndpointKeys");
  expect(h.calls).not.toContain("azure-native:machinelearningservices:getOnlineEndpointToken");
  expect(h.calls).toContain("azure-native:authorization:getClientConfig");
});

test("the key is unknown and secret in preview, and never printed", async () => {
  expect(await pulumi.isSecret(prog.endpointKey!)).toBe(true);
  // `isKnown` is internal to Output; unknown = apply callbacks never run in preview.
  expect(await (prog.endpointKey as unknown as { isKnown: Promise<boolean> }).isKnown).toBe(false);
  expect(JSON.stringify(h.registrations.map((r) => r.object))).not.toContain(MOCK_KEY);
  expect(
    pulumi.runtime.isRpcSecret(one(h, "command:local:Command", "sample-invoke").object.environment),
  ).toBe(true);
});
