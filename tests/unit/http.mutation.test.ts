// lib/azure/http.ts in-process: a fake fetch, a fake credential, a retry policy without waits.
import type { AccessToken, TokenCredential } from "@azure/identity";
import {
  AZURE_ML_SERVICE_HOST,
  BearerToken,
  DEFAULT_RETRY,
  HttpClient,
  HttpError,
  assertSafeForToken,
  backoffMs,
  claimsChallenge,
  isAzureMlServiceUrl,
  isIdempotent,
  jsonOf,
  originOf,
  retryAfterMs,
  retryDelayMs,
  retryPolicyFromEnv,
  serviceErrorText,
  shortUrl,
  type RetryPolicy,
} from "../../lib/azure/http";

const FAST: RetryPolicy = {
  baseDelayMs: 0,
  maxDelayMs: 0,
  maxAttempts: 3,
  maxRetryAfterMs: 0,
  requestTimeoutMs: 5000,
};

interface Sent {
  url: string;
  method: string;
  headers: Record<string, string>;
  body?: string;
}

/** A fetch that answers from `answers` in turn (the last one repeats) and records what it was sent. */
function fakeFetch(answers: Array<Response | Error | (() => Response)>) {
  const sent: Sent[] = [];
  let i = 0;
  const fetch = async (url: string, init: RequestInit): Promise<Response> => {
    sent.push({
      url,
      method: String(init.method),
      headers: { ...(init.headers as Record<string, string>) },
      body: init.body as string | undefined,
    });
    const a = answers[Math.min(i++, answers.length - 1)];
    if (a instanceof Error) throw a;
    return typeof a === "function" ? a() : a.clone();
  };
  return { fetch, sent };
}

/** A credential that hands out token-1, token-2, ... and records the options it was asked with. */
function fakeCredential(expiresInMs = 3_600_000) {
  const asked: Array<{ scope: string | string[]; claims?: string }> = [];
  const credential: TokenCredential = {
    getToken: async (scope, options) => {
      asked.push({ scope, claims: (options as { claims?: string } | undefined)?.claims });
      return { token: `token-${asked.length}`, expiresOnTimestamp: Date.now() + expiresInMs } as AccessToken;
    },
  };
  return { credential, asked };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });

function client(
  answers: Array<Response | Error | (() => Response)>,
  opts: { token?: boolean; retry?: RetryPolicy } = {},
) {
  const f = fakeFetch(answers);
  const cred = fakeCredential();
  const notes: string[] = [];
  const c = new HttpClient({
    fetch: f.fetch,
    retry: opts.retry ?? FAST,
    log: (m) => notes.push(m),
    ...(opts.token === false ? {} : { token: new BearerToken(cred.credential, "https://arm/.default") }),
  });
  return { c, sent: f.sent, asked: cred.asked, notes };
}

describe("401: a fresh token, at most twice per request", () => {
  test("a token refused for good: three attempts (the first and two refreshes), then the 401 stands", async () => {
    const { c, sent, asked } = client([
      json(401, { error: { code: "InvalidAuthenticationToken", message: "expired" } }),
    ]);
    const err = await c.request("GET", "https://arm/x").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HttpError);
    expect((err as HttpError).status).toBe(401);
    expect(sent.length).toBe(3);
    expect(asked.length).toBe(3);
    expect(sent.map((s) => s.headers.authorization)).toEqual([
      "Bearer token-1",
      "Bearer token-2",
      "Bearer token-3",
    ]);
  });

  test("one 401 then 200: the answer with the new token", async () => {
    const { c, sent, notes } = client([json(401, { error: "expired" }), json(200, { ok: 1 })]);
    const res = await c.request("GET", "https://arm/x");
    expect(res.status).toBe(200);
    expect(res.attempts).toBe(2);
    expect(sent[1].headers.authorization).toBe("Bearer token-2");
    expect(notes.some((n) => n.includes("401 from arm/x (expired); getting a fresh token"))).toBe(true);
  });

  test("a CAE challenge's claims go to the credential", async () => {
    const claims = JSON.stringify({ access_token: { nbf: { essential: true } } });
    const challenge = `Bearer realm="", error="insufficient_claims", claims="${Buffer.from(claims).toString("base64")}"`;
    const { c, asked } = client([json(401, {}, { "www-authenticate": challenge }), json(200, {})]);
    await c.request("GET", "https://arm/x");
    expect(asked[1].claims).toBe(claims);
    expect(asked[0].claims).toBeUndefined();
  });

  test("an anonymous request is never retried on 401 and carries no token", async () => {
    const { c, sent } = client([json(401, {})]);
    await expect(c.request("GET", "https://blob/x", { anonymous: true })).rejects.toThrow(/HTTP 401/);
    expect(sent.length).toBe(1);
    expect(sent[0].headers.authorization).toBeUndefined();
  });

  test("without a token a 401 is final at once", async () => {
    const { c, sent } = client([json(401, {})], { token: false });
    await expect(c.request("GET", "https://x/y")).rejects.toThrow(/HTTP 401/);
    expect(sent.length).toBe(1);
  });

  test("401 answers `accept`ed by the caller still get their token refreshes first", async () => {
    const { c, sent } = client([json(401, {}), json(401, {}), json(401, {}), json(200, {})]);
    const res = await c.request("GET", "https://arm/x", { accept: [401] });
    expect(res.status).toBe(401);
    expect(sent.length).toBe(3);
  });
});

