/**
 * The contract between tests/graph/azureModel.ts and the CLIs it re-implements. The graph tests never spawn a CLI:
 * SubscriptionModel.runCli says what each step prints and leaves behind, and the sequence and fault-matrix tests
 * rest on it ("nothing submitted or uploaded again"). Here each scenario runs twice with the same command string
 * (as the graph writes it: `exec node --import tsx ops/<cli>.ts ...`, split as /bin/sh splits it) and the same
 * environment: once through `SubscriptionModel.runCli`, once through the real CLI as a child process against the
 * fake Azure (tests/ops/fake). The result lines must agree on what the graph consumes, and so must what each side
 * did (uploads, registrations, submissions, PUTs): a model that says "reused" where the CLI uploads again fails here.
 *
 * What legitimately differs, and is normalised (each where it is done): a new job's random name suffix, the hosts
 * and times only the fake knows (studio URL, elapsed seconds), and fields the model does not model because nothing
 * in the graph reads them.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { randomBytes } from "node:crypto";
import { StepFault, SubscriptionModel } from "./azureModel";
import { STEP_RUNNER, shellQuote, splitCommand } from "../../lib/program/steps";
import { hashFolder, shortHash } from "../../lib/core/hashing";
import { FakeAzure, WS_ID, type FakeReq } from "../ops/fake/fakeAzure";
import {
  ACCOUNT,
  CONTAINER,
  assetStore,
  datastoreAnswer,
  installAssetVersions,
  installDatastore,
  type AssetStore,
} from "../ops/fake/assets";
import { installBlobWrites, installBlobs, type BlobStore } from "../ops/fake/blobs";
import { fakeJob, installJobs, jobStore, JOBS_PATH, type JobStore } from "../ops/fake/jobs";
import { FakeEndpoint } from "../ops/fake/endpoints";
import {
  REGISTRY,
  REGISTRY_ID,
  installRegistry,
  registryStore,
  type RegistryStore,
} from "../ops/fake/registry";
import { MODEL_VERSION, check } from "../ops/fake/schemas";
import { runCli, type CliResult } from "../ops/fake/runCli";
import { installWorkspace, MLFLOW_RUN_PATH } from "../ops/scenarios";

const fake = new FakeAzure();
const outputs: CliResult[] = [];
const roots: string[] = [];

beforeAll(async () => {
  process.setMaxListeners(100);
  await fake.start();
});
beforeEach(() => fake.reset());
afterAll(async () => {
  for (const r of roots) fs.rmSync(r, { recursive: true, force: true });
  await fake.stop();
});

type Json = Record<string, unknown>;

/** The step's command string exactly as lib/program/steps.ts stepCommand writes it (it needs no Pulumi runtime). */
function stepCreate(script: string, args: string[]): string {
  return [STEP_RUNNER[0], ...[...STEP_RUNNER.slice(1), script, ...args].map(shellQuote)].join(" ");
}

interface Outcome {
  /** the result line, or undefined when the step failed */
  json?: Json;
  /** the step failed (the model's StepFault, the CLI's non-zero exit) */
  failed: boolean;
}

/** The model's side: runCli as the harness calls it (inputs = the Command's inputs: create and environment). */
function viaModel(model: SubscriptionModel, create: string, environment: Record<string, string>): Outcome {
  try {
    const out = model.runCli(create, { create, environment });
    if (out === undefined) throw new Error(`the model does not re-implement ${create}`);
    return { json: JSON.parse(out) as Json, failed: false };
  } catch (err) {
    if (err instanceof StepFault) return { failed: true };
    throw err;
  }
}

/**
 * The CLI's side: the same words after the runner, the same environment, against the fake. `cliArgs` and `cliEnv`
 * only point it at the fake and shorten its polls (the graph's values would poll every 15 s against Azure's hosts).
 */
