/**
 * Azure Resource Manager access for the CLIs: plain REST over lib/azure/http.ts's HttpClient (a core-rest-pipeline
 * pipeline).
 *
 * Why not `@azure/arm-machinelearning` (2.1.1, no longer a dependency)? It is generated for API 2022-10-01, has no
 * `forceToPurge` on workspace delete, and a read-modify-write PUT of an endpoint through its 2022 models would
 * drop properties that newer API versions return. These CLIs need a handful of GET/PUT/DELETE/POST calls, so
 * they use the REST API version the Pulumi provider uses (azure-native 3.28.0 → 2025-12-01).
 *
 * Long-running operations are polled here, not by @azure/core-lro 2.7.2: its createHttpPoller (http/operation.js
 * inferLroMode, findResourceLocation) polls a PUT answered without an operation header by the body's provisioningState
 * and GETs the resource again once an Azure-AsyncOperation succeeds, where waitForLro waits for the operation only and
 * leaves reading the resource to awaitProvisioning / deleteUntilGone (their own progress lines and deadlines).
 */
import type { TokenCredential } from "@azure/identity";
import { armScope, createCredential } from "./credential";
import { CliError, errorMessage } from "../toolkit/errors";
import {
  BearerToken,
  HttpClient,
  HttpError,
  isAzureMlServiceUrl,
  jsonOf,
  originOf,
  shortUrl,
  type HttpResponse,
  type RequestOptions,
} from "./http";
import { log } from "../toolkit/log";
import { formatDuration, since, sleep } from "../toolkit/time";

export const ML_API_VERSION = process.env.AZURE_ML_API_VERSION || "2025-12-01";
export const DEFAULT_ARM_ENDPOINT = "https://management.azure.com";

/** The management endpoint: `--arm-endpoint`, else AZURE_ARM_ENDPOINT (another cloud, the tests' fake), else public. */
export function armEndpointFrom(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const v = flag || env.AZURE_ARM_ENDPOINT || DEFAULT_ARM_ENDPOINT;
  return v.replace(/\/+$/, "");
}

export interface LroOptions {
  pollMs: number;
  timeoutMs: number;
  what: string;
}

/**
 * The ARM client. Its token goes to two kinds of host only: the management endpoint's own origin, and Azure ML's
 * regional service hosts (MLflow and run history accept the same ARM token; lib/azureml/runHistory.ts). A URL that an
 * answer names (`nextLink`, `Azure-AsyncOperation`, `Location`) is followed only on the management endpoint's origin:
 * ARM's long-running-operation and paging URLs are on that endpoint (Learn: azure-resource-manager/management/
 * async-operations, whose examples poll `https://management.azure.com/...`), so one on any other origin is refused
 * with an error instead of being sent the token (or followed without it: a foreign host has nothing to tell us).
 */
export class ArmClient {
  readonly http: HttpClient;
  /** scheme://host[:port] of the management endpoint */
  readonly origin: string;

  constructor(
    readonly endpoint: string,
    credential: TokenCredential = createCredential(),
  ) {
    const origin = originOf(endpoint);
    if (!origin || origin === "null") throw new CliError(`ARM endpoint '${endpoint}' is not a URL`);
    this.origin = origin;
    this.http = new HttpClient({
      token: new BearerToken(credential, armScope(endpoint)),
      tokenFor: (u) => u.origin === origin || isAzureMlServiceUrl(u),
    });
  }

  /**
   * A URL an ARM answer named (`what`: "nextLink", "Azure-AsyncOperation", "Location"), absolute; a CliError when it
   * is not on the management endpoint's origin.
   */
  followable(url: string, what: string): string {
    const origin = originOf(url, this.endpoint);
    if (origin !== this.origin) {
      throw new CliError(
        `refusing to follow the ${what} URL ${shortUrl(url)}: it is not on the ARM endpoint ${this.origin}, and the ARM token goes nowhere else`,
      );
    }
    return new URL(url, this.endpoint).href;
  }

  url(resourceId: string, query: Record<string, string> = {}): string {
    const q = new URLSearchParams({ "api-version": ML_API_VERSION, ...query });
    const path = resourceId.startsWith("/") ? resourceId : `/${resourceId}`;
    return `${this.endpoint}${path}?${q.toString()}`;
  }

  /** GET a resource; `undefined` when it does not exist (404). */
  async tryGet<T>(resourceId: string, opts: RequestOptions = {}): Promise<T | undefined> {
    const res = await this.http.request("GET", this.url(resourceId), {
      ...opts,
      accept: [404, ...(opts.accept ?? [])],
    });
    if (res.status === 404) return undefined;
    return jsonOf<T>(res);
  }

