// lib/azure/credential.ts: which credential the CLIs use, GitHub's ID token, ARM's scope.
import { ClientAssertionCredential, DefaultAzureCredential } from "@azure/identity";
import {
  ARM_SCOPE_SUFFIX,
  AZURE_AD_TOKEN_EXCHANGE,
  armScope,
  createCredential,
  githubIdToken,
  githubOidc,
} from "../../lib/azure/credential";
import { HttpClient } from "../../lib/azure/http";
import { interceptHttps, type SentRequest } from "./support/fakeHttps";

const OIDC = {
  ACTIONS_ID_TOKEN_REQUEST_URL: "https://token.actions.example/req?x=1",
  ACTIONS_ID_TOKEN_REQUEST_TOKEN: "gh-request-token",
  AZURE_TENANT_ID: "tenant-a",
  AZURE_CLIENT_ID: "client-a",
};

describe("githubOidc", () => {
  test("all four settings: the OIDC settings", () => {
    expect(githubOidc(OIDC)).toEqual({
      requestUrl: OIDC.ACTIONS_ID_TOKEN_REQUEST_URL,
      requestToken: "gh-request-token",
      tenantId: "tenant-a",
      clientId: "client-a",
    });
  });

  test("the ARM_* ids stand in for the AZURE_* ones", () => {
    const env = {
      ...OIDC,
      AZURE_TENANT_ID: "",
      AZURE_CLIENT_ID: undefined,
      ARM_TENANT_ID: "t2",
      ARM_CLIENT_ID: "c2",
    };
    expect(githubOidc(env)).toMatchObject({ tenantId: "t2", clientId: "c2" });
  });

  test.each([
    "ACTIONS_ID_TOKEN_REQUEST_URL",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_ID",
  ])("without %s: none", (key) => {
    expect(githubOidc({ ...OIDC, [key]: undefined })).toBeUndefined();
  });

  test("AZURE_TOKEN_CREDENTIALS is an explicit choice that wins", () => {
    expect(githubOidc({ ...OIDC, AZURE_TOKEN_CREDENTIALS: "dev" })).toBeUndefined();
  });
});

describe("githubIdToken", () => {
  function http(body: unknown, status = 200) {
    const sent: Array<{ method: string; url: string; headers: Record<string, string> }> = [];
    const client = new HttpClient({
      retry: { baseDelayMs: 0, maxDelayMs: 0, maxAttempts: 1, maxRetryAfterMs: 0, requestTimeoutMs: 5000 },
      log: () => undefined,
      fetch: async (url, init) => {
        sent.push({ method: String(init.method), url, headers: init.headers as Record<string, string> });
        return new Response(JSON.stringify(body), { status });
      },
    });
    return { client, sent };
  }
  const gh = {
    requestUrl: OIDC.ACTIONS_ID_TOKEN_REQUEST_URL,
    requestToken: "rt",
    tenantId: "t",
    clientId: "c",
  };

  test("asks for Entra's audience with the request token, returns the ID token", async () => {
    const { client, sent } = http({ value: "id-token-1" });
    expect(await githubIdToken(gh, client)).toBe("id-token-1");
    const url = new URL(sent[0].url);
    expect(url.searchParams.get("audience")).toBe(AZURE_AD_TOKEN_EXCHANGE);
    expect(url.searchParams.get("x")).toBe("1");
    expect(sent[0].headers.authorization).toBe("Bearer rt");
    expect(sent[0].method).toBe("GET");
  });

  test("no token in the answer is an error", async () => {
    await expect(githubIdToken(gh, http({}).client)).rejects.toThrow(
      "GitHub's ID-token endpoint returned no token",
    );
    await expect(githubIdToken(gh, http({ value: "" }).client)).rejects.toThrow(/returned no token/);
    await expect(githubIdToken(gh, http({ value: 5 }).client)).rejects.toThrow(/returned no token/);
  });

  test("never over plain http", async () => {
    const { client, sent } = http({ value: "x" });
    await expect(githubIdToken({ ...gh, requestUrl: "http://token.example/req" }, client)).rejects.toThrow(
      /https required/,
    );
    expect(sent.length).toBe(0);
  });
});

describe("createCredential", () => {
  test("GitHub OIDC: a client assertion credential; otherwise the default chain", () => {
    expect(createCredential(OIDC)).toBeInstanceOf(ClientAssertionCredential);
    expect(createCredential({})).toBeInstanceOf(DefaultAzureCredential);
  });
});