async function viaCli(
  create: string,
  environment: Record<string, string>,
  o: { cliArgs?: string[]; cliEnv?: Record<string, string>; cwd?: string } = {},
): Promise<Outcome & { r: CliResult; why?: string }> {
  const words = splitCommand(create);
  expect(words.slice(0, 4)).toEqual([...STEP_RUNNER]);
  const [script, ...args] = words.slice(4);
  const r = await runCli(
    script.replace(/\.ts$/, ""),
    [...args, ...(o.cliArgs ?? [])],
    fake.env({ ...environment, ...(o.cliEnv ?? {}) }),
    o.cwd,
  );
  outputs.push(r);
  if (r.code !== 0 && r.code !== 1) throw new Error(`${script} exited ${r.code}:\n${r.stderr}`);
  // a failure's last lines, shown beside the comparison that then fails (where the model did not fail too)
  return {
    json: r.code === 0 ? r.json : undefined,
    failed: r.code !== 0,
    r,
    why: r.code === 0 ? undefined : r.stderr.slice(-1500),
  };
}

/** `fields` of a result line (and `cliFailed`: the CLI's stderr tail when it failed, see cliLine). */
const pick = (o: Json | undefined, fields: string[]): Json =>
  Object.fromEntries([...fields, "cliFailed"].filter((f) => o && f in o).map((f) => [f, o![f]]));

/** The CLI's result line, or its stderr tail when it failed where the model did not (so the diff shows why). */
const cliLine = (c: { json?: Json; why?: string }): Json => c.json ?? { cliFailed: c.why };

/** What the model counted during `fn`: submissions, uploads, registrations. */
async function counted<T>(model: SubscriptionModel, fn: () => Promise<T>) {
  const before = { s: model.submissions, u: model.uploads, r: model.registrations };
  const value = await fn();
  return {
    value,
    did: {
      submissions: model.submissions - before.s,
      uploads: model.uploads - before.u,
      registrations: model.registrations - before.r,
    },
  };
}

/** Requests the CLI sent during `fn` that match. */
async function sent<T>(fn: () => Promise<T>, match: (q: FakeReq) => boolean) {
  const start = fake.requests.length;
  const value = await fn();
  return { value, requests: fake.requests.slice(start).filter(match) };
}

const put = (re: RegExp) => (q: FakeReq) => q.method === "PUT" && re.test(q.path);

// ---------------------------------------------------------------------------------------------------------------
// ensure-code, ensure-environment, ensure-model: the asset versions (id, name, version, reused)

const ASSET_FIELDS = ["id", "name", "version", "reused"];

