// Reads the whole stack configuration from the schema, before any resource is declared: one ConfigError lists every
// problem, each naming the key, the value and the rule. Pure: takes a key lookup, so tests need no Pulumi runtime.
import { ConfigError, type ConfigLookup, Reader } from "./reader";
import { DEFAULT_SWEEP_CONCURRENCY, sweepFieldsGiven } from "./objects";
import {
  CONFIG_KEYS,
  type GpuSettings,
  type InferenceSettings,
  type ModelSettings,
  type RegistrySettings,
  type PreflightSettings,
  type RolloutSettings,
  SCHEMA,
  type SampleSettings,
  type Schema,
  type ServingSettings,
  type Setting,
  type TrainingSettings,
  type ValuesOf,
  type WorkspaceSettings,
  defaultTags,
  isFloatingEnvironment,
  isFloatingImage,
} from "./schema";
import type { SweepSettings } from "../core/sweep";

export { ConfigError, type ConfigLookup } from "./reader";

import { LOCATION, MAX_MIRROR_PERCENT } from "../core/azureRules";

/** The validated stack configuration, grouped as the components take it. */
export interface StackConfig {
  readonly project: string;
  readonly stack: string;
  readonly location: string;
  readonly workspace: WorkspaceSettings;
  readonly gpu: GpuSettings;
  readonly training: TrainingSettings;
  readonly model: ModelSettings;
  readonly registry: RegistrySettings;
  readonly inference: InferenceSettings;
  readonly serving: ServingSettings;
  readonly sample: SampleSettings;
  readonly preflight: PreflightSettings;
  readonly rollout: RolloutSettings;
}

function readGroup<G extends Record<string, Setting<unknown>>>(r: Reader, group: G): ValuesOf<G> {
  const values: Record<string, unknown> = {};
  for (const [name, setting] of Object.entries(group)) values[name] = setting.read(r, values);
  return values as ValuesOf<G>;
}

function checkKnownKeys(r: Reader, project: string, allKeys: readonly string[]): void {
  for (const key of allKeys) {
    const [ns, name] = key.split(":");
    if (ns === project && name !== undefined && !CONFIG_KEYS.includes(name)) {
      r.problem(`${key} is not a setting of this program (known: ${[...CONFIG_KEYS].sort().join(", ")})`);
    }
  }
}

function readLocation(r: Reader, lookup: ConfigLookup): string {
  const location = lookup("azure-native:location");
  if (!location) {
    r.problem("azure-native:location is not set: run `pulumi config set azure-native:location <region>`");
  } else if (!LOCATION.test(location)) {
    r.fail("azure-native:location", location, "must be an Azure region name such as westeurope");
  }
  return location ?? "";
}

/** Which values were set rather than defaulted: config keys, and the sweep fields other keys judge. */
interface Given {
  key: (key: string) => boolean;
  sweep: ReadonlySet<"concurrency" | "batchSize">;
}

