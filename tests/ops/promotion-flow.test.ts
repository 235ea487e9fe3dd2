/**
 * "Promote, don't retrain", one run of the whole flow under the fake Azure, in the style of graph-steps.test.ts: the
 * program runs under Pulumi's mocks (the graph harness), and each step's create (split as /bin/sh splits it) and
 * environment then run the real CLI against one FakeAzure that holds two workspaces and one registry.
 *   1. dev (modelRegistryId set) trains (run-job: a job PUT, waited for, its MLflow test_accuracy read), registers the
 *      version from the job's output (ensure-model), deploys, smoke-tests, moves the traffic, retires, calls the
 *      samples, and promotes (promote-model: the job output's blobs copied into the registry, champion tag set);
 *   2. prod (Pulumi.prod.yaml: modelSource registry, the same registry, registryModelVersion = dev's promoted
 *      version) has no training, registration or promotion step at all, and deploys exactly
 *      `azureml://registries/<r>/models/mnist-cnn/versions/<v>` into its own workspace;
 *   3. dev again with a worse challenger: deployed and sampled like any version, then refused by the promotion with
 *      both scores (exit 1); the registry is unchanged;
 *   4. prod destroyed (the delete commands its graph declares): the registry and dev's endpoint stay.
 * The graph's own training result feeds the graph: the harness's stand-in for run-job answers a fixed accuracy, so
 * the program is declared again with the real run-job's result line as that step's stdout (what Pulumi would do),
 * and the model version's MODEL_SPEC then carries the job's real name and accuracy.
 * What is substituted: dev's workspace id by the fake's (its jobs, MLflow and datastore live at WS_ID; prod keeps
 * the graph's own id, a second workspace), the scoring URI (the fake's), the blob endpoint
 * (AZURE_STORAGE_ENDPOINT_OVERRIDE) and `--poll-seconds`.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { parse } from "yaml";
import {
  PROJECT,
  ROOT,
  devStackConfig,
  installMocks,
  unwrap,
  valueOf,
  type Registration,
} from "../graph/harness";
import { SubscriptionModel } from "../graph/azureModel";
import { declareStack, type StackOutputs } from "../../program";
import { splitCommand } from "../../lib/program/steps";
import type {
  AssetResult,
  DeploymentResult,
  EndpointResult,
  PromotionResult,
  RolloutResult,
  RunJobResult,
  SampleResult,
} from "../../lib/core/contracts";
import { FakeEndpoint } from "./fake/endpoints";
import { MODEL_VERSION, check } from "./fake/schemas";
import { FakeAzure, WS_ID } from "./fake/fakeAzure";
import { installBlobs, type BlobStore } from "./fake/blobs";
import { datastoreAnswer } from "./fake/assets";
import { installJobs, jobStore, type JobStore } from "./fake/jobs";
import {
  REGISTRY,
  REGISTRY_ID,
  installRegistry,
  registryStore,
  versionFiles,
  type RegistryStore,
} from "./fake/registry";
import { runCli, type CliResult } from "./fake/runCli";
import { MLFLOW_RUN_PATH, installWorkspace } from "./scenarios";

const fake = new FakeAzure();
const outputs: CliResult[] = [];
const NAME = "mnist-cnn";
const ACCOUNT = "stmnistdev01";
const CONTAINER = "azureml-blobstore-0f0e0d0c-0b0a-0908-0706-050403020100";
const STEP_TYPE = "command:local:Command";

/** A SubscriptionModel whose steps print what the real CLI printed, where the test has run it (step → stdout). */
class RealOutputs extends SubscriptionModel {
  constructor(private readonly real: ReadonlyMap<string, string>) {
    super();
  }
  override command(
    name: string,
    inputs: Record<string, unknown>,
    run: (create: string, inputs: Record<string, unknown>) => string,
  ): string {
    const out = this.real.get(name);
    return super.command(name, inputs, out === undefined ? run : () => out);
  }
}

interface Declared {
  regs: Registration[];
  outputs: StackOutputs;
}

