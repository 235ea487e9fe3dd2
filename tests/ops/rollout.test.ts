/**
 * The rollout steps as the graph runs them, in its order, against the fake ARM: smoke-test → rollout (direct,
 * canary, mirror; watched through the fake Azure Monitor metrics and sample calls) → retire-deployments. Watch
 * windows are seconds long (--watch-minutes 0.02, --interval-seconds 0.2).
 */
import * as path from "node:path";
import {
  breachOf,
  formatFigures,
  metricsQuery,
  metricsTimespan,
  p95Of,
  requestCounts,
  watchFigures,
  type MetricsResponse,
} from "../../lib/azureml/metrics";
import { rolloutPlan, rolloutStart } from "../../lib/azureml/traffic";
import { FakeEndpoint, type Scoring } from "./fake/endpoints";
import { FakeAzure } from "./fake/fakeAzure";
import { installMonitor, type DeploymentFigures } from "./fake/monitor";
import { REPO, runCli, startCli, waitFor, type CliResult } from "./fake/runCli";
import { WS_ID } from "./scenarios";

const fake = new FakeAzure();
const outputs: CliResult[] = [];
beforeAll(() => fake.start());
afterAll(() => fake.stop());
beforeEach(() => fake.reset());

const WATCH = ["--watch-minutes", "0.02", "--interval-seconds", "0.2", "--poll-seconds", "0.05"];
const CLEAN: DeploymentFigures = { requests: { "2xx": 40, "4xx": 2 }, p95Ms: 120 };

/** dold serves `traffic`; dnew is new (0 %) and scores as told. */
function endpoint(
  traffic: Record<string, number>,
  dnew: Scoring = "right",
  extra: object = {},
): FakeEndpoint {
  const deployments: Record<string, Scoring> = { dnew };
  for (const d of Object.keys(traffic)) if (d !== "dnew") deployments[d] = "right";
  return new FakeEndpoint(fake, WS_ID, "mnist-roll", { traffic, deployments, ...extra }).install();
}

/** The flags of the graph's sample call (the key in ENDPOINT_KEY). */
const call = (ep: FakeEndpoint) => [
  ...["--uri", ep.scoringUri, "--auth", "Key", "--retries", "0"],
  ...["--request", path.join(REPO, "scoring", "sample-request.json")],
  ...["--expected", path.join(REPO, "scoring", "sample-labels.json"), "--min-accuracy", "1"],
];

async function run(name: string, ep: FakeEndpoint, args: string[]): Promise<CliResult> {
  const r = await runCli(name, ["--endpoint-id", ep.id, ...args], fake.env({ ENDPOINT_KEY: ep.key }));
  outputs.push(r);
  return r;
}

const rollout = (ep: FakeEndpoint, args: string[]) =>
  run("rollout", ep, ["--deployment", "dnew", ...WATCH, ...call(ep), ...args]);
const smoke = (ep: FakeEndpoint) => run("smoke-test", ep, ["--deployment", "dnew", ...call(ep)]);

