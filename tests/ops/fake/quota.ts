/**
 * Routes of the fake ARM for the quota and registration pre-flight (ops/preflight.ts), answering with the shapes
 * of the specification's examples: ML 2025-12-01 examples/Usage/list.json and examples/VirtualMachineSize/list.json
 * (the rows and sizes of tests/fixtures/arm/), Microsoft.Resources 2025-04-01 examples/GetProvider.json, and the
 * workspace, online endpoint and deployment reads. Registered per test.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { ProviderInfo, UsageRow, VmSizeInfo } from "../../../lib/core/preflightRules";
import type { FakeAzure, FakeReq, FakeRes } from "./fakeAzure";

export const LOCATION = "westeurope";
const ML = "Microsoft.MachineLearningServices";

function fixture<T>(name: string): T[] {
  const file = path.join(__dirname, "..", "..", "fixtures", "arm", name);
  return (JSON.parse(fs.readFileSync(file, "utf8")) as { value: T[] }).value;
}

/** A fresh copy of the usage rows of westeurope (NCASv3_T4 limit 8, DSv2 limit 24 with 8 in use). */
export const usageRows = (): UsageRow[] => fixture<UsageRow>("usages-westeurope.json");
/**
 * The VM sizes of westeurope. DS2_v2 and DS3_v2 carry the spec example's estimatedVMPrices (USD per OneHour; Linux
 * Standard 0.15 and 0.29, LowPriority 0.03 and 0.06); Standard_NC4as_T4_v3 carries none (the example lists no GPU
 * size): a size with no price published, unless a test gives it T4_PRICES.
 */
export const vmSizes = (): VmSizeInfo[] => fixture<VmSizeInfo>("vmsizes-westeurope.json");

// azure-rest-api-specs ML stable/2025-12-01 definitions EstimatedVMPrices (shape of examples/VirtualMachineSize/list.json)
/** Prices for Standard_NC4as_T4_v3 in the example's shape; the figures are the tests' own (the example has no T4). */
export const T4_PRICES: NonNullable<VmSizeInfo["estimatedVMPrices"]> = {
  billingCurrency: "USD",
  unitOfMeasure: "OneHour",
  values: [
    { retailPrice: 0.71, osType: "Windows", vmTier: "Standard" },
    { retailPrice: 0.105, osType: "Linux", vmTier: "LowPriority" },
    { retailPrice: 0.526, osType: "Linux", vmTier: "Standard" },
    { retailPrice: 0.052, osType: "Linux", vmTier: "Spot" },
  ],
};

/** The sizes with `name`'s estimatedVMPrices replaced (`undefined`: removed, no price published). */
export function withPrices(
  sizes: VmSizeInfo[],
  name: string,
  prices: VmSizeInfo["estimatedVMPrices"],
): VmSizeInfo[] {
  return sizes.map((s) => {
    if (s.name !== name) return s;
    const { estimatedVMPrices: _old, ...rest } = s;
    return prices ? { ...rest, estimatedVMPrices: prices } : rest;
  });
}
/**
 * The rows as a subscription with workspaces lists them: before each family row, this workspace's and its
 * clusters' rows of the same name (examples/Usage/list.json carries types .../workspaces/usages,
 * .../workspaces/computes/usages and .../workspace/usages). DSv2: limit 12, 8 in use in the subscription (another
 * workspace's deployment), 0 in this workspace; NCASv3_T4: 4 of 8 in use by this workspace's cluster.
 */
export const scopedUsageRows = (): UsageRow[] => fixture<UsageRow>("usages-westeurope-scoped.json");

/** The rows with `change` applied to those whose name starts with `prefix`. */
export function withRow(rows: UsageRow[], prefix: string, change: Partial<UsageRow>): UsageRow[] {
  return rows.map((r) => (r.name.value?.startsWith(prefix) ? { ...r, ...change } : r));
}

const reEscape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const locationPath = (sub: string) => `/subscriptions/${sub}/providers/${ML}/locations/${LOCATION}`;

/** A list answered in pages of `pageSize`, each but the last with a nextLink (`$skipToken` = the offset). */
function paged(fake: FakeAzure, items: unknown[], pageSize: number) {
  return (req: FakeReq): FakeRes => {
    const from = Number(req.query.get("$skipToken") ?? 0);
    const to = from + pageSize;
    const nextLink =
      to < items.length
        ? `${fake.url}${req.path}?api-version=${req.query.get("api-version")}&$skipToken=${to}`
        : undefined;
    return { status: 200, body: { value: items.slice(from, to), ...(nextLink ? { nextLink } : {}) } };
  };
}

