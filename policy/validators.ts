/**
 * Pure validators behind the guardrail policy pack (policy/index.ts). Each takes a resource's inputs
 * (as a policy sees them: plain JSON) and the policy's config, and returns the violation messages (empty = compliant).
 * No Pulumi engine is needed to call them, so tests/policy exercises them directly.
 */
import { ENDPOINT_AUTH_MODES } from "../lib/core/azureRules";

/** A resource as a policy sees it: its type token and its (resolved) input properties. */
export interface ResourceUnderTest {
  type: string;
  props: Record<string, unknown>;
}

export const ONLINE_ENDPOINT = "azure-native:machinelearningservices:OnlineEndpoint";
export const ONLINE_DEPLOYMENT = "azure-native:machinelearningservices:OnlineDeployment";
export const STORAGE_ACCOUNT = "azure-native:storage:StorageAccount";
export const COMPUTE = "azure-native:machinelearningservices:Compute";
export const MODEL_VERSION = "azure-native:machinelearningservices:ModelVersion";
export const JOB = "azure-native:machinelearningservices:Job";
export const ENVIRONMENT_VERSION = "azure-native:machinelearningservices:EnvironmentVersion";
export const CODE_VERSION = "azure-native:machinelearningservices:CodeVersion";
/** pulumi-command's local step: the program declares some Azure ML resources as CLI steps with a JSON spec. */
export const COMMAND = "command:local:Command";

/** Endpoint auth modes that keep an online endpoint authenticated (ARM: Key | AMLToken | AADToken). */
export const ALLOWED_ENDPOINT_AUTH_MODES = ENDPOINT_AUTH_MODES;

export const DEFAULT_REQUIRED_TAGS = ["project", "stack"];

export const DEFAULT_ALLOWED_GPU_VM_SIZES = [
  "Standard_NC4as_T4_v3",
  "Standard_NC8as_T4_v3",
  "Standard_NC6s_v3",
  "Standard_NC24ads_A100_v4",
];

/**
 * azure-native types whose arguments have no `tags` input (proxy/child resources): the tagging policy skips them.
 * tests/policy checks this list against the installed SDK's type definitions, so an entry that has gained `tags`
 * (or a typo) fails a test instead of silently exempting a taggable resource.
 */
export const UNTAGGABLE_TYPES: readonly string[] = [
  "azure-native:authorization:RoleAssignment",
  "azure-native:machinelearningservices:CodeContainer",
  "azure-native:machinelearningservices:CodeVersion",
  "azure-native:machinelearningservices:DataContainer",
  "azure-native:machinelearningservices:DataVersion",
  "azure-native:machinelearningservices:Datastore",
  "azure-native:machinelearningservices:EnvironmentContainer",
  "azure-native:machinelearningservices:EnvironmentVersion",
  // an extension resource with no tags property (Microsoft.Insights diagnosticSettings)
  "azure-native:monitor:DiagnosticSetting",
  "azure-native:machinelearningservices:Job",
  "azure-native:machinelearningservices:ModelContainer",
  "azure-native:machinelearningservices:ModelVersion",
  "azure-native:storage:Blob",
  "azure-native:storage:BlobContainer",
  "azure-native:storage:BlobServiceProperties",
];

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === "object" && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

/** Online endpoints must name an auth mode that requires credentials; a missing or unknown mode is a violation. */
export function validateEndpointAuth(props: Record<string, unknown>): string[] {
  const authMode = asRecord(props.properties)?.authMode;
  if (typeof authMode === "string" && (ALLOWED_ENDPOINT_AUTH_MODES as readonly string[]).includes(authMode)) {
    return [];
  }
  return [
    `online endpoint authMode must be one of ${ALLOWED_ENDPOINT_AUTH_MODES.join(", ")} ` +
      `(got ${authMode === undefined ? "none" : JSON.stringify(authMode)}): an endpoint without auth is public`,
  ];
}

/** Storage accounts must set allowBlobPublicAccess to false explicitly (no reliance on API-version defaults). */
export function validateNoPublicBlobAccess(props: Record<string, unknown>): string[] {
  if (props.allowBlobPublicAccess === false) return [];
  return [
    `storage account must set allowBlobPublicAccess: false explicitly (got ${JSON.stringify(props.allowBlobPublicAccess ?? null)})`,
  ];
}

export interface MinNodesConfig {
  /** When true, AmlCompute clusters may keep nodes warm (minNodeCount > 0). Default false. */
  allowNonZeroMinNodes?: boolean;
}