/** The program's registrations for `config` as stack `stack` (a fresh subscription: every step runs). */
async function declare(
  config: Record<string, string>,
  stack: "dev" | "prod",
  real: ReadonlyMap<string, string> = new Map(),
): Promise<Declared> {
  const h = installMocks(false, new RealOutputs(real));
  pulumi.runtime.setAllConfig(config);
  // the harness's engine runs stack "dev"; the program reads its stack name (names, tags) from getStack()
  const spy = jest.spyOn(pulumi, "getStack").mockReturnValue(stack);
  try {
    const out = declareStack();
    await h.settle();
    return { regs: [...h.registrations], outputs: out };
  } finally {
    spy.mockRestore();
  }
}

/** Pulumi.prod.yaml as the stack's config (as devStackConfig reads Pulumi.dev.yaml), pre-flight off. */
function prodStackConfig(overrides: Record<string, string>): Record<string, string> {
  const file = parse(fs.readFileSync(path.join(ROOT, "Pulumi.prod.yaml"), "utf8")) as {
    config: Record<string, unknown>;
  };
  const config: Record<string, string> = { [`${PROJECT}:preflightChecks`]: "false" };
  for (const [k, v] of Object.entries(file.config)) config[k] = typeof v === "string" ? v : JSON.stringify(v);
  for (const [k, v] of Object.entries(overrides)) config[`${PROJECT}:${k}`] = v;
  return config;
}

const steps = (regs: Registration[]) => regs.filter((r) => r.type === STEP_TYPE);
const step = (regs: Registration[], name: string) => {
  const r = steps(regs).find((x) => x.name === name);
  if (!r) throw new Error(`no step ${name}`);
  return unwrap(r.object) as { create: string; delete?: string; environment?: Record<string, string> };
};

/** The graph's workspace id in a step (its --workspace-id, or what an --endpoint-id / --model-id lies in). */
function workspaceOf(regs: Registration[], name: string): string {
  const words = splitCommand(step(regs, name).create);
  for (const f of ["--workspace-id", "--endpoint-id", "--model-id"]) {
    const i = words.indexOf(f);
    if (i >= 0) return words[i + 1].replace(/\/(onlineEndpoints|models)\/.*$/, "");
  }
  throw new Error(`${name} names no workspace`);
}

interface RunOptions {
  /** the graph's workspace id → the fake's (dev) */
  swap?: [string, string];
  scoringUri?: string;
  poll?: boolean;
  env?: Record<string, string>;
  /** the step may fail (its result is returned either way) */
  mayFail?: boolean;
  which?: "create" | "delete";
}

/** Runs a step's create (or delete) as the graph wrote it, with the substitutions the header names. */
async function run(regs: Registration[], name: string, o: RunOptions = {}): Promise<CliResult> {
  const s = step(regs, name);
  const swap = (text: string) => (o.swap ? text.split(o.swap[0]).join(o.swap[1]) : text);
  const command = s[o.which ?? "create"];
  if (!command) throw new Error(`step ${name} has no ${o.which}`);
  const words = splitCommand(swap(command));
  expect(words.slice(0, 4)).toEqual(["exec", "node", "--import", "tsx"]);
  const [script, ...args] = words.slice(4);
  const i = args.indexOf("--uri");
  if (i >= 0 && o.scoringUri) args[i + 1] = o.scoringUri;
  if (o.poll ?? true) args.push("--poll-seconds", "0.05");
  const env = Object.fromEntries(Object.entries(s.environment ?? {}).map(([k, v]) => [k, swap(v)]));
  const r = await runCli(script.replace(/\.ts$/, ""), args, fake.env({ ...env, ...o.env }));
  outputs.push(r);
  if (r.code !== 0 && !o.mayFail) throw new Error(`${name} exited ${r.code}:\n${r.stderr}`);
  return r;
}

/**
 * The workspace model versions (ModelVersions Get/CreateOrUpdate, ML 2025-12-01): a PUT body checked against the
 * spec's shape (fake/schemas.ts) and kept; a GET answers it back as examples/Workspace/ModelVersion/get.json does.
 */
function installModelVersions(): Map<string, Record<string, unknown>> {
  const models = new Map<string, Record<string, unknown>>();
  const re = new RegExp(`^${WS_ID}/models/[^/]+/versions/[^/]+$`, "i");
  fake.on("GET", re, (req) => {
    const props = models.get(req.path);
    if (!props) return { status: 404, body: { error: { code: "UserError", message: "Not found" } } };
    return {
      status: 200,
      body: {
        id: req.path,
        name: req.path.split("/").pop(),
        type: "Microsoft.MachineLearningServices/workspaces/models/versions",
        properties: { ...props, isAnonymous: false, isArchived: false, provisioningState: "Succeeded" },
      },
    };
  });
  fake.on("PUT", re, (req) => {
    const body = JSON.parse(req.body) as { properties: Record<string, unknown> };
    const refused = check(MODEL_VERSION, body);
    if (refused) return refused;
    models.set(req.path, body.properties);
    return { status: 201, body: { id: req.path, properties: body.properties } };
  });
  return models;
}

