/**
 * Guardrail policy pack for the azure-ml-mnist stacks. Run it with
 *   pulumi preview --policy-pack policy            (and optionally --policy-pack-config policy/config.example.json)
 * The checks themselves are pure functions in ./validators (tested in tests/policy without an engine).
 */
import {
  PolicyPack,
  ReportViolation,
  ResourceValidationArgs,
  ResourceValidationPolicy,
} from "@pulumi/policy";
import {
  COMPUTE,
  DEFAULT_ALLOWED_GPU_VM_SIZES,
  DEFAULT_REQUIRED_TAGS,
  GpuSizesConfig,
  MinNodesConfig,
  ONLINE_DEPLOYMENT,
  ONLINE_ENDPOINT,
  STORAGE_ACCOUNT,
  TagsConfig,
  validateComputeMinNodes,
  validateEndpointAuth,
  validateGpuVmSize,
  validateNoPublicBlobAccess,
  validateRequiredTags,
} from "./validators";

function report(messages: string[], reportViolation: ReportViolation): void {
  for (const message of messages) reportViolation(message);
}

const endpointAuth: ResourceValidationPolicy = {
  name: "ml-endpoint-auth-required",
  description: "Azure ML online endpoints keep authentication on (authMode Key, AMLToken or AADToken).",
  enforcementLevel: "mandatory",
  validateResource: (args: ResourceValidationArgs, reportViolation: ReportViolation) => {
    if (args.type !== ONLINE_ENDPOINT) return;
    report(validateEndpointAuth(args.props), reportViolation);
  },
};

const noPublicBlobs: ResourceValidationPolicy = {
  name: "storage-no-public-blob-access",
  description: "Storage accounts set allowBlobPublicAccess: false explicitly.",
  enforcementLevel: "mandatory",
  validateResource: (args, reportViolation) => {
    if (args.type !== STORAGE_ACCOUNT) return;
    report(validateNoPublicBlobAccess(args.props), reportViolation);
  },
};

const computeMinNodes: ResourceValidationPolicy = {
  name: "ml-compute-scale-to-zero",
  description:
    "AmlCompute clusters scale to zero (minNodeCount 0) unless allowNonZeroMinNodes is configured.",
  enforcementLevel: "mandatory",
  configSchema: { properties: { allowNonZeroMinNodes: { type: "boolean", default: false } } },
  validateResource: (args, reportViolation) => {
    if (args.type !== COMPUTE) return;
    report(validateComputeMinNodes(args.props, args.getConfig<MinNodesConfig>()), reportViolation);
  },
};

const requiredTags: ResourceValidationPolicy = {
  name: "azure-required-tags",
  description: "Every taggable azure-native resource carries the stack's tags (default: project, stack).",
  enforcementLevel: "mandatory",
  configSchema: {
    properties: {
      requiredTags: { type: "array", items: { type: "string" }, default: DEFAULT_REQUIRED_TAGS },
      exemptTypes: { type: "array", items: { type: "string" }, default: [] },
    },
  },
  validateResource: (args, reportViolation) => {
    report(
      validateRequiredTags({ type: args.type, props: args.props }, args.getConfig<TagsConfig>()),
      reportViolation,
    );
  },
};

const gpuSizes: ResourceValidationPolicy = {
  name: "ml-gpu-vm-size-allowed",
  description: "GPU VM sizes (compute clusters, online deployments) come from an allowed list.",
  enforcementLevel: "mandatory",
  configSchema: {
    properties: {
      allowedGpuVmSizes: { type: "array", items: { type: "string" }, default: DEFAULT_ALLOWED_GPU_VM_SIZES },
    },
  },
  validateResource: (args, reportViolation) => {
    if (args.type !== COMPUTE && args.type !== ONLINE_DEPLOYMENT) return;
    report(
      validateGpuVmSize({ type: args.type, props: args.props }, args.getConfig<GpuSizesConfig>()),
      reportViolation,
    );
  },
};

/** The policies, exported for inspection; constructing the PolicyPack below starts the analyzer server. */
export const policies: ResourceValidationPolicy[] = [
  endpointAuth,
  noPublicBlobs,
  computeMinNodes,
  requiredTags,
  gpuSizes,
];

new PolicyPack("azure-ml-mnist-guardrails", { policies });
