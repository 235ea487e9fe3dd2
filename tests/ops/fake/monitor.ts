/**
 * Azure Monitor's Metrics - List for an online endpoint on the fake ARM (`GET <endpoint>/providers/
 * Microsoft.Insights/metrics`, api-version 2023-10-01), answering in the shape of azure-rest-api-specs monitor
 * 2023-10-01 examples/GetMetric.json: RequestsPerMinute and RequestLatency_P95, filtered to one deployment and split
 * by the dimensions the `$filter` names with `eq '*'`, one PT1M point a minute of the timespan. Only the first
 * minute carries values; the later ones are points without an aggregate, as a minute the service has not yet
 * filled reads. The query is checked the way the service checks it (400 otherwise). Registered per test.
 */
import type { FakeAzure, FakeReq, FakeRes } from "./fakeAzure";

/** What a deployment served in the window: answers by HTTP status, and its p95 latency. */
export interface DeploymentFigures {
  /**
   * status → requests: a code ("200", "424") or a class ("2xx", "4xx", "5xx"), which stands for its x00 code
   * (so "5xx" is served as statusCode 500, statusCodeClass 5xx)
   */
  requests: Record<string, number>;
  p95Ms?: number;
}

const MINUTE = 60_000;
/** Metrics - List's error answer (ErrorResponse of common-types v1, the spec's `default` response). */
const bad = (message: string): FakeRes => ({ status: 400, body: { error: { code: "BadRequest", message } } });

/** Each metric's aggregations, as the supported-metrics table lists them (the rest are refused). */
// "`RequestsPerMinute` |Count |Average |deployment, statusCode, statusCodeClass, modelStatusCode" and "`RequestLatency_P95` |Milliseconds |Average |deployment" (MicrosoftDocs/azure-reference-other azure-monitor-ref/supported-metrics/includes/Microsoft-MachineLearningServices-workspaces-onlineEndpoints-metrics-include.md)
const METRICS: Record<string, { unit: string; aggregations: string[]; dimensions: string[] }> = {
  RequestsPerMinute: {
    unit: "Count",
    aggregations: ["average"],
    dimensions: ["deployment", "statusCode", "statusCodeClass", "modelStatusCode"],
  },
  RequestLatency_P95: { unit: "Milliseconds", aggregations: ["average"], dimensions: ["deployment"] },
};

/** The service's default number of series when the query gives no `top`. */
// "top: The maximum number of records to retrieve. Valid only if $filter is specified. Defaults to 10." (azure-rest-api-specs monitor 2023-10-01 metrics_API.json)
const DEFAULT_TOP = 10;

/** The minutes of `start/end` (ISO 8601), or an error text. */
function minutes(timespan: string | null): number[] | string {
  const [from, to] = (timespan ?? "").split("/").map((t) => Date.parse(t));
  if (!Number.isFinite(from) || !Number.isFinite(to) || to <= from) return `invalid timespan '${timespan}'`;
  const out: number[] = [];
  for (let t = Math.floor(from / MINUTE) * MINUTE; t < to; t += MINUTE) out.push(t);
  return out;
}

function metric(endpointId: string, name: string, unit: string, timeseries: unknown[]) {
  return {
    id: `${endpointId}/providers/Microsoft.Insights/metrics/${name}`,
    type: "Microsoft.Insights/metrics",
    name: { value: name, localizedValue: name.replace(/_/g, " ") },
    displayDescription: name,
    unit,
    timeseries,
    errorCode: "Success",
  };
}

const dim = (name: string, value: string) => ({
  name: { value: name.toLowerCase(), localizedValue: name },
  value,
});

/** One series: the first minute with `average: value`, the others without a value (not yet filled). */
function points(mins: number[], value: number | undefined) {
  return mins.map((t, i) => {
    const timeStamp = new Date(t).toISOString().replace(/\.000Z$/, "Z");
    return i === 0 && value !== undefined ? { timeStamp, average: value } : { timeStamp };
  });
}

/**
 * `deployment eq '<name>'` followed by `and <dimension> eq '*'` splits: the deployment and the split dimensions
 * (as the metric spells them), or an error text. Value filters on other dimensions are beyond this fake.
 */
