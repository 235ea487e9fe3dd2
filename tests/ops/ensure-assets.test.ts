/**
 * ops/ensure-code.ts and ops/ensure-environment.ts: reuse or register content-addressed versions, as child processes
 * against the fake (a workspace that remembers its versions, its identity-based default datastore, blob storage with
 * writes that takes storage tokens and refuses account keys), and their pure helpers.
 */
import * as fs from "node:fs";
import * as https from "node:https";
import * as os from "node:os";
import * as path from "node:path";
import { randomBytes } from "node:crypto";
import { FakeAzure, WS_ID } from "./fake/fakeAzure";
import {
  ACCOUNT,
  ACCOUNT_ID,
  assetStore,
  BLOB_LOCATION,
  CONTAINER,
  installAssetVersions,
  installDatastore,
} from "./fake/assets";
import { audienceOf, installBlobWrites, isStorageAudience, type BlobStore } from "./fake/blobs";
import { runCli, type CliResult } from "./fake/runCli";
import { blobFolderUrl, checkNameSegment, describedBy, jsonObjectFromEnv } from "../../lib/azureml/assets";
import { imageIsPinned, parseEnvironmentSpec } from "../../ops/ensure-environment";
import { filesMatchingVersion } from "../../ops/ensure-code";
import { hashFolder, shortHash } from "../../lib/core/hashing";
import { listCodeFiles } from "../../lib/core/codeFiles";
import { UsageError } from "../../lib/toolkit/errors";

const fake = new FakeAzure();
const outputs: CliResult[] = [];
/** the project root the step runs in: a temp folder per test, holding `training/` */
let root = "";
const roots: string[] = [];
beforeAll(() => fake.start());
beforeEach(() => {
  fake.reset();
  root = fs.mkdtempSync(path.join(os.tmpdir(), "ensure-code-"));
  roots.push(root);
});
afterAll(async () => {
  for (const r of roots) fs.rmSync(r, { recursive: true, force: true });
  await fake.stop();
});

const KEY = randomBytes(64).toString("base64");
const SPEC = { description: "training/ at content hash", tags: { project: "azure-ml-mnist" } };

/** A small code folder `<root>/training` (text files: the fake keeps request bodies as text). */
const FILES: Record<string, string> = {
  "app.py": "import data\nprint('train')\n",
  "data.py": "def load():\n    return []\n",
  "requirements.txt": "keras==3.15.0\n",
  "conf/settings.json": '{"epochs": 5}\n',
  "conf/notes.cfg": "[x]\ny = 1\n",
};
const CONTENT_TYPES: Record<string, string> = {
  "app.py": "text/x-python",
  "data.py": "text/x-python",
  "requirements.txt": "text/plain",
  "conf/settings.json": "application/json",
  "conf/notes.cfg": "application/octet-stream",
};

function writeFolder(files: Record<string, string> = FILES): string {
  const dir = path.join(root, "training");
  for (const [rel, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), text);
  }
  fs.mkdirSync(path.join(dir, "__pycache__"), { recursive: true });
  fs.writeFileSync(path.join(dir, "__pycache__", "app.cpython-311.pyc"), "not uploaded");
  return dir;
}

const versionOf = (dir: string) => shortHash(hashFolder(dir), 16);
const codeId = (v: string) => `${WS_ID}/codes/mnist-train/versions/${v}`;

/** Runs ensure-code the way the graph does: working directory = the project root, folder relative to it. */
async function ensureCode(version: string, env: Record<string, string> = {}): Promise<CliResult> {
  const r = await runCli(
    "ensure-code",
    ["--workspace-id", WS_ID, "--name", "mnist-train", "--version", version, "--folder", "training"],
    fake.env({ ASSET_SPEC: JSON.stringify(SPEC), AZURE_STORAGE_ENDPOINT_OVERRIDE: fake.url, ...env }),
    root,
  );
  outputs.push(r);
  return r;
}

function blobStore(containerExists: boolean): BlobStore {
  const store: BlobStore = {
    account: ACCOUNT,
    container: CONTAINER,
    blobs: new Map(),
    auth: [],
    pageSize: 50,
  };
  store.containerExists = containerExists;
  installBlobWrites(fake, store);
  return store;
}

/** Workspace, datastore, keys, versions and blob writes: everything a first upload needs. */
function installAll(containerExists: boolean) {
  const assets = assetStore();
  installAssetVersions(fake, assets);
  installDatastore(fake, KEY);
  return { assets, blobs: blobStore(containerExists) };
}

