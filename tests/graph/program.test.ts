// The real index.ts with Pulumi.dev.yaml under mocks: components, key properties, the dependency chain,
// destroy order, tags and secrets.
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { codeVersionOf } from "../../components/codeAsset";
import { listAssetFiles } from "../../lib/core/hashing";
import {
  Harness,
  MOCK_KEY,
  MOCK_TOKEN,
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
    expect(
      byType(h, "azure-ml-mnist:index:CodeAsset")
        .map((r) => r.name)
        .sort(),
    ).toEqual(["score-code", "train-code"]);
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
    expect(cmd("gpu-cluster").parent).toBe(one(h, "azure-ml-mnist:index:GpuCompute").urn);
    expect(cmd("online-deployment").parent).toBe(one(h, "azure-ml-mnist:index:OnlineService").urn);
    expect(cmd("online-endpoint").parent).toBe(one(h, "azure-ml-mnist:index:OnlineService").urn);
    expect(cmd("model-version").parent).toBe(one(h, "azure-ml-mnist:index:RegisteredModel").urn);
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

  test("GPU cluster: VM size from config, scales to zero, size in the name; a step that reuses it", () => {
    const step = obj(cmd("gpu-cluster"));
    expect(step.create).toBe(
      `exec node --import tsx ops/ensure-compute.ts --compute-id /subscriptions/${SUBSCRIPTION}/resourceGroups/rg-azure-ml-mnist-dev/providers/Microsoft.MachineLearningServices/workspaces/mlw-dev-${SUFFIX}/computes/gnc4ast4v3d${SUFFIX} --storage-account-id /subscriptions/${SUBSCRIPTION}/resourceGroups/rg-azure-ml-mnist-dev/providers/Microsoft.Storage/storageAccounts/stdev${SUFFIX}`,
    );
    // updated in place, never replaced: no pending delete of a cluster a revert uses again
    expect(step.triggers).toBeUndefined();
    expect(byType(h, `${ML}:Compute`)).toEqual([]);
    const c = JSON.parse(String(step.environment.COMPUTE_SPEC));
    expect(c.tags.clusterOf).toBe("gpu");
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
      /^exec node --import tsx ops\/ensure-environment\.ts --workspace-id \/subscriptions\/.+\/workspaces\/mlw-dev-\w+ --name mnist-inference --version [0-9a-f]{16}$/,
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
        `exec node --import tsx ops/ensure-code.ts --workspace-id /subscriptions/${SUBSCRIPTION}/resourceGroups/rg-azure-ml-mnist-dev/providers/Microsoft.MachineLearningServices/workspaces/mlw-dev-${SUFFIX} --name ${asset} --version ${codeVersionOf(path.join(ROOT, folder))} --folder ${folder}`,
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
    const run = obj(cmd("training-run"));
    expect(run.create).toMatch(
      /^exec node --import tsx ops\/run-job\.ts --workspace-id \/subscriptions\/.+\/workspaces\/mlw-dev-\w+ --run-hash [0-9a-f]{12} --name-prefix training --min-accuracy 0\.98 /,
    );
    // stuck (30) + preparing (90) + the job's own limit (60)
    expect(run.create).toMatch(
      / --stuck-timeout-minutes 30 --preparing-timeout-minutes 90 --timeout-minutes 180$/,
    );
    expect(run.delete).toBeUndefined();
    expect(run.logging).toBe("stderr");
    const p = JSON.parse(String(run.environment.JOB_SPEC));
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
    // one step: submit and wait together, so a failed job is resubmitted by the next `up`
    expect(h.registrations.filter((r) => /^training-(submit|wait)$/.test(r.name))).toEqual([]);
  });

  test("model version comes from the job's actual output folder, versioned by the run hash, by a step that never deletes", async () => {
    const m = obj(cmd("model-version"));
    const jobName = await valueOf(prog.jobName!);
    expect(jobName).toMatch(/^training-[0-9a-f]{12}-[a-z]{6}$/);
    expect(m.create).toMatch(
      new RegExp(
        `^exec node --import tsx ops/ensure-model\\.ts --workspace-id /subscriptions/.+ --name mnist-cnn --version ${prog.runHash}$`,
      ),
    );
    expect(m.delete).toBeUndefined();
    expect(JSON.parse(String(m.environment.MODEL_SPEC))).toMatchObject({
      modelType: "custom_model",
      modelUri: `azureml://jobs/${jobName}/outputs/model_dir`,
      jobName,
    });
    expect(byType(h, `${ML}:ModelVersion`)).toEqual([]);
  });

  test("endpoint: a step that writes its inputs with the live traffic; suffixed name, auth mode, no traffic", () => {
    const r = cmd("online-endpoint");
    const e = obj(r);
    expect(e.create).toBe(
      `exec node --import tsx ops/ensure-endpoint.ts --endpoint-id /subscriptions/${SUBSCRIPTION}/resourceGroups/rg-azure-ml-mnist-dev/providers/Microsoft.MachineLearningServices/workspaces/mlw-dev-${SUFFIX}/onlineEndpoints/mnist-dev-${SUFFIX}`,
    );
    expect(e.delete).toBe(`${e.create} --delete`);
    const spec = JSON.parse(String(e.environment.ENDPOINT_SPEC));
    expect(spec).toMatchObject({
      location: "westeurope",
      kind: "Managed",
      identity: { type: "SystemAssigned" },
    });
    expect(spec.properties).toEqual({
      authMode: "Key",
      publicNetworkAccess: "Enabled",
      description: "MNIST digit classifier (Keras CNN)",
    });
    // a new endpoint name is a new endpoint: the old one is deleted at the end of that `up`
    expect(e.triggers).toEqual([expect.stringMatching(/\/onlineEndpoints\/mnist-dev-\w+$/)]);
    expect(byType(h, `${ML}:OnlineEndpoint`)).toEqual([]);
  });

  test("deployment: model, scoring code, inference env, size, probes sized for TensorFlow, name from content", () => {
    const r = cmd("online-deployment");
    const c = obj(r);
    expect(c.create).toMatch(
      /^exec node --import tsx ops\/ensure-deployment\.ts --endpoint-id \/subscriptions\/.+\/onlineEndpoints\/mnist-dev-\w+ --deployment d-[0-9a-f]{12} --timeout-minutes 60$/,
    );
    // no delete: the retirement step removes old deployments once the new one serves
    expect(c.delete).toBeUndefined();
    const d = JSON.parse(String(c.environment.DEPLOYMENT_SPEC));
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
    expect(byType(h, `${ML}:OnlineDeployment`)).toEqual([]);
  });

  test("smoke step: the sample digits sent to the new deployment alone, before any traffic moves", () => {
    const r = cmd("online-smoke");
    const c = obj(r);
    expect(c.create).toMatch(
      /^exec node --import tsx ops\/smoke-test\.ts --endpoint-id \/subscriptions\/.+\/onlineEndpoints\/mnist-dev-\w+ --deployment d-[0-9a-f]{12} --uri https:\/\/.+\/score --auth Key --request scoring\/sample-request\.json --expected scoring\/sample-labels\.json --min-accuracy 1 --retries 6$/,
    );
    // the key is read by the step when it runs (listKeys), never an input
    expect(c.environment).toBeUndefined();
    expect(r.propertyDependencies.triggers).toEqual([cmd("online-deployment").urn]);
  });

  test("rollout step gives the smoke-tested deployment the traffic (direct by default); no delete that could go stale", () => {
    const t = obj(cmd("online-traffic"));
    expect(t.create).toMatch(
      /^exec node --import tsx ops\/rollout\.ts --endpoint-id \/subscriptions\/.+ --deployment d-[0-9a-f]{12} --mode direct --uri /,
    );
    // after a failed `up` and a revert, a replaced step's pending delete would take the serving deployment's traffic
    expect(t.delete).toBeUndefined();
    expect(t.triggers).toEqual([expect.stringMatching(/\/deployments\/d-[0-9a-f]{12}$/)]);
    expect(t.environment).toBeUndefined();
  });

  test("retirement: the previous deployments go once the new one holds the traffic; Pulumi never deletes one", () => {
    const retire = obj(cmd("online-retire"));
    expect(retire.create).toMatch(
      /^exec node --import tsx ops\/retire-deployments\.ts --endpoint-id \/subscriptions\/.+\/onlineEndpoints\/mnist-dev-\w+ --keep d-[0-9a-f]{12}$/,
    );
    expect(retire.delete).toBeUndefined();
  });

  test("sample invocation calls the scoring URI through traffic; it reads the key itself", () => {
    const r = cmd("sample-invoke");
    const c = obj(r);
    expect(c.create).toBe(
      `exec node --import tsx ops/invoke.ts --uri https://mnist-dev-${SUFFIX}.westeurope.inference.ml.azure.com/score --auth Key --endpoint-id /subscriptions/${SUBSCRIPTION}/resourceGroups/rg-azure-ml-mnist-dev/providers/Microsoft.MachineLearningServices/workspaces/mlw-dev-${SUFFIX}/onlineEndpoints/mnist-dev-${SUFFIX} --request scoring/sample-request.json --expected scoring/sample-labels.json --min-accuracy 1 --retries 6 --json`,
    );
    expect(c.create).not.toContain("--deployment");
    expect(c.environment).toBeUndefined();
  });
});

