/**
 * Asset routes for FakeAzure: a workspace that remembers its code and environment versions (GET, PUT in the shapes
 * of examples/Workspace/{Code,Environment}Version/*.json), its default datastore (examples/Datastore/get.json,
 * identity-based: no stored credential), the workspace GET naming its storage account, and the account's listKeys
 * (Storage 2023-05-01 examples/StorageAccountListKeys.json): Azure still answers listKeys with
 * `allowSharedKeyAccess: false`, so the route stays, and the tests check that nothing calls it.
 */
import type { FakeAzure, FakeReq } from "./fakeAzure";
import { RG, SUB, WS, WS_ID } from "./fakeAzure";
import { CODE_VERSION, ENVIRONMENT_VERSION, check } from "./schemas";

export const ACCOUNT = "stmnisttest01";
export const CONTAINER = "azureml-blobstore-0f0e0d0c-0b0a-0908-0706-050403020100";
/** Where the default datastore points (a BlobDatastore of lib/azureml/assets.ts). */
export const BLOB_LOCATION = {
  accountName: ACCOUNT,
  containerName: CONTAINER,
  endpoint: "core.windows.net",
  protocol: "https",
};
export const ACCOUNT_ID = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Storage/storageAccounts/${ACCOUNT}`;

export interface AssetStore {
  /** ARM id of a version → its properties */
  versions: Map<string, Record<string, unknown>>;
  /** the PUT requests received */
  puts: FakeReq[];
}

export function assetStore(): AssetStore {
  return { versions: new Map(), puts: [] };
}

const VERSION_PATH = new RegExp(`^${WS_ID}/(codes|environments)/[^/]+/versions/[^/]+$`);

function versionResource(id: string, properties: Record<string, unknown>) {
  const [, kind, name, , version] = id.slice(WS_ID.length + 1).split("/");
  return {
    id,
    name: version,
    type: `Microsoft.MachineLearningServices/workspaces/${kind}/versions`,
    properties: { isAnonymous: false, isArchived: false, ...properties, provisioningState: "Succeeded" },
    systemData: { createdAt: "2026-11-26T10:00:00Z", createdBy: "ci", createdByType: "Application", name },
  };
}

/** GET/PUT of code and environment versions; an unknown version is a 404 with the service's UserError. */
export function installAssetVersions(fake: FakeAzure, store: AssetStore): void {
  fake.on("GET", VERSION_PATH, (req) => {
    const props = store.versions.get(req.path);
    if (!props) {
      return {
        status: 404,
        body: { error: { code: "UserError", message: `Could not find asset with ID: ${req.path}` } },
      };
    }
    return { status: 200, body: versionResource(req.path, props) };
  });
  fake.on("PUT", VERSION_PATH, (req) => {
    store.puts.push(req);
    // the body as CodeVersions/EnvironmentVersions_CreateOrUpdate take it (schemas.ts)
    const refused = check(
      VERSION_PATH.exec(req.path)![1] === "codes" ? CODE_VERSION : ENVIRONMENT_VERSION,
      JSON.parse(req.body),
    );
    if (refused) return refused;
    const props = (JSON.parse(req.body) as { properties: Record<string, unknown> }).properties;
    const existed = store.versions.has(req.path);
    store.versions.set(req.path, props);
    return { status: existed ? 200 : 201, body: versionResource(req.path, props) };
  });
}

/**
 * The GET answer of the workspace's default datastore (examples/Datastore/get.json): identity-based
 * (credentialsType None) as a workspace with systemDatastoresAuthMode Identity reports it, or with an account key or
 * SAS (`secrets` then names its type; the value comes from listSecrets).
 */
export function datastoreAnswer(credentialsType = "None", account = ACCOUNT) {
  return {
    status: 200,
    body: {
      id: `${WS_ID}/datastores/workspaceblobstore`,
      name: "workspaceblobstore",
      properties: {
        datastoreType: "AzureBlob",
        accountName: account,
        containerName: CONTAINER,
        endpoint: "core.windows.net",
        protocol: "https",
        isDefault: true,
        credentials: {
          credentialsType,
          ...(credentialsType === "None" ? {} : { secrets: { secretsType: credentialsType } }),
        },
      },
    },
  };
}

/** The default datastore, the workspace (naming its storage account) and the account's keys (both secrets). */
export function installDatastore(
  fake: FakeAzure,
  key: string,
  location: Partial<typeof BLOB_LOCATION> = {},
): void {
  const key2 = `${key.slice(0, -4)}zzz=`;
  fake.extraSecrets.push(key, key2);
  // examples/Datastore/get.json, as the default datastore of a workspace with systemDatastoresAuthMode Identity
  // reports it: credentialsType None (the caller's or the compute's identity reads and writes)
  const properties = {
    ...BLOB_LOCATION,
    ...location,
    datastoreType: "AzureBlob",
    isDefault: true,
    credentials: { credentialsType: "None" },
  };
  fake.on("GET", `${WS_ID}/datastores/workspaceblobstore`, {
    status: 200,
    body: { id: `${WS_ID}/datastores/workspaceblobstore`, name: "workspaceblobstore", properties },
  });
  fake.on("GET", WS_ID, {
    status: 200,
    body: { id: WS_ID, name: WS, properties: { storageAccount: ACCOUNT_ID, provisioningState: "Succeeded" } },
  });
  fake.on("POST", `${ACCOUNT_ID}/listKeys`, (req) =>
    req.query.get("api-version") === "2023-05-01"
      ? {
          status: 200,
          body: {
            keys: [
              { keyName: "key1", permissions: "Full", value: key },
              { keyName: "key2", permissions: "Full", value: key2 },
            ],
          },
        }
      : { status: 400, body: { error: { code: "InvalidApiVersionParameter", message: "bad api-version" } } },
  );
}