/** AmlCompute clusters must scale to zero (minNodeCount 0; ARM's default when omitted) unless the config allows. */
export function validateComputeMinNodes(
  props: Record<string, unknown>,
  config: MinNodesConfig = {},
): string[] {
  const compute = asRecord(props.properties);
  if (compute?.computeType !== "AmlCompute") return [];
  const scale = asRecord(asRecord(compute.properties)?.scaleSettings);
  const minNodeCount = scale?.minNodeCount ?? 0;
  if (minNodeCount === 0 || config.allowNonZeroMinNodes === true) return [];
  return [
    `AmlCompute scaleSettings.minNodeCount must be 0 so an idle cluster costs nothing (got ${JSON.stringify(minNodeCount)}); ` +
      `set the policy config allowNonZeroMinNodes: true to allow warm nodes`,
  ];
}

export interface TagsConfig {
  /** Tag keys every taggable resource must carry with a non-empty value. */
  requiredTags?: string[];
  /** Further types to skip, in addition to UNTAGGABLE_TYPES. */
  exemptTypes?: string[];
}

/** True when the tagging policy applies: an azure-native type not known to lack a `tags` input. */
export function isTaggableType(type: string, extraExempt: readonly string[] = []): boolean {
  return type.startsWith("azure-native:") && !UNTAGGABLE_TYPES.includes(type) && !extraExempt.includes(type);
}

/** The required tag keys that `tags` lacks (or carries with an empty value), as a message about `subject`. */
function missingTags(subject: string, tagsValue: unknown, config: TagsConfig): string[] {
  const required = config.requiredTags ?? DEFAULT_REQUIRED_TAGS;
  const tags = asRecord(tagsValue) ?? {};
  const missing = required.filter(
    (key) => typeof tags[key] !== "string" || (tags[key] as string).trim() === "",
  );
  if (missing.length === 0) return [];
  return [`${subject} is missing required tag(s) ${missing.join(", ")} (required: ${required.join(", ")})`];
}

/** Every taggable azure-native resource carries each required tag with a non-empty string value. */
export function validateRequiredTags(resource: ResourceUnderTest, config: TagsConfig = {}): string[] {
  if (!isTaggableType(resource.type, config.exemptTypes ?? [])) return [];
  return missingTags(resource.type, resource.props.tags, config);
}

export interface GpuSizesConfig {
  allowedGpuVmSizes?: string[];
}

/** Azure N-series sizes (NC, ND, NV, NG ...) are the GPU sizes. */
export function isGpuVmSize(size: string): boolean {
  return /^Standard_N/i.test(size);
}

/** The VM size a resource asks for, if any: AmlCompute/ComputeInstance vmSize or an online deployment's instanceType. */
export function vmSizeOf(resource: ResourceUnderTest): string | undefined {
  if (resource.type === COMPUTE) {
    const size = asRecord(asRecord(resource.props.properties)?.properties)?.vmSize;
    return typeof size === "string" ? size : undefined;
  }
  if (resource.type === ONLINE_DEPLOYMENT) {
    const size = asRecord(resource.props.properties)?.instanceType;
    return typeof size === "string" ? size : undefined;
  }
  return undefined;
}

/** GPU sizes must come from the allowed list (case-insensitive); CPU sizes are not constrained. */
export function validateGpuVmSize(resource: ResourceUnderTest, config: GpuSizesConfig = {}): string[] {
  const size = vmSizeOf(resource);
  if (size === undefined || !isGpuVmSize(size)) return [];
  const allowed = config.allowedGpuVmSizes ?? DEFAULT_ALLOWED_GPU_VM_SIZES;
  if (allowed.some((a) => a.toLowerCase() === size.toLowerCase())) return [];
  return [`GPU VM size ${size} is not in the allowed list (${allowed.join(", ")})`];
}

// ---------------------------------------------------------------------------------------------------------------
// Command steps. The program declares the online endpoint, the online deployment, the model version, the GPU
// cluster (and the job, environment and code versions) as `command:local:Command` steps that PUT the resource's ARM
// body, given as JSON in one environment variable of the step. The policies read that body as the azure-native
// resource it stands for, so a step is held to the same guardrails as the resource it creates.

/** A resource as the pack sees it, with its logical name (a step's violations name the step). */
export interface NamedResource extends ResourceUnderTest {
  name: string;
}

/** The body an environment variable carries: the azure-native type it stands for, and how that type takes it. */
export interface StepSpecKind {
  type: string;
  /**
   * The azure-native input that holds the body, for the types whose body is their ARM `properties` (the versions and
   * the job: `ModelVersionArgs.properties`, ...); absent when the body is the resource's inputs as they are.
   */
  wrappedIn?: string;
}

/**
 * The environment variables whose JSON the steps send as an Azure ML resource body (ops/ensure-*.ts, ops/run-job.ts).
 * Each body carries its own `tags` at the top (for the versions and the job: the asset's or job's tags).
 */
