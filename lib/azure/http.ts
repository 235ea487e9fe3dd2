/**
 * The one HTTP client of the CLIs (ARM, the workspace data-plane services, a scoring endpoint): one retry policy,
 * a fresh bearer token whenever the cached one nears expiry or the service answers 401, everything it logs
 * redacted.
 *
 * Retry policy: 429, 500, 502, 503, 504 and network errors are retried with capped exponential backoff and ±25 %
 * jitter; `Retry-After` (seconds or a date) or `x-ms-retry-after-ms` wins when the answer has one; a timed-out
 * request is retried only when its method is idempotent (a scoring POST may still be running); on request, a
 * 404 right after a resource was submitted is retried for a short window.
 *
 * Built on @azure/core-rest-pipeline (createEmptyPipeline, its default HttpClient): its retryPolicy() runs this
 * file's RetryStrategy (which also writes the "retrying in 1.0s" lines to stderr, which `pulumi up` streams), its
 * redirectPolicy follows same-origin redirects, and two policies of this file set the token and time each attempt.
 * Its own bearerTokenAuthenticationPolicy is not used: it throws for any non-https URL (plain-http loopback
 * included; policies/bearerTokenAuthenticationPolicy.js sendRequest) and asks the credential again only on a 401
 * that carries WWW-Authenticate, where this client refreshes on any 401 (twice at most) and pins the token's hosts.
 * A caller's `fetch` (tests, the scoring client) replaces only the transport: the same pipeline runs over it.
 */
import type { AccessToken, TokenCredential } from "@azure/identity";
import {
  createDefaultHttpClient,
  createEmptyPipeline,
  createHttpHeaders,
  createPipelineRequest,
  isRestError,
  redirectPolicy,
  retryPolicy,
  RestError,
  type HttpClient as Transport,
  type HttpHeaders as PipelineHeaders,
  type HttpMethods,
  type Pipeline,
  type PipelinePolicy,
  type PipelineRequest,
  type PipelineResponse,
  type RetryModifiers,
  type RetryStrategy,
} from "@azure/core-rest-pipeline";
import { CliError } from "../toolkit/errors";
import { log } from "../toolkit/log";
import { redact, redactTruncated, registerSecret } from "../toolkit/redact";

