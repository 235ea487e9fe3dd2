// Every component twice in one program: child names derive from the component's name, so two instances never share
// a URN, and the names Azure sees (resource group, cluster, endpoint, ARM ids) stay distinct too.
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { Harness, ROOT, devStackConfig, installMocks, unwrap, valueOf } from "./harness";
import { flagOf } from "../../lib/program/steps";
import { readStackConfig } from "../../lib/config/stack";
import { MlWorkspace } from "../../components/mlWorkspace";
import { GpuCompute } from "../../components/gpuCompute";
import { EnvironmentAsset } from "../../components/environmentAsset";
import { CodeAsset } from "../../components/codeAsset";
import { TrainingJob } from "../../components/trainingJob";
import { RegisteredModel } from "../../components/registeredModel";
import { OnlineService } from "../../components/onlineService";
import { SampleInvocation } from "../../components/sampleInvocation";

const TYPES = [
  "MlWorkspace",
  "GpuCompute",
  "EnvironmentAsset",
  "CodeAsset",
  "TrainingJob",
  "RegisteredModel",
  "OnlineService",
  "SampleInvocation",
];

let h: Harness;
let ids: pulumi.Output<string>[] = [];

/**
 * One pipeline; `n` distinguishes the instances (the first uses the program's names). The others qualify their Azure
 * names with "pipeline-<n>": long enough to be cut, so only the hash in the cut keeps them apart.
 */
function pipeline(n: string, workspace?: MlWorkspace) {
  const config = devStackConfig();
  const cfg = readStackConfig(
    (k) => config[k.includes(":") ? k : `azure-ml-mnist:${k}`],
    "azure-ml-mnist",
    "dev",
  );
  const name = (base: string) => (n ? `${base}${n}` : base);
  const nameQualifier = n ? `pipeline-${n}` : undefined;
  const ws =
    workspace ??
    new MlWorkspace(name("ml"), {
      project: cfg.project,
      stack: cfg.stack,
      location: cfg.location,
      ...cfg.workspace,
      nameQualifier,
    });
  const gpu = new GpuCompute(name("gpu"), { workspace: ws, ...cfg.gpu, nameQualifier });
  const env = new EnvironmentAsset(name("inference-env"), {
    workspace: ws,
    environmentName: name("mnist-inference"),
    image: cfg.inference.image,
    condaFile: path.join(ROOT, "scoring", "environment.yml"),
    description: "inference",
  });
  const code = new CodeAsset(name("train-code"), {
    workspace: ws,
    folder: path.join(ROOT, "training"),
    assetName: name("mnist-train"),
  });
  const score = new CodeAsset(name("score-code"), {
    workspace: ws,
    folder: path.join(ROOT, "scoring"),
    assetName: name("mnist-score"),
  });
  const trainingEnv = new EnvironmentAsset(name("training-env"), {
    workspace: ws,
    environmentName: name("mnist-training-gpu"),
    image: cfg.training.image,
    condaFile: path.join(ROOT, "environments", "training-gpu.yml"),
    description: "training",
  });
  const training = new TrainingJob(name("training"), {
    workspace: ws,
    compute: gpu,
    code,
    ...cfg.training,
    environment: trainingEnv,
  });
  const model = new RegisteredModel(name("model"), { workspace: ws, training, modelName: name("mnist-cnn") });
  const service = new OnlineService(name("online"), {
    workspace: ws,
    model,
    scoringCode: score,
    environment: env,
    ...cfg.serving,
    rollout: cfg.rollout,
    smokeMinAccuracy: cfg.sample.minAccuracy,
    nameQualifier,
  });
  const sample = new SampleInvocation(name("sample"), { service, ...cfg.sample });
  ids = [...ids, gpu.computeId, env.environmentId, code.codeId, model.modelId, service.deploymentId];
  return { ws, sample };
}

beforeAll(async () => {
  h = installMocks(false);
  pulumi.runtime.setAllConfig(devStackConfig());
  const first = pipeline("");
  // A second pipeline in its own workspace, and a third sharing the first workspace.
  const second = pipeline("2");
  const third = pipeline("3", first.ws);
  await Promise.all([first, second, third].map((p) => valueOf(p.sample.result)));
  await h.settle();
});

test("two instances of each component in one program: distinct URNs", () => {
  for (const t of TYPES) {
    expect([t, h.registrations.filter((r) => r.type === `azure-ml-mnist:index:${t}`).length]).toEqual([
      t,
      t === "MlWorkspace" ? 2 : t === "CodeAsset" || t === "EnvironmentAsset" ? 6 : 3,
    ]);
  }
  const urns = h.registrations.map((r) => r.urn);
  expect(urns.filter((u, i) => urns.indexOf(u) !== i)).toEqual([]);
});

test("children carry their component's name", () => {
  const children = h.registrations.filter((r) => r.custom && r.parent.includes("azure-ml-mnist:index:"));
  for (const r of children) {
    const parent = r.parent.split("::").pop()!;
    expect([r.name, r.name.startsWith(`${parent}-`) || r.name.startsWith(`${parent}:`)]).toEqual([
      r.name,
      true,
    ]);
  }
});

test("no component carries an alias for a name it had before (no stack of an earlier layout was ever deployed)", () => {
  // azure-native adds aliases of its own (older API versions of a type, same name): only renames count here.
  expect(h.registrations.length).toBeGreaterThan(50);
  const renamed = h.registrations.filter((r) => r.aliases.some((a) => !a.endsWith(`::${r.name}`)));
  expect(renamed.map((r) => r.urn)).toEqual([]);
});

test("the names Azure sees stay distinct: resource groups, clusters, endpoints, ARM ids", async () => {
  const physical = (type: string, input: string) =>
    h.registrations.filter((r) => r.type === type).map((r) => JSON.stringify(r.object[input]));
  for (const [type, input] of [
    ["azure-native:resources:ResourceGroup", "resourceGroupName"],
    ["azure-native:machinelearningservices:Workspace", "workspaceName"],
  ]) {
    const names = physical(type, input);
    expect([type, new Set(names).size]).toEqual([type, names.length]);
  }
  // clusters and endpoints are created by their steps: their --compute-id / --endpoint-id
  const clusters = h.registrations
    .filter((r) => r.type === "command:local:Command" && r.name.endsWith("-cluster"))
    .map((r) => flagOf(String(unwrap(r.object.create)), "compute-id"));
  expect(clusters).toHaveLength(3);
  expect(new Set(clusters).size).toBe(3);
  const endpoints = h.registrations
    .filter((r) => r.type === "command:local:Command" && r.name.endsWith("-endpoint"))
    .map((r) => flagOf(String(unwrap(r.object.create)), "endpoint-id"));
  expect(endpoints).toHaveLength(3);
  expect(new Set(endpoints).size).toBe(3);
  const resolved = await Promise.all(ids.map(valueOf));
  expect(new Set(resolved).size).toBe(resolved.length);
});
