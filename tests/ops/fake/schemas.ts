/**
 * The PUT bodies the fakes take, checked as Azure ML 2025-12-01 checks them, for the fields the CLIs write: a small
 * hand-written table per resource after the definitions of azure-rest-api-specs
 * specification/machinelearningservices/resource-manager/Microsoft.MachineLearningServices/stable/2025-12-01/mfe.json
 * (each table names its definitions; @pulumi/azure-native 3.x's machinelearningservices input types are generated
 * from the same version and list the same writable properties). What is refused: a required property missing, an
 * enum value the definition does not list, a read-only property sent (provisioningState, status, ...), and a
 * property the definition does not have (the definitions say `"additionalProperties": false`).
 * An error is the service's 400 with an ErrorResponse body (common-types v5).
 */
import type { FakeRes } from "./fakeAzure";

/** What a value must be. */
export type Rule =
  | "any"
  | "string"
  | "number"
  | "integer"
  | "boolean"
  | { enum: readonly string[] }
  | { map: Rule }
  | { array: Rule }
  | ObjectRule
  | { discriminator: string; variants: Record<string, ObjectRule> };

export interface ObjectRule {
  /** the mfe.json definition(s) it follows */
  definition: string;
  props: Record<string, Rule>;
  required?: string[];
  /** read-only: the service refuses them in a PUT */
  readOnly?: string[];
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** Why `value` does not follow `rule` (the path of the first offence), or undefined. */
export function violation(value: unknown, rule: Rule, at = ""): string | undefined {
  const where = at || "body";
  if (value === null || value === undefined) return undefined; // nullable: absence is checked by `required`
  if (rule === "any") return undefined;
  if (rule === "string" || rule === "boolean")
    return typeof value === rule ? undefined : `${where}: expected a ${rule}, got ${JSON.stringify(value)}`;
  if (rule === "number" || rule === "integer") {
    const ok = typeof value === "number" && (rule === "number" || Number.isInteger(value));
    return ok ? undefined : `${where}: expected an ${rule}, got ${JSON.stringify(value)}`;
  }
  if ("enum" in rule) {
    return rule.enum.includes(value as string)
      ? undefined
      : `${where}: '${String(value)}' is not one of ${rule.enum.join(", ")}`;
  }
  if ("map" in rule) {
    if (!isObject(value)) return `${where}: expected an object`;
    for (const [k, v] of Object.entries(value)) {
      const bad = violation(v, rule.map, `${at}.${k}`);
      if (bad) return bad;
    }
    return undefined;
  }
  if ("array" in rule) {
    if (!Array.isArray(value)) return `${where}: expected an array`;
    for (const [i, v] of value.entries()) {
      const bad = violation(v, rule.array, `${at}[${i}]`);
      if (bad) return bad;
    }
    return undefined;
  }
  if ("discriminator" in rule) {
    if (!isObject(value)) return `${where}: expected an object`;
    const kind = value[rule.discriminator];
    const variant = typeof kind === "string" ? rule.variants[kind] : undefined;
    if (!variant) {
      return `${where}.${rule.discriminator}: ${JSON.stringify(kind)} is not one of ${Object.keys(rule.variants).join(", ")}`;
    }
    return violation(value, variant, at);
  }
  if (!isObject(value)) return `${where}: expected an object (${rule.definition})`;
  for (const k of rule.required ?? []) {
    if (value[k] === undefined || value[k] === null)
      return `${at ? `${at}.` : ""}${k} is required (${rule.definition})`;
  }
  for (const [k, v] of Object.entries(value)) {
    const path = at ? `${at}.${k}` : k;
    if (rule.readOnly?.includes(k)) return `${path} is read-only (${rule.definition}): it cannot be set`;
    const sub = rule.props[k];
    if (!sub) return `Could not find member '${k}' on object of type '${rule.definition}'. Path '${path}'.`;
    const bad = violation(v, sub, path);
    if (bad) return bad;
  }
  return undefined;
}

/** The service's answer to a body that breaks its definition. */
// 400 with ErrorResponse (common-types/resource-management/v5 types.json, the `default` response of every ML PUT in mfe.json 2025-12-01); Azure ML's code for a client error is "UserError"
export function invalidBody(message: string): FakeRes {
  return { status: 400, body: { error: { code: "UserError", message } } };
}

/** `refusal(body)`: the 400 a PUT of this body gets, or undefined when the service takes it. */
export function check(rule: Rule, body: unknown): FakeRes | undefined {
  const bad = violation(body, rule);
  return bad ? invalidBody(bad) : undefined;
}

const stringMap: Rule = { map: "string" };

// ResourceBase: description, properties, tags (mfe.json "ResourceBase")
const resourceBase = { description: "string", properties: stringMap, tags: stringMap } as const;
// AssetBase: isAnonymous, isArchived (mfe.json "AssetBase", allOf ResourceBase)
const assetBase = { ...resourceBase, isAnonymous: "boolean", isArchived: "boolean" } as const;

/** The ARM envelope of a proxy resource: `properties` only; id, name, type, systemData are the service's. */
// ProxyResource (common-types v5): id, name, type, systemData all "readOnly": true
function proxyResource(definition: string, properties: Rule): ObjectRule {
  return {
    definition,
    required: ["properties"],
    props: { properties },
    readOnly: ["id", "name", "type", "systemData"],
  };
}

/** mfe.json "CodeVersionResource" / "CodeVersion" (allOf AssetBase): codeUri; provisioningState read-only. */
export const CODE_VERSION: Rule = proxyResource("CodeVersionResource", {
  definition: "CodeVersion",
  props: { ...assetBase, codeUri: "string" },
  readOnly: ["provisioningState"],
});

/**
 * mfe.json "EnvironmentVersionResource" / "EnvironmentVersion": autoRebuild (AutoRebuildSetting), build
 * (BuildContext: contextUri required), condaFile, image, inferenceConfig, osType (OperatingSystemType), stage;
 * environmentType and provisioningState read-only.
 */
export const ENVIRONMENT_VERSION: Rule = proxyResource("EnvironmentVersionResource", {
  definition: "EnvironmentVersion",
  props: {
    ...assetBase,
    autoRebuild: { enum: ["Disabled", "OnBaseImageUpdate"] },
    build: {
      definition: "BuildContext",
      required: ["contextUri"],
      props: { contextUri: "string", dockerfilePath: "string" },
    },
    condaFile: "string",
    image: "string",
    inferenceConfig: "any",
    osType: { enum: ["Linux", "Windows"] },
    stage: "string",
  },
  readOnly: ["environmentType", "provisioningState"],
});

/** mfe.json "ModelVersionResource" / "ModelVersion": datasets, flavors, jobName, modelType, modelUri, stage. */
export const MODEL_VERSION: Rule = proxyResource("ModelVersionResource", {
  definition: "ModelVersion",
  props: {
    ...assetBase,
    datasets: "any",
    flavors: "any",
    jobName: "string",
    modelType: "string",
    modelUri: "string",
    stage: "string",
  },
  readOnly: ["provisioningState"],
});

// JobInput (discriminator jobInputType, JobInputType enum) and JobOutput (jobOutputType, JobOutputType enum); the
// modes: InputDeliveryMode, OutputDeliveryMode
const jobInput: ObjectRule = {
  definition: "JobInput",
  required: ["jobInputType"],
  props: {
    jobInputType: {
      enum: ["literal", "uri_file", "uri_folder", "mltable", "custom_model", "mlflow_model", "triton_model"],
    },
    description: "string",
    value: "string",
    uri: "string",
    mode: {
      enum: ["ReadOnlyMount", "ReadWriteMount", "Download", "Direct", "EvalMount", "EvalDownload"],
    },
  },
};
const jobOutput: ObjectRule = {
  definition: "JobOutput",
  required: ["jobOutputType"],
  props: {
    jobOutputType: {
      enum: ["uri_file", "uri_folder", "mltable", "custom_model", "mlflow_model", "triton_model"],
    },
    description: "string",
    uri: "string",
    assetName: "string",
    assetVersion: "string",
    mode: { enum: ["ReadWriteMount", "Upload", "Direct"] },
  },
};
// JobResourceConfiguration (allOf ResourceConfiguration): instanceCount, instanceType, properties, dockerArgs, shmSize
const jobResources: ObjectRule = {
  definition: "JobResourceConfiguration",
  props: {
    instanceCount: "integer",
    instanceType: "string",
    properties: "any",
    dockerArgs: "string",
    dockerArgsList: { array: "string" },
    shmSize: "string",
  },
};
// IdentityConfiguration (discriminator identityType: AMLToken, Managed, UserIdentity)
const jobIdentity: ObjectRule = {
  definition: "IdentityConfiguration",
  required: ["identityType"],
  props: {
    identityType: { enum: ["AMLToken", "Managed", "UserIdentity"] },
    clientId: "string",
    objectId: "string",
    resourceId: "string",
  },
};
// JobBase (allOf ResourceBase): componentId, computeId, displayName, experimentName, identity, isArchived, jobType,
// notificationSetting, services; status read-only
const jobBase = {
  ...resourceBase,
  componentId: "string",
  computeId: "string",
  displayName: "string",
  experimentName: "string",
  identity: jobIdentity,
  isArchived: "boolean",
  notificationSetting: "any",
  services: "any",
  queueSettings: "any",
  inputs: { map: jobInput },
  outputs: { map: jobOutput },
} as const;
const distribution: Rule = {
  discriminator: "distributionType",
  variants: {
    Mpi: { definition: "Mpi", props: { distributionType: "string", processCountPerInstance: "integer" } },
    PyTorch: {
      definition: "PyTorch",
      props: { distributionType: "string", processCountPerInstance: "integer" },
    },
    TensorFlow: {
      definition: "TensorFlow",
      props: { distributionType: "string", parameterServerCount: "integer", workerCount: "integer" },
    },
  },
};

/** mfe.json "CommandJob" (allOf JobBase): command and environmentId required; parameters and status read-only. */
const COMMAND_JOB: ObjectRule = {
  definition: "CommandJob",
  required: ["jobType", "command", "environmentId"],
  props: {
    ...jobBase,
    jobType: "string",
    autologgerSettings: "any",
    codeId: "string",
    command: "string",
    distribution,
    environmentId: "string",
    environmentVariables: stringMap,
    limits: {
      definition: "CommandJobLimits",
      required: ["jobLimitsType"],
      props: { jobLimitsType: { enum: ["Command"] }, timeout: "string" },
    },
    resources: jobResources,
  },
  readOnly: ["status", "parameters"],
};

/**
 * mfe.json "SweepJob" (allOf JobBase): objective (Objective: goal Goal enum, primaryMetric), samplingAlgorithm
 * (discriminator samplingAlgorithmType: Grid, Random, Bayesian), searchSpace, trial (TrialComponent: command and
 * environmentId required) required; earlyTermination (discriminator policyType: Bandit, MedianStopping,
 * TruncationSelection), limits (SweepJobLimits); status read-only.
 */
const SWEEP_JOB: ObjectRule = {
  definition: "SweepJob",
  required: ["jobType", "objective", "samplingAlgorithm", "searchSpace", "trial"],
  props: {
    ...jobBase,
    jobType: "string",
    earlyTermination: {
      definition: "EarlyTerminationPolicy",
      required: ["policyType"],
      props: {
        policyType: { enum: ["Bandit", "MedianStopping", "TruncationSelection"] },
        delayEvaluation: "integer",
        evaluationInterval: "integer",
        slackAmount: "number",
        slackFactor: "number",
        truncationPercentage: "integer",
      },
    },
    limits: {
      definition: "SweepJobLimits",
      required: ["jobLimitsType"],
      props: {
        jobLimitsType: { enum: ["Sweep"] },
        maxConcurrentTrials: "integer",
        maxTotalTrials: "integer",
        timeout: "string",
        trialTimeout: "string",
      },
    },
    objective: {
      definition: "Objective",
      required: ["goal", "primaryMetric"],
      props: { goal: { enum: ["Minimize", "Maximize"] }, primaryMetric: "string" },
    },
    samplingAlgorithm: {
      definition: "SamplingAlgorithm",
      required: ["samplingAlgorithmType"],
      props: {
        samplingAlgorithmType: { enum: ["Grid", "Random", "Bayesian"] },
        rule: { enum: ["Random", "Sobol"] },
        seed: "integer",
      },
    },
    searchSpace: "any",
    trial: {
      definition: "TrialComponent",
      required: ["command", "environmentId"],
      props: {
        codeId: "string",
        command: "string",
        distribution,
        environmentId: "string",
        environmentVariables: stringMap,
        resources: jobResources,
      },
    },
  },
  readOnly: ["status"],
};

/** mfe.json "JobBaseResource": `properties` is a JobBase, by jobType (JobType enum; this fake runs Command and Sweep). */
export const JOB_BASE: Rule = proxyResource("JobBaseResource", {
  discriminator: "jobType",
  variants: { Command: COMMAND_JOB, Sweep: SWEEP_JOB },
});

/** mfe.json "ManagedServiceIdentity" (common-types v5): type required; principalId, tenantId read-only. */
const identity: ObjectRule = {
  definition: "ManagedServiceIdentity",
  required: ["type"],
  props: {
    type: { enum: ["None", "SystemAssigned", "UserAssigned", "SystemAssigned,UserAssigned"] },
    // UserAssignedIdentity: principalId and clientId are read-only, so a PUT names each identity with {}
    userAssignedIdentities: {
      map: { definition: "UserAssignedIdentity", props: {}, readOnly: ["principalId", "clientId"] },
    },
  },
  readOnly: ["principalId", "tenantId"],
};
/** mfe.json "Sku": name required; tier a SkuTier. */
const sku: ObjectRule = {
  definition: "Sku",
  required: ["name"],
  props: {
    name: "string",
    tier: { enum: ["Free", "Basic", "Standard", "Premium"] },
    size: "string",
    family: "string",
    capacity: "integer",
  },
};
/** A tracked resource's envelope (common-types v5 TrackedResource): location required; tags; and the ML extras. */
function trackedResource(definition: string, properties: Rule): ObjectRule {
  return {
    definition,
    required: ["location", "properties"],
    props: { location: "string", tags: stringMap, identity, kind: "string", sku, properties },
    readOnly: ["id", "name", "type", "systemData"],
  };
}

/**
 * mfe.json "OnlineEndpointTrackedResource" / "OnlineEndpoint" (allOf EndpointPropertiesBase): authMode required
 * (EndpointAuthMode: AMLToken, Key, AADToken); compute, description, keys, mirrorTraffic, properties,
 * publicNetworkAccess (PublicNetworkAccessType), traffic; provisioningState, scoringUri, swaggerUri read-only.
 */
export const ONLINE_ENDPOINT: Rule = trackedResource("OnlineEndpointTrackedResource", {
  definition: "OnlineEndpoint",
  required: ["authMode"],
  props: {
    authMode: { enum: ["AMLToken", "Key", "AADToken"] },
    compute: "string",
    description: "string",
    keys: "any",
    mirrorTraffic: { map: "integer" },
    properties: stringMap,
    publicNetworkAccess: { enum: ["Enabled", "Disabled"] },
    traffic: { map: "integer" },
  },
  readOnly: ["provisioningState", "scoringUri", "swaggerUri"],
});

const probe: ObjectRule = {
  definition: "ProbeSettings",
  props: {
    failureThreshold: "integer",
    initialDelay: "string",
    period: "string",
    successThreshold: "integer",
    timeout: "string",
  },
};

/**
 * mfe.json "OnlineDeploymentTrackedResource" / "ManagedOnlineDeployment" (allOf OnlineDeployment, EndpointDeploymentPropertiesBase):
 * endpointComputeType required (this fake: Managed); codeConfiguration (scoringScript required), environmentId,
 * model, instanceType, probes, requestSettings, scaleSettings (scaleType: Default, TargetUtilization),
 * egressPublicNetworkAccess; provisioningState read-only.
 */
export const ONLINE_DEPLOYMENT: Rule = trackedResource("OnlineDeploymentTrackedResource", {
  definition: "ManagedOnlineDeployment",
  required: ["endpointComputeType"],
  props: {
    description: "string",
    properties: stringMap,
    endpointComputeType: { enum: ["Managed"] },
    appInsightsEnabled: "boolean",
    codeConfiguration: {
      definition: "CodeConfiguration",
      required: ["scoringScript"],
      props: { codeId: "string", scoringScript: "string" },
    },
    dataCollector: "any",
    egressPublicNetworkAccess: { enum: ["Enabled", "Disabled"] },
    environmentId: "string",
    environmentVariables: stringMap,
    instanceType: "string",
    livenessProbe: probe,
    readinessProbe: probe,
    startupProbe: probe,
    model: "string",
    modelMountPath: "string",
    requestSettings: {
      definition: "OnlineRequestSettings",
      props: {
        maxConcurrentRequestsPerInstance: "integer",
        maxQueueWait: "string",
        requestTimeout: "string",
      },
    },
    scaleSettings: {
      definition: "OnlineScaleSettings",
      required: ["scaleType"],
      props: {
        scaleType: { enum: ["Default", "TargetUtilization"] },
        maxInstances: "integer",
        minInstances: "integer",
        pollingInterval: "string",
        targetUtilizationPercentage: "integer",
      },
    },
  },
  readOnly: ["provisioningState"],
});