const blobPuts = () => fake.requests.filter((q) => q.method === "PUT" && q.path.startsWith(`/${ACCOUNT}/`));
const blobRequests = () => fake.requests.filter((q) => q.path.startsWith(`/${ACCOUNT}/`));

/** One HTTPS request to the fake from this process (trusting its certificate): status, error code, body. */
function request(
  method: string,
  url: string,
  headers: Record<string, string>,
  body = "",
): Promise<{ status: number; code: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      {
        method,
        headers: { ...headers, "content-length": String(Buffer.byteLength(body)) },
        ca: fs.readFileSync(fake.caFile),
      },
      (res) => {
        let text = "";
        res.on("data", (c: Buffer) => (text += c.toString()));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            code: String(res.headers["x-ms-error-code"] ?? ""),
            body: text,
          }),
        );
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** A token from the fake's Entra for `scope` (client credentials, as EnvironmentCredential asks for one). */
async function tokenFor(scope: string): Promise<string> {
  const form = new URLSearchParams({
    grant_type: "client_credentials",
    client_id: fake.clientId,
    client_secret: fake.clientSecret,
    scope,
  });
  const res = await request(
    "POST",
    `${fake.url}/${fake.tenant}/oauth2/v2.0/token`,
    { "content-type": "application/x-www-form-urlencoded" },
    form.toString(),
  );
  return (JSON.parse(res.body) as { access_token: string }).access_token;
}

/** Put Blob of `text` to `blob` in the workspace container with the given Authorization header. */
const putBlob = (blob: string, authorization: string, text = "print('pwned')\n") =>
  request(
    "PUT",
    `${fake.url}/${ACCOUNT}/${CONTAINER}/${blob}`,
    {
      authorization,
      "x-ms-date": new Date().toUTCString(),
      "x-ms-version": "2025-11-05",
      "x-ms-blob-type": "BlockBlob",
    },
    text,
  );

