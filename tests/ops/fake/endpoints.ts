/**
 * A managed online endpoint for the fake ARM, with state: its traffic and mirror traffic, its deployments, every
 * PUT and DELETE it received, and a scoring route that answers per deployment like scoring/score.py. Shapes: ML
 * 2025-12-01 (OnlineEndpoints Get/CreateOrUpdate/ListKeys, OnlineDeployments List/Get/CreateOrUpdate/Delete/GetLogs
 * examples). Its rules are the service's, each with its source:
 *   - traffic sums to 0 or 100, mirror to at most 50 ("Traffic values need to sum to utmost 50");
 *   - a deployment is live or mirrored, never named in both maps, whatever the value ("A deployment can only be set
 *     to live or mirror traffic, not both", Learn how-to-safely-rollout-online-endpoints; the official client strips
 *     zero entries from both maps before every PUT, azure-ai-ml `_strip_zeroes_from_traffic`), and GET shows no
 *     zero entries;
 *   - a deployment holding traffic cannot be deleted;
 *   - traffic cannot be set when the endpoint is created (Learn reference-yaml-endpoint-online: "you can't set this
 *     field during online endpoint creation");
 *   - a deployment PUT needs location, sku and properties.endpointComputeType (OnlineDeploymentTrackedResource);
 *   - a model that raises reaches the client as 424 (Learn how-to-troubleshoot-online-endpoints: "424 Model error");
 *   - endpoint and deployment PUT bodies follow their 2025-12-01 definitions (schemas.ts), and a PUT of an existing
 *     endpoint, a full replace, carries every writable field its GET shows (a dropped sku, identity or tags would be
 *     lost, a dropped kind or location is a change of an immutable field);
 *   - scoring takes the endpoint's credential: its key (authMode Key), or an Entra token for the ML audience
 *     (AADToken), and score.py's request shape `{"data": [[784 numbers], ...]}` (else 400).
 * Registered per test.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { ML_AUDIENCE, normalizeAudience, type FakeAzure, type FakeReq, type FakeRes } from "./fakeAzure";
import { REPO } from "./runCli";
import { ONLINE_DEPLOYMENT, ONLINE_ENDPOINT, check } from "./schemas";

type Traffic = Record<string, number>;

/** How a deployment answers the sample digits: all right, some wrong, or HTTP 500 (a crashing score.py). */
export type Scoring = "right" | "wrong" | "error";

export const LABELS: number[] = JSON.parse(
  readFileSync(path.join(REPO, "scoring", "sample-labels.json"), "utf8"),
);
const ML = "Microsoft.MachineLearningServices";
const UAI =
  "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/ep-id";
const sum = (t: Traffic) => Object.values(t).reduce((s, v) => s + v, 0);
const badRequest = (message: string): FakeRes => ({
  status: 400,
  body: { error: { code: "BadArgument", message } },
});

export interface FakeEndpointOptions {
  traffic: Traffic;
  /** the endpoint does not exist yet: the first PUT creates it */
  absent?: boolean;
  tags?: Record<string, string>;
  /** the endpoint's identity type (default: system- and user-assigned, with one user-assigned identity) */
  identityType?: string;
  /** deployments whose provisioning ends Failed when they are PUT */
  failProvisioning?: string[];
  /** GETs of a PUT deployment that still show Creating */
  provisioningPolls?: number;
  mirrorTraffic?: Traffic;
  /** deployment → how it scores (default: every deployment named in traffic, "right") */
  deployments?: Record<string, Scoring>;
  /** GETs after a PUT that still show the old state ("Updating"), as the eventually consistent read does */
  lag?: number;
  /** PUTs answered 409 before one is accepted */
  conflicts?: number;
}

export class FakeEndpoint {
  readonly id: string;
  /** the key the scoring route wants as `Authorization: Bearer <key>` (also the CLIs' ENDPOINT_KEY) */
  readonly key = `ep-key-${randomBytes(12).toString("hex")}`;
  traffic: Traffic;
  mirrorTraffic: Traffic;
  readonly deployments: Map<string, { scoring: Scoring; log: string }>;
  /** the bodies of every PUT, accepted or not */
  readonly puts: Array<{ traffic: Traffic; mirrorTraffic?: Traffic; body: Record<string, unknown> }> = [];
  readonly deleted: string[] = [];
  /** the bodies of every deployment PUT, by deployment */
  readonly deploymentPuts: Array<{ name: string; body: Record<string, unknown> }> = [];
  exists: boolean;
  tags: Record<string, string>;
  authMode = "Key";
  sku: Record<string, unknown> = { name: "Default", tier: "Standard", capacity: 1 };
  description = "MNIST digits";
  publicNetworkAccess = "Enabled";
  identityType: string;
  private readonly provisioning = new Map<string, { state: string; pollsLeft: number; failed: boolean }>();
  /** deployment (header) of every scoring call */
  readonly scored: string[] = [];
  private pending?: { traffic: Traffic; mirrorTraffic: Traffic; lagLeft: number };
  private conflictsLeft: number;

