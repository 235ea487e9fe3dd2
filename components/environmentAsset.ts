import * as fs from "fs";
import * as pulumi from "@pulumi/pulumi";
import * as ml from "@pulumi/azure-native/machinelearningservices";
import { MlWorkspace } from "./mlWorkspace";
import { hashValues, shortHash } from "../lib/hashing";
import { childName } from "../lib/children";

export interface EnvironmentAssetArgs {
  readonly workspace: MlWorkspace;
  /** Environment (container) name in the workspace. */
  readonly environmentName: string;
  /** Base image the conda environment is built on (a tag or digest). */
  readonly image: string;
  /** Path of the conda spec (YAML) the image is built from. */
  readonly condaFile: string;
  readonly description: string;
}

/** Version of an environment: a hash of everything that defines the image. */
export function environmentVersion(image: string, condaText: string): string {
  return shortHash(hashValues({ image, conda: condaText }), 16);
}

const TYPE = "azure-ml-mnist:index:EnvironmentAsset";
// Before it became reusable this component was `Environments` ("environments"), holding only the inference
// environment as its child "inference".
const LEGACY_TYPE = "azure-ml-mnist:index:Environments";
const LEGACY = { component: "inference-env", name: "environments", child: "inference" };

/**
 * An environment version built from a conda spec on a base image, versioned by content: a changed spec or image is
 * a new version, never an update. The first job or deployment using it builds the image in the workspace registry.
 */
export class EnvironmentAsset extends pulumi.ComponentResource {
  readonly version: string;
  readonly environment: ml.EnvironmentVersion;
  /** The environment version's ARM id (what jobs and deployments name). */
  readonly environmentId: pulumi.Output<string>;

  constructor(name: string, args: EnvironmentAssetArgs, opts?: pulumi.ComponentResourceOptions) {
    const legacy = name === LEGACY.component;
    super(
      TYPE,
      name,
      {},
      {
        ...opts,
        aliases: [...(opts?.aliases ?? []), ...(legacy ? [{ name: LEGACY.name, type: LEGACY_TYPE }] : [])],
      },
    );
    const ws = args.workspace;
    if (!fs.existsSync(args.condaFile)) throw new Error(`environment spec ${args.condaFile} is missing`);
    const condaText = fs.readFileSync(args.condaFile, "utf8");
    this.version = environmentVersion(args.image, condaText);

    const legacyUrn = pulumi.createUrn(
      LEGACY.child,
      "azure-native:machinelearningservices:EnvironmentVersion",
      pulumi.createUrn(LEGACY.name, LEGACY_TYPE),
    );
    this.environment = new ml.EnvironmentVersion(
      childName(name, "version"),
      {
        resourceGroupName: ws.resourceGroupName,
        workspaceName: ws.workspaceName,
        name: args.environmentName,
        version: this.version,
        properties: {
          description: args.description,
          image: args.image,
          condaFile: condaText,
          osType: "Linux",
          tags: ws.tags,
        },
      },
      ws.childOptions(this, { aliases: legacy ? [legacyUrn] : [] }),
    );
    this.environmentId = this.environment.id;
    this.registerOutputs({ environmentId: this.environmentId, version: this.version });
  }
}