export interface RetryPolicy {
  /** first backoff step (ms) */
  baseDelayMs: number;
  /** cap of one backoff step (ms) */
  maxDelayMs: number;
  /** attempts for one request (the first included) */
  maxAttempts: number;
  /** longest Retry-After honoured (ms) */
  maxRetryAfterMs: number;
  /** one attempt's time limit (ms) */
  requestTimeoutMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = {
  baseDelayMs: 1000,
  maxDelayMs: 30000,
  maxAttempts: 8,
  maxRetryAfterMs: 120000,
  requestTimeoutMs: 100000,
};

/** DEFAULT_RETRY with the OPS_RETRY_* / OPS_HTTP_TIMEOUT_MS overrides the tests use to run fast. */
export function retryPolicyFromEnv(env: NodeJS.ProcessEnv = process.env): RetryPolicy {
  const n = (name: string, dflt: number) => {
    const v = Number(env[name]);
    return env[name] !== undefined && Number.isFinite(v) && v >= 0 ? v : dflt;
  };
  return {
    baseDelayMs: n("OPS_RETRY_BASE_MS", DEFAULT_RETRY.baseDelayMs),
    maxDelayMs: n("OPS_RETRY_MAX_MS", DEFAULT_RETRY.maxDelayMs),
    maxAttempts: n("OPS_RETRY_ATTEMPTS", DEFAULT_RETRY.maxAttempts),
    maxRetryAfterMs: n("OPS_RETRY_AFTER_MAX_MS", DEFAULT_RETRY.maxRetryAfterMs),
    requestTimeoutMs: n("OPS_HTTP_TIMEOUT_MS", DEFAULT_RETRY.requestTimeoutMs),
  };
}

/** Statuses worth another try: throttling, and the 5xx a busy or just-started service answers. */
export const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([429, 500, 502, 503, 504]);

/** Backoff for attempt n (1-based): min(cap, base * 2^(n-1)) with ±25 % jitter. */
export function backoffMs(attempt: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const raw = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(raw * (0.75 + random() * 0.5));
}

/** Retry-After (seconds or HTTP date) or x-ms-retry-after-ms → ms; undefined when absent/unparseable. */
export function retryAfterMs(headers: Headers, now: number = Date.now()): number | undefined {
  const ms = headers.get("x-ms-retry-after-ms") ?? headers.get("retry-after-ms");
  if (ms !== null && /^\d+$/.test(ms.trim())) return Number(ms);
  const ra = headers.get("retry-after");
  if (ra === null) return undefined;
  if (/^\d+(\.\d+)?$/.test(ra.trim())) return Math.round(Number(ra) * 1000);
  const date = Date.parse(ra);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** The wait before the next attempt: the service's hint (capped) when it gave one, else the backoff. */
export function retryDelayMs(
  attempt: number,
  policy: RetryPolicy,
  headers?: Headers,
  random: () => number = Math.random,
): number {
  const hinted = headers ? retryAfterMs(headers) : undefined;
  return hinted !== undefined ? Math.min(hinted, policy.maxRetryAfterMs) : backoffMs(attempt, policy, random);
}

/** Methods that may be sent again after a timeout: the first request may have been done already. */
export function isIdempotent(method: string): boolean {
  return ["GET", "HEAD", "PUT", "DELETE", "OPTIONS"].includes(method.toUpperCase());
}

export interface HttpResponse {
  status: number;
  headers: Headers;
  text: string;
  url: string;
  /** wall time of the attempt that got this answer (ms) */
  latencyMs: number;
  attempts: number;
}

export function jsonOf<T>(res: Pick<HttpResponse, "status" | "text" | "url">): T {
  try {
    return JSON.parse(res.text) as T;
  } catch {
    throw new CliError(`${shortUrl(res.url)} answered ${res.status} with a body that is not JSON`);
  }
}

/** How much of a raw (non-JSON) error body goes into a message. */
export const ERROR_BODY_CHARS = 500;

/**
 * The error body of ARM and the workspace services (`{error: {code, message}}`, `{error: "..."}`) as one line;
 * a body that is not JSON is cut to ERROR_BODY_CHARS, after redaction (see redactTruncated).
 */
export function serviceErrorText(text: string): string {
  let detail: string | undefined;
  try {
    const body = JSON.parse(text) as {
      error?: string | { code?: string; message?: string };
      message?: string;
    };
    if (typeof body.error === "string") detail = body.error;
    else if (body.error) detail = [body.error.code, body.error.message].filter(Boolean).join(": ");
    else if (typeof body.message === "string") detail = body.message;
  } catch {
    /* not JSON: the raw text, below */
  }
  if (detail === undefined) return redactTruncated(text.replace(/\s+/g, " ").trim(), ERROR_BODY_CHARS);
  return redact(detail.replace(/\s+/g, " ").trim());
}

/** A final answer outside 2xx (after the retries): the status and the service's error, one line. */
export class HttpError extends CliError {
  constructor(
    readonly status: number,
    readonly method: string,
    readonly url: string,
    /** the response body as received (for callers that show it whole) */
    readonly body: string,
  ) {
    const detail = serviceErrorText(body);
    super(`${method} ${url.split("?")[0]} failed: HTTP ${status}${detail ? ` ${detail}` : ""}`);
    this.name = "HttpError";
  }
}

/** A URL without its query string (never print SAS tokens or api-versions twice). */
export function shortUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.host}${u.pathname}`;
  } catch {
    return url.split("?")[0];
  }
}

/**
 * The `claims` of a continuous-access-evaluation challenge (`WWW-Authenticate: Bearer ..., error="insufficient_claims",
 * claims="<base64 JSON>"`), decoded; ARM sends one when it revokes a token before its expiry.
 */
export function claimsChallenge(header: string | null): string | undefined {
  if (!header) return undefined;
  const m = /claims="([^"]+)"/i.exec(header);
  if (!m) return undefined;
  try {
    const decoded = Buffer.from(m[1], "base64").toString("utf8");
    JSON.parse(decoded);
    return decoded;
  } catch {
    return undefined;
  }
}

/**
 * Bearer tokens and keys go over TLS only (plain http is allowed to the loopback interface, which never leaves the
 * machine). `what` names the credential in the error.
 */
export function assertSafeForToken(url: string, what = "an access token"): void {
  const u = new URL(url);
  if (u.protocol === "https:") return;
  if (u.protocol === "http:" && ["127.0.0.1", "localhost", "[::1]"].includes(u.hostname)) return;
  throw new CliError(`refusing to send ${what} to ${u.protocol}//${u.host} (https required)`);
}

/**
 * The hosts of Azure ML's regional data-plane services (MLflow tracking, run history): `<region>.api.azureml.ms`,
 * and `api.ml.azure.us` / `api.ml.azure.cn` in the US Government and China clouds (Learn:
 * how-to-configure-private-link lists these three as Azure ML's API DNS zones). Zones Microsoft owns: no one else
 * can name a host under them.
 */
