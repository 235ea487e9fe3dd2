/**
 * A local stand-in for the Azure endpoints the ops CLIs talk to, over HTTPS on 127.0.0.1 with a self-signed
 * certificate generated at test time (the CLI child processes trust it through NODE_EXTRA_CA_CERTS):
 *   - Entra ID (AAD): OpenID metadata + the v2.0 token endpoint for the client-credentials grant, with the client
 *     secret @azure/identity's EnvironmentCredential (inside DefaultAzureCredential) sends, or with a GitHub
 *     ID token as client assertion (`github.ts`, which also serves GitHub's ID-token endpoint);
 *   - ARM and the workspace data-plane services, answering with the documented JSON shapes; every such request
 *     must carry a token this fake issued, that has not expired (else ARM's 401 ExpiredAuthenticationToken) and
 *     that was issued for the route's audience (ARM's unless the route says otherwise; else ARM's 401
 *     InvalidAuthenticationTokenAudience): Entra records the requested scope's resource as the token's `aud`;
 *   - a request no route answers is recorded, and fails the test (an afterEach every fake registers) unless the
 *     test calls allowUnrouted();
 *   - Blob storage (path-style URLs, the XML list shape), checked for a SharedKey/SAS credential.
 * Test-only: nothing in ops/ knows about it.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as https from "node:https";
import type { IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { FakeGithubOidc } from "./github";

export interface FakeReq {
  method: string;
  path: string;
  /** the path as sent (percent-encoded), as a SharedKey signature covers it */
  rawPath: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: string;
  /** the body's bytes as received (binary uploads; `body` is them as UTF-8 text) */
  bytes?: Buffer;
  /** the bearer token it carried, if any */
  token?: string;
}

export interface FakeRes {
  status: number;
  headers?: Record<string, string>;
  /** object → JSON; string/Buffer → as is */
  body?: unknown;
}

export type Handler = (req: FakeReq, fake: FakeAzure) => FakeRes | Promise<FakeRes>;

interface Route {
  method: string;
  match: (p: string) => boolean;
  handler: Handler;
  /** no bearer token needed (AAD, SAS links, blob with its own auth) */
  open: boolean;
  /** the audiences a bearer token must carry (non-open routes; default: ARM's, see armAudiences) */
  audiences?: (fake: FakeAzure) => string[];
}

/** An audience without its trailing slashes (Entra writes ARM's as `https://management.azure.com/`). */
export const normalizeAudience = (aud: string): string => aud.replace(/\/\.default$/, "").replace(/\/+$/, "");

/** The audience of a token Entra issues for `scope`: the resource's identifier, without `/.default`. */
// "The value of the scope parameter is constructed by using the identifier URI for the resource ... suffixed with .default" (Learn: identity-platform/scopes-oidc, "The .default scope"); the token's `aud` is that resource
export const audienceOfScope = (scope: string): string => scope.replace(/\/\.default$/, "");

/** The Azure ML data plane's audience (scoring with AADToken auth; Learn: how-to-authenticate-online-endpoint). */
export const ML_AUDIENCE = "https://ml.azure.com";

/**
 * Audiences ARM takes: management.azure.com and management.core.windows.net, with or without the slash (its 401
 * lists them, see wrongAudience),
 * and, for this fake standing in as a custom ARM endpoint, its own origin (lib/azure/credential.ts armScope asks a
 * non-public endpoint's own origin, as a sovereign cloud's ARM is). MLflow and run history take the ARM token too.
 */
export function armAudiences(fake: FakeAzure): string[] {
  return ["https://management.azure.com", "https://management.core.windows.net", fake.url];
}

const b64url = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");