/** Rules between keys (each key alone is checked by its setting). */
function checkCombinations(r: Reader, cfg: StackConfig, given: Given): void {
  // A stack that deploys from the registry needs to know which registry and which version: nothing to default to.
  if (cfg.registry.modelSource === "registry") {
    for (const name of ["registryId", "modelVersion"] as const) {
      if (cfg.registry[name] === undefined)
        r.fail(SCHEMA.registry[name].key, "(unset)", "is required with modelSource registry");
    }
  }
  const t = cfg.training;
  if (t.nodes > cfg.gpu.maxNodes) {
    r.fail(SCHEMA.training.nodes.key, String(t.nodes), `must not exceed gpuMaxNodes (${cfg.gpu.maxNodes})`);
  }
  // Each replica takes an equal share of the global batch (app.py refuses an uneven split). A sweep's trials take
  // their batch size from sweep.batchSize, so then every choice must split, and batchSize itself is unused.
  if (!t.sweep && t.batchSize % t.nodes !== 0) {
    const key = SCHEMA.training.batchSize.key;
    r.fail(
      key,
      String(t.batchSize),
      `must be a multiple of trainingNodes (${t.nodes})` +
        (given.key(key) ? "" : ` (${t.batchSize} is the default: set ${key})`),
    );
  }
  if (t.sweep) {
    const uneven = t.sweep.searchSpace.batchSize.filter((b) => b % t.nodes !== 0);
    if (uneven.length > 0) {
      r.fail(
        "sweep.batchSize",
        t.sweep.searchSpace.batchSize,
        `must hold only multiples of trainingNodes (${t.nodes}): ${uneven.join(", ")} ${uneven.length > 1 ? "are" : "is"} not` +
          (given.sweep.has("batchSize") ? "" : " (that list is the default: set sweep.batchSize)"),
      );
    }
  }
  // An unset concurrency was already lowered to fit (withSweepDefaults); only a set one can be too high here, and
  // trainingNodes above gpuMaxNodes is reported on its own key.
  if (
    t.sweep &&
    given.sweep.has("concurrency") &&
    t.nodes <= cfg.gpu.maxNodes &&
    t.sweep.concurrency * t.nodes > cfg.gpu.maxNodes
  ) {
    r.fail(
      "sweep.concurrency",
      t.sweep.concurrency,
      `× trainingNodes (${t.nodes}) must not exceed gpuMaxNodes (${cfg.gpu.maxNodes}): trials beyond it would only queue`,
    );
  }
  const a = cfg.serving.autoscale;
  if (a && (cfg.serving.instanceCount < a.minInstances || cfg.serving.instanceCount > a.maxInstances)) {
    r.fail(
      SCHEMA.serving.instanceCount.key,
      String(cfg.serving.instanceCount),
      `must lie within autoscale.minInstances..maxInstances (${a.minInstances}..${a.maxInstances})`,
    );
  }
  if (t.stuckTimeoutMinutes >= t.timeoutMinutes) {
    r.fail(
      SCHEMA.training.stuckTimeoutMinutes.key,
      String(t.stuckTimeoutMinutes),
      `must be less than jobTimeoutMinutes (${t.timeoutMinutes})`,
    );
  }
  if (!cfg.preflight.allowFloatingImageTags) {
    for (const [key, image] of [
      [SCHEMA.training.image.key, cfg.training.image],
      [SCHEMA.inference.image.key, cfg.inference.image],
    ]) {
      if (isFloatingImage(image))
        r.fail(
          key,
          image,
          "names a tag that moves: pin a dated tag or a digest (or set allowFloatingImageTags: true)",
        );
    }
    const env = cfg.training.environment;
    if (env !== undefined && isFloatingEnvironment(env))
      r.fail(
        SCHEMA.training.environment.key,
        env,
        "names a label that moves to each new version, and the job would be reused across them: pin a version " +
          "(azureml:<name>:<version>, or .../versions/<n>; `az ml environment show --registry-name azureml " +
          "--name <name> --label latest` shows the version it names now), or set allowFloatingImageTags: true",
      );
  }
  if (cfg.rollout.mode === "mirror" && cfg.rollout.percent > MAX_MIRROR_PERCENT) {
    r.fail(
      SCHEMA.rollout.percent.key,
      String(cfg.rollout.percent),
      `must be at most ${MAX_MIRROR_PERCENT} with rolloutMode mirror (Azure mirrors at most ${MAX_MIRROR_PERCENT} % of the traffic)`,
    );
  }
  const s = cfg.serving;
  if (s.settings.probeTimeoutSeconds > s.settings.probePeriodSeconds) {
    r.fail(
      "deployment.probeTimeoutSeconds",
      s.settings.probeTimeoutSeconds,
      "must not exceed deployment.probePeriodSeconds",
    );
  }
  // Gunicorn workers are sync processes: more concurrent requests than workers only queue inside the container.
  if (s.settings.maxConcurrentRequestsPerInstance < s.workerCount) {
    r.fail(
      "deployment.maxConcurrentRequestsPerInstance",
      s.settings.maxConcurrentRequestsPerInstance,
      `must be at least workerCount (${s.workerCount}) so every worker can get a request`,
    );
  }
}

/**
 * The training settings with the sweep's defaults that depend on other keys: an unset concurrency runs as many
 * trials at once as the cluster holds, up to DEFAULT_SWEEP_CONCURRENCY (at least one).
 */
function withSweepDefaults<T extends { nodes: number; sweep?: SweepSettings }>(
  training: T,
  gpuMaxNodes: number,
  given: ReadonlySet<"concurrency" | "batchSize">,
): T {
  const sweep = training.sweep;
  if (!sweep || given.has("concurrency")) return training;
  const fits = Math.max(1, Math.min(DEFAULT_SWEEP_CONCURRENCY, Math.floor(gpuMaxNodes / training.nodes)));
  return fits === sweep.concurrency ? training : { ...training, sweep: { ...sweep, concurrency: fits } };
}

/** Reads the whole stack configuration; throws one ConfigError listing every problem. */
export function readStackConfig(
  lookup: ConfigLookup,
  project: string,
  stack: string,
  /** Every config key set for the stack (namespaced); project keys the program does not read are typos. */
  allKeys: readonly string[] = [],
): StackConfig {
  const r = new Reader(lookup, project);
  checkKnownKeys(r, project, allKeys);
  const location = readLocation(r, lookup);
  const groups = Object.fromEntries(
    Object.entries(SCHEMA).map(([name, group]) => [
      name,
      readGroup(r, group as Record<string, Setting<unknown>>),
    ]),
  ) as { [G in keyof Schema]: ValuesOf<Schema[G]> };
  const workspace = {
    ...groups.workspace,
    tags: { ...defaultTags(project, stack), ...groups.workspace.tags },
  };
  const given: Given = {
    key: (key) => lookup(key) !== undefined,
    sweep: groups.training.sweep ? sweepFieldsGiven(groups.training.sweep) : new Set(),
  };
  const training = withSweepDefaults(groups.training, groups.gpu.maxNodes, given.sweep);
  const cfg: StackConfig = { project, stack, location, ...groups, workspace, training };
  checkCombinations(r, cfg, given);
  if (r.problems.length > 0) throw new ConfigError(r.problems);
  return cfg;
}
