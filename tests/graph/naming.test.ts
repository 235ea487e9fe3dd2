// components/naming.ts: every generated name satisfies Azure's rules, for awkward stack names too.
import {
  NAME_RULES,
  alnum,
  fitted,
  slug,
  computeName,
  deploymentName,
  endpointName,
  resourceGroupName,
  validateName,
  workspaceNames,
} from "../../lib/core/naming";

const STACKS = ["dev", "prod", "Feature/Very_Long-Stack.Name-With-Many-Parts-2026", "123", "a", "---"];
const SUFFIXES = ["x7k2p9", "000000", "abcdef"];

test.each(STACKS.flatMap((s) => SUFFIXES.map((x) => [s, x])))(
  "names for stack %j, suffix %s are valid",
  (stack, sfx) => {
    const names = workspaceNames(stack, sfx);
    expect(names.storageAccount).toMatch(NAME_RULES.storageAccount.pattern);
    expect(names.keyVault).not.toContain("--");
    for (const n of Object.values(names)) expect(n).toContain(sfx);
    expect(endpointName(stack, sfx).length).toBeLessThanOrEqual(32);
    expect(resourceGroupName("azure-ml-mnist", stack)).toMatch(/^rg-azure-ml-mnist/);
  },
);

test("compute names encode VM size and priority, never end in -digits, fit 24 characters", () => {
  expect(computeName("Standard_NC4as_T4_v3", false, "x7k2p9")).toBe("gnc4ast4v3dx7k2p9");
  expect(computeName("Standard_NC4as_T4_v3", true, "x7k2p9")).toBe("gnc4ast4v3lx7k2p9");
  const long = computeName("Standard_ND96amsr_A100_v4_extra", false, "123456");
  expect(long.length).toBeLessThanOrEqual(24);
  expect(long).not.toMatch(/-\d+$/);
});

test("deployment names come from a hash and are valid", () => {
  expect(deploymentName("0123456789abcdef")).toBe("d-0123456789ab");
});

test("invalid names are rejected with the kind, the value and the rule", () => {
  expect(() => validateName("storageAccount", "St-1")).toThrow(
    'storageAccount name "St-1" is invalid: 3-24 lowercase letters and digits',
  );
  expect(() => validateName("compute", "gpu-123")).toThrow("must not end with a hyphen followed by digits");
  expect(() => validateName("keyVault", "kv--x1")).toThrow("no consecutive hyphens");
  expect(() => validateName("endpoint", "1mnist")).toThrow("letter first");
  expect(() => validateName("workspace", "w")).toThrow("3-33");
  expect(() => workspaceNames("dev", "BAD")).toThrow("suffix");
});

describe("qualifiers that must be cut keep a hash of the whole, so two never meet", () => {
  test.each([
    ["cluster", (q: string) => computeName("Standard_NC4as_T4_v3", false, "dx7k2p", q)],
    ["endpoint", (q: string) => endpointName("dev", "dx7k2p", q)],
    ["resource group", (q: string) => resourceGroupName("azure-ml-mnist-pulumi", "dev", q)],
  ])("%s", (_kind, name) => {
    const one = name("trainer-1");
    const two = name("trainer-2");
    expect(one).not.toBe(two);
    // the same qualifier gives the same name (names are stable across runs)
    expect(name("trainer-1")).toBe(one);
    // and a short qualifier is kept whole
    expect(name("eu")).toContain("eu");
  });

  test("fitted: whole when it fits, else cut with 3 hash characters", () => {
    expect(fitted("cpu", 4, alnum)).toBe("cpu");
    expect(fitted("trainer-1", 4, alnum)).toMatch(/^t[0-9a-f]{3}$/);
    expect(fitted("canary-eu", 8, slug, "-")).toMatch(/^cana-[0-9a-f]{3}$/);
  });
});
