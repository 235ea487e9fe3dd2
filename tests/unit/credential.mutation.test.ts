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
    const sent: Array<{ url: string; headers: Record<string, string> }> = [];
    const client = new HttpClient({
      retry: { baseDelayMs: 0, maxDelayMs: 0, maxAttempts: 1, maxRetryAfterMs: 0, requestTimeoutMs: 5000 },
      log: () => undefined,
      fetch: async (url, init) => {
        sent.push({ url, headers: init.headers as Record<string, string> });
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