export const AZURE_ML_SERVICE_HOST = /^(?:[a-z0-9-]+\.)+api\.(?:azureml\.ms|ml\.azure\.us|ml\.azure\.cn)$/i;

/** An https URL on an Azure ML regional service host, default port. */
export function isAzureMlServiceUrl(url: URL): boolean {
  return url.protocol === "https:" && url.port === "" && AZURE_ML_SERVICE_HOST.test(url.hostname);
}

/** The origin (scheme, host, port) of a URL, or undefined when it is not one. */
export function originOf(url: string, base?: string): string | undefined {
  try {
    return new URL(url, base).origin;
  } catch {
    return undefined;
  }
}

/** Entra tokens for one scope, cached while they have more than 2 minutes left (as core-rest-pipeline does). */
export class BearerToken {
  private token: AccessToken | undefined;
  /** how many tokens the credential handed out (tests) */
  acquired = 0;

  constructor(
    private readonly credential: TokenCredential,
    readonly scope: string,
  ) {}

  /** `forceNew` after a 401; `claims` from a CAE challenge make the credential skip its own cache. */
  async get(forceNew = false, claims?: string): Promise<string> {
    if (!forceNew && this.token && this.token.expiresOnTimestamp - Date.now() >= 120_000)
      return this.token.token;
    let t: AccessToken | null;
    try {
      t = await this.credential.getToken(this.scope, claims ? { claims } : {});
    } catch (err) {
      throw new CliError(
        `could not get an Azure access token for ${this.scope}: ${redact(String((err as Error)?.message ?? err))}`,
        [
          "Sign in with `az login` (or set AZURE_CLIENT_ID/AZURE_TENANT_ID with a secret, certificate or federated token) and retry.",
        ],
      );
    }
    if (!t) throw new CliError(`the credential returned no token for ${this.scope}`);
    registerSecret(t.token);
    this.token = t;
    this.acquired++;
    return t.token;
  }
}

export interface RequestOptions {
  /** a string is sent as it is (already JSON); anything else is JSON-encoded */
  body?: unknown;
  headers?: Record<string, string>;
  /** keep retrying 404 for this long (ms): a resource that was just created can lag on reads */
  notFoundRetryMs?: number;
  /** statuses the caller handles itself (returned instead of thrown); 2xx are always returned */
  accept?: number[];
  /** no bearer token (pre-signed URLs such as SAS log links) */
  anonymous?: boolean;
}

export type FetchLike = (url: string, init: RequestInit) => Promise<Response>;

export interface HttpClientOptions {
  /** sends `Authorization: Bearer <token>` unless a request is `anonymous` */
  token?: BearerToken;
  /**
   * Where the token may go (default: anywhere over https). A request with the token to any other URL fails before
   * it is sent: a token is for its own service, never for a host an answer happened to name.
   */
  tokenFor?: (url: URL) => boolean;
  retry?: RetryPolicy;
  /** where retry notes go (default: stderr) */
  log?: (message: string) => void;
  /** the transport (default: core-rest-pipeline's HttpClient); the pipeline's policies run over it all the same */
  fetch?: FetchLike;
}

/** A request's state across attempts: when it started, and what the next attempt must do about the token. */
interface Round {
  method: string;
  url: string;
  opts: RequestOptions;
  started: number;
  attempt: number;
  authRetries: number;
  forceNewToken: boolean;
  claims?: string;
  /** wall time of the last attempt that got an answer (ms) */
  latencyMs: number;
}

/** The RestError code of an attempt that got no answer in time (other transport failures: REQUEST_SEND_ERROR). */
const TIMED_OUT = "TIMED_OUT";

/** core-rest-pipeline's headers as the WHATWG Headers this file's callers read. */
function toHeaders(headers: PipelineHeaders): Headers {
  const out = new Headers();
  for (const [name, value] of headers) out.append(name, value);
  return out;
}

/** A `fetch` as core-rest-pipeline's transport: headers with their case, the attempt's timeout as its signal. */
function fetchTransport(fetchImpl: FetchLike): Transport {
  return {
    async sendRequest(request: PipelineRequest): Promise<PipelineResponse> {
      const res = await fetchImpl(request.url, {
        method: request.method,
        headers: request.headers.toJSON({ preserveCase: true }),
        body: request.body as string | undefined,
        signal: request.timeout > 0 ? AbortSignal.timeout(request.timeout) : undefined,
      });
      const bodyAsText = await res.text();
      const headers = createHttpHeaders();
      res.headers.forEach((value, name) => headers.set(name, value));
      return { status: res.status, headers, bodyAsText, request };
    },
  };
}