test("(c) canary within the limits → dnew 100 %, then retire-deployments deletes dold and keeps dnew", async () => {
  const ep = endpoint({ dold: 100 }, "right", { conflicts: 1 });
  const queries = installMonitor(fake, ep.id, { dnew: CLEAN });
  expect((await smoke(ep)).code).toBe(0);
  const r = await rollout(ep, ["--mode", "canary", "--percent", "10", "--max-p95-ms", "500"]);
  expect(r.code).toBe(0);
  expect(ep.putTraffic.slice(1)).toEqual([{ dold: 90, dnew: 10 }, { dnew: 100 }]);
  expect(r.json).toEqual({
    endpoint: "mnist-roll",
    deployment: "dnew",
    mode: "canary",
    previous: "dold",
    traffic: { dnew: 100 },
    mirrorTraffic: {},
    watched: {
      minutes: expect.any(Number),
      requests: 42 + (r.json!.watched as { sampleCalls: number }).sampleCalls,
      errors: 0,
      errorRate: 0,
      p95Ms: 120,
      sampleCalls: expect.any(Number),
      sampleFailures: 0,
    },
    rolledBack: false,
  });
  expect((r.json!.watched as { sampleCalls: number }).sampleCalls).toBeGreaterThanOrEqual(2);
  expect(r.stderr).toContain("409 Conflict");
  expect(queries.map((q) => q.query.get("$filter"))).toContain("deployment eq 'dnew' and statusCode eq '*'");
  expect(queries.map((q) => q.query.get("metricnames"))).toContain("RequestLatency_P95");
  expect(ep.scored.every((d) => d === "dnew")).toBe(true);
  const lastPut = fake.requests.map((q) => q.method).lastIndexOf("PUT");
  const retire = await run("retire-deployments", ep, ["--keep", "dnew", "--poll-seconds", "0.05"]);
  expect(retire.code).toBe(0);
  expect(retire.json).toEqual({ endpoint: "mnist-roll", kept: "dnew", deleted: ["dold"], skipped: [] });
  expect(ep.deleted).toEqual(["dold"]);
  expect(fake.requests.findIndex((q) => q.method === "DELETE")).toBeGreaterThan(lastPut);
  expect([...ep.deployments.keys()]).toEqual(["dnew"]);
});

test("(b) canary with many 5xx for dnew → rolled back to dold 100 %, exit 1 naming the limit and the figures", async () => {
  const ep = endpoint({ dold: 100 }, "right", { lag: 2 });
  installMonitor(fake, ep.id, { dnew: { requests: { "2xx": 20, "5xx": 30 }, p95Ms: 80 } });
  const r = await rollout(ep, ["--mode", "canary", "--percent", "20", "--min-requests", "5"]);
  expect(r.code).toBe(1);
  expect(ep.putTraffic).toEqual([{ dold: 80, dnew: 20 }, { dold: 100 }]);
  expect(ep.traffic).toEqual({ dold: 100 });
  expect(r.stderr).toContain(
    "rollout of dnew rolled back: error rate 58.82 % (30 errors in 51 requests) is above --max-error-rate 1.00 %",
  );
  expect(r.stderr).toContain("last 50 lines of deployment dnew's inference-server log:");
  expect(r.json).toMatchObject({
    mode: "canary",
    previous: "dold",
    traffic: { dold: 100 },
    rolledBack: true,
    watched: { requests: 51, errors: 30, sampleCalls: 1, sampleFailures: 0, p95Ms: 80 },
    error: expect.stringContaining("--max-error-rate"),
  });
});

test("(b) canary with p95 above the limit → rolled back", async () => {
  const ep = endpoint({ dold: 100 });
  installMonitor(fake, ep.id, { dnew: { requests: { "2xx": 50 }, p95Ms: 2500 } });
  const r = await rollout(ep, ["--mode", "canary", "--max-p95-ms", "1000"]);
  expect(r.code).toBe(1);
  expect(ep.putTraffic.at(-1)).toEqual({ dold: 100 });
  expect(r.stderr).toContain("p95 latency 2500 ms is above --max-p95-ms 1000 ms");
  expect(r.json).toMatchObject({ rolledBack: true, watched: { p95Ms: 2500 } });
});

test("canary: a failed sample call (wrong digits, no metrics yet) → rolled back with the table", async () => {
  const ep = endpoint({ dold: 100 }, "wrong");
  installMonitor(fake, ep.id, {});
  const r = await rollout(ep, ["--mode", "canary"]);
  expect(r.code).toBe(1);
  expect(ep.putTraffic.at(-1)).toEqual({ dold: 100 });
  expect(r.stderr).toContain("sample call 1 failed: accuracy 50.00 % (10/20 right)");
  expect(r.stderr).toMatch(/predicted\s+expected\s+confidence\s+ok/);
  expect(r.stderr).toContain("rolled back: 1 of 1 sample calls failed");
  expect(r.json).toMatchObject({ watched: { p95Ms: null, sampleFailures: 1 }, rolledBack: true });
});

