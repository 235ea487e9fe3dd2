import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import * as ml from "@pulumi/azure-native/machinelearningservices";
import type * as azureInputs from "@pulumi/azure-native/types/input";
import { MlWorkspace } from "./workspace";
import { GpuCompute } from "./gpuCompute";
import { CodeAsset } from "./codeAsset";
import { hashValues, shortHash } from "./hashing";
import { TSX, parseJsonLine } from "./commands";

export interface Hyperparameters {
  epochs: number;
  batchSize: number;
  learningRate: number;
  seed: number;
}

export interface TrainingJobArgs {
  workspace: MlWorkspace;
  compute: GpuCompute;
  code: CodeAsset;
  environmentId: string;
  hyperparameters: Hyperparameters;
  /** Optional uri_folder with MNIST (npz or IDX files); without it app.py downloads MNIST through Keras. */
  dataUri?: string;
  experimentName: string;
  displayName: string;
  /** Bump to train again with otherwise unchanged inputs (e.g. after a failed run). */
  retrainNonce: string;
  timeoutMinutes: number;
  stuckTimeoutMinutes: number;
  minTestAccuracy: number;
  tags: Record<string, string>;
}

/** What the wait step prints (ops/wait-for-job.ts). */
export interface WaitResult {
  jobName: string;
  status: string;
  testAccuracy: number;
  studioUrl?: string;
  elapsedSeconds?: number;
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

/**
 * A Command job running training/app.py on the GPU cluster, and a wait step that fails `pulumi up` unless the
 * job completes with the required test accuracy. Jobs are immutable, so the run's hash is in the logical name:
 * unchanged inputs never resubmit, any change submits a new job (the old one is kept: it is history).
 */
export class TrainingJob extends pulumi.ComponentResource {
  readonly hash: string;
  readonly job: ml.Job;
  /** The job's actual (autonamed) name: Pulumi drops the `id` input that would name it. */
  readonly jobName: pulumi.Output<string>;
  readonly wait: command.local.Command;
  readonly result: pulumi.Output<WaitResult>;
  readonly testAccuracy: pulumi.Output<number>;
  readonly studioUrl: pulumi.Output<string>;

  constructor(name: string, args: TrainingJobArgs, opts?: pulumi.ComponentResourceOptions) {
    super("azure-ml-mnist:index:TrainingJob", name, {}, opts);
    const ws = args.workspace;
    const inputs = literalInputs(args.hyperparameters);
    const cmd = trainingCommand(args.dataUri !== undefined);
    this.hash = trainingJobHash({
      codeVersion: args.code.version,
      environmentId: args.environmentId,
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

    this.job = new ml.Job(
      `train-${this.hash}`,
      {
        resourceGroupName: ws.resourceGroupName,
        workspaceName: ws.workspaceName,
        properties: {
          jobType: "Command",
          displayName: args.displayName,
          experimentName: args.experimentName,
          description: `Keras CNN on MNIST; run hash ${this.hash}`,
          codeId: args.code.codeVersion.id,
          environmentId: args.environmentId,
          computeId: args.compute.compute.id,
          command: cmd,
          inputs: jobInputs,
          outputs: JOB_OUTPUTS,
          limits: { jobLimitsType: "Command", timeout: `PT${args.timeoutMinutes}M` },
          identity: JOB_IDENTITY,
          tags: { ...args.tags, runHash: this.hash },
        },
      },
      {
        parent: this,
        // Immutable in Azure and history once run: never updated in place, never deleted by Pulumi (it goes
        // with the workspace).
        retainOnDelete: true,
        ignoreChanges: ["properties"],
        dependsOn: [ws.deletionAnchor],
      },
    );
    this.jobName = this.job.name;

    // The job limit counts running time; the wait also covers queueing, node start and the image pull.
    const waitMinutes = args.timeoutMinutes + args.stuckTimeoutMinutes;
    // Polls the job; exits non-zero (failing `pulumi up`) unless it completes with enough test accuracy.
    this.wait = new command.local.Command(
      "wait",
      {
        create: pulumi.interpolate`${TSX} ops/wait-for-job.ts --job-id ${this.job.id} --min-accuracy ${args.minTestAccuracy} --stuck-timeout-minutes ${args.stuckTimeoutMinutes} --timeout-minutes ${waitMinutes}`,
        logging: "stderr",
        triggers: [this.job.id],
      },
      { parent: this, dependsOn: [this.job] },
    );
    this.result = this.wait.stdout.apply((out) => parseJsonLine<WaitResult>(out, "ops/wait-for-job.ts"));
    this.testAccuracy = this.result.apply((r) => r.testAccuracy);
    this.studioUrl = pulumi.interpolate`https://ml.azure.com/runs/${this.jobName}?wsid=${ws.workspace.id}`;

    this.registerOutputs({
      jobName: this.jobName,
      testAccuracy: this.testAccuracy,
      studioUrl: this.studioUrl,
    });
  }
}
