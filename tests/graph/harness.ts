// Runs the real index.ts under Pulumi mocks (pulumi.runtime.setMocks: no CLI, no cloud) and records every registration with the
// options the mocks themselves never see (dependsOn, parent, ignoreChanges, retainOnDelete, ...).
import type * as fsTypes from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { parse } from "yaml";
import { StepFault, SubscriptionModel } from "./azureModel";
import { flagOf } from "../../lib/program/steps";
import * as mlEnums from "@pulumi/azure-native/types/enums/machinelearningservices";
import * as storageEnums from "@pulumi/azure-native/types/enums/storage";
import * as keyvaultEnums from "@pulumi/azure-native/types/enums/keyvault";
import * as registryEnums from "@pulumi/azure-native/types/enums/containerregistry";
import * as insightsEnums from "@pulumi/azure-native/types/enums/applicationinsights";
import * as logsEnums from "@pulumi/azure-native/types/enums/operationalinsights";
import * as monitorEnums from "@pulumi/azure-native/types/enums/monitor";

// The real module object (an ES import gives a copy whose properties cannot be spied on).
const fs = jest.requireActual<typeof fsTypes>("fs");

export const ROOT = path.resolve(__dirname, "..", "..");
export const PROJECT = "azure-ml-mnist";
export const STACK = "dev";
export const LOCATION = "westeurope";
export const SUBSCRIPTION = "00000000-0000-0000-0000-000000000000";
export const WORKSPACE_GUID = "11111111-2222-3333-4444-555555555555";
export const MOCK_KEY = "mock-primary-key-d0n0tl3ak";
export const MOCK_TOKEN = "mock-aml-token-d0n0tl3ak";
export const SUFFIX = "x7k2p9";
export const TEST_ACCURACY = 0.9912;

export interface Registration {
  type: string;
  name: string;
  urn: string;
  parent: string;
  custom: boolean;
  dependencies: string[];
  propertyDependencies: Record<string, string[]>;
  ignoreChanges: string[];
  retainOnDelete: boolean;
  deleteBeforeReplace: boolean;
  additionalSecretOutputs: string[];
  /** URNs this resource answers to besides its own (its aliases, resolved). */
  aliases: string[];
  customTimeouts?: { create: string; update: string; delete: string };
  /** Inputs as sent to the engine (secrets still wrapped: see isRpcSecret). */
  object: Record<string, unknown>;
}

export interface Harness {
  registrations: Registration[];
  calls: string[];
  /** Steps that failed in this run (their error), and those that never ran because something they need failed. */
  failed: Array<{ name: string; error: string }>;
  skipped: string[];
  /** The subscription the mocks answer for (kept across runs unless `installMocks` is called again). */
  model: SubscriptionModel;
  reset(): void;
  /**
   * Ends one simulated `pulumi up` in the model: options the mocks cannot see, deletes of what went away (none
   * when a step failed: the engine runs deletes only after every step). Returns whether the `up` succeeded.
   */
  endRun(): boolean;
  /** Waits until no registration is pending. */
  settle(): Promise<void>;
}

/** Physical name input of each resource type (everything else is autonamed, like the Job). */
const NAME_INPUT: Record<string, string> = {
  "azure-native:resources:ResourceGroup": "resourceGroupName",
  "azure-native:operationalinsights:Workspace": "workspaceName",
  "azure-native:applicationinsights:Component": "resourceName",
  "azure-native:storage:StorageAccount": "accountName",
  "azure-native:keyvault:Vault": "vaultName",
  "azure-native:containerregistry:Registry": "registryName",
  "azure-native:machinelearningservices:Workspace": "workspaceName",
  "azure-native:machinelearningservices:Compute": "computeName",
  "azure-native:machinelearningservices:OnlineEndpoint": "endpointName",
  "azure-native:machinelearningservices:OnlineDeployment": "deploymentName",
  "azure-native:storage:Blob": "blobName",
};

