/**
 * submit-job: resolves a training run hash to a job: reuse or submit. Jobs are immutable records kept with the
 * workspace, so instead of declaring a job under a name derived from its inputs (which meets an existing job as soon
 * as earlier inputs come back), this step looks for jobs of the same run hash (a job property):
 *   - the newest Completed one is reused: no new job, no GPU time;
 *   - else one still active (queued, running, ...) is followed: a previous run started it;
 *   - else (none, or only Failed/Canceled ones) a new job is submitted under a fresh unique name
 *     `<prefix>-<hash>-<6 random [a-z0-9]>`, so no sequence of configurations can produce a name collision.
 *
 *   JOB_SPEC='<CommandJob or SweepJob properties JSON>' tsx ops/submit-job.ts --workspace-id <ARM id>
 *     --run-hash HEX12 --name-prefix PREFIX [--arm-endpoint URL]
 *
 * = `GET <ws>/jobs?jobType=<spec's jobType>&properties=runHash=<hash>&listViewType=All` (Jobs_List, pages via
 * nextLink), then `PUT <ws>/jobs/<name>` with `{"properties": JOB_SPEC}` (Jobs_CreateOrUpdate,
 * examples/Job/CommandJob/createOrUpdate.json, examples/Job/SweepJob/createOrUpdate.json).
 * stdout: {"jobName","jobId","status","reused","studioUrl"}. `resolveJob` is the same step in-process (ops/run-job.ts).
 */
import { randomInt } from "node:crypto";
import { ArmClient, armEndpointFrom, listAll } from "../lib/azure/arm";
import { usageLine, withFlags, type FlagValues } from "../lib/toolkit/args";
import { checkNameSegment, jsonObjectFromEnv } from "../lib/azureml/assets";
import { CliError, UsageError } from "../lib/toolkit/errors";
import { jsonOf } from "../lib/azure/http";
import { azWorkspaceFlags, parseWorkspaceChildId, type ParsedId } from "../lib/azureml/ids";
import { log, writeResult } from "../lib/toolkit/log";
import { runCli } from "../lib/toolkit/run";
import type { SubmitResult } from "../lib/core/contracts";

/** What names the job to resolve: ops/run-job.ts takes these too. */
export const JOB_FLAGS = {
  "workspace-id": { type: "string", required: true, placeholder: "<ARM id>" },
  "run-hash": { type: "string", required: true, placeholder: "HEX12" },
  "name-prefix": { type: "string", required: true, placeholder: "PREFIX" },
} as const;

const FLAGS = { ...JOB_FLAGS, "arm-endpoint": { type: "string", placeholder: "URL" } } as const;

const USAGE = usageLine("JOB_SPEC='<JSON>' bash scripts/env.sh tsx ops/submit-job.ts", FLAGS);

/** The job types this step submits: a single training run, or a hyperparameter sweep over the same command. */
export type JobType = "Command" | "Sweep";

/** The job's properties as the graph resolved them (azure-native's CommandJob or SweepJob input shape). */
export type JobSpec = Record<string, unknown> & { jobType: JobType; properties: { runHash: string } };

export interface SubmitOptions {
  workspace: ParsedId;
  runHash: string;
  namePrefix: string;
  spec: JobSpec;
  armEndpoint: string;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v);

/** Each of `fields` of `obj` must be a non-empty string; `where` names obj in the message. */
function requireStrings(obj: Record<string, unknown>, where: string, fields: string[]): void {
  for (const field of fields) {
    if (typeof obj[field] !== "string" || obj[field] === "")
      throw new UsageError(`${where}.${field} is required (a non-empty string)`);
  }
}

/**
 * What the service requires of a SweepJob (mfe.json 2025-12-01: objective {goal, primaryMetric}, samplingAlgorithm
 * {samplingAlgorithmType}, searchSpace, trial {command, environmentId}; the required parameters of Az PowerShell's
 * New-AzMLWorkspaceSweepJobObject), checked here so that a bad spec fails before any request.
 */
