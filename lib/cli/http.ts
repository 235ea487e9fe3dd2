/**
 * One authenticated HTTP client for ARM and the workspace data-plane services (MLflow, run history): a fresh
 * token whenever the cached one nears expiry or the service answers 401, Retry-After on 429, capped exponential
 * backoff with jitter on 5xx and network errors, and (on request) a short retry window for 404s right after a
 * resource was submitted. Everything it logs is redacted.
 */
import type { AccessToken, TokenCredential } from "@azure/identity";
import { log, OpsError } from "./log";
import { redact, registerSecret } from "./redact";

export interface RetryOptions {
  /** first backoff step for 5xx/network errors (ms) */
  baseDelayMs: number;
  /** cap of one backoff step (ms) */
  maxDelayMs: number;
  /** attempts for one request on 429/5xx/network errors */
  maxAttempts: number;
  /** longest Retry-After honoured (ms) */
  maxRetryAfterMs: number;
  /** one request's time limit (ms); a timed-out request counts as a network error and is retried */
  requestTimeoutMs?: number;
}

export function retryOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): RetryOptions {
  const n = (name: string, dflt: number) => {
    const v = Number(env[name]);
    return env[name] !== undefined && Number.isFinite(v) && v >= 0 ? v : dflt;
  };
  return {
    baseDelayMs: n("OPS_RETRY_BASE_MS", 1000),
    maxDelayMs: n("OPS_RETRY_MAX_MS", 30000),
    maxAttempts: n("OPS_RETRY_ATTEMPTS", 8),
    maxRetryAfterMs: n("OPS_RETRY_AFTER_MAX_MS", 120000),
    requestTimeoutMs: n("OPS_HTTP_TIMEOUT_MS", 100000),
  };
}

