/**
 * Blob service routes for FakeAzure: path-style URLs (/<account>/<container>/<blob>), Azure's XML list shape, and the
 * service's credential checks (SharedKey, its signature verified with the account key, unless the account refuses
 * keys; SAS; storage-audience bearer tokens).
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import type { FakeAzure, FakeReq, FakeRes } from "./fakeAzure";

const xmlEscape = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

export interface BlobStore {
  account: string;
  container: string;
  blobs: Map<string, Buffer>;
  /** how the requests authenticated: "SharedKey", "SAS" or "Bearer" */
  auth: string[];
  /** list page size (forces NextMarker paging) */
  pageSize: number;
  /** whether the container exists (installBlobWrites creates it); absent: it does */
  containerExists?: boolean;
  /** content type of each blob written through installBlobWrites */
  contentTypes?: Map<string, string>;
}

export interface BlobAuthOptions {
  sasSig?: string;
  /**
   * the account key (base64) a SharedKey signature must be made with (sharedKeySignature); without it every
   * SharedKey request is refused (403 AuthenticationFailed), as a signature made with no known key is wrong
   */
  accountKey?: string;
  /** accept Entra bearer tokens the fake issued for Azure Storage (see isStorageAudience) */
  bearer?: boolean;
  /**
   * the account's `allowSharedKeyAccess` (Azure's default: true); false answers SharedKey with the service's
   * 403 KeyBasedAuthenticationNotPermitted
   */
  allowSharedKeyAccess?: boolean;
}

/**
 * Audiences a storage token may carry: `https://storage.azure.com/` (any account) or the account's own blob endpoint
 * (Learn: rest/api/storageservices/authorize-with-azure-active-directory). The fake's Entra puts the requested scope
 * in the token's `aud` claim, so an ARM token (scope `<ARM endpoint>/.default`) is refused here.
 */
export function isStorageAudience(aud: unknown, account: string): boolean {
  if (typeof aud !== "string") return false;
  const resource = aud.replace(/\/\.default$/, "").replace(/\/+$/, "");
  return resource === "https://storage.azure.com" || resource === `https://${account}.blob.core.windows.net`;
}

/** The `aud` claim of a JWT the fake issued (header.payload.signature, base64url JSON payload). */
export function audienceOf(token: string): unknown {
  try {
    return (
      JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString("utf8")) as { aud?: unknown }
    ).aud;
  } catch {
    return undefined;
  }
}

type Verdict = { ok: true } | { ok: false; res: FakeRes };

/** One header as the service reads it for the string to sign ("" when absent; repeated values joined). */
function headerValue(req: FakeReq, name: string): string {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(",") : (v ?? "");
}

/**
 * The Blob service's string to sign for SharedKey (version 2015-02-21 and later) and its HMAC-SHA256 with the
 * account key: VERB, the standard headers (Content-Length empty when 0), the canonicalized x-ms-* headers and the
 * canonicalized resource `/<account><encoded path>` plus each query parameter `\n<name>:<values>`, names
 * lowercased and sorted. Path-style URLs (`/<account>/<container>/<blob>`, this fake's) keep the account in the
 * path, so it appears twice, as with the storage emulator.
 */
// "StringToSign = VERB + "\n" + Content-Encoding + "\n" + Content-Language + "\n" + Content-Length + "\n" + Content-MD5 + "\n" + Content-Type + "\n" + Date + "\n" + If-Modified-Since + "\n" + If-Match + "\n" + If-None-Match + "\n" + If-Unmodified-Since + "\n" + Range + "\n" + CanonicalizedHeaders + CanonicalizedResource;" (Learn: rest/api/storageservices/authorize-with-shared-key, "Blob, Queue, and File services (Shared Key authorization)")
export function sharedKeySignature(req: FakeReq, account: string, key: string): string {
  const length = headerValue(req, "content-length");
  const standard = [
    "content-encoding",
    "content-language",
    "content-length",
    "content-md5",
    "content-type",
    "date",
    "if-modified-since",
    "if-match",
    "if-none-match",
    "if-unmodified-since",
    "range",
  ].map((n) => (n === "content-length" && length === "0" ? "" : headerValue(req, n)));
  const canonicalHeaders = Object.keys(req.headers)
    .map((n) => n.toLowerCase())
    .filter((n) => n.startsWith("x-ms-"))
    .sort()
    .map((n) => `${n}:${headerValue(req, n).trim()}\n`)
    .join("");
  const params = new Map<string, string[]>();
  for (const [k, v] of req.query) params.set(k.toLowerCase(), [...(params.get(k.toLowerCase()) ?? []), v]);
  const canonicalResource =
    `/${account}${req.rawPath}` +
    [...params.keys()]
      .sort()
      .map((k) => `\n${k}:${params.get(k)!.sort().join(",")}`)
      .join("");
  const stringToSign = [req.method, ...standard].join("\n") + "\n" + canonicalHeaders + canonicalResource;
  return createHmac("sha256", Buffer.from(key, "base64")).update(stringToSign, "utf8").digest("base64");
}

