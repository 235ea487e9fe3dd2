import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import type * as azureInputs from "@pulumi/azure-native/types/input";
import { MlWorkspace } from "./mlWorkspace";
import { GpuCompute } from "./gpuCompute";
import { CodeAsset } from "./codeAsset";
import type { TrainingSettings } from "../lib/config/schema";
import type { SubmitResult, WaitResult } from "../lib/contracts";
import { hashValues, shortHash } from "../lib/hashing";
import { childName, legacyAliases } from "../lib/children";
import { TSX, parseJsonLine } from "../lib/steps";

export interface Hyperparameters {
  readonly epochs: number;
  readonly batchSize: number;
  readonly learningRate: number;
  readonly seed: number;
}

/** An environment a job can run in: its ARM id (or registry URI) and what identifies its content. */
export interface EnvironmentRef {
  readonly environmentId: pulumi.Input<string>;
  /** Changes whenever the environment's content does (a content-hash version, or the pinned URI itself). */
  readonly version: string;
}

export interface TrainingJobArgs extends Omit<TrainingSettings, "environment" | "image"> {
  readonly workspace: MlWorkspace;
  /** The cluster the job runs on. */
  readonly compute: GpuCompute;
  /** training/ as a code asset. */
  readonly code: CodeAsset;
  /** The environment the job runs in (built from environments/training-gpu.yml, or a curated one). */
  readonly environment: EnvironmentRef;
}

// ${{...}} are resolved by Azure ML, not by TypeScript: this is a plain string on purpose.
const BASE_COMMAND =
  "python app.py --epochs ${{inputs.epochs}} --batch-size ${{inputs.batch_size}}" +
  " --learning-rate ${{inputs.learning_rate}} --seed ${{inputs.seed}} --output-dir ${{outputs.model_dir}}";
const DATA_ARGUMENT = " --data ${{inputs.data}}";

const JOB_OUTPUTS = { model_dir: { jobOutputType: "uri_folder" as const, mode: "ReadWriteMount" } };
const JOB_IDENTITY = { identityType: "AMLToken" as const };

/** The job's command line. */
export function trainingCommand(withData: boolean): string {
  return withData ? BASE_COMMAND + DATA_ARGUMENT : BASE_COMMAND;
}

