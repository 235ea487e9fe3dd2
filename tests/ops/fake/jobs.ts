/**
 * Job routes for FakeAzure: a workspace that remembers its jobs. Jobs_List in the shape of the 2025-12-01 example
 * (examples/Job/CommandJob/list.json: `{"value":[{id,name,type,properties:{...},systemData}],"nextLink"}`), paged,
 * filtered by `jobType=` and `properties=name[=value],...` unless told to ignore them; GET and PUT
 * (Jobs_CreateOrUpdate) of one job, Command or Sweep, each GET moving a job on through the statuses it is given;
 * Jobs_Cancel (`POST <job>/cancel`: 202 with a Location answering 202 once, then 200; mfe.json 2025-12-01
 * "final-state-via": "location"), after which the job reads CancelRequested, then Canceled.
 */
import type { FakeAzure, FakeReq } from "./fakeAzure";
import { SUB, WS_ID } from "./fakeAzure";
import { JOB_BASE, check } from "./schemas";

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
  /** the statuses it moves through, one per GET of the job (each GET takes the next; the last stays) */
  next?: string[];
  /** the cluster it runs on (ARM id); default `<ws>/computes/gpu-cluster` */
  computeId?: string;
}

export interface JobStore {
  jobs: FakeJob[];
  /** list page size (forces nextLink paging) */
  pageSize: number;
  /** answer every job whatever the `jobType` and `properties` filters say (a service that ignores them) */
  ignoreFilter?: boolean;
  /** status a newly PUT job starts in */
  createdStatus?: string;
  /** the statuses a newly PUT job moves through on its GETs (see FakeJob.next) */
  createdNext?: string[];
  /** the PUT requests received */
  puts: FakeReq[];
  /** the names of the jobs a cancel was accepted for, in order */
  cancels: string[];
  /** jobs whose cancel the service refuses (400) */
  refuseCancel?: string[];
}

export function jobStore(jobs: FakeJob[] = [], pageSize = 50): JobStore {
  return { jobs, pageSize, puts: [], cancels: [] };
}

export const JOBS_PATH = `${WS_ID}/jobs`;
/** Where the fake's Jobs_Cancel operations are polled (a Location below the provider's region). */
export const CANCEL_OPS = `/subscriptions/${SUB}/providers/Microsoft.MachineLearningServices/locations/eastus/mfeOperationResults`;

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
      computeId: job.computeId ?? `${WS_ID}/computes/gpu-cluster`,
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
    if (job.next?.length) job.status = job.next.shift()!;
    return { status: 200, body: jobResource(job, fake) };
  });
  fake.on("POST", new RegExp(`^${JOBS_PATH}/[^/]+/cancel$`), (req) => {
    const name = req.path.slice(JOBS_PATH.length + 1, -"/cancel".length);
    const job = store.jobs.find((j) => j.name === name);
    if (!job) return { status: 404, body: { error: { code: "UserError", message: "Job not found." } } };
    if (store.refuseCancel?.includes(name)) {
      return {
        status: 400,
        body: { error: { code: "UserError", message: `Job ${name} cannot be canceled in its state.` } },
      };
    }
    store.cancels.push(name);
    job.status = "CancelRequested";
    job.next = ["Canceled"];
    return {
      status: 202,
      headers: {
        location: `${fake.url}${CANCEL_OPS}/jc-${name}?api-version=2025-12-01`,
        "retry-after": "10",
      },
    };
  });
  // the cancel's operation: still running on its first read, done (200) after
  const polled = new Set<string>();
  fake.on("GET", new RegExp(`^${CANCEL_OPS}/[^/]+$`), (req) => {
    if (polled.has(req.path)) return { status: 200 };
    polled.add(req.path);
    return { status: 202, headers: { location: `${fake.url}${req.path}?api-version=2025-12-01` } };
  });
  fake.on("PUT", new RegExp(`^${JOBS_PATH}/[^/]+$`), (req) => {
    store.puts.push(req);
    // the body as Jobs_CreateOrUpdate takes it: a CommandJob or SweepJob of 2025-12-01 (schemas.ts)
    const refused = check(JOB_BASE, JSON.parse(req.body));
    if (refused) return refused;
    const name = req.path.slice(JOBS_PATH.length + 1);
    const spec = (JSON.parse(req.body) as { properties: Record<string, unknown> }).properties;
    const props = (spec.properties ?? {}) as Record<string, string>;
    const jobType = typeof spec.jobType === "string" ? spec.jobType : undefined;
    const job = {
      ...fakeJob(name, store.createdStatus ?? "NotStarted", ""),
      props,
      spec,
      jobType,
      next: [...(store.createdNext ?? [])],
    };
    store.jobs.push(job);
    return { status: 201, body: jobResource(job, fake) };
  });
}