/** examples/Datastore/get.json: the default datastore, identity-based (credentialsType None). */
function installDatastore(): void {
  fake.on("GET", `${WS_ID}/datastores/workspaceblobstore`, datastoreAnswer("None", ACCOUNT));
}

/** What the training job writes into its output model_dir (the default path of a job output on workspaceblobstore). */
function jobWritesModel(job: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>([
    ["mnist_cnn.keras", Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04, 0xff]), randomBytes(20_000)])],
    ["mnist_cnn.onnx", randomBytes(4000)],
    ["model_meta.json", Buffer.from(JSON.stringify({ input_shape: [28, 28, 1], job }))],
  ]);
  for (const [rel, data] of files) storage.blobs.set(`azureml/${job}/model_dir/${rel}`, data);
  return files;
}

let registry: RegistryStore;
let storage: BlobStore;
let jobs: JobStore;
/** the test_accuracy the next job logs to MLflow */
let accuracy = 0;
const logged = new Map<string, number>();

beforeAll(async () => {
  process.setMaxListeners(100);
  await fake.start();
  registry = registryStore(fake);
  storage = { account: ACCOUNT, container: CONTAINER, blobs: new Map(), auth: [], pageSize: 50 };
  jobs = { ...jobStore(), createdNext: ["Preparing", "Queued", "Running", "Completed"] };
});
afterAll(() => fake.stop());

/** Everything the flow meets, installed once: dev's workspace (jobs, MLflow, models, datastore, blobs), the registry. */
function installAzure(): void {
  installWorkspace(fake);
  installJobs(fake, jobs);
  fake.on("GET", MLFLOW_RUN_PATH, (req) => {
    const run = req.query.get("run_id") ?? "";
    // a job logs its accuracy once: the one set when it was submitted
    if (!logged.has(run)) logged.set(run, accuracy);
    const metrics = [{ key: "test_accuracy", value: logged.get(run)!, step: 0 }];
    return { status: 200, body: { run: { info: { run_id: run, status: "FINISHED" }, data: { metrics } } } };
  });
  installModelVersions();
  installDatastore();
  installBlobs(fake, storage, { bearer: true, allowSharedKeyAccess: false });
  installRegistry(fake, registry);
}

/** dev's config: Pulumi.dev.yaml with the registry the fake serves. */
const devConfig = (extra: Record<string, string> = {}) =>
  devStackConfig({ modelRegistryId: REGISTRY_ID, ...extra });

interface DevUp {
  training: RunJobResult;
  model: AssetResult;
  endpoint: EndpointResult;
  deployment: DeploymentResult;
  traffic: RolloutResult;
  sample: SampleResult;
  promotion: CliResult;
  declared: Declared;
  files: Map<string, Buffer>;
}

let devEp: FakeEndpoint | undefined;