/** Backoff for attempt n (1-based): min(cap, base * 2^(n-1)) with ±25 % jitter. */
export function backoffMs(attempt: number, opts: RetryOptions, random: () => number = Math.random): number {
  const raw = Math.min(opts.maxDelayMs, opts.baseDelayMs * 2 ** Math.max(0, attempt - 1));
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

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export interface HttpResponse {
  status: number;
  headers: Headers;
  text: string;
  url: string;
}

export function jsonOf<T>(res: HttpResponse): T {
  try {
    return JSON.parse(res.text) as T;
  } catch {
    throw new OpsError(`${res.url.split("?")[0]} answered ${res.status} with a body that is not JSON`);
  }
}

/** The `{error: {code, message}}` body ARM and the workspace services return, as one line. */
export function serviceErrorText(res: HttpResponse): string {
  let detail = res.text.slice(0, 500);
  try {
    const body = JSON.parse(res.text) as { error?: { code?: string; message?: string }; message?: string };
    if (body.error) detail = [body.error.code, body.error.message].filter(Boolean).join(": ");
    else if (body.message) detail = body.message;
  } catch {
    /* not JSON: keep the raw text */
  }
  return redact(detail.replace(/\s+/g, " ").trim());
}

export class HttpError extends OpsError {
  constructor(
    readonly status: number,
    readonly method: string,
    readonly url: string,
    detail: string,
  ) {
    super(`${method} ${url.split("?")[0]} failed: HTTP ${status}${detail ? ` ${detail}` : ""}`);
    this.name = "HttpError";
  }
}

export interface RequestOptions {
  body?: unknown;
  headers?: Record<string, string>;
  /** keep retrying 404 for this long (ms) — a resource that was just created can lag on reads */
  notFoundRetryMs?: number;
  /** statuses the caller handles itself (returned instead of thrown); 2xx are always returned */
  accept?: number[];
  /** no bearer token (pre-signed URLs such as SAS log links) */
  anonymous?: boolean;
}

const RETRYABLE_5XX = new Set([500, 502, 503, 504]);

export class AzureHttp {
  private token: AccessToken | undefined;
  tokensAcquired = 0;

  constructor(
    private readonly credential: TokenCredential,
    private readonly scope: string,
    readonly retry: RetryOptions = retryOptionsFromEnv(),
  ) {}

  private async bearer(forceNew: boolean, claims?: string): Promise<string> {
    const now = Date.now();
    // Reuse a token while it has more than 2 minutes left (the bearer policy of @azure/core-rest-pipeline does the
    // same); the credential has its own cache and refreshes expired tokens.
    if (forceNew || !this.token || this.token.expiresOnTimestamp - now < 120_000) {
      let t: AccessToken | null;
      try {
        // `claims` (from a CAE challenge) makes the credential skip its cache and mint a new token.
        t = await this.credential.getToken(this.scope, claims ? { claims } : {});
      } catch (err) {
        throw new OpsError(
          `could not get an Azure access token for ${this.scope}: ${redact(String((err as Error)?.message ?? err))}`,
          [
            "Sign in with `az login` (or set AZURE_CLIENT_ID/AZURE_TENANT_ID with a secret, certificate or federated token) and retry.",
          ],
        );
      }
      if (!t) throw new OpsError(`the credential returned no token for ${this.scope}`);
      registerSecret(t.token);
      this.token = t;
      this.tokensAcquired++;
    }
    return this.token.token;
  }

  async request(method: string, url: string, opts: RequestOptions = {}): Promise<HttpResponse> {
    const started = Date.now();
    let attempt = 0;
    let authRetries = 0;
    let forceNewToken = false;
    let claims: string | undefined;
    for (;;) {
      attempt++;
      const headers: Record<string, string> = { accept: "application/json", ...opts.headers };
      if (!opts.anonymous) assertSafeForToken(url);
      if (!opts.anonymous) headers.authorization = `Bearer ${await this.bearer(forceNewToken, claims)}`;
      forceNewToken = false;
      claims = undefined;
      let body: string | undefined;
      if (opts.body !== undefined) {
        body = JSON.stringify(opts.body);
        headers["content-type"] = "application/json";
      }
      let res: Response;
      let text: string;
      try {
        res = await fetch(url, {
          method,
          headers,
          body,
          signal: AbortSignal.timeout(this.retry.requestTimeoutMs ?? 100_000),
        });
        text = await res.text();
      } catch (err) {
        const cause = (err as { cause?: { code?: string; message?: string } }).cause;
        const why =
          (err as Error).name === "TimeoutError"
            ? `no answer within ${((this.retry.requestTimeoutMs ?? 100_000) / 1000).toFixed(1)}s`
            : (cause?.code ?? cause?.message ?? (err as Error).message);
        if (attempt >= this.retry.maxAttempts) {
          throw new OpsError(
            `${method} ${url.split("?")[0]} failed after ${attempt} attempts: ${redact(String(why))}`,
          );
        }
        const wait = backoffMs(attempt, this.retry);
        log(
          `  network error (${redact(String(why))}) on ${method} ${shortUrl(url)}; retrying in ${(wait / 1000).toFixed(1)}s`,
        );
        await sleep(wait);
        continue;
      }
      const out: HttpResponse = { status: res.status, headers: res.headers, text, url };
      if (res.status === 401 && !opts.anonymous && authRetries < 2) {
        // An expired or revoked token: drop ours and ask the credential again.
        authRetries++;
        forceNewToken = true;
        claims = claimsChallenge(res.headers.get("www-authenticate"));
        log(`  401 from ${shortUrl(url)} (${serviceErrorText(out)}); getting a fresh token`);
        continue;
      }
      if (res.status === 429 || RETRYABLE_5XX.has(res.status)) {
        if (attempt < this.retry.maxAttempts) {
          const hinted = retryAfterMs(res.headers);
          const wait =
            hinted !== undefined
              ? Math.min(hinted, this.retry.maxRetryAfterMs)
              : backoffMs(attempt, this.retry);
          log(
            `  HTTP ${res.status} from ${shortUrl(url)}; retrying in ${(wait / 1000).toFixed(1)}s (attempt ${attempt}/${this.retry.maxAttempts})`,
          );
          await sleep(wait);
          continue;
        }
      }
      if (res.status === 404 && opts.notFoundRetryMs && Date.now() - started < opts.notFoundRetryMs) {
        const wait = Math.min(backoffMs(attempt, this.retry), opts.notFoundRetryMs);
        log(
          `  404 from ${shortUrl(url)} (may lag right after creation); retrying in ${(wait / 1000).toFixed(1)}s`,
        );
        await sleep(wait);
        continue;
      }
      if ((res.status >= 200 && res.status < 300) || opts.accept?.includes(res.status)) return out;
      throw new HttpError(res.status, method, url, serviceErrorText(out));
    }
  }

  async getJson<T>(url: string, opts: RequestOptions = {}): Promise<T> {
    return jsonOf<T>(await this.request("GET", url, opts));
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

/** Bearer tokens go over TLS only (plain http is allowed to the loopback interface, which never leaves the machine). */
export function assertSafeForToken(url: string): void {
  const u = new URL(url);
  if (u.protocol === "https:") return;
  if (u.protocol === "http:" && ["127.0.0.1", "localhost", "[::1]"].includes(u.hostname)) return;
  throw new OpsError(`refusing to send an access token to ${u.protocol}//${u.host} (https required)`);
}
