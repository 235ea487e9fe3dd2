// The one JSON line each CLI the graph runs prints on stdout: the CLIs write these shapes (`satisfies`) and the
// components parse them, both from this file, so the two cannot drift apart. A failed run prints
// `{"error": "...", ...what is known}` instead.
import type { CostEstimate } from "./cost";

/** A sweep's trial as ops/wait-for-job.ts reports it. */
export interface TrialResult {
  /** the trial's job (and MLflow run) name */
  name: string;
  /** Completed, Failed, Canceled (early termination too), Running, Queued */
  status: string;
  /** the sweep's primary metric (val_accuracy), when the trial logged it */
  metric?: number;
}

/** What ops/wait-for-job.ts prints when the job is accepted. */
export interface WaitResult {
  /** the job waited for; for a sweep, the sweep job itself */
  jobName: string;
  status: string;
  /**
   * The job's `--metric` (default test_accuracy); for a sweep, its best trial's. Always there when `--min-accuracy`
   * is given (the graph always gives it); absent only without it, when the job logged no such metric.
   */
  testAccuracy?: number;
  studioUrl?: string;
  elapsedSeconds?: number;
  /** A sweep: the trial whose output becomes the model (the gate applied to its test_accuracy). */
  bestTrial?: string;
  /** A sweep: every trial listed, in MLflow's order, with its state when the wait ended. */
  trials?: TrialResult[];
}

/** What the invocation client (ops/invoke.ts `--json`) prints once it has the endpoint's answer. */
export interface SampleResult {
  total: number;
  /**
   * `correct` and `accuracy` need expected labels: without them (predictions only, `--min-accuracy 0`) they are
   * absent. The graph always passes labels.
   */
  correct?: number;
  accuracy?: number;
  latencyMs: number;
  passed: boolean;
}

/** What ops/set-traffic.ts prints. */
export interface TrafficResult {
  endpoint: string;
  /** the endpoint's traffic split after the step (deployment → percent) */
  traffic: Record<string, number>;
  changed: boolean;
}

/** What ops/purge-workspace.ts prints; `purged: false` when the workspace was already gone. */
export interface PurgeResult {
  workspace: string;
  purged: boolean;
}

/** What ops/submit-job.ts prints: the job the run hash resolved to. */
export interface SubmitResult {
  jobName: string;
  /** the job's ARM id */
  jobId: string;
  /** the job's status when the step looked (Completed when reused) */
  status: string;
  /** true when an existing job of the same run hash was reused (Completed) or followed (still running) */
  reused: boolean;
  studioUrl?: string;
}

/** What ops/ensure-code.ts and ops/ensure-environment.ts print. */
export interface AssetResult {
  /** the asset version's ARM id */
  id: string;
  name: string;
  version: string;
  /** true when the version already existed (nothing uploaded or registered) */
  reused: boolean;
  /** files uploaded (code assets) */
  uploaded?: number;
}

/** What ops/delete-compute.ts prints; `deleted: false` when the cluster was already gone. */
export interface ComputeRemovalResult {
  compute: string;
  deleted: boolean;
  /** with --owner: the owner's other clusters deleted too */
  others?: string[];
}

/** What ops/preflight.ts prints when the stack fits the subscription (quota and resource providers). */
export interface PreflightResult {
  ok: true;
  location: string;
  /** what the stack asks of Azure ML's quota in the region, in vCPUs */
  needs: {
    /**
     * the GPU cluster at gpuMaxNodes: its family's dedicated vCPUs, or the regional low-priority vCPUs; absent when
     * the stack never trains (--no-training, modelSource registry: no cluster)
     */
    gpu?: { vmSize: string; family: string; vCPUs: number; lowPriority: boolean };
    /** a new deployment's ceil(1.2 × instanceCount) × vCPUs of its family; 0 when it already exists */
    deployment: { instanceType: string; family: string; vCPUs: number };
  };
  /** the stack already runs a deployment of this name: the rollout places nothing new */
  deploymentExists: boolean;
  /** what the stack costs, from the region's estimated VM prices (lib/core/cost.ts) */
  cost: CostEstimate;
}

/** What ops/preflight.ts prints (exit 1) when the stack does not fit: every problem, as on stderr. */
export interface PreflightFailure {
  error: string;
  location: string;
  /** one line each, naming family, need, limit and how to get more (or the command that registers a provider) */
  problems: string[];
  /** the estimate, when the prices could be read (a maxHourlyCost refusal carries it) */
  cost?: CostEstimate;
}

/** What ops/smoke-test.ts prints when the new deployment, called directly, answers the sample digits right. */
export interface SmokeResult extends SampleResult {
  /** the deployment called (with the `azureml-model-deployment` header, at whatever share of traffic it has) */
  deployment: string;
}