  async get<T>(resourceId: string, opts: RequestOptions = {}): Promise<T> {
    return this.http.getJson<T>(this.url(resourceId), opts);
  }

  async send(
    method: string,
    resourceId: string,
    opts: RequestOptions & { query?: Record<string, string> } = {},
  ): Promise<HttpResponse> {
    return this.http.request(method, this.url(resourceId, opts.query), opts);
  }

  /**
   * Follows an ARM long-running operation: `Azure-AsyncOperation` (poll until status Succeeded/Failed/Canceled)
   * or `Location` (poll until it stops answering 202). A 200/204 without either header is already done.
   */
  async waitForLro(first: HttpResponse, opts: LroOptions): Promise<void> {
    const asyncOpHeader = first.headers.get("azure-asyncoperation");
    const locationHeader = first.headers.get("location");
    if (!asyncOpHeader && !locationHeader) return;
    const asyncOp = asyncOpHeader ? this.followable(asyncOpHeader, "Azure-AsyncOperation") : undefined;
    const location = !asyncOp && locationHeader ? this.followable(locationHeader, "Location") : undefined;
    const deadline = Date.now() + opts.timeoutMs;
    let last = "";
    for (;;) {
      if (Date.now() > deadline) {
        throw new CliError(
          `${opts.what}: the operation did not finish within ${formatDuration(opts.timeoutMs / 1000)}`,
        );
      }
      if (asyncOp) {
        const status = await this.asyncOperationStatus(asyncOp, opts.what);
        if (status !== last) log(`  ${opts.what}: ${status}`);
        last = status;
        if (/^succeeded$/i.test(status)) return;
      } else if (location) {
        const res = await this.http.request("GET", location, { accept: [202] });
        if (res.status !== 202) return;
      }
      await sleep(opts.pollMs);
    }
  }

  /** One read of an `Azure-AsyncOperation` URL: its status, or a CliError once it failed or was canceled. */
  private async asyncOperationStatus(url: string, what: string): Promise<string> {
    const res = await this.http.request("GET", url);
    const body = jsonOf<{ status?: string; error?: { code?: string; message?: string } }>(res);
    const status = body.status ?? "Unknown";
    if (/^(failed|canceled|cancelled)$/i.test(status)) {
      const err = body.error ? `${body.error.code ?? ""}: ${body.error.message ?? ""}` : "no error details";
      throw new CliError(`${what} ${status.toLowerCase()}: ${err}`);
    }
    return status;
  }
}

/** True for ARM's 409 "another operation is in progress on this resource". */
export function isConflict(err: unknown): err is HttpError {
  return err instanceof HttpError && err.status === 409;
}

/**
 * Runs `write` again while ARM answers 409 (the resource is busy with another operation), every `pollMs` until
 * `deadline`; `beforeRetry` runs before each new try (e.g. to re-read what another writer changed).
 */
export async function retryOnConflict<T>(
  write: () => Promise<T>,
  o: { deadline: number; pollMs: number; what: string; beforeRetry?: () => Promise<void> },
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (err) {
      if (!isConflict(err) || Date.now() > o.deadline) throw err;
      const why = errorMessage(err).replace(/^.*HTTP 409\s*/, "");
      log(
        `  409 Conflict (${why}); ${o.what} is busy, retrying in ${formatDuration(o.pollMs / 1000)} (attempt ${attempt})`,
      );
      await sleep(o.pollMs);
      await o.beforeRetry?.();
    }
  }
}

/** Flags every ARM CLI takes (a CLI may override the defaults). */
export const ARM_FLAGS = {
  "timeout-minutes": { type: "number", min: 0, default: 30 },
  "poll-seconds": { type: "number", min: 0, default: 10 },
  "arm-endpoint": { type: "string", placeholder: "URL" },
} as const;

/** What ARM_FLAGS parse to. */
export interface ArmCliOptions {
  timeoutMs: number;
  pollMs: number;
  armEndpoint: string;
}

export function armCliOptions(a: {
  "timeout-minutes": number;
  "poll-seconds": number;
  "arm-endpoint"?: string;
}): ArmCliOptions {
  return {
    timeoutMs: a["timeout-minutes"] * 60_000,
    pollMs: a["poll-seconds"] * 1000,
    armEndpoint: armEndpointFrom(a["arm-endpoint"]),
  };
}