  constructor(
    private readonly fake: FakeAzure,
    workspaceId: string,
    readonly name: string,
    private readonly o: FakeEndpointOptions,
  ) {
    this.id = `${workspaceId}/onlineEndpoints/${name}`;
    this.traffic = { ...o.traffic };
    this.mirrorTraffic = { ...(o.mirrorTraffic ?? {}) };
    const deps =
      o.deployments ?? Object.fromEntries(Object.keys(o.traffic).map((d) => [d, "right" as Scoring]));
    this.deployments = new Map(
      Object.entries(deps).map(([d, scoring]) => [d, { scoring, log: logOf(d, scoring) }]),
    );
    this.conflictsLeft = o.conflicts ?? 0;
    this.exists = !o.absent;
    this.tags = { stack: "dev", ...(o.tags ?? {}) };
    this.identityType = o.identityType ?? "SystemAssigned,UserAssigned";
    fake.extraSecrets.push(this.key);
  }

  get scoringUri(): string {
    return `${this.fake.url}/score/${this.name}`;
  }

  /** The traffic of every PUT, in order. */
  get putTraffic(): Traffic[] {
    return this.puts.map((p) => p.traffic);
  }

  /** Every route of the endpoint, its deployments and its scoring URI. */
  install(): this {
    const f = this.fake;
    f.on("GET", this.id, () =>
      this.exists ? { status: 200, body: this.read() } : notFound(`endpoint ${this.name}`),
    );
    f.on("PUT", this.id, (req) => this.put(req));
    f.on("DELETE", this.id, () => this.deleteEndpoint());
    f.on("POST", `${this.id}/listKeys`, () =>
      this.exists
        ? { status: 200, body: { primaryKey: this.key, secondaryKey: `${this.key}-2` } }
        : notFound(`endpoint ${this.name}`),
    );
    // the update operation: InProgress at its first poll, then Succeeded
    let polls = 0;
    f.on("GET", /\/mfeOperationsStatus\/ep-op$/, () => ({
      status: 200,
      body: { status: polls++ % 2 === 0 ? "InProgress" : "Succeeded" },
    }));
    f.on("GET", `${this.id}/deployments`, () => ({
      status: 200,
      body: { value: [...this.deployments.keys()].map((d) => this.deploymentBody(d)) },
    }));
    const one = new RegExp(`^${escape(this.id)}/deployments/([^/]+)$`, "i");
    f.on("GET", one, (req) => this.getDeployment(one.exec(req.path)![1]));
    f.on("PUT", one, (req) => this.putDeployment(one.exec(req.path)![1], req));
    f.on("DELETE", one, (req) => this.deleteDeployment(one.exec(req.path)![1]));
    // per endpoint (`_` is in no endpoint or deployment name): two endpoints in one fake keep their deletions apart
    const deletion = new RegExp(`/mfeOperationResults/del-${escape(this.name)}_([^/]+)$`);
    f.on("GET", deletion, (req) => this.deletionDone(deletion.exec(req.path)![1]));
    const logs = new RegExp(`^${escape(this.id)}/deployments/([^/]+)/getLogs$`, "i");
    f.on("POST", logs, (req) => this.getLogs(logs.exec(req.path)![1], req));
    f.on("POST", `/score/${this.name}`, (req) => this.score(req), { open: true });
    return this;
  }

  /** The endpoint as GET shows it (2025-12-01 shape, trimmed). */
  body(traffic = this.traffic, mirrorTraffic = this.mirrorTraffic, state = "Succeeded") {
    return {
      id: this.id,
      name: this.name,
      type: `${ML}/workspaces/onlineEndpoints`,
      location: "westeurope",
      kind: "Managed",
      // examples/Workspace/OnlineEndpoint/get.json shows a sku beside kind, identity, tags and location
      sku: this.sku,
      tags: this.tags,
      identity: {
        type: this.identityType,
        principalId: "p-1",
        tenantId: "t-1",
        ...(this.identityType.includes("UserAssigned")
          ? { userAssignedIdentities: { [UAI]: { principalId: "p-2", clientId: "c-2" } } }
          : {}),
      },
      properties: {
        authMode: this.authMode,
        description: this.description,
        publicNetworkAccess: this.publicNetworkAccess,
        traffic: nonZero(traffic),
        mirrorTraffic: nonZero(mirrorTraffic),
        provisioningState: state,
        scoringUri: `https://${this.name}.westeurope.inference.ml.azure.com/score`,
        swaggerUri: `https://${this.name}.westeurope.inference.ml.azure.com/swagger.json`,
        properties: { "azureml.onlineendpointid": "x" },
      },
      systemData: { createdAt: "2026-11-26T10:00:00Z" },
    };
  }

