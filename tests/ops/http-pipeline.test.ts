/**
 * lib/azure/http.ts over its default transport (core-rest-pipeline's Node HttpClient, no `fetch` injected), against
 * plain-http servers on the loopback interface: the retry strategy, the token policy, redirects, timeouts and what
 * reaches the wire. tests/ops/lib.test.ts and tests/unit/http.mutation.test.ts pin the rest through a fake fetch.
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import type { AccessToken, TokenCredential } from "@azure/identity";
import { BearerToken, HttpClient, HttpError, type RetryPolicy } from "../../lib/azure/http";
import { REDACTED, registerSecret } from "../../lib/toolkit/redact";

const FAST: RetryPolicy = {
  baseDelayMs: 1,
  maxDelayMs: 1,
  maxAttempts: 3,
  maxRetryAfterMs: 50,
  requestTimeoutMs: 5000,
};

interface Seen {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

type Answer = { status: number; headers?: Record<string, string>; body?: string } | "hang";

/** A loopback server that answers from `answer` and records every request. */
async function serve(answer: (req: Seen, n: number) => Answer) {
  const seen: Seen[] = [];
  const sockets = new Set<import("node:net").Socket>();
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString("utf8")));
    req.on("end", () => {
      const s: Seen = { method: String(req.method), path: String(req.url), headers: req.headers, body };
      seen.push(s);
      const a = answer(s, seen.length);
      if (a === "hang") return;
      res.writeHead(a.status, { "content-type": "application/json", ...a.headers });
      res.end(a.body ?? "{}");
    });
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const close = async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  };
  return { url, seen, close };
}

function credential() {
  const asked: Array<string | undefined> = [];
  const cred: TokenCredential = {
    getToken: async (_scope, options): Promise<AccessToken> => {
      asked.push((options as { claims?: string } | undefined)?.claims);
      return { token: `t${asked.length}`, expiresOnTimestamp: Date.now() + 3600_000 };
    },
  };
  return { cred, asked };
}

function client(o: { retry?: Partial<RetryPolicy>; token?: BearerToken } = {}) {
  const notes: string[] = [];
  const c = new HttpClient({ retry: { ...FAST, ...o.retry }, log: (m) => notes.push(m), token: o.token });
  return { c, notes };
}

