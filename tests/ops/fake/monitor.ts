/**
 * Azure Monitor's Metrics - List for an online endpoint on the fake ARM (`GET <endpoint>/providers/
 * Microsoft.Insights/metrics`, api-version 2023-10-01), answering in the shape of azure-rest-api-specs monitor
 * 2023-10-01 examples/GetMetric.json: RequestsPerMinute split by statusCodeClass and RequestLatency_P95, both
 * filtered to one deployment, one PT1M point a minute of the timespan. Only the first minute carries values; the
 * later ones are points without an aggregate, as a minute the service has not yet filled reads. The query is
 * checked the way the service checks it (400 otherwise). Registered per test.
 */
import type { FakeAzure, FakeReq, FakeRes } from "./fakeAzure";

/** What a deployment served in the window: answers by status class, and its p95 latency. */
export interface DeploymentFigures {
  /** statusCodeClass ("2xx", "4xx", "5xx") → requests */
  requests: Record<string, number>;
  p95Ms?: number;
}

const MINUTE = 60_000;
const bad = (message: string): FakeRes => ({ status: 400, body: { code: "BadRequest", message } });

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

const dim = (name: string, value: string) => ({ name: { value: name, localizedValue: name }, value });

/** One series: the first minute with `aggregate: value`, the others without a value (not yet filled). */
function points(mins: number[], aggregate: "total" | "average", value: number | undefined) {
  return mins.map((t, i) => {
    const timeStamp = new Date(t).toISOString().replace(/\.000Z$/, "Z");
    return i === 0 && value !== undefined ? { timeStamp, [aggregate]: value } : { timeStamp };
  });
}

/** The series of one query for `dep`, or an error text for a query the service would refuse. */
function series(q: URLSearchParams, dep: string, f: DeploymentFigures, mins: number[]): unknown[] | string {
  const name = q.get("metricnames");
  const filter = q.get("$filter") ?? "";
  if (name === "RequestsPerMinute") {
    if (q.get("aggregation") !== "Total") return `aggregation '${q.get("aggregation")}' for ${name}`;
    if (!/ and statusCodeClass eq '\*'$/.test(filter))
      return `RequestsPerMinute wants a statusCodeClass split`;
    return Object.entries(f.requests).map(([cls, n]) => ({
      metadatavalues: [dim("deployment", dep), dim("statuscodeclass", cls)],
      data: points(mins, "total", n),
    }));
  }
  if (name === "RequestLatency_P95") {
    if (q.get("aggregation") !== "Average") return `aggregation '${q.get("aggregation")}' for ${name}`;
    return [{ metadatavalues: [dim("deployment", dep)], data: points(mins, "average", f.p95Ms) }];
  }
  return `Failed to find metric configuration for provider: Microsoft.MachineLearningServices, metric: ${name}`;
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
    const q = req.query;
    if (q.get("api-version") !== "2023-10-01") return bad(`api-version ${q.get("api-version")}`);
    if (q.get("interval") !== "PT1M") return bad(`interval ${q.get("interval")}`);
    const mins = minutes(q.get("timespan"));
    if (typeof mins === "string") return bad(mins);
    const dep = /^deployment eq '((?:[^']|'')+)'/.exec(q.get("$filter") ?? "")?.[1]?.replace(/''/g, "'");
    if (!dep) return bad(`$filter '${q.get("$filter")}' names no deployment`);
    const got = series(q, dep, figures[dep] ?? { requests: {} }, mins);
    if (typeof got === "string") return bad(got);
    const name = q.get("metricnames")!;
    const unit = name === "RequestsPerMinute" ? "Count" : "Milliseconds";
    return {
      status: 200,
      body: {
        cost: mins.length,
        timespan: q.get("timespan"),
        interval: "PT1M",
        value: [metric(endpointId, name, unit, got)],
        namespace: "Microsoft.MachineLearningServices/workspaces/onlineEndpoints",
        resourceregion: "westeurope",
      },
    };
  });
  return queries;
}