test("canary: metrics that cannot be read end the watch with a rollback", async () => {
  const ep = endpoint({ dold: 100 });
  fake.on("GET", `${ep.id}/providers/Microsoft.Insights/metrics`, {
    status: 403,
    body: { error: { code: "AuthorizationFailed", message: "no Microsoft.Insights/metrics/read" } },
  });
  const r = await rollout(ep, ["--mode", "canary"]);
  expect(r.code).toBe(1);
  expect(ep.putTraffic.at(-1)).toEqual({ dold: 100 });
  expect(r.stderr).toMatch(/rolled back: the watch failed: .*HTTP 403 AuthorizationFailed/);
});

test("(d) first deployment: smoke, then 100 % at once even when canary is asked for", async () => {
  const ep = endpoint({});
  const queries = installMonitor(fake, ep.id, {});
  expect((await smoke(ep)).code).toBe(0);
  const r = await rollout(ep, ["--mode", "canary"]);
  expect(r.code).toBe(0);
  expect(ep.putTraffic).toEqual([{ dnew: 100 }]);
  expect(r.json).toEqual({
    endpoint: "mnist-roll",
    deployment: "dnew",
    mode: "direct",
    traffic: { dnew: 100 },
    rolledBack: false,
  });
  expect(r.stderr).toContain("nothing serves besides dnew: no canary to watch");
  expect(queries).toHaveLength(0);
});

test("direct with a previous deployment: 100 % at once, no watch", async () => {
  const ep = endpoint({ dold: 100 });
  const r = await rollout(ep, ["--mode", "direct"]);
  expect(r.code).toBe(0);
  expect(ep.putTraffic).toEqual([{ dnew: 100 }]);
  expect(r.json).toMatchObject({ mode: "direct", previous: "dold", rolledBack: false });
  expect(r.json).not.toHaveProperty("watched");
});

test("mirror within the limits: live traffic stays with dold while dnew gets a copy, then dnew 100 %", async () => {
  const ep = endpoint({ dold: 100 });
  installMonitor(fake, ep.id, { dnew: CLEAN });
  const r = await rollout(ep, ["--mode", "mirror", "--percent", "50"]);
  expect(r.code).toBe(0);
  expect(ep.puts.map((p) => [p.traffic, p.mirrorTraffic])).toEqual([
    [{ dold: 100 }, { dnew: 50 }],
    [{ dnew: 100 }, {}],
  ]);
  expect(r.json).toMatchObject({ mode: "mirror", traffic: { dnew: 100 } });
  expect(r.json!.mirrorTraffic).toEqual({});
  expect(r.stderr).toContain("reports dold=100 (mirror dnew=50)");
});

test("mirror breach: the mirror ends, dold keeps serving, exit 1", async () => {
  const ep = endpoint({ dold: 100 });
  installMonitor(fake, ep.id, { dnew: { requests: { "5xx": 25 } } });
  const r = await rollout(ep, ["--mode", "mirror", "--percent", "10", "--min-requests", "10"]);
  expect(r.code).toBe(1);
  expect(ep.puts.at(-1)).toMatchObject({ traffic: { dold: 100 } });
  expect(ep.puts.at(-1)!.mirrorTraffic).toEqual({});
  expect(ep.mirrorTraffic).toEqual({});
  expect(r.stderr).toContain("error rate 96.15 % (25 errors in 26 requests)");
  expect(r.json).toMatchObject({ mode: "mirror", rolledBack: true, traffic: { dold: 100 } });
});

test("--delete after a newer rollout is a no-op; --delete of the serving one moves its traffic", async () => {
  const ep = endpoint({ dold: 0, dnew: 100 });
  const old = await run("rollout", ep, ["--deployment", "dold", "--delete"]);
  expect(old.code).toBe(0);
  expect(old.json).toEqual({ endpoint: "mnist-roll", traffic: { dnew: 100 }, changed: false });
  expect(ep.puts).toHaveLength(0);
  const cur = await run("rollout", ep, ["--deployment", "dnew", "--delete", "--poll-seconds", "0.05"]);
  expect(cur.code).toBe(0);
  expect(ep.putTraffic).toEqual([{}]);
});

