/**
 * Azure ML registry routes for FakeAzure (ML 2025-12-01, Azure/azure-rest-api-specs specification/
 * machinelearningservices/resource-manager/Microsoft.MachineLearningServices/stable/2025-12-01): the registry GET,
 * model containers (GET, PUT), model versions (GET; PUT as a long-running operation or a plain 201), and
 * startPendingUpload, whose SAS URL points at this fake's blob service, where the upload really lands (Put Blob with
 * the SAS, bytes as sent). Like the service, it never re-creates a version that was deleted and lets only the
 * description and tags of an existing version change. There is no DELETE route at all: a CLI that sends one gets the
 * fake's NoRoute and the test fails.
 */
import { randomBytes, randomUUID } from "node:crypto";
import type { FakeAzure, FakeReq, FakeRes } from "./fakeAzure";
import { RG, SUB } from "./fakeAzure";

export const REGISTRY = "mlr-mnist-test";
export const REGISTRY_ID = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.MachineLearningServices/registries/${REGISTRY}`;
/** the registry's system-created storage account (regionDetails[].storageAccountDetails) */
export const REGISTRY_ACCOUNT = "mlrmnisttest0a1b2c";
const API = "2025-12-01";

export interface RegistryVersion {
  /** ModelVersion properties as PUT (writable ones) */
  properties: Record<string, unknown>;
  provisioningState: string;
}

export interface RegistryStore {
  /** model name → container properties (description, tags, properties, isArchived) */
  containers: Map<string, Record<string, unknown>>;
  /** `<name>/<version>` → the version */
  versions: Map<string, RegistryVersion>;
  /** `<name>/<version>` of versions deleted before: the registry refuses to create them again */
  deleted: Map<string, string>;
  /** the registry storage's blobs: `<container>/<blob path>` → bytes */
  blobs: Map<string, Buffer>;
  /** the storage containers startPendingUpload handed out */
  pending: Set<string>;
  /** the SAS signature of the pending uploads (a secret the CLI must never print) */
  sasSig: string;
  /** version PUTs answer 202 + Azure-AsyncOperation (the spec's LRO) instead of 201 with the body */
  lro: boolean;
  /** version PUT, container PUT and startPendingUpload requests received */
  versionPuts: FakeReq[];
  containerPuts: FakeReq[];
  pendingUploads: FakeReq[];
}

export function registryStore(fake: FakeAzure, o: { lro?: boolean } = {}): RegistryStore {
  const sasSig = randomBytes(32).toString("base64");
  fake.extraSecrets.push(sasSig, encodeURIComponent(sasSig));
  return {
    containers: new Map(),
    versions: new Map(),
    deleted: new Map(),
    blobs: new Map(),
    pending: new Set(),
    sasSig,
    lro: o.lro ?? true,
    versionPuts: [],
    containerPuts: [],
    pendingUploads: [],
  };
}

const systemData = {
  createdAt: "2026-11-26T10:00:00.000Z",
  createdBy: "ci",
  createdByType: "Application",
  lastModifiedAt: "2026-11-26T10:00:00.000Z",
  lastModifiedBy: "ci",
  lastModifiedByType: "Application",
};

/** The error body ARM services answer with (common-types ErrorResponse). */
const armError = (status: number, code: string, message: string): FakeRes => ({
  status,
  body: { error: { code, message } },
});

const CONTAINER_PATH = new RegExp(`^${REGISTRY_ID}/models/([^/]+)$`, "i");
const VERSION_PATH = new RegExp(`^${REGISTRY_ID}/models/([^/]+)/versions/([^/]+)$`, "i");
const PENDING_PATH = new RegExp(`^${REGISTRY_ID}/models/([^/]+)/versions/([^/]+)/startPendingUpload$`, "i");
const OPERATION_PATH = new RegExp(
  `^/subscriptions/${SUB}/providers/Microsoft\\.MachineLearningServices/locations/westeurope/registryOperations/([^/]+)$`,
  "i",
);
const WRITABLE_CONTAINER = ["description", "tags", "properties", "isArchived"];

/** examples/Registry/ModelContainer/get.json, with the read-only fields the spec adds */
function containerResource(store: RegistryStore, name: string): Record<string, unknown> {
  const versions = [...store.versions.keys()].filter((k) => k.startsWith(`${name}/`));
  return {
    id: `${REGISTRY_ID}/models/${name}`,
    name,
    type: "Microsoft.MachineLearningServices/registries/models",
    properties: {
      ...store.containers.get(name),
      latestVersion: versions.length ? versions[versions.length - 1].split("/")[1] : null,
      nextVersion: null,
      provisioningState: "Succeeded",
    },
    systemData,
  };
}

/** examples/Registry/ModelVersion/get.json */
export function versionResource(name: string, version: string, v: RegistryVersion): Record<string, unknown> {
  return {
    id: `${REGISTRY_ID}/models/${name}/versions/${version}`,
    name: version,
    type: "Microsoft.MachineLearningServices/registries/models/versions",
    properties: {
      isAnonymous: false,
      isArchived: false,
      ...v.properties,
      provisioningState: v.provisioningState,
    },
    systemData,
  };
}

/** Installs the registry's routes and its storage's Put Blob (SAS only). */
export function installRegistry(fake: FakeAzure, store: RegistryStore): void {
  const operations = new Map<string, { key: string; polls: number }>();

  // Registries_Get (examples/Registries/get.json, trimmed)
  fake.on("GET", REGISTRY_ID, {
    status: 200,
    body: {
      id: REGISTRY_ID,
      name: REGISTRY,
      type: "Microsoft.MachineLearningServices/registries",
      location: "westeurope",
      kind: "",
      tags: {},
      identity: {
        type: "SystemAssigned",
        principalId: "00000000-1111-2222-3333-444444444444",
        tenantId: fake.tenant,
      },
      sku: { name: "P3", tier: "Basic" },
      properties: {
        discoveryUrl:
          "https://westeurope.api.azureml.ms/registrymanagement/v1.0/registries/mlr-mnist-test/discovery",
        mlFlowRegistryUri: `azureml://westeurope.api.azureml.ms/mlflow/v1.0${REGISTRY_ID}`,
        publicNetworkAccess: "Enabled",
        regionDetails: [
          {
            location: "westeurope",
            storageAccountDetails: [
              {
                systemCreatedStorageAccount: {
                  storageAccountName: REGISTRY_ACCOUNT,
                  storageAccountType: "Standard_LRS",
                  storageAccountHnsEnabled: false,
                  allowBlobPublicAccess: false,
                },
              },
            ],
          },
        ],
      },
      systemData,
    },
  });

  // RegistryModelContainers_Get / _CreateOrUpdate (examples/Registry/ModelContainer/{get,createOrUpdate}.json)
  fake.on("GET", CONTAINER_PATH, (req) => {
    const name = CONTAINER_PATH.exec(req.path)![1];
    if (!store.containers.has(name))
      return armError(404, "UserError", `Could not find asset with ID: ${req.path}`);
    return { status: 200, body: containerResource(store, name) };
  });
  fake.on("PUT", CONTAINER_PATH, (req) => {
    store.containerPuts.push(req);
    const name = CONTAINER_PATH.exec(req.path)![1];
    const props = (JSON.parse(req.body) as { properties?: Record<string, unknown> }).properties ?? {};
    const unknown = Object.keys(props).filter((k) => !WRITABLE_CONTAINER.includes(k));
    if (unknown.length)
      return armError(400, "UserError", `read-only or unknown properties: ${unknown.join(", ")}`);
    const existed = store.containers.has(name);
    store.containers.set(name, props);
    return { status: existed ? 200 : 201, body: containerResource(store, name) };
  });

  // RegistryModelVersions_Get / _CreateOrUpdate (examples/Registry/ModelVersion/{get,createOrUpdate}.json)
  fake.on("GET", VERSION_PATH, (req) => {
    const [, name, version] = VERSION_PATH.exec(req.path)!;
    const v = store.versions.get(`${name}/${version}`);
    if (!v) return armError(404, "UserError", `Could not find asset with ID: ${req.path}`);
    return { status: 200, body: versionResource(name, version, v) };
  });
  fake.on("PUT", VERSION_PATH, (req) => {
    store.versionPuts.push(req);
    const [, name, version] = VERSION_PATH.exec(req.path)!;
    const key = `${name}/${version}`;
    const deletedAt = store.deleted.get(key);
    if (deletedAt) {
      // the service's refusal (Azure/azureml-assets#2919)
      return armError(
        400,
        "UserError",
        `Asset ${name}:${version} was deleted at ${deletedAt}, it cannot be recreated. Please use a different version.`,
      );
    }
    const props = (JSON.parse(req.body) as { properties?: Record<string, unknown> }).properties ?? {};
    const existing = store.versions.get(key);
    if (existing) {
      const changed = Object.keys({ ...existing.properties, ...props }).filter(
        (k) =>
          k !== "description" &&
          k !== "tags" &&
          JSON.stringify(existing.properties[k]) !== JSON.stringify(props[k]),
      );
      if (changed.length)
        return armError(
          400,
          "UserError",
          `Only description and tags of a version can be updated (${changed})`,
        );
    } else {
      const problem = checkUploaded(store, props.modelUri, fake);
      if (problem) return armError(400, "UserError", problem);
    }
    const v: RegistryVersion = { properties: props, provisioningState: store.lro ? "Creating" : "Succeeded" };
    store.versions.set(key, v);
    if (!store.lro) return { status: existing ? 200 : 201, body: versionResource(name, version, v) };
    const op = randomUUID();
    operations.set(op, { key, polls: 0 });
    const opUrl = `${fake.url}/subscriptions/${SUB}/providers/Microsoft.MachineLearningServices/locations/westeurope/registryOperations/${op}?api-version=${API}`;
    return {
      status: 202,
      headers: { "azure-asyncoperation": opUrl, location: opUrl, "retry-after": "0" },
    };
  });
  // the operation status (common-types: {status, ...}); InProgress once, then Succeeded and the version with it
  fake.on("GET", OPERATION_PATH, (req) => {
    const id = OPERATION_PATH.exec(req.path)![1];
    const op = operations.get(id);
    if (!op) return armError(404, "NotFound", "no such operation");
    if (op.polls++ === 0) return { status: 200, body: { status: "InProgress" } };
    store.versions.get(op.key)!.provisioningState = "Succeeded";
    return { status: 200, body: { status: "Succeeded" } };
  });

  // RegistryModelVersions_CreateOrGetStartPendingUpload (examples/Registry/ModelVersion/createOrGetStartPendingUpload.json)
  fake.on("POST", PENDING_PATH, (req) => {
    store.pendingUploads.push(req);
    const body = JSON.parse(req.body || "{}") as { pendingUploadId?: string; pendingUploadType?: string };
    if (body.pendingUploadType !== "TemporaryBlobReference" || !body.pendingUploadId)
      return armError(
        400,
        "UserError",
        "pendingUploadType must be TemporaryBlobReference, with a pendingUploadId",
      );
    const container = `pending-${body.pendingUploadId}`.toLowerCase();
    store.pending.add(container);
    const blobUri = `${fake.url}/${REGISTRY_ACCOUNT}/${container}`;
    const sas = `sv=2025-11-05&se=2026-11-27T10%3A00%3A00Z&sr=c&sp=racwdl&sig=${encodeURIComponent(store.sasSig)}`;
    return {
      status: 200,
      body: {
        blobReferenceForConsumption: {
          blobUri,
          storageAccountArmId: `/subscriptions/${SUB}/resourceGroups/azureml-rg-${REGISTRY}/providers/Microsoft.Storage/storageAccounts/${REGISTRY_ACCOUNT}`,
          credential: { credentialType: "SAS", sasUri: `${blobUri}?${sas}` },
        },
        pendingUploadId: body.pendingUploadId,
        pendingUploadType: "TemporaryBlobReference",
      },
    };
  });

  // Put Blob into a pending upload's container, with its SAS only (the bytes as received)
  const blobPath = new RegExp(`^/${REGISTRY_ACCOUNT}/([^/]+)/(.+)$`);
  fake.on(
    "PUT",
    blobPath,
    (req): FakeRes => {
      const [, container, blob] = blobPath.exec(req.path)!;
      if (req.query.get("sig") !== store.sasSig || req.headers.authorization)
        return { status: 403, headers: { "x-ms-error-code": "AuthenticationFailed" }, body: "" };
      if (!store.pending.has(container))
        return { status: 404, headers: { "x-ms-error-code": "ContainerNotFound" }, body: "" };
      if (req.headers["x-ms-blob-type"] !== "BlockBlob") return { status: 400, body: "BlockBlob only" };
      store.blobs.set(`${container}/${blob}`, req.bytes ?? Buffer.from(req.body, "utf8"));
      return {
        status: 201,
        headers: { etag: `"0x8DD${blob.length}"`, "last-modified": "Wed, 26 Nov 2026 10:00:00 GMT" },
      };
    },
    { open: true },
  );
}

