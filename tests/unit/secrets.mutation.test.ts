// What the credential and the HTTP client register as secrets never appears in what they print (redact), and the
// sign-in hint a failed credential gives (lib/azure/credential.ts, lib/azure/http.ts).
import { BearerToken, retryAfterMs, serviceErrorText } from "../../lib/azure/http";
import { githubIdToken, githubOidc } from "../../lib/azure/credential";
import { HttpClient } from "../../lib/azure/http";
import { redact } from "../../lib/toolkit/redact";

test("githubOidc registers the ID-token request token as a secret", () => {
  const token = "request-token-q1w2e3r4t5";
  githubOidc({
    ACTIONS_ID_TOKEN_REQUEST_URL: "https://gh.example/req",
    ACTIONS_ID_TOKEN_REQUEST_TOKEN: token,
    AZURE_TENANT_ID: "t",
    AZURE_CLIENT_ID: "c",
  });
  expect(redact(`sent ${token}`)).not.toContain(token);
});

test("githubIdToken registers the ID token it got", async () => {
  const idToken = "gh-id-token-z9x8c7v6b5";
  const http = new HttpClient({
    retry: { baseDelayMs: 0, maxDelayMs: 0, maxAttempts: 1, maxRetryAfterMs: 0, requestTimeoutMs: 5000 },
    log: () => undefined,
    fetch: async () => new Response(JSON.stringify({ value: idToken }), { status: 200 }),
  });
  await githubIdToken(
    { requestUrl: "https://gh.example/req", requestToken: "rt", tenantId: "t", clientId: "c" },
    http,
  );
  expect(redact(`got ${idToken}`)).not.toContain(idToken);
});

test("BearerToken registers each access token it hands out", async () => {
  const access = "access-token-m1n2b3v4c5";
  const t = new BearerToken(
    { getToken: async () => ({ token: access, expiresOnTimestamp: Date.now() + 3.6e6 }) },
    "s",
  );
  await t.get();
  expect(redact(`Bearer ${access}`)).not.toContain(access);
});

test("a credential that rejects with no error at all still gives the message and the sign-in hint", async () => {
  const t = new BearerToken({ getToken: () => Promise.reject(undefined) }, "s");
  const err = (await t.get().catch((e: unknown) => e)) as Error & { hints: string[] };
  expect(err.message).toBe("could not get an Azure access token for s: undefined");
  expect(err.hints).toEqual([
    "Sign in with `az login` (or set AZURE_CLIENT_ID/AZURE_TENANT_ID with a secret, certificate or federated token) and retry.",
  ]);
});

test("retryAfterMs: seconds are all digits (a fraction allowed), nothing else", () => {
  const ra = (v: string) => retryAfterMs(new Headers({ "retry-after": v }), 0);
  expect(ra("12")).toBe(12_000);
  expect(ra("1.25")).toBe(1250);
  expect(ra("a1")).toBeUndefined();
  expect(ra("1a")).toBeUndefined();
});

test("serviceErrorText: a message that is not a string is not taken as the detail", () => {
  expect(serviceErrorText('{"message":5}')).toBe('{"message":5}');
});
