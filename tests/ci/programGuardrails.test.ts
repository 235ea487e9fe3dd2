/**
 * Cross-check of the main program (index.ts, run under the graph harness's mocks as in `pulumi up`) against the
 * guardrail policy pack: every azure-native resource it declares passes every policy with the pack's defaults.
 */
import { devStackConfig, installMocks, MOCK_KEY, unwrap } from "../graph/harness";
import * as pulumi from "@pulumi/pulumi";
import {
  validateComputeMinNodes,
  validateEndpointAuth,
  validateGpuVmSize,
  validateNoPublicBlobAccess,
  validateRequiredTags,
  COMPUTE,
  ONLINE_ENDPOINT,
  STORAGE_ACCOUNT,
} from "../../policy/validators";

const harness = installMocks(false);

beforeAll(async () => {
  pulumi.runtime.setAllConfig(devStackConfig());
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- load the program after its mocks, so its resources register against them
  require("../../index");
  await harness.settle();
});

function violations(type: string, props: Record<string, unknown>): string[] {
  const found = [...validateRequiredTags({ type, props }), ...validateGpuVmSize({ type, props })];
  if (type === ONLINE_ENDPOINT) found.push(...validateEndpointAuth(props));
  if (type === STORAGE_ACCOUNT) found.push(...validateNoPublicBlobAccess(props));
  if (type === COMPUTE) found.push(...validateComputeMinNodes(props));
  return found;
}

test("every azure-native resource of the dev stack passes the guardrails", () => {
  const azure = harness.registrations.filter((r) => r.custom && r.type.startsWith("azure-native:"));
  expect(azure.length).toBeGreaterThan(5);
  const failing = azure
    .map((r) => ({
      resource: `${r.type}::${r.name}`,
      violations: violations(r.type, unwrap(r.object) as Record<string, unknown>),
    }))
    .filter((r) => r.violations.length > 0);
  expect(failing).toEqual([]);
});

test("outside a dry run too, no endpoint key is fetched by the program or carried by any step (the steps read it when they run)", () => {
  expect(harness.calls.some((t) => /:list[A-Z]\w*Keys$/.test(t))).toBe(false);
  const text = JSON.stringify(harness.registrations.map((r) => unwrap(r.object)));
  expect(text).not.toContain(MOCK_KEY);
  expect(text).not.toContain("ENDPOINT_KEY");
});
