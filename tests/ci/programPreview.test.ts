/**
 * The preview identity has Reader only, so during a dry run the main program (index.ts, under the graph harness's
 * mocks) must make no invoke that needs more than read access: no list* action (endpoint keys, ...) and no token.
 */
import { devStackConfig, installMocks, MOCK_KEY, MOCK_TOKEN } from "../graph/harness";
import * as pulumi from "@pulumi/pulumi";

const harness = installMocks(true);

/** ARM POST actions that Reader lacks (`.../listKeys/action`, `.../token/action`, ...). */
const needsMoreThanRead = (token: string) =>
  /^list[A-Z]|^regenerate|Token$|Logs$/.test(token.split(":").pop() ?? "");

beforeAll(async () => {
  pulumi.runtime.setAllConfig(devStackConfig());
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- load the program after its mocks, so its resources register against them
  require("../../index");
  await harness.settle();
});

test("the classifier knows the non-read invokes", () => {
  expect(needsMoreThanRead("azure-native:machinelearningservices:listOnlineEndpointKeys")).toBe(true);
  expect(needsMoreThanRead("azure-native:machinelearningservices:getOnlineEndpointToken")).toBe(true);
  expect(needsMoreThanRead("azure-native:authorization:getClientConfig")).toBe(false);
});

test("a dry run makes only read invokes", () => {
  expect(harness.registrations.length).toBeGreaterThan(5);
  expect(harness.calls.filter(needsMoreThanRead)).toEqual([]);
});

test("a dry run never fetches, and so never prints, an endpoint key or token", () => {
  const everything = JSON.stringify(harness.registrations.map((r) => r.object));
  expect(everything).not.toContain(MOCK_KEY);
  expect(everything).not.toContain(MOCK_TOKEN);
});
