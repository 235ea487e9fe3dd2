import * as pulumi from "@pulumi/pulumi";
import * as ml from "@pulumi/azure-native/machinelearningservices";
import { MlWorkspace } from "./mlWorkspace";
import { TrainingJob } from "./trainingJob";
import type { ModelSettings } from "../lib/config/schema";
import { childName, legacyAliases } from "../lib/children";

export interface RegisteredModelArgs extends ModelSettings {
  readonly workspace: MlWorkspace;
  /** The training whose accepted job output becomes the model version. */
  readonly training: TrainingJob;
}

/** The job output folder that training/app.py writes the model into (`--output-dir ${{outputs.model_dir}}`). */
const MODEL_OUTPUT = "model_dir";

/**
 * The trained model folder registered as a ModelVersion straight from the job's output (lineage kept: Studio
 * links the model to its job). Declared only after the wait step has accepted the job; its version is the run
 * hash, so a new run registers a new version.
 */
export class RegisteredModel extends pulumi.ComponentResource {
  readonly model: ml.ModelVersion;
  /** The model version's ARM id (what a deployment names). */
  readonly modelId: pulumi.Output<string>;
  readonly modelName: string;
  readonly modelVersion: string;

  constructor(name: string, args: RegisteredModelArgs, opts?: pulumi.ComponentResourceOptions) {
    super("azure-ml-mnist:index:RegisteredModel", name, {}, opts);
    const ws = args.workspace;
    this.modelName = args.modelName;
    this.modelVersion = args.training.hash;

    this.model = new ml.ModelVersion(
      childName(name, "version"),
      {
        resourceGroupName: ws.resourceGroupName,
        workspaceName: ws.workspaceName,
        name: args.modelName,
        version: this.modelVersion,
        properties: {
          modelType: "custom_model",
          // The actual job name (a sweep's best trial), never one computed here.
          modelUri: pulumi.interpolate`azureml://jobs/${args.training.modelJobName}/outputs/${MODEL_OUTPUT}`,
          jobName: args.training.modelJobName,
          description:
            "Keras CNN (mnist_cnn.keras, its ONNX copy mnist_cnn.onnx, model_meta.json, metrics.json)",
          tags: { ...ws.tags, runHash: args.training.hash },
        },
      },
      ws.childOptions(this, {
        dependsOn: [args.training.accepted],
        aliases: legacyAliases(name, "model", "version"),
      }),
    );
    this.modelId = this.model.id;
    this.registerOutputs({ modelId: this.modelId });
  }
}
