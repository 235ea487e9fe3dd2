/**
 * Pure validators behind the guardrail policy pack (policy/index.ts). Each takes a resource's inputs
 * (as a policy sees them: plain JSON) and the policy's config, and returns the violation messages (empty = compliant).
 * No Pulumi engine is needed to call them, so tests/policy exercises them directly.
 */

/** A resource as a policy sees it: its type token and its (resolved) input properties. */
export interface ResourceUnderTest {
  type: string;
  props: Record<string, unknown>;
}

export const ONLINE_ENDPOINT = "azure-native:machinelearningservices:OnlineEndpoint";
export const ONLINE_DEPLOYMENT = "azure-native:machinelearningservices:OnlineDeployment";
export const STORAGE_ACCOUNT = "azure-native:storage:StorageAccount";
export const COMPUTE = "azure-native:machinelearningservices:Compute";

/** Endpoint auth modes that keep an online endpoint authenticated (ARM: Key | AMLToken | AADToken). */
export const ALLOWED_ENDPOINT_AUTH_MODES = ["Key", "AMLToken", "AADToken"] as const;

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

/** Every taggable azure-native resource carries each required tag with a non-empty string value. */
export function validateRequiredTags(resource: ResourceUnderTest, config: TagsConfig = {}): string[] {
  if (!isTaggableType(resource.type, config.exemptTypes ?? [])) return [];
  const required = config.requiredTags ?? DEFAULT_REQUIRED_TAGS;
  const tags = asRecord(resource.props.tags) ?? {};
  const missing = required.filter(
    (key) => typeof tags[key] !== "string" || (tags[key] as string).trim() === "",
  );
  if (missing.length === 0) return [];
  return [
    `${resource.type} is missing required tag(s) ${missing.join(", ")} (required: ${required.join(", ")})`,
  ];
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
