/** Each guardrail fails a violating resource and passes a good one (validators called directly, no engine). */
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";
import {
  COMPUTE,
  isTaggableType,
  ONLINE_DEPLOYMENT,
  ONLINE_ENDPOINT,
  STORAGE_ACCOUNT,
  UNTAGGABLE_TYPES,
  validateComputeMinNodes,
  validateEndpointAuth,
  validateGpuVmSize,
  validateNoPublicBlobAccess,
  validateRequiredTags,
} from "../../policy/validators";

const tags = { project: "azure-ml-mnist", stack: "dev" };
const amlCompute = (minNodeCount: number | undefined, vmSize = "Standard_NC4as_T4_v3") => ({
  location: "westeurope",
  tags,
  properties: {
    computeType: "AmlCompute",
    properties: {
      vmSize,
      scaleSettings: { maxNodeCount: 1, ...(minNodeCount === undefined ? {} : { minNodeCount }) },
    },
  },
});

describe("endpoint auth never disabled", () => {
  test.each(["Key", "AMLToken", "AADToken"])("passes authMode %s", (authMode) => {
    expect(validateEndpointAuth({ properties: { authMode } })).toEqual([]);
  });
  test.each([
    [{ properties: {} }],
    [{}],
    [{ properties: { authMode: "None" } }],
    [{ properties: { authMode: "key" } }],
  ])("fails %j", (props) => {
    expect(validateEndpointAuth(props)).toEqual([expect.stringMatching(/authMode must be one of/)]);
  });
});

describe("no public blob access", () => {
  test("passes an explicit false", () => {
    expect(validateNoPublicBlobAccess({ allowBlobPublicAccess: false })).toEqual([]);
  });
  test.each([[true], [undefined]])("fails allowBlobPublicAccess %p", (value) => {
    expect(validateNoPublicBlobAccess({ allowBlobPublicAccess: value })).toHaveLength(1);
  });
});

describe("AmlCompute scales to zero", () => {
  test("passes minNodeCount 0 or omitted (ARM default 0)", () => {
    expect(validateComputeMinNodes(amlCompute(0))).toEqual([]);
    expect(validateComputeMinNodes(amlCompute(undefined))).toEqual([]);
  });
  test("fails minNodeCount 1 unless the pack config allows it", () => {
    expect(validateComputeMinNodes(amlCompute(1))).toEqual([expect.stringMatching(/minNodeCount must be 0/)]);
    expect(validateComputeMinNodes(amlCompute(1), { allowNonZeroMinNodes: true })).toEqual([]);
  });
  test("ignores non-AmlCompute computes", () => {
    expect(validateComputeMinNodes({ properties: { computeType: "ComputeInstance" } })).toEqual([]);
  });
});

describe("required tags", () => {
  const rg = (t: unknown) => ({ type: "azure-native:resources:ResourceGroup", props: { tags: t } });
  test("passes a resource carrying the stack's tags", () => {
    expect(validateRequiredTags(rg({ ...tags, owner: "ml" }))).toEqual([]);
    expect(validateRequiredTags({ type: COMPUTE, props: amlCompute(0) })).toEqual([]);
  });
  test("fails missing, partial or empty tags", () => {
    expect(validateRequiredTags(rg(undefined))).toEqual([
      expect.stringMatching(/missing required tag\(s\) project, stack/),
    ]);
    expect(validateRequiredTags(rg({ project: "azure-ml-mnist" }))).toEqual([expect.stringMatching(/stack/)]);
    expect(validateRequiredTags(rg({ project: "azure-ml-mnist", stack: " " }))).toHaveLength(1);
  });
  test("honours requiredTags and exemptTypes config", () => {
    expect(validateRequiredTags(rg(tags), { requiredTags: ["project", "stack", "costCenter"] })).toEqual([
      expect.stringMatching(/costCenter/),
    ]);
    expect(
      validateRequiredTags(rg(undefined), { exemptTypes: ["azure-native:resources:ResourceGroup"] }),
    ).toEqual([]);
  });
  test("skips types without a tags input and non-azure-native resources", () => {
    expect(validateRequiredTags({ type: "azure-native:storage:BlobContainer", props: {} })).toEqual([]);
    expect(validateRequiredTags({ type: "azure-native:authorization:RoleAssignment", props: {} })).toEqual(
      [],
    );
    expect(validateRequiredTags({ type: "command:local:Command", props: {} })).toEqual([]);
    expect(isTaggableType(ONLINE_ENDPOINT)).toBe(true);
  });

  // The exemption list is only right if those types really have no `tags` argument: check the installed SDK.
  test("every exempted type lacks a tags input in @pulumi/azure-native, and the program's tracked types have one", () => {
    const sdk = path.dirname(require.resolve("@pulumi/azure-native/package.json"));
    const argsOf = (type: string) => {
      const [, mod, name] = type.split(":");
      const file = path.join(sdk, mod, `${name[0].toLowerCase()}${name.slice(1)}.d.ts`);
      expect(existsSync(file)).toBe(true);
      const text = readFileSync(file, "utf8");
      const start = text.indexOf(`export interface ${name}Args {`);
      expect(start).toBeGreaterThanOrEqual(0);
      return text.slice(start, text.indexOf("\n}", start));
    };
    for (const type of UNTAGGABLE_TYPES)
      expect({ type, tags: /\n {4}tags\?:/.test(argsOf(type)) }).toEqual({ type, tags: false });
    for (const type of [
      "azure-native:resources:ResourceGroup",
      "azure-native:storage:StorageAccount",
      "azure-native:keyvault:Vault",
      "azure-native:containerregistry:Registry",
      "azure-native:operationalinsights:Workspace",
      "azure-native:applicationinsights:Component",
      "azure-native:machinelearningservices:Workspace",
      COMPUTE,
      ONLINE_ENDPOINT,
      ONLINE_DEPLOYMENT,
    ]) {
      expect({ type, tags: /\n {4}tags\?:/.test(argsOf(type)) }).toEqual({ type, tags: true });
    }
  });
});

