// lib/azureml/metrics.ts: the Monitor queries, the counts read from their answers, and the watch's verdict.
import {
  MAX_SERIES,
  MONITOR_API_VERSION,
  breachOf,
  formatFigures,
  metricsQuery,
  metricsTimespan,
  p95Of,
  readDeploymentMetrics,
  requestCounts,
  watchFigures,
  type MetricsResponse,
  type TimeSeriesElement,
} from "../../lib/azureml/metrics";
import type { ArmClient } from "../../lib/azure/arm";

const series = (dims: Record<string, string>, values: Array<number | undefined>): TimeSeriesElement => ({
  metadatavalues: Object.entries(dims).map(([name, value]) => ({ name: { value: name }, value })),
  data: values.map((average) => ({ timeStamp: "t", ...(average !== undefined ? { average } : {}) })),
});
const answer = (
  name: string,
  timeseries: TimeSeriesElement[],
  extra: Record<string, string> = {},
): MetricsResponse => ({ value: [{ name: { value: name }, timeseries, ...extra }] }) as MetricsResponse;

test("metricsTimespan: whole minutes, at least one", () => {
  const t0 = Date.parse("2026-01-01T10:00:30Z");
  expect(metricsTimespan(t0, t0 + 1000)).toBe("2026-01-01T10:00:00Z/2026-01-01T10:01:00Z");
  expect(metricsTimespan(t0, t0 + 90_000)).toBe("2026-01-01T10:00:00Z/2026-01-01T10:02:00Z");
  const whole = Date.parse("2026-01-01T10:00:00Z");
  expect(metricsTimespan(whole, whole)).toBe("2026-01-01T10:00:00Z/2026-01-01T10:01:00Z");
  expect(metricsTimespan(whole, whole + 120_000)).toBe("2026-01-01T10:00:00Z/2026-01-01T10:02:00Z");
});

test("metricsQuery: requests split by status code, or the p95; quotes doubled", () => {
  expect(metricsQuery("requests", "d'1", "span")).toEqual({
    "api-version": MONITOR_API_VERSION,
    timespan: "span",
    interval: "PT1M",
    metricnames: "RequestsPerMinute",
    aggregation: "Average",
    $filter: "deployment eq 'd''1' and statusCode eq '*'",
    top: String(MAX_SERIES),
  });
  expect(metricsQuery("latency", "d", "span")).toEqual({
    "api-version": MONITOR_API_VERSION,
    timespan: "span",
    interval: "PT1M",
    metricnames: "RequestLatency_P95",
    aggregation: "Average",
    $filter: "deployment eq 'd'",
  });
});

describe("requestCounts", () => {
  test("5xx, 424 and 408 are errors; other codes are requests only; a missing point is 0", () => {
    const res = answer("RequestsPerMinute", [
      series({ deployment: "d", statusCode: "200" }, [10, undefined, 5]),
      series({ deployment: "d", statusCode: "503" }, [2]),
      series({ deployment: "d", statusCode: "424" }, [1]),
      series({ deployment: "d", statusCode: "408" }, [1]),
      series({ deployment: "d", statusCode: "404" }, [3]),
      series({ deployment: "d", statusCode: "5000" }, [7]),
      series({ deployment: "other", statusCode: "500" }, [100]),
    ]);
    expect(requestCounts(res, "d")).toEqual({ requests: 29, errors: 4 });
  });

  test("split by class only: 5xx counts; dimension names in any case; an unsplit series is the filtered one", () => {
    const res = answer("requestsperminute", [
      series({ Deployment: "d", StatusCodeClass: "5xx" }, [2]),
      series({ deployment: "d", statusCodeClass: "2xx" }, [8]),
      series({}, [1]),
    ]);
    expect(requestCounts(res, "d")).toEqual({ requests: 11, errors: 2 });
    expect(requestCounts({ value: [] }, "d")).toEqual({ requests: 0, errors: 0 });
    expect(requestCounts(answer("RequestsPerMinute", [{ metadatavalues: [] }]), "d")).toEqual({
      requests: 0,
      errors: 0,
    });
  });

  test("a metric the service could not read is an error, not an empty window", () => {
    const res = answer("RequestsPerMinute", [], { errorCode: "Throttled", errorMessage: "later" });
    expect(() => requestCounts(res, "d")).toThrow(
      "Azure Monitor could not read RequestsPerMinute: Throttled: later",
    );
    const noMessage = answer("RequestsPerMinute", [], { errorCode: "Bad" });
    expect(() => requestCounts(noMessage, "d")).toThrow("Bad: no message");
    const ok = answer("RequestsPerMinute", [series({}, [1])], { errorCode: "Success" });
    expect(requestCounts(ok, "d")).toEqual({ requests: 1, errors: 0 });
  });
});

