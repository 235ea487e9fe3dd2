import * as fs from "fs";
import * as pulumi from "@pulumi/pulumi";
import * as ml from "@pulumi/azure-native/machinelearningservices";
import { MlWorkspace } from "./workspace";
import { hashValues, shortHash } from "./hashing";

export interface EnvironmentsArgs {
  workspace: MlWorkspace;
  /** Curated registry environment for training (pinned version). */
  trainingEnvironmentId: string;
  /** scoring/environment.yml: the conda spec of the inference image. */
  condaFilePath: string;
  /** Azure ML inference base image. */
  inferenceImage: string;
  inferenceEnvironmentName: string;
  tags: Record<string, string>;
}

/** Version of the inference environment: a hash of everything that defines the image. */
export function inferenceEnvironmentVersion(image: string, condaText: string): string {
  return shortHash(hashValues({ image, conda: condaText }), 16);
}

/**
 * Training uses a pinned curated environment by id (no build); inference is an EnvironmentVersion built from
 * scoring/'s conda spec on an inference base image, versioned by content (a changed spec = a new version).
 */
export class Environments extends pulumi.ComponentResource {
  readonly trainingEnvironmentId: string;
  readonly inference: ml.EnvironmentVersion;
  readonly inferenceVersion: string;

  constructor(name: string, args: EnvironmentsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("azure-ml-mnist:index:Environments", name, {}, opts);
    const ws = args.workspace;
    this.trainingEnvironmentId = args.trainingEnvironmentId;

    if (!fs.existsSync(args.condaFilePath)) {
      throw new Error(
        `inference environment spec ${args.condaFilePath} is missing (scoring/environment.yml)`,
      );
    }
    const condaText = fs.readFileSync(args.condaFilePath, "utf8");
    this.inferenceVersion = inferenceEnvironmentVersion(args.inferenceImage, condaText);

    // The first deployment using it builds the image in the workspace registry (+10-20 min).
    this.inference = new ml.EnvironmentVersion(
      "inference",
      {
        resourceGroupName: ws.resourceGroupName,
        workspaceName: ws.workspaceName,
        name: args.inferenceEnvironmentName,
        version: this.inferenceVersion,
        properties: {
          description: "Inference image for scoring/score.py (TensorFlow CPU + Azure ML inference server)",
          image: args.inferenceImage,
          condaFile: condaText,
          osType: "Linux",
          tags: args.tags,
        },
      },
      { parent: this, dependsOn: [ws.deletionAnchor] },
    );
    this.registerOutputs({ inferenceEnvironmentId: this.inference.id });
  }
}