/**
 * What a failed attempt says, one line: "no answer within 5.0s", or the system error's code (ECONNREFUSED, from
 * fetch's `cause` or the Node transport's RestError), else its message.
 */
function failureText(err: unknown, timeoutMs: number): { text: string; timedOut: boolean } {
  const e = err as Error & { cause?: { code?: string; message?: string }; code?: string };
  const timedOut = e?.name === "TimeoutError" || e?.name === "AbortError";
  if (timedOut) return { text: `no answer within ${(timeoutMs / 1000).toFixed(1)}s`, timedOut };
  // the Node transport's RestError carries the system error's code (ECONNREFUSED), as fetch's `cause` does
  const own = [RestError.REQUEST_SEND_ERROR, RestError.PARSE_ERROR];
  const code = isRestError(e) && e.code && !own.includes(e.code) ? e.code : undefined;
  return { text: redact(String(e?.cause?.code ?? e?.cause?.message ?? code ?? e?.message ?? e)), timedOut };
}

export class HttpClient {
  readonly retry: RetryPolicy;
  private readonly token?: BearerToken;
  private readonly tokenFor?: (url: URL) => boolean;
  private readonly note: (message: string) => void;
  private readonly transport: Transport;
  private readonly pipeline: Pipeline;
  private readonly rounds = new WeakMap<PipelineRequest, Round>();

  constructor(options: HttpClientOptions = {}) {
    this.token = options.token;
    this.tokenFor = options.tokenFor;
    this.retry = options.retry ?? retryPolicyFromEnv();
    this.note = options.log ?? log;
    this.transport = options.fetch ? fetchTransport(options.fetch) : createDefaultHttpClient();
    // Outermost first: redirects, then the retries (this file's strategy decides each one, so no count of the
    // policy's own), the token, and the attempt itself next to the transport.
    this.pipeline = createEmptyPipeline();
    this.pipeline.addPolicy(redirectPolicy());
    this.pipeline.addPolicy(retryPolicy([this.strategy()], { maxRetries: Number.POSITIVE_INFINITY }));
    this.pipeline.addPolicy(this.tokenPolicy());
    this.pipeline.addPolicy(this.attemptPolicy());
  }

  /** tokens the credential handed out so far (tests) */
  get tokensAcquired(): number {
    return this.token?.acquired ?? 0;
  }

  /** Sends with the retry policy; returns 2xx and `accept`ed answers, throws HttpError for the others. */
  async request(method: string, url: string, opts: RequestOptions = {}): Promise<HttpResponse> {
    const round: Round = {
      method,
      url,
      opts,
      started: Date.now(),
      attempt: 0,
      authRetries: 0,
      forceNewToken: false,
      latencyMs: 0,
    };
    const headers = createHttpHeaders(opts.headers);
    if (!headers.has("accept")) headers.set("accept", "application/json");
    if (opts.body !== undefined && !headers.has("content-type"))
      headers.set("content-type", "application/json");
    const request = createPipelineRequest({
      url,
      method: method.toUpperCase() as HttpMethods,
      headers,
      body:
        opts.body === undefined
          ? undefined
          : typeof opts.body === "string"
            ? opts.body
            : JSON.stringify(opts.body),
      timeout: this.retry.requestTimeoutMs,
      // plain http as fetch sent it; a token goes over it to the loopback only (assertSafeForToken, token policy)
      allowInsecureConnection: true,
    });
    this.rounds.set(request, round);
    let res: PipelineResponse;
    try {
      res = await this.pipeline.sendRequest(this.transport, request);
    } catch (err) {
      if (!isRestError(err)) throw err;
      const tries = `${round.attempt} attempt${round.attempt === 1 ? "" : "s"}`;
      throw new CliError(`${method} ${url.split("?")[0]} failed after ${tries}: ${err.message}`);
    }
    return this.settle(round, {
      status: res.status,
      headers: toHeaders(res.headers),
      text: res.bodyAsText ?? "",
      url,
      latencyMs: round.latencyMs,
      attempts: round.attempt,
    });
  }

  async getJson<T>(url: string, opts: RequestOptions = {}): Promise<T> {
    return jsonOf<T>(await this.request("GET", url, opts));
  }

  private roundOf(request: PipelineRequest): Round {
    const round = this.rounds.get(request);
    if (!round) throw new Error(`internal: ${shortUrl(request.url)} was not sent by HttpClient.request`);
    return round;
  }

