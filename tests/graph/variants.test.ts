// The real program re-evaluated with other config (jest.isolateModules): run identity, auth modes, existing
// resource group, purge off, and bad config rejected before any resource is declared.
import * as pulumi from "@pulumi/pulumi";
import { Harness, Registration, devStackConfig, installMocks, one, runProgram, unwrap } from "./harness";
import { execFileSync } from "child_process";
import { flagOf, splitCommand } from "../../lib/program/steps";

const ML = "azure-native:machinelearningservices";
let h: Harness;

beforeAll(() => {
  // Each fresh copy of @pulumi/pulumi adds a process exit listener.
  process.setMaxListeners(100);
  h = installMocks(false);
});

/** Loads index.ts afresh with Pulumi.dev.yaml plus overrides; returns what it registered. */
const run = (overrides: Record<string, string | undefined> = {}) => runProgram(h, overrides);

function load(overrides: Record<string, string | undefined>): () => void {
  return () => {
    pulumi.runtime.setAllConfig(devStackConfig(overrides));
    jest.isolateModules(() => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded after the mocks, so its resources register against them
      require("../../index");
    });
  };
}

/** The run hash the training step asks for: the job it reuses or submits. */
const jobOf = (regs: Registration[]) =>
  regs
    .filter((r) => r.type === "command:local:Command" && r.name === "training-run")
    .map((r) => flagOf(String(unwrap(r.object.create)), "run-hash"));
/** The JSON spec a step gets in its environment variable `env`. */
const specOf = (regs: Registration[], step: string, env: string) =>
  JSON.parse(String(obj(find(regs, "command:local:Command", step)[0]).environment[env]));
const jobSpec = (regs: Registration[]) => specOf(regs, "training-run", "JOB_SPEC");
const deploymentOf = (regs: Registration[]) =>
  flagOf(String(obj(find(regs, "command:local:Command", "online-deployment")[0]).create), "deployment");
const modelVersionOf = (regs: Registration[]) =>
  flagOf(String(obj(find(regs, "command:local:Command", "model-version")[0]).create), "version");
const find = (regs: Registration[], type: string, name?: string) =>
  regs.filter((r) => r.type === type && (name === undefined || r.name === name));
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const obj = (r: Registration) => unwrap(r.object) as Record<string, any>;

describe("training run identity", () => {
  let base: Registration[];
  beforeAll(async () => {
    base = await run();
  });

  test("unchanged config → the same job (the training step's inputs are unchanged: it does not run again)", async () => {
    const again = await run();
    expect(jobOf(again)).toEqual(jobOf(base));
    const step = (r: Registration[]) => unwrap(find(r, "command:local:Command", "training-run")[0].object);
    expect(step(again)).toEqual(step(base));
  });

  test.each([
    ["epochs", "3"],
    ["batchSize", "64"],
    ["learningRate", "0.001"],
    ["seed", "7"],
    ["retrainNonce", "again"],
    ["gpuVmSize", "Standard_NC6s_v3"],
    ["trainingEnvironment", "azureml://registries/azureml/environments/tensorflow-2.16-cuda12/versions/26"],
    ["trainingDataUri", "azureml://datastores/workspaceblobstore/paths/mnist/"],
  ])("changing %s → a new job, model version and deployment", async (key, value) => {
    const regs = await run({ [key]: value });
    expect(jobOf(regs)).toHaveLength(1);
    expect(jobOf(regs)[0]).not.toBe(jobOf(base)[0]);
    expect(modelVersionOf(regs)).not.toBe(modelVersionOf(base));
    expect(deploymentOf(regs)).not.toBe(deploymentOf(base));
  });

  test("labels (display name, experiment) and serving settings do not retrain", async () => {
    const regs = await run({ jobDisplayName: "other", experimentName: "other", instanceCount: "2" });
    expect(jobOf(regs)).toEqual(jobOf(base));
    expect(deploymentOf(regs)).not.toBe(deploymentOf(base));
  });

  test("endpoint input changes go to the endpoint step (which carries the live traffic), not the traffic step", async () => {
    const regs = await run({ tags: JSON.stringify({ environment: "dev", owner: "me" }) });
    const step = (r: Registration[], name: string) => obj(find(r, "command:local:Command", name)[0]);
    // the endpoint step runs again as an update (same triggers: same endpoint), with the new tags
    expect(step(regs, "online-endpoint").triggers).toEqual(step(base, "online-endpoint").triggers);
    expect(specOf(regs, "online-endpoint", "ENDPOINT_SPEC").tags.owner).toBe("me");
    // the traffic step's inputs do not change: it does not run, and no rollout starts
    expect(step(regs, "online-traffic")).toEqual(step(base, "online-traffic"));
    expect(jobOf(regs)).toEqual(jobOf(base));
  });

  test("a data URI becomes a uri_folder input passed as --data", async () => {
    const regs = await run({ trainingDataUri: "azureml://datastores/workspaceblobstore/paths/mnist/" });
    const p = jobSpec(regs);
    expect(p.command).toContain("--data ${{inputs.data}}");
    expect(p.inputs.data).toMatchObject({ jobInputType: "uri_folder" });
  });
});

