/**
 * promote-model: the champion/challenger gate, and the promotion of a workspace model version into an Azure ML
 * registry (the one prod serves from). The registry's model container names the version prod serves in its tag
 * `champion`; a challenger (the workspace version) replaces it only when its test accuracy is at least the
 * champion's plus `--min-gain` (which may be negative: a small loss accepted). No champion yet: it passes.
 *
 *   tsx ops/promote-model.ts --model-id <ARM id of .../workspaces/<ws>/models/<name>/versions/<v>>
 *     --registry-id <ARM id of .../registries/<r>> [--min-gain N] [--description TEXT]
 *     [--storage-endpoint URL] [--timeout-minutes N] [--poll-seconds N] [--arm-endpoint URL]
 *
 * Requests (ML 2025-12-01; registry paths from Azure/azure-rest-api-specs .../stable/2025-12-01, examples named):
 *   1. GET <ws>/models/<name>/versions/<v>: tags `testAccuracy` (required) and `runHash`, modelUri, modelType
 *   2. GET <registry>                                        (Registries_Get, examples/Registries/get.json)
 *   3. GET <registry>/models/<name>: tag `champion`, 404 = none (examples/Registry/ModelContainer/get.json)
 *   4. GET <registry>/models/<name>/versions/<champion>: its tag `testAccuracy`
 *      → the gate; refused: exit 1, `{"promoted": false, ...}`, nothing written
 *   5. GET <registry>/models/<name>/versions/<v>: there → reused (no upload, no PUT; versions are immutable)
 *   6. else POST .../versions/<v>/startPendingUpload {pendingUploadId: <guid>, pendingUploadType:
 *      TemporaryBlobReference} → blobReferenceForConsumption {blobUri, credential {SAS, sasUri}}
 *      (examples/Registry/ModelVersion/createOrGetStartPendingUpload.json); the version's files are read from the
 *      workspace (lib/azureml/modelBlobs.ts: job output → datastore → blobs, with the caller's Entra identity) and
 *      written under the SAS URL; PUT .../versions/<v> {properties: {modelType, modelUri: blobUri, description,
 *      tags, properties}} (examples/Registry/ModelVersion/createOrUpdate.json; LRO followed), then read back until
 *      Succeeded
 *   7. PUT <registry>/models/<name> with the container's writable fields as read plus `champion: <v>`
 *      (examples/Registry/ModelContainer/createOrUpdate.json: ModelContainer properties description, tags,
 *      properties, isArchived; LRO followed)
 * stdout: PromotionResult (lib/core/contracts.ts).
 *
 * Never a DELETE: a registry refuses to create a version again once it was deleted ("was deleted at ..., it cannot
 * be recreated", Azure/azureml-assets#2919), so a deleted version would be blocked forever. An existing version is
 * reused as it is, never written again with other content (only description and tags of a version are mutable).
 *
 * An interruption, and what the next run does (it repeats 1-5 and carries on from what it finds):
 *   - before step 6's PUT (during startPendingUpload or the upload): the version does not exist; the uploaded blobs
 *     sit in a temporary location nobody references. The next run asks for a new pending upload (a new guid) and
 *     uploads and PUTs again: it converges.
 *   - during the PUT's operation: the version exists in Creating/Updating, or Failed. The next run finds it: a
 *     version still being created is waited for (step 5 follows its provisioningState); Succeeded is reused; Failed or
 *     Canceled stops with an error and is left alone (deleting it would block the version for good); a new training
 *     run gives a new version.
 *   - after the version, before step 7: the version is in the registry but the champion tag still names the old one.
 *     The next run reuses the version and sets the tag (the gate compares the challenger with the old champion
 *     again, which it passed before).
 *   - the container PUT is a whole replacement of its writable fields from one GET: a concurrent writer's tag change
 *     between the two can be lost (two promotions at once: the last one wins the champion tag).
 */