function armId(type: string, inputs: Record<string, string>, name: string): string {
  const rg = `/subscriptions/${SUBSCRIPTION}/resourceGroups/${inputs.resourceGroupName ?? name}`;
  const ws = `${rg}/providers/Microsoft.MachineLearningServices/workspaces/${inputs.workspaceName}`;
  switch (type.split(":").slice(1).join(":")) {
    case "resources:ResourceGroup":
      return rg;
    case "storage:StorageAccount":
      return `${rg}/providers/Microsoft.Storage/storageAccounts/${name}`;
    case "machinelearningservices:Workspace":
      return `${rg}/providers/Microsoft.MachineLearningServices/workspaces/${name}`;
    case "machinelearningservices:Compute":
      return `${ws}/computes/${name}`;
    case "machinelearningservices:Job":
      return `${ws}/jobs/${name}`;
    case "machinelearningservices:CodeVersion":
      return `${ws}/codes/${inputs.name}/versions/${inputs.version}`;
    case "machinelearningservices:EnvironmentVersion":
      return `${ws}/environments/${inputs.name}/versions/${inputs.version}`;
    case "machinelearningservices:ModelVersion":
      return `${ws}/models/${inputs.name}/versions/${inputs.version}`;
    case "machinelearningservices:OnlineEndpoint":
      return `${ws}/onlineEndpoints/${name}`;
    case "machinelearningservices:OnlineDeployment":
      return `${ws}/onlineEndpoints/${inputs.endpointName}/deployments/${name}`;
    default:
      return `${rg}/providers/${type}/${name}`;
  }
}

function commandStdout(create: string): string {
  if (create.includes("ops/smoke-test.ts")) {
    const deployment = flagOf(create, "deployment");
    return JSON.stringify({ total: 20, correct: 20, accuracy: 1, latencyMs: 40.1, passed: true, deployment });
  }
  if (create.includes("ops/rollout.ts")) {
    const deployment = flagOf(create, "deployment") ?? "";
    const mode = flagOf(create, "mode");
    return JSON.stringify({
      endpoint: "mnist",
      deployment,
      mode,
      traffic: { [deployment]: 100 },
      rolledBack: false,
    });
  }
  if (create.includes("ops/invoke.ts")) {
    return JSON.stringify({ total: 20, correct: 20, accuracy: 1, latencyMs: 42.5, passed: true });
  }
  return "";
}

/** The subscription the mocks answer for: fresh per installMocks, kept across runs by sequence tests. */
let model = new SubscriptionModel();
export function subscriptionModel(): SubscriptionModel {
  return model;
}

/**
 * Inputs azure-native types `string | <enum>`: tsc takes any string there ("Disable" for "Disabled"), Azure does not.
 * Per resource type the program declares, and per spec its steps carry as JSON in their environment (the
 * step's env var → the resource type it is the body of): property path (`*` = every item or value) → the enum object
 * of @pulumi/azure-native/types/enums/<namespace>, which lists what the API version accepts.
 */
