import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as storage from "@pulumi/azure-native/storage";
import * as ml from "@pulumi/azure-native/machinelearningservices";
import { MlWorkspace } from "./mlWorkspace";
import { hashFolder, listAssetFiles, shortHash } from "../lib/hashing";
import { childName } from "../lib/children";

export interface CodeAssetArgs {
  readonly workspace: MlWorkspace;
  /** Absolute path of the folder to upload (training/ or scoring/). */
  readonly folder: string;
  /** CodeVersion (container) name in the workspace. */
  readonly assetName: string;
}

/** Version of a code asset: the folder's content hash. */
export function codeVersionOf(folder: string): string {
  return shortHash(hashFolder(folder), 16);
}

/** Blob prefix of an upload, as the Azure ML CLI/SDK lay it out in the default datastore. */
export function uploadPrefix(version: string, folder: string): string {
  return `LocalUpload/${version}/${path.basename(folder)}`;
}

const CONTENT_TYPES: Record<string, string> = {
  ".py": "text/x-python",
  ".json": "application/json",
  ".yml": "application/x-yaml",
  ".yaml": "application/x-yaml",
  ".txt": "text/plain",
  ".md": "text/markdown",
};

/**
 * A folder uploaded to the workspace's default blob container and declared as a CodeVersion whose version is the
 * folder's content hash. Asset paths are immutable in Azure: changed content makes a new version (a new prefix,
 * new blobs), never an update of the old one.
 */
export class CodeAsset extends pulumi.ComponentResource {
  readonly version: string;
  readonly files: string[];
  readonly blobs: storage.Blob[];
  readonly codeUri: pulumi.Output<string>;
  readonly codeVersion: ml.CodeVersion;
  /** The code version's ARM id (what jobs and deployments name). */
  readonly codeId: pulumi.Output<string>;

  constructor(name: string, args: CodeAssetArgs, opts?: pulumi.ComponentResourceOptions) {
    super("azure-ml-mnist:index:CodeAsset", name, {}, opts);
    const ws = args.workspace;
    this.version = codeVersionOf(args.folder);
    this.files = listAssetFiles(args.folder);
    if (this.files.length === 0) throw new Error(`code folder ${args.folder} has no files to upload`);
    const prefix = uploadPrefix(this.version, args.folder);
    // The workspace creates this container (its default datastore `workspaceblobstore`).
    const container = pulumi.interpolate`azureml-blobstore-${ws.workspaceGuid}`;

    this.blobs = this.files.map(
      (rel) =>
        new storage.Blob(
          `${name}:${rel}`,
          {
            resourceGroupName: ws.resourceGroupName,
            accountName: ws.storageAccountName,
            containerName: container,
            blobName: `${prefix}/${rel}`,
            type: "Block",
            contentType: CONTENT_TYPES[path.extname(rel)] ?? "application/octet-stream",
            source: new pulumi.asset.FileAsset(path.join(args.folder, rel)),
          },
          ws.childOptions(this),
        ),
    );

    this.codeUri = pulumi.interpolate`https://${ws.storageAccountName}.blob.core.windows.net/${container}/${prefix}`;
    this.codeVersion = new ml.CodeVersion(
      childName(name, "version"),
      {
        resourceGroupName: ws.resourceGroupName,
        workspaceName: ws.workspaceName,
        name: args.assetName,
        version: this.version,
        properties: {
          codeUri: this.codeUri,
          description: `${path.basename(args.folder)}/ at content hash ${this.version}`,
          tags: ws.tags,
        },
      },
      ws.childOptions(this, { dependsOn: this.blobs }),
    );
    this.codeId = this.codeVersion.id;
    this.registerOutputs({ codeVersionId: this.codeVersion.id, version: this.version });
  }
}
