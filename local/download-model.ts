/**
 * download-model: brings a registered Azure ML model version's files into the local MLflow Model Registry (the
 * SQLite store <dest>/mlflow.db that `npm run local` registers into and `npm run serve` reads), so the cloud-trained
 * model can be served locally: the files become the artifacts (model/) of a run of the experiment "downloads", and
 * that folder the next version of the model, tagged with where it came from (azureml_model_id, azureml_version,
 * ...). No alias is set: `npm run serve -- --version <registered_version>` serves it.
 *
 *   tsx local/download-model.ts --model-id <ARM id of .../models/<name>/versions/<v>> [--dest .local]
 *     [--storage-endpoint URL] [--arm-endpoint URL]
 *
 * Resolution: model version → `modelUri` (azureml://jobs/<job>/outputs/<out>: via the job's output URI;
 * azureml://...datastores/<ds>/paths/<p>: directly) → datastore (account, container) → blob credential: the
 * datastore's account key or SAS from `listSecrets`, or the caller's Entra identity for identity-based datastores
 * (needs Storage Blob Data Reader) → every blob under the prefix. A `modelUri` that is a plain
 * `https://<account>.blob.<suffix>/...` URL is read with the caller's Entra identity only when that account is one of
 * the workspace's blob datastores on an Azure Storage endpoint; credentials never follow a host a model names.
 * stdout: {"name","version" (Azure's),"registered_version","model_uri","path" (the local files),"files":[...]}.
 */
import { mkdtempSync, rmSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ARM_FLAGS, ArmClient, armEndpointFrom } from "../lib/azure/arm";
import { usageLine, withFlags } from "../lib/toolkit/args";
import { createCredential } from "../lib/azure/credential";
import { CliError } from "../lib/toolkit/errors";
import type { ParsedId } from "../lib/azureml/ids";
import {
  describeSource,
  downloadModelBlobs,
  parseModelVersionId,
  readModelVersion,
  resolveModelBlobs,
} from "../lib/azureml/modelBlobs";
import { log, writeResult } from "../lib/toolkit/log";
import { runCli } from "../lib/toolkit/run";
import { localDir, mlflowStoreUri } from "./paths";
import { importModel, modelUri as registryUri } from "./registry";

const FLAGS = {
  "model-id": { type: "string", required: true, placeholder: "<ARM id of a model version>" },
  dest: { type: "string", placeholder: "DIR" },
  "storage-endpoint": { type: "string", placeholder: "URL" },
  "arm-endpoint": ARM_FLAGS["arm-endpoint"],
} as const;

const USAGE = usageLine("bash scripts/env.sh tsx local/download-model.ts", FLAGS);

export interface DownloadOptions {
  /** the model version's id and workspace */
  id: ParsedId;
  /** the model's name and version, from the id */
  name: string;
  version: string;
  /** the local state folder whose MLflow store (<dest>/mlflow.db) gets the model; default .local */
  dest: string;
  /** path-style blob endpoint instead of https://<account>.blob.<suffix> (tests, emulators) */
  storageEndpoint?: string;
  armEndpoint: string;
}

export const parseDownloadArgs = withFlags(FLAGS, (a): DownloadOptions => {
  return {
    ...parseModelVersionId(a["model-id"]),
    dest: a.dest ?? localDir(),
    storageEndpoint: a["storage-endpoint"] ?? process.env.AZURE_STORAGE_ENDPOINT_OVERRIDE,
    armEndpoint: armEndpointFrom(a["arm-endpoint"]),
  };
});

/** What download-model prints. */
export interface DownloadResult {
  name: string;
  /** the Azure ML version downloaded */
  version: string;
  /** its version in the local MLflow Model Registry */
  registered_version: string;
  model_uri: string;
  /** the local folder of its files (the run's artifacts) */
  path: string;
  files: string[];
}

/** Model version → its files' blob source → download into a staging folder → register in the local registry. */
export async function downloadModel(o: DownloadOptions): Promise<void> {
  const credential = createCredential();
  const arm = new ArmClient(o.armEndpoint, credential);
  log(`download-model: ${o.name}:${o.version} from workspace ${o.id.workspace}`);
  const { body: model, modelUri } = await readModelVersion(arm, o);
  log(`  modelUri: ${modelUri}`);
  const source = await resolveModelBlobs(arm, o, modelUri, credential);
  const staging = mkdtempSync(path.join(os.tmpdir(), "download-model-"));
  try {
    await downloadModelBlobs(source, staging);
    const registered = await importModel({
      trackingUri: mlflowStoreUri({ MNIST_LOCAL_DIR: o.dest }),
      name: o.name,
      dir: staging,
      runName: `azureml-${o.name}-${o.version}`,
      tags: {
        source: "azureml",
        azureml_model_id: o.id.id,
        azureml_version: o.version,
        azureml_model_uri: modelUri,
        workspace: o.id.workspace,
        resource_group: o.id.resourceGroup,
        storage: describeSource(source),
        job_name: model.properties?.jobName,
        azureml_created_at: model.systemData?.createdAt,
        downloaded_at: new Date().toISOString(),
      },
    }).catch((err: Error) => {
      throw new CliError(err.message);
    });
    const uri = registryUri(o.name, registered);
    log(`download-model: ${registered.files.length} file(s) in ${registered.dir}, registered as ${uri}`);
    log(`  serve it: npm run serve -- --model-name ${o.name} --version ${registered.version}`);
    writeResult({
      name: o.name,
      version: o.version,
      registered_version: registered.version,
      model_uri: uri,
      path: registered.dir,
      files: registered.files,
    } satisfies DownloadResult);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

export const cli = { name: "download-model", usage: USAGE, parse: parseDownloadArgs, main: downloadModel };

if (require.main === module) runCli(cli);
