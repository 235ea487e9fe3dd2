/**
 * Shared parts of the steps that make content-addressed Azure ML objects exist (ops/ensure-code.ts,
 * ops/ensure-environment.ts, ops/submit-job.ts): their JSON specifications from the environment, checked before any
 * call; "reuse the version when it exists, register it otherwise" (what the Azure ML CLI and SDK do for assets whose
 * content hash matches); and the upload of a folder to the workspace's default blob container.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { TokenCredential } from "@azure/identity";
import { ContainerClient } from "@azure/storage-blob";
import { contentTypeOf } from "../core/codeFiles";
import type { AssetResult } from "../core/contracts";
import { armEndpointFrom, type ArmClient } from "../azure/arm";
import { CliError, UsageError, errorMessage } from "../toolkit/errors";
import { parseWorkspaceChildId, type ParsedId, type WorkspaceScope } from "./ids";
import { log } from "../toolkit/log";
import { STORAGE_SUFFIXES } from "../core/azureRules";
import { NAME_RULES } from "../core/naming";

/** The JSON object in environment variable `name` (a step's specification); UsageError when absent or not an object. */
export function jsonObjectFromEnv(
  name: string,
  env: NodeJS.ProcessEnv = process.env,
): Record<string, unknown> {
  const text = env[name];
  if (text === undefined || text.trim() === "") throw new UsageError(`${name} is not set (a JSON object)`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${name} is not JSON: ${errorMessage(err)}`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new UsageError(`${name} must be a JSON object`);
  }
  return value as Record<string, unknown>;
}

/**
 * An asset or job name/version as one URL path segment: the 2025-12-01 name pattern
 * `^[a-zA-Z0-9][a-zA-Z0-9\-_]{0,254}$` (mfe.json, Jobs_CreateOrUpdate `id`), with '.' allowed for versions.
 */
export function checkNameSegment(flag: string, value: string, allowDot = false): string {
  const re = allowDot ? /^[a-zA-Z0-9][a-zA-Z0-9._-]{0,254}$/ : /^[a-zA-Z0-9][a-zA-Z0-9_-]{0,254}$/;
  if (!re.test(value)) {
    throw new UsageError(
      `--${flag} must be 1-255 letters, digits, '-', '_'${allowDot ? ", '.'" : ""} (alphanumeric first), got '${value}'`,
    );
  }
  return value;
}

/** Optional `description` and `tags` of an asset specification, type-checked. */
export function describedBy(
  spec: Record<string, unknown>,
  what: string,
): { description?: string; tags?: Record<string, string> } {
  const { description, tags } = spec;
  if (description !== undefined && typeof description !== "string")
    throw new UsageError(`${what}.description must be a string`);
  if (
    tags !== undefined &&
    (tags === null ||
      typeof tags !== "object" ||
      Array.isArray(tags) ||
      Object.values(tags).some((v) => typeof v !== "string"))
  ) {
    throw new UsageError(`${what}.tags must be an object of strings`);
  }
  return {
    ...(description !== undefined ? { description } : {}),
    ...(tags !== undefined ? { tags: tags as Record<string, string> } : {}),
  };
}

/** The flags that name an asset version (each ensure-* step adds its own). */
export const ASSET_VERSION_FLAGS = {
  "workspace-id": { type: "string", required: true, placeholder: "<ARM id>" },
  name: { type: "string", required: true, placeholder: "NAME" },
  version: { type: "string", required: true, placeholder: "V" },
  "arm-endpoint": { type: "string", placeholder: "URL" },
} as const;

/** What ASSET_VERSION_FLAGS parse to: the workspace, the version checked and addressed, the ARM endpoint. */
export interface AssetTarget {
  workspace: ParsedId;
  ref: AssetVersionRef;
  armEndpoint: string;
}

export function assetTarget(
  a: { "workspace-id": string; name: string; version: string; "arm-endpoint"?: string },
  kind: AssetVersionRef["kind"],
): AssetTarget {
  const workspace = parseWorkspaceChildId(a["workspace-id"], []);
  const name = checkNameSegment("name", a.name);
  const version = checkNameSegment("version", a.version, true);
  return {
    workspace,
    ref: assetVersionRef(workspace, kind, name, version),
    armEndpoint: armEndpointFrom(a["arm-endpoint"]),
  };
}

/** A workspace asset version: `kind` is the collection (`codes`, `environments`, `models`). */
export interface AssetVersionRef {
  kind: "codes" | "environments" | "models";
  name: string;
  version: string;
  /** the version's ARM id */
  id: string;
}

const LABELS: Record<AssetVersionRef["kind"], string> = {
  codes: "code",
  environments: "environment",
  models: "model",
};

/** `code mnist-train:<version>`, for log lines. */
export function describeRef(ref: AssetVersionRef): string {
  return `${LABELS[ref.kind]} ${ref.name}:${ref.version}`;
}

export function assetVersionRef(
  scope: WorkspaceScope,
  kind: AssetVersionRef["kind"],
  name: string,
  version: string,
): AssetVersionRef {
  return { kind, name, version, id: `${scope.workspaceId}/${kind}/${name}/versions/${version}` };
}

/**
 * Reuse or register: when the version exists, nothing is done (versions are immutable and content-addressed, so the
 * same version is the same content); otherwise `register` creates it. Never a delete: versions are history.
 */
export async function ensureAssetVersion(
  arm: ArmClient,
  ref: AssetVersionRef,
  register: () => Promise<{ uploaded?: number }>,
): Promise<AssetResult> {
  const base = { id: ref.id, name: ref.name, version: ref.version };
  const existing = await arm.tryGet<{ properties?: unknown }>(ref.id);
  if (existing) {
    log(`${describeRef(ref)} already exists in the workspace: reused, nothing uploaded or registered`);
    return { ...base, reused: true, ...(ref.kind === "codes" ? { uploaded: 0 } : {}) };
  }
  const { uploaded } = await register();
  return { ...base, reused: false, ...(uploaded !== undefined ? { uploaded } : {}) };
}

/** Creates the version: `PUT <id>` with `{"properties": ...}` (examples/Workspace/{Code,Environment}Version/createOrUpdate.json). */
export async function putAssetVersion(
  arm: ArmClient,
  ref: AssetVersionRef,
  properties: Record<string, unknown>,
): Promise<void> {
  const res = await arm.send("PUT", ref.id, { body: { properties } });
  log(`  registered ${describeRef(ref)} (HTTP ${res.status})`);
}

/** The workspace's default blob datastore, as its GET reports it (examples/Datastore/get.json). */
export interface BlobDatastore {
  accountName: string;
  containerName: string;
  /** storage DNS suffix, `core.windows.net` in the public cloud */
  endpoint: string;
  protocol: string;
}

/** `workspaceblobstore`, read back rather than built: the container name carries the workspace's internal id. */
export async function defaultBlobDatastore(arm: ArmClient, scope: WorkspaceScope): Promise<BlobDatastore> {
  const body = await arm.get<{ properties?: Partial<BlobDatastore> & { datastoreType?: string } }>(
    `${scope.workspaceId}/datastores/workspaceblobstore`,
  );
  const p = body.properties ?? {};
  if (p.datastoreType !== "AzureBlob" || !p.accountName || !p.containerName) {
    throw new CliError(
      `datastore workspaceblobstore is not an AzureBlob datastore with an account and container (${p.datastoreType ?? "no type"})`,
    );
  }
  return {
    accountName: p.accountName,
    containerName: p.containerName,
    endpoint: p.endpoint || "core.windows.net",
    protocol: p.protocol || "https",
  };
}

/** `https://<account>.blob.<suffix>/<container>/<prefix>`: the folder URL a code version's `codeUri` names. */
export function blobFolderUrl(ds: BlobDatastore, prefix: string): string {
  return `${ds.protocol}://${ds.accountName}.blob.${ds.endpoint}/${ds.containerName}/${prefix}`;
}

/** Azure Storage DNS suffixes (public, US Government, China clouds): the only blob hosts the storage token goes to. */
export const AZURE_STORAGE_SUFFIXES = STORAGE_SUFFIXES;

/** Entra scope for any storage account (Learn: rest/api/storageservices/authorize-with-azure-active-directory). */
export const STORAGE_SCOPE = "https://storage.azure.com/.default";

const ACCOUNT_NAME = NAME_RULES.storageAccount.pattern;

/**
 * Checks that the datastore's account is the workspace's own storage account (`storageAccount` of `GET <ws>`): the
 * datastore is workspace data that users with datastore write may change, and the upload's token is good for every
 * account the caller may write to, so the code goes only to the account the workspace was created with.
 */
export async function checkWorkspaceStorage(
  arm: ArmClient,
  scope: WorkspaceScope,
  ds: BlobDatastore,
): Promise<void> {
  const ws = await arm.get<{ properties?: { storageAccount?: string } }>(scope.workspaceId);
  const own = ws.properties?.storageAccount?.split("/").pop() ?? "";
  if (own.toLowerCase() !== ds.accountName.toLowerCase()) {
    throw new CliError(
      `refusing to upload to storage account ${ds.accountName}: datastore workspaceblobstore does not name the workspace's own storage account (${own || "none reported"})`,
    );
  }
}

/** `https://<account>.blob.<Azure suffix>/<container>`, or path-style `<storageEndpoint>/<account>/<container>`. */
export function containerUrl(ds: BlobDatastore, storageEndpoint?: string): string {
  if (storageEndpoint) return `${storageEndpoint.replace(/\/+$/, "")}/${ds.accountName}/${ds.containerName}`;
  const suffix = ds.endpoint.toLowerCase();
  if (
    !ACCOUNT_NAME.test(ds.accountName) ||
    !AZURE_STORAGE_SUFFIXES.includes(suffix) ||
    ds.protocol !== "https"
  ) {
    throw new CliError(
      `refusing to send a storage token to ${ds.protocol}://${ds.accountName}.blob.${ds.endpoint}: not an Azure Storage blob endpoint (https://<account>.blob.${AZURE_STORAGE_SUFFIXES[0]} or a sovereign cloud's)`,
    );
  }
  return `https://${ds.accountName}.blob.${suffix}/${ds.containerName}`;
}

/**
 * A client for the datastore's container that authenticates with an Entra token for Azure Storage (the CLI's
 * credential, scope STORAGE_SCOPE): no account key, so it works with `allowSharedKeyAccess: false`, and the caller
 * needs a data role on the account (Storage Blob Data Contributor: create container, put blob).
 */
export function containerClient(
  ds: BlobDatastore,
  credential: TokenCredential,
  storageEndpoint?: string,
): ContainerClient {
  return new ContainerClient(containerUrl(ds, storageEndpoint), credential, { audience: STORAGE_SCOPE });
}

/** A storage SDK error as one line; a 403 names the usual cause. */
export function storageFailure(err: unknown, what: string): CliError {
  if (err instanceof CliError) return err;
  const status = (err as { statusCode?: number }).statusCode;
  const hints =
    status === 403
      ? [
          "The upload uses your Entra identity, not an account key: it needs Storage Blob Data Contributor on the storage account or its resource group (bootstrap/ grants it to the CI deploy identity; on a laptop: az role assignment create --role 'Storage Blob Data Contributor' --assignee <you> --scope <resource group id>). A new assignment can take minutes to apply.",
        ]
      : [];
  return new CliError(
    `${what} failed${status ? ` (HTTP ${status})` : ""}: ${errorMessage(err).split("\n")[0]}`,
    hints,
  );
}

/**
 * Creates the container when it is missing (a 409 ContainerAlreadyExists is success): the workspace creates it
 * (Learn: `az ml datastore` overview), but no source says it exists as soon as the workspace PUT succeeds.
 */
export async function ensureContainer(container: ContainerClient): Promise<boolean> {
  try {
    const res = await container.createIfNotExists();
    log(`  container ${container.containerName}: ${res.succeeded ? "created" : "exists"}`);
    return res.succeeded;
  } catch (err) {
    throw storageFailure(err, `creating container ${container.containerName}`);
  }
}

/** Uploads `files` (relative, '/'-separated) of `folder` to `<prefix>/<file>` with their content types. */
export async function uploadFiles(
  container: ContainerClient,
  folder: string,
  files: string[],
  prefix: string,
): Promise<number> {
  for (const rel of files) {
    const blob = `${prefix}/${rel}`;
    const data = fs.readFileSync(path.join(folder, ...rel.split("/")));
    try {
      await container.getBlockBlobClient(blob).uploadData(data, {
        blobHTTPHeaders: { blobContentType: contentTypeOf(rel) },
      });
    } catch (err) {
      throw storageFailure(err, `uploading ${blob}`);
    }
    log(`  uploaded ${rel} (${data.length} bytes)`);
  }
  return files.length;
}