describe("asset versions", () => {
  let assets: AssetStore;
  let blobs: BlobStore;
  beforeEach(() => {
    assets = assetStore();
    installAssetVersions(fake, assets);
    installDatastore(fake, randomBytes(64).toString("base64"));
    blobs = { account: ACCOUNT, container: CONTAINER, blobs: new Map(), auth: [], pageSize: 50 };
    // the workspace's storage as components/mlWorkspace.ts declares it: storage tokens only
    installBlobWrites(fake, blobs);
  });

  test("ensure-code: the first run uploads and registers, the second reuses (nothing uploaded or registered)", async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "contract-code-"));
    roots.push(root);
    const dir = path.join(root, "training");
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, "app.py"), "print('train')\n");
    fs.writeFileSync(path.join(dir, "data.py"), "def load():\n    return []\n");
    const version = shortHash(hashFolder(dir), 16);
    // components/codeAsset.ts's flags and ASSET_SPEC
    const create = stepCreate("ops/ensure-code.ts", [
      ...["--workspace-id", WS_ID, "--name", "mnist-train", "--version", version, "--folder", "training"],
    ]);
    const env = { ASSET_SPEC: JSON.stringify({ description: "training/", tags: { stack: "dev" } }) };
    const model = new SubscriptionModel();
    for (const run of ["first", "second"]) {
      const m = await counted(model, async () => viaModel(model, create, env));
      // the fake's blob service is path-style on its own host; Azure's is https://<account>.blob.core.windows.net
      const c = await sent(
        () => viaCli(create, env, { cwd: root, cliEnv: { AZURE_STORAGE_ENDPOINT_OVERRIDE: fake.url } }),
        (q) => q.method === "PUT",
      );
      expect([run, pick(cliLine(c.value), ASSET_FIELDS)]).toEqual([run, pick(m.value.json, ASSET_FIELDS)]);
      const blobPuts = c.requests.filter((q) => q.path.startsWith(`/${ACCOUNT}/${CONTAINER}/`)).length;
      const versionPuts = c.requests.filter((q) => q.path.includes("/codes/")).length;
      // `uploaded` (a file count) is not modelled: the model counts one upload per version uploaded
      expect([run, { uploads: blobPuts > 0 ? 1 : 0, registrations: versionPuts }]).toEqual([
        run,
        { uploads: m.did.uploads, registrations: m.did.registrations },
      ]);
      expect(c.value.json!.uploaded).toBe(m.value.json!.reused ? 0 : 2);
    }
    expect(model.uploads).toBe(1);
  });

  test("ensure-environment: registered once, then reused", async () => {
    const create = stepCreate("ops/ensure-environment.ts", [
      ...["--workspace-id", WS_ID, "--name", "mnist-infer", "--version", "0123456789abcdef"],
    ]);
    const env = {
      ENVIRONMENT_SPEC: JSON.stringify({
        image: "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:20250601.v1",
        condaFile: "name: x\ndependencies:\n  - python=3.11\n",
        osType: "Linux",
      }),
    };
    const model = new SubscriptionModel();
    for (const run of ["first", "second"]) {
      const m = await counted(model, async () => viaModel(model, create, env));
      const c = await sent(() => viaCli(create, env), put(/\/environments\//));
      expect([run, pick(cliLine(c.value), ASSET_FIELDS)]).toEqual([run, pick(m.value.json, ASSET_FIELDS)]);
      expect([run, c.requests.length]).toEqual([run, m.did.registrations]);
    }
    expect(assets.puts).toHaveLength(1);
  });

  test("ensure-model: registered once, then reused", async () => {
    const models = new Set<string>();
    const re = /\/models\/[^/]+\/versions\/[^/]+$/;
    fake.on("GET", re, (req) =>
      models.has(req.path)
        ? { status: 200, body: { id: req.path } }
        : { status: 404, body: { error: { code: "UserError", message: "Could not find asset" } } },
    );
    fake.on("PUT", re, (req) => {
      const refused = check(MODEL_VERSION, JSON.parse(req.body));
      if (refused) return refused;
      models.add(req.path);
      return { status: 201, body: { id: req.path } };
    });
    const create = stepCreate("ops/ensure-model.ts", [
      ...["--workspace-id", WS_ID, "--name", "mnist-cnn", "--version", "3f9c2a1b4d5e"],
    ]);
    const env = {
      MODEL_SPEC: JSON.stringify({
        modelType: "custom_model",
        modelUri: "azureml://jobs/training-3f9c2a1b4d5e-abcdef/outputs/model_dir",
        jobName: "training-3f9c2a1b4d5e-abcdef",
      }),
    };
    const model = new SubscriptionModel();
    for (const run of ["first", "second"]) {
      const m = await counted(model, async () => viaModel(model, create, env));
      const c = await sent(() => viaCli(create, env), put(re));
      expect([run, pick(cliLine(c.value), ASSET_FIELDS)]).toEqual([run, pick(m.value.json, ASSET_FIELDS)]);
      expect([run, c.requests.length]).toEqual([run, m.did.registrations]);
    }
  });
});

// ---------------------------------------------------------------------------------------------------------------
// run-job: reuse / follow / submit, and what the component reads (jobName, jobId, status, reused, submitStatus,
// testAccuracy)

