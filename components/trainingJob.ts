import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import type * as azureInputs from "@pulumi/azure-native/types/input";
import type { WorkspaceRef } from "./mlWorkspace";
import type { ComputeRef } from "./gpuCompute";
import type { CodeRef } from "./codeAsset";
import type { EnvironmentRef } from "./environmentAsset";
import type { TrainingSettings } from "../lib/config/schema";
import type { RunJobResult } from "../lib/core/contracts";
import { PRIMARY_METRIC, type SweepSettings, azureSearchSpace, sweepMinutes } from "../lib/core/sweep";
import { hashValues, shortHash } from "../lib/core/hashing";
import { childName } from "../lib/program/children";
import { parseJsonLine, stepCommand } from "../lib/program/steps";

export interface Hyperparameters {
  readonly epochs: number;
  readonly batchSize: number;
  readonly learningRate: number;
  readonly seed: number;
}

export type { EnvironmentRef };

/** What a model registration takes from a training: the accepted job whose output is the model. */
export interface TrainingRef {
  /** The run hash: the model version. */
  readonly hash: string;
  /** The job whose output is the model (a sweep's best trial). */
  readonly modelJobName: pulumi.Output<string>;
  readonly testAccuracy: pulumi.Output<number>;
  /** Done once the job is accepted (completed, accurate enough). */
  readonly accepted: pulumi.Resource;
}

export interface TrainingJobArgs extends Omit<TrainingSettings, "environment" | "image"> {
  readonly workspace: WorkspaceRef;
  /** The cluster the job runs on. */
  readonly compute: ComputeRef;
  /** training/ as a code asset. */
  readonly code: CodeRef;
  /** The environment the job runs in (built from environments/training-gpu.yml, or a curated one). */
  readonly environment: EnvironmentRef;
}

// ${{...}} are resolved by Azure ML, not by TypeScript: these are plain strings on purpose.
const BASE_COMMAND =
  "python app.py --epochs ${{inputs.epochs}} --batch-size ${{inputs.batch_size}}" +
  " --learning-rate ${{inputs.learning_rate}} --seed ${{inputs.seed}} --output-dir ${{outputs.model_dir}}";
// A sweep trial takes the searched flags from the search space (the sweep job binds ${{search_space.<name>}}).
const SWEEP_COMMAND =
  "python app.py --epochs ${{inputs.epochs}} --batch-size ${{search_space.batch_size}}" +
  " --learning-rate ${{search_space.learning_rate}} --dropout ${{search_space.dropout}}" +
  " --seed ${{inputs.seed}} --output-dir ${{outputs.model_dir}}";
const DATA_ARGUMENT = " --data ${{inputs.data}}";

const JOB_OUTPUTS = { model_dir: { jobOutputType: "uri_folder" as const, mode: "ReadWriteMount" } };
// The job acts as the cluster's managed identity: the datastores are identity-based and the storage account takes no
// keys, and that identity holds the storage role (granted by the cluster step, ops/ensure-compute.ts). Learn
// reference-yaml-job-command: identity `managed` = the compute's managed identity.
const JOB_IDENTITY = { identityType: "Managed" as const };

/** The job's (or each sweep trial's) command line. */
export function trainingCommand(withData: boolean, sweep = false): string {
  const base = sweep ? SWEEP_COMMAND : BASE_COMMAND;
  return withData ? base + DATA_ARGUMENT : base;
}

/** Job inputs as Azure ML literals (strings); a sweep searches batch size and learning rate instead. */
export function literalInputs(h: Hyperparameters, sweep = false): Record<string, string> {
  const searched: Record<string, string> = sweep
    ? {}
    : { batch_size: String(h.batchSize), learning_rate: String(h.learningRate) };
  return { epochs: String(h.epochs), ...searched, seed: String(h.seed) };
}