/** One `up` of dev: train, register, serve, promote (the promotion may fail: its result is returned). */
async function devUp(config: Record<string, string>): Promise<DevUp> {
  const first = await declare(config, "dev");
  const graphWs = workspaceOf(first.regs, "training-run");
  expect(graphWs).not.toBe(WS_ID);
  const swap: [string, string] = [graphWs, WS_ID];
  const training = JSON.parse((await run(first.regs, "training-run", { swap })).stdout) as RunJobResult;
  const files = jobWritesModel(training.jobName);

  // the graph again, with the real training result as the training step's stdout
  const declared = await declare(config, "dev", new Map([["training-run", JSON.stringify(training)]]));
  const regs = declared.regs;
  expect(step(regs, "training-run")).toEqual(step(first.regs, "training-run"));
  const spec = JSON.parse(step(regs, "model-version").environment!.MODEL_SPEC) as {
    modelUri: string;
    tags: Record<string, string>;
  };
  expect(spec.modelUri).toBe(`azureml://jobs/${training.jobName}/outputs/model_dir`);
  expect(spec.tags.testAccuracy).toBe(String(training.testAccuracy));

  const model = JSON.parse((await run(regs, "model-version", { swap, poll: false })).stdout) as AssetResult;
  const endpointId = splitCommand(step(regs, "online-endpoint").create).at(-1)!.split(graphWs).join(WS_ID);
  devEp ??= new FakeEndpoint(fake, WS_ID, endpointId.split("/").pop()!, {
    traffic: {},
    absent: true,
    identityType: "SystemAssigned",
    provisioningPolls: 1,
  }).install();
  const serving = { swap, scoringUri: devEp.scoringUri };
  const endpoint = JSON.parse((await run(regs, "online-endpoint", serving)).stdout) as EndpointResult;
  const deployment = JSON.parse((await run(regs, "online-deployment", serving)).stdout) as DeploymentResult;
  await run(regs, "online-smoke", serving);
  const traffic = JSON.parse((await run(regs, "online-traffic", serving)).stdout) as RolloutResult;
  await run(regs, "online-retire", serving);
  const sample = JSON.parse(
    (await run(regs, "sample-invoke", { ...serving, poll: false })).stdout,
  ) as SampleResult;
  const promotion = await run(regs, "promotion-promote", {
    swap,
    mayFail: true,
    env: { AZURE_STORAGE_ENDPOINT_OVERRIDE: fake.url },
  });
  return { training, model, endpoint, deployment, traffic, sample, promotion, declared, files };
}

const registryState = () =>
  JSON.stringify([[...registry.versions], [...registry.containers], [...registry.blobs.keys()]]);

let champion: PromotionResult;
let prod: Declared;
let prodEp: FakeEndpoint;

