/**
 * download-model: copies a registered Azure ML model version's files into the local registry
 * (`<dest>/<name>/<version>/` + model-version.json, the layout `npm run serve` reads), so the cloud-trained model
 * can be served locally.
 *
 *   tsx local/download-model.ts --model-id <ARM id of .../models/<name>/versions/<v>> [--dest .local/registry]
 *     [--storage-endpoint URL] [--arm-endpoint URL]
 *
 * Resolution: model version → `modelUri` (azureml://jobs/<job>/outputs/<out>: via the job's output URI;
 * azureml://...datastores/<ds>/paths/<p>: directly) → datastore (account, container) → blob credential: the
 * datastore's account key or SAS from `listSecrets`, or the caller's Entra identity for identity-based datastores
 * (needs Storage Blob Data Reader) → every blob under the prefix. A `modelUri` that is a plain
 * `https://<account>.blob.<suffix>/...` URL is read with the caller's Entra identity only when that account is one of
 * the workspace's blob datastores on an Azure Storage endpoint; credentials never follow a host a model names.
 * stdout: {"name","version","path","files":[...]}.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { AnonymousCredential, ContainerClient, StorageSharedKeyCredential } from "@azure/storage-blob";
import type { TokenCredential } from "@azure/identity";
import { ARM_FLAGS, ArmClient, armEndpointFrom, listAll } from "../lib/azure/arm";
import { usageLine, withFlags } from "../lib/toolkit/args";
import { createCredential } from "../lib/azure/credential";
import { CliError, errorMessage } from "../lib/toolkit/errors";
import { jsonOf } from "../lib/azure/http";
import {
  parseBlobUrl,
  parseModelUri,
  parseWorkspaceChildId,
  type ParsedId,
  type WorkspaceScope,
} from "../lib/azureml/ids";
import { log, writeResult } from "../lib/toolkit/log";
import { registerSecret } from "../lib/toolkit/redact";
import { runCli } from "../lib/toolkit/run";
import { DEFAULT_REGISTRY, registerModel } from "./registry";
import { STORAGE_SUFFIXES } from "../lib/core/azureRules";
import { NAME_RULES } from "../lib/core/naming";

const FLAGS = {
  "model-id": { type: "string", required: true, placeholder: "<ARM id of a model version>" },
  dest: { type: "string", default: DEFAULT_REGISTRY, placeholder: "DIR" },
  "storage-endpoint": { type: "string", placeholder: "URL" },
  "arm-endpoint": ARM_FLAGS["arm-endpoint"],
} as const;

const USAGE = usageLine("tsx local/download-model.ts", FLAGS);

export interface DownloadOptions {
  /** the model version's id and workspace */
  id: ParsedId;
  /** the model's name and version, from the id */
  name: string;
  version: string;
  dest: string;
  /** path-style blob endpoint instead of https://<account>.blob.<suffix> (tests, emulators) */
  storageEndpoint?: string;
  armEndpoint: string;
}

export const parseDownloadArgs = withFlags(FLAGS, (a): DownloadOptions => {
  const id = parseWorkspaceChildId(a["model-id"], ["models", "versions"]);
  return {
    id,
    name: id.children[0][1],
    version: id.children[1][1],
    dest: a.dest,
    storageEndpoint: a["storage-endpoint"] ?? process.env.AZURE_STORAGE_ENDPOINT_OVERRIDE,
    armEndpoint: armEndpointFrom(a["arm-endpoint"]),
  };
});

/** What download-model prints. */
export interface DownloadResult {
  name: string;
  version: string;
  path: string;
  files: string[];
}

