/**
 * Guardrail policy pack for the azure-ml-mnist stacks. Run it with
 *   pulumi preview --policy-pack policy            (and optionally --policy-pack-config policy/config.example.json)
 * The checks themselves are pure functions in ./validators (tested in tests/policy without an engine).
 *
 * Each policy covers the azure-native type it is about and the `command:local:Command` steps that create that type
 * from a JSON body in their environment (ENDPOINT_SPEC, DEPLOYMENT_SPEC, COMPUTE_SPEC, MODEL_SPEC, ...: see
 * STEP_SPECS); a body not known yet (preview) is skipped.
 */
import {
  PolicyPack,
  ReportViolation,
  ResourceValidationArgs,
  ResourceValidationPolicy,
} from "@pulumi/policy";
import {
  checkRequiredTags,
  checkResource,
  COMPUTE,
  DEFAULT_ALLOWED_GPU_VM_SIZES,
  DEFAULT_REQUIRED_TAGS,
  GpuSizesConfig,
  MinNodesConfig,
  NamedResource,
  ONLINE_DEPLOYMENT,
  ONLINE_ENDPOINT,
  STORAGE_ACCOUNT,
  TagsConfig,
  validateComputeMinNodes,
  validateEndpointAuth,
  validateGpuVmSize,
  validateNoPublicBlobAccess,
} from "./validators";

function report(messages: string[], reportViolation: ReportViolation): void {
  for (const message of messages) reportViolation(message);
}

function resourceOf(args: ResourceValidationArgs): NamedResource {
  return { type: args.type, name: args.name, props: args.props };
}

const endpointAuth: ResourceValidationPolicy = {
  name: "ml-endpoint-auth-required",
  description:
    "Azure ML online endpoints (and ENDPOINT_SPEC steps) keep authentication on (authMode Key, AMLToken or AADToken).",
  enforcementLevel: "mandatory",
  validateResource: (args: ResourceValidationArgs, reportViolation: ReportViolation) => {
    report(
      checkResource(resourceOf(args), [ONLINE_ENDPOINT], (r) => validateEndpointAuth(r.props)),
      reportViolation,
    );
  },
};

const noPublicBlobs: ResourceValidationPolicy = {
  name: "storage-no-public-blob-access",
  description: "Storage accounts set allowBlobPublicAccess: false explicitly.",
  enforcementLevel: "mandatory",
  validateResource: (args, reportViolation) => {
    report(
      checkResource(resourceOf(args), [STORAGE_ACCOUNT], (r) => validateNoPublicBlobAccess(r.props)),
      reportViolation,
    );
  },
};

const computeMinNodes: ResourceValidationPolicy = {
  name: "ml-compute-scale-to-zero",
  description:
    "AmlCompute clusters (and COMPUTE_SPEC steps) scale to zero (minNodeCount 0) unless allowNonZeroMinNodes is configured.",
  enforcementLevel: "mandatory",
  configSchema: { properties: { allowNonZeroMinNodes: { type: "boolean", default: false } } },
  validateResource: (args, reportViolation) => {
    const config = args.getConfig<MinNodesConfig>();
    report(
      checkResource(resourceOf(args), [COMPUTE], (r) => validateComputeMinNodes(r.props, config)),
      reportViolation,
    );
  },
};

const requiredTags: ResourceValidationPolicy = {
  name: "azure-required-tags",
  description:
    "Every taggable azure-native resource, and every resource body a command step sends, carries the stack's tags (default: project, stack).",
  enforcementLevel: "mandatory",
  configSchema: {
    properties: {
      requiredTags: { type: "array", items: { type: "string" }, default: DEFAULT_REQUIRED_TAGS },
      exemptTypes: { type: "array", items: { type: "string" }, default: [] },
    },
  },
  validateResource: (args, reportViolation) => {
    report(checkRequiredTags(resourceOf(args), args.getConfig<TagsConfig>()), reportViolation);
  },
};

const gpuSizes: ResourceValidationPolicy = {
  name: "ml-gpu-vm-size-allowed",
  description:
    "GPU VM sizes (compute clusters, online deployments, and their COMPUTE_SPEC/DEPLOYMENT_SPEC steps) come from an allowed list.",
  enforcementLevel: "mandatory",
  configSchema: {
    properties: {
      allowedGpuVmSizes: { type: "array", items: { type: "string" }, default: DEFAULT_ALLOWED_GPU_VM_SIZES },
    },
  },
  validateResource: (args, reportViolation) => {
    const config = args.getConfig<GpuSizesConfig>();
    report(
      checkResource(resourceOf(args), [COMPUTE, ONLINE_DEPLOYMENT], (r) => validateGpuVmSize(r, config)),
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
