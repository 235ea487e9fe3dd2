// An ArmClient whose HTTP goes to an in-process handler instead of the network (no token, no retry waits), so that
// the ARM-calling helpers run inside the jest process where Stryker's active mutant is switched on.
import { ArmClient } from "../../../lib/azure/arm";
import { HttpClient } from "../../../lib/azure/http";

export const ARM = "https://arm.test";

export interface FakeRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  body: unknown;
}

export type FakeAnswer = { status: number; body?: unknown; headers?: Record<string, string> };

export function fakeArm(handle: (req: FakeRequest) => FakeAnswer | undefined): {
  arm: ArmClient;
  requests: FakeRequest[];
} {
  const requests: FakeRequest[] = [];
  const arm = new ArmClient(ARM, {
    getToken: async () => ({ token: "t", expiresOnTimestamp: Date.now() + 3.6e6 }),
  });
  const http = new HttpClient({
    retry: { baseDelayMs: 0, maxDelayMs: 0, maxAttempts: 1, maxRetryAfterMs: 0, requestTimeoutMs: 5000 },
    log: () => undefined,
    fetch: async (url, init) => {
      const u = new URL(url);
      const req: FakeRequest = {
        method: String(init.method),
        path: decodeURIComponent(u.pathname),
        query: u.searchParams,
        body: typeof init.body === "string" ? JSON.parse(init.body) : undefined,
      };
      requests.push(req);
      const a = handle(req) ?? { status: 404, body: { error: { code: "NotFound" } } };
      return new Response(a.status === 204 ? null : JSON.stringify(a.body ?? {}), {
        status: a.status,
        headers: { "content-type": "application/json", ...(a.headers ?? {}) },
      });
    },
  });
  Object.defineProperty(arm, "http", { value: http });
  return { arm, requests };
}
