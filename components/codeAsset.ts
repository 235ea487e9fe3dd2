import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import type { WorkspaceRef } from "./mlWorkspace";
import type { AssetResult } from "../lib/core/contracts";
import { hashFolder, shortHash } from "../lib/core/hashing";
import { listCodeFiles } from "../lib/core/codeFiles";
import { childName } from "../lib/program/children";
import { parseJsonLine, stepCommand } from "../lib/program/steps";

export interface CodeAssetArgs {
  readonly workspace: WorkspaceRef;
  /** Absolute path of the folder to upload (training/ or scoring/), inside the project. */
  readonly folder: string;
  /** Code asset name in the workspace. */
  readonly assetName: string;
}

/** What a job or deployment takes from a code asset. */
export interface CodeRef {
  /** The content hash (what a job's run hash and a deployment's name include). */
  readonly version: string;
  /** The code version's ARM id. */
  readonly codeId: pulumi.Output<string>;
  /** Done once the version exists in the workspace. */
  readonly ready: pulumi.Resource;
}

/** Version of a code asset: the folder's content hash. */
export function codeVersionOf(folder: string, files: readonly string[] = listCodeFiles(folder)): string {
  return shortHash(hashFolder(folder, files), 16);
}

/**
 * A folder as a code asset whose version is its content hash, created the way Azure ML's own CLI does it: when that
 * version exists in the workspace it is reused (no upload), otherwise the files go to the workspace's default
 * datastore (`LocalUpload/<version>/<folder>/`, its container created if missing) and the version is registered.
 *
 * Why a step (ops/ensure-code.ts) and not `ml.CodeVersion` + `storage.Blob` resources: versions are immutable and
 * kept as history (Azure ML archives rather than deletes assets), so an edit undone later would declare a version
 * that already exists, which azure-native refuses, and stepping back would depend on a delete Azure may refuse.
 * Sources: Azure/azure-cli#21957 (CLI v2 archives assets instead of deleting them); azure-ai-ml
 * `_check_and_upload_path` (reuses what exists); azure-rest-api-specs examples/Datastore/get.json (the container).
 */
export class CodeAsset extends pulumi.ComponentResource implements CodeRef {
  readonly version: string;
  readonly files: string[];
  /** The code version's ARM id (what jobs and deployments name). */
  readonly codeId: pulumi.Output<string>;
  /** True when the version already existed (nothing uploaded). */
  readonly reused: pulumi.Output<boolean>;
  /** Done once the version exists in the workspace. */
  readonly ready: pulumi.CustomResource;

  constructor(name: string, args: CodeAssetArgs, opts?: pulumi.ComponentResourceOptions) {
    super("azure-ml-mnist:index:CodeAsset", name, {}, opts);
    const ws = args.workspace;
    // One walk of the folder, with its .amlignore (else .gitignore) applied as ops/ensure-code.ts applies it when it
    // uploads: the version is the hash of exactly the files that go up.
    this.files = listCodeFiles(args.folder);
    this.version = codeVersionOf(args.folder, this.files);
    if (this.files.length === 0) throw new Error(`code folder ${args.folder} has no files to upload`);
    // Relative to the project root (the steps' working directory): no machine-specific path in the state.
    const folder = path.relative(process.cwd(), args.folder).split(path.sep).join("/");
    if (folder.startsWith("..") || path.isAbsolute(folder))
      throw new Error(`code folder ${args.folder} must be inside the project (${process.cwd()})`);

    const spec = { description: `${folder}/ at content hash ${this.version}`, tags: ws.tags };
    const ensure = new command.local.Command(
      childName(name, "ensure"),
      {
        create: stepCommand("ops/ensure-code.ts", [
          ...["--workspace-id", ws.workspaceId, "--name", args.assetName],
          ...["--version", this.version, "--folder", folder],
        ]),
        environment: { ASSET_SPEC: JSON.stringify(spec) },
        logging: "stderr",
      },
      ws.childOptions(this),
    );
    this.ready = ensure;
    const result = ensure.stdout.apply((out) => parseJsonLine<AssetResult>(out, "ops/ensure-code.ts"));
    this.codeId = result.apply((r) => r.id);
    this.reused = result.apply((r) => r.reused);
    this.registerOutputs({ codeId: this.codeId, version: this.version });
  }
}