describe("serving a model without an ONNX copy", () => {
  test("a curated training environment adds TensorFlow and Keras (training's pins) to the inference environment", async () => {
    const spec = (regs: Registration[]) =>
      JSON.parse(
        String(
          obj(find(regs, "command:local:Command", "inference-env-ensure")[0]).environment.ENVIRONMENT_SPEC,
        ),
      );
    const lean = spec(await run()).condaFile as string;
    expect(lean).not.toContain("tensorflow");
    const curated = "azureml://registries/azureml/environments/tensorflow-2.16-cuda12/versions/25";
    const regs = await run({ trainingEnvironment: curated });
    const withKeras = spec(regs).condaFile as string;
    expect(withKeras).toMatch(/- tensorflow-cpu==\d/);
    expect(withKeras).toMatch(/- keras==\d/);
    expect(withKeras).toContain("onnxruntime==");
    // A different environment version, so the deployment rolls out with it.
    const version = (r: Registration[]) =>
      /--version (\S+)/.exec(
        String(obj(find(r, "command:local:Command", "inference-env-ensure")[0]).create),
      )?.[1];
    expect(version(regs)).not.toBe(version(await run()));
    expect(find(regs, "azure-ml-mnist:index:EnvironmentAsset").map((r) => r.name)).toEqual(["inference-env"]);
  });
});