import { randomUUID } from "node:crypto";
import type { TokenCredential } from "@azure/identity";
import { mkdtempSync, rmSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  ARM_FLAGS,
  ArmClient,
  SETTLED_STATE,
  armCliOptions,
  awaitProvisioning,
  type ArmCliOptions,
} from "../lib/azure/arm";
import { createCredential } from "../lib/azure/credential";
import { jsonOf } from "../lib/azure/http";
import { parseModelUri } from "../lib/azureml/ids";
import {
  describeSource,
  downloadModelBlobs,
  parseModelVersionId,
  readModelVersion,
  resolveModelBlobs,
  uploadFilesToSas,
  type ModelVersionBody,
  type WorkspaceModelRef,
} from "../lib/azureml/modelBlobs";
import { usageLine, withFlags } from "../lib/toolkit/args";
import { CliError, UsageError } from "../lib/toolkit/errors";
import { log, writeResult } from "../lib/toolkit/log";
import { registerSecret } from "../lib/toolkit/redact";
import { runCli } from "../lib/toolkit/run";
import { REGISTRY_ID } from "../lib/core/azureRules";
import type { PromotionResult } from "../lib/core/contracts";

const FLAGS = {
  "model-id": { type: "string", required: true, placeholder: "<ARM id of a workspace model version>" },
  "registry-id": { type: "string", required: true, placeholder: "<ARM id of an Azure ML registry>" },
  "min-gain": { type: "number", default: 0, min: -1, max: 1, placeholder: "N" },
  description: { type: "string", placeholder: "TEXT" },
  "storage-endpoint": { type: "string", placeholder: "URL" },
  ...ARM_FLAGS,
} as const;

const USAGE = usageLine("bash scripts/env.sh tsx ops/promote-model.ts", FLAGS);

/** The tag of the registry's model container that names the version prod serves. */
export const CHAMPION_TAG = "champion";
/** The tag of a model version that carries its test accuracy (set by the registering step). */
export const ACCURACY_TAG = "testAccuracy";

export interface RegistryRef {
  /** `/subscriptions/<s>/resourceGroups/<rg>/providers/Microsoft.MachineLearningServices/registries/<r>` */
  id: string;
  name: string;
}

/** `--registry-id`: REGISTRY_ID's shape (lib/core/azureRules.ts: its name rule is REGISTRY_NAME, 3-32 characters). */
export function parseRegistryId(raw: string): RegistryRef {
  const id = raw.trim().replace(/\/+$/, "");
  const name = id.split("/").pop() ?? "";
  if (!REGISTRY_ID.test(id)) {
    throw new UsageError(
      `'${raw}' is not an Azure ML registry id (/subscriptions/<s>/resourceGroups/<rg>/providers/Microsoft.MachineLearningServices/registries/<name>, the name 3-32 letters, digits, '-', '_', alphanumeric first)`,
    );
  }
  return { id, name };
}

export interface PromoteOptions extends ArmCliOptions {
  model: WorkspaceModelRef;
  registry: RegistryRef;
  minGain: number;
  description?: string;
  storageEndpoint?: string;
}

export const parsePromoteArgs = withFlags(FLAGS, (a): PromoteOptions => ({
  model: parseModelVersionId(a["model-id"]),
  registry: parseRegistryId(a["registry-id"]),
  minGain: a["min-gain"],
  ...(a.description !== undefined ? { description: a.description } : {}),
  storageEndpoint: a["storage-endpoint"] ?? process.env.AZURE_STORAGE_ENDPOINT_OVERRIDE,
  ...armCliOptions(a),
}));

/** A registry model container (examples/Registry/ModelContainer/get.json); its writable properties. */
interface ModelContainerBody {
  properties?: {
    description?: string;
    tags?: Record<string, string>;
    properties?: Record<string, string>;
    isArchived?: boolean;
    provisioningState?: string;
  };
}

/** A registry model version (examples/Registry/ModelVersion/get.json). */
type RegistryVersionBody = ModelVersionBody & { properties?: { provisioningState?: string } };

/** The answer of startPendingUpload (examples/Registry/ModelVersion/createOrGetStartPendingUpload.json). */
interface PendingUploadResponse {
  blobReferenceForConsumption?: {
    blobUri?: string;
    storageAccountArmId?: string;
    credential?: { credentialType?: string; sasUri?: string };
  };
  pendingUploadId?: string;
}

