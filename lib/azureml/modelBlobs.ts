/**
 * The files of a workspace model version, wherever its `modelUri` keeps them: resolve → list → download.
 * Shared by the CLIs that read a registered model's files (ops/promote-model.ts copies them into a registry,
 * local/download-model.ts into the local registry).
 *
 * Resolution: model version → `modelUri` (azureml://jobs/<job>/outputs/<out>: via the job's output URI;
 * azureml://...datastores/<ds>/paths/<p>: directly) → datastore (account, container) → blob credential: the
 * datastore's account key or SAS from `listSecrets`, or the caller's Entra identity for identity-based datastores
 * (needs Storage Blob Data Reader; the workspace's own storage has shared keys off, so that is the usual case) →
 * every blob under the prefix. A `modelUri` that is a plain `https://<account>.blob.<suffix>/...` URL is read with
 * the caller's Entra identity only when that account is one of the workspace's blob datastores on an Azure Storage
 * endpoint; credentials never follow a host a model names.
 */
import { mkdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import {
  AnonymousCredential,
  BlockBlobClient,
  ContainerClient,
  StorageSharedKeyCredential,
} from "@azure/storage-blob";
import type { TokenCredential } from "@azure/identity";
import { listAll, type ArmClient } from "../azure/arm";
import { jsonOf } from "../azure/http";
import { CliError, errorMessage } from "../toolkit/errors";
import { log } from "../toolkit/log";
import { registerSecret } from "../toolkit/redact";
import { STORAGE_SUFFIXES } from "../core/azureRules";
import { contentTypeOf } from "../core/codeFiles";
import { NAME_RULES } from "../core/naming";
import {
  parseBlobUrl,
  parseModelUri,
  parseWorkspaceChildId,
  type ParsedId,
  type WorkspaceScope,
} from "./ids";

/** A workspace model version (`.../workspaces/<ws>/models/<name>/versions/<v>`), parsed. */
export interface WorkspaceModelRef {
  /** the version's id and workspace */
  id: ParsedId;
  name: string;
  version: string;
}

/** `--model-id`: a workspace model version's ARM id (UsageError otherwise). */
export function parseModelVersionId(raw: string): WorkspaceModelRef {
  const id = parseWorkspaceChildId(raw, ["models", "versions"]);
  return { id, name: id.children[0][1], version: id.children[1][1] };
}

/** A workspace model version as its GET answers (ML 2025-12-01 examples/Workspace/ModelVersion/get.json). */
export interface ModelVersionBody {
  id?: string;
  name?: string;
  properties?: {
    modelUri?: string;
    modelType?: string;
    jobName?: string;
    description?: string;
    tags?: Record<string, string>;
    properties?: Record<string, string>;
  };
  systemData?: { createdAt?: string };
}

/** The model version, with the `modelUri` every reader of its files needs (CliError when it has none). */
export async function readModelVersion(
  arm: ArmClient,
  ref: WorkspaceModelRef,
): Promise<{ body: ModelVersionBody; modelUri: string }> {
  const body = await arm.get<ModelVersionBody>(ref.id.id);
  const modelUri = body.properties?.modelUri;
  if (!modelUri) throw new CliError(`model ${ref.name}:${ref.version} has no modelUri`);
  return { body, modelUri };
}

interface DatastoreBody {
  properties?: {
    datastoreType?: string;
    accountName?: string;
    containerName?: string;
    endpoint?: string;
    protocol?: string;
    credentials?: { credentialsType?: string };
  };
}

export interface BlobLocation {
  datastore?: string;
  accountName: string;
  containerName: string;
  /** blob name prefix without a leading "/" */
  path: string;
  /** https://<account>.blob.<suffix>/<container> (or the override) */
  containerUrl: string;
}

type BlobCredential = StorageSharedKeyCredential | AnonymousCredential | TokenCredential;

/** Where a model version's files are and how to read them; `sas` is appended to the container URL when set. */
export interface ModelBlobSource {
  location: BlobLocation;
  credential: BlobCredential;
  sas: string;
}

/** What resolving needs beyond the ARM client: the version and the storage endpoint override. */
export interface ModelBlobTarget {
  /** the model version's id (its workspace is where the datastores are) */
  id: ParsedId;
  /** path-style blob endpoint instead of https://<account>.blob.<suffix> (tests, emulators) */
  storageEndpoint?: string;
}

/**
 * Where job outputs land when the job gave no `uri`: named outputs under azureml/<job>/<output>/ on the default
 * datastore; the run's `./outputs` artifacts (`.../outputs/artifacts/paths/outputs/...`) under
 * ExperimentRun/dcid.<job>/ in the artifact store. Both (unverified).
 */
export function defaultJobOutputUri(job: string, output: string): string {
  if (output === "artifacts")
    return `azureml://datastores/workspaceartifactstore/paths/ExperimentRun/dcid.${job}/`;
  return `azureml://datastores/workspaceblobstore/paths/azureml/${job}/${output}/`;
}

/** Blob name of `name` relative to `prefix`, or undefined for folder markers; throws on path traversal. */
export function relativeBlobPath(prefix: string, name: string): string | undefined {
  const p = prefix === "" || prefix.endsWith("/") ? prefix : `${prefix}/`;
  if (!name.startsWith(p)) return undefined;
  const rel = name.slice(p.length);
  if (rel === "" || rel.endsWith("/")) return undefined;
  if (rel.split("/").some((seg) => seg === ".." || seg === "." || seg === "")) {
    throw new CliError(`refusing blob name '${name}': it would leave the target folder`);
  }
  return rel;
}

const ACCOUNT_NAME = NAME_RULES.storageAccount.pattern;

/**
 * `https://<account>.blob.<suffix>/<container>`, or the path-style `storageEndpoint` (tests, emulators: chosen by
 * whoever runs the CLI). Anything else, say a datastore whose `endpoint` or `protocol` was set to a host of someone
 * else's, is refused: the credential would follow it.
 */
export function containerUrl(
  storageEndpoint: string | undefined,
  account: string,
  container: string,
  suffix: string,
  protocol: string,
): string {
  if (storageEndpoint) return `${storageEndpoint.replace(/\/+$/, "")}/${account}/${container}`;
  if (
    !ACCOUNT_NAME.test(account) ||
    !STORAGE_SUFFIXES.includes(suffix.toLowerCase()) ||
    protocol !== "https"
  ) {
    throw new CliError(
      `refusing to send storage credentials to ${protocol}://${account}.blob.${suffix}: not an Azure Storage blob endpoint (https://<account>.blob.${STORAGE_SUFFIXES[0]} or a sovereign cloud's)`,
    );
  }
  return `https://${account}.blob.${suffix.toLowerCase()}/${container}`;
}

/** A job-output or datastore modelUri → the datastore and the blob prefix on it. */
async function resolveDatastorePath(
  arm: ArmClient,
  scope: WorkspaceScope,
  uri: string,
): Promise<{ datastore: string; path: string }> {
  const loc = parseModelUri(uri);
  if (loc.kind === "datastore") return { datastore: loc.datastore, path: loc.path };
  if (loc.kind === "job-output") {
    const job = await arm.get<{ properties?: { outputs?: Record<string, { uri?: string } | undefined> } }>(
      `${scope.workspaceId}/jobs/${loc.job}`,
    );
    const outUri = job.properties?.outputs?.[loc.output]?.uri ?? defaultJobOutputUri(loc.job, loc.output);
    log(`  job output ${loc.job}/${loc.output} → ${outUri}`);
    const inner = parseModelUri(outUri);
    if (inner.kind !== "datastore") throw new CliError(`job output URI '${outUri}' is not on a datastore`);
    const sub = loc.subPath ? `${inner.path.replace(/\/+$/, "")}/${loc.subPath}` : inner.path;
    return { datastore: inner.datastore, path: sub };
  }
  throw new CliError(`model URI '${uri}' is not on a datastore`);
}

interface DatastoreListItem {
  name?: string;
  properties?: DatastoreBody["properties"];
}

/**
 * A modelUri that is a plain blob URL, read with the caller's Entra identity: only when it names
 * `https://<account>.blob.<Azure suffix>/` of an account one of the workspace's blob datastores uses. The URL is
 * model data (anyone who may register a model writes it); the account list is the workspace's configuration. The
 * request goes to the URL rebuilt from that configuration, not to the one given.
 */
async function blobUrlSource(
  arm: ArmClient,
  t: ModelBlobTarget,
  url: string,
  credential: TokenCredential,
): Promise<ModelBlobSource> {
  const b = parseBlobUrl(url);
  const u = new URL(b.accountUrl);
  const m = /^([a-z0-9]{3,24})\.blob\.(.+)$/i.exec(u.hostname);
  const account = m?.[1].toLowerCase();
  const suffix = m?.[2].toLowerCase();
  if (!account || !suffix || u.protocol !== "https:" || u.port !== "" || !STORAGE_SUFFIXES.includes(suffix)) {
    throw new CliError(
      `refusing to send your Entra token to ${u.origin}: the model URI does not name an Azure Storage blob endpoint`,
    );
  }
  const stores = await listAll<DatastoreListItem>(arm, arm.url(`${t.id.workspaceId}/datastores`));
  const known = stores.some(
    (d) =>
      (d.properties?.datastoreType ?? "AzureBlob") === "AzureBlob" &&
      d.properties?.accountName?.toLowerCase() === account &&
      (d.properties?.endpoint ?? STORAGE_SUFFIXES[0]).toLowerCase() === suffix,
  );
  if (!known) {
    throw new CliError(
      `refusing to send your Entra token to ${u.host}: storage account ${account} is not the account of any blob datastore of workspace ${t.id.workspace}`,
      [
        "Register the model from a datastore path (azureml://datastores/<ds>/paths/<p>) or a job output instead.",
      ],
    );
  }
  return {
    location: {
      accountName: account,
      containerName: b.container,
      path: b.prefix,
      containerUrl: containerUrl(t.storageEndpoint, account, b.container, suffix, "https"),
    },
    credential,
    sas: "",
  };
}

/**
 * The blob credential of a datastore: its account key or SAS from `listSecrets` (registered for redaction), or
 * the caller's Entra identity for identity-based datastores.
 */
async function datastoreCredential(
  arm: ArmClient,
  dsId: string,
  ds: { name: string; accountName: string; containerName: string; credentialsType: string },
  identity: TokenCredential,
): Promise<{ credential: BlobCredential; sas: string }> {
  const where = `  datastore ${ds.name}: ${ds.accountName}/${ds.containerName}`;
  if (ds.credentialsType !== "AccountKey" && ds.credentialsType !== "Sas") {
    log(`${where} (identity-based: your Entra identity needs Storage Blob Data Reader)`);
    return { credential: identity, sas: "" };
  }
  // ML 2025-12-01 examples/Datastore/listSecrets.json: {secretsType, key} or {secretsType, sasToken}
  const res = await arm.send("POST", `${dsId}/listSecrets`, { body: {} });
  const secrets = jsonOf<{ secretsType?: string; key?: string; sasToken?: string }>(res);
  log(`${where} (${ds.credentialsType === "AccountKey" ? "account key" : "SAS"} from listSecrets)`);
  if (secrets.secretsType === "AccountKey" && secrets.key) {
    registerSecret(secrets.key);
    return { credential: new StorageSharedKeyCredential(ds.accountName, secrets.key), sas: "" };
  }
  if (secrets.secretsType === "Sas" && secrets.sasToken) {
    registerSecret(secrets.sasToken);
    return { credential: new AnonymousCredential(), sas: secrets.sasToken.replace(/^\?/, "") };
  }
  throw new CliError(`datastore ${ds.name}: listSecrets returned no usable ${ds.credentialsType} secret`);
}

/** A modelUri on a datastore (directly or through a job output): the datastore's account, container and secret. */
async function datastoreSource(
  arm: ArmClient,
  t: ModelBlobTarget,
  modelUri: string,
  identity: TokenCredential,
): Promise<ModelBlobSource> {
  const { datastore, path: blobPath } = await resolveDatastorePath(arm, t.id, modelUri);
  const dsId = `${t.id.workspaceId}/datastores/${datastore}`;
  // ML 2025-12-01 examples/Datastore/get.json
  const p = (await arm.get<DatastoreBody>(dsId)).properties ?? {};
  if (p.datastoreType && p.datastoreType !== "AzureBlob") {
    throw new CliError(`datastore ${datastore} is ${p.datastoreType}; only AzureBlob datastores can be read`);
  }
  if (!p.accountName || !p.containerName)
    throw new CliError(`datastore ${datastore} names no storage account/container`);
  const location: BlobLocation = {
    datastore,
    accountName: p.accountName,
    containerName: p.containerName,
    path: blobPath,
    containerUrl: containerUrl(
      t.storageEndpoint,
      p.accountName,
      p.containerName,
      p.endpoint ?? STORAGE_SUFFIXES[0],
      p.protocol ?? "https",
    ),
  };
  const ds = { name: datastore, accountName: p.accountName, containerName: p.containerName };
  const cred = await datastoreCredential(
    arm,
    dsId,
    { ...ds, credentialsType: p.credentials?.credentialsType ?? "None" },
    identity,
  );
  return { location, ...cred };
}

/**
 * Where the files of a model version whose `modelUri` is given live, and the credential that reads them
 * (`identity`: the caller's Entra credential, used for identity-based datastores and plain blob URLs).
 */
export async function resolveModelBlobs(
  arm: ArmClient,
  t: ModelBlobTarget,
  modelUri: string,
  identity: TokenCredential,
): Promise<ModelBlobSource> {
  const parsed = parseModelUri(modelUri);
  return parsed.kind === "blob-url"
    ? blobUrlSource(arm, t, parsed.url, identity)
    : datastoreSource(arm, t, modelUri, identity);
}

/** `<containerUrl>/<prefix>` without any query: where the files are, for messages and records. */
export function describeSource(source: ModelBlobSource): string {
  return `${source.location.containerUrl.replace(/\?.*$/, "")}/${source.location.path.replace(/^\/+/, "")}`;
}

/** A storage SDK error as one line, with the role to ask for on a 403. */
function storageError(err: unknown, where: string): CliError {
  if (err instanceof CliError) return err;
  const status = (err as { statusCode?: number }).statusCode;
  const hint =
    "Identity-based datastores need Storage Blob Data Reader on the storage account for your identity.";
  return new CliError(
    `reading ${where} failed${status ? ` (HTTP ${status})` : ""}: ${errorMessage(err).split("\n")[0]}`,
    status === 403 ? [hint] : [],
  );
}

function sourceContainer(source: ModelBlobSource): ContainerClient {
  const { location, credential, sas } = source;
  return new ContainerClient(
    sas ? `${location.containerUrl}?${sas}` : location.containerUrl,
    credential as StorageSharedKeyCredential,
  );
}

/** One file of a model version: its blob and its path relative to the version's folder ('/'-separated). */
export interface ModelBlob {
  blobName: string;
  rel: string;
}

/**
 * Every file of the model version: each blob under the prefix (folder markers skipped); a prefix with no blob under
 * it names one blob (a single-file model), which is then that file. CliError when the prefix is empty.
 */
export async function listModelBlobs(source: ModelBlobSource): Promise<ModelBlob[]> {
  const container = sourceContainer(source);
  const prefix = source.location.path.replace(/^\/+/, "");
  const folderPrefix = prefix === "" || prefix.endsWith("/") ? prefix : `${prefix}/`;
  const blobs: ModelBlob[] = [];
  try {
    for await (const blob of container.listBlobsFlat({ prefix: folderPrefix })) {
      const rel = relativeBlobPath(folderPrefix, blob.name);
      if (rel !== undefined) blobs.push({ blobName: blob.name, rel });
    }
    // a single-file model: modelUri names the blob itself (a missing one fails when it is read)
    if (blobs.length === 0 && !prefix.endsWith("/") && prefix !== "")
      blobs.push({ blobName: prefix, rel: path.posix.basename(prefix) });
  } catch (err) {
    throw storageError(err, describeSource(source));
  }
  if (blobs.length === 0)
    throw new CliError(`no files found under ${source.location.containerName}/${prefix}`);
  return blobs;
}

/** Downloads every file of the model version into `dir` (bytes as stored); returns their relative paths. */
export async function downloadModelBlobs(source: ModelBlobSource, dir: string): Promise<string[]> {
  const blobs = await listModelBlobs(source);
  const container = sourceContainer(source);
  for (const { blobName, rel } of blobs) {
    const target = path.join(dir, ...rel.split("/"));
    mkdirSync(path.dirname(target), { recursive: true });
    try {
      await container.getBlobClient(blobName).downloadToFile(target);
    } catch (err) {
      throw storageError(err, `${describeSource(source)} (${rel})`);
    }
    log(`  ${rel}`);
  }
  return blobs.map((b) => b.rel);
}

/**
 * The URL of blob `rel` under a pre-signed folder or container URL (`https://<host>/<container>[/<folder>]?<sas>`):
 * the path gets `/<rel>` (each segment encoded), the SAS query stays. Works for path-style hosts too.
 */
export function blobUrlUnder(sasUrl: string, rel: string): string {
  const u = new URL(sasUrl);
  const segments = rel.split("/").map(encodeURIComponent);
  u.pathname = `${u.pathname.replace(/\/+$/, "")}/${segments.join("/")}`;
  return u.href;
}

/**
 * Uploads `files` (relative, '/'-separated) of `dir` under the pre-signed URL `sasUrl` (a registry's pending upload:
 * the SAS is the only credential, nothing of the caller's goes there), each as one block blob with its content type,
 * bytes as read. Returns the number of bytes uploaded.
 */
export async function uploadFilesToSas(sasUrl: string, dir: string, files: string[]): Promise<number> {
  const where = sasUrl.replace(/\?.*$/, "");
  let bytes = 0;
  for (const rel of files) {
    const data = readFileSync(path.join(dir, ...rel.split("/")));
    try {
      await new BlockBlobClient(blobUrlUnder(sasUrl, rel), new AnonymousCredential()).uploadData(data, {
        blobHTTPHeaders: { blobContentType: contentTypeOf(rel) },
      });
    } catch (err) {
      const status = (err as { statusCode?: number }).statusCode;
      throw new CliError(
        `uploading ${rel} to ${where} failed${status ? ` (HTTP ${status})` : ""}: ${errorMessage(err).split("\n")[0]}`,
      );
    }
    bytes += data.length;
    log(`  uploaded ${rel} (${data.length} bytes)`);
  }
  return bytes;
}