export interface DeleteUntilGoneOptions {
  /** Extra query parameters of the DELETE (e.g. forceToPurge, underlyingResourceAction). */
  query?: Record<string, string>;
  deadline: number;
  pollMs: number;
  /** What retryOnConflict says is busy ("compute X"). */
  what: string;
  /** What the long-running operation is called in its progress lines ("delete of compute X"). */
  operation: string;
  /** The DELETE was accepted (not a 404) with this status. */
  onAccepted?: (status: number) => void;
  /** Each poll that still finds the resource, with its provisioning state; throws once `pastDeadline`. */
  onStillThere: (state: string, pastDeadline: boolean) => void;
}

/**
 * The one delete path of the CLIs: DELETE (409s retried while the resource is busy) → follow the long-running
 * operation → poll GET until ARM answers 404. Resolves false when the DELETE itself found nothing to delete.
 */
export async function deleteUntilGone(
  arm: ArmClient,
  id: string,
  o: DeleteUntilGoneOptions,
): Promise<boolean> {
  const res = await retryOnConflict(() => arm.send("DELETE", id, { query: o.query, accept: [404] }), {
    deadline: o.deadline,
    pollMs: o.pollMs,
    what: o.what,
  });
  if (res.status === 404) return false;
  o.onAccepted?.(res.status);
  await arm.waitForLro(res, {
    pollMs: o.pollMs,
    timeoutMs: Math.max(0, o.deadline - Date.now()),
    what: o.operation,
  });
  for (;;) {
    const body = await arm.tryGet<{ properties?: { provisioningState?: string } }>(id);
    if (!body) return true;
    o.onStillThere(body.properties?.provisioningState ?? "?", Date.now() > o.deadline);
    await sleep(o.pollMs);
  }
}

/** What awaitProvisioning ended on: the last read (none when the resource is gone), its state, and why it stopped. */
export interface Provisioned<T> {
  body?: T;
  state: string;
  timedOut: boolean;
}

/** The provisioning states after which nothing changes without a new request. */
export const SETTLED_STATE = /^(Succeeded|Failed|Canceled)$/;

/**
 * The ensure steps' one wait for a resource to settle: GET every `pollMs`, a line per change of
 * `properties.provisioningState`, until it is Succeeded, Failed or Canceled, or `timeoutMs` from `started` has passed.
 * A resource that is not there (404) is waited for with `whileMissing` (a PUT whose resource is not readable yet),
 * else returned at once. The caller says what each outcome means.
 */
export async function awaitProvisioning<T extends { properties?: { provisioningState?: string } }>(
  arm: ArmClient,
  id: string,
  o: { started: number; timeoutMs: number; pollMs: number; whileMissing: boolean },
): Promise<Provisioned<T>> {
  let last = "";
  for (;;) {
    const body = await arm.tryGet<T>(id);
    const state = body?.properties?.provisioningState ?? (body ? "Unknown" : "NotFound");
    if (state !== last) log(`  [${since(o.started).padStart(8)}] ${state}`);
    last = state;
    if (body && SETTLED_STATE.test(state)) return { body, state, timedOut: false };
    if (!body && !o.whileMissing) return { state, timedOut: false };
    if (Date.now() - o.started > o.timeoutMs) return { body, state, timedOut: true };
    await sleep(o.pollMs);
  }
}

/** An ARM list that pages on past this is broken (a nextLink pointing at itself). */
export const MAX_PAGES = 100;

interface Page<T> {
  value?: T[];
  nextLink?: string | null;
}

/**
 * Every item of an ARM list, following `nextLink` (an absolute URL that carries its own query). With
 * `missingIsEmpty`, a 404 of the first page (the parent does not exist) is an empty list.
 */
export async function listAll<T>(
  arm: ArmClient,
  firstUrl: string,
  o: { missingIsEmpty?: boolean; maxPages?: number } = {},
): Promise<T[]> {
  const maxPages = o.maxPages ?? MAX_PAGES;
  const items: T[] = [];
  let url: string | undefined = firstUrl;
  for (let page = 0; url; page++) {
    if (page >= maxPages) throw new CliError(`${shortUrl(firstUrl)} has more than ${maxPages} pages`);
    const res = await arm.http.request("GET", url, { accept: o.missingIsEmpty && page === 0 ? [404] : [] });
    if (res.status === 404) return [];
    const body = jsonOf<Page<T>>(res);
    items.push(...(body.value ?? []));
    url = body.nextLink ? arm.followable(body.nextLink, "nextLink") : undefined;
  }
  return items;
}
