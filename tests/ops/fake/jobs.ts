/**
 * Job routes for FakeAzure: a workspace that remembers its jobs. Jobs_List in the shape of the 2025-12-01 example
 * (examples/Job/CommandJob/list.json: `{"value":[{id,name,type,properties:{...},systemData}],"nextLink"}`), paged,
 * filtered by `jobType=` and `properties=name[=value],...` unless told to ignore them; GET and PUT
 * (Jobs_CreateOrUpdate) of one job, Command or Sweep.
 */
import type { FakeAzure, FakeReq } from "./fakeAzure";
import { WS_ID } from "./fakeAzure";

export interface FakeJob {
  name: string;
  status: string;
  /** user properties (`properties.properties`), e.g. {runHash} */
  props: Record<string, string>;
  createdAt: string;
  /** "Command" unless said otherwise (a PUT job: its spec's jobType) */
  jobType?: string;
  /** what was PUT, for jobs this fake created */
  spec?: Record<string, unknown>;
}

export interface JobStore {
  jobs: FakeJob[];
  /** list page size (forces nextLink paging) */
  pageSize: number;
  /** answer every job whatever the `jobType` and `properties` filters say (a service that ignores them) */
  ignoreFilter?: boolean;
  /** status a newly PUT job starts in */
  createdStatus?: string;
  /** the PUT requests received */
  puts: FakeReq[];
}

export function jobStore(jobs: FakeJob[] = [], pageSize = 50): JobStore {
  return { jobs, pageSize, puts: [] };
}

export const JOBS_PATH = `${WS_ID}/jobs`;

let clock = Date.parse("2026-11-26T10:00:00Z");

/** A job of the store; `createdAt` increases with every call unless given. */
export function fakeJob(name: string, status: string, runHash: string, createdAt?: string): FakeJob {
  clock += 60_000;
  return { name, status, props: { runHash }, createdAt: createdAt ?? new Date(clock).toISOString() };
}

/** A job as Jobs_List / Jobs_Get answer it. */
export function jobResource(job: FakeJob, fake: FakeAzure): Record<string, unknown> {
  const id = `${JOBS_PATH}/${job.name}`;
  return {
    id,
    name: job.name,
    type: "Microsoft.MachineLearningServices/workspaces/jobs",
    properties: {
      ...(job.spec ?? {}),
      jobType: job.jobType ?? "Command",
      status: job.status,
      displayName: job.name,
      experimentName: "mnist-cnn",
      tags: { runHash: job.props.runHash ?? "" },
      properties: job.props,
      computeId: `${WS_ID}/computes/gpu-cluster`,
      isArchived: false,
      services: {
        Studio: { jobServiceType: "Studio", endpoint: `https://ml.azure.com/runs/${job.name}?wsid=${WS_ID}` },
        Tracking: {
          jobServiceType: "Tracking",
          endpoint: `azureml://${fake.url.slice(8)}/mlflow/v1.0${WS_ID}`,
        },
      },
    },
    systemData: { createdAt: job.createdAt, createdBy: "ci", createdByType: "Application" },
  };
}

/** `properties=runHash=abc,other`: every named property present, with the value where one is given. */
export function matchesPropertyFilter(job: FakeJob, filter: string | null): boolean {
  if (!filter) return true;
  return filter.split(",").every((term) => {
    const [k, ...v] = term.split("=");
    return v.length ? job.props[k] === v.join("=") : k in job.props;
  });
}

export function installJobs(fake: FakeAzure, store: JobStore): void {
  fake.on("GET", JOBS_PATH, (req) => {
    const type = req.query.get("jobType");
    const jobs = store.jobs.filter(
      (j) =>
        store.ignoreFilter ||
        (matchesPropertyFilter(j, req.query.get("properties")) &&
          (!type || (j.jobType ?? "Command") === type)),
    );
    const start = Number(req.query.get("$skipToken") || "0");
    const page = jobs.slice(start, start + store.pageSize);
    const next = new URLSearchParams(req.query);
    next.set("$skipToken", String(start + store.pageSize));
    return {
      status: 200,
      body: {
        value: page.map((j) => jobResource(j, fake)),
        ...(start + store.pageSize < jobs.length ? { nextLink: `${fake.url}${JOBS_PATH}?${next}` } : {}),
      },
    };
  });
  fake.on("GET", new RegExp(`^${JOBS_PATH}/[^/]+$`), (req) => {
    const job = store.jobs.find((j) => `${JOBS_PATH}/${j.name}` === req.path);
    if (!job) return { status: 404, body: { error: { code: "UserError", message: "Job not found." } } };
    return { status: 200, body: jobResource(job, fake) };
  });
  fake.on("PUT", new RegExp(`^${JOBS_PATH}/[^/]+$`), (req) => {
    store.puts.push(req);
    const name = req.path.slice(JOBS_PATH.length + 1);
    const spec = (JSON.parse(req.body) as { properties: Record<string, unknown> }).properties;
    const props = (spec.properties ?? {}) as Record<string, string>;
    const jobType = typeof spec.jobType === "string" ? spec.jobType : undefined;
    const job = { ...fakeJob(name, store.createdStatus ?? "NotStarted", ""), props, spec, jobType };
    store.jobs.push(job);
    return { status: 201, body: jobResource(job, fake) };
  });
}