test.each([
  [["--mode", "canary", "--percent", "0"], "--percent must be an integer in [1, 99], got '0'"],
  [["--mode", "canary", "--percent", "100"], "--percent must be an integer in [1, 99], got '100'"],
  [["--mode", "mirror", "--percent", "60"], "--percent must be at most 50 with --mode mirror"],
  [["--mode", "canary", "--watch-minutes", "-1"], "--watch-minutes must be a number in [0, 1440], got '-1'"],
  [["--mode", "canary", "--max-error-rate", "1.5"], "--max-error-rate must be a number in [0, 1], got '1.5'"],
  [["--mode", "rainbow"], "--mode must be one of direct, canary, mirror, got 'rainbow'"],
])("flags %j: exit 2 before any request", async (args, message) => {
  const ep = endpoint({ dold: 100 });
  const r = await rollout(ep, args);
  expect(r.code).toBe(2);
  expect(r.stderr).toContain(message);
  expect(fake.requests).toHaveLength(0);
});

test("a watch without a sample call to make is a usage error", async () => {
  const ep = endpoint({ dold: 100 });
  const r = await run("rollout", ep, ["--deployment", "dnew", "--mode", "mirror"]);
  expect(r.code).toBe(2);
  expect(r.stderr).toContain("--mode mirror needs --uri");
  expect(fake.requests).toHaveLength(0);
});

test("no secret (endpoint key, client secret, tokens) appears in any output", () => {
  expect(outputs.length).toBeGreaterThan(15);
  for (const o of outputs) for (const s of fake.secrets()) expect(o.stdout + o.stderr).not.toContain(s);
});

