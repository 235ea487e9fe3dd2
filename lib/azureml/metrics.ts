/**
 * An online deployment's request figures from Azure Monitor, and the canary/mirror watch's verdict on them.
 *
 * The figures are endpoint-level metrics split by the `deployment` dimension: RequestsPerMinute (dimensions
 * deployment, statusCode, statusCodeClass, modelStatusCode; aggregation Average only) and
 * RequestLatency_P50/P90/P95/P99 (dimension deployment) (MicrosoftDocs azure-reference-other, supported-metrics for
 * Microsoft.MachineLearningServices/workspaces/onlineEndpoints). Read with Metrics - List, api-version 2023-10-01,
 * on the same ARM host; response shape as azure-rest-api-specs monitor 2023-10-01 examples/GetMetric.json.
 * Metrics arrive minutes late: a minute with no data point counts as no requests, which is why the watch also
 * makes sample calls of its own. The parsing and the verdict are pure (unit-tested).
 */
import type { RolloutWatch } from "../core/contracts";
import type { ArmClient } from "../azure/arm";
import { jsonOf } from "../azure/http";

export const MONITOR_API_VERSION = "2023-10-01";

export interface MetricValue {
  timeStamp: string;
  average?: number;
  minimum?: number;
  maximum?: number;
  total?: number;
  count?: number;
}

export interface TimeSeriesElement {
  metadatavalues?: Array<{ name: { value: string; localizedValue?: string }; value: string }>;
  data?: MetricValue[];
}

export interface Metric {
  id?: string;
  type?: string;
  name: { value: string; localizedValue?: string };
  unit?: string;
  /** "Success", or why the service could not read this metric (it still answers 200: examples/GetMetricError.json) */
  errorCode?: string;
  errorMessage?: string;
  timeseries?: TimeSeriesElement[];
}

/** Metrics - List's answer (Response in the 2023-10-01 spec). */
export interface MetricsResponse {
  cost?: number;
  timespan?: string;
  interval?: string;
  namespace?: string;
  resourceregion?: string;
  value: Metric[];
}

const MINUTE = 60_000;

/**
 * `start/end` in ISO 8601, widened to whole minutes (at least one): the metrics come in PT1M grains, and a span
 * shorter than its interval has no grain to answer with.
 */
export function metricsTimespan(startMs: number, nowMs: number): string {
  const from = Math.floor(startMs / MINUTE) * MINUTE;
  const to = Math.max(from + MINUTE, Math.ceil(nowMs / MINUTE) * MINUTE);
  const iso = (ms: number) => new Date(ms).toISOString().replace(/\.000Z$/, "Z");
  return `${iso(from)}/${iso(to)}`;
}

/**
 * The answers that count against a deployment: the platform's 5xx, and the two its model causes, 424 (the model
 * container answered non-200) and 408 (the model ran past request_timeout_ms). A model that raises is a 4xx to
 * clients, so the status class alone never shows it.
 */
// "408 Request timeout … 424 Model error … 500 Internal server error" (learn.microsoft.com azure/machine-learning/how-to-troubleshoot-online-endpoints, HTTP status codes)
export const MODEL_ERROR_CODES: readonly string[] = ["408", "424"];

/** Series a Metrics - List query returns at most: the service's default `top` is 10, too few for every status code. */
// "top: The maximum number of records to retrieve. Valid only if $filter is specified. Defaults to 10." (azure-rest-api-specs monitor 2023-10-01 metrics_API.json)
export const MAX_SERIES = 50;

