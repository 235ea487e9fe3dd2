import * as pulumi from "@pulumi/pulumi";
import * as ml from "@pulumi/azure-native/machinelearningservices";
import { MlWorkspace } from "./workspace";
import { TrainingJob } from "./trainingJob";

export interface RegisteredModelArgs {
  workspace: MlWorkspace;
  training: TrainingJob;
  modelName: string;
  /** The job output folder that app.py writes the model into. */
  outputName?: string;
  tags: Record<string, string>;
}

/**
 * The trained model folder registered as a ModelVersion straight from the job's output (lineage kept: Studio
 * links the model to its job). Declared only after the wait step has accepted the job; its version is the run
 * hash, so a new run registers a new version.
 */
export class RegisteredModel extends pulumi.ComponentResource {
  readonly model: ml.ModelVersion;
  readonly modelName: string;
  readonly modelVersion: string;

  constructor(name: string, args: RegisteredModelArgs, opts?: pulumi.ComponentResourceOptions) {
    super("azure-ml-mnist:index:RegisteredModel", name, {}, opts);
    const ws = args.workspace;
    const output = args.outputName ?? "model_dir";
    this.modelName = args.modelName;
    this.modelVersion = args.training.hash;

    this.model = new ml.ModelVersion(
      "version",
      {
        resourceGroupName: ws.resourceGroupName,
        workspaceName: ws.workspaceName,
        name: args.modelName,
        version: this.modelVersion,
        properties: {
          modelType: "custom_model",
          // The actual job name (autonamed), never one computed here.
          modelUri: pulumi.interpolate`azureml://jobs/${args.training.jobName}/outputs/${output}`,
          jobName: args.training.jobName,
          description: "Keras CNN (mnist_cnn.keras + model_meta.json + metrics.json)",
          tags: { ...args.tags, runHash: args.training.hash },
        },
      },
      { parent: this, dependsOn: [args.training.wait, ws.deletionAnchor] },
    );
    this.registerOutputs({ modelId: this.model.id });
  }
}