describe("promote, don't retrain: dev trains and promotes, prod deploys that version from the registry", () => {
  test("dev: the graph's steps train, register, serve, pass the samples and promote the version into the registry", async () => {
    fake.reset();
    installAzure();
    accuracy = 0.9912;
    const dev = await devUp(devConfig());
    expect(dev.training).toMatchObject({ status: "Completed", reused: false, testAccuracy: 0.9912 });
    expect(jobs.puts).toHaveLength(1);
    // the steps prod must not have, all in dev's graph
    expect(steps(dev.declared.regs).map((r) => r.name)).toEqual(
      expect.arrayContaining(["training-run", "model-version", "promotion-promote", "gpu-cluster"]),
    );
    const version = dev.model.version;
    expect(dev.model).toMatchObject({ id: `${WS_ID}/models/${NAME}/versions/${version}`, reused: false });
    expect(dev.sample).toMatchObject({ passed: true, accuracy: 1 });
    expect(dev.traffic.traffic).toEqual({ [dev.deployment.name]: 100 });
    expect(devEp!.deploymentPuts[0].body).toMatchObject({ properties: { model: dev.model.id } });

    expect([dev.promotion.code, dev.promotion.stderr.slice(-400)]).toEqual([0, expect.any(String)]);
    champion = JSON.parse(dev.promotion.stdout) as PromotionResult;
    const registryModelId = `azureml://registries/${REGISTRY}/models/${NAME}/versions/${version}`;
    expect(champion).toEqual({
      promoted: true,
      reused: false,
      registry: REGISTRY,
      name: NAME,
      version,
      registryModelId,
      challengerAccuracy: 0.9912,
      minGain: 0,
    } satisfies PromotionResult);
    // the job's output, byte for byte, is the registry version's content; it is the champion
    const landed = versionFiles(registry, fake, NAME, version);
    expect([...landed.keys()].sort()).toEqual([...dev.files.keys()].sort());
    for (const [rel, data] of dev.files) expect(landed.get(rel)!.equals(data)).toBe(true);
    expect(registry.containers.get(NAME)).toEqual({ tags: { champion: version } });
    expect(registry.versions.get(`${NAME}/${version}`)!.properties.tags).toMatchObject({
      sourceModelId: dev.model.id,
      sourceJob: dev.training.jobName,
      testAccuracy: "0.9912",
      replaced: "none",
    });

    // the stack output the deploy workflow hands to prod, from the real promotion's result line
    const again = await declare(
      devConfig(),
      "dev",
      new Map([
        ["training-run", JSON.stringify(dev.training)],
        ["promotion-promote", dev.promotion.stdout],
      ]),
    );
    expect(await valueOf(pulumi.output(again.outputs.registryModelId))).toBe(registryModelId);
  }, 240_000);

  test("prod: no training, registration or promotion step; its deployment names exactly the registry version dev promoted", async () => {
    expect(champion?.promoted).toBe(true);
    prod = await declare(
      prodStackConfig({ modelRegistryId: REGISTRY_ID, registryModelVersion: champion.version }),
      "prod",
    );
    const regs = prod.regs;
    const names = steps(regs).map((r) => r.name);
    for (const absent of ["training-run", "model-version", "promotion-promote", "gpu-cluster"])
      expect(names).not.toContain(absent);
    const scripts = steps(regs).map((r) => step(regs, r.name).create);
    for (const s of scripts)
      expect(s).not.toMatch(
        /ops\/(run-job|submit-job|wait-for-job|ensure-model|promote-model|ensure-compute)\.ts/,
      );
    expect(regs.filter((r) => /machinelearningservices:(Job|Compute|ModelVersion)$/.test(r.type))).toEqual(
      [],
    );
    expect(await valueOf(pulumi.output(prod.outputs.registryModelId))).toBe(champion.registryModelId);

    // prod's own workspace (the graph's id), not dev's
    const prodWs = workspaceOf(regs, "online-endpoint");
    expect(prodWs).not.toBe(WS_ID);
    expect(prodWs).toMatch(/prod/);
    const endpointId = splitCommand(step(regs, "online-endpoint").create).at(-1)!;
    prodEp = new FakeEndpoint(fake, prodWs, endpointId.split("/").pop()!, {
      traffic: {},
      absent: true,
      identityType: "SystemAssigned",
      provisioningPolls: 1,
      tags: { stack: "prod" },
    }).install();
    expect(prodEp.name).not.toBe(devEp!.name);
    const serving = { scoringUri: prodEp.scoringUri };
    const registryBefore = registryState();
    const from = fake.requests.length;
    const endpoint = JSON.parse((await run(regs, "online-endpoint", serving)).stdout) as EndpointResult;
    expect(endpoint).toMatchObject({ id: endpointId, created: true });
    const deployment = JSON.parse((await run(regs, "online-deployment", serving)).stdout) as DeploymentResult;
    await run(regs, "online-smoke", serving);
    const traffic = JSON.parse((await run(regs, "online-traffic", serving)).stdout) as RolloutResult;
    await run(regs, "online-retire", serving);
    const sample = JSON.parse(
      (await run(regs, "sample-invoke", { ...serving, poll: false })).stdout,
    ) as SampleResult;

    expect(prodEp.deploymentPuts).toHaveLength(1);
    const model = (prodEp.deploymentPuts[0].body.properties as { model?: unknown }).model;
    expect(model).toBe(`azureml://registries/${REGISTRY}/models/${NAME}/versions/${champion.version}`);
    expect(traffic.traffic).toEqual({ [deployment.name]: 100 });
    expect(sample).toMatchObject({ passed: true, accuracy: 1 });
    // prod's up sent nothing to the registry (the deployment names it; the service pulls it), trained nothing,
    // registered nothing, and touched nothing of dev's workspace
    const during = fake.requests.slice(from);
    expect(during.filter((q) => q.path.toLowerCase().startsWith(REGISTRY_ID.toLowerCase()))).toEqual([]);
    expect(during.filter((q) => q.path.toLowerCase().startsWith(WS_ID.toLowerCase()))).toEqual([]);
    expect(during.filter((q) => q.method === "PUT" && /\/(jobs|models|computes)\//.test(q.path))).toEqual([]);
    expect(registryState()).toBe(registryBefore);
    expect(registry.versionPuts).toHaveLength(1);
    expect(jobs.puts).toHaveLength(1);
  }, 180_000);

  test("dev again, a worse challenger: deployed and sampled, then refused with both scores; the registry is unchanged", async () => {
    expect(champion?.promoted).toBe(true);
    accuracy = 0.985;
    const before = registryState();
    const [versionPuts, pendingUploads, containerPuts] = [
      registry.versionPuts.length,
      registry.pendingUploads.length,
      registry.containerPuts.length,
    ];
    const dev = await devUp(devConfig({ epochs: "20" }));
    expect(dev.training).toMatchObject({ status: "Completed", reused: false, testAccuracy: 0.985 });
    expect(jobs.puts).toHaveLength(2);
    const version = dev.model.version;
    expect(version).not.toBe(champion.version);
    expect(dev.sample).toMatchObject({ passed: true });

    const r = dev.promotion;
    expect(r.code).toBe(1);
    expect(r.json).toMatchObject({
      promoted: false,
      reused: false,
      version,
      challengerAccuracy: 0.985,
      championVersion: champion.version,
      championAccuracy: 0.9912,
      minGain: 0,
    });
    expect(String(r.json!.error)).toContain(
      `not promoted: challenger ${NAME}:${version} test accuracy 0.985 vs champion ${NAME}:${champion.version} 0.9912`,
    );
    expect(registryState()).toBe(before);
    expect(registry.containers.get(NAME)!.tags).toEqual({ champion: champion.version });
    expect(registry.versions.has(`${NAME}/${version}`)).toBe(false);
    expect([
      registry.versionPuts.length,
      registry.pendingUploads.length,
      registry.containerPuts.length,
    ]).toEqual([versionPuts, pendingUploads, containerPuts]);
  }, 240_000);

  test("destroy of prod: its delete commands remove its endpoint; the registry and dev's endpoint and deployment stay", async () => {
    expect(prodEp).toBeDefined();
    const regs = prod.regs;
    const registryBefore = registryState();
    const devDeployments = [...devEp!.deployments.keys()];
    expect(devDeployments.length).toBeGreaterThan(0);
    const from = fake.requests.length;

    // App Insights is gone by the time its cleanup runs; nothing Azure added is left to delete
    const insights = /\/providers\/Microsoft\.(Insights|AlertsManagement)\//i;
    fake.on("GET", insights, (req) =>
      /smartDetectorAlertRules$/i.test(req.path)
        ? { status: 200, body: { value: [] } }
        : { status: 404, body: { error: { code: "ResourceNotFound", message: "not found" } } },
    );
    fake.on("DELETE", insights, { status: 204 });

    // the deletes the prod graph declares, in the reverse of their creation (the engine's order for a destroy)
    const deletes = steps(regs)
      .filter((r) => step(regs, r.name).delete)
      .map((r) => r.name)
      .reverse();
    // the endpoint (with its deployments), the purge step (off in prod: an echo), App Insights' leftovers
    expect(deletes).toEqual(["online-endpoint", "ml-purge-on-destroy", "ml-smart-detection-cleanup"]);
    expect(step(regs, "ml-purge-on-destroy").delete).toMatch(/^echo 'purgeOnDestroy is off/);
    const ran: string[] = [];
    for (const name of deletes) {
      const command = step(regs, name).delete!;
      if (command.startsWith("exec node --import tsx ")) {
        await run(regs, name, { which: "delete" });
      } else {
        // a shell step (an echo): run as pulumi-command runs it
        await new Promise<void>((resolve, reject) =>
          execFile("/bin/sh", ["-c", command], (err) => (err ? reject(err) : resolve())),
        );
      }
      ran.push(name);
    }
    expect(ran).toEqual(deletes);
    expect(prodEp.exists).toBe(false);

    // nothing of the registry or of dev was touched
    const during = fake.requests.slice(from);
    expect(during.filter((q) => q.path.toLowerCase().startsWith(REGISTRY_ID.toLowerCase()))).toEqual([]);
    expect(during.filter((q) => q.path.toLowerCase().startsWith(WS_ID.toLowerCase()))).toEqual([]);
    expect(registryState()).toBe(registryBefore);
    expect(registry.containers.get(NAME)!.tags).toEqual({ champion: champion.version });
    expect(registry.versions.get(`${NAME}/${champion.version}`)!.provisioningState).toBe("Succeeded");
    expect(devEp!.exists).toBe(true);
    expect([...devEp!.deployments.keys()]).toEqual(devDeployments);
    expect(Object.values(devEp!.traffic)).toEqual([100]);
  }, 120_000);
});

afterAll(() => {
  // the flow never deletes anything of the registry, and never prints a secret
  expect(fake.requests.filter((q) => q.method === "DELETE" && q.path.startsWith(REGISTRY_ID))).toEqual([]);
  expect(outputs.length).toBeGreaterThan(20);
  for (const o of outputs) for (const s of fake.secrets()) expect(o.stdout + o.stderr).not.toContain(s);
});
