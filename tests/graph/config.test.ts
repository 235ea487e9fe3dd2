// lib/config without Pulumi: defaults, and every class of bad input rejected naming key, value, rule.
import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import { ConfigError, StackConfig, readStackConfig } from "../../lib/config/stack";
import { DEFAULTS, DEFAULT_DEPLOYMENT_SETTINGS, SCHEMA, pulumiYamlConfig } from "../../lib/config/schema";
import { configTableMarkdown, pulumiYamlText, replaceBetweenMarkers } from "../../lib/config/render";
import { ROOT } from "./harness";

const P = "azure-ml-mnist";
function read(
  values: Record<string, string | undefined>,
  location: string | undefined = "westeurope",
): StackConfig {
  return readStackConfig((key) => (key === "azure-native:location" ? location : values[key]), P, "dev");
}
function problems(values: Record<string, string>, location?: string): string {
  try {
    read(values, location);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error("expected a ConfigError");
}

describe("defaults", () => {
  test("no config but the location gives a working dev configuration", () => {
    const c = read({});
    expect(c).toMatchObject({
      location: "westeurope",
      workspace: { resourceGroupName: undefined, purgeOnDestroy: false },
      gpu: { vmSize: "Standard_NC4as_T4_v3", maxNodes: 1 },
      training: { epochs: 15, batchSize: 128, learningRate: 0.003, seed: 42 },
      serving: { authMode: "Key", instanceCount: 1 },
    });
    expect(c.workspace.tags).toEqual({ project: P, stack: "dev", managedBy: "pulumi" });
    expect(c.serving.settings).toEqual(DEFAULT_DEPLOYMENT_SETTINGS);
  });

  test("Pulumi.yaml's typed config section declares the same defaults", () => {
    const project = parse(fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8")) as {
      name: string;
      config: Record<string, { type: string; default: unknown }>;
    };
    expect(project.name).toBe(P);
    const declared = project.config;
    for (const group of Object.values(SCHEMA)) {
      for (const s of Object.values(group)) {
        if (s.type === "object") continue;
        expect([s.key, String(declared[s.key]?.default)]).toEqual([s.key, String(s.default ?? "")]);
      }
    }
    // The whole section is the schema's (type, default, description): `npm run config:sync` writes it.
    expect(declared).toEqual(pulumiYamlConfig());
    for (const [key, decl] of Object.entries(declared)) {
      expect(["string", "integer", "boolean"]).toContain(decl.type);
      // Every declared default passes validation.
      expect(() => read({ [key]: String(decl.default) })).not.toThrow();
    }
  });

  test("Pulumi.yaml and docs/deploy.md's table are what `npm run config:sync` writes from the schema", () => {
    const yaml = fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8");
    expect(pulumiYamlText(yaml)).toBe(yaml);
    const docs = fs.readFileSync(path.join(ROOT, "docs", "deploy.md"), "utf8");
    expect(replaceBetweenMarkers(docs, configTableMarkdown())).toBe(docs);
    for (const s of Object.values(SCHEMA).flatMap((g) => Object.values(g)))
      expect(docs).toContain(`\`${s.key}\``);
  });

  test("hyperparameter defaults are training/app.py's own argparse defaults", () => {
    const app = fs.readFileSync(path.join(ROOT, "training", "app.py"), "utf8");
    const argDefault = (flag: string): number => {
      const m = new RegExp(`add_argument\\("--${flag}", type=\\w+, default=([^,)]+)`).exec(app);
      if (!m) throw new Error(`training/app.py declares no default for --${flag}`);
      return Number(m[1]);
    };
    expect({
      epochs: argDefault("epochs"),
      batchSize: argDefault("batch-size"),
      learningRate: argDefault("learning-rate"),
      seed: argDefault("seed"),
    }).toEqual({
      epochs: DEFAULTS.training.epochs,
      batchSize: DEFAULTS.training.batchSize,
      learningRate: DEFAULTS.training.learningRate,
      seed: DEFAULTS.training.seed,
    });
  });

  test("Pulumi.dev.yaml values have the types Pulumi.yaml declares (the CLI rejects mismatches)", () => {
    const declared = (
      parse(fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8")) as {
        config: Record<string, { type: string }>;
      }
    ).config;
    const stack = (
      parse(fs.readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8")) as {
        config: Record<string, unknown>;
      }
    ).config;
    const jsType = { string: "string", integer: "number", boolean: "boolean" } as Record<string, string>;
    for (const [key, value] of Object.entries(stack)) {
      const [ns, name] = key.split(":");
      if (ns !== P) continue;
      const decl = declared[name];
      if (decl) expect([key, typeof value]).toEqual([key, jsType[decl.type]]);
      else expect(["tags", "deployment"]).toContain(name);
    }
    expect(stack["azure-native:location"]).toBe("westeurope");
  });

  test("the tags object merges over the defaults", () => {
    const c = read({ tags: JSON.stringify({ environment: "dev", project: "other" }) });
    expect(c.workspace.tags).toEqual({
      project: "other",
      stack: "dev",
      managedBy: "pulumi",
      environment: "dev",
    });
  });

  test("deployment settings: partial objects keep the other defaults; concurrency follows workerCount", () => {
    const c = read({ workerCount: "2", deployment: JSON.stringify({ livenessInitialDelaySeconds: 300 }) });
    expect(c.serving.settings).toMatchObject({
      livenessInitialDelaySeconds: 300,
      maxConcurrentRequestsPerInstance: 2,
    });
  });
});

// One case per class of bad input: [key, value, words the message must contain].
const BAD: [string, string, string][] = [
  ["gpuVmSize", "Standard_D4s_v3", "GPU VM size"],
  ["gpuVmSize", "nc4", "GPU VM size"],
  ["gpuMaxNodes", "0", "integer in [1, 100]"],
  ["gpuMaxNodes", "two", "integer in [1, 100]"],
  ["gpuLowPriority", "yes", "true or false"],
  ["gpuIdleSeconds", "30", "integer in [60, 86400]"],
  ["trainingEnvironment", "AzureML-tensorflow-2.16-cuda12@latest", "azureml://registries/"],
  ["trainingImage", "mcr.microsoft.com/azureml/openmpi5.0-cuda12.4-ubuntu22.04:latest", "a tag that moves"],
  ["inferenceImage", "mcr.microsoft.com/azureml/minimal-py312-inference:latest", "a tag that moves"],
  ["inferenceImage", "mcr.microsoft.com/azureml/minimal-py312-inference", "container image reference"],
  ["preflightChecks", "off", "true or false"],
  ["rolloutMode", "bluegreen", "direct, canary, mirror"],
  ["rolloutPercent", "0", "integer in [1, 99]"],
  ["rolloutPercent", "100", "integer in [1, 99]"],
  ["rolloutWatchMinutes", "0", "integer in [1, 720]"],
  ["rolloutMaxErrorRate", "0", "number in (0, 1]"],
  ["rolloutIntervalSeconds", "1", "integer in [5, 600]"],
  ["inferenceImage", "tensorflow", "container image reference"],
  ["trainingDataUri", "/local/folder", "folder URI"],
  ["epochs", "0", "integer in [1, 200]"],
  ["epochs", "2.5", "integer in [1, 200]"],
  ["epochs", "1000", "integer in [1, 200]"],
  ["batchSize", "-1", "integer in [1, 4096]"],
  ["learningRate", "0", "number in (0, 1)"],
  ["learningRate", "1", "number in (0, 1)"],
  ["learningRate", "fast", "number in (0, 1)"],
  ["seed", "-3", "integer in [0, 2147483647]"],
  ["experimentName", "my experiment", "1-255 letters"],
  ["modelName", "-model", "1-255 letters"],
  ["retrainNonce", "x".repeat(65), "at most 64"],
  ["minTestAccuracy", "0", "number in (0, 1]"],
  ["minTestAccuracy", "1.5", "number in (0, 1]"],
  ["minTestAccuracy", "99", "number in (0, 1]"],
  ["sampleMinAccuracy", "0", "number in (0, 1]"],
  ["jobTimeoutMinutes", "2", "integer in [5, 1440]"],
  ["jobStuckTimeoutMinutes", "90", "less than jobTimeoutMinutes"],
  ["endpointAuthMode", "Password", "Key, AMLToken, AADToken"],
  ["instanceType", "DS3_v2", "Azure VM size"],
  ["instanceCount", "0", "integer in [1, 50]"],
  ["instanceCount", "51", "integer in [1, 50]"],
  ["workerCount", "0", "integer in [1, 16]"],
  ["maxBatchSize", "0", "integer in [1, 10000]"],
  ["purgeOnDestroy", "maybe", "true or false"],
  ["resourceGroupName", "rg.", "not end with '.'"],
  ["resourceGroupName", "rg with spaces", "not end with '.'"],
];

describe("bad config is rejected with the key, the value and the rule", () => {
  test.each(BAD)("%s = %j", (key, value, rule) => {
    const message = problems({ [key]: value });
    expect(message).toContain(`${P}:${key} = ${JSON.stringify(value)} is invalid`);
    expect(message).toContain(rule);
  });

  test("malformed objects", () => {
    expect(problems({ tags: "[1,2]" })).toContain(`${P}:tags = [1,2] is invalid: must be an object`);
    expect(problems({ tags: "not json" })).toContain(`${P}:tags = "not json" is invalid: must be an object`);
    expect(problems({ tags: JSON.stringify({ team: { a: 1 } }) })).toContain(
      `${P}:tags.team = {"a":1} is invalid`,
    );
    expect(problems({ tags: JSON.stringify({ "a/b": "x" }) })).toContain(`${P}:tags.a/b`);
    expect(problems({ deployment: "42" })).toContain(`${P}:deployment = 42 is invalid: must be an object`);
    expect(problems({ deployment: JSON.stringify({ requestTimeoutMs: 500000 }) })).toContain(
      `${P}:deployment.requestTimeoutMs = 500000 is invalid: must be an integer in [1000, 180000]`,
    );
    expect(problems({ deployment: JSON.stringify({ requestTimeout: 5 }) })).toContain(
      `${P}:deployment.requestTimeout = 5 is invalid: unknown setting`,
    );
    expect(problems({ deployment: JSON.stringify({ probePeriodSeconds: "ten" }) })).toContain(
      `${P}:deployment.probePeriodSeconds = "ten" is invalid`,
    );
    expect(
      problems({ workerCount: "4", deployment: JSON.stringify({ maxConcurrentRequestsPerInstance: 2 }) }),
    ).toContain("must be at least workerCount (4)");
  });

  test("unknown project keys (typos) are rejected; other namespaces are not ours to judge", () => {
    expect(() =>
      readStackConfig((k) => (k === "azure-native:location" ? "westeurope" : undefined), P, "dev", [
        "azure-native:location",
        `${P}:epochs`,
        "aws:region",
      ]),
    ).not.toThrow();
    expect(() =>
      readStackConfig((k) => (k === "azure-native:location" ? "westeurope" : undefined), P, "dev", [
        `${P}:epoch`,
      ]),
    ).toThrow(`${P}:epoch is not a setting of this program`);
  });

  test("an explicitly empty value is an error where empty means nothing, and 'not set' where it does", () => {
    for (const key of ["gpuVmSize", "instanceType", "epochs", "endpointAuthMode", "inferenceImage"]) {
      expect(problems({ [key]: "" })).toContain(`${P}:${key} = "" is invalid: must not be empty`);
    }
    const c = read({ resourceGroupName: "", trainingDataUri: "", retrainNonce: "", tags: "" });
    expect(c.workspace.resourceGroupName).toBeUndefined();
    expect(c.training.dataUri).toBeUndefined();
    expect(c.training.retrainNonce).toBe("");
  });

  test("missing or malformed location", () => {
    expect(problems({}, "")).toContain("azure-native:location is not set");
    expect(problems({}, "West Europe")).toContain('azure-native:location = "West Europe" is invalid');
  });

  test("all problems are reported at once", () => {
    const message = problems({ epochs: "0", instanceCount: "0", endpointAuthMode: "none" });
    expect(message.match(/ is invalid: /g)).toHaveLength(3);
  });

  test("floating image tags pass only when allowed on purpose; digests and dated tags always", () => {
    const latest = "mcr.microsoft.com/azureml/minimal-py312-inference:latest";
    expect(read({ inferenceImage: latest, allowFloatingImageTags: "true" }).inference.image).toBe(latest);
    const digest = `mcr.microsoft.com/azureml/minimal-py312-inference@sha256:${"a".repeat(64)}`;
    expect(read({ inferenceImage: digest }).inference.image).toBe(digest);
    expect(read({}).training.image).toMatch(/:\d{8}\.v\d+$/);
    expect(read({}).inference.image).toMatch(/:\d{8}\.v\d+$/);
  });

  test("the training environment is built unless a curated one is named", () => {
    expect(read({}).training.environment).toBeUndefined();
    const curated = "azureml://registries/azureml/environments/tensorflow-2.16-cuda12/versions/25";
    expect(read({ trainingEnvironment: curated }).training.environment).toBe(curated);
  });

  test("valid non-defaults are accepted", () => {
    const c = read({
      resourceGroupName: "rg-existing_(1)",
      gpuVmSize: "Standard_NC24ads_A100_v4",
      gpuLowPriority: "true",
      trainingEnvironment: "azureml://registries/azureml/environments/tensorflow-2.16-cuda12/labels/latest",
      allowFloatingImageTags: "true",
      trainingDataUri: "azureml://datastores/workspaceblobstore/paths/mnist/",
      endpointAuthMode: "AADToken",
      learningRate: "1e-4",
      minTestAccuracy: "1",
    });
    expect(c).toMatchObject({
      gpu: { lowPriority: true },
      serving: { authMode: "AADToken" },
      training: { learningRate: 0.0001 },
    });
  });
});

// Sweep settings Azure ML would refuse are refused here, naming the key; a default that would be refused adapts.
describe("sweep config Azure ML would refuse", () => {
  const sweep = (s: object, values: Record<string, string> = {}) => ({ ...values, sweep: JSON.stringify(s) });

  test("grid sampling can only be used with choice hyperparameters: a [min, max] range is refused", () => {
    expect(problems(sweep({ sampling: "grid", learningRate: [0.001, 0.01] }))).toContain(
      `${P}:sweep.learningRate = [0.001,0.01] is invalid: must be a choice of values with sweep.sampling grid ` +
        "(Azure ML's grid takes only choice hyperparameters): write {choice: [0.001, 0.01]}",
    );
    expect(problems(sweep({ sampling: "grid", dropout: [0.1, 0.3] }))).toContain(
      `${P}:sweep.dropout = [0.1,0.3]`,
    );
    const grid = read(sweep({ sampling: "grid", dropout: { choice: [0.1, 0.3] } })).training.sweep!;
    expect(grid.searchSpace).toEqual({
      learningRate: { choice: [0.001, 0.003, 0.01] },
      batchSize: [64, 128, 256],
      dropout: { choice: [0.1, 0.3] },
    });
  });

  test("a choice must be a non-empty list of values in (0, 1), and nothing else", () => {
    for (const bad of [{ choice: [] }, { choice: [0.5, 2] }, { choice: [0.1], min: 0 }, { values: [0.1] }]) {
      expect(problems(sweep({ learningRate: bad }))).toContain(
        `${P}:sweep.learningRate = ${JSON.stringify(bad)} is invalid: must be [min, max] with 0 < min < max < 1, or {choice: [values]}`,
      );
    }
  });

  test("Bayesian sampling supports no early termination: an explicit policy is refused, the default becomes none", () => {
    for (const policy of ["bandit", "median"]) {
      expect(problems(sweep({ sampling: "bayesian", earlyTermination: policy }))).toContain(
        `${P}:sweep.earlyTermination = "${policy}" is invalid: must be none with sweep.sampling bayesian`,
      );
    }
    const bayesian = read(sweep({ sampling: "bayesian" })).training.sweep!;
    expect(bayesian.earlyTermination).toBe("none");
    // Bayesian sampling takes no loguniform: the learning rate's range is drawn uniformly.
    expect(bayesian.searchSpace.learningRateUniform).toBe(true);
    expect(read(sweep({ sampling: "random" })).training.sweep!.earlyTermination).toBe("bandit");
  });

  test("`sweep: {trials: 8}` alone fits the default cluster: the default concurrency adapts to gpuMaxNodes", () => {
    expect(read(sweep({ trials: 8 })).training.sweep).toMatchObject({ trials: 8, concurrency: 1 });
    expect(read(sweep({}, { gpuMaxNodes: "4" })).training.sweep!.concurrency).toBe(2);
    expect(read(sweep({}, { gpuMaxNodes: "3", trainingNodes: "2" })).training.sweep!.concurrency).toBe(1);
    expect(read(sweep({ concurrency: 4 }, { gpuMaxNodes: "4" })).training.sweep!.concurrency).toBe(4);
    // An invalid value is reported once, on its own rule, not again as a default that does not fit.
    expect(problems(sweep({ concurrency: 0 })).match(/sweep\.concurrency/g)).toHaveLength(1);
    // A value the stack sets is its own: too many for the cluster is an error naming it.
    expect(problems(sweep({ concurrency: 2 }))).toContain(
      `${P}:sweep.concurrency = 2 is invalid: × trainingNodes (1) must not exceed gpuMaxNodes (1)`,
    );
  });

  test("every sweep.batchSize choice must split across trainingNodes, as batchSize must", () => {
    const nodes = { gpuMaxNodes: "3", trainingNodes: "3" };
    expect(problems(sweep({}, nodes))).toContain(
      `${P}:sweep.batchSize = [64,128,256] is invalid: must hold only multiples of trainingNodes (3): 64, 128, 256 ` +
        "are not (that list is the default: set sweep.batchSize)",
    );
    const given = problems(sweep({ batchSize: [63, 128] }, nodes));
    expect(given).toContain(
      `${P}:sweep.batchSize = [63,128] is invalid: must hold only multiples of trainingNodes (3): 128 is not`,
    );
    expect(given).not.toContain("default");
    // With a sweep the trials take sweep.batchSize: the unused batchSize (128) is not judged.
    expect(read(sweep({ batchSize: [63, 126] }, nodes)).training.sweep!.searchSpace.batchSize).toEqual([
      63, 126,
    ]);
  });

  test("without a sweep, a batchSize that does not split says whether it is the default", () => {
    expect(problems({ gpuMaxNodes: "3", trainingNodes: "3" })).toContain(
      `${P}:batchSize = "128" is invalid: must be a multiple of trainingNodes (3) (128 is the default: set batchSize)`,
    );
    const set = problems({ gpuMaxNodes: "3", trainingNodes: "3", batchSize: "100" });
    expect(set).toContain(`${P}:batchSize = "100" is invalid: must be a multiple of trainingNodes (3)`);
    expect(set).not.toContain("is the default");
  });
});

// What a newcomer writes, the way the tools they follow write it.
describe("values as `pulumi config set --path`, the Azure ML CLI and azureml-examples spell them", () => {
  // `--path` keeps integers and true/false typed, every other value a string: `sweep.slackFactor 0.2` is "0.2"
  // (pulumi.com/docs/iac/cli/commands/pulumi_config_set).
  test("numbers inside object keys may be the strings a --path set stores; anything else is refused naming the field", () => {
    const sweep = read({
      gpuMaxNodes: "4",
      sweep: JSON.stringify({
        slackFactor: "0.2",
        trials: "6",
        concurrency: "2",
        learningRate: ["0.001", "0.01"],
        dropout: { choice: ["0.25", 0.5] },
        batchSize: ["64", 128],
      }),
    }).training.sweep!;
    expect(sweep).toMatchObject({ slackFactor: 0.2, trials: 6, concurrency: 2 });
    expect(sweep.searchSpace).toEqual({
      learningRate: [0.001, 0.01],
      dropout: { choice: [0.25, 0.5] },
      batchSize: [64, 128],
    });
    const c = read({
      autoscale: JSON.stringify({ minInstances: "1", maxInstances: "3", cpuTarget: "60" }),
      deployment: JSON.stringify({ requestTimeoutMs: "30000" }),
    });
    expect(c.serving.autoscale).toMatchObject({ minInstances: 1, maxInstances: 3, cpuTarget: 60 });
    expect(c.serving.settings.requestTimeoutMs).toBe(30000);
    for (const [value, rule] of [
      ["abc", "must be a number in (0, 1]"],
      ["", "must be a number in (0, 1]"],
      ["0x1", "must be a number in (0, 1]"],
      ["Infinity", "must be a number in (0, 1]"],
      ["2", "must be a number in (0, 1]"],
    ]) {
      expect(problems({ sweep: JSON.stringify({ slackFactor: value }) })).toContain(
        `${P}:sweep.slackFactor = ${JSON.stringify(value)} is invalid: ${rule}`,
      );
    }
    // an integer field stays an integer: "2.5" is refused, as 2.5 is
    expect(problems({ autoscale: JSON.stringify({ maxInstances: "2.5" }) })).toContain(
      `${P}:autoscale.maxInstances = "2.5" is invalid: must be an integer in [1, 50]`,
    );
    expect(problems({ sweep: JSON.stringify({ learningRate: ["0.001", "fast"] }) })).toContain(
      `${P}:sweep.learningRate = ["0.001","fast"] is invalid`,
    );
    expect(problems({ sweep: JSON.stringify({ batchSize: ["64", "big"] }) })).toContain(
      `${P}:sweep.batchSize = ["64","big"] is invalid`,
    );
  });

  test('a concurrency set as the string "2" is set, not the default that adapts to gpuMaxNodes', () => {
    expect(problems({ sweep: JSON.stringify({ concurrency: "2" }) })).toContain(
      `${P}:sweep.concurrency = 2 is invalid: × trainingNodes (1) must not exceed gpuMaxNodes (1)`,
    );
  });

  test("a tag value a --path set stored as a number or boolean is the string Azure takes", () => {
    expect(read({ tags: JSON.stringify({ costCenter: 1234, shared: true }) }).workspace.tags).toMatchObject({
      costCenter: "1234",
      shared: "true",
    });
  });

  test("endpointAuthMode: any case, and the CLI YAML's key | aml_token | aad_token, become the ARM value", () => {
    const modeOf = (v: string) => read({ endpointAuthMode: v }).serving.authMode;
    for (const [given, mode] of [
      ["key", "Key"],
      ["KEY", "Key"],
      ["aml_token", "AMLToken"],
      ["amltoken", "AMLToken"],
      ["AMLToken", "AMLToken"],
      ["aad_token", "AADToken"],
      ["AADTOKEN", "AADToken"],
    ]) {
      expect([given, modeOf(given)]).toEqual([given, mode]);
    }
    for (const bad of ["token", "aml-token", "Key ", "toString", "__proto__"]) {
      expect(problems({ endpointAuthMode: bad })).toContain(
        `${P}:endpointAuthMode = ${JSON.stringify(bad)} is invalid: must be one of Key, AMLToken, AADToken`,
      );
    }
  });

  test("trainingEnvironment: azureml:AzureML-<name>:<version> is the azureml registry's version", () => {
    const pinned = "azureml://registries/azureml/environments/AzureML-tensorflow-2.16-cuda12/versions/26";
    expect(
      read({ trainingEnvironment: "azureml:AzureML-tensorflow-2.16-cuda12:26" }).training.environment,
    ).toBe(pinned);
    // both spellings are one environment, so one run hash
    expect(read({ trainingEnvironment: pinned }).training.environment).toBe(pinned);
    // a short name that is not curated is a workspace's own environment, not the registry's
    expect(problems({ trainingEnvironment: "azureml:my-env:3" })).toContain(
      `${P}:trainingEnvironment = "azureml:my-env:3" is invalid: must be empty`,
    );
  });

  test("trainingEnvironment: a label (azureml:...@latest, .../labels/...) moves; refused unless allowFloatingImageTags", () => {
    const latest = "azureml://registries/azureml/environments/AzureML-tensorflow-2.16-cuda12/labels/latest";
    for (const given of ["azureml:AzureML-tensorflow-2.16-cuda12@latest", latest]) {
      const message = problems({ trainingEnvironment: given });
      expect(message).toContain(
        `${P}:trainingEnvironment = ${JSON.stringify(latest)} is invalid: names a label`,
      );
      expect(message).toContain("pin a version");
      expect(read({ trainingEnvironment: given, allowFloatingImageTags: "true" }).training.environment).toBe(
        latest,
      );
    }
  });
});