describe("lib/azureml/metrics (pure)", () => {
  /** A Metrics - List answer in the GetMetric.json shape: `rows` = [statusCodeClass, totals per minute]. */
  const requestsAnswer = (
    rows: Array<[string, Array<number | undefined>]>,
    dep = "dnew",
  ): MetricsResponse => ({
    cost: 2,
    timespan: "2026-11-26T10:00:00Z/2026-11-26T10:02:00Z",
    interval: "PT1M",
    namespace: "Microsoft.MachineLearningServices/workspaces/onlineEndpoints",
    resourceregion: "westeurope",
    value: [
      {
        id: "x/providers/Microsoft.Insights/metrics/RequestsPerMinute",
        type: "Microsoft.Insights/metrics",
        name: { value: "RequestsPerMinute", localizedValue: "Requests Per Minute" },
        unit: "Count",
        errorCode: "Success",
        timeseries: rows.map(([cls, totals]) => ({
          metadatavalues: [
            { name: { value: "deployment", localizedValue: "deployment" }, value: dep },
            { name: { value: "statuscodeclass", localizedValue: "statusCodeClass" }, value: cls },
          ],
          data: totals.map((total, i) => ({
            timeStamp: `2026-11-26T10:0${i}:00Z`,
            ...(total === undefined ? {} : { average: total }),
          })),
        })),
      },
    ],
  });

  test("requests and 5xx from RequestsPerMinute by status class; a point without a value is no requests", () => {
    const res = requestsAnswer([
      ["2xx", [40, undefined]],
      ["4xx", [3, 1]],
      ["5xx", [2, undefined]],
    ]);
    expect(requestCounts(res, "dnew")).toEqual({ requests: 46, errors: 2 });
    expect(requestCounts(requestsAnswer([["5xx", [9]]], "dold"), "dnew")).toEqual({ requests: 0, errors: 0 });
    expect(requestCounts({ value: [] }, "dnew")).toEqual({ requests: 0, errors: 0 });
  });

  test("p95: the worst minute; null before any value arrived", () => {
    const res: MetricsResponse = {
      value: [
        {
          name: { value: "RequestLatency_P95" },
          timeseries: [
            {
              data: [
                { timeStamp: "t1", average: 80 },
                { timeStamp: "t2", average: 310.5 },
                { timeStamp: "t3" },
              ],
            },
          ],
        },
      ],
    };
    expect(p95Of(res, "dnew")).toBe(310.5);
    expect(
      p95Of(
        { value: [{ name: { value: "RequestLatency_P95" }, timeseries: [{ data: [{ timeStamp: "t" }] }] }] },
        "d",
      ),
    ).toBeNull();
  });

  test("timespan in whole minutes, at least one; queries as the docs name them", () => {
    const t = Date.parse("2026-11-26T10:00:30Z");
    expect(metricsTimespan(t, t + 1000)).toBe("2026-11-26T10:00:00Z/2026-11-26T10:01:00Z");
    expect(metricsTimespan(t, t + 95_000)).toBe("2026-11-26T10:00:00Z/2026-11-26T10:03:00Z");
    expect(metricsQuery("requests", "d'1", "T")).toEqual({
      "api-version": "2023-10-01",
      timespan: "T",
      interval: "PT1M",
      metricnames: "RequestsPerMinute",
      aggregation: "Average",
      top: "50",
      $filter: "deployment eq 'd''1' and statusCode eq '*'",
    });
    expect(metricsQuery("latency", "d", "T")).toMatchObject({
      metricnames: "RequestLatency_P95",
      aggregation: "Average",
      $filter: "deployment eq 'd'",
    });
  });

  test("breach: a failed sample call; the error rate once there are enough requests; p95", () => {
    const limits = { maxErrorRate: 0.05, maxP95Ms: 500, minRequests: 20 };
    const f = (requests: number, errors: number, p95Ms: number | null, calls = 2, failures = 0) =>
      watchFigures({ requests, errors, p95Ms }, calls, failures);
    expect(f(98, 5, 100)).toEqual({
      requests: 100,
      errors: 5,
      errorRate: 0.05,
      p95Ms: 100,
      sampleCalls: 2,
      sampleFailures: 0,
    });
    expect(breachOf(f(98, 5, 100), limits)).toBeUndefined();
    expect(breachOf(f(98, 6, 100), limits)).toBe(
      "error rate 6.00 % (6 errors in 100 requests) is above --max-error-rate 5.00 %",
    );
    expect(breachOf(f(10, 5, 100), limits)).toBeUndefined();
    expect(breachOf(f(0, 0, null, 1, 1), limits)).toBe("1 of 1 sample calls failed");
    expect(breachOf(f(0, 0, 500), limits)).toBeUndefined();
    expect(breachOf(f(0, 0, 500.4), limits)).toBe("p95 latency 500.4 ms is above --max-p95-ms 500 ms");
    expect(formatFigures(f(10, 1, null), 20)).toBe(
      "requests 12 (errors 1, error rate 8.33 %, not judged below 20), p95 no data yet, sample calls 2/2 ok",
    );
  });
});

describe("rolloutPlan (pure)", () => {
  test("canary: the share, then all or back; each write sets or clears the rollout's record on the endpoint", () => {
    expect(rolloutPlan("canary", { dold: 100 }, "dnew", 10)).toEqual({
      stage: { traffic: { dold: 90, dnew: 10 }, tags: { rolloutIntent: "dnew canary 10" } },
      pass: {
        traffic: { dnew: 100 },
        mirrorTraffic: {},
        tags: { rolloutServing: "dnew", rolloutIntent: undefined },
      },
      rollback: { traffic: { dold: 100 }, mirrorTraffic: {}, tags: { rolloutIntent: undefined } },
    });
    expect(rolloutPlan("canary", { a: 60, b: 40, dnew: 0 }, "dnew", 25).stage.traffic).toEqual({
      a: 45,
      b: 30,
      dnew: 25,
    });
  });
  test("mirror: live traffic kept (dnew absent from it, never at 0), a copy to dnew; the mirror ends either way", () => {
    expect(rolloutPlan("mirror", { dold: 90, dnew: 10 }, "dnew", 50)).toEqual({
      stage: {
        traffic: { dold: 100 },
        mirrorTraffic: { dnew: 50 },
        tags: { rolloutIntent: "dnew mirror 50" },
      },
      pass: {
        traffic: { dnew: 100 },
        mirrorTraffic: {},
        tags: { rolloutServing: "dnew", rolloutIntent: undefined },
      },
      rollback: { traffic: { dold: 100 }, mirrorTraffic: {}, tags: { rolloutIntent: undefined } },
    });
  });
});