describe("ensure-code", () => {
  test("a new version: container created, every file uploaded with its content type, then the version PUT", async () => {
    const dir = writeFolder();
    const v = versionOf(dir);
    const { assets, blobs } = installAll(false);
    const r = await ensureCode(v);
    expect(r.code).toBe(0);
    expect(r.json).toEqual({ id: codeId(v), name: "mnist-train", version: v, reused: false, uploaded: 5 });
    const prefix = `LocalUpload/${v}/training`;
    expect([...blobs.blobs.keys()].sort()).toEqual(
      Object.keys(FILES)
        .map((f) => `${prefix}/${f}`)
        .sort(),
    );
    for (const [rel, text] of Object.entries(FILES)) {
      expect(blobs.blobs.get(`${prefix}/${rel}`)!.toString("utf8")).toBe(text);
      expect(blobs.contentTypes!.get(`${prefix}/${rel}`)).toBe(CONTENT_TYPES[rel]);
    }
    expect(blobs.containerExists).toBe(true);
    // every blob call carried a storage token; no account key was read or sent
    expect(blobs.auth.length).toBe(6);
    expect(blobs.auth.every((a) => a === "Bearer")).toBe(true);
    for (const q of blobRequests()) {
      expect(String(q.headers.authorization)).toMatch(/^Bearer /);
      expect(isStorageAudience(audienceOf(q.token!), ACCOUNT)).toBe(true);
    }
    // order: the container first, the version last (it must never name a folder that is not complete)
    const puts = fake.requests.filter((q) => q.method === "PUT");
    expect(puts[0].query.get("restype")).toBe("container");
    expect(puts[puts.length - 1].path).toBe(codeId(v));
    expect(assets.puts).toHaveLength(1);
    expect(JSON.parse(assets.puts[0].body)).toEqual({
      properties: {
        codeUri: `https://${ACCOUNT}.blob.core.windows.net/${CONTAINER}/${prefix}`,
        description: SPEC.description,
        tags: SPEC.tags,
      },
    });
    expect(fake.count("POST", `${ACCOUNT_ID}/listKeys`)).toBe(0);
    expect(r.stderr).toContain(`container ${CONTAINER}: created`);
  });

  test("an existing version is reused: nothing uploaded, nothing registered, no key asked for", async () => {
    const dir = writeFolder();
    const v = versionOf(dir);
    const { assets } = installAll(true);
    assets.versions.set(codeId(v), { codeUri: "https://x.blob.core.windows.net/c/LocalUpload/x/training" });
    const r = await ensureCode(v);
    expect(r.code).toBe(0);
    expect(r.json).toEqual({ id: codeId(v), name: "mnist-train", version: v, reused: true, uploaded: 0 });
    expect(blobPuts()).toHaveLength(0);
    expect(assets.puts).toHaveLength(0);
    expect(fake.count("POST", `${ACCOUNT_ID}/listKeys`)).toBe(0);
    expect(r.stderr).toContain(`code mnist-train:${v} already exists in the workspace: reused`);
  });

  test("a container that already exists (409 ContainerAlreadyExists) is fine", async () => {
    const v = versionOf(writeFolder());
    const { blobs } = installAll(true);
    const r = await ensureCode(v);
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ reused: false, uploaded: 5 });
    expect(blobs.blobs.size).toBe(5);
    expect(r.stderr).toContain(`container ${CONTAINER}: exists`);
  });

  test("A -> B -> A: an edit undone reuses the first version, the third run uploads nothing", async () => {
    const dir = writeFolder();
    const { assets } = installAll(false);
    const a = versionOf(dir);
    const first = await ensureCode(a);
    fs.appendFileSync(path.join(dir, "app.py"), "# tuned\n");
    const b = versionOf(dir);
    const second = await ensureCode(b);
    fs.writeFileSync(path.join(dir, "app.py"), FILES["app.py"]);
    expect(versionOf(dir)).toBe(a);
    const before = blobPuts().length;
    const third = await ensureCode(a);
    expect([first.code, second.code, third.code]).toEqual([0, 0, 0]);
    expect(b).not.toBe(a);
    expect(first.json).toMatchObject({ version: a, reused: false, uploaded: 5 });
    expect(second.json).toMatchObject({ version: b, reused: false, uploaded: 5 });
    expect(third.json).toEqual({ id: codeId(a), name: "mnist-train", version: a, reused: true, uploaded: 0 });
    expect(blobPuts().length).toBe(before);
    expect(assets.puts.map((q) => q.path)).toEqual([codeId(a), codeId(b)]);
  });

  test("the folder's .amlignore keeps a .env and stray model files out of the upload and out of the version", async () => {
    const dir = writeFolder({
      ...FILES,
      ".amlignore": "# secrets and outputs stay local\n.env\n*.keras\nconf/*.cfg\n",
      ".env": "AZURE_CLIENT_SECRET=must-not-reach-blob-storage\n",
      "mnist_cnn.keras": "weights",
    });
    const v = shortHash(hashFolder(dir, listCodeFiles(dir)), 16);
    expect(v).not.toBe(versionOf(dir)); // the unfiltered folder hashes differently
    const { blobs } = installAll(true);
    const r = await ensureCode(v);
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ version: v, reused: false, uploaded: 5 });
    const prefix = `LocalUpload/${v}/training`;
    expect([...blobs.blobs.keys()].sort()).toEqual(
      [".amlignore", "app.py", "conf/settings.json", "data.py", "requirements.txt"].map(
        (f) => `${prefix}/${f}`,
      ),
    );
    for (const q of fake.requests) expect(q.body).not.toContain("must-not-reach-blob-storage");
    // the version the unfiltered folder would have: refused, the graph and the step hash the same list
    expect((await ensureCode(versionOf(dir))).stderr).toContain(`changed since the preview computed version`);
  });

  test("a folder whose content no longer matches --version fails before any request", async () => {
    const dir = writeFolder();
    const stale = "0123456789abcdef";
    const r = await ensureCode(stale);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `training/ changed since the preview computed version ${stale} (now ${versionOf(dir)}): run pulumi up again`,
    );
    expect(r.json).toHaveProperty("error");
    expect(fake.requests).toHaveLength(0);
  });

  test("5xx from ARM (version GET, workspace GET) is retried by the toolkit", async () => {
    const v = versionOf(writeFolder());
    const { assets } = installAll(false);
    fake.sequence("GET", codeId(v), [
      { status: 503, body: { error: { code: "ServiceUnavailable", message: "busy" } } },
      { status: 404, body: { error: { code: "UserError", message: "Could not find asset" } } },
    ]);
    fake.sequence("GET", WS_ID, [
      { status: 500, body: { error: { code: "InternalServerError", message: "oops" } } },
      { status: 200, body: { id: WS_ID, properties: { storageAccount: ACCOUNT_ID } } },
    ]);
    const r = await ensureCode(v);
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ reused: false, uploaded: 5 });
    expect(r.stderr).toContain("HTTP 503");
    expect(r.stderr).toContain("HTTP 500");
    expect(assets.puts).toHaveLength(1);
  });

  test("an upload without a data role (403 AuthorizationPermissionMismatch) names the role and registers nothing", async () => {
    const v = versionOf(writeFolder());
    const { assets } = installAll(true);
    fake.on(
      "PUT",
      new RegExp(`^/${ACCOUNT}/${CONTAINER}/.+`),
      {
        status: 403,
        headers: { "content-type": "application/xml", "x-ms-error-code": "AuthorizationPermissionMismatch" },
        body: `<?xml version="1.0" encoding="utf-8"?><Error><Code>AuthorizationPermissionMismatch</Code><Message>This request is not authorized to perform this operation using this permission.</Message></Error>`,
      },
      { open: true },
    );
    const r = await ensureCode(v);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("(HTTP 403)");
    expect(r.stderr).toContain("Storage Blob Data Contributor");
    expect(assets.puts).toHaveLength(0);
  });

  test("no listKeys call, and the account refuses a SharedKey upload (403 KeyBasedAuthenticationNotPermitted)", async () => {
    const v = versionOf(writeFolder());
    const { blobs } = installAll(true);
    expect((await ensureCode(v)).code).toBe(0);
    expect(fake.requests.filter((q) => q.path.toLowerCase().endsWith("/listkeys"))).toHaveLength(0);
    expect(blobs.auth.every((a) => a === "Bearer")).toBe(true);
    const uploaded = blobs.blobs.size;

    // What a key-based uploader (the code before this change) would send: refused by the account.
    const sharedKey = await putBlob("LocalUpload/x/app.py", `SharedKey ${ACCOUNT}:c2lnbmF0dXJlc2lnbmF0dXJl`);
    expect([sharedKey.status, sharedKey.code]).toEqual([403, "KeyBasedAuthenticationNotPermitted"]);
    // A token for another audience (ARM's) is refused too; only a storage token writes.
    const arm = await putBlob("LocalUpload/x/app.py", `Bearer ${await tokenFor(`${fake.url}/.default`)}`);
    expect([arm.status, arm.code]).toEqual([401, "InvalidAuthenticationInfo"]);
    expect(blobs.blobs.size).toBe(uploaded);
    const storage = await putBlob(
      "LocalUpload/x/app.py",
      `Bearer ${await tokenFor("https://storage.azure.com/.default")}`,
    );
    expect(storage.status).toBe(201);
    expect(blobs.blobs.size).toBe(uploaded + 1);
  });

  test("a datastore that names another storage account gets nothing: refused before any blob request", async () => {
    const v = versionOf(writeFolder());
    const { assets } = installAll(true);
    installDatastore(fake, KEY, { accountName: "stsomeoneelse01" });
    const r = await ensureCode(v);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("refusing to upload to storage account stsomeoneelse01");
    expect(fake.requests.some((q) => q.path.startsWith("/stsomeoneelse01/"))).toBe(false);
    expect(blobRequests()).toHaveLength(0);
    expect(assets.puts).toHaveLength(0);
  });

  test("a datastore endpoint off Azure Storage gets no token (no --storage-endpoint: real hosts)", async () => {
    const v = versionOf(writeFolder());
    installAll(true);
    installDatastore(fake, KEY, { endpoint: "evil.example" });
    const r = await ensureCode(v, { AZURE_STORAGE_ENDPOINT_OVERRIDE: "" });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`refusing to send a storage token to https://${ACCOUNT}.blob.evil.example`);
    expect(blobRequests()).toHaveLength(0);
  });

  test("no ASSET_SPEC: usage error before any request", async () => {
    const v = versionOf(writeFolder());
    const r = await ensureCode(v, { ASSET_SPEC: "" });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("ASSET_SPEC is not set");
    expect(fake.requests).toHaveLength(0);
  });
});