export const STEP_SPECS: Readonly<Record<string, StepSpecKind>> = {
  ENDPOINT_SPEC: { type: ONLINE_ENDPOINT },
  DEPLOYMENT_SPEC: { type: ONLINE_DEPLOYMENT },
  COMPUTE_SPEC: { type: COMPUTE },
  MODEL_SPEC: { type: MODEL_VERSION, wrappedIn: "properties" },
  JOB_SPEC: { type: JOB, wrappedIn: "properties" },
  ENVIRONMENT_SPEC: { type: ENVIRONMENT_VERSION, wrappedIn: "properties" },
  ASSET_SPEC: { type: CODE_VERSION, wrappedIn: "properties" },
};

/** One spec of a step, read as the azure-native resource it stands for. */
export interface StepSpec extends ResourceUnderTest {
  step: string;
  envVar: string;
  /** What a violation names: `step <name> (<VAR>)`. */
  subject: string;
  /** The body's own tags. */
  tags: unknown;
  /** Set when the value is known but no JSON object: every policy that covers the type reports it. */
  error?: string;
}

/**
 * The sentinels that stand for a value not known yet (a `pulumi preview` of an input computed from another
 * resource's outputs): @pulumi/policy's proxy.js (unknownStringValue, ...), the same strings as @pulumi/pulumi's rpc.
 */
const UNKNOWN_SENTINELS: ReadonlySet<string> = new Set([
  "04da6b54-80e4-46f7-96ec-b56ff0331ba9",
  "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",
  "3eeb2bf0-c639-47a8-9e75-3b44932eb421",
  "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",
  "030794c1-ac77-496b-92df-f27374a8bd58",
  "e48ece36-62e2-4504-bad9-02848725956a",
  "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",
]);

/** @pulumi/policy's UnknownValueError (thrown by its props proxy when a policy reads an unknown value). */
function isUnknownValueError(e: unknown): boolean {
  return e instanceof Error && "unknownTypeSentinel" in e && "props" in e;
}

/** `record[key]`, or undefined when the value is not known yet (sentinel, or the policy proxy's error). */
function readKnown(record: Record<string, unknown>, key: string): unknown {
  let value: unknown;
  try {
    value = record[key];
  } catch (e) {
    if (isUnknownValueError(e)) return undefined;
    throw e;
  }
  return typeof value === "string" && UNKNOWN_SENTINELS.has(value) ? undefined : value;
}

/**
 * The specs a command step carries in its `environment`, each read as the azure-native resource it stands for.
 * Variables that are absent, not strings or not known yet (preview) are skipped; a known value that is not a JSON
 * object comes back with `error`. Any other resource has none.
 */
export function stepSpecs(resource: NamedResource): StepSpec[] {
  if (resource.type !== COMMAND) return [];
  const environment = asRecord(readKnown(resource.props, "environment"));
  if (environment === undefined) return [];
  const specs: StepSpec[] = [];
  for (const [envVar, kind] of Object.entries(STEP_SPECS)) {
    const raw = readKnown(environment, envVar);
    if (typeof raw !== "string") continue;
    const step = resource.name;
    const subject = `step ${step} (${envVar})`;
    let body: Record<string, unknown> | undefined;
    try {
      body = asRecord(JSON.parse(raw));
    } catch {
      body = undefined;
    }
    if (body === undefined) {
      const error = `${envVar} is not a JSON object, so the guardrails cannot check the ${kind.type} it creates`;
      specs.push({ type: kind.type, props: {}, step, envVar, subject, tags: undefined, error });
      continue;
    }
    const props = kind.wrappedIn === undefined ? body : { [kind.wrappedIn]: body };
    specs.push({ type: kind.type, props, step, envVar, subject, tags: body.tags });
  }
  return specs;
}

/**
 * Runs `check` on the resource when its type is one of `types`, and on each spec of a command step that stands for
 * one of them; a step's violations name the step and the variable.
 */
export function checkResource(
  resource: NamedResource,
  types: readonly string[],
  check: (target: ResourceUnderTest) => string[],
): string[] {
  if (types.includes(resource.type)) return check({ type: resource.type, props: resource.props });
  return stepSpecs(resource)
    .filter((spec) => types.includes(spec.type))
    .flatMap((spec) =>
      (spec.error !== undefined ? [spec.error] : check(spec)).map((m) => `${spec.subject}: ${m}`),
    );
}

/** Required tags on an azure-native resource, and on every spec a command step carries (unless its type is exempt). */
export function checkRequiredTags(resource: NamedResource, config: TagsConfig = {}): string[] {
  if (resource.type !== COMMAND) return validateRequiredTags(resource, config);
  return stepSpecs(resource)
    .filter((spec) => !(config.exemptTypes ?? []).includes(spec.type))
    .flatMap((spec) =>
      spec.error !== undefined
        ? [`${spec.subject}: ${spec.error}`]
        : missingTags(`${spec.subject}: ${spec.type}`, spec.tags, config),
    );
}