type EnumObject = Record<string, string>;
const ENUM_INPUTS: Record<string, Record<string, EnumObject>> = {
  "azure-native:machinelearningservices:Compute": {
    "identity.type": mlEnums.ManagedServiceIdentityType,
    "properties.computeType": mlEnums.ComputeType,
    "properties.properties.vmPriority": mlEnums.VmPriority,
    "properties.properties.osType": mlEnums.OsType,
    "properties.properties.remoteLoginPortPublicAccess": mlEnums.RemoteLoginPortPublicAccess,
  },
  "azure-native:machinelearningservices:Workspace": {
    "identity.type": mlEnums.ManagedServiceIdentityType,
    publicNetworkAccess: mlEnums.PublicNetworkAccessType,
    systemDatastoresAuthMode: mlEnums.SystemDatastoresAuthMode,
    "managedNetwork.isolationMode": mlEnums.IsolationMode,
    "managedNetwork.outboundRules.*.type": mlEnums.RuleType,
    "managedNetwork.outboundRules.*.category": mlEnums.RuleCategory,
  },
  "azure-native:machinelearningservices:OnlineEndpoint": {
    "identity.type": mlEnums.ManagedServiceIdentityType,
    "properties.authMode": mlEnums.EndpointAuthMode,
    "properties.publicNetworkAccess": mlEnums.PublicNetworkAccessType,
  },
  "azure-native:machinelearningservices:OnlineDeployment": {
    "properties.endpointComputeType": mlEnums.EndpointComputeType,
    "properties.egressPublicNetworkAccess": mlEnums.EgressPublicNetworkAccessType,
    "properties.scaleSettings.scaleType": mlEnums.ScaleType,
    "sku.tier": mlEnums.SkuTier,
  },
  "azure-native:machinelearningservices:Job": {
    "properties.jobType": mlEnums.JobType,
    "properties.objective.goal": mlEnums.Goal,
    "properties.samplingAlgorithm.samplingAlgorithmType": mlEnums.SamplingAlgorithmType,
    "properties.earlyTermination.policyType": mlEnums.EarlyTerminationPolicyType,
    "properties.inputs.*.jobInputType": mlEnums.JobInputType,
    "properties.outputs.*.jobOutputType": mlEnums.JobOutputType,
    "properties.outputs.*.mode": mlEnums.OutputDeliveryMode,
  },
  "azure-native:storage:StorageAccount": {
    kind: storageEnums.Kind,
    "sku.name": storageEnums.SkuName,
    minimumTlsVersion: storageEnums.MinimumTlsVersion,
    accessTier: storageEnums.AccessTier,
    publicNetworkAccess: storageEnums.PublicNetworkAccess,
  },
  "azure-native:keyvault:Vault": {
    "properties.sku.family": keyvaultEnums.SkuFamily,
    "properties.sku.name": keyvaultEnums.SkuName,
  },
  "azure-native:containerregistry:Registry": { "sku.name": registryEnums.SkuName },
  "azure-native:applicationinsights:Component": {
    applicationType: insightsEnums.ApplicationType,
    ingestionMode: insightsEnums.IngestionMode,
  },
  "azure-native:operationalinsights:Workspace": { "sku.name": logsEnums.WorkspaceSkuNameEnum },
  "azure-native:monitor:AutoscaleSetting": {
    "profiles.*.rules.*.metricTrigger.statistic": monitorEnums.MetricStatisticType,
    "profiles.*.rules.*.metricTrigger.timeAggregation": monitorEnums.TimeAggregationType,
    "profiles.*.rules.*.metricTrigger.operator": monitorEnums.ComparisonOperationType,
    "profiles.*.rules.*.scaleAction.direction": monitorEnums.ScaleDirection,
    "profiles.*.rules.*.scaleAction.type": monitorEnums.ScaleType,
  },
};

/** The steps' JSON specs: env var → the azure-native type whose body it is (its `properties` and envelope). */
const STEP_SPECS: Record<string, string> = {
  COMPUTE_SPEC: "azure-native:machinelearningservices:Compute",
  ENDPOINT_SPEC: "azure-native:machinelearningservices:OnlineEndpoint",
  DEPLOYMENT_SPEC: "azure-native:machinelearningservices:OnlineDeployment",
};

/** Every value at `path` in `obj` (`*`: each array item or object value). */
function valuesAt(obj: unknown, path: string[]): unknown[] {
  if (path.length === 0) return [obj];
  if (obj === null || typeof obj !== "object") return [];
  const [head, ...rest] = path;
  const o = obj as Record<string, unknown>;
  const next = head === "*" ? Object.values(o) : [o[head]];
  return next.flatMap((v) => valuesAt(v, rest));
}