/** The query of Metrics - List for one deployment's requests (split by status code) or its p95 latency. */
export function metricsQuery(
  which: "requests" | "latency",
  dep: string,
  timespan: string,
): Record<string, string> {
  // OData string literals double their single quotes
  const d = dep.replace(/'/g, "''");
  const common = { "api-version": MONITOR_API_VERSION, timespan, interval: "PT1M" };
  return which === "requests"
    ? {
        ...common,
        metricnames: "RequestsPerMinute",
        // Average is RequestsPerMinute's only aggregation; at PT1M a minute's average rate is its count.
        // "`RequestsPerMinute` |Count |Average |deployment, statusCode, statusCodeClass, modelStatusCode" (MicrosoftDocs/azure-reference-other azure-monitor-ref/supported-metrics/includes/Microsoft-MachineLearningServices-workspaces-onlineEndpoints-metrics-include.md)
        aggregation: "Average",
        // `<dimension> eq '*'` splits the answer into one series per value (metrics_API.json, $filter)
        $filter: `deployment eq '${d}' and statusCode eq '*'`,
        top: String(MAX_SERIES),
      }
    : {
        ...common,
        metricnames: "RequestLatency_P95",
        aggregation: "Average",
        $filter: `deployment eq '${d}'`,
      };
}

/** The value of a dimension on a series, by name (case-insensitive, as Monitor matches them). */
function dimension(series: TimeSeriesElement, name: string): string | undefined {
  return series.metadatavalues?.find((m) => m.name.value.toLowerCase() === name.toLowerCase())?.value;
}

/**
 * The series of `metric` that belong to `dep` (a series without the dimension is the filtered one). A metric the
 * service could not read is an error, not an empty window: it answers 200 with the metric's own errorCode
 * (azure-rest-api-specs monitor 2023-10-01 examples/GetMetricError.json).
 */
function seriesOf(res: MetricsResponse, metric: string, dep: string): TimeSeriesElement[] {
  const m = res.value.find((v) => v.name.value.toLowerCase() === metric.toLowerCase());
  if (m?.errorCode && m.errorCode !== "Success") {
    throw new Error(
      `Azure Monitor could not read ${metric}: ${m.errorCode}: ${m.errorMessage ?? "no message"}`,
    );
  }
  return (m?.timeseries ?? []).filter((s) => (dimension(s, "deployment") ?? dep) === dep);
}

/** Whether a RequestsPerMinute series counts as errors: by its statusCode, else (split by class only) 5xx. */
function isErrorSeries(s: TimeSeriesElement): boolean {
  const code = dimension(s, "statusCode");
  if (code !== undefined) return /^5\d\d$/.test(code) || MODEL_ERROR_CODES.includes(code);
  return /^5/.test(dimension(s, "statusCodeClass") ?? "");
}

/**
 * Requests and errors (5xx, 424, 408) of `dep` from a RequestsPerMinute answer split by statusCode: the sum of
 * the per-minute averages; a point without a value is a minute without requests.
 */
export function requestCounts(res: MetricsResponse, dep: string): { requests: number; errors: number } {
  let requests = 0;
  let errors = 0;
  for (const s of seriesOf(res, "RequestsPerMinute", dep)) {
    const n = (s.data ?? []).reduce((sum, p) => sum + (p.average ?? 0), 0);
    requests += n;
    if (isErrorSeries(s)) errors += n;
  }
  return { requests, errors };
}

/** The worst minute's p95 latency of `dep` in ms, or null when no minute has a value yet. */
export function p95Of(res: MetricsResponse, dep: string): number | null {
  const values = seriesOf(res, "RequestLatency_P95", dep)
    .flatMap((s) => s.data ?? [])
    .map((p) => p.average ?? p.maximum)
    .filter((v): v is number => typeof v === "number");
  return values.length ? Math.max(...values) : null;
}

export interface DeploymentMetrics {
  requests: number;
  errors: number;
  p95Ms: number | null;
}

/** Reads `dep`'s requests, errors and p95 over the timespan from the endpoint's metrics (two Metrics - List calls). */
export async function readDeploymentMetrics(
  arm: ArmClient,
  endpointId: string,
  dep: string,
  timespan: string,
): Promise<DeploymentMetrics> {
  const path = `${endpointId}/providers/Microsoft.Insights/metrics`;
  const get = async (which: "requests" | "latency") =>
    jsonOf<MetricsResponse>(await arm.send("GET", path, { query: metricsQuery(which, dep, timespan) }));
  const counts = requestCounts(await get("requests"), dep);
  return { ...counts, p95Ms: p95Of(await get("latency"), dep) };
}

/** What the watch has seen so far: the metrics' window plus its own sample calls (the result's figures). */
export type WatchFigures = Omit<RolloutWatch, "minutes">;

export interface WatchLimits {
  maxErrorRate: number;
  maxP95Ms: number;
  /** the error rate is judged from this many requests on (a single early error is not a 100 % error rate) */
  minRequests: number;
}

/**
 * The figures from the latest metrics read and the sample calls so far. A sample call reaches the deployment too,
 * so once the metrics catch up it is counted twice: that moves the rate by little, and a failed one stops the
 * watch by itself anyway.
 */
export function watchFigures(
  m: DeploymentMetrics,
  sampleCalls: number,
  sampleFailures: number,
): WatchFigures {
  const requests = m.requests + sampleCalls;
  const errors = m.errors + sampleFailures;
  return {
    requests,
    errors,
    errorRate: requests ? errors / requests : 0,
    p95Ms: m.p95Ms,
    sampleCalls,
    sampleFailures,
  };
}

const pct = (x: number) => `${(x * 100).toFixed(2)} %`;
/** ms with at most one decimal: 500.4 is above 500 and must read so */
const ms = (x: number) => `${Math.round(x * 10) / 10} ms`;

/** Why the figures break the limits (naming the limit's flag and the figures), or undefined within them. */
export function breachOf(f: WatchFigures, l: WatchLimits): string | undefined {
  if (f.sampleFailures > 0) return `${f.sampleFailures} of ${f.sampleCalls} sample calls failed`;
  if (f.requests >= l.minRequests && f.errorRate > l.maxErrorRate) {
    return (
      `error rate ${pct(f.errorRate)} (${f.errors} errors in ${f.requests} requests) is above ` +
      `--max-error-rate ${pct(l.maxErrorRate)}`
    );
  }
  if (f.p95Ms !== null && f.p95Ms > l.maxP95Ms) {
    return `p95 latency ${ms(f.p95Ms)} is above --max-p95-ms ${ms(l.maxP95Ms)}`;
  }
  return undefined;
}

/** One line of figures for the log and for messages. */
export function formatFigures(f: WatchFigures, minRequests: number): string {
  const rate =
    f.requests >= minRequests ? pct(f.errorRate) : `${pct(f.errorRate)}, not judged below ${minRequests}`;
  const p95 = f.p95Ms === null ? "no data yet" : ms(f.p95Ms);
  return (
    `requests ${f.requests} (errors ${f.errors}, error rate ${rate}), p95 ${p95}, ` +
    `sample calls ${f.sampleCalls - f.sampleFailures}/${f.sampleCalls} ok`
  );
}