describe("HttpClient over core-rest-pipeline's Node transport", () => {
  test("503 with x-ms-retry-after-ms, then 200: one note per retry, the attempts and the answer's latency", async () => {
    const s = await serve((_req, n) =>
      n === 1
        ? { status: 503, headers: { "x-ms-retry-after-ms": "20" } }
        : { status: 200, body: '{"ok":true}' },
    );
    try {
      const { c, notes } = client();
      const res = await c.request("GET", `${s.url}/r?api-version=1`);
      expect(res.status).toBe(200);
      expect(res.text).toBe('{"ok":true}');
      expect(res.headers.get("content-type")).toBe("application/json");
      expect(res.attempts).toBe(2);
      expect(res.latencyMs).toBeGreaterThan(0);
      expect(notes).toEqual([`  HTTP 503 from ${s.url.slice(7)}/r; retrying in 0.0s (attempt 1/3)`]);
      expect(s.seen).toHaveLength(2);
    } finally {
      await s.close();
    }
  });

  test("a retryable status to the end: maxAttempts tries, then HttpError with the service's message", async () => {
    const s = await serve(() => ({ status: 500, body: '{"error":{"code":"Internal","message":"boom"}}' }));
    try {
      const { c } = client();
      const err = await c.request("GET", `${s.url}/x`).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(HttpError);
      expect((err as HttpError).message).toBe(`GET ${s.url}/x failed: HTTP 500 Internal: boom`);
      expect(s.seen).toHaveLength(3);
    } finally {
      await s.close();
    }
  });

  test("a refused connection: retried, then reported by its code after the attempts", async () => {
    const s = await serve(() => ({ status: 200 }));
    const url = `${s.url}/gone`;
    await s.close(); // nothing listens there any more
    const { c, notes } = client({ retry: { maxAttempts: 2 } });
    await expect(c.request("GET", url)).rejects.toThrow(`GET ${url} failed after 2 attempts: ECONNREFUSED`);
    expect(notes).toEqual([
      `  network error (ECONNREFUSED) on GET ${url.slice(7)}; retrying in 0.0s (attempt 1/2)`,
    ]);
  });

  test("timeouts: a GET is sent again, a POST is not (it may still be running)", async () => {
    const s = await serve(() => "hang");
    try {
      const { c } = client({ retry: { requestTimeoutMs: 200 } });
      await expect(c.request("POST", `${s.url}/score`, { body: "{}" })).rejects.toThrow(
        `POST ${s.url}/score failed after 1 attempt: no answer within 0.2s`,
      );
      expect(s.seen).toHaveLength(1);
      await expect(c.request("GET", `${s.url}/slow`)).rejects.toThrow(
        `GET ${s.url}/slow failed after 3 attempts: no answer within 0.2s`,
      );
      expect(s.seen.filter((q) => q.path === "/slow")).toHaveLength(3);
    } finally {
      await s.close();
    }
  });

  test("on the wire: the caller's headers, JSON's content type and length, the body, the token", async () => {
    const s = await serve(() => ({ status: 200 }));
    try {
      const { cred } = credential();
      const { c } = client({ token: new BearerToken(cred, "scope") });
      await c.request("PUT", `${s.url}/a`, { body: { a: 1 }, headers: { "x-ms-client-request-id": "r1" } });
      await c.request("POST", `${s.url}/b`, {
        body: "raw",
        headers: { "Content-Type": "text/plain" },
        anonymous: true,
      });
      const [put, post] = s.seen;
      expect(put).toMatchObject({ method: "PUT", body: '{"a":1}' });
      expect(put.headers).toMatchObject({
        accept: "application/json",
        "content-type": "application/json",
        "content-length": "7",
        authorization: "Bearer t1",
        "x-ms-client-request-id": "r1",
      });
      expect(put.headers["transfer-encoding"]).toBeUndefined();
      expect(post.body).toBe("raw");
      expect(post.headers["content-type"]).toBe("text/plain");
      expect(post.headers.authorization).toBeUndefined();
    } finally {
      await s.close();
    }
  });

  test("401 with a CAE challenge: the claims go to the credential, the new token to the server", async () => {
    const claims = '{"access_token":{"nbf":{"essential":true}}}';
    const challenge = `Bearer error="insufficient_claims", claims="${Buffer.from(claims).toString("base64")}"`;
    const s = await serve((_req, n) =>
      n === 1
        ? { status: 401, headers: { "www-authenticate": challenge }, body: '{"error":"revoked"}' }
        : { status: 200 },
    );
    try {
      const { cred, asked } = credential();
      const { c, notes } = client({ token: new BearerToken(cred, "scope") });
      expect((await c.request("GET", `${s.url}/x`)).status).toBe(200);
      expect(asked).toEqual([undefined, claims]);
      expect(s.seen.map((q) => q.headers.authorization)).toEqual(["Bearer t1", "Bearer t2"]);
      expect(notes).toEqual([`  401 from ${s.url.slice(7)}/x (revoked); getting a fresh token`]);
    } finally {
      await s.close();
    }
  });

  test("a 404 right after a submit is retried within its window", async () => {
    const s = await serve((_req, n) => (n < 3 ? { status: 404 } : { status: 200, body: '{"id":"x"}' }));
    try {
      const { c, notes } = client();
      expect(await c.getJson(`${s.url}/new`, { notFoundRetryMs: 10_000 })).toEqual({ id: "x" });
      expect(s.seen).toHaveLength(3);
      expect(notes[0]).toBe(
        `  404 from ${s.url.slice(7)}/new (may lag right after creation); retrying in 0.0s`,
      );
    } finally {
      await s.close();
    }
  });

  test("redirects: followed on the same origin (with the token), not to another origin", async () => {
    const other = await serve(() => ({ status: 200 }));
    const s = await serve((req) =>
      req.path === "/old"
        ? { status: 302, headers: { location: "/new" } }
        : req.path === "/away"
          ? { status: 302, headers: { location: `${other.url}/x` } }
          : { status: 200, body: '{"here":true}' },
    );
    try {
      const { cred } = credential();
      const { c } = client({ token: new BearerToken(cred, "scope") });
      expect(await c.getJson(`${s.url}/old`)).toEqual({ here: true });
      expect(s.seen.map((q) => [q.path, q.headers.authorization])).toEqual([
        ["/old", "Bearer t1"],
        ["/new", "Bearer t1"],
      ]);
      await expect(c.request("GET", `${s.url}/away`)).rejects.toThrow(/HTTP 302/);
      expect(other.seen).toHaveLength(0);
    } finally {
      await s.close();
      await other.close();
    }
  });

  test("a failure's text is redacted before it is logged or thrown", async () => {
    const secret = "pipeline-secret-0123456789abcdef";
    registerSecret(secret);
    const notes: string[] = [];
    const c = new HttpClient({
      retry: { ...FAST, maxAttempts: 2 },
      log: (m) => notes.push(m),
      fetch: async () => {
        throw new Error(`socket hang up near ${secret}`);
      },
    });
    const err = (await c.request("GET", "https://arm.test/x").catch((e: unknown) => e)) as Error;
    expect(err.message).toBe(
      `GET https://arm.test/x failed after 2 attempts: socket hang up near ${REDACTED}`,
    );
    expect(notes.join("\n")).not.toContain(secret);
  });
});
