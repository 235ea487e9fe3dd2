/**
 * ops/promote-model.ts as a real process against the fake Azure: the workspace side (model version, job output,
 * identity-based datastore, blobs read with a storage token) and the registry (tests/ops/fake/registry.ts), whose
 * pending uploads really receive the files.
 */
import { randomBytes } from "node:crypto";
import { installBlobs, type BlobStore } from "./fake/blobs";
import { datastoreAnswer } from "./fake/assets";
import { FakeAzure, WS_ID } from "./fake/fakeAzure";
import {
  REGISTRY,
  REGISTRY_ID,
  installRegistry,
  registryStore,
  seedVersion,
  versionFiles,
  versionResource,
  type RegistryStore,
} from "./fake/registry";
import { runCli, type CliResult } from "./fake/runCli";
import type { PromotionResult } from "../../lib/core/contracts";

const fake = new FakeAzure();
const outputs: CliResult[] = [];
beforeAll(() => fake.start());
afterAll(() => fake.stop());

const NAME = "mnist-cnn";
const ACCOUNT = "stmnisttest01";
const CONTAINER = "azureml-blobstore-0f0e0d0c-0b0a-0908-0706-050403020100";

let registry: RegistryStore;
let storage: BlobStore;

beforeEach(() => {
  fake.reset();
  registry = registryStore(fake);
  installRegistry(fake, registry);
  storage = { account: ACCOUNT, container: CONTAINER, blobs: new Map(), auth: [], pageSize: 2 };
  // the workspace's storage: shared keys off, the caller's Entra identity reads (Storage Blob Data Reader)
  installBlobs(fake, storage, { bearer: true, allowSharedKeyAccess: false });
  fake.on("GET", `${WS_ID}/datastores/workspaceblobstore`, datastoreAnswer("None", ACCOUNT));
});

const jobOf = (version: string) => `train-mnist-${version}`;
const modelId = (version: string) => `${WS_ID}/models/${NAME}/versions/${version}`;

/** Model files with bytes that are not UTF-8 (a keras zip, a png), so a lossy upload would show. */
function modelFiles(seed: string): Map<string, Buffer> {
  return new Map<string, Buffer>([
    [
      "mnist_cnn.keras",
      Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04, 0xff, 0xfe, 0x80]), randomBytes(70_000)]),
    ],
    ["mnist_cnn.onnx", randomBytes(5000)],
    ["model_meta.json", Buffer.from(JSON.stringify({ input_shape: [28, 28, 1], seed }))],
    ["plots/training curve.png", Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47]), randomBytes(3000)])],
  ]);
}

/**
 * A workspace model version registered from job `train-mnist-<version>`'s output model_dir (ML 2025-12-01
 * examples/Workspace/ModelVersion/get.json, examples/Job/CommandJob/get.json), its files in the workspace storage.
 */
function workspaceVersion(version: string, tags: Record<string, string>): Map<string, Buffer> {
  const job = jobOf(version);
  const files = modelFiles(version);
  for (const [rel, data] of files) storage.blobs.set(`azureml/${job}/model_dir/${rel}`, data);
  fake.on("GET", modelId(version), {
    status: 200,
    body: {
      id: modelId(version),
      name: version,
      type: "Microsoft.MachineLearningServices/workspaces/models/versions",
      properties: {
        modelType: "custom_model",
        modelUri: `azureml://jobs/${job}/outputs/model_dir`,
        jobName: job,
        description: "MNIST CNN",
        tags,
        properties: {},
        isAnonymous: false,
        isArchived: false,
        provisioningState: "Succeeded",
      },
      systemData: { createdAt: "2026-11-26T10:30:00.000Z", createdBy: "ci" },
    },
  });
  fake.on("GET", `${WS_ID}/jobs/${job}`, {
    status: 200,
    body: {
      id: `${WS_ID}/jobs/${job}`,
      name: job,
      type: "Microsoft.MachineLearningServices/workspaces/jobs",
      properties: {
        jobType: "Command",
        status: "Completed",
        outputs: {
          model_dir: {
            jobOutputType: "uri_folder",
            mode: "ReadWriteMount",
            uri: `azureml://datastores/workspaceblobstore/paths/azureml/${job}/model_dir/`,
          },
        },
      },
    },
  });
  return files;
}

/** The registry already serves `version` (promoted earlier) with this accuracy. */
function champion(version: string, accuracy: number): void {
  seedVersion(registry, NAME, version, { testAccuracy: String(accuracy), runHash: version });
  registry.containers.set(NAME, { description: "MNIST CNN", tags: { champion: version, owner: "ml-team" } });
}