/** What is not one of its enum's values in `inputs` of a resource of `type` (unknowns and absent ones pass). */
export function enumViolations(type: string, inputs: unknown): string[] {
  const table = ENUM_INPUTS[type] ?? {};
  const out: string[] = [];
  for (const [p, enumObject] of Object.entries(table)) {
    const allowed = Object.values(enumObject);
    for (const v of valuesAt(inputs, p.split("."))) {
      if (typeof v === "string" && v !== pulumi.runtime.unknownValue && !allowed.includes(v))
        out.push(`${type} ${p}: '${v}' is not one of ${allowed.join(", ")}`);
    }
  }
  return out;
}

/** The enum violations of one registration: its own inputs, and the specs a step carries (STEP_SPECS). */
function inputViolations(args: pulumi.runtime.MockResourceArgs): string[] {
  if (args.type !== "command:local:Command") return enumViolations(args.type, args.inputs);
  const env = (args.inputs.environment ?? {}) as Record<string, unknown>;
  const JOB = "azure-native:machinelearningservices:Job";
  const out: string[] = [];
  for (const [name, type] of [...Object.entries(STEP_SPECS), ["JOB_SPEC", JOB]]) {
    const raw = env[name];
    if (typeof raw !== "string" || raw === pulumi.runtime.unknownValue) continue;
    // JOB_SPEC is a job's `properties`; the others are whole bodies
    const spec = JSON.parse(raw) as unknown;
    out.push(
      ...enumViolations(type, name === "JOB_SPEC" ? { properties: spec } : spec).map(
        (m) => `${args.name} ${name}: ${m}`,
      ),
    );
  }
  return out;
}

/** Enum violations and capture failures seen by the mocks since the last settle(), which throws them. */
const harnessErrors: string[] = [];

const CHILD_OF_WORKSPACE = /^azure-native:machinelearningservices:(Compute|Job|\w+Version|Online\w+)$/;

export function newResource(args: pulumi.runtime.MockResourceArgs): {
  id: string;
  state: Record<string, unknown>;
} {
  const inputs = args.inputs as Record<string, string>;
  const state: Record<string, unknown> = { ...args.inputs };
  // an input Azure would refuse fails the test (settle() throws it), as the deployment would
  harnessErrors.push(...inputViolations(args));
  if (args.type === "random:index/randomString:RandomString") {
    // The program's one workspace gets SUFFIX the first time; any other (or a re-created one) a suffix of its own.
    const result = model.random(
      `${args.type}::${args.name}`,
      args.name === "ml-name-suffix" ? SUFFIX : undefined,
    );
    return { id: result, state: { ...state, result } };
  }
  if (args.type === "command:local:Command") {
    // A first `pulumi preview` runs no command: every step's stdout is unknown (pulumi-command Create: "In preview
    // the command is not run"), and what depends on it gets unknown inputs.
    if (pulumi.runtime.isDryRun()) {
      return {
        id: "",
        state: { ...state, stdout: pulumi.runtime.unknownValue, stderr: pulumi.runtime.unknownValue },
      };
    }
    const stdout = model.command(
      args.name,
      args.inputs as Record<string, unknown>,
      (create, inputs) => model.runCli(create, inputs) ?? commandStdout(create),
    );
    return { id: `${args.name}-cmd`, state: { ...state, stdout, stderr: "" } };
  }
  const nameInput = NAME_INPUT[args.type];
  const physical =
    nameInput && inputs[nameInput]
      ? inputs[nameInput]
      : args.type.endsWith("Version")
        ? inputs.version
        : model.autoName(args.name, CHILD_OF_WORKSPACE.test(args.type), args.type, args.inputs);
  state.name = physical;
  const id = armId(args.type, inputs, physical);
  model.resource(args.type, args.name, id, args.inputs);
  if (args.type === "azure-native:machinelearningservices:Workspace") {
    state.workspaceId = WORKSPACE_GUID;
  }
  if (args.type === "azure-native:machinelearningservices:OnlineEndpoint") {
    const props = (args.inputs.properties ?? {}) as Record<string, unknown>;
    state.properties = {
      ...props,
      scoringUri: `https://${physical}.${LOCATION}.inference.ml.azure.com/score`,
      swaggerUri: `https://${physical}.${LOCATION}.inference.ml.azure.com/swagger.json`,
      provisioningState: "Succeeded",
    };
  }
  return { id, state };
}