/** Data-parallel training on several nodes: Azure ML's TensorFlow distribution sets TF_CONFIG on each worker. */
export function distributionOf(nodes: number):
  | {
      resources: azureInputs.machinelearningservices.JobResourceConfigurationArgs;
      distribution: azureInputs.machinelearningservices.TensorFlowArgs;
    }
  | undefined {
  if (nodes <= 1) return undefined;
  return {
    resources: { instanceCount: nodes },
    // One worker per node, no parameter servers (app.py uses MultiWorkerMirroredStrategy, which needs none).
    distribution: { distributionType: "TensorFlow", workerCount: nodes, parameterServerCount: 0 },
  };
}

type SamplingAlgorithmArgs = azureInputs.machinelearningservices.SweepJobArgs["samplingAlgorithm"];
const SAMPLING: Record<SweepSettings["sampling"], SamplingAlgorithmArgs> = {
  random: { samplingAlgorithmType: "Random" },
  grid: { samplingAlgorithmType: "Grid" },
  bayesian: { samplingAlgorithmType: "Bayesian" },
};

export { sweepMinutes };

/** The sweep job's own parts (azure-rest-api-specs 2025-12-01 examples/Job/SweepJob/createOrUpdate.json). */
export function sweepParts(sweep: SweepSettings, timeoutMinutes: number) {
  const earlyTermination: azureInputs.machinelearningservices.SweepJobArgs["earlyTermination"] =
    sweep.earlyTermination === "bandit"
      ? {
          policyType: "Bandit",
          slackFactor: sweep.slackFactor,
          evaluationInterval: sweep.evaluationInterval,
          delayEvaluation: sweep.delayEvaluation,
        }
      : sweep.earlyTermination === "median"
        ? {
            policyType: "MedianStopping",
            evaluationInterval: sweep.evaluationInterval,
            delayEvaluation: sweep.delayEvaluation,
          }
        : undefined;
  return {
    samplingAlgorithm: SAMPLING[sweep.sampling],
    objective: { primaryMetric: PRIMARY_METRIC, goal: "Maximize" as const },
    limits: {
      jobLimitsType: "Sweep" as const,
      maxTotalTrials: sweep.trials,
      maxConcurrentTrials: sweep.concurrency,
      trialTimeout: `PT${timeoutMinutes}M`,
      timeout: `PT${sweepMinutes(sweep, timeoutMinutes)}M`,
    },
    earlyTermination,
    searchSpace: azureSearchSpace(sweep.searchSpace),
  };
}

/**
 * The run's identity: everything that defines what gets trained. Labels (display name, experiment) are not part
 * of it: they do not change the model.
 */
export function trainingJobHash(parts: {
  codeVersion: string;
  /** The environment's content version (or its pinned URI). */
  environmentId: string;
  vmSize: string;
  lowPriority: boolean;
  inputs: Record<string, string>;
  dataUri?: string;
  command: string;
  timeoutMinutes: number;
  retrainNonce: string;
  /** Fixed parts of the definition (outputs, identity): a change in this program retrains too. */
  fixed?: unknown;
}): string {
  return shortHash(hashValues(parts), 12);
}

/** What identifies a training run: the hyperparameters and settings, and the versions of what it runs on. */
export type RunHashInputs = Omit<TrainingJobArgs, "workspace" | "compute" | "code" | "environment"> & {
  readonly codeVersion: string;
  readonly environmentVersion: string;
  readonly vmSize: string;
  readonly lowPriority: boolean;
};

/** The run hash a TrainingJob of these inputs gets: known before anything is declared (the pre-flight needs it). */
export function runHashOf(a: RunHashInputs): string {
  const sweep = a.sweep;
  return trainingJobHash({
    codeVersion: a.codeVersion,
    environmentId: a.environmentVersion,
    vmSize: a.vmSize,
    lowPriority: a.lowPriority,
    inputs: literalInputs(a, sweep !== undefined),
    dataUri: a.dataUri,
    command: trainingCommand(a.dataUri !== undefined, sweep !== undefined),
    timeoutMinutes: a.timeoutMinutes,
    retrainNonce: a.retrainNonce,
    // Absent for one node and no sweep, so single-node runs keep the hashes they always had.
    fixed: { outputs: JOB_OUTPUTS, identity: JOB_IDENTITY, parallel: distributionOf(a.nodes), sweep },
  });
}