  private read() {
    const p = this.pending;
    if (p && p.lagLeft-- > 0) return this.body(this.traffic, this.mirrorTraffic, "Updating");
    if (p) {
      this.traffic = p.traffic;
      this.mirrorTraffic = p.mirrorTraffic;
      this.pending = undefined;
    }
    return this.body();
  }

  /** What the service refuses in a PUT's traffic, or undefined (public for the fake's own rule tests). */
  refusal(traffic: Traffic, mirror: Traffic): string | undefined {
    const unknown = [...Object.keys(traffic), ...Object.keys(mirror)].find((d) => !this.deployments.has(d));
    if (unknown) return `Deployment ${unknown} not found in endpoint ${this.name}`;
    if (sum(traffic) !== 0 && sum(traffic) !== 100) return "Traffic values need to sum to 0 or 100";
    if (sum(mirror) > 50) return "Traffic values need to sum to utmost 50";
    const both = Object.keys(mirror).find((d) => d in traffic);
    if (both) return `Deployment ${both} cannot receive both live and mirror traffic`;
    return undefined;
  }

  /**
   * Why a PUT of an existing endpoint is refused as a full replace: a writable field the GET shows is missing
   * (or, for the immutable kind and location, different), or undefined.
   */
  // ARM RPC: "PUT ... Create or replace": the body is the whole resource (Azure/azure-resource-manager-rpc v1.0/resource-api-reference.md, "PUT Resource"); a field left out is dropped, and kind/location cannot change
  replaceRefusal(body: Record<string, unknown>): string | undefined {
    const live = this.body() as Record<string, unknown> & { properties: Record<string, unknown> };
    const props = (body.properties ?? {}) as Record<string, unknown>;
    for (const k of ["location", "kind", "sku", "identity", "tags"]) {
      if (live[k] !== undefined && body[k] === undefined)
        return `a PUT replaces endpoint ${this.name}: it has ${k}, the body has none`;
    }
    for (const k of ["location", "kind"]) {
      if (body[k] !== live[k]) return `${k} of endpoint ${this.name} cannot change (${String(live[k])})`;
    }
    for (const k of ["authMode", "description", "publicNetworkAccess", "properties"]) {
      if (live.properties[k] !== undefined && props[k] === undefined)
        return `a PUT replaces endpoint ${this.name}: it has properties.${k}, the body has none`;
    }
    return undefined;
  }

  private put(req: FakeReq): FakeRes {
    const raw = JSON.parse(req.body) as Record<string, unknown>;
    const sent = (raw.properties ?? {}) as { traffic?: Traffic; mirrorTraffic?: Traffic };
    this.puts.push({ traffic: sent.traffic ?? {}, mirrorTraffic: sent.mirrorTraffic, body: raw });
    const invalid = check(ONLINE_ENDPOINT, raw);
    if (invalid) return invalid;
    const replaced = this.exists ? this.replaceRefusal(raw) : undefined;
    if (replaced) return badRequest(replaced);
    const body = raw as {
      tags?: Record<string, string>;
      identity?: { type?: string };
      sku?: Record<string, unknown>;
      properties: {
        traffic?: Traffic;
        mirrorTraffic?: Traffic;
        authMode?: string;
        description?: string;
        publicNetworkAccess?: string;
      };
    };
    const traffic = body.properties.traffic ?? {};
    const mirrorTraffic = body.properties.mirrorTraffic ?? {};
    if (!this.exists) {
      if (Object.keys(nonZero(traffic)).length || Object.keys(nonZero(mirrorTraffic)).length)
        return badRequest("Traffic cannot be set when the endpoint is created: it has no deployments yet");
      this.exists = true;
    }
    if (body.tags) this.tags = { ...body.tags };
    if (body.identity?.type) this.identityType = body.identity.type;
    if (body.sku) this.sku = { ...body.sku };
    // a PUT replaces the resource: what it carries is what the endpoint has
    if (body.properties.authMode) this.authMode = body.properties.authMode;
    if (body.properties.description !== undefined) this.description = body.properties.description;
    if (body.properties.publicNetworkAccess) this.publicNetworkAccess = body.properties.publicNetworkAccess;
    if (this.conflictsLeft-- > 0) {
      const message = `Endpoint ${this.name} is in Updating state. Please retry once the operation completes.`;
      return { status: 409, body: { error: { code: "Conflict", message } } };
    }
    const refused = this.refusal(traffic, mirrorTraffic);
    if (refused) return badRequest(refused);
    this.pending = { traffic, mirrorTraffic, lagLeft: this.o.lag ?? 0 };
    const op = `${this.fake.url}/subscriptions/x/providers/${ML}/locations/westeurope/mfeOperationsStatus/ep-op?api-version=2025-12-01`;
    return {
      status: 201,
      headers: { "azure-asyncoperation": op },
      body: this.body(this.traffic, this.mirrorTraffic, "Updating"),
    };
  }