describe("retries", () => {
  test("retryable statuses until maxAttempts, then the error with the service's message", async () => {
    const { c, sent, notes } = client([json(503, { error: { code: "Busy", message: "try later" } })]);
    await expect(c.request("GET", "https://arm/x?api-version=1")).rejects.toThrow(
      "GET https://arm/x failed: HTTP 503 Busy: try later",
    );
    expect(sent.length).toBe(3);
    expect(notes[0]).toBe("  HTTP 503 from arm/x; retrying in 0.0s (attempt 1/3)");
  });

  test.each([429, 500, 502, 503, 504])("%i is retried", async (status) => {
    const { c, sent } = client([json(status, {}), json(200, {})]);
    expect((await c.request("GET", "https://arm/x")).status).toBe(200);
    expect(sent.length).toBe(2);
  });

  test.each([400, 403, 404, 409, 501])("%i is not retried", async (status) => {
    const { c, sent } = client([json(status, {}), json(200, {})]);
    await expect(c.request("GET", "https://arm/x")).rejects.toBeInstanceOf(HttpError);
    expect(sent.length).toBe(1);
  });

  test("accepted statuses are returned; 2xx always", async () => {
    expect((await client([json(404, {})]).c.request("GET", "https://arm/x", { accept: [404] })).status).toBe(
      404,
    );
    expect(
      (await client([new Response(null, { status: 204 })]).c.request("GET", "https://arm/x")).status,
    ).toBe(204);
    expect((await client([json(299, {})]).c.request("GET", "https://arm/x")).status).toBe(299);
    await expect(client([json(300, {})]).c.request("GET", "https://arm/x")).rejects.toThrow(/HTTP 300/);
    // the Response class refuses statuses below 200: an answer-like object stands in
    const informational = () =>
      ({ status: 199, headers: new Headers(), text: async () => "" }) as unknown as Response;
    await expect(client([informational]).c.request("GET", "https://arm/x")).rejects.toThrow(/HTTP 199/);
  });

  test("a network error is retried, then reported with the attempts", async () => {
    const err = Object.assign(new TypeError("fetch failed"), { cause: { code: "ECONNREFUSED" } });
    const { c, sent, notes } = client([err]);
    await expect(c.request("GET", "https://arm/x?sig=secret")).rejects.toThrow(
      "GET https://arm/x failed after 3 attempts: ECONNREFUSED",
    );
    expect(sent.length).toBe(3);
    expect(notes[0]).toBe("  network error (ECONNREFUSED) on GET arm/x; retrying in 0.0s (attempt 1/3)");
  });

  test("one attempt: 'attempt' in the singular; a cause without a code gives its message, else the error's", async () => {
    const one = { ...FAST, maxAttempts: 1 };
    await expect(
      client([Object.assign(new Error("outer"), { cause: { message: "inner" } })], { retry: one }).c.request(
        "GET",
        "https://arm/x",
      ),
    ).rejects.toThrow("GET https://arm/x failed after 1 attempt: inner");
    await expect(
      client([new Error("plain")], { retry: one }).c.request("GET", "https://arm/x"),
    ).rejects.toThrow("failed after 1 attempt: plain");
  });

  test("a timed-out POST is not sent again; a timed-out GET is", async () => {
    const timeout = () => Object.assign(new Error("t"), { name: "TimeoutError" });
    const post = client([timeout()]);
    await expect(post.c.request("POST", "https://arm/score", { body: {} })).rejects.toThrow(
      "POST https://arm/score failed after 1 attempt: no answer within 5.0s",
    );
    expect(post.sent.length).toBe(1);
    const get = client([Object.assign(new Error("a"), { name: "AbortError" }), json(200, {})]);
    expect((await get.c.request("GET", "https://arm/x")).status).toBe(200);
    expect(get.sent.length).toBe(2);
  });

  test("404 right after creation: retried within the window only", async () => {
    const { c, sent, notes } = client([json(404, {}), json(200, { ok: true })]);
    expect((await c.request("GET", "https://arm/x", { notFoundRetryMs: 60_000 })).status).toBe(200);
    expect(sent.length).toBe(2);
    expect(notes[0]).toBe("  404 from arm/x (may lag right after creation); retrying in 0.0s");
    const none = client([json(404, {}), json(200, {})]);
    await expect(none.c.request("GET", "https://arm/x")).rejects.toThrow(/HTTP 404/);
    expect(none.sent.length).toBe(1);
  });
});