function checkSweepParts(spec: Record<string, unknown>): void {
  for (const field of ["objective", "samplingAlgorithm", "searchSpace", "trial"]) {
    if (!isObject(spec[field]))
      throw new UsageError(`JOB_SPEC.${field} is required for a Sweep job (an object)`);
  }
  if (Object.keys(spec.searchSpace as object).length === 0)
    throw new UsageError("JOB_SPEC.searchSpace must name at least one parameter");
  requireStrings(spec.objective as Record<string, unknown>, "JOB_SPEC.objective", ["primaryMetric", "goal"]);
  requireStrings(spec.samplingAlgorithm as Record<string, unknown>, "JOB_SPEC.samplingAlgorithm", [
    "samplingAlgorithmType",
  ]);
  requireStrings(spec.trial as Record<string, unknown>, "JOB_SPEC.trial", ["command", "environmentId"]);
}

/**
 * JOB_SPEC checked: a Command job (command, environmentId) or a Sweep job (its required parts) that carries this run
 * hash as its `runHash` property (what later runs look for).
 */
export function checkJobSpec(spec: Record<string, unknown>, runHash: string): JobSpec {
  if (spec.jobType === "Command") requireStrings(spec, "JOB_SPEC", ["command", "environmentId"]);
  else if (spec.jobType === "Sweep") checkSweepParts(spec);
  else
    throw new UsageError(
      `JOB_SPEC.jobType must be "Command" or "Sweep", got ${JSON.stringify(spec.jobType)}`,
    );
  const props = spec.properties as Record<string, unknown> | undefined;
  if (props?.runHash !== runHash) {
    throw new UsageError(
      `JOB_SPEC.properties.runHash must equal --run-hash ${runHash}, got ${JSON.stringify(props?.runHash)}`,
    );
  }
  return spec as JobSpec;
}

/** The flags' values (and JOB_SPEC) → options; throws UsageError. */
export function submitOptionsFrom(a: FlagValues<typeof FLAGS>): SubmitOptions {
  const runHash = a["run-hash"];
  if (!/^[0-9a-f]{12}$/.test(runHash))
    throw new UsageError(`--run-hash must be 12 hex digits, got '${runHash}'`);
  const namePrefix = checkNameSegment("name-prefix", a["name-prefix"]);
  if (namePrefix.length > 200) throw new UsageError("--name-prefix must be at most 200 characters");
  return {
    workspace: parseWorkspaceChildId(a["workspace-id"], []),
    runHash,
    namePrefix,
    spec: checkJobSpec(jsonObjectFromEnv("JOB_SPEC"), runHash),
    armEndpoint: armEndpointFrom(a["arm-endpoint"]),
  };
}

export const parseSubmitArgs = withFlags(FLAGS, submitOptionsFrom);

/** A Jobs_List item (examples/Job/CommandJob/list.json), the fields read here. */
export interface JobItem {
  id?: string;
  name: string;
  properties?: {
    status?: string;
    jobType?: string;
    properties?: Record<string, string> | null;
    isArchived?: boolean;
    /** the cluster it runs on (ARM id) */
    computeId?: string | null;
  };
  systemData?: { createdAt?: string };
}

/** Statuses from which a job can still complete (JobStatus, mfe.json; NotResponding may come back). */
export const ACTIVE_STATUSES: ReadonlySet<string> = new Set([
  "NotStarted",
  "Starting",
  "Provisioning",
  "Preparing",
  "Queued",
  "Running",
  "Finalizing",
  "NotResponding",
  "Paused",
]);

/** The listed jobs of this run hash and job type (an item that does not say its type counts as the one asked for). */
function jobsOf(items: JobItem[], runHash: string, jobType: JobType): JobItem[] {
  return items.filter(
    (j) => j.properties?.properties?.runHash === runHash && (j.properties?.jobType ?? jobType) === jobType,
  );
}

/** What to do about the jobs found: reuse a Completed one, follow an active one, or submit (undefined). */
export function chooseJob(
  items: JobItem[],
  runHash: string,
  jobType: JobType = "Command",
): { action: "reuse" | "follow"; job: JobItem } | undefined {
  // The service filters by the property and type already; filtering again keeps a wrong answer from being reused.
  const mine = jobsOf(items, runHash, jobType).sort((a, b) =>
    (b.systemData?.createdAt ?? "").localeCompare(a.systemData?.createdAt ?? ""),
  );
  const completed = mine.find((j) => j.properties?.status === "Completed");
  if (completed) return { action: "reuse", job: completed };
  const active = mine.find((j) => ACTIVE_STATUSES.has(j.properties?.status ?? ""));
  return active ? { action: "follow", job: active } : undefined;
}

const ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789";

/** `<prefix>-<hash>-<6 random [a-z0-9]>`: fresh on every submission, so it never meets an earlier job's name. */
export function newJobName(
  prefix: string,
  runHash: string,
  random: (n: number) => number = randomInt,
): string {
  const suffix = Array.from({ length: 6 }, () => ALPHABET[random(ALPHABET.length)]).join("");
  return `${prefix}-${runHash}-${suffix}`;
}

export function studioUrl(jobName: string, workspaceId: string): string {
  return `https://ml.azure.com/runs/${jobName}?wsid=${workspaceId}`;
}

/** Every job of the run hash and the spec's type, all pages, archived ones included (their names stay taken). */
async function listJobs(arm: ArmClient, o: SubmitOptions): Promise<JobItem[]> {
  const url = arm.url(`${o.workspace.workspaceId}/jobs`, {
    jobType: o.spec.jobType,
    properties: `runHash=${o.runHash}`,
    listViewType: "All",
  });
  return listAll<JobItem>(arm, url, { maxPages: 1000 });
}

/** PUT a new job under a fresh name, after checking that the name is free (never overwrite a job). */
async function submitNew(arm: ArmClient, o: SubmitOptions, cli: string): Promise<SubmitResult> {
  const jobName = newJobName(o.namePrefix, o.runHash);
  const jobId = `${o.workspace.workspaceId}/jobs/${jobName}`;
  if (await arm.tryGet(jobId)) throw new CliError(`job ${jobName} already exists; refusing to overwrite it`);
  const res = await arm.send("PUT", jobId, { body: { properties: o.spec } });
  const status = jsonOf<{ properties?: { status?: string } }>(res).properties?.status ?? "NotStarted";
  const url = studioUrl(jobName, o.workspace.workspaceId);
  log(`${cli}: submitted job ${jobName} (${status}, ${url})`);
  return { jobName, jobId, status, reused: false, studioUrl: url };
}

/**
 * List → reuse / follow / submit: the job the run hash resolves to. `cli` starts the progress lines; `arm` shares a
 * client (its token) with the caller.
 */
export async function resolveJob(
  o: SubmitOptions,
  cli = "submit-job",
  arm = new ArmClient(o.armEndpoint),
): Promise<SubmitResult> {
  const kind = o.spec.jobType === "Sweep" ? "sweep jobs" : "jobs";
  log(`${cli}: looking for ${kind} of run hash ${o.runHash} in workspace ${o.workspace.workspace}`);
  const items = await listJobs(arm, o);
  const found = chooseJob(items, o.runHash, o.spec.jobType);
  if (!found) {
    const earlier = jobsOf(items, o.runHash, o.spec.jobType);
    const seen = earlier.map((j) => `${j.name} ${j.properties?.status ?? "?"}`).join(", ");
    log(`  ${seen ? `no completed or active job (${seen})` : "no job of this run hash"}: submitting one`);
    return submitNew(arm, o, cli);
  }
  const { name } = found.job;
  const status = found.job.properties?.status ?? "Unknown";
  const url = studioUrl(name, o.workspace.workspaceId);
  if (found.action === "reuse") log(`${cli}: reusing job ${name} (Completed, ${url}): no new training`);
  else {
    log(`${cli}: following job ${name} (${status}, ${url}), which a previous run started`);
    log(
      `  to train anew instead: az ml job cancel -n ${name} ${azWorkspaceFlags(o.workspace)}, then run again`,
    );
  }
  const jobId = `${o.workspace.workspaceId}/jobs/${name}`;
  return { jobName: name, jobId, status, reused: true, studioUrl: url };
}

/** resolveJob, then the result line. */
export async function submitJob(o: SubmitOptions): Promise<void> {
  writeResult((await resolveJob(o)) satisfies SubmitResult);
}

export const cli = { name: "submit-job", usage: USAGE, parse: parseSubmitArgs, main: submitJob };

if (require.main === module) runCli(cli);