/** What ops/smoke-test.ts prints (exit 1) when the check fails: what is known of the call, and why. */
export interface SmokeFailure extends Partial<SampleResult> {
  error: string;
  deployment: string;
  passed: false;
}

/** What the canary/mirror watch of ops/rollout.ts saw of the new deployment. */
export interface RolloutWatch {
  /** how long it watched */
  minutes: number;
  /** requests in the deployment's metrics over the watch, plus the sample calls */
  requests: number;
  /** 5xx answers in the metrics, plus the failed sample calls */
  errors: number;
  errorRate: number;
  /** the worst minute's p95 latency in the metrics (ms); null when none arrived (metrics lag minutes) */
  p95Ms: number | null;
  sampleCalls: number;
  sampleFailures: number;
}

/** What ops/rollout.ts prints; on failure (exit 1) the same fields plus `error` (see RolloutFailure). */
export interface RolloutResult {
  endpoint: string;
  deployment: string;
  /** the mode applied: `direct` also when canary/mirror was asked for but nothing served yet */
  mode: "direct" | "canary" | "mirror";
  /** the deployment(s) that served before, comma-separated; absent on a first deployment */
  previous?: string;
  /** the endpoint's traffic split after the step (deployment → percent) */
  traffic: Record<string, number>;
  /** the endpoint's mirror split after the step, for canary and mirror */
  mirrorTraffic?: Record<string, number>;
  /** canary and mirror: what the watch saw */
  watched?: RolloutWatch;
  /** true when a breach moved everything back to the previous deployment(s) */
  rolledBack: boolean;
}

/** What ops/rollout.ts prints when it fails, a breach with rollback included. */
export interface RolloutFailure extends Partial<RolloutResult> {
  error: string;
}

/** What ops/retire-deployments.ts prints. */
export interface RetireResult {
  endpoint: string;
  /** the deployment kept (`--keep`) */
  kept: string;
  /** deployments deleted (they held no live and no mirrored traffic) */
  deleted: string[];
  /** deployments left in place because they still hold live or mirrored traffic */
  skipped: string[];
}

/**
 * What ops/run-job.ts prints: the wait's result for the job the run hash resolved to (reused, followed or
 * submitted), plus how it was resolved. On failure the same fields that are known, plus `error`.
 */
export interface RunJobResult extends WaitResult {
  /** the job's ARM id */
  jobId: string;
  /** true when an existing job of the run hash was reused (Completed) or followed (still active) */
  reused: boolean;
  /** the job's status when the step resolved the run hash (Completed when reused; usually NotStarted when submitted) */
  submitStatus: string;
}

/** ops/ensure-deployment.ts: the deployment, reused (it existed) or created, once Succeeded. */
export interface DeploymentResult {
  id: string;
  name: string;
  endpoint: string;
  provisioningState: string;
  /** true when a deployment of this name already existed (followed or reused) */
  reused: boolean;
  /** the endpoint's other deployments retired because nothing needed them (no traffic, not serving) */
  retired?: string[];
}

/** ops/ensure-endpoint.ts: the endpoint as it reads once its own inputs are in place (traffic untouched). */
export interface EndpointResult {
  id: string;
  name: string;
  scoringUri: string;
  swaggerUri: string;
  authMode: string;
  /** created by this run; `updated`: its inputs were written (with the live traffic) */
  created: boolean;
  updated: boolean;
}

/** ops/ensure-endpoint.ts --delete. */
export interface EndpointRemovalResult {
  name: string;
  deleted: boolean;
}

/** ops/ensure-compute.ts: the cluster once Succeeded, and the owner's undeclared clusters it removed. */
export interface ComputeResult {
  id: string;
  name: string;
  vmSize: string;
  /** the cluster's system-assigned identity (what the storage role is granted to) */
  principalId: string;
  created: boolean;
  updated: boolean;
  retired: string[];
}

/**
 * What ops/promote-model.ts prints: the champion/challenger gate's outcome and the registry version. Refused by the
 * gate (exit 1): the same fields with `promoted: false`, `margin` and `error`.
 */
export interface PromotionResult {
  /** true when the version is now the registry's champion (promoted, or already it) */
  promoted: boolean;
  /** true when the registry version already existed (nothing uploaded or registered) */
  reused: boolean;
  /** the registry's name */
  registry: string;
  name: string;
  version: string;
  /** `azureml://registries/<registry>/models/<name>/versions/<version>`, what a deployment's `model` takes */
  registryModelId: string;
  /** the challenger's test accuracy (the workspace version's `testAccuracy` tag) */
  challengerAccuracy: number;
  /** the champion before this step; absent when the registry had none for this model */
  championVersion?: string;
  championAccuracy?: number;
  /** the gain over the champion the challenger had to reach (`--min-gain`, may be negative) */
  minGain: number;
}