/** A tag's value as an accuracy in [0, 1], or undefined. */
export function accuracyOf(tags: Record<string, string> | undefined): number | undefined {
  const raw = tags?.[ACCURACY_TAG];
  if (raw === undefined || raw.trim() === "") return undefined;
  const v = Number(raw);
  return Number.isFinite(v) && v >= 0 && v <= 1 ? v : undefined;
}

/** Sums of two decimals such as 0.98 + 0.01 are not exact in binary: a challenger equal to the bar passes. */
const EPSILON = 1e-9;

/** The gate: does the challenger reach the champion's accuracy plus the minimum gain? */
export function passesGate(challenger: number, champion: number, minGain: number): boolean {
  return challenger + EPSILON >= champion + minGain;
}

const round = (v: number) => Math.round(v * 1e6) / 1e6;

/** `azureml://registries/<r>/models/<name>/versions/<v>`: what an online deployment's `model` takes. */
export function registryModelId(registry: string, name: string, version: string): string {
  // Learn: how-to-share-models-pipelines-across-workspaces-with-registries (deploy a model from a registry)
  return `azureml://registries/${registry}/models/${name}/versions/${version}`;
}

/** Gate, then reuse or upload + register the registry version, then the champion tag. */
export async function promoteModel(o: PromoteOptions): Promise<void> {
  const started = Date.now();
  const credential = createCredential();
  const arm = new ArmClient(o.armEndpoint, credential);
  const { name, version } = o.model;
  const containerId = `${o.registry.id}/models/${name}`;
  const versionId = (v: string) => `${containerId}/versions/${v}`;
  const base = {
    registry: o.registry.name,
    name,
    version,
    registryModelId: registryModelId(o.registry.name, name, version),
    minGain: o.minGain,
  };
  log(`promote-model: ${name}:${version} of workspace ${o.model.id.workspace} → registry ${o.registry.name}`);

  // 1. the challenger
  const { body: model, modelUri } = await readModelVersion(arm, o.model);
  const tags = model.properties?.tags ?? {};
  const challengerAccuracy = accuracyOf(tags);
  if (challengerAccuracy === undefined) {
    throw new CliError(
      `refusing to promote ${name}:${version}: its workspace version has no '${ACCURACY_TAG}' tag in [0, 1] (got ${JSON.stringify(tags[ACCURACY_TAG] ?? null)}), so it cannot be compared with the champion`,
      ["The registering step (ops/ensure-model.ts) records the accepted job's test accuracy in that tag."],
      1,
      { ...base, promoted: false, reused: false },
    );
  }

  // 2. the registry
  const registry = await arm.tryGet<{ location?: string }>(o.registry.id);
  if (!registry) throw new CliError(`registry ${o.registry.id} does not exist (or is not visible to you)`);

  // 3-4. the champion
  const container = await arm.tryGet<ModelContainerBody>(containerId);
  const championVersion = container?.properties?.tags?.[CHAMPION_TAG] || undefined;
  let championAccuracy: number | undefined;
  if (championVersion === version) {
    championAccuracy = accuracyOf(
      (await arm.tryGet<RegistryVersionBody>(versionId(version)))?.properties?.tags,
    );
    log(`  ${name}:${version} is already the champion of registry ${o.registry.name}: nothing to do`);
    writeResult({
      ...base,
      promoted: true,
      reused: true,
      challengerAccuracy,
      championVersion,
      championAccuracy: championAccuracy ?? challengerAccuracy,
    } satisfies PromotionResult);
    return;
  }
  if (championVersion) {
    const champion = await arm.tryGet<RegistryVersionBody>(versionId(championVersion));
    championAccuracy = accuracyOf(champion?.properties?.tags);
    if (championAccuracy === undefined) {
      throw new CliError(
        `cannot gate ${name}:${version}: the champion ${name}:${championVersion} of registry ${o.registry.name} ${champion ? `has no '${ACCURACY_TAG}' tag in [0, 1]` : "does not exist"}`,
        [
          `Fix the container's '${CHAMPION_TAG}' tag or the champion version's '${ACCURACY_TAG}' tag (both are mutable) and run again.`,
        ],
        1,
        { ...base, promoted: false, reused: false, challengerAccuracy, championVersion },
      );
    }
    const bar = championAccuracy + o.minGain;
    const margin = round(challengerAccuracy - bar);
    const comparison = `challenger ${name}:${version} test accuracy ${challengerAccuracy} vs champion ${name}:${championVersion} ${championAccuracy} + min gain ${o.minGain} = ${round(bar)} (margin ${margin})`;
    if (!passesGate(challengerAccuracy, championAccuracy, o.minGain)) {
      throw new CliError(`not promoted: ${comparison}`, [], 1, {
        ...base,
        promoted: false,
        reused: false,
        challengerAccuracy,
        championVersion,
        championAccuracy,
        margin,
      });
    }
    log(`  gate passed: ${comparison}`);
  } else {
    log(`  registry ${o.registry.name} has no champion for ${name} yet: the gate passes`);
  }

  // 5-6. the registry version: reused, or uploaded and registered
  const reused = await ensureRegistryVersion(arm, o, versionId(version), {
    model,
    modelUri,
    tags: {
      sourceModelId: o.model.id.id,
      ...sourceJobTag(modelUri, model),
      ...(tags.runHash ? { runHash: tags.runHash } : {}),
      [ACCURACY_TAG]: String(challengerAccuracy),
      replaced: championVersion ?? "none",
      promotedAt: new Date().toISOString(),
    },
    started,
    credential,
  });

  // 7. the champion tag
  await setChampion(arm, containerId, version, o);
  log(`promote-model: ${name}:${version} is the champion of registry ${o.registry.name}`);
  writeResult({
    ...base,
    promoted: true,
    reused,
    challengerAccuracy,
    championVersion,
    championAccuracy,
  } satisfies PromotionResult);
}