describe("what is sent", () => {
  test("JSON bodies are encoded with their content type; strings go as they are; accept defaults to JSON", async () => {
    const { c, sent } = client([json(200, {})], { token: false });
    await c.request("PUT", "https://x/a", { body: { a: 1 } });
    await c.request("POST", "https://x/b", {
      body: "raw",
      headers: { "Content-Type": "text/plain", Accept: "text/plain" },
    });
    await c.request("GET", "https://x/c");
    expect(sent[0]).toMatchObject({
      method: "PUT",
      body: '{"a":1}',
      headers: { accept: "application/json", "content-type": "application/json" },
    });
    expect(sent[1].body).toBe("raw");
    expect(sent[1].headers).toEqual({ "Content-Type": "text/plain", Accept: "text/plain" });
    expect(sent[2].body).toBeUndefined();
    expect(sent[2].headers).toEqual({ accept: "application/json" });
  });

  test("the token goes only where tokenFor allows, and never over plain http", async () => {
    const f = fakeFetch([json(200, {})]);
    const c = new HttpClient({
      fetch: f.fetch,
      retry: FAST,
      log: () => undefined,
      token: new BearerToken(fakeCredential().credential, "scope-a"),
      tokenFor: (u) => u.hostname === "arm",
    });
    await expect(c.request("GET", "https://evil/x")).rejects.toThrow(
      "refusing to send the access token for scope-a to https://evil: not a host that token is for",
    );
    await expect(c.request("GET", "http://arm/x")).rejects.toThrow(/https required/);
    expect(f.sent.length).toBe(0);
    await c.request("GET", "https://arm/x");
    expect(f.sent[0].headers.authorization).toBe("Bearer token-1");
    expect(c.tokensAcquired).toBe(1);
  });

  test("getJson parses the answer; a body that is not JSON is an error naming the URL", async () => {
    expect(await client([json(200, { a: 1 })]).c.getJson("https://arm/x")).toEqual({ a: 1 });
    await expect(
      client([new Response("<html>", { status: 200 })]).c.getJson("https://arm/x?s=1"),
    ).rejects.toThrow("arm/x answered 200 with a body that is not JSON");
  });

  test("an HttpClient without a token counts none", () => {
    expect(new HttpClient({ retry: FAST }).tokensAcquired).toBe(0);
  });
});

describe("BearerToken", () => {
  test("cached while more than 2 minutes are left; renewed when less, or when forced", async () => {
    const long = fakeCredential(10 * 60_000);
    const t = new BearerToken(long.credential, "s");
    expect(await t.get()).toBe("token-1");
    expect(await t.get()).toBe("token-1");
    expect(await t.get(true)).toBe("token-2");
    expect(t.acquired).toBe(2);
    const short = fakeCredential(60_000);
    const u = new BearerToken(short.credential, "s");
    await u.get();
    expect(await u.get()).toBe("token-2");
    const edge = fakeCredential(120_500);
    const v = new BearerToken(edge.credential, "s");
    await v.get();
    expect(await v.get()).toBe("token-1");
  });

  test("a credential that fails or returns nothing is an error that says how to sign in", async () => {
    const failing = new BearerToken({ getToken: async () => Promise.reject(new Error("no az login")) }, "s1");
    const err = (await failing.get().catch((e: unknown) => e)) as Error & { hints?: string[] };
    expect(err.message).toBe("could not get an Azure access token for s1: no az login");
    expect(JSON.stringify(err)).toBeDefined();
    const none = new BearerToken({ getToken: async () => null }, "s2");
    await expect(none.get()).rejects.toThrow("the credential returned no token for s2");
  });

  test("claims are passed only when given", async () => {
    const cred = fakeCredential();
    const t = new BearerToken(cred.credential, "s");
    await t.get(true, "c1");
    await t.get(true);
    expect(cred.asked.map((a) => a.claims)).toEqual(["c1", undefined]);
    expect(cred.asked[0].scope).toBe("s");
  });
});