/** Invokes: anything not listed throws, so a new invoke gets noticed. */
export function makeCall(calls: string[]) {
  return (args: pulumi.runtime.MockCallArgs): Record<string, unknown> => {
    calls.push(args.token);
    switch (args.token) {
      case "azure-native:authorization:getClientConfig":
        return {
          subscriptionId: SUBSCRIPTION,
          tenantId: "tenant-guid",
          clientId: "client-guid",
          objectId: "obj",
        };
      case "azure-native:machinelearningservices:listOnlineEndpointKeys":
        return { primaryKey: MOCK_KEY, secondaryKey: `${MOCK_KEY}-2` };
      case "azure-native:machinelearningservices:getOnlineEndpointToken":
        return { accessToken: MOCK_TOKEN, expiryTimeUtc: 0, tokenType: "Bearer" };
      default:
        throw new Error(`unmocked invoke ${args.token}`);
    }
  };
}

/**
 * Config of the dev stack as the CLI would hand it over: Pulumi.dev.yaml values as strings, objects as JSON. The
 * quota pre-flight is off unless a test turns it on: it reads Azure (tests/graph/preflight-program.test.ts runs it
 * against the fake ARM).
 */
export function devStackConfig(overrides: Record<string, string | undefined> = {}): Record<string, string> {
  const file = parse(fs.readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8")) as {
    config: Record<string, unknown>;
  };
  const config: Record<string, string> = { [`${PROJECT}:preflightChecks`]: "false" };
  for (const [k, v] of Object.entries(file.config)) {
    config[k] = typeof v === "string" ? v : JSON.stringify(v);
  }
  for (const [k, v] of Object.entries(overrides)) {
    const key = k.includes(":") ? k : `${PROJECT}:${k}`;
    if (v === undefined) delete config[key];
    else config[key] = v;
  }
  return config;
}

function structToJs(s: unknown): Record<string, unknown> {
  const st = s as { toJavaScript?: () => Record<string, unknown> } | undefined;
  return st?.toJavaScript ? st.toJavaScript() : {};
}

type AliasMessage = {
  getUrn(): string;
  getSpec():
    | {
        getName(): string;
        getType(): string;
        getParenturn(): string;
        getNoparent(): boolean;
      }
    | undefined;
};

/** A resource's URN from its parent's URN (undefined or the stack: top level), its type and its name. */
export function urnOf(parentUrn: string | undefined, type: string, name: string): string {
  const prefix = `urn:pulumi:${STACK}::${PROJECT}::`;
  const parentType = parentUrn?.split("::")[2];
  const qualified = parentType && parentType !== "pulumi:pulumi:Stack" ? `${parentType}$${type}` : type;
  return `${prefix}${qualified}::${name}`;
}

function resolveAlias(alias: AliasMessage, type: string, name: string, parent: string): string {
  const spec = alias.getSpec();
  if (!spec) return alias.getUrn();
  const parentUrn = spec.getNoparent() ? undefined : spec.getParenturn() || parent;
  return urnOf(parentUrn, spec.getType() || type, spec.getName() || name);
}

type Req = {
  getType(): string;
  getName(): string;
  getParent(): string;
  getCustom(): boolean;
  getDependenciesList(): string[];
  getPropertydependenciesMap(): {
    forEach(cb: (v: { getUrnsList(): string[] }, k: string) => void): void;
  };
  getIgnorechangesList(): string[];
  getRetainondelete(): boolean;
  getDeletebeforereplace(): boolean;
  getAdditionalsecretoutputsList(): string[];
  getAliasesList(): AliasMessage[];
  getAliasurnsList(): string[];
  getCustomtimeouts(): { getCreate(): string; getUpdate(): string; getDelete(): string } | undefined;
  getObject(): unknown;
};