  /** The bearer token, on every attempt: only over TLS (or loopback) and only to the hosts it is for. */
  private tokenPolicy(): PipelinePolicy {
    return {
      name: "opsBearerToken",
      sendRequest: async (request, next) => {
        const round = this.roundOf(request);
        if (this.token && !round.opts.anonymous) {
          assertSafeForToken(request.url);
          const u = new URL(request.url);
          if (this.tokenFor && !this.tokenFor(u)) {
            throw new CliError(
              `refusing to send the access token for ${this.token.scope} to ${u.origin}: not a host that token is for`,
            );
          }
          request.headers.set(
            "authorization",
            `Bearer ${await this.token.get(round.forceNewToken, round.claims)}`,
          );
        }
        round.forceNewToken = false;
        round.claims = undefined;
        return next(request);
      },
    };
  }

  /** One attempt: counted and timed; a failure becomes a RestError (what the retry policy hands its strategies). */
  private attemptPolicy(): PipelinePolicy {
    return {
      name: "opsAttempt",
      sendRequest: async (request, next) => {
        const round = this.roundOf(request);
        round.attempt++;
        const t0 = performance.now();
        try {
          const res = await next(request);
          round.latencyMs = performance.now() - t0;
          return res;
        } catch (err) {
          const { text, timedOut } = failureText(err, this.retry.requestTimeoutMs);
          throw new RestError(text, { code: timedOut ? TIMED_OUT : RestError.REQUEST_SEND_ERROR, request });
        }
      },
    };
  }

  /** The retry policy as core-rest-pipeline's RetryStrategy: wait and go on, or let the answer or error stand. */
  private strategy(): RetryStrategy {
    return {
      name: "opsRetry",
      retry: ({ response, responseError }): RetryModifiers => {
        const request = responseError?.request ?? response?.request;
        const round = request && this.rounds.get(request);
        if (!round) return { skipStrategy: true };
        const wait = responseError
          ? this.failureWait(round, responseError)
          : this.retryWait(round, response!);
        return wait === undefined ? { skipStrategy: true } : { retryAfterInMs: wait };
      },
    };
  }

  /** After a network error or timeout: how long to wait, or undefined when the policy says stop. */
  private failureWait(round: Round, error: RestError): number | undefined {
    const { method, url, attempt } = round;
    const retryable = error.code !== TIMED_OUT || isIdempotent(method);
    if (!retryable || attempt >= this.retry.maxAttempts) return undefined;
    const wait = backoffMs(attempt, this.retry);
    this.note(
      `  network error (${error.message}) on ${method} ${shortUrl(url)}; retrying in ${(wait / 1000).toFixed(1)}s (attempt ${attempt}/${this.retry.maxAttempts})`,
    );
    return wait;
  }

  /** How long to wait before trying again (0: at once, for a fresh token), or undefined: this answer stands. */
  private retryWait(round: Round, res: PipelineResponse): number | undefined {
    const { url, opts, attempt } = round;
    if (res.status === 401 && this.token && !opts.anonymous && round.authRetries < 2) {
      // An expired or revoked token: drop ours and ask the credential again.
      round.authRetries++;
      round.forceNewToken = true;
      round.claims = claimsChallenge(res.headers.get("www-authenticate") ?? null);
      this.note(
        `  401 from ${shortUrl(url)} (${serviceErrorText(res.bodyAsText ?? "")}); getting a fresh token`,
      );
      return 0;
    }
    if (RETRYABLE_STATUSES.has(res.status) && attempt < this.retry.maxAttempts) {
      const wait = retryDelayMs(attempt, this.retry, toHeaders(res.headers));
      this.note(
        `  HTTP ${res.status} from ${shortUrl(url)}; retrying in ${(wait / 1000).toFixed(1)}s (attempt ${attempt}/${this.retry.maxAttempts})`,
      );
      return wait;
    }
    if (res.status === 404 && opts.notFoundRetryMs && Date.now() - round.started < opts.notFoundRetryMs) {
      const wait = Math.min(backoffMs(attempt, this.retry), opts.notFoundRetryMs);
      this.note(
        `  404 from ${shortUrl(url)} (may lag right after creation); retrying in ${(wait / 1000).toFixed(1)}s`,
      );
      return wait;
    }
    return undefined;
  }

  private settle(round: Round, res: HttpResponse): HttpResponse {
    if ((res.status >= 200 && res.status < 300) || round.opts.accept?.includes(res.status)) return res;
    throw new HttpError(res.status, round.method, round.url, res.text);
  }
}