describe("GPU VM sizes from an allowed list", () => {
  test("passes allowed GPU sizes and any CPU size", () => {
    expect(validateGpuVmSize({ type: COMPUTE, props: amlCompute(0, "Standard_NC4as_T4_v3") })).toEqual([]);
    expect(validateGpuVmSize({ type: COMPUTE, props: amlCompute(0, "standard_nc6s_v3") })).toEqual([]);
    expect(validateGpuVmSize({ type: COMPUTE, props: amlCompute(0, "Standard_DS3_v2") })).toEqual([]);
    expect(
      validateGpuVmSize({
        type: ONLINE_DEPLOYMENT,
        props: { properties: { instanceType: "Standard_DS3_v2" } },
      }),
    ).toEqual([]);
  });
  test("fails a GPU size outside the list, on clusters and deployments", () => {
    expect(validateGpuVmSize({ type: COMPUTE, props: amlCompute(0, "Standard_ND96asr_v4") })).toEqual([
      expect.stringMatching(/Standard_ND96asr_v4 is not in the allowed list/),
    ]);
    expect(
      validateGpuVmSize({
        type: ONLINE_DEPLOYMENT,
        props: { properties: { instanceType: "Standard_NC24s_v3" } },
      }),
    ).toHaveLength(1);
  });
  test("honours allowedGpuVmSizes config", () => {
    const props = amlCompute(0, "Standard_ND96asr_v4");
    expect(
      validateGpuVmSize({ type: COMPUTE, props }, { allowedGpuVmSizes: ["Standard_ND96asr_v4"] }),
    ).toEqual([]);
    expect(
      validateGpuVmSize({ type: COMPUTE, props: amlCompute(0) }, { allowedGpuVmSizes: [] }),
    ).toHaveLength(1);
  });
  test("storage accounts are not compute", () => {
    expect(validateGpuVmSize({ type: STORAGE_ACCOUNT, props: {} })).toEqual([]);
  });
});

// policy/index.ts constructs a PolicyPack, which would start the analyzer's gRPC server: capture it instead.
jest.mock("@pulumi/policy", () => ({ PolicyPack: jest.fn() }));

describe("policy pack wiring", () => {
  type Policy = import("@pulumi/policy").ResourceValidationPolicy;
  const pack = () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require("../../policy/index");
    const { PolicyPack } = jest.requireMock("@pulumi/policy") as { PolicyPack: jest.Mock };
    expect(PolicyPack).toHaveBeenCalledTimes(1);
    return PolicyPack.mock.calls[0][1].policies as Policy[];
  };
  const run = (policy: Policy, type: string, props: Record<string, unknown>, config: object = {}) => {
    const violations: string[] = [];
    const validate = policy.validateResource as (a: unknown, r: (m: string) => void) => void;
    validate({ type, props, getConfig: () => config }, (m) => violations.push(m));
    return violations;
  };

  test("each policy fails a violating resource and passes a good one through the pack", () => {
    const byName = Object.fromEntries(pack().map((p) => [p.name, p]));
    expect(Object.keys(byName).sort()).toEqual([
      "azure-required-tags",
      "ml-compute-scale-to-zero",
      "ml-endpoint-auth-required",
      "ml-gpu-vm-size-allowed",
      "storage-no-public-blob-access",
    ]);
    for (const p of Object.values(byName)) expect(p.enforcementLevel).toBe("mandatory");
    const ep = byName["ml-endpoint-auth-required"];
    expect(run(ep, ONLINE_ENDPOINT, { properties: { authMode: "Key" } })).toEqual([]);
    expect(run(ep, ONLINE_ENDPOINT, { properties: {} })).toHaveLength(1);
    expect(run(ep, STORAGE_ACCOUNT, { properties: {} })).toEqual([]);
    const sa = byName["storage-no-public-blob-access"];
    expect(run(sa, STORAGE_ACCOUNT, { allowBlobPublicAccess: false })).toEqual([]);
    expect(run(sa, STORAGE_ACCOUNT, { allowBlobPublicAccess: true })).toHaveLength(1);
    const cmp = byName["ml-compute-scale-to-zero"];
    expect(run(cmp, COMPUTE, amlCompute(0))).toEqual([]);
    expect(run(cmp, COMPUTE, amlCompute(2))).toHaveLength(1);
    expect(run(cmp, COMPUTE, amlCompute(2), { allowNonZeroMinNodes: true })).toEqual([]);
    const tg = byName["azure-required-tags"];
    expect(run(tg, STORAGE_ACCOUNT, { tags })).toEqual([]);
    expect(run(tg, STORAGE_ACCOUNT, {})).toHaveLength(1);
    const gpu = byName["ml-gpu-vm-size-allowed"];
    expect(run(gpu, COMPUTE, amlCompute(0))).toEqual([]);
    expect(run(gpu, COMPUTE, amlCompute(0, "Standard_NV36ads_A10_v5"))).toHaveLength(1);
    expect(readFileSync(path.join(__dirname, "..", "..", "policy", "PulumiPolicy.yaml"), "utf8")).toMatch(
      /^runtime: nodejs$/m,
    );
  });
});