  private deploymentBody(d: string) {
    return {
      id: `${this.id}/deployments/${d}`,
      name: d,
      type: `${ML}/workspaces/onlineEndpoints/deployments`,
      location: "westeurope",
      kind: "Managed",
      sku: { name: "Default", capacity: 1 },
      properties: {
        endpointComputeType: "Managed",
        instanceType: "Standard_DS3_v2",
        provisioningState: this.provisioningState(d),
      },
    };
  }

  /** Creating for `provisioningPolls` reads after a PUT, then Succeeded (or Failed when told to fail). */
  private provisioningState(d: string): string {
    const p = this.provisioning.get(d);
    if (!p) return "Succeeded";
    if (p.pollsLeft-- > 0) return p.state;
    p.state = p.failed ? "Failed" : "Succeeded";
    return p.state;
  }

  private putDeployment(d: string, req: FakeReq): FakeRes {
    if (!this.exists) return notFound(`endpoint ${this.name}`);
    const body = JSON.parse(req.body) as Record<string, unknown> & { properties?: Record<string, unknown> };
    this.deploymentPuts.push({ name: d, body });
    const invalid = check(ONLINE_DEPLOYMENT, body);
    if (invalid) return invalid;
    if (typeof body.location !== "string") return badRequest("location is required");
    if (!body.sku || typeof body.sku !== "object") return badRequest("sku is required");
    if (body.properties?.endpointComputeType !== "Managed")
      return badRequest("properties.endpointComputeType must be Managed");
    if (!this.deployments.has(d)) this.deployments.set(d, { scoring: "right", log: logOf(d, "right") });
    const failed = this.o.failProvisioning?.includes(d) ?? false;
    this.provisioning.set(d, { state: "Creating", pollsLeft: this.o.provisioningPolls ?? 1, failed });
    return { status: 201, body: this.deploymentBody(d) };
  }

  private deleteEndpoint(): FakeRes {
    if (!this.exists) return { status: 204 };
    const loc = `${this.fake.url}/subscriptions/x/providers/${ML}/locations/westeurope/mfeOperationResults/ep-del-${this.name}?api-version=2025-12-01`;
    this.exists = false;
    this.deleted.push(...this.deployments.keys());
    this.deployments.clear();
    this.traffic = {};
    this.mirrorTraffic = {};
    this.fake.on("GET", new URL(loc).pathname, () => ({ status: 200 }));
    return { status: 202, headers: { location: loc } };
  }

  private getDeployment(d: string): FakeRes {
    if (!this.deployments.has(d)) {
      return {
        status: 404,
        body: { error: { code: "ResourceNotFound", message: `deployment ${d} not found` } },
      };
    }
    return { status: 200, body: this.deploymentBody(d) };
  }

  private deleteDeployment(d: string): FakeRes {
    if (!this.deployments.has(d)) return { status: 204 };
    if ((this.traffic[d] ?? 0) > 0 || (this.mirrorTraffic[d] ?? 0) > 0) {
      return badRequest(
        `Deployment ${d} has traffic allocated and cannot be deleted; set its traffic to 0 first`,
      );
    }
    const loc = `${this.fake.url}/subscriptions/x/providers/${ML}/locations/westeurope/mfeOperationResults/del-${this.name}_${d}?api-version=2025-12-01`;
    return { status: 202, headers: { location: loc } };
  }

  /** The deletion's operation: done at its first poll, when the deployment goes. */
  private deletionDone(d: string): FakeRes {
    if (this.deployments.delete(d)) this.deleted.push(d);
    delete this.traffic[d];
    delete this.mirrorTraffic[d];
    return { status: 200 };
  }

