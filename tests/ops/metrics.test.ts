/**
 * The canary/mirror watch's reading of Azure Monitor (lib/azureml/metrics.ts) against the rules of the service it
 * reads: RequestsPerMinute takes only the Average aggregation, a failing model answers 424 (a 4xx, not a 5xx), a
 * query returns at most `top` series, and a metric the service could not read comes back with its own errorCode.
 * The rollout runs end to end against the fake ARM and Monitor (tests/ops/fake/monitor.ts).
 */
import * as path from "node:path";
import { MAX_SERIES, metricsQuery, requestCounts, type MetricsResponse } from "../../lib/azureml/metrics";
import { FakeEndpoint } from "./fake/endpoints";
import { FakeAzure } from "./fake/fakeAzure";
import { installMonitor, metricsAnswer, type DeploymentFigures } from "./fake/monitor";
import { REPO, runCli, type CliResult } from "./fake/runCli";
import { WS_ID } from "./scenarios";

const fake = new FakeAzure();
beforeAll(() => fake.start());
afterAll(() => fake.stop());
beforeEach(() => fake.reset());

const WATCH = ["--watch-minutes", "0.02", "--interval-seconds", "0.2", "--poll-seconds", "0.05"];

/** dold serves 100 %; dnew is new and answers the sample call right (its sample calls all pass). */
const endpoint = () =>
  new FakeEndpoint(fake, WS_ID, "mnist-roll", {
    traffic: { dold: 100 },
    deployments: { dold: "right", dnew: "right" },
  }).install();

/** Traffic without its zero entries (absent and 0 are the same to the service). */
const live = (t: Record<string, number>) => Object.fromEntries(Object.entries(t).filter(([, v]) => v > 0));

function rollout(ep: FakeEndpoint, args: string[]): Promise<CliResult> {
  const call = [
    ...["--uri", ep.scoringUri, "--auth", "Key", "--retries", "0"],
    ...["--request", path.join(REPO, "scoring", "sample-request.json")],
    ...["--expected", path.join(REPO, "scoring", "sample-labels.json"), "--min-accuracy", "1"],
  ];
  const argv = ["--endpoint-id", ep.id, "--deployment", "dnew", ...WATCH, ...call, ...args];
  return runCli("rollout", argv, fake.env({ ENDPOINT_KEY: ep.key }));
}

/** A RequestsPerMinute answer split by statusCode (GetMetric.json shape): [code, per-minute averages]. */
function byStatusCode(rows: Array<[string, Array<number | undefined>]>, dep = "dnew"): MetricsResponse {
  return {
    timespan: "2026-11-26T10:00:00Z/2026-11-26T10:02:00Z",
    interval: "PT1M",
    value: [
      {
        name: { value: "RequestsPerMinute", localizedValue: "Requests Per Minute" },
        unit: "Count",
        errorCode: "Success",
        timeseries: rows.map(([code, averages]) => ({
          metadatavalues: [
            { name: { value: "deployment" }, value: dep },
            { name: { value: "statuscode" }, value: code },
          ],
          data: averages.map((average, i) => ({
            timeStamp: `2026-11-26T10:0${i}:00Z`,
            ...(average === undefined ? {} : { average }),
          })),
        })),
      },
    ],
  };
}

describe("Azure Monitor rule: RequestsPerMinute supports only the Average aggregation", () => {
  test("the requests query asks for Average, split by statusCode, with room for every code", () => {
    expect(metricsQuery("requests", "d'1", "T")).toEqual({
      "api-version": "2023-10-01",
      timespan: "T",
      interval: "PT1M",
      metricnames: "RequestsPerMinute",
      aggregation: "Average",
      $filter: "deployment eq 'd''1' and statusCode eq '*'",
      top: String(MAX_SERIES),
    });
  });

  test("the fake Monitor refuses aggregation Total on RequestsPerMinute with a 400 BadRequest", () => {
    const q = new URLSearchParams({
      ...metricsQuery("requests", "dnew", "2026-11-26T10:00:00Z/2026-11-26T10:01:00Z"),
    });
    expect(metricsAnswer("ep", q, {}).status).toBe(200);
    q.set("aggregation", "Total");
    const refused = metricsAnswer("ep", q, {});
    expect(refused.status).toBe(400);
    expect(refused.body).toEqual({
      error: { code: "BadRequest", message: expect.stringContaining("aggregation 'Total'") },
    });
  });

  test("a per-minute Average is that minute's count; a point without a value is a minute without requests", () => {
    const res = byStatusCode([
      ["200", [40, undefined]],
      ["404", [3, 1]],
    ]);
    expect(requestCounts(res, "dnew")).toEqual({ requests: 44, errors: 0 });
  });
});