export const CONDA_PATH = path.join(ROOT, "scoring", "environment.yml");
const CONDA_STAND_IN =
  "name: mnist-inference\nchannels: [conda-forge]\ndependencies:\n  - python=3.11\n  - pip\n";

/**
 * The graph reads scoring/environment.yml (written by the Python side). Until it exists, tests get a stand-in
 * for that one path so the rest of the graph can be checked; the program itself always reads the real file.
 */
export function useCondaStandInIfMissing(): void {
  if (fs.existsSync(CONDA_PATH)) return;
  const exists = fs.existsSync;
  const read = fs.readFileSync;
  jest.spyOn(fs, "existsSync").mockImplementation((p) => (p === CONDA_PATH ? true : exists(p)));
  jest
    .spyOn(fs, "readFileSync")
    .mockImplementation(((p: fsTypes.PathOrFileDescriptor, o?: unknown) =>
      p === CONDA_PATH ? CONDA_STAND_IN : read(p, o as BufferEncoding)) as typeof fsTypes.readFileSync);
}

/** setMocks + a wrapped monitor that records each registration. */
export function installMocks(preview = false, keep?: SubscriptionModel): Harness {
  useCondaStandInIfMissing();
  model = keep ?? new SubscriptionModel();
  model.beginRun();
  const calls: string[] = [];
  pulumi.runtime.setMocks({ newResource, call: makeCall(calls) }, PROJECT, STACK, preview);
  const registrations: Registration[] = [];
  const failed: Array<{ name: string; error: string }> = [];
  const skipped: string[] = [];
  let pending: Promise<unknown>[] = [];
  // Each registration's completion by URN (true: registered, false: failed or skipped), so that a resource is sent
  // to the mocks only after what it depends on, and never when that failed: the engine's order and its stop.
  let doneByUrn = new Map<string, Promise<boolean>>();
  const monitor = pulumi.runtime.getMonitor() as unknown as {
    registerResource(req: Req, cb: (err: unknown, resp: { getUrn(): string }) => void): Promise<void>;
  };
  const original = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req, cb) => {
    let record: Registration | undefined;
    try {
      const propertyDependencies: Record<string, string[]> = {};
      req.getPropertydependenciesMap().forEach((v, k) => (propertyDependencies[k] = v.getUrnsList()));
      const t = req.getCustomtimeouts();
      record = {
        type: req.getType(),
        name: req.getName(),
        urn: "",
        parent: req.getParent(),
        custom: req.getCustom(),
        dependencies: req.getDependenciesList(),
        propertyDependencies,
        ignoreChanges: req.getIgnorechangesList(),
        retainOnDelete: req.getRetainondelete(),
        deleteBeforeReplace: req.getDeletebeforereplace(),
        additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
        aliases: [
          ...req.getAliasurnsList(),
          ...req.getAliasesList().map((a) => resolveAlias(a, req.getType(), req.getName(), req.getParent())),
        ],
        customTimeouts: t
          ? { create: t.getCreate(), update: t.getUpdate(), delete: t.getDelete() }
          : undefined,
        object: structToJs(req.getObject()),
      };
      registrations.push(record);
    } catch (e) {
      // Never break the registration itself, or every test hangs: the failure is thrown by settle() instead.
      harnessErrors.push(`registration capture failed for ${req.getType()} ${req.getName()}: ${String(e)}`);
    }
    let finish: (ok: boolean) => void = () => undefined;
    const done = new Promise<boolean>((r) => (finish = r));
    doneByUrn.set(urnOf(req.getParent() || undefined, req.getType(), req.getName()), done);
    pending.push(done);
    const deps = req
      .getDependenciesList()
      .map((u) => doneByUrn.get(u))
      .filter((p): p is Promise<boolean> => p !== undefined);
    void Promise.all(deps).then((oks) => {
      if (oks.some((ok) => !ok)) {
        // the engine never starts a step whose dependency failed: its registration is left unanswered
        skipped.push(req.getName());
        finish(false);
        return;
      }
      void original(req, (err, resp) => {
        if (err instanceof StepFault || (err as { message?: string })?.message?.includes("StepFault")) {
          failed.push({ name: req.getName(), error: String((err as Error).message) });
          finish(false);
          return;
        }
        try {
          if (record && resp) record.urn = resp.getUrn();
        } finally {
          finish(!err);
        }
        cb(err, resp);
      });
    });
    return Promise.resolve();
  };
  return {
    registrations,
    calls,
    failed,
    skipped,
    get model() {
      return model;
    },
    reset() {
      registrations.length = 0;
      calls.length = 0;
      failed.length = 0;
      skipped.length = 0;
      pending = [];
      doneByUrn = new Map();
      // A kept model carries the subscription into the next run; otherwise every run meets an empty one.
      if (keep) model.beginRun();
      else model = new SubscriptionModel();
    },
    endRun() {
      const ok = failed.length === 0 && skipped.length === 0;
      model.endRun(
        new Map(registrations.map((r) => [`${r.type}::${r.name}`, { retainOnDelete: r.retainOnDelete }])),
        !ok,
      );
      return ok;
    },
    async settle() {
      // Registrations start from promise callbacks: wait until a round adds nothing new (two quiet rounds, each
      // past the I/O and timer phases, since the SDK resolves some outputs from setImmediate callbacks).
      let quiet = 0;
      for (let round = 0; round < 2000; round++) {
        const count = pending.length;
        await Promise.all(pending);
        await new Promise((r) => setTimeout(r, 0));
        await new Promise((r) => setImmediate(r));
        quiet = pending.length === count ? quiet + 1 : 0;
        if (quiet >= 2) {
          if (harnessErrors.length) throw new Error(harnessErrors.splice(0).join("\n"));
          return;
        }
      }
      throw new Error(`registrations still arriving after 2000 rounds (${pending.length} so far)`);
    },
  };
}

