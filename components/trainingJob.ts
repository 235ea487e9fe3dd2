import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import * as ml from "@pulumi/azure-native/machinelearningservices";
import type * as azureInputs from "@pulumi/azure-native/types/input";
import { MlWorkspace } from "./mlWorkspace";
import { GpuCompute } from "./gpuCompute";
import { CodeAsset } from "./codeAsset";
import type { TrainingSettings } from "../lib/config/schema";
import type { WaitResult } from "../lib/contracts";
import { hashValues, shortHash } from "../lib/hashing";
import { childName, legacyAliases } from "../lib/children";
import { TSX, parseJsonLine } from "../lib/steps";

export interface Hyperparameters {
  readonly epochs: number;
  readonly batchSize: number;
  readonly learningRate: number;
  readonly seed: number;
}

export interface TrainingJobArgs extends TrainingSettings {
  readonly workspace: MlWorkspace;
  /** The cluster the job runs on. */
  readonly compute: GpuCompute;
  /** training/ as a code asset. */
  readonly code: CodeAsset;
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
  /** The job's actual name. */
  readonly jobName: pulumi.Output<string>;
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
      environmentId: args.environment,
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
      childName(name, this.hash),
      {
        resourceGroupName: ws.resourceGroupName,
        workspaceName: ws.workspaceName,
        properties: {
          jobType: "Command",
          displayName: args.displayName,
          experimentName: args.experimentName,
          description: `Keras CNN on MNIST; run hash ${this.hash}`,
          codeId: args.code.codeId,
          environmentId: args.environment,
          computeId: args.compute.computeId,
          command: cmd,
          inputs: jobInputs,
          outputs: JOB_OUTPUTS,
          limits: { jobLimitsType: "Command", timeout: `PT${args.timeoutMinutes}M` },
          identity: JOB_IDENTITY,
          tags: { ...ws.tags, runHash: this.hash },
        },
      },
      // Immutable in Azure and history once run: never updated in place, never deleted by Pulumi (it goes with the
      // workspace).
      ws.childOptions(this, {
        retainOnDelete: true,
        ignoreChanges: ["properties"],
        aliases: legacyAliases(name, "training", `train-${this.hash}`),
      }),
    );
    this.jobName = this.job.name;

    // The job limit counts running time; the wait also covers queueing, node start and the image pull.
    const waitMinutes = args.timeoutMinutes + args.stuckTimeoutMinutes;
    // Polls the job; exits non-zero (failing `pulumi up`) unless it completes with enough test accuracy.
    const wait = new command.local.Command(
      childName(name, "wait"),
      {
        create: pulumi.interpolate`${TSX} ops/wait-for-job.ts --job-id ${this.job.id} --min-accuracy ${args.minTestAccuracy} --stuck-timeout-minutes ${args.stuckTimeoutMinutes} --timeout-minutes ${waitMinutes}`,
        logging: "stderr",
        triggers: [this.job.id],
      },
      { parent: this, dependsOn: [this.job], aliases: legacyAliases(name, "training", "wait") },
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
      testAccuracy: this.testAccuracy,
      studioUrl: this.studioUrl,
    });
  }
}