function parseFilter(filter: string, dimensions: string[]): { dep: string; splits: string[] } | string {
  const m = /^deployment eq '((?:[^']|'')+)'((?: and \w+ eq '\*')*)$/.exec(filter);
  if (!m) return `$filter '${filter}': the fake understands deployment eq '<name>' [and <dimension> eq '*']…`;
  const splits: string[] = [];
  for (const [, name] of m[2].matchAll(/ and (\w+) eq '\*'/g)) {
    // ValidateDimensions defaults to true: "an error is returned for invalid filter parameters" (metrics_API.json)
    const known = dimensions.find((d) => d.toLowerCase() === name.toLowerCase());
    if (!known || known === "deployment") return `invalid dimension '${name}' in $filter`;
    splits.push(known);
  }
  return { dep: m[1].replace(/''/g, "'"), splits };
}

/** The dimensions of one answer: "5xx" → 500; a code keeps its value. */
function dimensionsOf(status: string): Record<string, string> {
  const code = /^\dxx$/i.test(status) ? `${status[0]}00` : status;
  return { statusCode: code, statusCodeClass: `${code[0]}xx` };
}

/**
 * RequestsPerMinute's series for `dep`: one per combination of the split dimensions' values, largest first (the
 * order `top` cuts by is this fake's choice: the smallest series, often the errors, go first).
 */
function requestSeries(f: DeploymentFigures, dep: string, splits: string[]) {
  const byKey = new Map<string, { values: string[]; n: number }>();
  for (const [status, n] of Object.entries(f.requests)) {
    const dims = dimensionsOf(status);
    const values = splits.map((s) => dims[s]);
    const key = values.join("|");
    byKey.set(key, { values, n: (byKey.get(key)?.n ?? 0) + n });
  }
  return [...byKey.values()]
    .sort((a, b) => b.n - a.n)
    .map(({ values, n }) => ({
      metadatavalues: [dim("deployment", dep), ...splits.map((s, i) => dim(s, values[i]))],
      n,
    }));
}

/** The answer to one query for `figures` (deployment → what it served), or a 400 for a query Azure refuses. */
export function metricsAnswer(
  endpointId: string,
  q: URLSearchParams,
  figures: Record<string, DeploymentFigures>,
): FakeRes {
  if (q.get("api-version") !== "2023-10-01") return bad(`api-version ${q.get("api-version")}`);
  if (q.get("interval") !== "PT1M") return bad(`interval ${q.get("interval")}`);
  const mins = minutes(q.get("timespan"));
  if (typeof mins === "string") return bad(mins);
  const name = q.get("metricnames") ?? "";
  const spec = METRICS[name];
  if (!spec)
    return bad(
      `Failed to find metric configuration for provider: Microsoft.MachineLearningServices, metric: ${name}`,
    );
  const aggregation = q.get("aggregation") ?? "";
  if (!spec.aggregations.includes(aggregation.toLowerCase()))
    return bad(`aggregation '${aggregation}' is not supported by metric ${name} (supported: Average)`);
  const filter = parseFilter(q.get("$filter") ?? "", spec.dimensions);
  if (typeof filter === "string") return bad(filter);
  if (filter.splits.includes("modelStatusCode")) return bad("(fake) no modelStatusCode split is served");
  const f = figures[filter.dep] ?? { requests: {} };
  let timeseries: unknown[];
  if (name === "RequestsPerMinute") {
    const top = Number(q.get("top") ?? DEFAULT_TOP);
    timeseries = requestSeries(f, filter.dep, filter.splits)
      .slice(0, top)
      .map(({ metadatavalues, n }) => ({ metadatavalues, data: points(mins, n) }));
  } else {
    timeseries = [{ metadatavalues: [dim("deployment", filter.dep)], data: points(mins, f.p95Ms) }];
  }
  return {
    status: 200,
    body: {
      cost: mins.length,
      timespan: q.get("timespan"),
      interval: "PT1M",
      value: [metric(endpointId, name, spec.unit, timeseries)],
      namespace: "Microsoft.MachineLearningServices/workspaces/onlineEndpoints",
      resourceregion: "westeurope",
    },
  };
}

/**
 * Serves the endpoint's metrics from `figures` (deployment → what it served; read at each request, so a test may
 * change it). Returns the queries received.
 */
export function installMonitor(
  fake: FakeAzure,
  endpointId: string,
  figures: Record<string, DeploymentFigures>,
): FakeReq[] {
  const queries: FakeReq[] = [];
  fake.on("GET", `${endpointId}/providers/Microsoft.Insights/metrics`, (req) => {
    queries.push(req);
    return metricsAnswer(endpointId, req.query, figures);
  });
  return queries;
}
