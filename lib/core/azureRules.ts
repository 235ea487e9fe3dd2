// Azure's own rules that the stack config (lib/config) and the CLIs (ops/) both check, each defined once here;
// tests/house.test.ts fails when one of these is written again elsewhere.

/** A VM size as Azure ML computes and online deployments take it (ARM: `vmSize`, `instanceType`). */
export const VM_SIZE = /^Standard_[A-Za-z0-9_]+$/;
/** A GPU VM size: the NC, ND and NV families (Learn: sizes-gpu). */
export const GPU_VM_SIZE = /^Standard_N[CDV][A-Za-z0-9_]+$/;
/** A region's programmatic name, as `az account list-locations` prints it (westeurope, eastus2). */
export const LOCATION = /^[a-z][a-z0-9]{2,39}$/;

/** An online endpoint's auth modes (REST 2025-12-01 EndpointAuthMode: AMLToken | Key | AADToken). */
export const ENDPOINT_AUTH_MODES = ["Key", "AMLToken", "AADToken"] as const;
export type EndpointAuthMode = (typeof ENDPOINT_AUTH_MODES)[number];
/**
 * Other spellings of the auth modes, lower-cased: the CLI's YAML writes `auth_mode: key | aml_token | aad_token`
 * (Learn: reference-yaml-endpoint-online); the ARM values themselves are matched in any case.
 */
export const ENDPOINT_AUTH_MODE_ALIASES: Readonly<Record<string, EndpointAuthMode>> = {
  key: "Key",
  aml_token: "AMLToken",
  amltoken: "AMLToken",
  aad_token: "AADToken",
  aadtoken: "AADToken",
};
/** The ARM auth mode a spelling names (`key`, `aml_token`, `AMLToken`, `aadtoken`, ...), undefined for none. */
export function endpointAuthModeOf(spelling: string): EndpointAuthMode | undefined {
  return Object.hasOwn(ENDPOINT_AUTH_MODE_ALIASES, spelling.toLowerCase())
    ? ENDPOINT_AUTH_MODE_ALIASES[spelling.toLowerCase()]
    : undefined;
}

/** How a new deployment gets traffic after its smoke test. */
export const ROLLOUT_MODES = ["direct", "canary", "mirror"] as const;
export type RolloutMode = (typeof ROLLOUT_MODES)[number];

/** "Traffic values need to sum to utmost 50": the service's cap on mirrorTraffic (Learn: how-to-safely-rollout). */
export const MAX_MIRROR_PERCENT = 50;

/** An Azure ML registry's name: 3-32 characters, alphanumeric first (the 2025-12-01 spec allows 3-33, Learn 2-32). */
export const REGISTRY_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_-]{2,31}$/;
/** An Azure ML registry's ARM id. */
export const REGISTRY_ID = new RegExp(
  String.raw`^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.MachineLearningServices/registries/` +
    REGISTRY_NAME.source.slice(1),
  "i",
);

/** A subscription, tenant or client id. */
export const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** The ARM id of a storage account. */
export const STORAGE_ACCOUNT_ID =
  /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.Storage\/storageAccounts\/[^/]+$/i;
/**
 * Blob endpoint suffixes of the Azure clouds: public, US Government, China (Learn: storage-account-overview
 * "Standard endpoints" and the sovereign-cloud endpoint tables): the only blob hosts a storage credential goes to.
 */
export const STORAGE_SUFFIXES: readonly string[] = [
  "core.windows.net",
  "core.usgovcloudapi.net",
  "core.chinacloudapi.cn",
];