/** Resolves an Output's value (undefined when unknown, as in preview). */
/**
 * Loads index.ts afresh (jest.isolateModules) with Pulumi.dev.yaml plus `overrides` under the harness's mocks, as
 * `pulumi up` would run it; returns what it registered.
 */
export async function runProgram(
  h: Harness,
  overrides: Record<string, string | undefined> = {},
): Promise<Registration[]> {
  await h.settle();
  h.reset();
  pulumi.runtime.setAllConfig(devStackConfig(overrides));
  jest.isolateModules(() => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded after the mocks, so its resources register against them
    require("../../index");
  });
  await h.settle();
  return [...h.registrations];
}

export function valueOf<T>(o: pulumi.Output<T>): Promise<T> {
  return new Promise<T>((resolve) => o.apply(resolve));
}

export function byType(h: Harness, type: string): Registration[] {
  return h.registrations.filter((r) => r.type === type);
}

export function one(h: Harness, type: string, name?: string): Registration {
  const found = h.registrations.filter((r) => r.type === type && (name === undefined || r.name === name));
  if (found.length !== 1) throw new Error(`expected one ${type} ${name ?? ""}, found ${found.length}`);
  return found[0];
}

/** Direct dependency: through dependsOn or through any input's output dependencies. */
export function dependsOn(a: Registration, b: Registration): boolean {
  return (
    a.dependencies.includes(b.urn) || Object.values(a.propertyDependencies).some((u) => u.includes(b.urn))
  );
}

/** Unwraps Pulumi's RPC secret envelopes, recursively. */
export function unwrap(v: unknown): unknown {
  if (pulumi.runtime.isRpcSecret(v)) return unwrap(pulumi.runtime.unwrapRpcSecret(v));
  if (Array.isArray(v)) return v.map(unwrap);
  if (v && typeof v === "object") {
    return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, unwrap(x)]));
  }
  return v;
}
