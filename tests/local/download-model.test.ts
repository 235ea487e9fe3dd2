import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as https from "node:https";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { installBlobs, type BlobStore } from "../ops/fake/blobs";
import { datastoreAnswer } from "../ops/fake/assets";
import { FakeAzure } from "../ops/fake/fakeAzure";
import { runCli, type CliResult } from "../ops/fake/runCli";
import { JOB, WS_ID } from "../ops/scenarios";
import { resolveModel } from "../../local/registry";

const fake = new FakeAzure();
const outputs: CliResult[] = [];
let dest = "";
beforeAll(() => fake.start());
afterAll(() => fake.stop());
beforeEach(() => {
  fake.reset();
  dest = fs.mkdtempSync(path.join(os.tmpdir(), "registry-"));
});
afterEach(() => fs.rmSync(dest, { recursive: true, force: true }));

const MODEL_ID = `${WS_ID}/models/mnist-cnn/versions/3f9c2a1b`;
const ACCOUNT = "stmnistabc";
const CONTAINER = "azureml-blobstore-0f0e0d0c-0b0a-0908-0706-050403020100";
const ACCOUNT_KEY = randomBytes(64).toString("base64");

function modelVersion(modelUri: string) {
  return {
    status: 200,
    body: {
      id: MODEL_ID,
      name: "3f9c2a1b",
      type: "Microsoft.MachineLearningServices/workspaces/models/versions",
      properties: {
        modelType: "custom_model",
        modelUri,
        jobName: JOB,
        description: "MNIST CNN",
        tags: {},
        properties: {},
        isAnonymous: false,
      },
      systemData: { createdAt: "2026-11-26T10:30:00.000Z", createdBy: "ci" },
    },
  };
}

const datastore = (credentialsType: string) => datastoreAnswer(credentialsType, ACCOUNT);

function modelFiles(): Map<string, Buffer> {
  return new Map<string, Buffer>([
    ["mnist_cnn.keras", randomBytes(200_000)],
    ["model_meta.json", Buffer.from(JSON.stringify({ input_shape: [28, 28, 1], pixel_scale: 1 }))],
    ["metrics.json", Buffer.from(JSON.stringify({ test_accuracy: 0.991 }))],
    ["training_curve.png", randomBytes(3000)],
    ["extra/notes.txt", Buffer.from("hello\n")],
  ]);
}

function store(prefix: string, files: Map<string, Buffer>): BlobStore {
  const blobs = new Map<string, Buffer>();
  for (const [k, v] of files) blobs.set(`${prefix}${k}`, v);
  blobs.set(`${prefix}extra/`, Buffer.alloc(0)); // folder marker (hierarchical listings)
  blobs.set(`azureml/${JOB}/model_dir_other/ignore.txt`, Buffer.from("not part of the model"));
  return { account: ACCOUNT, container: CONTAINER, blobs, auth: [], pageSize: 2 };
}

async function download(): Promise<CliResult> {
  const r = await runCli(
    "local/download-model",
    ["--model-id", MODEL_ID, "--dest", dest, "--storage-endpoint", fake.url],
    fake.env(),
  );
  outputs.push(r);
  return r;
}

/** The files landed as a version of the local MLflow Model Registry (<dest>/mlflow.db), tagged with their origin. */
async function expectDownloaded(r: CliResult, files: Map<string, Buffer>): Promise<void> {
  expect(r.code).toBe(0);
  const names = [...files.keys()].sort();
  expect(r.json).toMatchObject({
    name: "mnist-cnn",
    version: "3f9c2a1b",
    registered_version: "1",
    model_uri: "models:/mnist-cnn/1",
  });
  expect([...(r.json!.files as string[])].sort()).toEqual(names);
  const dir = r.json!.path as string;
  for (const [name, data] of files)
    expect(fs.readFileSync(path.join(dir, ...name.split("/"))).equals(data)).toBe(true);
  const v = await resolveModel({
    trackingUri: `sqlite:///${dest}/mlflow.db`,
    name: "mnist-cnn",
    version: "1",
  });
  expect(v.dir).toBe(dir);
  expect(dir.startsWith(path.join(dest, "mlartifacts"))).toBe(true);
  expect(v.files).toEqual(names);
  expect(v.tags).toMatchObject({
    source: "azureml",
    azureml_model_id: MODEL_ID,
    azureml_version: "3f9c2a1b",
    job_name: JOB,
    azureml_created_at: "2026-11-26T10:30:00.000Z",
  });
}

