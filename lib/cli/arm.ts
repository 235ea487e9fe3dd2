/**
 * Azure Resource Manager access for the ops CLIs: plain REST over `AzureHttp`.
 *
 * Why not `@azure/arm-machinelearning` (2.1.1)? It is generated for API 2022-10-01 and has no `forceToPurge` on
 * workspace delete; and a read-modify-write PUT of an endpoint through its 2022 models would drop properties that
 * newer API versions return. These CLIs only need a handful of GET/PUT/DELETE/POST calls, so they use the REST
 * API version the Pulumi provider uses (azure-native 3.28.0 → 2025-12-01).
 */
import type { TokenCredential } from "@azure/identity";
import { armScope, createCredential } from "./credential";
import {
  AzureHttp,
  HttpError,
  jsonOf,
  serviceErrorText,
  sleep,
  type HttpResponse,
  type RequestOptions,
} from "./http";
import { log, OpsError } from "./log";

export const ML_API_VERSION = process.env.AZURE_ML_API_VERSION || "2025-12-01";
export const DEFAULT_ARM_ENDPOINT = "https://management.azure.com";

export function armEndpointFrom(
  flag: string | boolean | undefined,
  env: NodeJS.ProcessEnv = process.env,
): string {
  const v = typeof flag === "string" && flag ? flag : env.AZURE_ARM_ENDPOINT || DEFAULT_ARM_ENDPOINT;
  return v.replace(/\/+$/, "");
}

export interface LroOptions {
  pollMs: number;
  timeoutMs: number;
  what: string;
}

export class ArmClient {
  readonly http: AzureHttp;

  constructor(
    readonly endpoint: string,
    credential: TokenCredential = createCredential(),
  ) {
    this.http = new AzureHttp(credential, armScope(endpoint));
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
  ) {
    return this.http.request(method, this.url(resourceId, opts.query), opts);
  }

  /**
   * Follows an ARM long-running operation: `Azure-AsyncOperation` (poll until status Succeeded/Failed/Canceled)
   * or `Location` (poll until it stops answering 202). A 200/204 without either header is already done.
   */
  async waitForLro(first: HttpResponse, opts: LroOptions): Promise<void> {
    const asyncOp = first.headers.get("azure-asyncoperation");
    const location = first.headers.get("location");
    if (!asyncOp && !location) return;
    const deadline = Date.now() + opts.timeoutMs;
    let last = "";
    for (;;) {
      if (Date.now() > deadline) {
        throw new OpsError(
          `${opts.what}: the operation did not finish within ${Math.round(opts.timeoutMs / 1000)}s`,
        );
      }
      if (asyncOp) {
        const res = await this.http.request("GET", asyncOp);
        const body = jsonOf<{ status?: string; error?: { code?: string; message?: string } }>(res);
        const status = body.status ?? "Unknown";
        if (status !== last) log(`  ${opts.what}: ${status}`);
        last = status;
        if (/^succeeded$/i.test(status)) return;
        if (/^(failed|canceled|cancelled)$/i.test(status)) {
          const err = body.error
            ? `${body.error.code ?? ""}: ${body.error.message ?? ""}`
            : "no error details";
          throw new OpsError(`${opts.what} ${status.toLowerCase()}: ${err}`);
        }
      } else if (location) {
        const res = await this.http.request("GET", location, { accept: [202] });
        if (res.status !== 202) return;
      }
      await sleep(opts.pollMs);
    }
  }
}

/** Turns a 409 "operation in progress" into a retryable condition: true when the caller should wait and retry. */
export function isConflict(err: unknown): err is HttpError {
  return err instanceof HttpError && err.status === 409;
}

export { HttpError, serviceErrorText };