export const SUB = "11111111-2222-3333-4444-555555555555";
export const RG = "rg-mnist";
export const WS = "mlw-test";
export const WS_ID = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.MachineLearningServices/workspaces/${WS}`;

export class FakeAzure {
  readonly tenant = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
  readonly clientId = "99999999-8888-7777-6666-555555555555";
  readonly clientSecret = `fake-client-secret-${randomBytes(12).toString("hex")}`;
  /** lifetime of issued tokens (what the token endpoint says and what ARM enforces) */
  tokenLifetimeSec = 3600;
  readonly issued: Array<{
    token: string;
    /** the `aud` claim: the requested scope's resource (audienceOfScope) */
    aud: string;
    expiresAt: number;
    revoked?: boolean;
    withClaims: boolean;
    /** the GitHub ID token it was exchanged for, when it came from a client assertion */
    assertion?: string;
  }> = [];
  readonly github = new FakeGithubOidc(this);
  readonly requests: FakeReq[] = [];
  /** requests no route answered (each is a test failure unless the test allowed them, see allowUnrouted) */
  readonly unrouted: FakeReq[] = [];
  /** extra values that must never appear in CLI output (keys, SAS signatures) */
  readonly extraSecrets: string[] = [];
  url = "";
  caFile = "";
  private server?: https.Server;
  private routes: Route[] = [];
  private dir = "";
  private unroutedAllowed = false;

  constructor() {
    // Every suite that creates a fake gets the check: a request no route answers is a test failure (the CLI called
    // something this test did not mean it to), unless the test says it means it (allowUnrouted).
    if (typeof afterEach === "function") afterEach(() => this.assertAllRouted());
  }

  /** This test means requests to go unanswered (404 NoRoute), e.g. run history that has no details for a run. */
  allowUnrouted(): void {
    this.unroutedAllowed = true;
  }

  /** Throws when a request found no route and the test did not allow it; forgets them either way. */
  assertAllRouted(): void {
    const missed = this.unrouted.splice(0).map((r) => `${r.method} ${r.path}`);
    const allowed = this.unroutedAllowed;
    this.unroutedAllowed = false;
    if (missed.length && !allowed)
      throw new Error(`the fake Azure had no route for: ${[...new Set(missed)].join(", ")}`);
  }

  async start(): Promise<void> {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "fake-azure-"));
    const key = path.join(this.dir, "key.pem");
    this.caFile = path.join(this.dir, "cert.pem");
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        key,
        "-out",
        this.caFile,
        "-days",
        "2",
        "-subj",
        "/CN=127.0.0.1",
        "-addext",
        "subjectAltName=IP:127.0.0.1",
      ],
      { stdio: "ignore" },
    );
    this.server = https.createServer(
      { key: fs.readFileSync(key), cert: fs.readFileSync(this.caFile) },
      (req, res) => {
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => {
          void this.dispatch(
            req.method ?? "GET",
            req.url ?? "/",
            req.headers,
            Buffer.concat(chunks).toString("utf8"),
            Buffer.concat(chunks),
          ).then(
            (r) => {
              const headers: Record<string, string> = { ...r.headers };
              let payload: string | Buffer = "";
              if (Buffer.isBuffer(r.body) || typeof r.body === "string") payload = r.body;
              else if (r.body !== undefined) {
                payload = JSON.stringify(r.body);
                headers["content-type"] ??= "application/json; charset=utf-8";
              }
              res.writeHead(r.status, { ...headers, "content-length": Buffer.byteLength(payload) });
              res.end(payload);
            },
            (err: Error) => {
              res.writeHead(500, { "content-type": "text/plain" });
              res.end(`fake error: ${err.message}`);
            },
          );
        });
      },
    );
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.url = `https://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    this.installAad();
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server?.closeAllConnections();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  /** Forget routes and request log between tests (AAD stays). */
  reset(): void {
    this.routes = [];
    this.requests.length = 0;
    this.unrouted.length = 0;
    this.unroutedAllowed = false;
    this.tokenLifetimeSec = 3600;
    this.github.lifetimeSec = 300;
    this.installAad();
  }

  /** Environment for a CLI child process: an Entra app with a client secret, everything pointed at this fake. */
  env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) {
      if (!/^(AZURE_|ARM_|MSI_|IDENTITY_|ACTIONS_ID_TOKEN|OPS_)/.test(k)) env[k] = v;
    }
    return {
      ...env,
      AZURE_TENANT_ID: this.tenant,
      AZURE_CLIENT_ID: this.clientId,
      AZURE_CLIENT_SECRET: this.clientSecret,
      AZURE_AUTHORITY_HOST: this.url,
      AZURE_ARM_ENDPOINT: this.url,
      NODE_EXTRA_CA_CERTS: this.caFile,
      // no developer az CLI / managed identity probing in tests
      AZURE_TOKEN_CREDENTIALS: "EnvironmentCredential",
      OPS_RETRY_BASE_MS: "50",
      OPS_RETRY_MAX_MS: "400",
      ...extra,
    };
  }

  /** Every value the CLI must never print. */
  secrets(): string[] {
    return [
      this.clientSecret,
      ...this.issued.map((t) => t.token),
      ...this.github.secrets(),
      ...this.extraSecrets,
    ];
  }

  /** `audiences`: what a bearer token must be for on this route (default: ARM's); ignored on open routes. */
  on(
    method: string,
    p: string | RegExp,
    handler: Handler | FakeRes,
    opts: { open?: boolean; audiences?: (fake: FakeAzure) => string[] } = {},
  ): void {
    const match =
      typeof p === "string" ? (x: string) => x.toLowerCase() === p.toLowerCase() : (x: string) => p.test(x);
    const h: Handler = typeof handler === "function" ? handler : () => handler;
    this.routes.unshift({
      method: method.toUpperCase(),
      match,
      handler: h,
      open: opts.open ?? false,
      audiences: opts.audiences,
    });
  }

  /** The `aud` of a token this fake issued (undefined for any other string). */
  audienceOf(token: string | undefined): string | undefined {
    return this.issued.find((t) => t.token === token)?.aud;
  }

  /** Answers the given responses in order, repeating the last one. */
  sequence(
    method: string,
    p: string | RegExp,
    responses: Array<FakeRes | Handler>,
    opts: { open?: boolean } = {},
  ): void {
    let i = 0;
    this.on(
      method,
      p,
      (req, fake) => {
        const r = responses[Math.min(i++, responses.length - 1)];
        return typeof r === "function" ? r(req, fake) : r;
      },
      opts,
    );
  }

  /** Revokes every token issued so far (as continuous access evaluation does): ARM answers a claims challenge. */
  revokeTokens(): void {
    for (const t of this.issued) t.revoked = true;
  }

  count(method: string, p: string | RegExp): number {
    return this.requests.filter(
      (r) =>
        r.method === method &&
        (typeof p === "string" ? r.path.toLowerCase() === p.toLowerCase() : p.test(r.path)),
    ).length;
  }

  private installAad(): void {
    this.github.install();
    const t = this.tenant;
    const openid = () => ({
      token_endpoint: `${this.url}/${t}/oauth2/v2.0/token`,
      authorization_endpoint: `${this.url}/${t}/oauth2/v2.0/authorize`,
      device_authorization_endpoint: `${this.url}/${t}/oauth2/v2.0/devicecode`,
      end_session_endpoint: `${this.url}/${t}/oauth2/v2.0/logout`,
      issuer: `${this.url}/${t}/v2.0`,
      jwks_uri: `${this.url}/${t}/discovery/v2.0/keys`,
      response_types_supported: ["code", "id_token", "code id_token", "id_token token"],
      token_endpoint_auth_methods_supported: ["client_secret_post", "private_key_jwt", "client_secret_basic"],
    });
    this.on(
      "GET",
      new RegExp(`^/${t}/v2\\.0/\\.well-known/openid-configuration$`),
      () => ({ status: 200, body: openid() }),
      { open: true },
    );
    this.on(
      "GET",
      /\/discovery\/instance$/,
      () => ({
        status: 200,
        body: {
          tenant_discovery_endpoint: `${this.url}/${t}/v2.0/.well-known/openid-configuration`,
          metadata: [],
        },
      }),
      { open: true },
    );
    this.on(
      "POST",
      `/${t}/oauth2/v2.0/token`,
      (req) => {
        const form = new URLSearchParams(req.body);
        const refused = this.clientAuthError(form);
        if (refused) return { status: 401, body: { error: "invalid_client", error_description: refused } };
        const now = Math.floor(Date.now() / 1000);
        const aud = audienceOfScope(form.get("scope") ?? "");
        const token = [
          b64url({ alg: "RS256", typ: "JWT" }),
          b64url({
            aud,
            iss: `${this.url}/${t}/`,
            iat: now,
            exp: now + this.tokenLifetimeSec,
            n: this.issued.length,
          }),
          randomBytes(24).toString("base64url"),
        ].join(".");
        this.issued.push({
          token,
          aud,
          expiresAt: Date.now() + this.tokenLifetimeSec * 1000,
          withClaims: form.has("claims"),
          assertion: form.get("client_assertion") ?? undefined,
        });
        return {
          status: 200,
          body: {
            token_type: "Bearer",
            expires_in: this.tokenLifetimeSec,
            ext_expires_in: this.tokenLifetimeSec,
            access_token: token,
          },
        };
      },
      { open: true },
    );
  }

  /** Entra's check of the client: its secret, or a federated assertion (a GitHub ID token). */
  private clientAuthError(form: URLSearchParams): string | undefined {
    if (form.get("client_id") !== this.clientId)
      return "AADSTS700016: Application not found in the directory.";
    const assertion = form.get("client_assertion");
    if (assertion === null) {
      return form.get("client_secret") === this.clientSecret
        ? undefined
        : "AADSTS7000215: Invalid client secret provided.";
    }
    if (form.get("client_assertion_type") !== "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
      return "AADSTS700023: Invalid client assertion type.";
    return this.github.verify(assertion);
  }

  private async dispatch(
    method: string,
    rawUrl: string,
    headers: IncomingHttpHeaders,
    body: string,
    bytes?: Buffer,
  ): Promise<FakeRes> {
    const u = new URL(rawUrl, "https://127.0.0.1");
    const auth = headers.authorization;
    const token = typeof auth === "string" && auth.startsWith("Bearer ") ? auth.slice(7) : undefined;
    const req: FakeReq = {
      method,
      path: decodeURIComponent(u.pathname),
      rawPath: u.pathname,
      query: u.searchParams,
      headers,
      body,
      bytes,
      token,
    };
    this.requests.push(req);
    const route = this.routes.find((r) => r.method === method && r.match(req.path));
    if (!route) {
      this.unrouted.push(req);
      return {
        status: 404,
        body: { error: { code: "NoRoute", message: `fake has no route for ${method} ${req.path}` } },
      };
    }
    if (!route.open) {
      const known = this.issued.find((t) => t.token === token);
      if (!known) {
        return {
          status: 401,
          headers: { "www-authenticate": 'Bearer error="invalid_token"' },
          body: { error: { code: "InvalidAuthenticationToken", message: "The access token is invalid." } },
        };
      }
      if (known.revoked) {
        const claims = Buffer.from(
          JSON.stringify({
            access_token: { nbf: { essential: true, value: String(Math.floor(Date.now() / 1000)) } },
          }),
        ).toString("base64");
        return {
          status: 401,
          headers: {
            "www-authenticate": `Bearer realm="", authorization_uri="${this.url}/common/oauth2/authorize", error="insufficient_claims", claims="${claims}"`,
          },
          body: {
            error: { code: "InvalidAuthenticationToken", message: "The access token has been revoked." },
          },
        };
      }
      if (known.expiresAt <= Date.now()) {
        return {
          status: 401,
          headers: {
            "www-authenticate":
              'Bearer error="invalid_token", error_description="The access token expiry UTC time is earlier than current UTC time."',
          },
          body: {
            error: {
              code: "ExpiredAuthenticationToken",
              message: `The access token expiry UTC time '${new Date(known.expiresAt).toISOString()}' is earlier than current UTC time '${new Date().toISOString()}'.`,
            },
          },
        };
      }
      const audiences = (route.audiences ?? armAudiences)(this).map(normalizeAudience);
      if (!audiences.includes(normalizeAudience(known.aud))) return wrongAudience(known.aud, audiences);
      if (req.path.startsWith("/subscriptions/") && !req.query.get("api-version")) {
        return {
          status: 400,
          body: {
            error: {
              code: "MissingApiVersionParameter",
              message: "The api-version query parameter (?api-version=) is required for all requests.",
            },
          },
        };
      }
    }
    return route.handler(req, this);
  }
}

/** ARM's answer to a token for another resource (a storage or ML token sent to ARM, say). */
// ARM's 401 {"code":"InvalidAuthenticationTokenAudience","message":"The access token has been obtained for wrong audience or resource '...'. It should exactly match with one of the allowed audiences ..."} (as quoted in Azure-Samples/active-directory-dotnetcore-daemon-v2#145)
function wrongAudience(aud: string, allowed: string[]): FakeRes {
  return {
    status: 401,
    headers: {
      "www-authenticate":
        'Bearer error="invalid_token", error_description="The access token is from wrong audience or resource."',
    },
    body: {
      error: {
        code: "InvalidAuthenticationTokenAudience",
        message: `The access token has been obtained for wrong audience or resource '${aud}'. It should exactly match with one of the allowed audiences ${allowed.map((a) => `'${a}/'`).join(",")}.`,
      },
    },
  };
}
