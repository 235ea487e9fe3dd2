// The real index.ts with Pulumi.dev.yaml under mocks: components, key properties, the dependency chain,
// destroy order, tags and secrets.
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { codeVersionOf } from "../../components/codeAsset";
import { listAssetFiles } from "../../lib/hashing";
import {
  Harness,
  MOCK_KEY,
  ROOT,
  Registration,
  SUBSCRIPTION,
  SUFFIX,
  TEST_ACCURACY,
  byType,
  dependsOn,
  devStackConfig,
  installMocks,
  one,
  unwrap,
  valueOf,
} from "./harness";

const ML = "azure-native:machinelearningservices";
const CMD = "command:local:Command";

let h: Harness;
let prog: typeof import("../../index");

beforeAll(async () => {
  h = installMocks(false);
  pulumi.runtime.setAllConfig(devStackConfig());
  // Loaded after the mocks, so its resources register against them; `await import` is TS2835 under nodenext.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  prog = require("../../index");
  await valueOf(prog.sampleResult);
  await h.settle();
});

const obj = (r: Registration) => unwrap(r.object) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const cmd = (name: string) => one(h, CMD, name);

describe("components", () => {
  test("every component is registered once, under its own type", () => {
    for (const t of [
      "MlWorkspace",
      "GpuCompute",
      "TrainingJob",
      "RegisteredModel",
      "OnlineService",
      "SampleInvocation",
    ]) {
      expect(byType(h, `azure-ml-mnist:index:${t}`)).toHaveLength(1);
    }
    expect(byType(h, "azure-ml-mnist:index:CodeAsset").map((r) => r.name)).toEqual([
      "train-code",
      "score-code",
    ]);
    expect(
      byType(h, "azure-ml-mnist:index:EnvironmentAsset")
        .map((r) => r.name)
        .sort(),
    ).toEqual(["inference-env", "training-env"]);
  });

  test("URNs are unique", () => {
    const urns = h.registrations.map((r) => r.urn);
    expect(urns.filter((u, i) => urns.indexOf(u) !== i)).toEqual([]);
  });

  test("children are parented to their component", () => {
    const ws = one(h, "azure-ml-mnist:index:MlWorkspace");
    expect(one(h, `${ML}:Workspace`).parent).toBe(ws.urn);
    expect(one(h, `${ML}:Compute`).parent).toBe(one(h, "azure-ml-mnist:index:GpuCompute").urn);
    expect(one(h, `${ML}:OnlineDeployment`).parent).toBe(one(h, "azure-ml-mnist:index:OnlineService").urn);
  });

  test("workspace dependencies use secure defaults and validated, suffixed names", () => {
    const rg = obj(one(h, "azure-native:resources:ResourceGroup"));
    expect(rg.resourceGroupName).toBe("rg-azure-ml-mnist-dev");
    expect(rg.location).toBe("westeurope");
    const sa = obj(one(h, "azure-native:storage:StorageAccount"));
    expect(sa).toMatchObject({
      accountName: `stdev${SUFFIX}`,
      kind: "StorageV2",
      minimumTlsVersion: "TLS1_2",
      allowBlobPublicAccess: false,
      isHnsEnabled: false,
    });
    const kv = obj(one(h, "azure-native:keyvault:Vault"));
    expect(kv.vaultName).toBe(`kv-dev-${SUFFIX}`);
    expect(kv.properties).toMatchObject({ enableRbacAuthorization: true, tenantId: "tenant-guid" });
    expect(obj(one(h, "azure-native:containerregistry:Registry")).registryName).toBe(`acrdev${SUFFIX}`);
    expect(obj(one(h, "azure-native:applicationinsights:Component")).workspaceResourceId).toContain(
      `law-dev-${SUFFIX}`,
    );
    const ws = obj(one(h, `${ML}:Workspace`));
    expect(ws).toMatchObject({ workspaceName: `mlw-dev-${SUFFIX}`, identity: { type: "SystemAssigned" } });
    for (const k of ["storageAccount", "keyVault", "applicationInsights", "containerRegistry"]) {
      expect(ws[k]).toMatch(/^\/subscriptions\//);
    }
  });

  test("GPU cluster: VM size from config, scales to zero, size in the name", () => {
    const c = obj(one(h, `${ML}:Compute`));
    expect(c.computeName).toBe(`gnc4ast4v3d${SUFFIX}`);
    expect(c.properties.computeType).toBe("AmlCompute");
    expect(c.properties.properties).toMatchObject({
      vmSize: "Standard_NC4as_T4_v3",
      vmPriority: "Dedicated",
      scaleSettings: { minNodeCount: 0, maxNodeCount: 1, nodeIdleTimeBeforeScaleDown: "PT120S" },
    });
  });

  test("environments: conda text on a pinned base image, content-hash version, reused or registered by a step", () => {
    const spec = (name: string) =>
      JSON.parse(String(obj(cmd(`${name}-ensure`)).environment.ENVIRONMENT_SPEC));
    const inference = spec("inference-env");
    expect(obj(cmd("inference-env-ensure")).create).toMatch(
      /^node_modules\/\.bin\/tsx ops\/ensure-environment\.ts --workspace-id \/subscriptions\/.+\/workspaces\/mlw-dev-\w+ --name mnist-inference --version [0-9a-f]{16}$/,
    );
    expect(inference.image).toBe("mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:20250601.v1");
    expect(inference.condaFile).toBe(fs.readFileSync(path.join(ROOT, "scoring", "environment.yml"), "utf8"));
    expect(inference.osType).toBe("Linux");
    const training = spec("training-env");
    expect(training.image).toBe("mcr.microsoft.com/azureml/openmpi5.0-cuda12.4-ubuntu22.04:20250701.v1");
    expect(training.condaFile).toBe(
      fs.readFileSync(path.join(ROOT, "environments", "training-gpu.yml"), "utf8"),
    );
    expect(obj(cmd("training-env-ensure")).create).toContain("--name mnist-training-gpu --version ");
    // Versions are history: no step deletes them (the purge removes them with the workspace).
    expect(obj(cmd("inference-env-ensure")).delete).toBeUndefined();
    expect(byType(h, `${ML}:EnvironmentVersion`)).toEqual([]);
  });

  test("code assets: one step per folder, version = content hash, uploaded by ops/ensure-code.ts unless it exists", () => {
    for (const [name, asset, folder] of [
      ["train-code", "mnist-train", "training"],
      ["score-code", "mnist-score", "scoring"],
    ]) {
      const c = obj(cmd(`${name}-ensure`));
      expect(c.create).toBe(
        `node_modules/.bin/tsx ops/ensure-code.ts --workspace-id /subscriptions/${SUBSCRIPTION}/resourceGroups/rg-azure-ml-mnist-dev/providers/Microsoft.MachineLearningServices/workspaces/mlw-dev-${SUFFIX} --name ${asset} --version ${codeVersionOf(path.join(ROOT, folder))} --folder ${folder}`,
      );
      expect(JSON.parse(String(c.environment.ASSET_SPEC)).description).toBe(
        `${folder}/ at content hash ${codeVersionOf(path.join(ROOT, folder))}`,
      );
      expect(c.delete).toBeUndefined();
    }
    expect(listAssetFiles(path.join(ROOT, "training"))).toContain("app.py");
    expect(listAssetFiles(path.join(ROOT, "training")).some((f) => /__pycache__|\.pyc$/.test(f))).toBe(false);
    expect(byType(h, `${ML}:CodeVersion`)).toEqual([]);
    expect(byType(h, "azure-native:storage:Blob")).toEqual([]);
  });

  test("training job: command, hyperparameters as inputs, cluster, names from config; typed spec, submitted or reused", () => {
    const submit = obj(cmd("training-submit"));
    expect(submit.create).toMatch(
      /^node_modules\/\.bin\/tsx ops\/submit-job\.ts --workspace-id \/subscriptions\/.+\/workspaces\/mlw-dev-\w+ --run-hash [0-9a-f]{12} --name-prefix training$/,
    );
    expect(submit.delete).toBeUndefined();
    const p = JSON.parse(String(submit.environment.JOB_SPEC));
    expect(p.jobType).toBe("Command");
    expect(p.command).toBe(
      "python app.py --epochs ${{inputs.epochs}} --batch-size ${{inputs.batch_size}} --learning-rate ${{inputs.learning_rate}} --seed ${{inputs.seed}} --output-dir ${{outputs.model_dir}}",
    );
    expect(p.inputs).toEqual({
      epochs: { jobInputType: "literal", value: "15" },
      batch_size: { jobInputType: "literal", value: "128" },
      learning_rate: { jobInputType: "literal", value: "0.003" },
      seed: { jobInputType: "literal", value: "42" },
    });
    expect(p.outputs.model_dir.jobOutputType).toBe("uri_folder");
    expect(p.experimentName).toBe("mnist-cnn");
    expect(p.displayName).toBe("train-mnist-cnn");
    expect(p.environmentId).toMatch(/\/environments\/mnist-training-gpu\/versions\/[0-9a-f]{16}$/);
    expect(p.computeId).toMatch(/\/computes\/gnc4ast4v3d/);
    expect(p.codeId).toMatch(/\/codes\/mnist-train\/versions\//);
    expect(p.properties).toEqual({ runHash: prog.runHash });
    expect(p.tags.runHash).toBe(prog.runHash);
    expect(byType(h, `${ML}:Job`)).toEqual([]);
  });

  test("wait step polls the actual job and gates on minTestAccuracy", () => {
    const c = obj(cmd("training-wait"));
    expect(c.create).toMatch(
      /^node_modules\/\.bin\/tsx ops\/wait-for-job\.ts --job-id \/subscriptions\/.+\/jobs\/training-[0-9a-f]{12}-[a-z]{6} --min-accuracy 0\.98 /,
    );
    expect(c.create).toMatch(/--stuck-timeout-minutes 30 --timeout-minutes 90$/);
    expect(c.logging).toBe("stderr");
  });

  test("model version comes from the job's actual output folder, versioned by the run hash", async () => {
    const m = obj(one(h, `${ML}:ModelVersion`));
    const jobName = await valueOf(prog.jobName);
    expect(jobName).toMatch(/^training-[0-9a-f]{12}-[a-z]{6}$/);
    expect(m.name).toBe("mnist-cnn");
    expect(m.version).toBe(prog.runHash);
    expect(m.properties).toMatchObject({
      modelType: "custom_model",
      modelUri: `azureml://jobs/${jobName}/outputs/model_dir`,
      jobName,
    });
  });

  test("endpoint: suffixed name, auth mode, no traffic, traffic ignored", () => {
    const r = one(h, `${ML}:OnlineEndpoint`);
    const e = obj(r);
    expect(e.endpointName).toBe(`mnist-dev-${SUFFIX}`);
    expect(e.properties.authMode).toBe("Key");
    expect(e.properties.traffic).toBeUndefined();
    expect(r.ignoreChanges).toEqual(
      expect.arrayContaining(["properties.traffic", "properties.mirrorTraffic"]),
    );
  });

  test("deployment: model, scoring code, inference env, size, probes sized for TensorFlow, name from content", () => {
    const r = one(h, `${ML}:OnlineDeployment`);
    const d = obj(r);
    expect(d.deploymentName).toMatch(/^d-[0-9a-f]{12}$/);
    expect(d.sku).toEqual({ name: "Default", capacity: 1 });
    expect(d.properties).toMatchObject({
      endpointComputeType: "Managed",
      instanceType: "Standard_DS2_v2",
      codeConfiguration: { scoringScript: "score.py" },
      environmentVariables: { WORKER_COUNT: "2", MAX_BATCH_SIZE: "256" },
      requestSettings: { requestTimeout: "PT10S", maxConcurrentRequestsPerInstance: 2 },
      livenessProbe: { initialDelay: "PT120S" },
      readinessProbe: { initialDelay: "PT60S" },
    });
    expect(d.properties.model).toMatch(/\/models\/mnist-cnn\/versions\//);
    expect(d.properties.codeConfiguration.codeId).toMatch(/\/codes\/mnist-score\/versions\//);
    expect(d.properties.environmentId).toMatch(/\/environments\/mnist-inference\/versions\//);
    expect(r.deleteBeforeReplace).toBe(false);
    expect(r.customTimeouts?.create).toBe("60m");
  });

  test("smoke step: the sample digits sent to the new deployment alone, before any traffic moves", () => {
    const r = cmd("online-smoke");
    const c = obj(r);
    expect(c.create).toMatch(
      /^node_modules\/\.bin\/tsx ops\/smoke-test\.ts --endpoint-id \/subscriptions\/.+\/onlineEndpoints\/mnist-dev-\w+ --deployment d-[0-9a-f]{12} --uri https:\/\/.+\/score --auth Key --request scoring\/sample-request\.json --expected scoring\/sample-labels\.json --min-accuracy 1 --retries 6$/,
    );
    expect(c.environment).toEqual({ ENDPOINT_KEY: MOCK_KEY });
    expect(pulumi.runtime.isRpcSecret(r.object.environment)).toBe(true);
    expect(r.propertyDependencies.triggers).toEqual([one(h, `${ML}:OnlineDeployment`).urn]);
  });

  test("rollout step gives the smoke-tested deployment the traffic (direct by default) and clears it on delete", () => {
    const t = obj(cmd("online-traffic"));
    expect(t.create).toMatch(
      /^node_modules\/\.bin\/tsx ops\/rollout\.ts --endpoint-id \/subscriptions\/.+ --deployment d-[0-9a-f]{12} --mode direct --uri /,
    );
    expect(t.delete).toMatch(
      /^node_modules\/\.bin\/tsx ops\/rollout\.ts --endpoint-id \/subscriptions\/.+ --deployment d-[0-9a-f]{12} --delete$/,
    );
    // Replaced (new step, then old step's conditional delete) only for a new deployment; endpoint input changes
    // re-run it as an update through this hash.
    expect(t.triggers).toEqual([expect.stringMatching(/\/deployments\/d-[0-9a-f]{12}$/)]);
    expect(t.environment.ENDPOINT_INPUTS_HASH).toMatch(/^[0-9a-f]{64}$/);
  });

  test("retirement: the previous deployments go once the new one holds the traffic; Pulumi never deletes one", () => {
    const retire = obj(cmd("online-retire"));
    expect(retire.create).toMatch(
      /^node_modules\/\.bin\/tsx ops\/retire-deployments\.ts --endpoint-id \/subscriptions\/.+\/onlineEndpoints\/mnist-dev-\w+ --keep d-[0-9a-f]{12}$/,
    );
    expect(retire.delete).toBeUndefined();
    expect(one(h, `${ML}:OnlineDeployment`).retainOnDelete).toBe(true);
  });

  test("sample invocation calls the scoring URI through traffic, key only in its environment", () => {
    const r = cmd("sample-invoke");
    const c = obj(r);
    expect(c.create).toBe(
      `node_modules/.bin/tsx ops/invoke.ts --uri https://mnist-dev-${SUFFIX}.westeurope.inference.ml.azure.com/score --auth Key --endpoint-id /subscriptions/${SUBSCRIPTION}/resourceGroups/rg-azure-ml-mnist-dev/providers/Microsoft.MachineLearningServices/workspaces/mlw-dev-${SUFFIX}/onlineEndpoints/mnist-dev-${SUFFIX} --request scoring/sample-request.json --expected scoring/sample-labels.json --min-accuracy 1 --retries 6 --json`,
    );
    expect(c.create).not.toContain("--deployment");
    expect(c.environment).toEqual({ ENDPOINT_KEY: MOCK_KEY });
    expect(r.additionalSecretOutputs).toContain("environment");
  });
});

describe("dependency chain", () => {
  test("assets → submit → wait → model → deployment → smoke → traffic → sample invocation; retire after traffic", () => {
    expect(dependsOn(cmd("training-submit"), cmd("train-code-ensure"))).toBe(true);
    expect(dependsOn(cmd("training-submit"), cmd("training-env-ensure"))).toBe(true);
    expect(dependsOn(cmd("training-submit"), one(h, `${ML}:Compute`))).toBe(true);
    expect(dependsOn(one(h, `${ML}:OnlineDeployment`), cmd("score-code-ensure"))).toBe(true);
    expect(dependsOn(one(h, `${ML}:OnlineDeployment`), cmd("inference-env-ensure"))).toBe(true);
    const chain = [
      cmd("training-submit"),
      cmd("training-wait"),
      one(h, `${ML}:ModelVersion`),
      one(h, `${ML}:OnlineDeployment`),
      cmd("online-smoke"),
      cmd("online-traffic"),
      cmd("sample-invoke"),
    ];
    for (let i = 1; i < chain.length; i++) {
      expect([chain[i].name, dependsOn(chain[i], chain[i - 1])]).toEqual([chain[i].name, true]);
    }
    // The model waits for the wait step explicitly, not just through the job name; the smoke step precedes the
    // traffic step explicitly; the sample call waits for the traffic.
    expect(chain[2].dependencies).toContain(chain[1].urn);
    expect(chain[5].dependencies).toContain(chain[4].urn);
    expect(chain[6].dependencies).toContain(chain[5].urn);
    // The old deployment's removal comes after the new one's traffic.
    expect(cmd("online-retire").dependencies).toContain(cmd("online-traffic").urn);
  });

  test("the traffic step depends on the endpoint too; triggers re-run it on deployment changes", () => {
    expect(dependsOn(cmd("online-traffic"), one(h, `${ML}:OnlineEndpoint`))).toBe(true);
    expect(cmd("online-traffic").propertyDependencies.triggers).toContain(
      one(h, `${ML}:OnlineDeployment`).urn,
    );
    expect(cmd("sample-invoke").propertyDependencies.triggers).toEqual(
      expect.arrayContaining([one(h, `${ML}:OnlineDeployment`).urn, cmd("online-traffic").urn]),
    );
  });

  test("destroy order: everything in the workspace goes before the purge step, which goes before the workspace", () => {
    const purge = cmd("ml-purge-on-destroy");
    const ws = one(h, `${ML}:Workspace`);
    expect(dependsOn(purge, ws)).toBe(true);
    const inside = [
      one(h, `${ML}:Compute`),
      cmd("inference-env-ensure"),
      cmd("training-env-ensure"),
      cmd("train-code-ensure"),
      cmd("score-code-ensure"),
      cmd("training-submit"),
      one(h, `${ML}:ModelVersion`),
      one(h, `${ML}:OnlineEndpoint`),
    ];
    for (const r of inside) expect([r.name, dependsOn(r, purge)]).toEqual([r.name, true]);
    // Workspace after its dependencies are gone? No: they outlive it, because it depends on them.
    for (const t of [
      "azure-native:storage:StorageAccount",
      "azure-native:keyvault:Vault",
      "azure-native:containerregistry:Registry",
      "azure-native:applicationinsights:Component",
    ]) {
      expect([t, dependsOn(ws, one(h, t))]).toEqual([t, true]);
    }
    expect(dependsOn(one(h, `${ML}:OnlineDeployment`), one(h, `${ML}:OnlineEndpoint`))).toBe(true);
    expect(dependsOn(one(h, `${ML}:OnlineDeployment`), one(h, `${ML}:ModelVersion`))).toBe(true);
    // The endpoint does not wait for training; the model version goes before the job's steps.
    expect(dependsOn(one(h, `${ML}:OnlineEndpoint`), one(h, `${ML}:ModelVersion`))).toBe(false);
    expect(dependsOn(one(h, `${ML}:ModelVersion`), cmd("training-wait"))).toBe(true);
  });

  test("the cluster is removed explicitly (underlyingResourceAction=Delete), never by azure-native's plain delete", () => {
    const cluster = one(h, `${ML}:Compute`);
    expect(cluster.retainOnDelete).toBe(true);
    const removal = cmd("gpu-removal");
    expect(dependsOn(removal, cluster)).toBe(true);
    // A new cluster replaces the step (its triggers), so the old step's delete removes the old cluster.
    expect(removal.propertyDependencies.triggers).toEqual([cluster.urn]);
    expect(obj(removal).delete).toMatch(
      /^node_modules\/\.bin\/tsx ops\/delete-compute\.ts --compute-id \/subscriptions\/.+\/computes\/gnc4ast4v3d\w+$/,
    );
  });

  test("purgeOnDestroy (dev): the workspace is retained and the purge step deletes it for good", () => {
    expect(one(h, `${ML}:Workspace`).retainOnDelete).toBe(true);
    const p = obj(cmd("ml-purge-on-destroy"));
    expect(p.delete).toMatch(
      /^node_modules\/\.bin\/tsx ops\/purge-workspace\.ts --workspace-id \/subscriptions\/.+\/workspaces\/mlw-dev-/,
    );
  });
});

describe("tags", () => {
  test("every taggable resource carries the stack tags", () => {
    const expected = { project: "azure-ml-mnist", stack: "dev", managedBy: "pulumi", environment: "dev" };
    const taggable = h.registrations.filter(
      (r) => r.custom && r.type.startsWith("azure-native:") && !r.type.endsWith(":Blob"),
    );
    expect(taggable.length).toBeGreaterThan(10);
    for (const r of taggable) {
      const o = obj(r);
      const tags = o.tags ?? o.properties?.tags;
      expect([r.type, tags]).toEqual([r.type, expect.objectContaining(expected)]);
    }
  });
});

describe("outputs and secrets", () => {
  test("stack outputs", async () => {
    expect(await valueOf(prog.workspaceName)).toBe(`mlw-dev-${SUFFIX}`);
    expect(await valueOf(prog.studioUrl)).toMatch(/^https:\/\/ml\.azure\.com\/home\?wsid=\/subscriptions\//);
    expect(await valueOf(prog.jobStudioUrl)).toMatch(/^https:\/\/ml\.azure\.com\/runs\/training-/);
    expect(await valueOf(prog.testAccuracy)).toBe(TEST_ACCURACY);
    expect(prog.modelName).toBe("mnist-cnn");
    expect(prog.deploymentName).toMatch(/^d-/);
    expect(await valueOf(prog.endpointName)).toBe(`mnist-dev-${SUFFIX}`);
    expect(await valueOf(prog.scoringUri)).toMatch(/\/score$/);
    expect(await valueOf(prog.swaggerUri)).toMatch(/swagger\.json$/);
    expect(await valueOf(prog.sampleResult)).toMatchObject({ passed: true, accuracy: 1 });
  });

  test("the endpoint key is a secret output and the invocation's environment is secret", async () => {
    expect(prog.endpointKey).toBeDefined();
    expect(await pulumi.isSecret(prog.endpointKey!)).toBe(true);
    expect(pulumi.runtime.isRpcSecret(cmd("sample-invoke").object.environment)).toBe(true);
    expect(h.calls).toContain("azure-native:machinelearningservices:listOnlineEndpointKeys");
  });

  test("the key appears nowhere else: not on command lines, not in other outputs", () => {
    for (const r of h.registrations) {
      const plain = { ...r.object };
      // The steps that call the endpoint carry it in their environment, which is a secret.
      if (["sample-invoke", "online-smoke", "online-traffic"].includes(r.name)) {
        expect(pulumi.runtime.isRpcSecret(r.object.environment)).toBe(true);
        delete plain.environment;
      }
      expect([r.name, JSON.stringify(unwrap(plain)).includes(MOCK_KEY)]).toEqual([r.name, false]);
    }
  });
});