describe("dependency chain", () => {
  test("assets → training → model → deployment → smoke → traffic → sample invocation; retire after traffic", () => {
    expect(dependsOn(cmd("training-run"), cmd("train-code-ensure"))).toBe(true);
    expect(dependsOn(cmd("training-run"), cmd("training-env-ensure"))).toBe(true);
    expect(dependsOn(cmd("training-run"), cmd("gpu-cluster"))).toBe(true);
    expect(dependsOn(cmd("online-deployment"), cmd("score-code-ensure"))).toBe(true);
    expect(dependsOn(cmd("online-deployment"), cmd("inference-env-ensure"))).toBe(true);
    const chain = [
      cmd("training-run"),
      cmd("model-version"),
      cmd("online-deployment"),
      cmd("online-smoke"),
      cmd("online-traffic"),
      cmd("sample-invoke"),
    ];
    for (let i = 1; i < chain.length; i++) {
      expect([chain[i].name, dependsOn(chain[i], chain[i - 1])]).toEqual([chain[i].name, true]);
    }
    // The model waits for the training step explicitly; the deployment for the model; the smoke step precedes the
    // traffic step explicitly; the sample call waits for the traffic.
    expect(chain[1].dependencies).toContain(chain[0].urn);
    expect(chain[2].dependencies).toContain(chain[1].urn);
    expect(chain[4].dependencies).toContain(chain[3].urn);
    expect(chain[5].dependencies).toContain(chain[4].urn);
    // The old deployment's removal comes after the new one's traffic.
    expect(cmd("online-retire").dependencies).toContain(cmd("online-traffic").urn);
  });

  test("the traffic step depends on the endpoint too; triggers re-run it on deployment changes", () => {
    expect(dependsOn(cmd("online-traffic"), cmd("online-endpoint"))).toBe(true);
    expect(cmd("online-traffic").propertyDependencies.triggers).toContain(cmd("online-deployment").urn);
    expect(cmd("sample-invoke").propertyDependencies.triggers).toEqual(
      expect.arrayContaining([cmd("online-deployment").urn, cmd("online-traffic").urn]),
    );
  });

  test("destroy order: everything in the workspace goes before the purge step, which goes before the workspace", () => {
    const purge = cmd("ml-purge-on-destroy");
    const ws = one(h, `${ML}:Workspace`);
    expect(dependsOn(purge, ws)).toBe(true);
    const inside = [
      cmd("gpu-cluster"),
      cmd("inference-env-ensure"),
      cmd("training-env-ensure"),
      cmd("train-code-ensure"),
      cmd("score-code-ensure"),
      cmd("training-run"),
      cmd("model-version"),
      cmd("online-endpoint"),
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
    expect(dependsOn(cmd("online-deployment"), cmd("online-endpoint"))).toBe(true);
    expect(dependsOn(cmd("online-deployment"), cmd("model-version"))).toBe(true);
    // The endpoint does not wait for training; the model version after the training step.
    expect(dependsOn(cmd("online-endpoint"), cmd("model-version"))).toBe(false);
    expect(dependsOn(cmd("model-version"), cmd("training-run"))).toBe(true);
  });

  test("identity-based storage: the cluster step grants the cluster's identity a role on the workspace account; jobs run as it", () => {
    expect(obj(cmd("gpu-cluster")).create).toMatch(
      /--storage-account-id \/subscriptions\/.+\/providers\/Microsoft\.Storage\/storageAccounts\/stdev\w+$/,
    );
    expect(dependsOn(cmd("gpu-cluster"), one(h, "azure-native:storage:StorageAccount"))).toBe(true);
    // no Pulumi role assignment: replaced create-before-delete, a revert would meet RoleAssignmentExists
    expect(byType(h, "azure-native:authorization:RoleAssignment")).toEqual([]);
    expect(JSON.parse(String(obj(cmd("training-run")).environment.JOB_SPEC)).identity).toEqual({
      identityType: "Managed",
    });
  });

  test("the cluster is removed explicitly (underlyingResourceAction=Delete, its jobs canceled), with any other of the component's", () => {
    expect(obj(cmd("gpu-cluster")).delete).toMatch(
      /^exec node --import tsx ops\/delete-compute\.ts --compute-id \/subscriptions\/.+\/computes\/gnc4ast4v3d\w+ --owner gpu$/,
    );
  });

  test("purgeOnDestroy (dev): the workspace is retained and the purge step deletes it for good", () => {
    expect(one(h, `${ML}:Workspace`).retainOnDelete).toBe(true);
    const p = obj(cmd("ml-purge-on-destroy"));
    expect(p.delete).toMatch(
      /^exec node --import tsx ops\/purge-workspace\.ts --workspace-id \/subscriptions\/.+\/workspaces\/mlw-dev-/,
    );
  });
});

describe("tags", () => {
  test("every taggable resource carries the stack tags", () => {
    const expected = { project: "azure-ml-mnist", stack: "dev", managedBy: "pulumi", environment: "dev" };
    // Diagnostic settings are extension resources without tags (Microsoft.Insights diagnosticSettings 2021-05-01-preview).
    const taggable = h.registrations.filter(
      (r) =>
        r.custom &&
        r.type.startsWith("azure-native:") &&
        !r.type.endsWith(":Blob") &&
        !r.type.endsWith(":DiagnosticSetting") &&
        // role assignments take no tags (Microsoft.Authorization/roleAssignments)
        !r.type.endsWith(":RoleAssignment"),
    );
    expect(taggable.length).toBeGreaterThanOrEqual(7);
    for (const r of taggable) {
      const o = obj(r);
      const tags = o.tags ?? o.properties?.tags;
      expect([r.type, tags]).toEqual([r.type, expect.objectContaining(expected)]);
    }
    // what the steps create carries them too
    const specs: Array<[string, string]> = [
      ["online-endpoint", "ENDPOINT_SPEC"],
      ["online-deployment", "DEPLOYMENT_SPEC"],
      ["model-version", "MODEL_SPEC"],
      ["training-run", "JOB_SPEC"],
      ["gpu-cluster", "COMPUTE_SPEC"],
    ];
    for (const [step, env] of specs) {
      const tags = JSON.parse(String(obj(cmd(step)).environment[env])).tags;
      expect([step, tags]).toEqual([step, expect.objectContaining(expected)]);
    }
  });
});

describe("outputs and secrets", () => {
  test("stack outputs", async () => {
    expect(await valueOf(prog.workspaceName)).toBe(`mlw-dev-${SUFFIX}`);
    expect(await valueOf(prog.studioUrl)).toMatch(/^https:\/\/ml\.azure\.com\/home\?wsid=\/subscriptions\//);
    expect(await valueOf(prog.jobStudioUrl!)).toMatch(/^https:\/\/ml\.azure\.com\/runs\/training-/);
    expect(await valueOf(prog.testAccuracy!)).toBe(TEST_ACCURACY);
    expect(prog.modelName).toBe("mnist-cnn");
    expect(prog.deploymentName).toMatch(/^d-/);
    expect(await valueOf(prog.endpointName)).toBe(`mnist-dev-${SUFFIX}`);
    expect(await valueOf(prog.scoringUri)).toMatch(/\/score$/);
    expect(await valueOf(prog.swaggerUri)).toMatch(/swagger\.json$/);
    expect(await valueOf(prog.sampleResult)).toMatchObject({ passed: true, accuracy: 1 });
  });

  test("no endpoint key in the program: no key output, no listKeys invoke, no key in any step's inputs", async () => {
    expect((prog as Record<string, unknown>).endpointKey).toBeUndefined();
    expect(h.calls).not.toContain("azure-native:machinelearningservices:listOnlineEndpointKeys");
    for (const r of h.registrations) {
      const text = JSON.stringify(unwrap(r.object));
      expect([
        r.name,
        text.includes(MOCK_KEY),
        text.includes("ENDPOINT_KEY"),
        text.includes(MOCK_TOKEN),
      ]).toEqual([r.name, false, false, false]);
    }
  });
});
