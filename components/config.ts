// Reads and validates every configuration value in one place, before any resource is declared.
// Pure: takes a key lookup function, so tests need no Pulumi runtime.

export const PROJECT = "azure-ml-mnist";

export type EndpointAuthMode = "Key" | "AMLToken" | "AADToken";
export const ENDPOINT_AUTH_MODES: readonly EndpointAuthMode[] = ["Key", "AMLToken", "AADToken"];

/** Probe and request settings of the online deployment (config key `deployment`). */
export interface DeploymentSettings {
  /** Azure allows at most 180 s. */
  requestTimeoutMs: number;
  maxConcurrentRequestsPerInstance: number;
  /** TensorFlow's import + model load + warm-up take tens of seconds: the liveness probe must wait longer. */
  livenessInitialDelaySeconds: number;
  readinessInitialDelaySeconds: number;
  probePeriodSeconds: number;
  probeTimeoutSeconds: number;
  probeFailureThreshold: number;
}

export interface StackConfig {
  project: string;
  stack: string;
  location: string;
  /** Existing resource group to deploy into; undefined = the program creates one. */
  resourceGroupName?: string;
  /** Defaults merged with the `tags` config object (config wins). */
  tags: Record<string, string>;
  gpuVmSize: string;
  gpuMaxNodes: number;
  gpuLowPriority: boolean;
  gpuIdleSeconds: number;
  trainingEnvironment: string;
  trainingDataUri?: string;
  inferenceImage: string;
  epochs: number;
  batchSize: number;
  learningRate: number;
  seed: number;
  experimentName: string;
  jobDisplayName: string;
  retrainNonce: string;
  minTestAccuracy: number;
  jobStuckTimeoutMinutes: number;
  jobTimeoutMinutes: number;
  modelName: string;
  endpointAuthMode: EndpointAuthMode;
  instanceType: string;
  instanceCount: number;
  workerCount: number;
  maxBatchSize: number;
  deployment: DeploymentSettings;
  sampleMinAccuracy: number;
  purgeOnDestroy: boolean;
}

/**
 * Pinned curated training environment (TF 2.16, CUDA 12, Keras 3 + tf-keras).
 * The version number is unverified against the live registry: check it with
 * `az ml environment show --registry-name azureml -n tensorflow-2.16-cuda12 --version <N>`.
 */
export const DEFAULT_TRAINING_ENVIRONMENT =
  "azureml://registries/azureml/environments/tensorflow-2.16-cuda12/versions/25";

/**
 * Azure ML inference base image (Ubuntu 22.04, Python 3.11, inference server) that scoring/environment.yml is
 * built on. Unverified: a dated tag should replace `latest` once checked (only tags up to ~6 months are supported).
 */
export const DEFAULT_INFERENCE_IMAGE = "mcr.microsoft.com/azureml/curated/minimal-py311-inference:latest";

export const DEFAULT_DEPLOYMENT_SETTINGS: DeploymentSettings = {
  requestTimeoutMs: 10000,
  maxConcurrentRequestsPerInstance: 2,
  livenessInitialDelaySeconds: 120,
  readinessInitialDelaySeconds: 60,
  probePeriodSeconds: 10,
  probeTimeoutSeconds: 5,
  probeFailureThreshold: 30,
};

/** Defaults; Pulumi.yaml's typed `config:` section declares the same values (a test keeps them equal). */
export const DEFAULTS = {
  gpuVmSize: "Standard_NC4as_T4_v3",
  gpuMaxNodes: 1,
  gpuLowPriority: false,
  gpuIdleSeconds: 120,
  trainingEnvironment: DEFAULT_TRAINING_ENVIRONMENT,
  inferenceImage: DEFAULT_INFERENCE_IMAGE,
  // Same as training/app.py's own defaults.
  epochs: 15,
  batchSize: 128,
  learningRate: 0.003,
  seed: 42,
  experimentName: "mnist-cnn",
  jobDisplayName: "train-mnist-cnn",
  retrainNonce: "",
  minTestAccuracy: 0.98,
  jobStuckTimeoutMinutes: 30,
  jobTimeoutMinutes: 60,
  modelName: "mnist-cnn",
  endpointAuthMode: "Key" as EndpointAuthMode,
  instanceType: "Standard_DS3_v2",
  instanceCount: 1,
  workerCount: 2,
  maxBatchSize: 256,
  sampleMinAccuracy: 1,
  purgeOnDestroy: false,
} as const;