test("multi-file model from a job output: resolved through the job, the datastore and its account key", async () => {
  fake.extraSecrets.push(ACCOUNT_KEY);
  fake.on("GET", MODEL_ID, modelVersion(`azureml://jobs/${JOB}/outputs/model_dir`));
  fake.on("GET", `${WS_ID}/jobs/${JOB}`, {
    status: 200,
    body: {
      name: JOB,
      properties: {
        jobType: "Command",
        status: "Completed",
        outputs: {
          model_dir: {
            jobOutputType: "uri_folder",
            mode: "ReadWriteMount",
            uri: `azureml://datastores/workspaceblobstore/paths/azureml/${JOB}/model_dir/`,
          },
        },
      },
    },
  });
  fake.on("GET", `${WS_ID}/datastores/workspaceblobstore`, datastore("AccountKey"));
  fake.on("POST", `${WS_ID}/datastores/workspaceblobstore/listSecrets`, {
    status: 200,
    body: { secretsType: "AccountKey", key: ACCOUNT_KEY },
  });
  const files = modelFiles();
  const s = store(`azureml/${JOB}/model_dir/`, files);
  installBlobs(fake, s, { accountKey: ACCOUNT_KEY });
  const r = await download();
  await expectDownloaded(r, files);
  // every request signed, and each signature verified with the account key (tests/ops/fake/blobs.ts)
  expect(s.auth.length).toBeGreaterThan(0);
  expect(s.auth.every((a) => a === "SharedKey")).toBe(true);
  expect(fake.count("GET", `/${ACCOUNT}/${CONTAINER}`)).toBeGreaterThanOrEqual(3); // paged listing
});

test("an account key that is not the account's: the service refuses the signature (403 AuthenticationFailed)", async () => {
  const staleKey = randomBytes(64).toString("base64");
  fake.extraSecrets.push(ACCOUNT_KEY, staleKey);
  fake.on("GET", MODEL_ID, modelVersion(`azureml://datastores/workspaceblobstore/paths/models/mnist/`));
  fake.on("GET", `${WS_ID}/datastores/workspaceblobstore`, datastore("AccountKey"));
  fake.on("POST", `${WS_ID}/datastores/workspaceblobstore/listSecrets`, {
    status: 200,
    body: { secretsType: "AccountKey", key: staleKey },
  });
  const s = store("models/mnist/", modelFiles());
  installBlobs(fake, s, { accountKey: ACCOUNT_KEY });
  const r = await download();
  expect(r.code).toBe(1);
  // the service's 403 AuthenticationFailed, as the storage SDK reports it
  expect(r.stderr).toContain("failed (HTTP 403): Server failed to authenticate the request.");
  expect(r.stderr).toContain("including the signature");
  expect(s.auth.length).toBeGreaterThan(0);
  expect(s.auth.every((a) => a === "SharedKey:invalid")).toBe(true);
  expect(fs.existsSync(path.join(dest, "mlflow.db"))).toBe(false);
});

test("datastore URI with a SAS datastore", async () => {
  const sig = randomBytes(16).toString("hex");
  fake.extraSecrets.push(sig);
  fake.on(
    "GET",
    MODEL_ID,
    modelVersion(
      `azureml://subscriptions/s/resourcegroups/rg/workspaces/ws/datastores/workspaceblobstore/paths/models/mnist/`,
    ),
  );
  fake.on("GET", `${WS_ID}/datastores/workspaceblobstore`, datastore("Sas"));
  fake.on("POST", `${WS_ID}/datastores/workspaceblobstore/listSecrets`, {
    status: 200,
    body: {
      secretsType: "Sas",
      sasToken: `?sv=2025-11-05&sr=c&sp=rl&se=2026-12-01T00%3A00%3A00Z&sig=${sig}`,
    },
  });
  const files = modelFiles();
  const s = store("models/mnist/", files);
  installBlobs(fake, s, { sasSig: sig });
  const r = await download();
  await expectDownloaded(r, files);
  expect(s.auth.every((a) => a === "SAS")).toBe(true);
});

test("identity-based datastore: blobs read with the caller's Entra token", async () => {
  fake.on("GET", MODEL_ID, modelVersion(`azureml://datastores/workspaceblobstore/paths/models/mnist`));
  fake.on("GET", `${WS_ID}/datastores/workspaceblobstore`, datastore("None"));
  const files = modelFiles();
  const s = store("models/mnist/", files);
  installBlobs(fake, s, { bearer: true });
  const r = await download();
  await expectDownloaded(r, files);
  expect(s.auth.every((a) => a === "Bearer")).toBe(true);
  expect(r.stderr).toContain("Storage Blob Data Reader");
});

test("a model version that does not exist fails with the service's message", async () => {
  fake.on("GET", MODEL_ID, {
    status: 404,
    body: { error: { code: "UserError", message: "Could not find asset with ID mnist-cnn:3f9c2a1b" } },
  });
  const r = await download();
  expect(r.code).toBe(1);
  expect(r.stderr).toContain("Could not find asset");
  expect(fs.existsSync(path.join(dest, "mlflow.db"))).toBe(false);
});

/**
 * Another origin with a name a model URI or a datastore could give: `*.blob.attacker.test`, resolved to this machine
 * inside the CLI (a --require'd dns.lookup shim) and served over TLS with its own certificate, so that a CLI that
 * sends its credential there is seen doing it.
 */
class AttackerBlobHost {
  readonly requests: Array<{ host?: string; authorization?: string; path?: string }> = [];
  dir = "";
  port = 0;
  private server?: https.Server;