test("p95Of: the worst minute (average, else maximum), null without data", () => {
  const res = {
    value: [
      {
        name: { value: "RequestLatency_P95" },
        timeseries: [
          { data: [{ timeStamp: "a", average: 120 }, { timeStamp: "b" }, { timeStamp: "c", maximum: 300 }] },
          {
            metadatavalues: [{ name: { value: "deployment" }, value: "other" }],
            data: [{ timeStamp: "x", average: 999 }],
          },
        ],
      },
    ],
  } as MetricsResponse;
  expect(p95Of(res, "d")).toBe(300);
  expect(p95Of(answer("RequestLatency_P95", [series({}, [undefined])]), "d")).toBeNull();
  expect(p95Of(answer("RequestLatency_P95", [{}]), "d")).toBeNull();
});

test("readDeploymentMetrics: two Metrics - List calls on the endpoint's metrics path", async () => {
  const calls: Array<{ method: string; path: string; query: Record<string, string> }> = [];
  const arm = {
    send: async (method: string, path: string, o: { query: Record<string, string> }) => {
      calls.push({ method, path, query: o.query });
      const body =
        o.query.metricnames === "RequestsPerMinute"
          ? answer("RequestsPerMinute", [
              series({ statusCode: "500" }, [2]),
              series({ statusCode: "200" }, [8]),
            ])
          : answer("RequestLatency_P95", [series({}, [250])]);
      return { status: 200, text: JSON.stringify(body), url: path };
    },
  } as unknown as ArmClient;
  expect(await readDeploymentMetrics(arm, "/ep", "d", "span")).toEqual({
    requests: 10,
    errors: 2,
    p95Ms: 250,
  });
  expect(calls.map((c) => [c.method, c.path, c.query.metricnames, c.query.timespan])).toEqual([
    ["GET", "/ep/providers/Microsoft.Insights/metrics", "RequestsPerMinute", "span"],
    ["GET", "/ep/providers/Microsoft.Insights/metrics", "RequestLatency_P95", "span"],
  ]);
});

describe("the watch's figures and verdict", () => {
  const limits = { maxErrorRate: 0.1, maxP95Ms: 500, minRequests: 10 };

  test("watchFigures adds the sample calls", () => {
    expect(watchFigures({ requests: 8, errors: 1, p95Ms: 100 }, 2, 1)).toEqual({
      requests: 10,
      errors: 2,
      errorRate: 0.2,
      p95Ms: 100,
      sampleCalls: 2,
      sampleFailures: 1,
    });
    expect(watchFigures({ requests: 0, errors: 0, p95Ms: null }, 0, 0).errorRate).toBe(0);
  });

  test("a failed sample call breaches at once", () => {
    const f = watchFigures({ requests: 0, errors: 0, p95Ms: null }, 3, 1);
    expect(breachOf(f, limits)).toBe("1 of 3 sample calls failed");
  });

  test("the error rate counts from minRequests on, and only above the limit", () => {
    const at = (requests: number, errors: number) => watchFigures({ requests, errors, p95Ms: null }, 0, 0);
    expect(breachOf(at(9, 9), limits)).toBeUndefined();
    expect(breachOf(at(10, 1), limits)).toBeUndefined();
    expect(breachOf(at(10, 2), limits)).toBe(
      "error rate 20.00 % (2 errors in 10 requests) is above --max-error-rate 10.00 %",
    );
  });

  test("p95 above the limit (one decimal shown), equal passes, no data passes", () => {
    const p = (p95Ms: number | null) => watchFigures({ requests: 0, errors: 0, p95Ms }, 0, 0);
    expect(breachOf(p(500), limits)).toBeUndefined();
    expect(breachOf(p(500.04), limits)).toBe("p95 latency 500 ms is above --max-p95-ms 500 ms");
    expect(breachOf(p(500.44), limits)).toBe("p95 latency 500.4 ms is above --max-p95-ms 500 ms");
    expect(breachOf(p(null), limits)).toBeUndefined();
  });

  test("formatFigures: the rate is marked not judged below minRequests", () => {
    const f = watchFigures({ requests: 5, errors: 1, p95Ms: null }, 2, 1);
    expect(formatFigures(f, 10)).toBe(
      "requests 7 (errors 2, error rate 28.57 %, not judged below 10), p95 no data yet, sample calls 1/2 ok",
    );
    const g = watchFigures({ requests: 10, errors: 0, p95Ms: 12.345 }, 0, 0);
    expect(formatFigures(g, 10)).toBe(
      "requests 10 (errors 0, error rate 0.00 %), p95 12.3 ms, sample calls 0/0 ok",
    );
  });
});