  private getLogs(d: string, req: FakeReq): FakeRes {
    const dep = this.deployments.get(d);
    if (!dep)
      return { status: 404, body: { error: { code: "ResourceNotFound", message: `deployment ${d}` } } };
    const ask = JSON.parse(req.body) as { containerType?: string; tail?: number };
    if (ask.containerType !== "InferenceServer")
      return badRequest(`unexpected containerType ${ask.containerType}`);
    const lines = dep.log.split("\n");
    return { status: 200, body: { content: lines.slice(-(ask.tail ?? lines.length)).join("\n") } };
  }

  /** score.py's answer for the deployment in the header (else the one with the most traffic). */
  /** Whether the request carries the endpoint's credential for its auth mode. */
  // Key: "Authorization: Bearer <key>"; AADToken: an Entra token for https://ml.azure.com (Learn: how-to-authenticate-online-endpoint, "Get the Microsoft Entra token for data plane operations": az account get-access-token --resource https://ml.azure.com)
  private authorized(req: FakeReq): boolean {
    const auth = req.headers.authorization;
    if (this.authMode === "AADToken") {
      const token = typeof auth === "string" && auth.startsWith("Bearer ") ? auth.slice(7) : undefined;
      const t = this.fake.issued.find((x) => x.token === token);
      return !!t && t.expiresAt > Date.now() && normalizeAudience(t.aud) === ML_AUDIENCE;
    }
    return auth === `Bearer ${this.key}`;
  }

  private score(req: FakeReq): FakeRes {
    if (!this.authorized(req)) {
      const what = this.authMode === "AADToken" ? "Token" : "Key";
      return { status: 401, body: { message: `${what} based authentication failed` } };
    }
    const malformed = scoringRequestError(req.body);
    if (malformed) return { status: 400, body: { error: malformed } };
    const header = req.headers["azureml-model-deployment"];
    const d =
      typeof header === "string" ? header : Object.entries(this.traffic).sort((a, b) => b[1] - a[1])[0]?.[0];
    const dep = d === undefined ? undefined : this.deployments.get(d);
    if (!dep) return { status: 404, body: { message: `No deployment ${d} in endpoint ${this.name}` } };
    this.scored.push(d!);
    // a scoring script that raises reaches the client as 424 (Learn how-to-troubleshoot-online-endpoints)
    if (dep.scoring === "error")
      return { status: 424, body: { message: "An unexpected error occurred in scoring script." } };
    const predictions = LABELS.map((l, i) => (dep.scoring === "wrong" && i % 2 === 1 ? (l + 1) % 10 : l));
    const probabilities = predictions.map((p) =>
      Array.from({ length: 10 }, (_, k) => (k === p ? 0.91 : 0.01)),
    );
    return { status: 200, body: { predictions, probabilities } };
  }
}

/**
 * What scoring/score.py answers 400 for: a body that is not `{"data": [image, ...]}` with each image 784 numbers
 * (flat, or 28 rows of 28) in [0, 1] (README "Training and scoring"; scoring/score.py run()), or undefined.
 */
export function scoringRequestError(text: string): string | undefined {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return "request body is not JSON";
  }
  const data = (body as { data?: unknown } | null)?.data;
  if (!Array.isArray(data) || data.length === 0) return 'expected {"data": [image, ...]}';
  for (const [i, image] of data.entries()) {
    const flat = Array.isArray(image) && image.every(Array.isArray) ? (image as unknown[][]).flat(2) : image;
    if (!Array.isArray(flat) || flat.length !== 784)
      return `data[${i}]: expected 784 values or 28x28, got ${Array.isArray(flat) ? flat.length : typeof flat}`;
    if (!flat.every((v) => typeof v === "number" && v >= 0 && v <= 1))
      return `data[${i}]: values must be numbers in [0, 1]`;
  }
  return undefined;
}

function nonZero(t: Traffic): Traffic {
  return Object.fromEntries(Object.entries(t).filter(([, v]) => v !== 0));
}

function notFound(what: string): FakeRes {
  return { status: 404, body: { error: { code: "ResourceNotFound", message: `${what} not found` } } };
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** An inference-server console log, with a traceback for a crashing deployment. */
function logOf(d: string, scoring: Scoring): string {
  const lines = Array.from(
    { length: 80 },
    (_, i) => `2026-11-26 10:00:${String(i % 60).padStart(2, "0")} INFO ${d} line ${i}`,
  );
  if (scoring === "error") {
    lines.push("Traceback (most recent call last):", '  File "/var/azureml-app/score.py", line 61, in run');
    lines.push("ValueError: cannot reshape array of size 783 into shape (28,28,1)");
  }
  return lines.join("\n");
}