describe("pure helpers", () => {
  test("retryPolicyFromEnv: overrides that are numbers >= 0, else the defaults", () => {
    expect(retryPolicyFromEnv({})).toEqual(DEFAULT_RETRY);
    expect(
      retryPolicyFromEnv({
        OPS_RETRY_BASE_MS: "1",
        OPS_RETRY_MAX_MS: "2",
        OPS_RETRY_ATTEMPTS: "3",
        OPS_RETRY_AFTER_MAX_MS: "4",
        OPS_HTTP_TIMEOUT_MS: "0",
      }),
    ).toEqual({ baseDelayMs: 1, maxDelayMs: 2, maxAttempts: 3, maxRetryAfterMs: 4, requestTimeoutMs: 0 });
    expect(
      retryPolicyFromEnv({ OPS_RETRY_BASE_MS: "-1", OPS_RETRY_MAX_MS: "x", OPS_RETRY_ATTEMPTS: "Infinity" }),
    ).toEqual(DEFAULT_RETRY);
  });

  test("backoffMs: doubling from the base, capped, ±25 % jitter", () => {
    const p = { ...DEFAULT_RETRY, baseDelayMs: 100, maxDelayMs: 1000 };
    expect(backoffMs(1, p, () => 0.5)).toBe(100);
    expect(backoffMs(2, p, () => 0.5)).toBe(200);
    expect(backoffMs(3, p, () => 0.5)).toBe(400);
    expect(backoffMs(0, p, () => 0.5)).toBe(100);
    expect(backoffMs(10, p, () => 0.5)).toBe(1000);
    expect(backoffMs(1, p, () => 0)).toBe(75);
    expect(backoffMs(1, p, () => 1)).toBe(125);
  });

  test("retryAfterMs: ms headers, seconds, dates, nonsense", () => {
    const h = (o: Record<string, string>) => new Headers(o);
    expect(retryAfterMs(h({ "x-ms-retry-after-ms": " 250 " }))).toBe(250);
    expect(retryAfterMs(h({ "retry-after-ms": "300" }))).toBe(300);
    expect(retryAfterMs(h({ "x-ms-retry-after-ms": "1.5", "retry-after": "2" }))).toBe(2000);
    expect(retryAfterMs(h({ "retry-after": "1.5" }))).toBe(1500);
    expect(retryAfterMs(h({}))).toBeUndefined();
    expect(retryAfterMs(h({ "retry-after": "soon" }))).toBeUndefined();
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(retryAfterMs(h({ "retry-after": "Thu, 01 Jan 2026 00:00:03 GMT" }), now)).toBe(3000);
    expect(retryAfterMs(h({ "retry-after": "Wed, 31 Dec 2025 23:59:00 GMT" }), now)).toBe(0);
  });

  test("retryDelayMs: the hint capped, else the backoff", () => {
    const p = { ...DEFAULT_RETRY, baseDelayMs: 100, maxRetryAfterMs: 1000 };
    expect(retryDelayMs(1, p, new Headers({ "retry-after": "5" }))).toBe(1000);
    expect(retryDelayMs(1, p, new Headers({ "retry-after": "0.5" }))).toBe(500);
    expect(retryDelayMs(2, p, new Headers(), () => 0.5)).toBe(200);
    expect(retryDelayMs(1, p, undefined, () => 0.5)).toBe(100);
  });

  test("isIdempotent", () => {
    for (const m of ["GET", "head", "PUT", "DELETE", "OPTIONS"]) expect(isIdempotent(m)).toBe(true);
    for (const m of ["POST", "PATCH"]) expect(isIdempotent(m)).toBe(false);
  });

  test("jsonOf", () => {
    expect(jsonOf({ status: 200, text: "[1]", url: "u" })).toEqual([1]);
    expect(() => jsonOf({ status: 502, text: "x", url: "https://h/p?q" })).toThrow(
      "h/p answered 502 with a body that is not JSON",
    );
  });

  test("serviceErrorText: the shapes ARM and the workspace services answer with", () => {
    expect(serviceErrorText('{"error":{"code":"C","message":"m  \\n x"}}')).toBe("C: m x");
    expect(serviceErrorText('{"error":{"message":"only"}}')).toBe("only");
    expect(serviceErrorText('{"error":"plain"}')).toBe("plain");
    expect(serviceErrorText('{"message":"top"}')).toBe("top");
    expect(serviceErrorText('{"other":1}')).toBe('{"other":1}');
    expect(serviceErrorText("  not\n\njson  ")).toBe("not json");
    expect(serviceErrorText("x".repeat(600)).length).toBeLessThan(600);
  });

  test("HttpError: method, URL without its query, status and detail", () => {
    const e = new HttpError(409, "PUT", "https://arm/x?api-version=1", '{"error":{"code":"Conflict"}}');
    expect(e.message).toBe("PUT https://arm/x failed: HTTP 409 Conflict");
    expect(e.name).toBe("HttpError");
    expect(e.body).toBe('{"error":{"code":"Conflict"}}');
    expect(new HttpError(500, "GET", "https://a/b", "").message).toBe("GET https://a/b failed: HTTP 500");
  });

  test("shortUrl", () => {
    expect(shortUrl("https://h:8443/p/q?sig=1")).toBe("h:8443/p/q");
    expect(shortUrl("not a url?x")).toBe("not a url");
  });

  test("claimsChallenge", () => {
    const claims = '{"a":1}';
    const b64 = Buffer.from(claims).toString("base64");
    expect(claimsChallenge(`Bearer error="insufficient_claims", claims="${b64}"`)).toBe(claims);
    expect(claimsChallenge(`Bearer CLAIMS="${b64}"`)).toBe(claims);
    expect(claimsChallenge(null)).toBeUndefined();
    expect(claimsChallenge("")).toBeUndefined();
    expect(claimsChallenge('Bearer realm="x"')).toBeUndefined();
    expect(claimsChallenge(`Bearer claims="${Buffer.from("not json").toString("base64")}"`)).toBeUndefined();
  });

  test("assertSafeForToken: https, or http to the loopback only", () => {
    expect(() => assertSafeForToken("https://x")).not.toThrow();
    for (const u of ["http://127.0.0.1:5/x", "http://localhost/x", "http://[::1]:8/x"])
      expect(() => assertSafeForToken(u)).not.toThrow();
    expect(() => assertSafeForToken("http://example.com/x", "the key")).toThrow(
      "refusing to send the key to http://example.com (https required)",
    );
    expect(() => assertSafeForToken("ftp://localhost/x")).toThrow(/ftp:/);
    expect(() => assertSafeForToken("http://10.0.0.1/x")).toThrow(/an access token/);
  });

  test("isAzureMlServiceUrl: https, default port, an Azure ML service zone", () => {
    expect(isAzureMlServiceUrl(new URL("https://westeurope.api.azureml.ms/mlflow"))).toBe(true);
    expect(isAzureMlServiceUrl(new URL("https://usgovvirginia.api.ml.azure.us/x"))).toBe(true);
    expect(isAzureMlServiceUrl(new URL("https://chinaeast2.api.ml.azure.cn/x"))).toBe(true);
    expect(isAzureMlServiceUrl(new URL("http://westeurope.api.azureml.ms/x"))).toBe(false);
    expect(isAzureMlServiceUrl(new URL("https://westeurope.api.azureml.ms:444/x"))).toBe(false);
    expect(isAzureMlServiceUrl(new URL("https://api.azureml.ms/x"))).toBe(false);
    expect(isAzureMlServiceUrl(new URL("https://x.api.azureml.ms.evil.com/x"))).toBe(false);
    expect(AZURE_ML_SERVICE_HOST.test("evil.westeurope.api.azureml.ms")).toBe(true);
  });

  test("originOf", () => {
    expect(originOf("https://h:1/p?q")).toBe("https://h:1");
    expect(originOf("/p", "https://h")).toBe("https://h");
    expect(originOf("nope")).toBeUndefined();
  });
});
