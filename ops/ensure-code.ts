/**
 * ensure-code: makes a code version (a folder, versioned by its content hash) exist in the workspace, the way Azure
 * ML's own CLI does: reused when that version is there (nothing uploaded), otherwise the files go to the default
 * datastore's container under `LocalUpload/<version>/<folder name>/` (the container created if missing) and the
 * version is registered with that folder as its `codeUri`. Never deletes: versions are history. The files are those
 * the folder's ignore file leaves in, as with `az ml`: its `.amlignore`, else its `.gitignore` (lib/core/codeFiles.ts).
 *
 *   ASSET_SPEC='{"description","tags"}' tsx ops/ensure-code.ts --workspace-id <ARM id> --name NAME --version V
 *     --folder DIR [--storage-endpoint URL] [--arm-endpoint URL]
 *
 * Calls: GET <ws>/codes/<name>/versions/<v> → 404 → GET <ws>/datastores/workspaceblobstore → GET <ws> (the
 * datastore must name the workspace's own storage account) → blob container create-if-missing + one Put Blob per
 * file → PUT the version (examples/Workspace/CodeVersion/createOrUpdate.json).
 * stdout: {"id","name","version","reused","uploaded"}.
 *
 * The blob calls carry an Entra token for Azure Storage from the same credential as the ARM calls
 * (lib/azure/credential.ts), never an account key: the workspace's storage account has shared keys off
 * (components/mlWorkspace.ts), so the caller needs Storage Blob Data Contributor on it (bootstrap/ciIdentity.ts grants
 * it to the deploy identity). No key fallback: the account refuses keys, and a listKeys key would open every blob of
 * the account to this process.
 */
import * as path from "node:path";
import type { TokenCredential } from "@azure/identity";
import { ArmClient } from "../lib/azure/arm";
import { usageLine, withFlags } from "../lib/toolkit/args";
import {
  ASSET_VERSION_FLAGS,
  assetTarget,
  blobFolderUrl,
  checkWorkspaceStorage,
  containerClient,
  defaultBlobDatastore,
  describedBy,
  ensureAssetVersion,
  ensureContainer,
  jsonObjectFromEnv,
  putAssetVersion,
  uploadFiles,
  type AssetTarget,
} from "../lib/azureml/assets";
import { createCredential } from "../lib/azure/credential";
import { CliError, UsageError } from "../lib/toolkit/errors";
import { log, writeResult } from "../lib/toolkit/log";
import { runCli } from "../lib/toolkit/run";
import { listCodeFiles, uploadPrefix } from "../lib/core/codeFiles";
import type { AssetResult } from "../lib/core/contracts";
import { hashFolder, shortHash } from "../lib/core/hashing";

const FLAGS = {
  ...ASSET_VERSION_FLAGS,
  folder: { type: "string", required: true, placeholder: "DIR" },
  "storage-endpoint": { type: "string", placeholder: "URL" },
} as const;

const USAGE = usageLine("ASSET_SPEC='<JSON>' bash scripts/env.sh tsx ops/ensure-code.ts", FLAGS);

export interface CodeOptions extends AssetTarget {
  /** the folder as given (relative to the working directory, the project root when the graph runs it) */
  folder: string;
  description?: string;
  tags?: Record<string, string>;
  /** path-style blob endpoint instead of https://<account>.blob.<suffix> (tests, emulators) */
  storageEndpoint?: string;
}

export const parseCodeArgs = withFlags(FLAGS, (a): CodeOptions => ({
  ...assetTarget(a, "codes"),
  folder: a.folder,
  ...describedBy(jsonObjectFromEnv("ASSET_SPEC"), "ASSET_SPEC"),
  storageEndpoint: a["storage-endpoint"] ?? process.env.AZURE_STORAGE_ENDPOINT_OVERRIDE,
}));

/**
 * The folder's files, after checking that its content hash is still the version the preview computed
 * (components/codeAsset.ts codeVersionOf): registering other content under that version would break the hash contract.
 */
export function filesMatchingVersion(folder: string, version: string): string[] {
  let files: string[];
  let now: string;
  try {
    // One list for the hash and the upload: what the folder's .amlignore / .gitignore excludes is in neither.
    files = listCodeFiles(folder);
    now = shortHash(hashFolder(folder, files), 16);
  } catch (err) {
    throw new UsageError(`--folder: ${(err as Error).message}`);
  }
  if (now !== version) {
    throw new CliError(
      `${path.basename(folder)}/ changed since the preview computed version ${version} (now ${now}): run pulumi up again`,
    );
  }
  if (files.length === 0) throw new UsageError(`--folder ${folder} has no files to upload`);
  return files;
}

/** Uploads the folder to the default datastore and registers the version; returns how many files went up. */
async function uploadAndRegister(
  arm: ArmClient,
  credential: TokenCredential,
  o: CodeOptions,
  files: string[],
): Promise<number> {
  const ds = await defaultBlobDatastore(arm, o.workspace);
  await checkWorkspaceStorage(arm, o.workspace, ds);
  const container = containerClient(ds, credential, o.storageEndpoint);
  const prefix = uploadPrefix(o.ref.version, o.folder);
  log(`  uploading ${files.length} file(s) to ${ds.accountName}/${ds.containerName}/${prefix}/`);
  await ensureContainer(container);
  const uploaded = await uploadFiles(container, o.folder, files, prefix);
  await putAssetVersion(arm, o.ref, {
    codeUri: blobFolderUrl(ds, prefix),
    ...(o.description !== undefined ? { description: o.description } : {}),
    ...(o.tags !== undefined ? { tags: o.tags } : {}),
  });
  return uploaded;
}

/** Hash check (before any call) → reuse, or upload and register → print. */
export async function ensureCode(o: CodeOptions): Promise<void> {
  const files = filesMatchingVersion(o.folder, o.ref.version);
  // One credential for ARM and storage: one token cache, one GitHub ID-token exchange per scope.
  const credential = createCredential();
  const arm = new ArmClient(o.armEndpoint, credential);
  log(
    `ensure-code: ${o.ref.name}:${o.ref.version} (${o.folder}/, ${files.length} file(s)) in workspace ${o.workspace.workspace}`,
  );
  const result = await ensureAssetVersion(arm, o.ref, async () => ({
    uploaded: await uploadAndRegister(arm, credential, o, files),
  }));
  writeResult(result satisfies AssetResult);
}

export const cli = { name: "ensure-code", usage: USAGE, parse: parseCodeArgs, main: ensureCode };

if (require.main === module) runCli(cli);