describe("Azure ML rule: a model that fails answers 424 (408 when it runs past request_timeout_ms)", () => {
  test("424 and 408 count as errors beside every 5xx; other 4xx do not", () => {
    const res = byStatusCode([
      ["200", [50]],
      ["424", [4]],
      ["408", [2]],
      ["500", [1]],
      ["503", [1]],
      ["400", [5]],
      ["429", [7]],
    ]);
    expect(requestCounts(res, "dnew")).toEqual({ requests: 70, errors: 8 });
  });

  test("a canary whose model answers 424 in the metrics alone (sample calls pass) breaches the error rate and is rolled back", async () => {
    const ep = endpoint();
    installMonitor(fake, ep.id, { dnew: { requests: { "200": 10, "424": 40 }, p95Ms: 90 } });
    const r = await rollout(ep, ["--mode", "canary", "--percent", "10", "--min-requests", "5"]);
    expect(r.code).toBe(1);
    expect(ep.putTraffic.map(live)).toEqual([{ dold: 90, dnew: 10 }, { dold: 100 }]);
    expect(r.stderr).toMatch(
      /rolled back: error rate \d+\.\d\d % \(40 errors in \d+ requests\) is above --max-error-rate 1\.00 %/,
    );
    expect(r.json).toMatchObject({ rolledBack: true, watched: { errors: 40, sampleFailures: 0 } });
  });

  test("a mirror whose copy answers 424 ends the mirror; the live deployment keeps serving", async () => {
    const ep = endpoint();
    installMonitor(fake, ep.id, { dnew: { requests: { "424": 30 } } });
    const r = await rollout(ep, ["--mode", "mirror", "--percent", "10", "--min-requests", "5"]);
    expect(r.code).toBe(1);
    expect(live(ep.traffic)).toEqual({ dold: 100 });
    expect(live(ep.mirrorTraffic)).toEqual({});
    expect(r.json).toMatchObject({ mode: "mirror", rolledBack: true, watched: { errors: 30 } });
  });
});

describe("Azure Monitor rule: Metrics - List returns at most `top` series, 10 unless the query says", () => {
  test("twelve status codes: the smallest series (the 424s) still reaches the watch", async () => {
    const requests: DeploymentFigures["requests"] = { "424": 3 };
    for (const code of ["200", "201", "202", "204", "400", "401", "403", "404", "409", "413", "429"])
      requests[code] = 100;
    const ep = endpoint();
    installMonitor(fake, ep.id, { dnew: { requests } });
    const r = await rollout(ep, ["--mode", "canary", "--max-error-rate", "0.002"]);
    expect(r.json).toMatchObject({ rolledBack: true, watched: { errors: 3 } });
    // Without `top` the service's 10 series leave the 424s out: the same figures read no error at all.
    const q = new URLSearchParams(
      metricsQuery("requests", "dnew", "2026-11-26T10:00:00Z/2026-11-26T10:01:00Z"),
    );
    q.delete("top");
    const cut = metricsAnswer("ep", q, { dnew: { requests } }).body as MetricsResponse;
    expect(requestCounts(cut, "dnew").errors).toBe(0);
  });
});

test("a metric the service could not read (200 with its own errorCode, GetMetricError.json) is an error, not zero requests", () => {
  const res = byStatusCode([["424", [9]]]);
  res.value[0] = {
    ...res.value[0],
    timeseries: [],
    errorCode: "InvalidSamplingType",
    errorMessage: "Sampling type is not found.",
  };
  expect(() => requestCounts(res, "dnew")).toThrow(
    "Azure Monitor could not read RequestsPerMinute: InvalidSamplingType: Sampling type is not found.",
  );
});