/** Job inputs as Azure ML literals (strings). */
export function literalInputs(h: Hyperparameters): Record<string, string> {
  return {
    epochs: String(h.epochs),
    batch_size: String(h.batchSize),
    learning_rate: String(h.learningRate),
    seed: String(h.seed),
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

/** The job's specification: azure-native's own CommandJob input type, so it is checked here and shown in previews. */
export type CommandJobSpec = azureInputs.machinelearningservices.CommandJobArgs;

/**
 * Training/app.py as an Azure ML command job on the GPU cluster, reused or submitted by run hash, and a wait step
 * that fails `pulumi up` unless the job completes with the required test accuracy.
 *
 * Why a step and not an `ml.Job` resource: azure-native names a job exactly as its logical name and jobs are kept
 * after delete, so returning to earlier inputs would create a job that already exists, which fails `up`. The
 * submit step (ops/submit-job.ts) looks for jobs of the same run hash (a job property): a Completed one is reused
 * (no GPU time), a running one is followed, otherwise a new job is submitted under a fresh unique name. The
 * specification stays typed (CommandJobSpec) and visible in the preview as the step's JOB_SPEC.
 */
export class TrainingJob extends pulumi.ComponentResource {
  readonly hash: string;
  /** What the submit step sends (azure-native's CommandJob shape, resolved). */
  readonly spec: pulumi.Output<CommandJobSpec>;
  /** The job the run hash resolved to (reused or new). */
  readonly jobName: pulumi.Output<string>;
  readonly jobId: pulumi.Output<string>;
  /** True when a Completed (or running) job of the same run hash was reused instead of submitting one. */
  readonly reused: pulumi.Output<boolean>;
  /** Done once the wait step has accepted the job (completed, accurate enough): what consumers of the model wait for. */
  readonly accepted: pulumi.CustomResource;
  readonly result: pulumi.Output<WaitResult>;
  readonly testAccuracy: pulumi.Output<number>;
  readonly studioUrl: pulumi.Output<string>;

  constructor(name: string, args: TrainingJobArgs, opts?: pulumi.ComponentResourceOptions) {
    super("azure-ml-mnist:index:TrainingJob", name, {}, opts);
    const ws = args.workspace;
    const inputs = literalInputs(args);
    const cmd = trainingCommand(args.dataUri !== undefined);
    this.hash = trainingJobHash({
      codeVersion: args.code.version,
      environmentId: args.environment.version,
      vmSize: args.compute.vmSize,
      lowPriority: args.compute.lowPriority,
      inputs,
      dataUri: args.dataUri,
      command: cmd,
      timeoutMinutes: args.timeoutMinutes,
      retrainNonce: args.retrainNonce,
      fixed: { outputs: JOB_OUTPUTS, identity: JOB_IDENTITY },
    });

    type JobInput =
      | azureInputs.machinelearningservices.LiteralJobInputArgs
      | azureInputs.machinelearningservices.UriFolderJobInputArgs;
    const jobInputs: Record<string, JobInput> = {};
    for (const [k, v] of Object.entries(inputs)) jobInputs[k] = { jobInputType: "literal", value: v };
    if (args.dataUri)
      jobInputs.data = { jobInputType: "uri_folder", uri: args.dataUri, mode: "ReadOnlyMount" };

    const spec: CommandJobSpec = {
      jobType: "Command",
      displayName: args.displayName,
      experimentName: args.experimentName,
      description: `Keras CNN on MNIST; run hash ${this.hash}`,
      codeId: args.code.codeId,
      environmentId: args.environment.environmentId,
      computeId: args.compute.computeId,
      command: cmd,
      inputs: jobInputs,
      outputs: JOB_OUTPUTS,
      limits: { jobLimitsType: "Command", timeout: `PT${args.timeoutMinutes}M` },
      identity: JOB_IDENTITY,
      // The run hash is a job property: the submit step finds earlier runs with `properties=runHash=<hash>`.
      properties: { runHash: this.hash },
      tags: { ...ws.tags, runHash: this.hash },
    };
    this.spec = pulumi.output(spec) as pulumi.Output<CommandJobSpec>;

    // Any change of the specification re-runs it (an update: create runs again): an unchanged run hash then finds
    // its completed job and reuses it. No delete: jobs are history and go with the workspace.
    const submit = new command.local.Command(
      childName(name, "submit"),
      {
        create: pulumi.interpolate`${TSX} ops/submit-job.ts --workspace-id ${ws.workspaceId} --run-hash ${this.hash} --name-prefix ${name}`,
        environment: { JOB_SPEC: pulumi.jsonStringify(this.spec) },
        logging: "stderr",
      },
      ws.childOptions(this, { dependsOn: [args.code.ready, args.compute.cluster] }),
    );
    const submitted = submit.stdout.apply((out) => parseJsonLine<SubmitResult>(out, "ops/submit-job.ts"));
    this.jobName = submitted.apply((r) => r.jobName);
    this.jobId = submitted.apply((r) => r.jobId);
    this.reused = submitted.apply((r) => r.reused);

    // The job limit counts running time; the wait also covers queueing, node start and the image pull.
    const waitMinutes = args.timeoutMinutes + args.stuckTimeoutMinutes;
    // Polls the job; exits non-zero (failing `pulumi up`) unless it completes with enough test accuracy.
    const wait = new command.local.Command(
      childName(name, "wait"),
      {
        create: pulumi.interpolate`${TSX} ops/wait-for-job.ts --job-id ${this.jobId} --min-accuracy ${args.minTestAccuracy} --stuck-timeout-minutes ${args.stuckTimeoutMinutes} --timeout-minutes ${waitMinutes}`,
        logging: "stderr",
      },
      { parent: this, dependsOn: [submit], aliases: legacyAliases(name, "training", "wait") },
    );
    this.accepted = wait;
    this.result = wait.stdout.apply((out) => parseJsonLine<WaitResult>(out, "ops/wait-for-job.ts"));
    // The step always gets --min-accuracy, so its result always carries the metric.
    this.testAccuracy = this.result.apply((r) => {
      if (r.testAccuracy === undefined) throw new Error("ops/wait-for-job.ts printed no testAccuracy");
      return r.testAccuracy;
    });
    this.studioUrl = pulumi.interpolate`https://ml.azure.com/runs/${this.jobName}?wsid=${ws.workspaceId}`;

    this.registerOutputs({
      jobName: this.jobName,
      reused: this.reused,
      testAccuracy: this.testAccuracy,
      studioUrl: this.studioUrl,
    });
  }
}