/** `sourceJob`: the job of an `azureml://jobs/<job>/outputs/...` modelUri, else the version's `jobName`. */
function sourceJobTag(modelUri: string, model: ModelVersionBody): { sourceJob?: string } {
  let job = model.properties?.jobName;
  try {
    const loc = parseModelUri(modelUri);
    if (loc.kind === "job-output") job = loc.job;
  } catch {
    // a form the files' resolution refuses anyway
  }
  return job ? { sourceJob: job } : {};
}

/**
 * The registry version: an existing one is reused (waited for while it is still being created; a Failed one is an
 * error, left in place); a missing one is uploaded and registered. Returns whether it was reused.
 */
async function ensureRegistryVersion(
  arm: ArmClient,
  o: PromoteOptions,
  id: string,
  w: {
    model: ModelVersionBody;
    modelUri: string;
    tags: Record<string, string>;
    started: number;
    credential: TokenCredential;
  },
): Promise<boolean> {
  const { name, version } = o.model;
  const existing = await arm.tryGet<RegistryVersionBody>(id);
  if (existing) {
    let state = existing.properties?.provisioningState ?? "Succeeded";
    if (!SETTLED_STATE.test(state)) {
      log(`  registry version ${name}:${version} is ${state}: waiting for it`);
      const p = await awaitProvisioning<RegistryVersionBody>(arm, id, {
        started: w.started,
        timeoutMs: o.timeoutMs,
        pollMs: o.pollMs,
        whileMissing: false,
      });
      if (p.timedOut) throw new CliError(`registry version ${name}:${version} is still ${p.state}`);
      state = p.state;
    }
    if (state !== "Succeeded") {
      throw new CliError(
        `registry version ${name}:${version} exists in state ${state}: it is not reused, and it is not deleted (a registry never re-creates a deleted version)`,
        [
          "Train again (a new run hash is a new version), or ask the registry's owners to repair this version.",
        ],
      );
    }
    const from = existing.properties?.tags?.sourceModelId;
    if (from && from.toLowerCase() !== o.model.id.id.toLowerCase())
      log(`  note: registry version ${name}:${version} was promoted from ${from}`);
    log(`  registry version ${name}:${version} exists: reused, nothing uploaded or registered`);
    return true;
  }

  // startPendingUpload (examples/Registry/ModelVersion/createOrGetStartPendingUpload.json)
  const res = await arm.send("POST", `${id}/startPendingUpload`, {
    body: { pendingUploadId: randomUUID(), pendingUploadType: "TemporaryBlobReference" },
  });
  const ref = jsonOf<PendingUploadResponse>(res).blobReferenceForConsumption;
  const sasUri = ref?.credential?.sasUri;
  const blobUri = ref?.blobUri;
  if (sasUri) registerSecret(sasUri);
  if (!blobUri || !sasUri || ref?.credential?.credentialType !== "SAS") {
    throw new CliError(
      `startPendingUpload for ${name}:${version} gave no SAS upload location (credentialType ${ref?.credential?.credentialType ?? "none"})`,
    );
  }
  const sasUrl = URL.canParse(sasUri) ? new URL(sasUri) : undefined;
  registerSecret(sasUrl?.search.slice(1));
  if (sasUrl?.protocol !== "https:" || !URL.canParse(blobUri) || new URL(blobUri).protocol !== "https:")
    throw new CliError(
      `startPendingUpload for ${name}:${version} gave an upload location that is not an https URL`,
    );
  log(`  upload location: ${blobUri}`);

  const source = await resolveModelBlobs(
    arm,
    { id: o.model.id, storageEndpoint: o.storageEndpoint },
    w.modelUri,
    w.credential,
  );
  log(`  files of ${name}:${version}: ${describeSource(source)}`);
  const staging = mkdtempSync(path.join(os.tmpdir(), "promote-model-"));
  try {
    const files = await downloadModelBlobs(source, staging);
    const bytes = await uploadFilesToSas(sasUri, staging, files);
    log(`  ${files.length} file(s), ${bytes} bytes uploaded`);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }

  // PUT the version (examples/Registry/ModelVersion/createOrUpdate.json), an LRO
  const p = w.model.properties ?? {};
  const properties = {
    modelType: p.modelType ?? "custom_model",
    modelUri: blobUri,
    description:
      o.description ?? p.description ?? `${name}:${version} promoted from workspace ${o.model.id.workspace}`,
    tags: w.tags,
    properties: p.properties ?? {},
  };
  const put = await arm.send("PUT", id, { body: { properties } });
  log(`  registered ${name}:${version} in registry ${o.registry.name} (HTTP ${put.status})`);
  await arm.waitForLro(put, {
    pollMs: o.pollMs,
    timeoutMs: Math.max(0, o.timeoutMs - (Date.now() - w.started)),
    what: `registry version ${name}:${version}`,
  });
  const done = await awaitProvisioning<RegistryVersionBody>(arm, id, {
    started: w.started,
    timeoutMs: o.timeoutMs,
    pollMs: o.pollMs,
    whileMissing: true,
  });
  if (done.timedOut || done.state !== "Succeeded")
    throw new CliError(`registry version ${name}:${version} ended ${done.state}`);
  return false;
}

/** PUT the container with its writable fields as read and `champion: <version>` (LRO followed). */
async function setChampion(
  arm: ArmClient,
  containerId: string,
  version: string,
  o: PromoteOptions,
): Promise<void> {
  const current = (await arm.tryGet<ModelContainerBody>(containerId))?.properties ?? {};
  // ModelContainer properties (examples/Registry/ModelContainer/createOrUpdate.json; isArchived per the spec)
  const properties = {
    ...(current.description !== undefined ? { description: current.description } : {}),
    ...(current.properties !== undefined ? { properties: current.properties } : {}),
    ...(current.isArchived !== undefined ? { isArchived: current.isArchived } : {}),
    tags: { ...current.tags, [CHAMPION_TAG]: version },
  };
  const res = await arm.send("PUT", containerId, { body: { properties } });
  await arm.waitForLro(res, {
    pollMs: o.pollMs,
    timeoutMs: o.timeoutMs,
    what: `model container ${o.model.name}`,
  });
  log(`  ${o.registry.name}/${o.model.name}: ${CHAMPION_TAG} = ${version} (HTTP ${res.status})`);
}

export const cli = { name: "promote-model", usage: USAGE, parse: parsePromoteArgs, main: promoteModel };

if (require.main === module) runCli(cli);
