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
 * Not @azure/core-rest-pipeline: its retry policies report only through @azure/logger (no "retrying in 1.0s"
 * line on stderr, which `pulumi up` streams), it exports no retry strategy to extend with the 404 window, its
 * bearer policy does not re-ask the credential on a plain 401 and refuses plain-http loopback, and the scoring
 * call needs none of its token handling; wrapping it would keep most of this file and add a second HTTP stack.
 */
import type { AccessToken, TokenCredential } from "@azure/identity";
import { CliError } from "../toolkit/errors";
import { log } from "../toolkit/log";
import { redact, redactTruncated, registerSecret } from "../toolkit/redact";
import { sleep } from "../toolkit/time";

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
  fetch?: FetchLike;
}

/** What one attempt got: an answer, or the reason there was none. */
type Attempt = { res: HttpResponse } | { failure: string; timedOut: boolean };

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
}

export class HttpClient {
  readonly retry: RetryPolicy;
  private readonly token?: BearerToken;
  private readonly tokenFor?: (url: URL) => boolean;
  private readonly note: (message: string) => void;
  private readonly fetchImpl: FetchLike;

  constructor(options: HttpClientOptions = {}) {
    this.token = options.token;
    this.tokenFor = options.tokenFor;
    this.retry = options.retry ?? retryPolicyFromEnv();
    this.note = options.log ?? log;
    this.fetchImpl = options.fetch ?? fetch;
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
    };
    for (;;) {
      round.attempt++;
      const got = await this.attempt(round);
      if ("failure" in got) {
        await this.afterFailure(round, got.failure, got.timedOut);
        continue;
      }
      const wait = this.retryWait(round, got.res);
      if (wait === undefined) return this.settle(round, got.res);
      if (wait > 0) await sleep(wait);
    }
  }

  async getJson<T>(url: string, opts: RequestOptions = {}): Promise<T> {
    return jsonOf<T>(await this.request("GET", url, opts));
  }

  private async headersFor(round: Round): Promise<Record<string, string>> {
    const headers: Record<string, string> = { ...round.opts.headers };
    const has = (name: string) => Object.keys(headers).some((k) => k.toLowerCase() === name);
    if (!has("accept")) headers.accept = "application/json";
    if (round.opts.body !== undefined && !has("content-type")) headers["content-type"] = "application/json";
    if (this.token && !round.opts.anonymous) {
      assertSafeForToken(round.url);
      const u = new URL(round.url);
      if (this.tokenFor && !this.tokenFor(u)) {
        throw new CliError(
          `refusing to send the access token for ${this.token.scope} to ${u.origin}: not a host that token is for`,
        );
      }
      headers.authorization = `Bearer ${await this.token.get(round.forceNewToken, round.claims)}`;
    }
    round.forceNewToken = false;
    round.claims = undefined;
    return headers;
  }

  private async attempt(round: Round): Promise<Attempt> {
    const { method, url, opts } = round;
    const body =
      opts.body === undefined
        ? undefined
        : typeof opts.body === "string"
          ? opts.body
          : JSON.stringify(opts.body);
    const headers = await this.headersFor(round);
    const t0 = performance.now();
    try {
      const res = await this.fetchImpl(url, {
        method,
        headers,
        body,
        signal: AbortSignal.timeout(this.retry.requestTimeoutMs),
      });
      const text = await res.text();
      const latencyMs = performance.now() - t0;
      return {
        res: { status: res.status, headers: res.headers, text, url, latencyMs, attempts: round.attempt },
      };
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      const timedOut = e.name === "TimeoutError" || e.name === "AbortError";
      const failure = timedOut
        ? `no answer within ${(this.retry.requestTimeoutMs / 1000).toFixed(1)}s`
        : (e.cause?.code ?? e.cause?.message ?? e.message);
      return { failure: redact(String(failure)), timedOut };
    }
  }

  /** After a network error or timeout: wait and go on, or throw when the policy says stop. */
  private async afterFailure(round: Round, failure: string, timedOut: boolean): Promise<void> {
    const { method, url, attempt } = round;
    const retryable = !timedOut || isIdempotent(method);
    if (!retryable || attempt >= this.retry.maxAttempts) {
      const tries = `${attempt} attempt${attempt === 1 ? "" : "s"}`;
      throw new CliError(`${method} ${url.split("?")[0]} failed after ${tries}: ${failure}`);
    }
    const wait = backoffMs(attempt, this.retry);
    this.note(
      `  network error (${failure}) on ${method} ${shortUrl(url)}; retrying in ${(wait / 1000).toFixed(1)}s (attempt ${attempt}/${this.retry.maxAttempts})`,
    );
    await sleep(wait);
  }

  /** How long to wait before trying again (0: at once, for a fresh token), or undefined: this answer stands. */
  private retryWait(round: Round, res: HttpResponse): number | undefined {
    const { url, opts, attempt } = round;
    if (res.status === 401 && this.token && !opts.anonymous && round.authRetries < 2) {
      // An expired or revoked token: drop ours and ask the credential again.
      round.authRetries++;
      round.forceNewToken = true;
      round.claims = claimsChallenge(res.headers.get("www-authenticate"));
      this.note(`  401 from ${shortUrl(url)} (${serviceErrorText(res.text)}); getting a fresh token`);
      return 0;
    }
    if (RETRYABLE_STATUSES.has(res.status) && attempt < this.retry.maxAttempts) {
      const wait = retryDelayMs(attempt, this.retry, res.headers);
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