/** Whether `given` is the signature the service computes (constant-time compare, as a service would). */
function signatureMatches(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Checks a request's credential: SharedKey for `account` (unless the account refuses keys), a SAS with
 * `sig=<sasSig>`, or (`bearer`) an unexpired token the fake issued for a storage audience.
 */
function blobAuthorizer(fake: FakeAzure, store: BlobStore, opts: BlobAuthOptions): (req: FakeReq) => Verdict {
  return (req) => {
    const auth = req.headers.authorization;
    if (
      typeof auth === "string" &&
      auth.startsWith(`SharedKey ${store.account}:`) &&
      req.headers["x-ms-date"]
    ) {
      if (opts.allowSharedKeyAccess === false) {
        store.auth.push("SharedKey");
        return { ok: false, res: keyBasedAuthNotPermitted };
      }
      const given = auth.slice(`SharedKey ${store.account}:`.length);
      if (
        !opts.accountKey ||
        !signatureMatches(given, sharedKeySignature(req, store.account, opts.accountKey))
      ) {
        // a signature made with another key (or over another request) is refused
        store.auth.push("SharedKey:invalid");
        return { ok: false, res: signatureMismatch };
      }
      store.auth.push("SharedKey");
      return { ok: true };
    }
    if (opts.sasSig && req.query.get("sig") === opts.sasSig) {
      store.auth.push("SAS");
      return { ok: true };
    }
    if (
      opts.bearer &&
      req.token &&
      fake.issued.some((t) => t.token === req.token && t.expiresAt > Date.now())
    ) {
      store.auth.push("Bearer");
      if (!isStorageAudience(audienceOf(req.token), store.account)) return { ok: false, res: wrongAudience };
      return { ok: true };
    }
    return { ok: false, res: denied };
  };
}

/** A Blob service error in its XML shape, with the code also in `x-ms-error-code` (what the SDK reads). */
function blobError(status: number, code: string, message: string): FakeRes {
  return {
    status,
    headers: { "content-type": "application/xml", "x-ms-error-code": code },
    body: `<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`,
  };
}

const denied = blobError(403, "AuthenticationFailed", "Server failed to authenticate the request.");
/** A SharedKey signature that is not the service's own over the request. */
// 403 AuthenticationFailed, "Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature." (Learn: rest/api/storageservices/common-rest-api-error-codes)
const signatureMismatch = blobError(
  403,
  "AuthenticationFailed",
  "Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.",
);
/** What the service answers a SharedKey request when the account has `allowSharedKeyAccess: false`. */
const keyBasedAuthNotPermitted = blobError(
  403,
  "KeyBasedAuthenticationNotPermitted",
  "Key based authentication is not permitted on this storage account.",
);
/** A bearer token for another resource (an ARM token, say): the service's audience check fails. */
const wrongAudience = blobError(
  401,
  "InvalidAuthenticationInfo",
  "Server failed to authenticate the request. Audience validation failed.",
);

/** Serves `blobs` (list + read) and checks each request's credential (see blobAuthorizer). */
export function installBlobs(fake: FakeAzure, store: BlobStore, opts: BlobAuthOptions = {}): void {
  const base = `/${store.account}/${store.container}`;
  const authorized = blobAuthorizer(fake, store, opts);
  fake.on(
    "GET",
    base,
    (req) => {
      const v = authorized(req);
      if (!v.ok) return v.res;
      if (req.query.get("restype") !== "container" || req.query.get("comp") !== "list") {
        return { status: 400, body: "unsupported container operation" };
      }
      const prefix = req.query.get("prefix") ?? "";
      const names = [...store.blobs.keys()].filter((n) => n.startsWith(prefix)).sort();
      const start = Number(req.query.get("marker") || "0");
      const page = names.slice(start, start + store.pageSize);
      const next = start + store.pageSize < names.length ? String(start + store.pageSize) : "";
      const blobsXml = page
        .map(
          (n) =>
            `<Blob><Name>${xmlEscape(n)}</Name><Properties><Creation-Time>Wed, 26 Nov 2026 10:00:00 GMT</Creation-Time>` +
            `<Last-Modified>Wed, 26 Nov 2026 10:00:00 GMT</Last-Modified><Etag>0x8DD${n.length}</Etag>` +
            `<Content-Length>${store.blobs.get(n)!.length}</Content-Length><Content-Type>application/octet-stream</Content-Type>` +
            `<BlobType>BlockBlob</BlobType><AccessTier>Hot</AccessTier><LeaseStatus>unlocked</LeaseStatus><LeaseState>available</LeaseState>` +
            `<ServerEncrypted>true</ServerEncrypted></Properties><OrMetadata /></Blob>`,
        )
        .join("");
      const body =
        `<?xml version="1.0" encoding="utf-8"?><EnumerationResults ServiceEndpoint="${fake.url}/${store.account}/" ContainerName="${store.container}">` +
        `<Prefix>${xmlEscape(prefix)}</Prefix><Blobs>${blobsXml}</Blobs><NextMarker>${next}</NextMarker></EnumerationResults>`;
      return {
        status: 200,
        headers: { "content-type": "application/xml", "x-ms-version": "2025-11-05" },
        body,
      };
    },
    { open: true },
  );
  fake.on(
    "GET",
    new RegExp(`^${base}/.+`),
    (req): FakeRes => {
      const v = authorized(req);
      if (!v.ok) return v.res;
      const name = req.path.slice(base.length + 1);
      const data = store.blobs.get(name);
      if (!data) return { status: 404, headers: { "x-ms-error-code": "BlobNotFound" }, body: "" };
      return {
        status: 200,
        headers: {
          "content-type": "application/octet-stream",
          "x-ms-blob-type": "BlockBlob",
          etag: `"0x8DD${name.length}"`,
          "last-modified": "Wed, 26 Nov 2026 10:00:00 GMT",
          "x-ms-version": "2025-11-05",
        },
        body: data,
      };
    },
    { open: true },
  );
}

/**
 * Write side of the Blob service: Create Container (`PUT ?restype=container`: 201, or 409 ContainerAlreadyExists) and
 * Put Blob (`PUT /<container>/<blob>`, BlockBlob; 404 ContainerNotFound while the container is missing), recording
 * each blob's bytes and `x-ms-blob-content-type`. By default the account is the workspace's as
 * components/mlWorkspace.ts declares it: storage bearer tokens only, SharedKey refused (allowSharedKeyAccess: false).
 */
export function installBlobWrites(
  fake: FakeAzure,
  store: BlobStore,
  opts: BlobAuthOptions = { bearer: true, allowSharedKeyAccess: false },
): void {
  const base = `/${store.account}/${store.container}`;
  const authorized = blobAuthorizer(fake, store, opts);
  store.contentTypes ??= new Map();
  fake.on(
    "PUT",
    base,
    (req) => {
      const v = authorized(req);
      if (!v.ok) return v.res;
      if (req.query.get("restype") !== "container")
        return { status: 400, body: "unsupported container operation" };
      if (store.containerExists !== false)
        return blobError(409, "ContainerAlreadyExists", "The specified container already exists.");
      store.containerExists = true;
      return { status: 201, headers: { etag: '"0x8DD1"', "last-modified": "Wed, 26 Nov 2026 10:00:00 GMT" } };
    },
    { open: true },
  );
  fake.on(
    "PUT",
    new RegExp(`^${base}/.+`),
    (req) => {
      const v = authorized(req);
      if (!v.ok) return v.res;
      if (store.containerExists === false)
        return blobError(404, "ContainerNotFound", "The specified container does not exist.");
      if (req.headers["x-ms-blob-type"] !== "BlockBlob") return { status: 400, body: "BlockBlob only" };
      const name = req.path.slice(base.length + 1);
      // FakeAzure keeps request bodies as UTF-8 text: fine for the text files the tests upload.
      store.blobs.set(name, Buffer.from(req.body, "utf8"));
      store.contentTypes!.set(name, String(req.headers["x-ms-blob-content-type"] ?? ""));
      return {
        status: 201,
        headers: { etag: `"0x8DD${name.length}"`, "last-modified": "Wed, 26 Nov 2026 10:00:00 GMT" },
      };
    },
    { open: true },
  );
}
