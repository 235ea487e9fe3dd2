import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import type { WorkspaceRef } from "./mlWorkspace";
import type { TrainingRef } from "./trainingJob";
import type { ModelSettings } from "../lib/config/schema";
import type { AssetResult } from "../lib/core/contracts";
import { childName } from "../lib/program/children";
import { parseJsonLine, stepCommand } from "../lib/program/steps";

export interface RegisteredModelArgs extends ModelSettings {
  readonly workspace: WorkspaceRef;
  /** The training whose accepted job output becomes the model version. */
  readonly training: TrainingRef;
}

/**
 * What a deployment takes from a model: the id it names (a workspace model version's ARM id, or a registry's
 * `azureml://registries/R/models/N/versions/V`: Learn concept-online-deployment-model-specification), its name and
 * version (in the deployment's content hash), and the step that makes it exist, if any.
 */
export interface ModelRef {
  readonly modelId: pulumi.Input<string>;
  readonly modelName: string;
  readonly modelVersion: string;
  /** Done once the version exists; none for a registry version, which exists before the stack runs. */
  readonly ready?: pulumi.Resource;
}

/** The job output folder that training/app.py writes the model into (`--output-dir ${{outputs.model_dir}}`). */
const MODEL_OUTPUT = "model_dir";

/**
 * The trained model folder registered as a model version straight from the job's output (lineage kept: Studio
 * links the model to its job), once the training step has accepted the job. Its version is the run hash, so a new
 * run registers a new version; an existing one is reused. Registered by a step (ops/ensure-model.ts) that never
 * deletes a version: an azure-native ModelVersion, named explicitly, is replaced delete-before-replace, which would
 * delete the version the serving deployment came from before its successor exists (see ops/ensure-model.ts).
 * Versions stay with the workspace as history.
 */
export class RegisteredModel extends pulumi.ComponentResource implements ModelRef {
  /** Done once the version exists: what a deployment of it waits for. */
  readonly ready: pulumi.CustomResource;
  /** The model version's ARM id (what a deployment names). */
  readonly modelId: pulumi.Output<string>;
  readonly modelName: string;
  readonly modelVersion: string;

  constructor(name: string, args: RegisteredModelArgs, opts?: pulumi.ComponentResourceOptions) {
    super("azure-ml-mnist:index:RegisteredModel", name, {}, opts);
    const ws = args.workspace;
    this.modelName = args.modelName;
    this.modelVersion = args.training.hash;

    // The ModelVersion properties as the 2025-12-01 API takes them.
    const spec = pulumi.output({
      modelType: "custom_model",
      // The actual job name (a sweep's best trial), never one computed here.
      modelUri: pulumi.interpolate`azureml://jobs/${args.training.modelJobName}/outputs/${MODEL_OUTPUT}`,
      jobName: args.training.modelJobName,
      description: "Keras CNN (mnist_cnn.keras, its ONNX copy mnist_cnn.onnx, model_meta.json, metrics.json)",
      tags: {
        ...ws.tags,
        runHash: args.training.hash,
        testAccuracy: args.training.testAccuracy.apply(String),
      },
    });
    const ensure = new command.local.Command(
      childName(name, "version"),
      {
        create: stepCommand("ops/ensure-model.ts", [
          ...["--workspace-id", ws.workspaceId, "--name", args.modelName],
          ...["--version", this.modelVersion],
        ]),
        environment: { MODEL_SPEC: pulumi.jsonStringify(spec) },
        logging: "stderr",
      },
      ws.childOptions(this, { dependsOn: [args.training.accepted] }),
    );
    this.ready = ensure;
    this.modelId = ensure.stdout.apply((out) => parseJsonLine<AssetResult>(out, "ops/ensure-model.ts").id);
    this.registerOutputs({ modelId: this.modelId });
  }
}