/** The job's specification: azure-native's own input types, so it is checked here and shown in previews. */
export type CommandJobSpec = azureInputs.machinelearningservices.CommandJobArgs;
export type SweepJobSpec = azureInputs.machinelearningservices.SweepJobArgs;
export type JobSpec = CommandJobSpec | SweepJobSpec;

/** How long the first job may take to build its image (Preparing) before the wait gives up; not counted as stuck. */
export const PREPARING_MINUTES = 90;

/**
 * Training/app.py as an Azure ML command job on the GPU cluster, and one step that resolves its run hash to a job
 * and waits for it (ops/run-job.ts): a Completed job of the same run hash is reused (no GPU time), an active one is
 * followed, otherwise a new job is submitted under a fresh unique name; then the step polls it and fails `pulumi up`
 * unless it completes with the required test accuracy.
 *
 * One step, not a submit step and a wait step: a failed create leaves nothing in the state (pulumi-command: a failed
 * create is not recorded), so after a Failed or Canceled job the next `up` runs the step again, which submits a new
 * job; with two steps the submit step stayed in the state and the next `up` waited for the same failed job forever.
 * Why a step and not an `ml.Job` resource: azure-native names a job exactly as its logical name and jobs are kept
 * after delete, so returning to earlier inputs would create a job that already exists, which fails `up`. The
 * specification stays typed (CommandJobSpec) and visible in the preview as the step's JOB_SPEC.
 * Sources: pulumi/pulumi-azure-native provider/pkg/resources/resources.go (AutoName copies the logical name for
 * child resources) and its create path (refuses an existing id); azure-rest-api-specs ML 2025-12-01 mfe.json Jobs_List
 * (`properties` filter; no $filter); pulumi/pulumi-command v1.2.1 provider/pkg/provider/local (a failed create
 * returns no state).
 */
export class TrainingJob extends pulumi.ComponentResource implements TrainingRef {
  readonly hash: string;
  /** What the submit step sends (azure-native's CommandJob or SweepJob shape, resolved). */
  readonly spec: pulumi.Output<JobSpec>;
  /** The job the run hash resolved to (reused or new); for a sweep, the sweep job. */
  readonly jobName: pulumi.Output<string>;
  /** The job whose output is the model: the job itself, or the sweep's best trial. */
  readonly modelJobName: pulumi.Output<string>;
  readonly jobId: pulumi.Output<string>;
  /** True when a Completed (or running) job of the same run hash was reused instead of submitting one. */
  readonly reused: pulumi.Output<boolean>;
  /** Done once the step has accepted the job (completed, accurate enough): what consumers of the model wait for. */
  readonly accepted: pulumi.CustomResource;
  readonly result: pulumi.Output<RunJobResult>;
  readonly testAccuracy: pulumi.Output<number>;
  readonly studioUrl: pulumi.Output<string>;