  async start(): Promise<void> {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "attacker-blob-"));
    const key = path.join(this.dir, "key.pem");
    const cert = path.join(this.dir, "cert.pem");
    execFileSync(
      "openssl",
      ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key]
        .concat(["-out", cert, "-days", "2", "-subj", "/CN=blob.attacker.test"])
        .concat(["-addext", "subjectAltName=DNS:*.blob.attacker.test"]),
      { stdio: "ignore" },
    );
    this.server = https.createServer(
      { key: fs.readFileSync(key), cert: fs.readFileSync(cert) },
      (req, res) => {
        this.requests.push({
          host: req.headers.host,
          authorization: req.headers.authorization,
          path: req.url,
        });
        res.writeHead(404, { "x-ms-error-code": "BlobNotFound" });
        res.end();
      },
    );
    await new Promise<void>((r) => this.server!.listen(0, "127.0.0.1", r));
    this.port = (this.server.address() as AddressInfo).port;
    fs.writeFileSync(
      path.join(this.dir, "dns.js"),
      [
        'const dns = require("node:dns");',
        "const lookup = dns.lookup;",
        "dns.lookup = function (host, options, callback) {",
        '  if (typeof options === "function") { callback = options; options = {}; }',
        '  return lookup.call(this, /\\.attacker\\.test$/i.test(host) ? "127.0.0.1" : host, options, callback);',
        "};",
      ].join("\n"),
    );
    fs.writeFileSync(
      path.join(this.dir, "cas.pem"),
      fs.readFileSync(fake.caFile, "utf8") + fs.readFileSync(cert, "utf8"),
    );
  }

  async stop(): Promise<void> {
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  /** The CLI's environment: the fake's, plus the shim and both certificates. */
  env(): NodeJS.ProcessEnv {
    return fake.env({
      NODE_OPTIONS: `--require ${path.join(this.dir, "dns.js")}`,
      NODE_EXTRA_CA_CERTS: path.join(this.dir, "cas.pem"),
    });
  }
}

describe("credentials go to the workspace's storage accounts only (probe L5)", () => {
  const attacker = new AttackerBlobHost();
  beforeAll(() => attacker.start());
  afterAll(() => attacker.stop());
  beforeEach(() => (attacker.requests.length = 0));

  const datastores = (endpoint = "core.windows.net") => ({
    status: 200,
    body: {
      value: [{ ...datastore("None").body, properties: { ...datastore("None").body.properties, endpoint } }],
    },
  });

  async function downloadWithoutOverride(): Promise<CliResult> {
    const r = await runCli("local/download-model", ["--model-id", MODEL_ID, "--dest", dest], attacker.env());
    outputs.push(r);
    return r;
  }

  test("a model URI naming https://<account>.blob.<someone else's domain>: refused, that host sees no token", async () => {
    fake.on("GET", `${WS_ID}/datastores`, datastores());
    fake.on(
      "GET",
      MODEL_ID,
      modelVersion(`https://${ACCOUNT}.blob.attacker.test:${attacker.port}/${CONTAINER}/m/`),
    );
    const r = await downloadWithoutOverride();
    expect(attacker.requests).toEqual([]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("refusing to send your Entra token to https://stmnistabc.blob.attacker.test");
    expect(fs.existsSync(path.join(dest, "mlflow.db"))).toBe(false);
  });

  test("an identity-based datastore whose endpoint is someone else's domain: refused, that host sees no token", async () => {
    fake.on("GET", MODEL_ID, modelVersion(`azureml://datastores/workspaceblobstore/paths/models/mnist`));
    const ds = datastore("None");
    fake.on("GET", `${WS_ID}/datastores/workspaceblobstore`, {
      ...ds,
      body: { ...ds.body, properties: { ...ds.body.properties, endpoint: `attacker.test:${attacker.port}` } },
    });
    const r = await downloadWithoutOverride();
    expect(attacker.requests).toEqual([]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      "refusing to send storage credentials to https://stmnistabc.blob.attacker.test",
    );
  });

  test("an Azure blob URL of an account no datastore of the workspace uses: refused before any storage call", async () => {
    fake.on("GET", `${WS_ID}/datastores`, datastores());
    fake.on("GET", MODEL_ID, modelVersion(`https://someoneelse.blob.core.windows.net/${CONTAINER}/m/`));
    const r = await download();
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("storage account someoneelse is not the account of any blob datastore");
    expect(fake.requests.some((q) => q.path.startsWith("/someoneelse/"))).toBe(false);
  });

  test("a blob URL of the workspace's own account: read with the caller's Entra token", async () => {
    fake.on("GET", `${WS_ID}/datastores`, datastores());
    fake.on(
      "GET",
      MODEL_ID,
      modelVersion(`https://${ACCOUNT}.blob.core.windows.net/${CONTAINER}/models/mnist/`),
    );
    const files = modelFiles();
    const s = store("models/mnist/", files);
    installBlobs(fake, s, { bearer: true });
    const r = await download();
    await expectDownloaded(r, files);
    expect(s.auth.every((a) => a === "Bearer")).toBe(true);
  });
});

test("no secret (account key, SAS signature, tokens) appears in any output", () => {
  expect(outputs.length).toBeGreaterThan(0);
  for (const o of outputs) for (const s of fake.secrets()) expect(o.stdout + o.stderr).not.toContain(s);
});