/** A new version's modelUri must be a pending upload's blobUri with blobs under it. */
function checkUploaded(store: RegistryStore, modelUri: unknown, fake: FakeAzure): string | undefined {
  const prefix = `${fake.url}/${REGISTRY_ACCOUNT}/`;
  if (typeof modelUri !== "string" || !modelUri.startsWith(prefix))
    return `modelUri ${String(modelUri)} is not a pending upload of this registry`;
  const container = modelUri.slice(prefix.length).split("/")[0];
  if (!store.pending.has(container)) return `modelUri ${modelUri} is not a pending upload of this registry`;
  if (![...store.blobs.keys()].some((k) => k.startsWith(`${container}/`)))
    return `nothing was uploaded to ${modelUri}`;
  return undefined;
}

/** The files of a registry version, relative to its modelUri (what the upload left there). */
export function versionFiles(
  store: RegistryStore,
  fake: FakeAzure,
  name: string,
  version: string,
): Map<string, Buffer> {
  const uri = String(store.versions.get(`${name}/${version}`)?.properties.modelUri ?? "");
  const container = uri.slice(`${fake.url}/${REGISTRY_ACCOUNT}/`.length);
  const out = new Map<string, Buffer>();
  for (const [k, v] of store.blobs)
    if (k.startsWith(`${container}/`)) out.set(k.slice(container.length + 1), v);
  return out;
}

/** A version already in the registry (a champion promoted earlier), with its tags. */
export function seedVersion(
  store: RegistryStore,
  name: string,
  version: string,
  tags: Record<string, string>,
  state = "Succeeded",
): void {
  const container = `pending-seed-${version}`;
  store.pending.add(container);
  store.blobs.set(`${container}/model.keras`, Buffer.from(`seeded ${version}`));
  store.versions.set(`${name}/${version}`, {
    properties: {
      modelType: "custom_model",
      modelUri: `https://seed/${container}`,
      description: "seeded",
      tags,
      properties: {},
    },
    provisioningState: state,
  });
}