describe("scale out", () => {
  test("several nodes: the job runs data-parallel with Azure ML's TensorFlow distribution", async () => {
    const regs = await run({ gpuMaxNodes: "4", trainingNodes: "2", batchSize: "256" });
    const p = jobSpec(regs);
    expect(p.jobType).toBe("Command");
    expect(p.resources).toEqual({ instanceCount: 2 });
    expect(p.distribution).toEqual({
      distributionType: "TensorFlow",
      workerCount: 2,
      parameterServerCount: 0,
    });
    // One node keeps the plain job (and the hash it always had).
    const single = jobSpec(await run({ gpuMaxNodes: "4" }));
    expect(single.distribution).toBeUndefined();
    expect(single.resources).toBeUndefined();
  });

  test("a sweep: objective, limits, search space over the same command; the model comes from the best trial", async () => {
    const sweep = {
      trials: 6,
      concurrency: 2,
      learningRate: [0.001, 0.01],
      batchSize: [64, 128],
      dropout: [0.2, 0.5],
    };
    const regs = await run({ gpuMaxNodes: "2", sweep: JSON.stringify(sweep) });
    const p = jobSpec(regs);
    expect(p.jobType).toBe("Sweep");
    expect(p.objective).toEqual({ primaryMetric: "val_accuracy", goal: "Maximize" });
    expect(p.samplingAlgorithm).toEqual({ samplingAlgorithmType: "Random" });
    expect(p.limits).toEqual({
      jobLimitsType: "Sweep",
      maxTotalTrials: 6,
      maxConcurrentTrials: 2,
      trialTimeout: "PT60M",
      timeout: "PT180M",
    });
    expect(p.earlyTermination).toEqual({
      policyType: "Bandit",
      slackFactor: 0.1,
      evaluationInterval: 1,
      delayEvaluation: 3,
    });
    expect(p.searchSpace.learning_rate[0]).toBe("loguniform");
    expect(p.searchSpace.learning_rate[1][0]).toBeCloseTo(Math.log(0.001), 10);
    expect(p.searchSpace.batch_size).toEqual(["choice", [[64, 128]]]);
    expect(p.searchSpace.dropout).toEqual(["uniform", [0.2, 0.5]]);
    expect(p.trial.command).toContain(
      "--learning-rate ${{search_space.learning_rate}} --dropout ${{search_space.dropout}}",
    );
    expect(p.trial.codeId).toMatch(/\/codes\/mnist-train\/versions\//);
    expect(p.inputs).toEqual({
      epochs: { jobInputType: "literal", value: "15" },
      seed: { jobInputType: "literal", value: "42" },
    });
    const model = specOf(regs, "model-version", "MODEL_SPEC");
    expect(model.modelUri).toMatch(
      /^azureml:\/\/jobs\/training-[0-9a-f]{12}-[a-z]{6}_3\/outputs\/model_dir$/,
    );
    expect(model.jobName).toMatch(/_3$/);
    // the sweep's limit (180) + stuck (30) + preparing (90)
    const run_ = obj(find(regs, "command:local:Command", "training-run")[0]);
    expect(run_.create).toMatch(/--timeout-minutes 300$/);
  });

  test("autoscale: CPU rules on the current deployment, created once it serves, named after it", async () => {
    const autoscale = { minInstances: 1, maxInstances: 4, cpuTarget: 70, cooldownMinutes: 5 };
    const regs = await run({ autoscale: JSON.stringify(autoscale) });
    const a = find(regs, "azure-native:monitor:AutoscaleSetting")[0];
    const s = obj(a);
    const deployment = deploymentOf(regs);
    const deploymentId = `/onlineEndpoints/mnist-dev-x7k2p9/deployments/${deployment}`;
    expect(s.enabled).toBe(true);
    expect(s.targetResourceUri).toContain(deploymentId);
    expect(s.autoscaleSettingName).toBe(`mnist-dev-x7k2p9-${deployment}-cpu`);
    const [profile] = s.profiles;
    expect(profile.capacity).toEqual({ minimum: "1", maximum: "4", default: "1" });
    expect(
      profile.rules.map(
        (r: { metricTrigger: { metricName: string; operator: string; threshold: number } }) => [
          r.metricTrigger.metricName,
          r.metricTrigger.operator,
          r.metricTrigger.threshold,
        ],
      ),
    ).toEqual([
      ["CpuUtilizationPercentage", "GreaterThan", 70],
      ["CpuUtilizationPercentage", "LessThan", 35],
    ]);
    expect(a.dependencies).toContain(find(regs, "command:local:Command", "online-traffic")[0].urn);
    // A rollout (new deployment) makes a new setting for the new deployment.
    const next = obj(
      find(
        await run({ autoscale: JSON.stringify(autoscale), instanceType: "Standard_F4s_v2" }),
        "azure-native:monitor:AutoscaleSetting",
      )[0],
    );
    expect(next.autoscaleSettingName).not.toBe(s.autoscaleSettingName);
    expect(next.targetResourceUri).not.toBe(s.targetResourceUri);
  });

  test("scale-out settings are checked against each other", () => {
    expect(load({ trainingNodes: "2" })).toThrow(
      'azure-ml-mnist:trainingNodes = "2" is invalid: must not exceed gpuMaxNodes (1)',
    );
    expect(load({ gpuMaxNodes: "2", trainingNodes: "2", batchSize: "129" })).toThrow(
      "must be a multiple of trainingNodes (2)",
    );
    expect(load({ sweep: JSON.stringify({ concurrency: 3 }) })).toThrow(
      "azure-ml-mnist:sweep.concurrency = 3 is invalid",
    );
    expect(load({ autoscale: JSON.stringify({ minInstances: 2, maxInstances: 3 }) })).toThrow(
      "must lie within autoscale.minInstances..maxInstances (2..3)",
    );
    expect(load({ sweep: JSON.stringify({ learningRate: [0.1, 0.01] }) })).toThrow("sweep.learningRate");
    expect(load({ autoscale: JSON.stringify({ maxInstance: 3 }) })).toThrow(
      "autoscale.maxInstance = 3 is invalid: unknown setting",
    );
  });
});

describe("other configurations", () => {
  test("existing resource group: nothing created, everything placed in it", async () => {
    const regs = await run({ resourceGroupName: "rg-shared" });
    expect(find(regs, "azure-native:resources:ResourceGroup")).toHaveLength(0);
    expect(obj(find(regs, `${ML}:Workspace`)[0]).resourceGroupName).toBe("rg-shared");
  });

  test("issue #19: every step's command survives a resource group named rg-(a) (valid in Azure): /bin/sh sees exactly the intended words", async () => {
    const regs = await run({ resourceGroupName: "rg-(a)" });
    const commands = regs
      .filter((r) => r.type === "command:local:Command")
      .flatMap((r) => [obj(r).create, obj(r).delete])
      .filter((c): c is string => typeof c === "string" && c.startsWith("exec node --import tsx "));
    expect(commands.length).toBeGreaterThan(12);
    expect(commands.filter((c) => c.includes("rg-(a)")).length).toBeGreaterThan(10);
    for (const c of commands) {
      // the real shell splits it: `exec node --import tsx` replaced by a printer of its arguments
      const printed = execFileSync(
        "/bin/sh",
        ["-c", c.replace(/^exec node --import tsx /, "printf '%s\\n' ")],
        {
          encoding: "utf8",
        },
      );
      expect(printed.split("\n").slice(0, -1)).toEqual(splitCommand(c).slice(4));
    }
  });

  test("issue #19: managedNetwork AllowOnlyApprovedOutbound isolates the workspace (package hosts as FQDN rules) and takes the cluster's public IPs; the default declares none", async () => {
    const cluster = (r: Registration[]) => specOf(r, "gpu-cluster", "COMPUTE_SPEC").properties.properties;
    const plain = await run();
    expect(obj(find(plain, `${ML}:Workspace`)[0]).managedNetwork).toBeUndefined();
    expect(cluster(plain).enableNodePublicIp).toBe(true);

    const regs = await run({ managedNetwork: "AllowOnlyApprovedOutbound" });
    const net = obj(find(regs, `${ML}:Workspace`)[0]).managedNetwork;
    expect(net.isolationMode).toBe("AllowOnlyApprovedOutbound");
    expect(net.firewallSku).toBe("Basic");
    const destinations = Object.values(net.outboundRules).map(
      (r) => (r as { destination: string }).destination,
    );
    expect(destinations.sort()).toEqual([
      "*.anaconda.com",
      "*.anaconda.org",
      "*.pythonhosted.org",
      "pypi.org",
      "storage.googleapis.com",
    ]);
    // private endpoints to the registry need Premium; the deployment drops the legacy egress switch
    expect(obj(find(regs, "azure-native:containerregistry:Registry")[0]).sku).toEqual({ name: "Premium" });
    expect(obj(find(plain, "azure-native:containerregistry:Registry")[0]).sku).toEqual({ name: "Basic" });
    expect(specOf(regs, "online-deployment", "DEPLOYMENT_SPEC").properties).not.toHaveProperty(
      "egressPublicNetworkAccess",
    );
    expect(cluster(regs).enableNodePublicIp).toBe(false);
    // the steps still run from outside: the workspace keeps public network access
    expect(obj(find(regs, `${ML}:Workspace`)[0]).publicNetworkAccess).toBe("Enabled");

    const open = await run({ managedNetwork: "AllowInternetOutbound" });
    const openNet = obj(find(open, `${ML}:Workspace`)[0]).managedNetwork;
    expect(openNet.isolationMode).toBe("AllowInternetOutbound");
    expect(openNet.outboundRules).toBeUndefined();
    expect(load({ managedNetwork: "Private" })).toThrow("azure-ml-mnist:managedNetwork");
  });

  test("purgeOnDestroy off: the workspace is deleted normally (soft delete), the purge step is a no-op", async () => {
    const regs = await run({ purgeOnDestroy: "false" });
    expect(find(regs, `${ML}:Workspace`)[0].retainOnDelete).toBe(false);
    expect(obj(find(regs, "command:local:Command", "ml-purge-on-destroy")[0]).delete).not.toContain(
      "purge-workspace",
    );
  });

  test("AMLToken auth: no token in the program or the step's inputs; the step asks for one when it runs", async () => {
    const regs = await run({ endpointAuthMode: "AMLToken" });
    expect(h.calls).not.toContain(`${ML}:getOnlineEndpointToken`);
    expect(h.calls).not.toContain(`${ML}:listOnlineEndpointKeys`);
    const inv = obj(find(regs, "command:local:Command", "sample-invoke")[0]);
    expect(inv.environment).toBeUndefined();
    expect(inv.create).toMatch(
      / --auth AMLToken --endpoint-id \/subscriptions\/.+\/onlineEndpoints\/mnist-dev-\w+ /,
    );
    expect(specOf(regs, "online-endpoint", "ENDPOINT_SPEC").properties.authMode).toBe("AMLToken");
    // So a second `up` sees the same inputs: nothing re-runs.
    const again = obj(
      find(await run({ endpointAuthMode: "AMLToken" }), "command:local:Command", "sample-invoke")[0],
    );
    expect(again).toEqual(inv);
  });

  test("AADToken auth: no key is fetched; the step gets an Entra token at run time, off the command line", async () => {
    const regs = await run({ endpointAuthMode: "AADToken" });
    expect(h.calls.filter((c) => c.startsWith(`${ML}:`))).toEqual([]);
    const inv = obj(find(regs, "command:local:Command", "sample-invoke")[0]);
    expect(inv.environment).toBeUndefined();
    expect(inv.create).toMatch(/^exec node --import tsx ops\/invoke\.ts .* --auth AADToken --endpoint-id /);
  });

  test("canary rollout: the traffic step watches a share of live traffic with the configured limits", async () => {
    const regs = await run({ rolloutMode: "canary", rolloutPercent: "20", rolloutWatchMinutes: "15" });
    const t = obj(find(regs, "command:local:Command", "online-traffic")[0]);
    expect(t.create).toContain(
      "--mode canary --percent 20 --watch-minutes 15 --max-error-rate 0.01 --max-p95-ms 1000 --min-requests 20 --interval-seconds 30",
    );
    // The smoke step runs first in every mode.
    expect(find(regs, "command:local:Command", "online-smoke")).toHaveLength(1);
  });

  test("mirror rollout: at most 50 % can be mirrored", async () => {
    const regs = await run({ rolloutMode: "mirror", rolloutPercent: "50" });
    expect(obj(find(regs, "command:local:Command", "online-traffic")[0]).create).toContain(
      "--mode mirror --percent 50",
    );
    expect(load({ rolloutMode: "mirror", rolloutPercent: "60" })).toThrow(
      'azure-ml-mnist:rolloutPercent = "60" is invalid: must be at most 50 with rolloutMode mirror',
    );
  });

  test("deployment settings from config reach the deployment", async () => {
    const regs = await run({
      instanceType: "Standard_F4s_v2",
      instanceCount: "3",
      workerCount: "2",
      deployment: JSON.stringify({ requestTimeoutMs: 30000, livenessInitialDelaySeconds: 300 }),
    });
    const d = specOf(regs, "online-deployment", "DEPLOYMENT_SPEC");
    expect(d.sku.capacity).toBe(3);
    expect(d.properties).toMatchObject({
      instanceType: "Standard_F4s_v2",
      requestSettings: { requestTimeout: "PT30S", maxConcurrentRequestsPerInstance: 2 },
      livenessProbe: { initialDelay: "PT300S" },
      environmentVariables: { WORKER_COUNT: "2" },
    });
  });
});

describe("bad config stops the program before any resource is declared", () => {
  test.each([
    ["epochs", "0"],
    ["gpuVmSize", "Standard_D2s_v3"],
    ["instanceCount", "0"],
    ["minTestAccuracy", "1.2"],
    ["endpointAuthMode", "none"],
    ["deployment", "[]"],
  ])("%s = %s", async (key, value) => {
    await h.settle();
    h.reset();
    expect(load({ [key]: value })).toThrow(`azure-ml-mnist:${key} = `);
    await h.settle();
    expect(h.registrations.filter((r) => r.custom)).toEqual([]);
  });

  test("a misspelt key", async () => {
    expect(load({ learningrate: "0.1" })).toThrow(
      "azure-ml-mnist:learningrate is not a setting of this program",
    );
  });

  test("missing location", async () => {
    expect(load({ "azure-native:location": undefined })).toThrow("azure-native:location is not set");
  });
});

test("harness sanity: one() finds exactly one", async () => {
  await run();
  expect(one(h, `${ML}:Workspace`).type).toBe(`${ML}:Workspace`);
});