interface ModelVersionBody {
  properties?: {
    modelUri?: string;
    modelType?: string;
    jobName?: string;
    description?: string;
    tags?: Record<string, string>;
  };
  systemData?: { createdAt?: string };
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

export { STORAGE_SUFFIXES };

const ACCOUNT_NAME = NAME_RULES.storageAccount.pattern;

/**
 * `https://<account>.blob.<suffix>/<container>`, or the path-style `--storage-endpoint` (tests, emulators: chosen by
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
  throw new CliError("unreachable");
}

type BlobCredential = StorageSharedKeyCredential | AnonymousCredential | TokenCredential;

/** Where the files are and how to read them; `sas` is appended to the container URL when set. */
interface BlobSource {
  location: BlobLocation;
  credential: BlobCredential;
  sas: string;
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
  o: DownloadOptions,
  url: string,
  credential: TokenCredential,
): Promise<BlobSource> {
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
  const stores = await listAll<DatastoreListItem>(arm, arm.url(`${o.id.workspaceId}/datastores`));
  const known = stores.some(
    (d) =>
      (d.properties?.datastoreType ?? "AzureBlob") === "AzureBlob" &&
      d.properties?.accountName?.toLowerCase() === account &&
      (d.properties?.endpoint ?? STORAGE_SUFFIXES[0]).toLowerCase() === suffix,
  );
  if (!known) {
    throw new CliError(
      `refusing to send your Entra token to ${u.host}: storage account ${account} is not the account of any blob datastore of workspace ${o.id.workspace}`,
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
      containerUrl: containerUrl(o.storageEndpoint, account, b.container, suffix, "https"),
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
  o: DownloadOptions,
  modelUri: string,
  identity: TokenCredential,
): Promise<BlobSource> {
  const { datastore, path: blobPath } = await resolveDatastorePath(arm, o.id, modelUri);
  const dsId = `${o.id.workspaceId}/datastores/${datastore}`;
  const p = (await arm.get<DatastoreBody>(dsId)).properties ?? {};
  if (p.datastoreType && p.datastoreType !== "AzureBlob") {
    throw new CliError(
      `datastore ${datastore} is ${p.datastoreType}; download-model reads AzureBlob datastores only`,
    );
  }
  if (!p.accountName || !p.containerName)
    throw new CliError(`datastore ${datastore} names no storage account/container`);
  const location: BlobLocation = {
    datastore,
    accountName: p.accountName,
    containerName: p.containerName,
    path: blobPath,
    containerUrl: containerUrl(
      o.storageEndpoint,
      p.accountName,
      p.containerName,
      p.endpoint ?? "core.windows.net",
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

/** Every blob under the prefix (folder markers skipped) into `staging`; a prefix naming one blob is that file. */
async function downloadBlobs(source: BlobSource, staging: string): Promise<string[]> {
  const { location, credential, sas } = source;
  const container = new ContainerClient(
    sas ? `${location.containerUrl}?${sas}` : location.containerUrl,
    credential as StorageSharedKeyCredential,
  );
  const prefix = location.path.replace(/^\/+/, "");
  const folderPrefix = prefix === "" || prefix.endsWith("/") ? prefix : `${prefix}/`;
  const files: string[] = [];
  const fetchBlob = async (blobName: string, rel: string) => {
    const target = path.join(staging, ...rel.split("/"));
    mkdirSync(path.dirname(target), { recursive: true });
    await container.getBlobClient(blobName).downloadToFile(target);
    files.push(rel);
    log(`  ${rel}`);
  };
  try {
    for await (const blob of container.listBlobsFlat({ prefix: folderPrefix })) {
      const rel = relativeBlobPath(folderPrefix, blob.name);
      if (rel !== undefined) await fetchBlob(blob.name, rel);
    }
    // a single-file model: modelUri names the blob itself
    if (files.length === 0 && !prefix.endsWith("/") && prefix !== "")
      await fetchBlob(prefix, path.posix.basename(prefix));
  } catch (err) {
    throw storageError(err, `${location.containerUrl.replace(/\?.*$/, "")}/${prefix}`);
  }
  if (files.length === 0) throw new CliError(`no files found under ${location.containerName}/${prefix}`);
  return files;
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

/** Model version → its files' blob source → download into a staging folder → register in the local registry. */
export async function downloadModel(o: DownloadOptions): Promise<void> {
  const credential = createCredential();
  const arm = new ArmClient(o.armEndpoint, credential);
  log(`download-model: ${o.name}:${o.version} from workspace ${o.id.workspace}`);
  const model = await arm.get<ModelVersionBody>(o.id.id);
  const modelUri = model.properties?.modelUri;
  if (!modelUri) throw new CliError(`model ${o.name}:${o.version} has no modelUri`);
  log(`  modelUri: ${modelUri}`);
  const parsed = parseModelUri(modelUri);
  const source =
    parsed.kind === "blob-url"
      ? await blobUrlSource(arm, o, parsed.url, credential)
      : await datastoreSource(arm, o, modelUri, credential);
  const staging = mkdtempSync(path.join(os.tmpdir(), "download-model-"));
  try {
    await downloadBlobs(source, staging);
    const registered = registerModel({
      registry: o.dest,
      name: o.name,
      version: o.version,
      sourceDir: staging,
      overwrite: true,
      createdAt: model.systemData?.createdAt ? new Date(model.systemData.createdAt) : new Date(),
      source: {
        type: "azureml",
        modelId: o.id.id,
        modelUri,
        workspace: o.id.workspace,
        resourceGroup: o.id.resourceGroup,
        storage: `${source.location.containerUrl.replace(/\?.*$/, "")}/${source.location.path.replace(/^\/+/, "")}`,
        ...(model.properties?.jobName ? { jobName: model.properties.jobName } : {}),
        downloadedAt: new Date().toISOString(),
      },
    });
    log(`download-model: ${registered.files.length} file(s) in ${registered.dir}`);
    writeResult({
      name: o.name,
      version: o.version,
      path: registered.dir,
      files: registered.files,
    } satisfies DownloadResult);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

export const cli = { name: "download-model", usage: USAGE, parse: parseDownloadArgs, main: downloadModel };

if (require.main === module) runCli(cli);