  constructor(name: string, args: TrainingJobArgs, opts?: pulumi.ComponentResourceOptions) {
    super("azure-ml-mnist:index:TrainingJob", name, {}, opts);
    const ws = args.workspace;
    const sweep = args.sweep;
    const inputs = literalInputs(args, sweep !== undefined);
    const cmd = trainingCommand(args.dataUri !== undefined, sweep !== undefined);
    const parallel = distributionOf(args.nodes);
    this.hash = runHashOf({
      ...args,
      codeVersion: args.code.version,
      environmentVersion: args.environment.version,
      vmSize: args.compute.vmSize,
      lowPriority: args.compute.lowPriority,
    });

    type JobInput =
      | azureInputs.machinelearningservices.LiteralJobInputArgs
      | azureInputs.machinelearningservices.UriFolderJobInputArgs;
    const jobInputs: Record<string, JobInput> = {};
    for (const [k, v] of Object.entries(inputs)) jobInputs[k] = { jobInputType: "literal", value: v };
    if (args.dataUri)
      jobInputs.data = { jobInputType: "uri_folder", uri: args.dataUri, mode: "ReadOnlyMount" };

    const common = {
      displayName: args.displayName,
      experimentName: args.experimentName,
      description: `Keras CNN on MNIST; run hash ${this.hash}`,
      computeId: args.compute.computeId,
      inputs: jobInputs,
      outputs: JOB_OUTPUTS,
      identity: JOB_IDENTITY,
      // The run hash is a job property: the submit step finds earlier runs with `properties=runHash=<hash>`.
      properties: { runHash: this.hash },
      tags: { ...ws.tags, runHash: this.hash },
    };
    const spec: JobSpec = sweep
      ? {
          jobType: "Sweep",
          ...common,
          ...sweepParts(sweep, args.timeoutMinutes),
          trial: {
            command: cmd,
            codeId: args.code.codeId,
            environmentId: args.environment.environmentId,
            ...parallel,
          },
        }
      : {
          jobType: "Command",
          ...common,
          codeId: args.code.codeId,
          environmentId: args.environment.environmentId,
          command: cmd,
          limits: { jobLimitsType: "Command", timeout: `PT${args.timeoutMinutes}M` },
          ...parallel,
        };
    this.spec = pulumi.output(spec) as pulumi.Output<JobSpec>;

    // The job limit counts running time; the wait also covers the image build (Preparing), queueing and node start
    // (a sweep: its own limit, every trial's limit `concurrency` at a time).
    const runMinutes = sweep ? sweepMinutes(sweep, args.timeoutMinutes) : args.timeoutMinutes;
    const waitMinutes = runMinutes + args.stuckTimeoutMinutes + PREPARING_MINUTES;
    // Any change of the specification re-runs it (an update: create runs again): an unchanged run hash then finds
    // its completed job and reuses it. No delete: jobs are history and go with the workspace (the cluster's delete
    // step cancels a job still running on `destroy`).
    const run = new command.local.Command(
      childName(name, "run"),
      {
        create: stepCommand("ops/run-job.ts", [
          ...["--workspace-id", ws.workspaceId, "--run-hash", this.hash, "--name-prefix", name],
          ...["--min-accuracy", String(args.minTestAccuracy)],
          ...["--stuck-timeout-minutes", String(args.stuckTimeoutMinutes)],
          ...["--preparing-timeout-minutes", String(PREPARING_MINUTES)],
          ...["--timeout-minutes", String(waitMinutes)],
        ]),
        environment: { JOB_SPEC: pulumi.jsonStringify(this.spec) },
        logging: "stderr",
      },
      ws.childOptions(this, {
        dependsOn: [
          args.code.ready,
          args.compute.ready,
          ...(args.environment.ready ? [args.environment.ready] : []),
        ],
      }),
    );
    this.accepted = run;
    this.result = run.stdout.apply((out) => parseJsonLine<RunJobResult>(out, "ops/run-job.ts"));
    this.jobName = this.result.apply((r) => r.jobName);
    this.jobId = this.result.apply((r) => r.jobId);
    this.reused = this.result.apply((r) => r.reused);
    // The step always gets --min-accuracy, so its result always carries the metric.
    this.testAccuracy = this.result.apply((r) => {
      if (r.testAccuracy === undefined) throw new Error("ops/run-job.ts printed no testAccuracy");
      return r.testAccuracy;
    });
    this.modelJobName = this.result.apply((r) => r.bestTrial ?? r.jobName);
    this.studioUrl = pulumi.interpolate`https://ml.azure.com/runs/${this.jobName}?wsid=${ws.workspaceId}`;

    this.registerOutputs({
      jobName: this.jobName,
      reused: this.reused,
      testAccuracy: this.testAccuracy,
      studioUrl: this.studioUrl,
    });
  }
}