const ENV_ID = `${WS_ID}/environments/mnist-train-gpu/versions/fedcba9876543210`;
const ENV_SPEC = {
  image: "mcr.microsoft.com/azureml/openmpi5.0-cuda12.4-ubuntu22.04:20250601.v1",
  condaFile: "name: train\ndependencies:\n  - python=3.11\n  - pip:\n      - keras==3.15.0\n",
  osType: "Linux",
  description: "training environment",
  tags: { project: "azure-ml-mnist" },
};

const envResult = (reused: boolean) => ({
  id: ENV_ID,
  name: "mnist-train-gpu",
  version: "fedcba9876543210",
  reused,
});

async function ensureEnvironment(spec: unknown = ENV_SPEC): Promise<CliResult> {
  const r = await runCli(
    "ensure-environment",
    ["--workspace-id", WS_ID, "--name", "mnist-train-gpu", "--version", "fedcba9876543210"],
    fake.env({ ENVIRONMENT_SPEC: typeof spec === "string" ? spec : JSON.stringify(spec) }),
  );
  outputs.push(r);
  return r;
}

describe("ensure-environment", () => {
  test("a new version is registered with ENVIRONMENT_SPEC as its properties", async () => {
    const assets = assetStore();
    installAssetVersions(fake, assets);
    const r = await ensureEnvironment();
    expect(r.code).toBe(0);
    expect(r.json).toEqual(envResult(false));
    expect(assets.puts).toHaveLength(1);
    expect(assets.puts[0].path).toBe(ENV_ID);
    expect(JSON.parse(assets.puts[0].body)).toEqual({ properties: ENV_SPEC });
  });

  test("an existing version is reused: no PUT", async () => {
    const assets = assetStore();
    installAssetVersions(fake, assets);
    assets.versions.set(ENV_ID, { image: ENV_SPEC.image, condaFile: ENV_SPEC.condaFile });
    const r = await ensureEnvironment();
    expect(r.code).toBe(0);
    expect(r.json).toEqual(envResult(true));
    expect(assets.puts).toHaveLength(0);
  });

  test.each([
    [
      "an image without tag or digest",
      { ...ENV_SPEC, image: "mcr.microsoft.com/azureml/openmpi" },
      "image must be",
    ],
    ["an empty conda file", { ...ENV_SPEC, condaFile: " " }, "condaFile must be"],
    ["not JSON", "image: x", "ENVIRONMENT_SPEC is not JSON"],
  ])("%s: exit 2 before any request", async (_what, spec, message) => {
    const r = await ensureEnvironment(spec);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
    expect(fake.requests).toHaveLength(0);
  });
});