async function promote(version: string, extra: string[] = []): Promise<CliResult> {
  const r = await runCli(
    "promote-model",
    [
      ...["--model-id", modelId(version), "--registry-id", REGISTRY_ID],
      ...["--storage-endpoint", fake.url, "--poll-seconds", "0"],
      ...extra,
    ],
    fake.env(),
  );
  outputs.push(r);
  return r;
}

const registryRequests = (method: string) =>
  fake.requests.filter((q) => q.method === method && q.path.startsWith(`${REGISTRY_ID}/`));

function expectUploaded(version: string, files: Map<string, Buffer>): void {
  const landed = versionFiles(registry, fake, NAME, version);
  expect([...landed.keys()].sort()).toEqual([...files.keys()].sort());
  for (const [rel, data] of files) expect(landed.get(rel)!.equals(data)).toBe(true);
}

describe("promote-model", () => {
  test("first promotion (no champion): the files land in the registry byte for byte, the version is registered and named champion", async () => {
    const files = workspaceVersion("3f9c2a1b", { testAccuracy: "0.9912", runHash: "3f9c2a1b" });
    const r = await promote("3f9c2a1b");
    expect(r.code).toBe(0);
    expect(r.json).toEqual({
      promoted: true,
      reused: false,
      registry: REGISTRY,
      name: NAME,
      version: "3f9c2a1b",
      registryModelId: `azureml://registries/${REGISTRY}/models/${NAME}/versions/3f9c2a1b`,
      challengerAccuracy: 0.9912,
      minGain: 0,
    } satisfies PromotionResult);
    expectUploaded("3f9c2a1b", files);
    // the workspace blobs were read with a storage token (the account has shared keys off), the upload with the SAS
    expect(storage.auth.length).toBeGreaterThan(0);
    expect(new Set(storage.auth)).toEqual(new Set(["Bearer"]));
    const v = registry.versions.get(`${NAME}/3f9c2a1b`)!;
    expect(v.provisioningState).toBe("Succeeded");
    const props = v.properties as {
      modelType: string;
      modelUri: string;
      description: string;
      tags: Record<string, string>;
    };
    expect(props.modelType).toBe("custom_model");
    expect(props.modelUri).toMatch(new RegExp(`^${fake.url}/.+/pending-[0-9a-f-]{36}$`));
    expect(props.modelUri).not.toContain("sig=");
    expect(props.description).toBe("MNIST CNN");
    expect(props.tags).toEqual({
      sourceModelId: modelId("3f9c2a1b"),
      sourceJob: jobOf("3f9c2a1b"),
      runHash: "3f9c2a1b",
      testAccuracy: "0.9912",
      replaced: "none",
      promotedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    expect(registry.containers.get(NAME)).toEqual({ tags: { champion: "3f9c2a1b" } });
    // one pending upload with a fresh guid of the spec's shape
    expect(registry.pendingUploads).toHaveLength(1);
    expect(JSON.parse(registry.pendingUploads[0].body)).toEqual({
      pendingUploadId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      pendingUploadType: "TemporaryBlobReference",
    });
  });

  test("a better challenger is promoted: uploaded, `replaced` records the old champion, the container keeps its other fields", async () => {
    champion("1", 0.985);
    const files = workspaceVersion("2", { testAccuracy: "0.991", runHash: "2" });
    const r = await promote("2", ["--min-gain", "0.005"]);
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({
      promoted: true,
      reused: false,
      version: "2",
      challengerAccuracy: 0.991,
      championVersion: "1",
      championAccuracy: 0.985,
      minGain: 0.005,
    });
    expectUploaded("2", files);
    expect((registry.versions.get(`${NAME}/2`)!.properties.tags as Record<string, string>).replaced).toBe(
      "1",
    );
    expect(registry.containers.get(NAME)).toEqual({
      description: "MNIST CNN",
      tags: { champion: "2", owner: "ml-team" },
    });
    expect(r.stderr).toContain("gate passed");
    // the old champion is untouched
    expect(registry.versions.get(`${NAME}/1`)!.properties.description).toBe("seeded");
  });

  test("a worse challenger is refused with both scores, the margin and exit 1; the registry is unchanged", async () => {
    champion("1", 0.99);
    workspaceVersion("2", { testAccuracy: "0.985", runHash: "2" });
    const before = JSON.stringify([...registry.versions, ...registry.containers]);
    const r = await promote("2");
    expect(r.code).toBe(1);
    expect(r.json).toMatchObject({
      promoted: false,
      reused: false,
      version: "2",
      challengerAccuracy: 0.985,
      championVersion: "1",
      championAccuracy: 0.99,
      minGain: 0,
      margin: -0.005,
    });
    expect(r.json!.error).toMatch(/not promoted: .*0\.985.*0\.99/);
    expect(r.stderr).toContain("challenger mnist-cnn:2 test accuracy 0.985 vs champion mnist-cnn:1 0.99");
    expect(JSON.stringify([...registry.versions, ...registry.containers])).toBe(before);
    expect(registry.pendingUploads).toHaveLength(0);
    expect(registryRequests("PUT")).toHaveLength(0);
    expect(registry.blobs.size).toBe(1); // the seeded champion's only
  });

  test("a positive min gain is a bar above the champion: a better score short of it is refused", async () => {
    champion("1", 0.98);
    workspaceVersion("2", { testAccuracy: "0.985", runHash: "2" });
    const r = await promote("2", ["--min-gain", "0.01"]);
    expect(r.code).toBe(1);
    expect(r.json).toMatchObject({ promoted: false, margin: -0.005, minGain: 0.01 });
  });

  test("a challenger within a negative min gain passes (a small loss accepted), exactly at the bar too", async () => {
    champion("1", 0.99);
    workspaceVersion("2", { testAccuracy: "0.98", runHash: "2" });
    const r = await promote("2", ["--min-gain=-0.01"]);
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ promoted: true, reused: false, championVersion: "1", minGain: -0.01 });
    expect(registry.containers.get(NAME)!.tags).toEqual({ champion: "2", owner: "ml-team" });
  });

  test("an already promoted version (a run interrupted before the champion tag) is reused: no upload, no version PUT", async () => {
    champion("1", 0.97);
    workspaceVersion("2", { testAccuracy: "0.99", runHash: "2" });
    seedVersion(registry, NAME, "2", { testAccuracy: "0.99", runHash: "2" });
    const r = await promote("2");
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ promoted: true, reused: true, version: "2", championVersion: "1" });
    expect(registry.pendingUploads).toHaveLength(0);
    expect(registry.versionPuts).toHaveLength(0);
    expect(
      fake.requests.filter((q) => q.method === "PUT" && !q.path.startsWith("/subscriptions/")),
    ).toHaveLength(0);
    expect(storage.auth).toEqual([]); // the workspace files were not even read
    expect(registry.containers.get(NAME)!.tags).toEqual({ champion: "2", owner: "ml-team" });
  });

  test("a version still being created (an interrupted run's PUT) is waited for, then reused", async () => {
    champion("1", 0.97);
    workspaceVersion("2", { testAccuracy: "0.99", runHash: "2" });
    seedVersion(registry, NAME, "2", { testAccuracy: "0.99", runHash: "2" }, "Creating");
    let reads = 0;
    fake.on("GET", `${REGISTRY_ID}/models/${NAME}/versions/2`, () => {
      const v = registry.versions.get(`${NAME}/2`)!;
      if (++reads === 3) v.provisioningState = "Succeeded";
      return { status: 200, body: versionResource(NAME, "2", v) };
    });
    const r = await promote("2");
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ promoted: true, reused: true });
    expect(reads).toBe(3);
    expect(r.stderr).toContain("is Creating: waiting for it");
    expect(registry.versionPuts).toHaveLength(0);
    expect(registry.pendingUploads).toHaveLength(0);
    expect(registry.containers.get(NAME)!.tags).toEqual({ champion: "2", owner: "ml-team" });
  });

  test("the champion itself: nothing to do, reused", async () => {
    champion("2", 0.99);
    workspaceVersion("2", { testAccuracy: "0.99", runHash: "2" });
    const r = await promote("2");
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({
      promoted: true,
      reused: true,
      championVersion: "2",
      championAccuracy: 0.99,
    });
    expect(registryRequests("PUT")).toHaveLength(0);
    expect(registryRequests("POST")).toHaveLength(0);
  });

  test("a version left Failed by an interrupted run is neither reused nor deleted: exit 1", async () => {
    workspaceVersion("2", { testAccuracy: "0.99", runHash: "2" });
    seedVersion(registry, NAME, "2", { testAccuracy: "0.99" }, "Failed");
    const r = await promote("2");
    expect(r.code).toBe(1);
    expect(r.json!.error).toMatch(/exists in state Failed: it is not reused, and it is not deleted/);
    expect(registry.versionPuts).toHaveLength(0);
    expect(registry.containers.has(NAME)).toBe(false);
  });

  test("an upload interrupted before the PUT is redone by the next run (a new pending upload) and converges", async () => {
    const files = workspaceVersion("2", { testAccuracy: "0.99", runHash: "2" });
    // the first run's version PUT fails (the service answers 500 five times: more than the retries)
    fake.sequence("PUT", new RegExp(`^${REGISTRY_ID}/models/${NAME}/versions/2$`), [
      { status: 500, body: { error: { code: "InternalServerError", message: "try again" } } },
    ]);
    const first = await promote("2");
    expect(first.code).toBe(1);
    expect(registry.versions.has(`${NAME}/2`)).toBe(false);
    expect(registry.containers.has(NAME)).toBe(false);
    // the next run: the fake's own route answers again
    fake.reset();
    registry.pendingUploads.length = 0;
    installRegistry(fake, registry);
    installBlobs(fake, storage, { bearer: true, allowSharedKeyAccess: false });
    fake.on("GET", `${WS_ID}/datastores/workspaceblobstore`, datastoreAnswer("None", ACCOUNT));
    const again = workspaceVersion("2", { testAccuracy: "0.99", runHash: "2" });
    const second = await promote("2");
    expect(second.code).toBe(0);
    expect(second.json).toMatchObject({ promoted: true, reused: false });
    expect(registry.pendingUploads).toHaveLength(1);
    expectUploaded("2", again);
    expect([...again.keys()]).toEqual([...files.keys()]);
  });

  test("a version PUT answered 201 (no operation to follow) works the same", async () => {
    registry.lro = false;
    const files = workspaceVersion("2", { testAccuracy: "0.99", runHash: "2" });
    const r = await promote("2");
    expect(r.code).toBe(0);
    expectUploaded("2", files);
    expect(registry.containers.get(NAME)!.tags).toEqual({ champion: "2" });
  });

  test("a registry that deleted the version refuses to re-create it, and the CLI says so without deleting anything", async () => {
    workspaceVersion("2", { testAccuracy: "0.99", runHash: "2" });
    registry.deleted.set(`${NAME}/2`, "2026-11-20T08:00:00Z");
    const r = await promote("2");
    expect(r.code).toBe(1);
    expect(r.json!.error).toMatch(/was deleted at 2026-11-20T08:00:00Z, it cannot be recreated/);
    expect(registry.containers.has(NAME)).toBe(false);
  });

  test("a missing testAccuracy tag refuses before anything is read from the registry", async () => {
    workspaceVersion("2", { runHash: "2" });
    const r = await promote("2");
    expect(r.code).toBe(1);
    expect(r.json).toMatchObject({ promoted: false, reused: false, version: "2" });
    expect(r.json!.error).toMatch(/has no 'testAccuracy' tag/);
    expect(fake.requests.filter((q) => q.path.startsWith(REGISTRY_ID))).toHaveLength(0);
  });

  test("a champion without a readable score stops the gate (nothing promoted)", async () => {
    registry.containers.set(NAME, { tags: { champion: "9" } });
    workspaceVersion("2", { testAccuracy: "0.99", runHash: "2" });
    const r = await promote("2");
    expect(r.code).toBe(1);
    expect(r.json!.error).toMatch(/champion mnist-cnn:9 of registry .* does not exist/);
    expect(registryRequests("PUT")).toHaveLength(0);
  });

  test("bad flags stop before any request (exit 2)", async () => {
    for (const args of [
      ["--model-id", modelId("2"), "--registry-id", `${REGISTRY_ID.replace(REGISTRY, "r")}`],
      ["--model-id", modelId("2"), "--registry-id", `${REGISTRY_ID.replace(REGISTRY, "x".repeat(33))}`],
      ["--model-id", `${WS_ID}/models/${NAME}`, "--registry-id", REGISTRY_ID],
      ["--model-id", modelId("2"), "--registry-id", REGISTRY_ID, "--min-gain", "2"],
    ]) {
      const r = await runCli("promote-model", args, fake.env());
      outputs.push(r);
      expect(r.code).toBe(2);
    }
    expect(fake.requests.filter((q) => q.path.startsWith("/subscriptions/"))).toHaveLength(0);
  });
});

afterEach(() => {
  // the CLI never sends DELETE, to the registry or anywhere (a deleted registry version can never come back)
  expect(fake.requests.filter((q) => q.method === "DELETE")).toEqual([]);
});

afterAll(() => {
  // no secret ever printed: client secret, tokens, the SAS signatures
  expect(outputs.length).toBeGreaterThan(10);
  for (const o of outputs) for (const s of fake.secrets()) expect(o.stdout + o.stderr).not.toContain(s);
});
