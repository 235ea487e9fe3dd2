/**
 * download-model: copies a registered Azure ML model version's files into the local registry
 * (`<dest>/<name>/<version>/` + model-version.json, the layout `npm run serve` reads), so the cloud-trained model
 * can be served locally.
 *
 *   tsx ops/download-model.ts --model-id <ARM id of .../models/<name>/versions/<v>> [--dest .local/registry]
 *     [--storage-endpoint URL] [--arm-endpoint URL]
 *
 * Resolution: model version → `modelUri` (azureml://jobs/<job>/outputs/<out>: via the job's output URI;
 * azureml://...datastores/<ds>/paths/<p>: directly) → datastore (account, container) → blob credential: the
 * datastore's account key or SAS from `listSecrets`, or the caller's Entra identity for identity-based datastores
 * (needs Storage Blob Data Reader) → every blob under the prefix.
 * stdout: {"name","version","path","files":[...]}.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { AnonymousCredential, ContainerClient, StorageSharedKeyCredential } from "@azure/storage-blob";
import type { TokenCredential } from "@azure/identity";
import { ArmClient, armEndpointFrom } from "../lib/cli/arm";
import { parseArgs, str } from "../lib/cli/args";
import { runCli } from "../lib/cli/run";
import { createCredential } from "../lib/cli/credential";
import { parseBlobUrl, parseModelUri, parseWorkspaceChildId, type WorkspaceScope } from "../lib/cli/ids";
import { jsonOf } from "../lib/cli/http";
import { errorMessage, log, OpsError, writeResult } from "../lib/cli/log";
import { registerSecret } from "../lib/cli/redact";
import { DEFAULT_REGISTRY, registerModel } from "./registry";

const USAGE =
  "usage: tsx ops/download-model.ts --model-id <ARM id of a model version> [--dest .local/registry] " +
  "[--storage-endpoint URL] [--arm-endpoint URL]";

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
    throw new OpsError(`refusing blob name '${name}': it would leave the target folder`);
  }
  return rel;
}

function containerUrl(
  storageEndpoint: string | undefined,
  account: string,
  container: string,
  suffix: string,
  protocol: string,
): string {
  if (storageEndpoint) return `${storageEndpoint.replace(/\/+$/, "")}/${account}/${container}`;
  return `${protocol}://${account}.blob.${suffix}/${container}`;
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
    if (inner.kind !== "datastore") throw new OpsError(`job output URI '${outUri}' is not on a datastore`);
    const sub = loc.subPath ? `${inner.path.replace(/\/+$/, "")}/${loc.subPath}` : inner.path;
    return { datastore: inner.datastore, path: sub };
  }
  throw new OpsError("unreachable");
}

async function main(argv: string[]): Promise<void> {
  const args = parseArgs(
    argv,
    {
      "model-id": { required: true },
      dest: { default: DEFAULT_REGISTRY },
      "storage-endpoint": {},
      "arm-endpoint": {},
    },
    USAGE,
  );
  const modelId = str(args, "model-id");
  const id = parseWorkspaceChildId(modelId, ["models", "versions"]);
  const name = id.children[0][1];
  const version = id.children[1][1];
  const dest = str(args, "dest");
  const storageEndpoint =
    typeof args["storage-endpoint"] === "string"
      ? args["storage-endpoint"]
      : process.env.AZURE_STORAGE_ENDPOINT_OVERRIDE;
  const credential = createCredential();
  const arm = new ArmClient(armEndpointFrom(args["arm-endpoint"]), credential);

  log(`download-model: ${name}:${version} from workspace ${id.workspace}`);
  const model = await arm.get<ModelVersionBody>(modelId);
  const modelUri = model.properties?.modelUri;
  if (!modelUri) throw new OpsError(`model ${name}:${version} has no modelUri`);
  log(`  modelUri: ${modelUri}`);

  let location: BlobLocation;
  let blobCredential: StorageSharedKeyCredential | AnonymousCredential | TokenCredential;
  let sas = "";
  const parsed = parseModelUri(modelUri);
  if (parsed.kind === "blob-url") {
    const b = parseBlobUrl(parsed.url);
    const account = new URL(b.accountUrl).hostname.split(".")[0];
    location = {
      accountName: account,
      containerName: b.container,
      path: b.prefix,
      containerUrl: `${b.accountUrl}/${b.container}`,
    };
    blobCredential = credential;
  } else {
    const { datastore, path: blobPath } = await resolveDatastorePath(arm, id, modelUri);
    const dsId = `${id.workspaceId}/datastores/${datastore}`;
    const ds = await arm.get<DatastoreBody>(dsId);
    const p = ds.properties ?? {};
    if (p.datastoreType && p.datastoreType !== "AzureBlob") {
      throw new OpsError(
        `datastore ${datastore} is ${p.datastoreType}; download-model reads AzureBlob datastores only`,
      );
    }
    if (!p.accountName || !p.containerName)
      throw new OpsError(`datastore ${datastore} names no storage account/container`);
    location = {
      datastore,
      accountName: p.accountName,
      containerName: p.containerName,
      path: blobPath,
      containerUrl: containerUrl(
        storageEndpoint,
        p.accountName,
        p.containerName,
        p.endpoint ?? "core.windows.net",
        p.protocol ?? "https",
      ),
    };
    const credType = p.credentials?.credentialsType ?? "None";
    if (credType === "AccountKey" || credType === "Sas") {
      const res = await arm.send("POST", `${dsId}/listSecrets`, { body: {} });
      const secrets = jsonOf<{ secretsType?: string; key?: string; sasToken?: string }>(res);
      if (secrets.secretsType === "AccountKey" && secrets.key) {
        registerSecret(secrets.key);
        blobCredential = new StorageSharedKeyCredential(p.accountName, secrets.key);
      } else if (secrets.secretsType === "Sas" && secrets.sasToken) {
        registerSecret(secrets.sasToken);
        sas = secrets.sasToken.replace(/^\?/, "");
        blobCredential = new AnonymousCredential();
      } else {
        throw new OpsError(`datastore ${datastore}: listSecrets returned no usable ${credType} secret`);
      }
      log(
        `  datastore ${datastore}: ${p.accountName}/${p.containerName} (${credType === "AccountKey" ? "account key" : "SAS"} from listSecrets)`,
      );
    } else {
      blobCredential = credential;
      log(
        `  datastore ${datastore}: ${p.accountName}/${p.containerName} (identity-based: your Entra identity needs Storage Blob Data Reader)`,
      );
    }
  }

  const container = new ContainerClient(
    sas ? `${location.containerUrl}?${sas}` : location.containerUrl,
    blobCredential as StorageSharedKeyCredential,
  );
  const staging = mkdtempSync(path.join(os.tmpdir(), "download-model-"));
  try {
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
      if (files.length === 0 && !prefix.endsWith("/") && prefix !== "") {
        // a single-file model: modelUri names the blob itself
        await fetchBlob(prefix, path.posix.basename(prefix));
      }
    } catch (err) {
      if (err instanceof OpsError) throw err;
      const status = (err as { statusCode?: number }).statusCode;
      throw new OpsError(
        `reading ${location.containerUrl.replace(/\?.*$/, "")}/${prefix} failed${status ? ` (HTTP ${status})` : ""}: ${errorMessage(err).split("\n")[0]}`,
        [
          status === 403
            ? "Identity-based datastores need Storage Blob Data Reader on the storage account for your identity."
            : "",
        ].filter(Boolean),
      );
    }
    if (files.length === 0) throw new OpsError(`no files found under ${location.containerName}/${prefix}`);
    const registered = registerModel({
      registry: dest,
      name,
      version,
      sourceDir: staging,
      overwrite: true,
      createdAt: model.systemData?.createdAt ? new Date(model.systemData.createdAt) : new Date(),
      source: {
        type: "azureml",
        modelId,
        modelUri,
        workspace: id.workspace,
        resourceGroup: id.resourceGroup,
        storage: `${location.containerUrl.replace(/\?.*$/, "")}/${prefix}`,
        ...(model.properties?.jobName ? { jobName: model.properties.jobName } : {}),
        downloadedAt: new Date().toISOString(),
      },
    });
    log(`download-model: ${registered.files.length} file(s) in ${registered.dir}`);
    writeResult({ name, version, path: registered.dir, files: registered.files });
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

if (require.main === module) runCli("download-model", main);