test("no secret (account keys, tokens, client secret) appears in any output", () => {
  expect(fake.secrets()).toContain(KEY);
  expect(outputs.length).toBeGreaterThan(8);
  for (const o of outputs) for (const s of fake.secrets()) expect(o.stdout + o.stderr).not.toContain(s);
});

describe("helpers", () => {
  test("imageIsPinned: a tag or a sha256 digest", () => {
    expect(imageIsPinned("mcr.microsoft.com/azureml/minimal-py312-inference:20250601.v1")).toBe(true);
    expect(imageIsPinned(`repo.io:5000/a/b@sha256:${"a".repeat(64)}`)).toBe(true);
    expect(imageIsPinned("repo.io:5000/a/b")).toBe(false);
    expect(imageIsPinned("mcr.microsoft.com/azureml/minimal")).toBe(false);
    expect(imageIsPinned("a:b c")).toBe(false);
  });

  test("parseEnvironmentSpec: osType defaults to Linux; description and tags type-checked", () => {
    const { osType: _os, ...noOs } = ENV_SPEC;
    expect(parseEnvironmentSpec(noOs)).toEqual(ENV_SPEC);
    expect(() => parseEnvironmentSpec({ ...ENV_SPEC, osType: "Mac" })).toThrow(UsageError);
    expect(() => parseEnvironmentSpec({ ...ENV_SPEC, tags: { a: 1 } })).toThrow(
      /tags must be an object of strings/,
    );
    expect(describedBy({}, "X")).toEqual({});
    expect(() => describedBy({ description: 3 }, "X")).toThrow("X.description must be a string");
  });

  test("jsonObjectFromEnv and checkNameSegment", () => {
    expect(jsonObjectFromEnv("S", { S: '{"a":1}' })).toEqual({ a: 1 });
    expect(() => jsonObjectFromEnv("S", {})).toThrow("S is not set");
    expect(() => jsonObjectFromEnv("S", { S: "[1]" })).toThrow("S must be a JSON object");
    expect(checkNameSegment("version", "1.2", true)).toBe("1.2");
    expect(() => checkNameSegment("name", "a/b")).toThrow(UsageError);
    expect(() => checkNameSegment("name", "1.2")).toThrow(/--name must be/);
  });

  test("blobFolderUrl: the datastore's protocol, account, DNS suffix and container", () => {
    const ds = { ...BLOB_LOCATION, endpoint: "core.chinacloudapi.cn" };
    expect(blobFolderUrl(ds, "LocalUpload/v/training")).toBe(
      `https://${ACCOUNT}.blob.core.chinacloudapi.cn/${CONTAINER}/LocalUpload/v/training`,
    );
  });

  test("filesMatchingVersion: the asset's files when the hash matches; a missing folder is a usage error", () => {
    const dir = writeFolder();
    expect(filesMatchingVersion(dir, versionOf(dir))).toEqual(Object.keys(FILES).sort());
    expect(() => filesMatchingVersion(path.join(root, "nope"), "x")).toThrow(UsageError);
  });
});