/** `GET .../locations/westeurope/usages`, pageable. */
export function installUsages(fake: FakeAzure, sub: string, rows = usageRows(), pageSize = 100): void {
  fake.on("GET", `${locationPath(sub)}/usages`, paged(fake, rows, pageSize));
}

/** `GET .../locations/westeurope/vmSizes` (one page, as the spec defines it). */
export function installVmSizes(fake: FakeAzure, sub: string, sizes = vmSizes()): void {
  fake.on("GET", `${locationPath(sub)}/vmSizes`, { status: 200, body: { value: sizes } });
}

/** `GET /subscriptions/{sub}/providers/{namespace}`: Registered unless `states` says otherwise. */
export function installProviders(fake: FakeAzure, sub: string, states: Record<string, string> = {}): void {
  fake.on("GET", new RegExp(`^/subscriptions/${reEscape(sub)}/providers/[^/]+$`), (req) => {
    const namespace = req.path.split("/").pop()!;
    const body: ProviderInfo & Record<string, unknown> = {
      id: `/subscriptions/${sub}/providers/${namespace}`,
      namespace,
      registrationPolicy: "RegistrationRequired",
      registrationState: states[namespace] ?? "Registered",
      resourceTypes: [
        { resourceType: "workspaces", locations: ["West Europe"], apiVersions: ["2025-12-01"] },
      ],
    };
    return { status: 200, body };
  });
}

export interface FakeWorkspace {
  name: string;
  tags: Record<string, string>;
  /** endpoint name → the names of its deployments */
  endpoints: Record<string, string[]>;
}

const notFound = (code: string, message: string): FakeRes => ({
  status: 404,
  body: { error: { code, message } },
});

/** ARM's answer to an identity whose roles do not grant `action`. */
export function forbidden(action: string): FakeRes {
  const message = `The client 'ci' with object id '0000' does not have authorization to perform action '${action}' or the scope is invalid.`;
  return { status: 403, body: { error: { code: "AuthorizationFailed", message } } };
}

/** The resource group's workspaces, their online endpoints and deployments; `null`: the group does not exist. */
export function installResourceGroup(
  fake: FakeAzure,
  sub: string,
  rg: string,
  workspaces: FakeWorkspace[] | null,
) {
  const rgPath = `/subscriptions/${sub}/resourceGroups/${rg}`;
  const wsPath = `${rgPath}/providers/${ML}/workspaces`;
  if (workspaces === null) {
    fake.on("GET", wsPath, notFound("ResourceGroupNotFound", `Resource group '${rg}' could not be found.`));
    return;
  }
  const arm = (id: string, type: string, extra: object = {}) => ({
    id,
    name: id.split("/").pop(),
    type,
    ...extra,
  });
  fake.on("GET", wsPath, {
    status: 200,
    body: {
      value: workspaces.map((w) =>
        arm(`${wsPath}/${w.name}`, `${ML}/workspaces`, { location: LOCATION, tags: w.tags }),
      ),
    },
  });
  for (const w of workspaces) {
    const epPath = `${wsPath}/${w.name}/onlineEndpoints`;
    const endpoints = Object.keys(w.endpoints).map((e) =>
      arm(`${epPath}/${e}`, `${ML}/workspaces/onlineEndpoints`),
    );
    fake.on("GET", epPath, { status: 200, body: { value: endpoints } });
    const depRe = new RegExp(`^${reEscape(epPath)}/([^/]+)/deployments/([^/]+)$`, "i");
    fake.on("GET", depRe, (req) => {
      const [, ep, dep] = depRe.exec(req.path)!;
      if (!w.endpoints[ep]?.includes(dep)) return notFound("ResourceNotFound", `deployment ${dep} not found`);
      return {
        status: 200,
        body: arm(req.path, `${ML}/workspaces/onlineEndpoints/deployments`, {
          sku: { name: "Default", capacity: 1 },
          properties: {
            endpointComputeType: "Managed",
            instanceType: "Standard_DS3_v2",
            provisioningState: "Succeeded",
          },
        }),
      };
    });
  }
}