describe("run-job", () => {
  const HASH = "3f9c2a1b4d5e";
  // components/trainingJob.ts's flags (its minimum accuracy and limits; the model reads none of them)
  const create = stepCreate("ops/run-job.ts", [
    ...["--workspace-id", WS_ID, "--run-hash", HASH, "--name-prefix", "training"],
    ...["--min-accuracy", "0.98", "--stuck-timeout-minutes", "30", "--preparing-timeout-minutes", "90"],
    ...["--timeout-minutes", "180"],
  ]);
  const env = {
    JOB_SPEC: JSON.stringify({
      jobType: "Command",
      experimentName: "mnist-cnn",
      environmentId: `${WS_ID}/environments/mnist-train-gpu/versions/fedcba9876543210`,
      computeId: `${WS_ID}/computes/gpu-abc123`,
      command: "python app.py --output-dir ${{outputs.model_dir}}",
      properties: { runHash: HASH },
    }),
  };
  const FIELDS = ["jobName", "jobId", "status", "reused", "submitStatus", "testAccuracy", "bestTrial"];
  // the graph's poll is 15 s against Azure; the fake moves a job on at each read
  const cliArgs = ["--poll-seconds", "0.05"];

  function install(store: JobStore): JobStore {
    installWorkspace(fake);
    installJobs(fake, store);
    // the model says every accepted Command job logged test_accuracy 0.9912; the fake's MLflow says so too
    fake.on("GET", MLFLOW_RUN_PATH, (req) => ({
      status: 200,
      body: {
        run: {
          info: { run_id: req.query.get("run_id"), status: "FINISHED" },
          data: { metrics: [{ key: "test_accuracy", value: 0.9912, step: 0 }] },
        },
      },
    }));
    // a failed job's details (run history): the CLI reads them for its error line
    fake.on("GET", new RegExp(`^/history/v1\\.0${WS_ID}/runs/[^/]+/details$`), () => ({
      status: 200,
      body: { status: "Failed", error: { error: { code: "UserError", message: "exit 1" } }, logFiles: {} },
    }));
    return store;
  }

  /**
   * The result line as the graph reads it. A submitted job's name is `<prefix>-<hash>-<6 random>` on both sides
   * (submit-job newJobName, the model's fresh()): each side draws its own suffix, so the suffix is replaced by the
   * side's own `names` map (the first new name seen is `#1`, ...), which keeps "same job as before" comparable.
   */
  function normal(o: Outcome, names: Map<string, string>, known: Set<string>): Json {
    const j = pick(o.json, FIELDS);
    const name = String(j.jobName ?? "");
    if (name && !known.has(name)) {
      expect(name).toMatch(new RegExp(`^training-${HASH}-[a-z0-9]{6}$`));
      if (!names.has(name)) names.set(name, `training-${HASH}-#${names.size + 1}`);
    }
    const label = names.get(name) ?? name;
    if (j.jobName !== undefined) j.jobName = label;
    if (j.jobId !== undefined) {
      expect(j.jobId).toBe(`${JOBS_PATH}/${name}`);
      j.jobId = `${JOBS_PATH}/${label}`;
    }
    return { failed: o.failed, ...j };
  }

  /** Runs the step on both sides `runs` times; each entry: both result lines normalised, and who submitted. */
  async function scenario(
    model: SubscriptionModel,
    store: JobStore,
    known: string[],
    runs: Array<() => void>,
  ) {
    const mNames = new Map<string, string>();
    const cNames = new Map<string, string>();
    const knownSet = new Set(known);
    for (const [i, before] of runs.entries()) {
      before();
      const m = await counted(model, async () => viaModel(model, create, env));
      const c = await sent(() => viaCli(create, env, { cliArgs }), put(new RegExp(`^${JOBS_PATH}/`)));
      expect([i, normal(c.value, cNames, knownSet), c.requests.length]).toEqual([
        i,
        normal(m.value, mNames, knownSet),
        m.did.submissions,
      ]);
    }
    return store;
  }

  test("first run submits and waits; the second reuses the Completed job (nothing submitted)", async () => {
    const store = install({ ...jobStore(), createdNext: ["Queued", "Running", "Completed"] });
    await scenario(new SubscriptionModel(), store, [], [() => undefined, () => undefined]);
    expect(store.puts).toHaveLength(1);
  });

  test("an active job of the run hash (an earlier, interrupted up) is followed, not submitted again", async () => {
    const running = fakeJob(`training-${HASH}-run001`, "Running", HASH);
    running.next = ["Running", "Completed"];
    const store = install(jobStore([running]));
    const model = new SubscriptionModel();
    model.jobs.set(`${JOBS_PATH}/${running.name}`, { runHash: HASH, status: "Running", jobType: "Command" });
    await scenario(model, store, [running.name], [() => undefined]);
    expect(store.puts).toHaveLength(0);
  });

  test("a job that fails fails the step; the next run submits a new one (a Failed job is never reused)", async () => {
    const store = install({ ...jobStore(), createdNext: ["Running", "Failed"] });
    const model = new SubscriptionModel();
    model.failingRuns.add(HASH);
    await scenario(
      model,
      store,
      [],
      [
        () => undefined,
        () => {
          store.createdNext = ["Running", "Completed"];
        },
      ],
    );
    expect(store.puts).toHaveLength(2);
  });

  test("only a Failed job of the run hash is there: a new one is submitted", async () => {
    const failed = fakeJob(`training-${HASH}-fai001`, "Failed", HASH);
    const store = install({ ...jobStore([failed]), createdNext: ["Running", "Completed"] });
    const model = new SubscriptionModel();
    model.jobs.set(`${JOBS_PATH}/${failed.name}`, { runHash: HASH, status: "Failed", jobType: "Command" });
    await scenario(model, store, [failed.name], [() => undefined]);
    expect(store.puts).toHaveLength(1);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// ensure-endpoint, ensure-deployment: the serving steps' result lines

describe("serving", () => {
  const ENDPOINT_SPEC = {
    location: "westeurope",
    kind: "Managed",
    identity: { type: "SystemAssigned" },
    properties: { authMode: "Key", publicNetworkAccess: "Enabled", description: "MNIST digits" },
    tags: { stack: "dev" },
  };
  const cliArgs = ["--poll-seconds", "0.05"];

  test("ensure-endpoint: created, then reused with nothing sent", async () => {
    const ep = new FakeEndpoint(fake, WS_ID, "mnist-contract", {
      traffic: {},
      absent: true,
      identityType: "SystemAssigned",
    }).install();
    const create = stepCreate("ops/ensure-endpoint.ts", ["--endpoint-id", ep.id]);
    const env = { ENDPOINT_SPEC: JSON.stringify(ENDPOINT_SPEC) };
    const model = new SubscriptionModel();
    const FIELDS = ["id", "name", "scoringUri", "swaggerUri", "authMode", "created", "updated"];
    for (const run of ["first", "second"]) {
      const puts = ep.puts.length;
      const m = viaModel(model, create, env);
      const c = await viaCli(create, env, { cliArgs });
      expect([run, pick(cliLine(c), FIELDS)]).toEqual([run, pick(m.json, FIELDS)]);
      expect([run, ep.puts.length - puts]).toEqual([run, m.json!.created ? 1 : 0]);
    }
  });

  test("ensure-deployment: created beside the serving one (a stale one retired), then reused with no PUT", async () => {
    const ep = new FakeEndpoint(fake, WS_ID, "mnist-dep", {
      traffic: { dold: 100 },
      deployments: { dold: "right", dstale: "right" },
      tags: { rolloutServing: "dold" },
      identityType: "SystemAssigned",
      provisioningPolls: 1,
    }).install();
    const modelId = `${WS_ID}/models/mnist-cnn/versions/3f9c2a1b4d5e`;
    const model = new SubscriptionModel();
    // the same endpoint in the model: dold serves, dstale holds nothing; the model version exists
    model.existing.add(ep.id);
    model.existing.add(modelId);
    model.endpoints.set(ep.id, { traffic: { dold: 100 }, mirror: {}, serving: "dold", served: true });
    for (const d of ["dold", "dstale"]) {
      model.existing.add(`${ep.id}/deployments/${d}`);
      model.deployments.set(`${ep.id}/deployments/${d}`, { model: modelId, quality: "good" });
    }
    const create = stepCreate("ops/ensure-deployment.ts", [
      ...["--endpoint-id", ep.id, "--deployment", "dnew", "--timeout-minutes", "60"],
    ]);
    const env = {
      DEPLOYMENT_SPEC: JSON.stringify({
        location: "westeurope",
        kind: "Managed",
        sku: { name: "Default", capacity: 1 },
        properties: { endpointComputeType: "Managed", instanceType: "Standard_DS2_v2", model: modelId },
        tags: { stack: "dev" },
      }),
    };
    const FIELDS = ["id", "name", "endpoint", "provisioningState", "reused", "retired"];
    for (const run of ["first", "second"]) {
      const puts = ep.deploymentPuts.length;
      const m = viaModel(model, create, env);
      const c = await viaCli(create, env, { cliArgs });
      expect([run, pick(cliLine(c), FIELDS)]).toEqual([run, pick(m.json, FIELDS)]);
      expect([run, ep.deploymentPuts.length - puts]).toEqual([run, m.json!.reused ? 0 : 1]);
    }
    expect(ep.deleted).toEqual(["dstale"]);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// ensure-compute: the cluster (id, name, vmSize, created, updated, retired)

test("ensure-compute: created, reused with no PUT, and a revert removes the owner's other cluster", async () => {
  installJobs(fake, jobStore());
  const clusters = new Map<string, Json>();
  const one = new RegExp(`^${WS_ID.replace(/[/.]/g, "\\$&")}/computes/([^/]+)$`);
  const body = (n: string) => ({
    id: `${WS_ID}/computes/${n}`,
    name: n,
    type: "Microsoft.MachineLearningServices/workspaces/computes",
    location: "westeurope",
    identity: { type: "SystemAssigned", principalId: "p-1", tenantId: "t-1" },
    ...clusters.get(n),
    properties: { ...(clusters.get(n)!.properties as Json), provisioningState: "Succeeded" },
  });
  fake.on("GET", `${WS_ID}/computes`, () => ({
    status: 200,
    body: { value: [...clusters.keys()].map(body) },
  }));
  fake.on("GET", one, (req) => {
    const n = one.exec(req.path)![1];
    return clusters.has(n)
      ? { status: 200, body: body(n) }
      : { status: 404, body: { error: { code: "NotFound" } } };
  });
  fake.on("PUT", one, (req) => {
    const n = one.exec(req.path)![1];
    const b = JSON.parse(req.body) as Json;
    clusters.set(n, { tags: b.tags, properties: b.properties });
    return { status: 201, body: body(n) };
  });
  fake.on("DELETE", one, (req) => {
    clusters.delete(one.exec(req.path)![1]);
    return { status: 200 };
  });
  const grants = new Set<string>();
  fake.on("PUT", /\/roleAssignments\/[0-9a-f-]+$/, (req) => {
    if (grants.has(req.path)) return { status: 409, body: { error: { code: "RoleAssignmentExists" } } };
    grants.add(req.path);
    return { status: 201, body: {} };
  });
  const account = "/subscriptions/s-1/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/stdev1";
  const spec = (vmSize: string) => ({
    location: "westeurope",
    identity: { type: "SystemAssigned" },
    properties: {
      computeType: "AmlCompute",
      properties: {
        vmSize,
        vmPriority: "Dedicated",
        scaleSettings: { minNodeCount: 0, maxNodeCount: 1, nodeIdleTimeBeforeScaleDown: "PT120S" },
      },
    },
    tags: { stack: "dev", clusterOf: "gpu" },
  });
  const model = new SubscriptionModel();
  // principalId: the fake's identity vs the model's made-up one; nothing in the graph reads it (gpuCompute: id, name)
  const FIELDS = ["id", "name", "vmSize", "created", "updated", "retired"];
  const steps: Array<[string, string]> = [
    ["gv100", "Standard_NC6s_v3"],
    ["gt4", "Standard_NC4as_T4_v3"],
    ["gt4", "Standard_NC4as_T4_v3"],
  ];
  for (const [i, [name, vmSize]] of steps.entries()) {
    // components/gpuCompute.ts's flags
    const create = stepCreate("ops/ensure-compute.ts", [
      ...["--compute-id", `${WS_ID}/computes/${name}`, "--storage-account-id", account],
    ]);
    const env = { COMPUTE_SPEC: JSON.stringify(spec(vmSize)) };
    const m = viaModel(model, create, env);
    const c = await sent(() => viaCli(create, env, { cliArgs: ["--poll-seconds", "0.05"] }), put(one));
    expect([i, pick(cliLine(c.value), FIELDS)]).toEqual([i, pick(m.json, FIELDS)]);
    expect([i, c.requests.length]).toEqual([i, m.json!.created ? 1 : 0]);
  }
  expect([...clusters.keys()]).toEqual(["gt4"]);
});

// ---------------------------------------------------------------------------------------------------------------
// promote-model: the registry version (promoted, reused, registry, name, version, registryModelId, minGain)

test("promote-model: the first run uploads and registers in the registry, the second reuses it (no upload, no PUT)", async () => {
  const registry: RegistryStore = registryStore(fake);
  installRegistry(fake, registry);
  const storage: BlobStore = {
    account: ACCOUNT,
    container: CONTAINER,
    blobs: new Map(),
    auth: [],
    pageSize: 50,
  };
  installBlobs(fake, storage, { bearer: true, allowSharedKeyAccess: false });
  fake.on("GET", `${WS_ID}/datastores/workspaceblobstore`, datastoreAnswer());
  const version = "3f9c2a1b4d5e";
  const job = `training-${version}-abcdef`;
  const modelId = `${WS_ID}/models/mnist-cnn/versions/${version}`;
  storage.blobs.set(`azureml/${job}/model_dir/mnist_cnn.onnx`, randomBytes(2000));
  storage.blobs.set(`azureml/${job}/model_dir/model_meta.json`, Buffer.from("{}"));
  fake.on("GET", modelId, {
    status: 200,
    body: {
      id: modelId,
      name: version,
      type: "Microsoft.MachineLearningServices/workspaces/models/versions",
      properties: {
        modelType: "custom_model",
        modelUri: `azureml://jobs/${job}/outputs/model_dir`,
        jobName: job,
        description: "MNIST CNN",
        tags: { testAccuracy: "0.9912", runHash: version },
        properties: {},
        provisioningState: "Succeeded",
      },
    },
  });
  fake.on("GET", `${WS_ID}/jobs/${job}`, {
    status: 200,
    body: {
      id: `${WS_ID}/jobs/${job}`,
      name: job,
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
  // components/modelPromotion.ts's flags, with a margin that is not the default
  const create = stepCreate("ops/promote-model.ts", [
    ...["--model-id", modelId, "--registry-id", REGISTRY_ID, "--min-gain", "-0.001"],
  ]);
  const model = new SubscriptionModel();
  // challengerAccuracy / championVersion / championAccuracy come from the versions' tags, which the model does not
  // keep; the graph reads registryModelId only
  const FIELDS = ["promoted", "reused", "registry", "name", "version", "registryModelId", "minGain"];
  for (const run of ["first", "second"]) {
    const m = viaModel(model, create, {});
    const c = await sent(
      // the registry's and the workspace's blob services are path-style on the fake's host
      () =>
        viaCli(
          create,
          {},
          { cliArgs: ["--poll-seconds", "0"], cliEnv: { AZURE_STORAGE_ENDPOINT_OVERRIDE: fake.url } },
        ),
      (q) =>
        q.method === "PUT" &&
        (q.path.startsWith(`${REGISTRY_ID}/models/mnist-cnn/versions/`) || q.path.startsWith("/mlr")),
    );
    expect([run, pick(cliLine(c.value), FIELDS)]).toEqual([run, pick(m.json, FIELDS)]);
    expect(m.json!.registry).toBe(REGISTRY);
    // uploaded and registered only when not reused
    expect([run, c.requests.length > 0]).toEqual([run, !m.json!.reused]);
  }
});

test("no secret appears in any output", () => {
  expect(outputs.length).toBeGreaterThan(10);
  for (const r of outputs) for (const s of fake.secrets()) expect(r.stdout + r.stderr).not.toContain(s);
});