/** Every project config key the program reads (anything else under the project namespace is a typo). */
export const CONFIG_KEYS = [
  "resourceGroupName",
  "tags",
  ...Object.keys(DEFAULTS),
  "trainingDataUri",
  "deployment",
] as const;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join("\n  - ")}`);
    this.name = "ConfigError";
  }
}

/** Lookup of a raw config value: `key` is a project key ("epochs") or a namespaced one ("azure-native:location"). */
export type ConfigLookup = (key: string) => string | undefined;

const GPU_VM_SIZE = /^Standard_N[CDV][A-Za-z0-9_]+$/;
const INSTANCE_TYPE = /^Standard_[A-Za-z0-9_]+$/;
const LOCATION = /^[a-z][a-z0-9]{2,39}$/;
// Resource group names: 1-90 of letters, digits, underscores, hyphens, periods, parentheses; not ending with '.'.
const RESOURCE_GROUP = /^[-\w.()]{0,89}[-\w()]$/;
// Asset (model) and experiment names as the Azure ML service accepts them.
const ASSET_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}$/;
const EXPERIMENT_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}$/;
const REGISTRY_ENV =
  /^azureml:\/\/registries\/[A-Za-z0-9_-]+\/environments\/[A-Za-z0-9_.-]+\/(versions|labels)\/[A-Za-z0-9_.-]+$/;
const WORKSPACE_ENV =
  /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.MachineLearningServices\/workspaces\/[^/]+\/environments\/[^/]+\/versions\/[^/]+$/i;
const IMAGE = /^[a-z0-9.-]+(:\d+)?\/[a-z0-9._/-]+(:[A-Za-z0-9._-]{1,128}|@sha256:[a-f0-9]{64})$/;
const DATA_URI = /^(azureml|https|wasbs|abfss):\/\/\S+$/;
const TAG_KEY = /^[^<>%&\\?/]{1,512}$/;

/** Collects problems instead of failing on the first, so one `pulumi up` shows every bad key. */
class Reader {
  readonly problems: string[] = [];
  constructor(
    private readonly lookup: ConfigLookup,
    private readonly project: string,
  ) {}

  fq(key: string): string {
    return key.includes(":") ? key : `${this.project}:${key}`;
  }

  private raw(key: string): string | undefined {
    const v = this.lookup(key);
    return v === undefined || v === "" ? undefined : v;
  }

  fail(key: string, value: unknown, rule: string): void {
    const shown = typeof value === "string" ? JSON.stringify(value) : JSON.stringify(value ?? null);
    this.problems.push(`${this.fq(key)} = ${shown} is invalid: ${rule}`);
  }

  string(key: string, def: string, pattern?: RegExp, rule?: string): string {
    const v = this.raw(key) ?? def;
    if (pattern && !pattern.test(v)) this.fail(key, v, rule ?? `must match ${pattern}`);
    return v;
  }

  optionalString(key: string, pattern: RegExp, rule: string): string | undefined {
    const v = this.raw(key);
    if (v !== undefined && !pattern.test(v)) this.fail(key, v, rule);
    return v;
  }

  integer(key: string, def: number, min: number, max: number): number {
    const v = this.raw(key);
    if (v === undefined) return def;
    const n = Number(v.trim());
    if (!/^-?\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
      this.fail(key, v, `must be an integer in [${min}, ${max}]`);
      return def;
    }
    return n;
  }

  /** A number in (min, max] or (min, max) when `openMax`. */
  number(key: string, def: number, min: number, max: number, openMax = false): number {
    const v = this.raw(key);
    if (v === undefined) return def;
    const n = Number(v.trim());
    const ok = v.trim() !== "" && Number.isFinite(n) && n > min && (openMax ? n < max : n <= max);
    if (!ok) {
      this.fail(key, v, `must be a number in (${min}, ${max}${openMax ? ")" : "]"}`);
      return def;
    }
    return n;
  }

  boolean(key: string, def: boolean): boolean {
    const v = this.raw(key);
    if (v === undefined) return def;
    if (v === "true") return true;
    if (v === "false") return false;
    this.fail(key, v, "must be true or false");
    return def;
  }

  /** A JSON object (Pulumi passes structured config as JSON text). */
  object(key: string): Record<string, unknown> | undefined {
    const v = this.raw(key);
    if (v === undefined) return undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(v);
    } catch {
      this.fail(key, v, "must be an object (YAML mapping)");
      return undefined;
    }
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
      this.fail(key, parsed, "must be an object (YAML mapping)");
      return undefined;
    }
    return parsed as Record<string, unknown>;
  }
}

function readTags(r: Reader, project: string, stack: string): Record<string, string> {
  const tags: Record<string, string> = { project, stack, managedBy: "pulumi" };
  const given = r.object("tags");
  if (!given) return tags;
  const entries = Object.entries(given);
  if (entries.length + 3 > 50)
    r.fail("tags", given, "at most 47 tags (Azure allows 50, 3 are set by the program)");
  for (const [k, v] of entries) {
    if (!TAG_KEY.test(k)) {
      r.fail(`tags.${k}`, k, "tag names are 1-512 characters without < > % & \\ ? /");
    } else if (typeof v !== "string" || v.length > 256) {
      r.fail(`tags.${k}`, v, "tag values must be strings of at most 256 characters");
    } else {
      tags[k] = v;
    }
  }
  return tags;
}

type IntRange = { key: keyof DeploymentSettings; min: number; max: number };
const DEPLOYMENT_RANGES: IntRange[] = [
  { key: "requestTimeoutMs", min: 1000, max: 180000 },
  { key: "maxConcurrentRequestsPerInstance", min: 1, max: 1000 },
  { key: "livenessInitialDelaySeconds", min: 0, max: 3600 },
  { key: "readinessInitialDelaySeconds", min: 0, max: 3600 },
  { key: "probePeriodSeconds", min: 1, max: 3600 },
  { key: "probeTimeoutSeconds", min: 1, max: 3600 },
  { key: "probeFailureThreshold", min: 1, max: 1000 },
];

function readDeployment(r: Reader, workerCount: number): DeploymentSettings {
  // One request per gunicorn worker by default: the workers are sync processes.
  const settings: DeploymentSettings = {
    ...DEFAULT_DEPLOYMENT_SETTINGS,
    maxConcurrentRequestsPerInstance: workerCount,
  };
  const given = r.object("deployment");
  if (!given) return settings;
  const known = new Set<string>(DEPLOYMENT_RANGES.map((x) => x.key));
  for (const k of Object.keys(given)) {
    if (!known.has(k))
      r.fail(`deployment.${k}`, given[k], `unknown setting; allowed: ${[...known].join(", ")}`);
  }
  for (const { key, min, max } of DEPLOYMENT_RANGES) {
    if (!(key in given)) continue;
    const v = given[key];
    if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
      r.fail(`deployment.${key}`, v, `must be an integer in [${min}, ${max}]`);
    } else {
      settings[key] = v;
    }
  }
  if (settings.probeTimeoutSeconds > settings.probePeriodSeconds) {
    r.fail(
      "deployment.probeTimeoutSeconds",
      settings.probeTimeoutSeconds,
      "must not exceed deployment.probePeriodSeconds",
    );
  }
  return settings;
}

/**
 * Reads the whole stack configuration. Throws one ConfigError listing every problem; each names the config
 * key, the value and the rule.
 */
export function readStackConfig(
  lookup: ConfigLookup,
  project: string,
  stack: string,
  /** Every config key set for the stack (namespaced); project keys the program does not read are typos. */
  allKeys: readonly string[] = [],
): StackConfig {
  const r = new Reader(lookup, project);
  const d = DEFAULTS;
  const known = new Set<string>(CONFIG_KEYS);
  for (const key of allKeys) {
    const [ns, name] = key.split(":");
    if (ns === project && name !== undefined && !known.has(name)) {
      r.problems.push(`${key} is not a setting of this program (known: ${[...known].sort().join(", ")})`);
    }
  }

  const location = lookup("azure-native:location");
  if (!location) {
    r.problems.push(
      "azure-native:location is not set: run `pulumi config set azure-native:location <region>`",
    );
  } else if (!LOCATION.test(location)) {
    r.fail("azure-native:location", location, "must be an Azure region name such as westeurope");
  }

  const workerCount = r.integer("workerCount", d.workerCount, 1, 16);
  const cfg: StackConfig = {
    project,
    stack,
    location: location ?? "",
    resourceGroupName: r.optionalString(
      "resourceGroupName",
      RESOURCE_GROUP,
      "must be 1-90 letters, digits, '_', '-', '.', '(' or ')' and not end with '.'",
    ),
    tags: readTags(r, project, stack),
    gpuVmSize: r.string(
      "gpuVmSize",
      d.gpuVmSize,
      GPU_VM_SIZE,
      "must be a GPU VM size Standard_NC*, Standard_ND* or Standard_NV* (e.g. Standard_NC4as_T4_v3)",
    ),
    gpuMaxNodes: r.integer("gpuMaxNodes", d.gpuMaxNodes, 1, 100),
    gpuLowPriority: r.boolean("gpuLowPriority", d.gpuLowPriority),
    gpuIdleSeconds: r.integer("gpuIdleSeconds", d.gpuIdleSeconds, 60, 86400),
    trainingEnvironment: d.trainingEnvironment,
    trainingDataUri: r.optionalString(
      "trainingDataUri",
      DATA_URI,
      "must be an azureml://, https://, wasbs:// or abfss:// folder URI",
    ),
    inferenceImage: r.string(
      "inferenceImage",
      d.inferenceImage,
      IMAGE,
      "must be a container image reference with a tag or digest (registry/repository:tag)",
    ),
    epochs: r.integer("epochs", d.epochs, 1, 200),
    batchSize: r.integer("batchSize", d.batchSize, 1, 4096),
    learningRate: r.number("learningRate", d.learningRate, 0, 1, true),
    seed: r.integer("seed", d.seed, 0, 2147483647),
    experimentName: r.string(
      "experimentName",
      d.experimentName,
      EXPERIMENT_NAME,
      "must be 1-255 letters, digits, '_', '.', '-', starting with a letter, digit or '_'",
    ),
    jobDisplayName: r.string(
      "jobDisplayName",
      d.jobDisplayName,
      /^\S(.{0,254}\S)?$/,
      "must be 1-256 characters",
    ),
    retrainNonce: r.string("retrainNonce", d.retrainNonce, /^.{0,64}$/, "must be at most 64 characters"),
    minTestAccuracy: r.number("minTestAccuracy", d.minTestAccuracy, 0, 1),
    jobStuckTimeoutMinutes: r.integer("jobStuckTimeoutMinutes", d.jobStuckTimeoutMinutes, 1, 1440),
    jobTimeoutMinutes: r.integer("jobTimeoutMinutes", d.jobTimeoutMinutes, 5, 1440),
    modelName: r.string(
      "modelName",
      d.modelName,
      ASSET_NAME,
      "must be 1-255 letters, digits, '_', '.', '-', starting with a letter, digit or '_'",
    ),
    endpointAuthMode: d.endpointAuthMode,
    instanceType: r.string(
      "instanceType",
      d.instanceType,
      INSTANCE_TYPE,
      "must be an Azure VM size such as Standard_DS3_v2",
    ),
    instanceCount: r.integer("instanceCount", d.instanceCount, 1, 50),
    workerCount,
    maxBatchSize: r.integer("maxBatchSize", d.maxBatchSize, 1, 10000),
    deployment: readDeployment(r, workerCount),
    sampleMinAccuracy: r.number("sampleMinAccuracy", d.sampleMinAccuracy, 0, 1),
    purgeOnDestroy: r.boolean("purgeOnDestroy", d.purgeOnDestroy),
  };

  const env = r.string("trainingEnvironment", d.trainingEnvironment);
  if (!REGISTRY_ENV.test(env) && !WORKSPACE_ENV.test(env)) {
    r.fail(
      "trainingEnvironment",
      env,
      "must be azureml://registries/<registry>/environments/<name>/versions/<n> (or /labels/<label>) or a workspace environment version ARM id",
    );
  }
  cfg.trainingEnvironment = env;

  const auth = r.string("endpointAuthMode", d.endpointAuthMode);
  if ((ENDPOINT_AUTH_MODES as readonly string[]).includes(auth)) {
    cfg.endpointAuthMode = auth as EndpointAuthMode;
  } else {
    r.fail("endpointAuthMode", auth, `must be one of ${ENDPOINT_AUTH_MODES.join(", ")}`);
  }

  if (cfg.jobStuckTimeoutMinutes >= cfg.jobTimeoutMinutes) {
    r.fail(
      "jobStuckTimeoutMinutes",
      String(cfg.jobStuckTimeoutMinutes),
      `must be less than jobTimeoutMinutes (${cfg.jobTimeoutMinutes})`,
    );
  }
  // Gunicorn workers are sync processes: more concurrent requests than workers only queue inside the container.
  if (cfg.deployment.maxConcurrentRequestsPerInstance < cfg.workerCount) {
    r.fail(
      "deployment.maxConcurrentRequestsPerInstance",
      cfg.deployment.maxConcurrentRequestsPerInstance,
      `must be at least workerCount (${cfg.workerCount}) so every worker can get a request`,
    );
  }

  if (r.problems.length > 0) throw new ConfigError(r.problems);
  return cfg;
}
