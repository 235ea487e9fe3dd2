// Answers the requests that Node's `https.request` would send (the transport of @azure/core-rest-pipeline, which
// @azure/identity's MSAL client and lib/azure/http.ts use) from an in-process handler: no sockets, no certificates.
// What the credential sends on the wire (hosts, paths, methods, form fields) is then observable in-process.
import type * as https from "node:https";
import { PassThrough, Readable } from "node:stream";

export interface SentRequest {
  method: string;
  url: string;
  body: string;
}

export type HttpsAnswer = { status: number; body?: unknown };

/** Intercepts `https.request` until the returned `restore` is called. */
export function interceptHttps(handle: (req: SentRequest) => HttpsAnswer): {
  sent: SentRequest[];
  restore: () => void;
} {
  const sent: SentRequest[] = [];
  // the module object itself (an `import * as` namespace's properties cannot be redefined)
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require("node:https") as { request: typeof https.request };
  const original = mod.request;
  mod.request = ((options: https.RequestOptions, onResponse: (res: Readable) => void) => {
    const chunks: Buffer[] = [];
    const req = new PassThrough();
    req.on("data", (c: Buffer) => chunks.push(Buffer.from(c)));
    req.on("end", () => {
      const port = options.port ? `:${options.port}` : "";
      const r: SentRequest = {
        method: String(options.method ?? ""),
        url: `https://${options.hostname}${port}${options.path}`,
        body: Buffer.concat(chunks).toString("utf8"),
      };
      sent.push(r);
      const a = handle(r);
      const text = typeof a.body === "string" ? a.body : JSON.stringify(a.body ?? {});
      const res = Readable.from([Buffer.from(text)]) as Readable & {
        statusCode: number;
        headers: Record<string, string>;
      };
      res.statusCode = a.status;
      res.headers = { "content-type": "application/json" };
      setImmediate(() => onResponse(res));
    });
    req.resume();
    return req;
  }) as unknown as typeof https.request;
  return { sent, restore: () => void (mod.request = original) };
}