describe("converging after an interrupted or failed rollout (the endpoint records which deployment passed)", () => {
  const tagsOf = (ep: FakeEndpoint) => ({ ...ep.tags });

  test("regression #4: a canary cut by SIGKILL (dold 90 / dnew 10, intent left) is settled first: dold 100, then the retried canary passes", async () => {
    const ep = endpoint({ dold: 90, dnew: 10 }, "right", {
      tags: { rolloutServing: "dold", rolloutIntent: "dnew canary 10" },
    });
    installMonitor(fake, ep.id, { dnew: CLEAN });
    const r = await rollout(ep, ["--mode", "canary", "--percent", "10"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("did not finish");
    expect(ep.putTraffic).toEqual([{ dold: 100 }, { dold: 90, dnew: 10 }, { dnew: 100 }]);
    expect(tagsOf(ep)).toEqual({ stack: "dev", rolloutServing: "dnew" });
  });

  test("regression #2/#4: reverting to the deployment that last passed after an interrupted canary: it gets 100 % back, no watch", async () => {
    const ep = endpoint({ dold: 90, dnew: 10 }, "right", {
      tags: { rolloutServing: "dold", rolloutIntent: "dnew canary 10" },
    });
    const queries = installMonitor(fake, ep.id, {});
    const r = await run("rollout", ep, ["--deployment", "dold", "--mode", "canary", ...WATCH, ...call(ep)]);
    expect(r.code).toBe(0);
    // one write: back to what passed; nothing watched (dold already passed its watch)
    expect(ep.putTraffic).toEqual([{ dold: 100 }]);
    expect(queries).toHaveLength(0);
    expect(tagsOf(ep)).toEqual({ stack: "dev", rolloutServing: "dold" });
    // and the half-rolled-out dnew now holds nothing: retirement can take it
    const retire = await run("retire-deployments", ep, ["--keep", "dold", "--poll-seconds", "0.05"]);
    expect(retire.json).toMatchObject({ deleted: ["dnew"], skipped: [] });
  });

  test("regression #4: a stale mirror from an interrupted mirror rollout ends before the next rollout, so retirement can delete it", async () => {
    const ep = endpoint({ dold: 100 }, "right", {
      mirrorTraffic: { dmid: 20 },
      deployments: { dold: "right", dmid: "right", dnew: "right" },
      tags: { rolloutServing: "dold", rolloutIntent: "dmid mirror 20" },
    });
    const r = await run("rollout", ep, [
      "--deployment",
      "dnew",
      "--mode",
      "direct",
      "--poll-seconds",
      "0.05",
    ]);
    expect(r.code).toBe(0);
    expect(ep.puts.map((p) => [p.traffic, p.mirrorTraffic])).toEqual([
      [{ dold: 100 }, {}],
      [{ dnew: 100 }, {}],
    ]);
    const retire = await run("retire-deployments", ep, ["--keep", "dnew", "--poll-seconds", "0.05"]);
    expect(retire.json).toMatchObject({ deleted: ["dold", "dmid"], skipped: [] });
  });

  test("regression #4: SIGTERM during the watch (a cancelled CI job) rolls back before exiting 143", async () => {
    const ep = endpoint({ dold: 100 }, "right", { tags: { rolloutServing: "dold" } });
    installMonitor(fake, ep.id, { dnew: CLEAN });
    const { child, done, stderrSoFar } = startCli(
      "rollout",
      [
        ...["--endpoint-id", ep.id, "--deployment", "dnew", "--mode", "canary", "--percent", "10"],
        ...["--watch-minutes", "5", "--interval-seconds", "30", "--poll-seconds", "0.05", ...call(ep)],
      ],
      fake.env({ ENDPOINT_KEY: ep.key }),
    );
    await waitFor(() => stderrSoFar().includes("watching dnew"));
    child.kill("SIGTERM");
    const r = await done;
    outputs.push(r);
    expect(r.code).toBe(143);
    expect(r.stderr).toContain("SIGTERM received");
    expect(ep.putTraffic).toEqual([{ dold: 90, dnew: 10 }, { dold: 100 }]);
    expect(tagsOf(ep)).toEqual({ stack: "dev", rolloutServing: "dold" });
    expect(r.json).toMatchObject({ rolledBack: true, traffic: { dold: 100 } });
    // left at 0 % for the next `up` (a retry re-runs this step, which needs it); the message says it bills
    expect(ep.deleted).toEqual([]);
    expect(r.stderr).toContain("bills its instances until the next successful `pulumi up` retires it");
  });

  test("regression #9: a rolled-back deployment stays at 0 % with what it costs and how to delete it; --retire-failed deletes it now", async () => {
    const ep = endpoint({ dold: 100 }, "right", { tags: { rolloutServing: "dold" } });
    installMonitor(fake, ep.id, { dnew: { requests: { "5xx": 30, "2xx": 10 }, p95Ms: 100 } });
    const r = await rollout(ep, ["--mode", "canary", "--percent", "10"]);
    expect(r.code).toBe(1);
    expect(ep.deleted).toEqual([]);
    expect(r.stderr).toContain("az ml online-deployment delete -n dnew -e mnist-roll");

    fake.reset();
    const now = endpoint({ dold: 100 }, "right", { tags: { rolloutServing: "dold" } });
    installMonitor(fake, now.id, { dnew: { requests: { "5xx": 30, "2xx": 10 }, p95Ms: 100 } });
    const k = await rollout(now, ["--mode", "canary", "--percent", "10", "--retire-failed"]);
    expect(k.code).toBe(1);
    expect(now.deleted).toEqual(["dnew"]);
    expect(k.stderr).toContain("dnew was deleted");
  });

  test("a deployment that is not on the endpoint: exit 1 before any write", async () => {
    const ep = endpoint({ dold: 100 });
    const r = await run("rollout", ep, ["--deployment", "dmissing", "--mode", "direct"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("deployment dmissing is not on endpoint mnist-roll");
    expect(ep.puts).toHaveLength(0);
  });
});

describe("rolloutStart (pure)", () => {
  const ep = (traffic: Record<string, number>, tags: Record<string, string> = {}, mirrorTraffic = {}) => ({
    tags,
    properties: { traffic, mirrorTraffic },
  });
  test("a settled endpoint: what serves besides the new deployment is the previous one; nothing to restore", () => {
    expect(rolloutStart(ep({ a: 100 }, { rolloutServing: "a" }), "b", new Set(["a", "b"]))).toEqual({
      previous: ["a"],
      base: { a: 100 },
    });
  });
  test("half done with a record: restore the recorded one; a revert to it has no previous", () => {
    const half = ep({ a: 90, b: 10 }, { rolloutServing: "a", rolloutIntent: "b canary 10" });
    const start = rolloutStart(half, "b", new Set(["a", "b"]));
    expect(start.restore).toEqual({
      traffic: { a: 100 },
      mirrorTraffic: {},
      tags: { rolloutIntent: undefined },
    });
    expect(start.previous).toEqual(["a"]);
    expect(rolloutStart(half, "a", new Set(["a", "b"])).previous).toEqual([]);
  });
  test("the recorded deployment is gone: no restore to it; a stale intent or mirror is still ended", () => {
    const start = rolloutStart(
      ep({ b: 100 }, { rolloutServing: "a", rolloutIntent: "c mirror 10" }, { c: 10 }),
      "c",
      new Set(["b", "c"]),
    );
    expect(start.restore).toEqual({
      traffic: { b: 100 },
      mirrorTraffic: {},
      tags: { rolloutIntent: undefined },
    });
    expect(start.previous).toEqual(["b"]);
  });
});
