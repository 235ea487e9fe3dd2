// lib/core/naming.ts: the exact names built, and the edges of Azure's rules.
import {
  NAME_RULES,
  alnum,
  checkSuffix,
  computeName,
  deploymentName,
  endpointName,
  fitted,
  resourceGroupName,
  slug,
  validateName,
  workspaceNames,
} from "../../lib/core/naming";

test("slug: lowercase, runs of other characters to one hyphen, no hyphen at either end, cut to length", () => {
  expect(slug("--My_Stack..Name--", 40)).toBe("my-stack-name");
  expect(slug("abc-def", 4)).toBe("abc");
  expect(slug("a", 0)).toBe("");
});

test("alnum: lowercase letters and digits only, cut to length", () => {
  expect(alnum("Ab-C_1.2", 10)).toBe("abc12");
  expect(alnum("abcdef", 3)).toBe("abc");
});

test("fitted: as it is when it fits; else cut with a 3-character hash of the whole text", () => {
  expect(fitted("short", 8, slug)).toBe("short");
  expect(fitted("exactly8", 8, slug)).toBe("exactly8");
  const a = fitted("trainer-1", 8, slug, "-");
  const b = fitted("trainer-2", 8, slug, "-");
  expect(a).toMatch(/^trai-[0-9a-f]{3}$/);
  expect(a.length).toBe(8);
  expect(a).not.toBe(b);
  expect(fitted("abcdefgh", 4, alnum)).toMatch(/^a[0-9a-f]{3}$/);
});

test("checkSuffix: exactly 6 lowercase letters or digits", () => {
  expect(checkSuffix("a1b2c3")).toBe("a1b2c3");
  for (const bad of ["a1b2c", "a1b2c3d", "A1B2C3", "a1-2c3"])
    expect(() => checkSuffix(bad)).toThrow(`name suffix "${bad}" must be 6 lowercase letters or digits`);
});

test("resourceGroupName: rg-<project>-<stack>[-<qualifier>]", () => {
  expect(resourceGroupName("Azure ML", "Dev")).toBe("rg-azure-ml-dev");
  expect(resourceGroupName("p", "s", "Second")).toBe("rg-p-s-second");
  expect(resourceGroupName("p", "s", "")).toBe("rg-p-s");
});

test("workspaceNames: each kind's prefix, the stack, the suffix", () => {
  expect(workspaceNames("Dev", "x7k2p9")).toEqual({
    logAnalytics: "law-dev-x7k2p9",
    appInsights: "appi-dev-x7k2p9",
    storageAccount: "stdevx7k2p9",
    keyVault: "kv-dev-x7k2p9",
    containerRegistry: "acrdevx7k2p9",
    workspace: "mlw-dev-x7k2p9",
  });
  const long = workspaceNames("a".repeat(60), "x7k2p9");
  expect(long.storageAccount).toBe(`st${"a".repeat(16)}x7k2p9`);
  expect(long.keyVault).toBe(`kv-${"a".repeat(14)}-x7k2p9`);
  expect(long.workspace).toBe(`mlw-${"a".repeat(22)}-x7k2p9`);
  expect(long.containerRegistry).toBe(`acr${"a".repeat(41)}x7k2p9`);
  expect(workspaceNames("---", "x7k2p9").logAnalytics).toBe("law-x7k2p9");
  expect(() => workspaceNames("dev", "BAD")).toThrow(/suffix/);
});

test("computeName: g, qualifier, size, d|l, suffix; the size cut to fit 24", () => {
  expect(computeName("standard_nc4as_t4_v3", false, "x7k2p9", "Second")).toMatch(
    /^gs[0-9a-z]{3}nc4ast4v3dx7k2p9$/,
  );
  expect(computeName("Standard_D2", false, "x7k2p9", "ab")).toBe("gabd2dx7k2p9");
  expect(computeName("Standard_ND96amsr_A100_v4", true, "x7k2p9")).toBe("gnd96amsra100v4lx7k2p9");
  expect(computeName("Standard_" + "x".repeat(40), false, "123456")).toBe(`g${"x".repeat(16)}d123456`);
  expect(() => computeName("D2", false, "bad")).toThrow(/suffix/);
});

test("endpointName: mnist-[qualifier-]stack-suffix within 32", () => {
  expect(endpointName("Dev", "x7k2p9")).toBe("mnist-dev-x7k2p9");
  expect(endpointName("dev", "x7k2p9", "blue")).toBe("mnist-blue-dev-x7k2p9");
  expect(endpointName("s".repeat(40), "x7k2p9")).toBe(`mnist-${"s".repeat(19)}-x7k2p9`);
  expect(endpointName("s".repeat(40), "x7k2p9", "q").length).toBeLessThanOrEqual(32);
  expect(() => endpointName("dev", "nope")).toThrow(/suffix/);
});

test("deploymentName: d- and the first 12 characters of the hash", () => {
  expect(deploymentName("0123456789abcdef")).toBe("d-0123456789ab");
  expect(() => deploymentName("")).toThrow(/deployment name "d-" is invalid/);
});

describe("validateName: each rule's edges", () => {
  const ok = (kind: keyof typeof NAME_RULES, name: string) => expect(validateName(kind, name)).toBe(name);
  const bad = (kind: keyof typeof NAME_RULES, name: string) =>
    expect(() => validateName(kind, name)).toThrow(kind);

  test("lengths", () => {
    ok("storageAccount", "abc");
    bad("storageAccount", "ab");
    ok("storageAccount", "a".repeat(24));
    bad("storageAccount", "a".repeat(25));
    ok("keyVault", "a-1");
    ok("keyVault", `a${"b".repeat(22)}c`);
    bad("keyVault", `a${"b".repeat(23)}c`);
    ok("workspace", "ab1");
    bad("workspace", "ab");
    ok("workspace", "a".repeat(33));
    bad("workspace", "a".repeat(34));
    ok("containerRegistry", "abcde");
    bad("containerRegistry", "abcd");
    ok("logAnalytics", "abcd");
    bad("logAnalytics", "abc");
    ok("endpoint", "abc");
    ok("endpoint", "a".repeat(32));
    bad("endpoint", "a".repeat(33));
    ok("deployment", "d-1");
    ok("resourceGroup", "r");
    ok("resourceGroup", "r".repeat(90));
    bad("resourceGroup", "r".repeat(91));
    bad("resourceGroup", "rg.");
    ok("appInsights", "a");
    bad("appInsights", "a.");
  });

  test("the extra rules: no double hyphen in a key vault, no -<digits> at a compute's end", () => {
    bad("keyVault", "kv--a1");
    expect(() => validateName("keyVault", "kv--a1")).toThrow(
      'keyVault name "kv--a1" is invalid: no consecutive hyphens',
    );
    ok("compute", "gpu-a1");
    expect(() => validateName("compute", "gpu-12")).toThrow(
      'compute name "gpu-12" is invalid: must not end with a hyphen followed by digits',
    );
    ok("compute", "gpu12");
  });
});

test("long qualifiers are cut with a hyphen before their hash; a qualified compute name still fits 24", () => {
  expect(resourceGroupName("p", "s", "second-environment")).toMatch(/^rg-p-s-seco-[0-9a-f]{3}$/);
  expect(endpointName("dev", "x7k2p9", "second-environment")).toMatch(/^mnist-seco-[0-9a-f]{3}-dev-x7k2p9$/);
  const n = computeName("Standard_" + "x".repeat(40), false, "123456", "abcd");
  expect(n).toBe(`gabcd${"x".repeat(12)}d123456`);
  expect(n.length).toBe(24);
});