describe("armScope", () => {
  const saved = process.env.AZURE_ARM_SCOPE;
  afterEach(() => {
    if (saved === undefined) delete process.env.AZURE_ARM_SCOPE;
    else process.env.AZURE_ARM_SCOPE = saved;
  });

  test("the endpoint's origin with /.default, unless AZURE_ARM_SCOPE says otherwise", () => {
    delete process.env.AZURE_ARM_SCOPE;
    expect(ARM_SCOPE_SUFFIX).toBe("/.default");
    expect(armScope("https://management.azure.com/")).toBe("https://management.azure.com/.default");
    expect(armScope("https://127.0.0.1:4443/some/path")).toBe("https://127.0.0.1:4443/.default");
    process.env.AZURE_ARM_SCOPE = "https://custom/.default";
    expect(armScope("https://management.azure.com")).toBe("https://custom/.default");
  });
});

describe("createCredential: the sign-in on the wire (GitHub OIDC, Entra's authority host)", () => {
  /** Entra at any host (metadata and token endpoint) and GitHub's ID-token endpoint (GET only). */
  function answer(r: SentRequest) {
    const u = new URL(r.url);
    if (u.hostname === "token.actions.example")
      return r.method === "GET" ? { status: 200, body: { value: "gh-id-token" } } : { status: 405 };
    if (u.pathname === "/tenant-a/v2.0/.well-known/openid-configuration") {
      const base = `${u.origin}/tenant-a`;
      return {
        status: 200,
        body: {
          token_endpoint: `${base}/oauth2/v2.0/token`,
          issuer: `${base}/v2.0`,
          authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
          jwks_uri: `${base}/discovery/v2.0/keys`,
        },
      };
    }
    if (u.pathname === "/tenant-a/oauth2/v2.0/token" && r.method === "POST")
      return { status: 200, body: { token_type: "Bearer", access_token: "at-1", expires_in: 3600 } };
    return { status: 400, body: { error: "invalid_request", error_description: `nothing at ${u.pathname}` } };
  }

  /** Signs in for ARM with AZURE_AUTHORITY_HOST = `host` (unset when undefined): the token and what was sent. */
  async function signIn(host: string | undefined) {
    const { sent, restore } = interceptHttps(answer);
    try {
      const env: NodeJS.ProcessEnv = {
        ...OIDC,
        ACTIONS_ID_TOKEN_REQUEST_URL: "https://token.actions.example/req",
      };
      if (host !== undefined) env.AZURE_AUTHORITY_HOST = host;
      let token: string | undefined;
      let error: string | undefined;
      try {
        token = (await createCredential(env).getToken("https://arm.test/.default"))?.token;
      } catch (err) {
        error = String(err);
      }
      const hosts = [...new Set(sent.map((r) => new URL(r.url).host))];
      const post = sent.find((r) => r.method === "POST");
      const form = new URLSearchParams(post?.body ?? "");
      return {
        token,
        error,
        hosts,
        tokenUrl: post && `${new URL(post.url).origin}${new URL(post.url).pathname}`,
        assertion: form.get("client_assertion"),
        clientId: form.get("client_id"),
        metadataRead: sent.some((r) => r.url.includes("/.well-known/openid-configuration")),
      };
    } finally {
      restore();
    }
  }

  test("a private authority host is used as given: no instance discovery at login.microsoftonline.com", async () => {
    expect(await signIn("https://login.fake.test")).toEqual({
      token: "at-1",
      error: undefined,
      hosts: ["token.actions.example", "login.fake.test"],
      tokenUrl: "https://login.fake.test/tenant-a/oauth2/v2.0/token",
      assertion: "gh-id-token",
      clientId: "client-a",
      metadataRead: true,
    });
  });

  test.each([
    "https://login.microsoftonline.com.fake.test",
    "https://login.microsoftonline.us.fake.test",
    "https://login.chinacloudapi.cn.fake.test",
    "https://login-microsoftonline.com.fake.test",
  ])("%s is not a public cloud: used as given", async (host) => {
    const got = await signIn(host);
    expect(got.token).toBe("at-1");
    expect(got.hosts).toEqual(["token.actions.example", new URL(host).host]);
    expect(got.tokenUrl).toBe(`${host}/tenant-a/oauth2/v2.0/token`);
  });

  test.each([
    [undefined, "login.microsoftonline.com"],
    ["https://login.microsoftonline.com", "login.microsoftonline.com"],
    ["https://login.microsoftonline.com/", "login.microsoftonline.com"],
    ["https://LOGIN.MicrosoftOnline.us", "login.microsoftonline.us"],
    // MSAL's metadata for the China cloud names its preferred host
    ["https://login.chinacloudapi.cn/", "login.partner.microsoftonline.cn"],
  ])(
    "AZURE_AUTHORITY_HOST %s: the public cloud's own token endpoint, its known metadata",
    async (host, expected) => {
      expect(await signIn(host)).toEqual({
        token: "at-1",
        error: undefined,
        hosts: ["token.actions.example", expected],
        tokenUrl: `https://${expected}/tenant-a/oauth2/v2.0/token`,
        assertion: "gh-id-token",
        clientId: "client-a",
        metadataRead: false,
      });
    },
  );
});
