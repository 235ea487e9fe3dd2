// The program's pre-flight, end to end: index.ts in preview (Pulumi's mocks, in a process of its own:
// tests/graph/previewProcess.ts) runs ops/preflight.ts against the fake ARM (tests/ops/fake), which answers with the
// spec examples' usage, VM size and provider shapes. Too little quota stops the preview before any Azure resource is
// declared, with a message naming family, need and limit; enough quota lets the whole graph through.
import { execFile } from "child_process";
import * as path from "path";
import { FakeAzure } from "../ops/fake/fakeAzure";
import {
  installProviders,
  installResourceGroup,
  installUsages,
  installVmSizes,
  usageRows,
  withRow,
} from "../ops/fake/quota";
import { ROOT, devStackConfig } from "./harness";

const SUBSCRIPTION = "00000000-0000-0000-0000-000000000000";
const fake = new FakeAzure();

beforeAll(() => fake.start());
afterAll(() => fake.stop());
beforeEach(() => {
  fake.reset();
  installProviders(fake, SUBSCRIPTION);
  installVmSizes(fake, SUBSCRIPTION);
  installResourceGroup(fake, SUBSCRIPTION, "rg-azure-ml-mnist-dev", null);
});

function preview(): Promise<{ declared: string[]; errors: string[] }> {
  const env = { ...fake.env(), PROGRAM_CONFIG: JSON.stringify(devStackConfig({ preflightChecks: "true" })) };
  const tsx = path.join(ROOT, "node_modules", ".bin", "tsx");
  return new Promise((resolve, reject) =>
    execFile(tsx, ["tests/graph/previewProcess.ts"], { cwd: ROOT, env, timeout: 90_000 }, (err, stdout) =>
      err ? reject(err) : resolve(JSON.parse(stdout.trim().split("\n").pop()!)),
    ),
  );
}

const azure = (declared: string[]) => declared.filter((t) => t.startsWith("azure-native:"));

test("too little GPU quota: the preview stops before any Azure resource, naming family, need and limit", async () => {
  installUsages(fake, SUBSCRIPTION, withRow(usageRows(), "Standard NCASv3_T4", { limit: 0 }));
  const { declared, errors } = await preview();
  expect(azure(declared)).toEqual([]);
  expect(errors).toHaveLength(1);
  expect(errors[0]).toContain("ops/preflight.ts failed");
  expect(errors[0]).toContain("Standard NCASv3_T4 Family Cluster Dedicated vCPUs in westeurope: need 4");
  expect(errors[0]).toContain("limit 0");
  expect(errors[0]).toContain("az ml compute list-usage");
  expect(errors[0]).toContain("preflightChecks: false");
});

test("enough quota: the preview declares the whole graph", async () => {
  installUsages(fake, SUBSCRIPTION);
  const { declared, errors } = await preview();
  expect(errors).toEqual([]);
  expect(azure(declared)).toContain("azure-native:resources:ResourceGroup");
  expect(azure(declared)).toContain("azure-native:machinelearningservices:Workspace");
  expect(declared).toContain("command:online-deployment");
  expect(declared).toContain("command:sample-invoke");
  expect(fake.requests.some((r) => r.path.endsWith("/locations/westeurope/usages"))).toBe(true);
});
