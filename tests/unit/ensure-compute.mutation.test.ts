// ops/ensure-compute.ts's pure decisions: the spec it accepts, the role assignment's name, what differs.
import {
  parseComputeSpec,
  parseEnsureComputeArgs,
  roleAssignmentName,
  settingChanges,
} from "../../ops/ensure-compute";
import { CLUSTER_OWNER_TAG } from "../../lib/core/naming";
import { SUB, WS_ID, withEnv } from "./support/env";

const SPEC = {
  location: "westeurope",
  properties: { computeType: "AmlCompute", properties: { vmSize: "Standard_NC4as_T4_v3" } },
  tags: { [CLUSTER_OWNER_TAG]: "gpu" },
};
const STORAGE = `/subscriptions/${SUB}/resourceGroups/rg-a/providers/Microsoft.Storage/storageAccounts/st1`;

test("roleAssignmentName: a GUID-shaped hash of scope (any case), principal and role", () => {
  const a = roleAssignmentName("/Scope/A", "p1", "r1");
  expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-a[0-9a-f]{3}-[0-9a-f]{12}$/);
  expect(roleAssignmentName("/scope/a", "p1", "r1")).toBe(a);
  expect(roleAssignmentName("/scope/a", "p2", "r1")).not.toBe(a);
  expect(roleAssignmentName("/scope/a", "p1", "r2")).not.toBe(a);
});

describe("parseComputeSpec", () => {
  test("an AmlCompute with a VM size and the owner tag", () => {
    expect(parseComputeSpec({ ...SPEC })).toEqual(SPEC);
  });

  test("each missing part is a usage error saying which", () => {
    expect(() => parseComputeSpec({ ...SPEC, location: "" })).toThrow(
      "COMPUTE_SPEC.location is required (a non-empty string)",
    );
    expect(() => parseComputeSpec({ ...SPEC, location: 1 })).toThrow(/location is required/);
    expect(() => parseComputeSpec({ ...SPEC, properties: { computeType: "Kubernetes" } })).toThrow(
      'COMPUTE_SPEC.properties.computeType must be AmlCompute, got "Kubernetes"',
    );
    expect(() => parseComputeSpec({ location: "l", tags: SPEC.tags })).toThrow(
      /computeType must be AmlCompute, got undefined/,
    );
    expect(() =>
      parseComputeSpec({ ...SPEC, properties: { computeType: "AmlCompute", properties: {} } }),
    ).toThrow("COMPUTE_SPEC.properties.properties.vmSize is required");
    expect(() => parseComputeSpec({ ...SPEC, properties: { computeType: "AmlCompute" } })).toThrow(
      /vmSize is required/,
    );
    expect(() => parseComputeSpec({ ...SPEC, tags: {} })).toThrow(
      `COMPUTE_SPEC.tags.${CLUSTER_OWNER_TAG} is required: it finds the clusters the program no longer declares`,
    );
    expect(() => parseComputeSpec({ ...SPEC, tags: undefined })).toThrow(/is required: it finds/);
    expect(() => parseComputeSpec({ ...SPEC, tags: { [CLUSTER_OWNER_TAG]: "" } })).toThrow(
      /is required: it finds/,
    );
  });
});

test("parseEnsureComputeArgs: the spec, its owner, and a storage account id that is one", () => {
  withEnv({ COMPUTE_SPEC: JSON.stringify(SPEC) }, () => {
    const id = `${WS_ID}/computes/gpu-1`;
    const o = parseEnsureComputeArgs(["--compute-id", id, "--storage-account-id", STORAGE])!;
    expect(o).toMatchObject({ spec: SPEC, owner: "gpu", storageAccountId: STORAGE, timeoutMs: 30 * 60_000 });
    expect(o.compute.name).toBe("gpu-1");
    expect(parseEnsureComputeArgs(["--compute-id", id])!.storageAccountId).toBeUndefined();
    expect(() =>
      parseEnsureComputeArgs(["--compute-id", id, "--storage-account-id", `${STORAGE}/x`]),
    ).toThrow(`--storage-account-id must be a storage account's ARM id, got '${STORAGE}/x'`);
  });
});

describe("settingChanges", () => {
  test("the spec's leaves the live cluster does not show, by path", () => {
    const live = {
      properties: { scaleSettings: { maxNodeCount: 1, minNodeCount: 0 }, vmPriority: "Dedicated" },
    };
    const spec = {
      properties: { scaleSettings: { maxNodeCount: 2, minNodeCount: 0 }, vmPriority: "dedicated" },
    };
    expect(settingChanges(live, spec)).toEqual(["properties.scaleSettings.maxNodeCount"]);
    expect(settingChanges(undefined, { a: { b: 1 } })).toEqual(["a.b"]);
    expect(settingChanges({ a: 1, extra: 2 }, { a: 1 })).toEqual([]);
    expect(settingChanges(null, null)).toEqual([]);
  });

  test("ISO 8601 durations compare as seconds; other strings in any case", () => {
    const idle = (live: string, spec: string) =>
      settingChanges({ nodeIdleTimeBeforeScaleDown: live }, { nodeIdleTimeBeforeScaleDown: spec });
    expect(idle("PT2M", "PT120S")).toEqual([]);
    expect(idle("PT1H", "PT3600S")).toEqual([]);
    expect(idle("PT1H30M", "PT5400S")).toEqual([]);
    expect(idle("PT0.5S", "PT0.5S")).toEqual([]);
    expect(idle("PT2M", "PT121S")).toEqual(["nodeIdleTimeBeforeScaleDown"]);
    expect(idle("PT", "pt")).toEqual([]);
    expect(idle("PT", "PT0S")).toEqual(["nodeIdleTimeBeforeScaleDown"]);
    expect(idle("Low", "low")).toEqual([]);
    expect(settingChanges({ n: 1 }, { n: "1" })).toEqual(["n"]);
  });
});

test("roleAssignmentName is stable across versions: the same grant keeps its name (an existing assignment is found)", () => {
  expect(roleAssignmentName("/Subscriptions/S/Storage/St1", "p1", "r1")).toBe(
    roleAssignmentName("/subscriptions/s/storage/st1", "p1", "r1"),
  );
  // sha256("<scope lower-cased>|<principal>|<role>") shaped as a GUID: pinned, since a change renames every grant
  expect(roleAssignmentName("/subscriptions/s/storage/st1", "p1", "r1")).toBe(
    "a866924a-5d06-5108-aed4-14f8fbe25ed1",
  );
});

test("settingChanges: multi-digit hours and fractional seconds", () => {
  const idle = (live: string, spec: string) => settingChanges({ t: live }, { t: spec });
  expect(idle("PT12H", "PT43200S")).toEqual([]);
  expect(idle("PT1.25S", "PT1.25S")).toEqual([]);
  expect(idle("PT1.25S", "PT1.5S")).toEqual(["t"]);
});

test("parseEnsureComputeArgs refuses an id that is not a compute's", () => {
  withEnv({ COMPUTE_SPEC: JSON.stringify(SPEC) }, () => {
    expect(() => parseEnsureComputeArgs(["--compute-id", `${WS_ID}/jobs/j1`])).toThrow(/computes/);
  });
});
