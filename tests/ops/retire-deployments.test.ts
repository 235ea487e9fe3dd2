/**
 * ops/retire-deployments.ts against the fake endpoint: deployments without live or mirrored traffic are deleted
 * (long-running operation, then 404), any that still holds traffic is kept, and nothing goes when the one to keep
 * is not there. The graph's order (rollout first, then this) is tested in rollout.test.ts.
 */
import { retirePlan } from "../../ops/retire-deployments";
import { FakeEndpoint, type Scoring } from "./fake/endpoints";
import { FakeAzure } from "./fake/fakeAzure";
import { runCli, type CliResult } from "./fake/runCli";
import { WS_ID } from "./scenarios";

const fake = new FakeAzure();
const outputs: CliResult[] = [];
beforeAll(() => fake.start());
afterAll(() => fake.stop());
beforeEach(() => fake.reset());

function endpoint(
  traffic: Record<string, number>,
  names: string[],
  mirrorTraffic: Record<string, number> = {},
) {
  const deployments = Object.fromEntries(names.map((n) => [n, "right" as Scoring]));
  return new FakeEndpoint(fake, WS_ID, "mnist-ret", { traffic, mirrorTraffic, deployments }).install();
}

async function retire(ep: FakeEndpoint, keep: string): Promise<CliResult> {
  const args = ["--endpoint-id", ep.id, "--keep", keep, "--poll-seconds", "0.05"];
  const r = await runCli("retire-deployments", args, fake.env());
  outputs.push(r);
  return r;
}

test("deletes every deployment at 0 % and 0 % mirror; keeps one still serving and one still mirrored", async () => {
  const ep = endpoint(
    { dnew: 90, dmid: 10, dold: 0, dfailed: 0 },
    ["dnew", "dmid", "dold", "dfailed", "dmir"],
    {
      dmir: 5,
    },
  );
  const r = await retire(ep, "dnew");
  expect(r.code).toBe(0);
  expect(r.json).toEqual({
    endpoint: "mnist-ret",
    kept: "dnew",
    deleted: ["dold", "dfailed"],
    skipped: ["dmid", "dmir"],
  });
  expect(ep.deleted).toEqual(["dold", "dfailed"]);
  expect([...ep.deployments.keys()]).toEqual(["dnew", "dmid", "dmir"]);
  expect(r.stderr).toContain(
    "keeping dmid: it still holds 10 % of the traffic (never delete a serving deployment)",
  );
  expect(r.stderr).toContain("keeping dmir: it still mirrors 5 %");
  expect(r.stderr).toMatch(/deployment dold deleted \(\d+s\)/);
  expect(fake.count("DELETE", `${ep.id}/deployments/dmid`)).toBe(0);
});

test("only the kept deployment: nothing to do", async () => {
  const ep = endpoint({ dnew: 100 }, ["dnew"]);
  const r = await retire(ep, "dnew");
  expect(r.code).toBe(0);
  expect(r.json).toEqual({ endpoint: "mnist-ret", kept: "dnew", deleted: [], skipped: [] });
  expect(r.stderr).toContain("nothing to retire besides dnew");
});

test("the deployment to keep is not on the endpoint: exit 1, nothing deleted", async () => {
  const ep = endpoint({ dold: 100 }, ["dold", "dother"]);
  const r = await retire(ep, "dnew");
  expect(r.code).toBe(1);
  expect(r.stderr).toContain("deployment dnew is not on endpoint mnist-ret: refusing to retire the others");
  expect(r.stderr).toContain("Deployments found: dold, dother");
  expect(fake.requests.filter((q) => q.method === "DELETE")).toHaveLength(0);
});

test("a delete the service refuses fails with its message", async () => {
  const ep = endpoint({ dnew: 100 }, ["dnew", "dold"]);
  fake.on("DELETE", `${ep.id}/deployments/dold`, {
    status: 403,
    body: { error: { code: "AuthorizationFailed", message: "no onlineEndpoints/deployments/delete" } },
  });
  const r = await retire(ep, "dnew");
  expect(r.code).toBe(1);
  expect(r.stderr).toContain("HTTP 403 AuthorizationFailed: no onlineEndpoints/deployments/delete");
});

test("--keep is required: exit 2 before any request", async () => {
  const r = await runCli("retire-deployments", ["--endpoint-id", `${WS_ID}/onlineEndpoints/x`], fake.env());
  expect(r.code).toBe(2);
  expect(r.stderr).toContain("--keep is required");
  expect(fake.requests).toHaveLength(0);
});

test("retirePlan: the kept one never, a serving or mirrored one never, the rest in list order", () => {
  expect(retirePlan(["a", "b", "c", "d"], "a", { a: 50, b: 50, c: 0 }, { d: 0 })).toEqual({
    remove: ["c", "d"],
    skip: [{ name: "b", why: "still holds 50 % of the traffic" }],
  });
  expect(retirePlan(["a", "b"], "a", undefined, { b: 10 })).toEqual({
    remove: [],
    skip: [{ name: "b", why: "still mirrors 10 %" }],
  });
});

test("no secret appears in any output", () => {
  expect(outputs.length).toBeGreaterThan(2);
  for (const o of outputs) for (const s of fake.secrets()) expect(o.stdout + o.stderr).not.toContain(s);
});
