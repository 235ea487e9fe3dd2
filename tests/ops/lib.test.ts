/** Unit tests of the CLI toolkit (lib/toolkit, lib/azure) and the ops CLIs' pure helpers (no processes, no network). */
import { parseArgs, parseNumber, usageLine } from "../../lib/toolkit/args";
import { CliError, UsageError } from "../../lib/toolkit/errors";
import { cliExitCode } from "../../lib/toolkit/run";
import { mlflowHttpBase, parseModelUri, parseWorkspaceChildId, serviceOrigin } from "../../lib/azureml/ids";
import {
  assertSafeForToken,
  BearerToken,
  backoffMs,
  claimsChallenge,
  HttpClient,
  HttpError,
  isIdempotent,
  retryAfterMs,
  retryDelayMs,
  serviceErrorText,
  ERROR_BODY_CHARS,
  isAzureMlServiceUrl,
  type RetryPolicy,
} from "../../lib/azure/http";
import { ArmClient } from "../../lib/azure/arm";
import { formatDuration } from "../../lib/toolkit/time";
import { armScope, createCredential, githubIdToken, githubOidc } from "../../lib/azure/credential";
import { ClientAssertionCredential, DefaultAzureCredential } from "@azure/identity";
import { redact, redactTruncated, registerSecret, REDACTED } from "../../lib/toolkit/redact";
import { decideTraffic, putBody, sameTraffic, trafficAllTo, trafficWithout } from "../../lib/azureml/traffic";
import { relativeBlobPath } from "../../lib/azureml/modelBlobs";
import { cancelCommand, parseWaitArgs, quotaHints } from "../../ops/wait-for-job";
import { pickUserLog, tail, trustedMlflowBase } from "../../lib/azureml/runHistory";
import type { AccessToken, TokenCredential } from "@azure/identity";
import * as http from "node:http";
import type { AddressInfo } from "node:net";

const WS_ID =
  "/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.MachineLearningServices/workspaces/ws1";

describe("redact", () => {
  test("JWTs, bearer tokens, SAS signatures, keys and registered values", () => {
    const jwt =
      "eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL21hbmFnZW1lbnQuYXp1cmUuY29tIn0.c2lnbmF0dXJlLXZhbHVl";
    registerSecret("my-registered-secret-value");
    const text = [
      `token ${jwt}`,
      "Authorization: Bearer abcdefghijklmnop",
      "https://a.blob.core.windows.net/c/b?sv=2021&sig=AbC%2Bdef%3D&se=x",
      "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=c2VjcmV0a2V5PT0=;EndpointSuffix=core.windows.net",
      '{"primaryKey":"k1-secret","key":"k2-secret","access_token":"t3-secret"}',
      "the my-registered-secret-value leaked",
      "SharedKey account:c2lnbmF0dXJlc2lnbmF0dXJl",
    ].join("\n");
    const out = redact(text);
    for (const s of [
      jwt,
      "abcdefghijklmnop",
      "AbC%2Bdef%3D",
      "c2VjcmV0a2V5PT0=",
      "k1-secret",
      "k2-secret",
      "t3-secret",
      "my-registered-secret-value",
      "c2lnbmF0dXJlc2lnbmF0dXJl",
    ]) {
      expect(out).not.toContain(s);
    }
    expect(out).toContain("AccountName=a");
    expect(out).toContain("sv=2021");
  });
  test("leaves ordinary text alone", () => {
    const s = "job train-mnist-3f9c2a1b Completed in 5m03s; test_accuracy 0.9912";
    expect(redact(s)).toBe(s);
  });
});

describe("ids", () => {
  test("parses child ids", () => {
    const id = parseWorkspaceChildId(`${WS_ID}/models/mnist-cnn/versions/3`, ["models", "versions"]);
    expect(id).toMatchObject({
      subscriptionId: "s1",
      resourceGroup: "rg1",
      workspace: "ws1",
      workspaceId: WS_ID,
    });
    expect(id.children).toEqual([
      ["models", "mnist-cnn"],
      ["versions", "3"],
    ]);
    expect(() => parseWorkspaceChildId(`${WS_ID}/jobs/x`, ["onlineEndpoints"])).toThrow(CliError);
    expect(() => parseWorkspaceChildId("/subscriptions/s/resourceGroups/r")).toThrow(
      /not an Azure ML resource id/,
    );
  });
  test("MLflow tracking URI → https base and region origin", () => {
    const uri = `azureml://eastus.api.azureml.ms/mlflow/v1.0${WS_ID}`;
    expect(mlflowHttpBase(uri)).toBe(`https://eastus.api.azureml.ms/mlflow/v1.0${WS_ID}`);
    expect(serviceOrigin(uri)).toBe("https://eastus.api.azureml.ms");
  });
  test("model URI forms", () => {
    expect(parseModelUri("azureml://jobs/j1/outputs/model_dir")).toEqual({
      kind: "job-output",
      job: "j1",
      output: "model_dir",
      subPath: "",
    });
    expect(parseModelUri("azureml://jobs/j1/outputs/artifacts/paths/outputs/model/")).toEqual({
      kind: "job-output",
      job: "j1",
      output: "artifacts",
      subPath: "outputs/model",
    });
    expect(parseModelUri("azureml://datastores/workspaceblobstore/paths/a/b/")).toEqual({
      kind: "datastore",
      datastore: "workspaceblobstore",
      path: "a/b/",
    });
    expect(
      parseModelUri("azureml://subscriptions/s/resourcegroups/r/workspaces/w/datastores/ds/paths/p"),
    ).toEqual({ kind: "datastore", datastore: "ds", path: "p" });
    expect(parseModelUri("https://acct.blob.core.windows.net/c/p/q").kind).toBe("blob-url");
    expect(() => parseModelUri("runs:/abc/model")).toThrow(CliError);
  });
});

describe("args", () => {
  const spec = {
    "job-id": { type: "string", required: true },
    poll: { type: "string", default: "15" },
    delete: { type: "boolean" },
  } as const;
  test("values, defaults, switches, = form", () => {
    expect(parseArgs(["--job-id", "x", "--delete"], spec)).toEqual({
      "job-id": "x",
      poll: "15",
      delete: true,
    });
    expect(parseArgs(["--job-id=y", "--poll", "2"], spec)).toEqual({
      "job-id": "y",
      poll: "2",
      delete: false,
    });
  });
  test("usage errors exit 2", () => {
    for (const argv of [
      [],
      ["--job-id"],
      ["--nope", "1", "--job-id", "x"],
      ["stray"],
      ["--job-id", "x", "--delete=1"],
    ]) {
      expect(() => parseArgs(argv, spec)).toThrow(UsageError);
      try {
        parseArgs(argv, spec);
      } catch (e) {
        expect((e as CliError).exitCode).toBe(2);
      }
    }
  });
  test("--help and -h return null", () => {
    expect(parseArgs(["--help"], spec)).toBeNull();
    expect(parseArgs(["--job-id", "x", "-h"], spec)).toBeNull();
  });
  test("numbers are range-checked at parse time; the message names the flag and the range", () => {
    const nums = {
      acc: { type: "number", min: 0, max: 1 },
      n: { type: "number", integer: true, min: 0, default: 60 },
      t: { type: "number", min: 0.5 },
    } as const;
    expect(parseArgs(["--acc", "0.98", "--t", "-0"], { ...nums, t: { type: "number" } })).toEqual({
      acc: 0.98,
      n: 60,
      t: -0,
    });
    expect(() => parseArgs(["--acc", "7"], nums)).toThrow("--acc must be a number in [0, 1], got '7'");
    expect(() => parseArgs(["--n", "1.5"], nums)).toThrow("--n must be an integer >= 0, got '1.5'");
    expect(() => parseArgs(["--t", "0.1"], nums)).toThrow("--t must be a number >= 0.5, got '0.1'");
    expect(() => parseArgs(["--acc", ""], nums)).toThrow(/--acc must be a number/);
    expect(() => parseNumber("x", "abc", {})).toThrow("--x must be a number, got 'abc'");
  });
  test("the usage line comes from the spec", () => {
    expect(
      usageLine("tsx x.ts", {
        id: { type: "string", required: true, placeholder: "<ARM id>" },
        acc: { type: "number", min: 0, max: 1, placeholder: "F" },
        poll: { type: "number", min: 0, default: 15 },
        delete: { type: "boolean" },
      }),
    ).toBe("usage: tsx x.ts --id <ARM id> [--acc F in [0, 1]] [--poll N=15] [--delete]");
  });
  test("a secret flag's value is redacted from then on", () => {
    const value = "flag-secret-value-0123456789";
    parseArgs(["--key", value], { key: { type: "string", secret: true } });
    expect(redact(`echo ${value}`)).toBe(`echo ${REDACTED}`);
  });
  test("wait-for-job: a threshold out of [0, 1] and a malformed id are usage errors before any call", () => {
    const id =
      "/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.MachineLearningServices/workspaces/ws1/jobs/j1";
    expect(() => parseWaitArgs(["--job-id", id, "--min-accuracy", "7"])).toThrow(
      "--min-accuracy must be a number in [0, 1], got '7'",
    );
    expect(() => parseWaitArgs(["--job-id", "/not/an/id"])).toThrow(UsageError);
    expect(parseWaitArgs(["--job-id", id, "--poll-seconds", "2"])).toMatchObject({
      job: { id, name: "j1", workspace: "ws1" },
      pollMs: 2000,
      timeoutMs: 180 * 60_000,
    });
  });
});

describe("retry helpers", () => {
  const opts: RetryPolicy = {
    baseDelayMs: 1000,
    maxDelayMs: 8000,
    maxAttempts: 8,
    maxRetryAfterMs: 60000,
    requestTimeoutMs: 1000,
  };
  test("backoff doubles, is capped and jittered ±25 %", () => {
    expect(backoffMs(1, opts, () => 0.5)).toBe(1000);
    expect(backoffMs(3, opts, () => 0.5)).toBe(4000);
    expect(backoffMs(10, opts, () => 0.5)).toBe(8000);
    expect(backoffMs(2, opts, () => 0)).toBe(1500);
    expect(backoffMs(2, opts, () => 1)).toBe(2500);
  });
  test("Retry-After in seconds, as a date, and x-ms-retry-after-ms", () => {
    expect(retryAfterMs(new Headers({ "retry-after": "7" }))).toBe(7000);
    expect(retryAfterMs(new Headers({ "retry-after": new Date(10_000).toUTCString() }), 4000)).toBe(6000);
    expect(retryAfterMs(new Headers({ "x-ms-retry-after-ms": "250", "retry-after": "9" }))).toBe(250);
    expect(retryAfterMs(new Headers({}))).toBeUndefined();
  });
  test("the wait: the service's hint (capped) wins over the backoff", () => {
    expect(retryDelayMs(2, opts, new Headers({ "retry-after": "5" }))).toBe(5000);
    expect(retryDelayMs(2, opts, new Headers({ "retry-after": "9999" }))).toBe(60000);
    expect(retryDelayMs(2, opts, new Headers({}), () => 0.5)).toBe(2000);
    expect(retryDelayMs(2, opts, undefined, () => 0.5)).toBe(2000);
  });
  test("timeouts are retried for idempotent methods only", () => {
    expect(["GET", "PUT", "DELETE"].every(isIdempotent)).toBe(true);
    expect(isIdempotent("POST")).toBe(false);
  });
  test("service error bodies as one line", () => {
    expect(serviceErrorText('{"error":{"code":"Conflict","message":"busy\\nnow"}}')).toBe(
      "Conflict: busy now",
    );
    expect(serviceErrorText('{"error":"data[0]: expected 784 numbers"}')).toBe(
      "data[0]: expected 784 numbers",
    );
    expect(serviceErrorText("<html>bad gateway</html>")).toBe("<html>bad gateway</html>");
  });
  test("claims challenge decoding", () => {
    const claims = JSON.stringify({ access_token: { nbf: { essential: true, value: "1" } } });
    const header = `Bearer realm="", error="insufficient_claims", claims="${Buffer.from(claims).toString("base64")}"`;
    expect(claimsChallenge(header)).toBe(claims);
    expect(claimsChallenge('Bearer error="invalid_token"')).toBeUndefined();
    expect(claimsChallenge(null)).toBeUndefined();
  });
});

describe("armScope", () => {
  const saved = process.env.AZURE_ARM_SCOPE;
  afterEach(() => {
    if (saved === undefined) delete process.env.AZURE_ARM_SCOPE;
    else process.env.AZURE_ARM_SCOPE = saved;
  });
  test("the public cloud's ARM: https://management.azure.com/.default, whatever the path or trailing slash", () => {
    delete process.env.AZURE_ARM_SCOPE;
    expect(armScope("https://management.azure.com")).toBe("https://management.azure.com/.default");
    expect(armScope("https://management.azure.com/")).toBe("https://management.azure.com/.default");
    expect(armScope("https://management.usgovcloudapi.net")).toBe(
      "https://management.usgovcloudapi.net/.default",
    );
  });
  test("AZURE_ARM_SCOPE wins", () => {
    process.env.AZURE_ARM_SCOPE = "https://management.core.windows.net//.default";
    expect(armScope("https://management.azure.com")).toBe("https://management.core.windows.net//.default");
  });
});

describe("HttpClient on 401", () => {
  let server: http.Server;
  let url = "";
  const seen: string[] = [];
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      seen.push(String(req.headers.authorization));
      const ok = req.headers.authorization === "Bearer t2";
      res.writeHead(ok ? 200 : 401, { "content-type": "application/json" });
      res.end(ok ? '{"ok":true}' : '{"error":{"code":"ExpiredAuthenticationToken","message":"expired"}}');
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/x`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  test("drops its cached token and asks the credential again", async () => {
    let n = 0;
    const cred: TokenCredential = {
      getToken: async (): Promise<AccessToken> => ({
        token: `t${++n}`,
        expiresOnTimestamp: Date.now() + 3600_000,
      }),
    };
    const client = new HttpClient({
      token: new BearerToken(cred, "https://management.azure.com/.default"),
      retry: { baseDelayMs: 1, maxDelayMs: 1, maxAttempts: 3, maxRetryAfterMs: 1, requestTimeoutMs: 5000 },
    });
    const stderr = jest.spyOn(process.stderr, "write").mockImplementation(() => true);
    try {
      expect(await client.getJson(url)).toEqual({ ok: true });
    } finally {
      stderr.mockRestore();
    }
    expect(seen).toEqual(["Bearer t1", "Bearer t2"]);
    expect(client.tokensAcquired).toBe(2);
  });

  test("a server that always answers 401: 3 attempts, each with a fresh token, then HttpError 401", async () => {
    const got: string[] = [];
    const always = http.createServer((req, res) => {
      got.push(String(req.headers.authorization));
      res.writeHead(401, { "content-type": "application/json" });
      res.end('{"error":{"code":"InvalidAuthenticationTokenAudience","message":"wrong audience"}}');
    });
    await new Promise<void>((r) => always.listen(0, "127.0.0.1", r));
    let n = 0;
    const cred: TokenCredential = {
      getToken: async (): Promise<AccessToken> => ({
        token: `u${++n}`,
        expiresOnTimestamp: Date.now() + 3600_000,
      }),
    };
    const client = new HttpClient({
      token: new BearerToken(cred, "https://management.azure.com/.default"),
      // more attempts than the token refresh cap allows: the cap, not the retry policy, must stop it
      retry: { baseDelayMs: 1, maxDelayMs: 1, maxAttempts: 10, maxRetryAfterMs: 1, requestTimeoutMs: 5000 },
      log: () => undefined,
    });
    try {
      const url = `http://127.0.0.1:${(always.address() as AddressInfo).port}/x`;
      const err = await client.request("GET", url).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(HttpError);
      expect((err as HttpError).status).toBe(401);
      expect((err as HttpError).message).toContain("InvalidAuthenticationTokenAudience");
    } finally {
      await new Promise<void>((r) => always.close(() => r()));
    }
    expect(got).toEqual(["Bearer u1", "Bearer u2", "Bearer u3"]);
    expect(client.tokensAcquired).toBe(3);
  });
});

describe("set-traffic helpers", () => {
  test("all traffic to one deployment", () => {
    expect(trafficAllTo({ a: 100 }, "b")).toEqual({ a: 0, b: 100 });
    expect(trafficAllTo(undefined, "b")).toEqual({ b: 100 });
  });
  test("traffic without a deployment keeps the others' shares", () => {
    expect(trafficWithout({ a: 100, b: 0 }, "a")).toEqual({ b: 0 });
    expect(trafficWithout({ a: 40, b: 30, c: 30 }, "a")).toEqual({ b: 50, c: 50 });
    expect(trafficWithout({ a: 10, b: 60, c: 30 }, "a")).toEqual({ b: 67, c: 33 });
    expect(trafficWithout({}, "a")).toEqual({});
  });
  test("what to do: nothing when the deployment holds no traffic (delete) or already has it all", () => {
    const ep = (traffic: Record<string, number>, provisioningState = "Succeeded", serving = "b") => ({
      tags: { rolloutServing: serving },
      properties: { traffic, provisioningState },
    });
    const recordB = { rolloutServing: "b", rolloutIntent: undefined };
    expect(decideTraffic(ep({ a: 100 }), "b", true)).toEqual({
      unchanged: "deployment b holds no traffic; leaving the endpoint as it is",
    });
    expect(decideTraffic(ep({ a: 0, b: 100 }), "b", false)).toEqual({ unchanged: "b already has 100 %" });
    expect(decideTraffic(ep({ a: 0, b: 100 }, "Updating"), "b", false)).toEqual({
      target: { b: 100 },
      tags: recordB,
    });
    // at 100 % but recorded as another: the record is written
    expect(decideTraffic(ep({ b: 100 }, "Succeeded", "a"), "b", false)).toEqual({
      target: { b: 100 },
      tags: recordB,
    });
    expect(decideTraffic(ep({ a: 60, b: 40 }, "Succeeded", "a"), "a", true)).toEqual({
      target: { b: 100 },
      tags: { rolloutServing: undefined },
    });
  });
  test("sameTraffic treats missing as 0", () => {
    expect(sameTraffic({ a: 0, b: 100 }, { b: 100 })).toBe(true);
    expect(sameTraffic({ b: 50 }, { b: 100 })).toBe(false);
  });
  test("putBody keeps writable fields and drops read-only ones", () => {
    const body = putBody(
      {
        id: "x",
        name: "ep",
        type: "t",
        location: "eastus",
        kind: "Managed",
        tags: { a: "1" },
        systemData: {},
        identity: { type: "SystemAssigned", principalId: "p", tenantId: "t" },
        properties: {
          authMode: "Key",
          traffic: { a: 100 },
          mirrorTraffic: { b: 10 },
          provisioningState: "Succeeded",
          scoringUri: "u",
          swaggerUri: "s",
          description: "d",
        },
      },
      { a: 0, b: 100 },
    );
    expect(body).toEqual({
      location: "eastus",
      kind: "Managed",
      tags: { a: "1" },
      identity: { type: "SystemAssigned" },
      properties: { authMode: "Key", traffic: { b: 100 }, mirrorTraffic: {}, description: "d" },
    });
  });
});

describe("download and log helpers", () => {
  test("relative blob paths", () => {
    expect(relativeBlobPath("azureml/j/model_dir/", "azureml/j/model_dir/a/b.txt")).toBe("a/b.txt");
    expect(relativeBlobPath("azureml/j/model_dir", "azureml/j/model_dir/x")).toBe("x");
    expect(relativeBlobPath("azureml/j/model_dir/", "azureml/j/model_dir/sub/")).toBeUndefined();
    expect(relativeBlobPath("azureml/j/model_dir/", "azureml/j/model_dir_other/x")).toBeUndefined();
    expect(() => relativeBlobPath("p/", "p/../../etc/passwd")).toThrow(CliError);
  });
  test("user log choice and tail", () => {
    expect(pickUserLog({ "system_logs/x.log": "u1", "user_logs/std_log.txt": "u2" })).toEqual([
      "user_logs/std_log.txt",
      "u2",
    ]);
    expect(pickUserLog({ "azureml-logs/70_driver_log.txt": "u3" })).toEqual([
      "azureml-logs/70_driver_log.txt",
      "u3",
    ]);
    expect(pickUserLog({})).toBeUndefined();
    expect(tail("a\nb\nc\n\n", 2)).toEqual(["b", "c"]);
  });
  test("cancel command and quota hints", () => {
    const scope = parseWorkspaceChildId(`${WS_ID}/jobs/j1`, ["jobs"]);
    expect(cancelCommand("j1", scope)).toBe("az ml job cancel -n j1 -g rg1 -w ws1");
    const hints = quotaHints(scope, `${WS_ID}/computes/gpu1`, "westeurope").join("\n");
    expect(hints).toContain("az ml compute show -n gpu1 -g rg1 -w ws1");
    // Azure ML's own quota (what clusters draw on), never the VM quota as something to run
    expect(hints).toContain("az ml compute list-usage --location westeurope -o table");
    expect(hints).toContain(
      "/subscriptions/s1/providers/Microsoft.MachineLearningServices/locations/westeurope/usages?api-version=2025-12-01",
    );
    expect(hints).toContain("Azure portal > Quotas > Machine learning");
    expect(hints).not.toMatch(/^\s+az vm list-usage/m);
    expect(quotaHints(scope, undefined).join("\n")).toContain("list-usage --location <region>");
  });
  test("durations", () => {
    expect(formatDuration(5)).toBe("5s");
    expect(formatDuration(303)).toBe("5m03s");
    expect(formatDuration(3723)).toBe("1h02m03s");
  });
});

describe("credential", () => {
  const GH = {
    ACTIONS_ID_TOKEN_REQUEST_URL:
      "https://pipelines.actions.githubusercontent.com/abc/idtoken?api-version=2.0",
    ACTIONS_ID_TOKEN_REQUEST_TOKEN: "gh-request-token-0123456789",
    ARM_CLIENT_ID: "arm-client",
    ARM_TENANT_ID: "arm-tenant",
  };
  test("GitHub Actions with OIDC: the ARM_* ids (AZURE_* win), the request token registered for redaction", () => {
    expect(githubOidc(GH)).toEqual({
      requestUrl: GH.ACTIONS_ID_TOKEN_REQUEST_URL,
      requestToken: GH.ACTIONS_ID_TOKEN_REQUEST_TOKEN,
      tenantId: "arm-tenant",
      clientId: "arm-client",
    });
    expect(githubOidc({ ...GH, AZURE_CLIENT_ID: "az-client", AZURE_TENANT_ID: "az-tenant" })).toMatchObject({
      tenantId: "az-tenant",
      clientId: "az-client",
    });
    expect(redact(`x ${GH.ACTIONS_ID_TOKEN_REQUEST_TOKEN} y`)).toBe(`x ${REDACTED} y`);
    expect(createCredential(GH)).toBeInstanceOf(ClientAssertionCredential);
  });
  test("anything missing, or an explicit AZURE_TOKEN_CREDENTIALS: DefaultAzureCredential", () => {
    for (const k of Object.keys(GH)) {
      const env: NodeJS.ProcessEnv = { ...GH, [k]: "" };
      expect(githubOidc(env)).toBeUndefined();
      expect(createCredential(env)).toBeInstanceOf(DefaultAzureCredential);
    }
    expect(githubOidc({ ...GH, AZURE_TOKEN_CREDENTIALS: "AzureCliCredential" })).toBeUndefined();
  });
  test("every assertion is a new GET to GitHub for Entra's audience, with the request token", async () => {
    const calls: Array<[string, RequestInit]> = [];
    const client = new HttpClient({
      fetch: async (url, init) => {
        calls.push([url, init]);
        return new Response(JSON.stringify({ value: `eyJ.id-token-${calls.length}` }), { status: 200 });
      },
    });
    const gh = githubOidc(GH)!;
    expect(await githubIdToken(gh, client)).toBe("eyJ.id-token-1");
    expect(await githubIdToken(gh, client)).toBe("eyJ.id-token-2");
    expect(calls[0][0]).toBe(`${GH.ACTIONS_ID_TOKEN_REQUEST_URL}&audience=api%3A%2F%2FAzureADTokenExchange`);
    expect(calls[0][1]).toMatchObject({
      method: "GET",
      headers: { authorization: `Bearer ${GH.ACTIONS_ID_TOKEN_REQUEST_TOKEN}` },
    });
    const empty = new HttpClient({ fetch: async () => new Response("{}", { status: 200 }) });
    await expect(githubIdToken(gh, empty)).rejects.toThrow("GitHub's ID-token endpoint returned no token");
  });
});

describe("token safety", () => {
  test("tokens only over https (or loopback http)", () => {
    expect(() => assertSafeForToken("https://management.azure.com/x")).not.toThrow();
    expect(() => assertSafeForToken("http://127.0.0.1:8080/x")).not.toThrow();
    expect(() => assertSafeForToken("http://example.com/x")).toThrow(/https required/);
  });

  test("Azure ML service hosts: the three clouds' api zones, https, default port, nothing that merely ends alike", () => {
    for (const ok of [
      "https://eastus.api.azureml.ms/mlflow",
      "https://usgovvirginia.api.ml.azure.us/x",
      "https://chinaeast2.api.ml.azure.cn/x",
      "https://0f0e.workspace.westeurope.api.azureml.ms/x",
    ])
      expect(isAzureMlServiceUrl(new URL(ok))).toBe(true);
    for (const bad of [
      "http://eastus.api.azureml.ms/x",
      "https://eastus.api.azureml.ms:8443/x",
      "https://api.azureml.ms.attacker.example/x",
      "https://eastus.api.azureml.ms.attacker.example/x",
      "https://eastusapi.azureml.ms/x",
      "https://management.azure.com/x",
    ])
      expect(isAzureMlServiceUrl(new URL(bad))).toBe(false);
  });

  test("ArmClient: follow-up URLs only on the ARM origin; its token only there and to Azure ML service hosts", async () => {
    const cred: TokenCredential = {
      getToken: async () => ({ token: "arm-token-xyz", expiresOnTimestamp: Date.now() + 3600_000 }),
    };
    const arm = new ArmClient("https://management.azure.com", cred);
    expect(arm.followable("https://management.azure.com/subscriptions/s/op?api-version=1", "Location")).toBe(
      "https://management.azure.com/subscriptions/s/op?api-version=1",
    );
    expect(arm.followable("/subscriptions/s/op", "Location")).toBe(
      "https://management.azure.com/subscriptions/s/op",
    );
    for (const foreign of [
      "https://attacker.example/subscriptions/s/op",
      "http://management.azure.com/subscriptions/s/op",
      "https://management.azure.com:444/subscriptions/s/op",
      "https://management.azure.com.attacker.example/x",
    ])
      expect(() => arm.followable(foreign, "nextLink")).toThrow(/refusing to follow the nextLink URL/);
    // the token itself: any request elsewhere fails before it is sent
    await expect(arm.http.request("GET", "https://attacker.example/x")).rejects.toThrow(
      /refusing to send the access token for https:\/\/management\.azure\.com\/\.default to https:\/\/attacker\.example/,
    );
  });

  test("MLflow hosts: Azure ML's, or the ARM endpoint itself (another cloud, the tests' fake); nothing else", () => {
    const cred: TokenCredential = { getToken: async () => null };
    const arm = new ArmClient("https://127.0.0.1:8443", cred);
    expect(trustedMlflowBase(arm, `azureml://westeurope.api.azureml.ms/mlflow/v1.0${WS_ID}`)).toBe(
      `https://westeurope.api.azureml.ms/mlflow/v1.0${WS_ID}`,
    );
    expect(trustedMlflowBase(arm, `azureml://127.0.0.1:8443/mlflow/v1.0${WS_ID}`)).toBe(
      `https://127.0.0.1:8443/mlflow/v1.0${WS_ID}`,
    );
    expect(() => trustedMlflowBase(arm, `azureml://127.0.0.1:9443/mlflow/v1.0${WS_ID}`)).toThrow(
      /refusing the workspace's MLflow tracking host 127\.0\.0\.1:9443/,
    );
    expect(() => trustedMlflowBase(arm, `azureml://mlflow.attacker.example/x`)).toThrow(/refusing/);
  });
});

describe("redaction before truncation", () => {
  const secret = "s3cr3t-VALUE-0123456789-abcdefghij";
  beforeAll(() => registerSecret(secret));

  test.each([10, 490, 495, 499])(
    "a raw error body with the secret at character %i: no prefix of it survives the 500 cut",
    (at) => {
      const text = serviceErrorText(`${"y".repeat(at)}${secret}`);
      expect(text.length).toBeLessThanOrEqual(ERROR_BODY_CHARS);
      expect(text).not.toContain(secret.slice(0, 6));
    },
  );

  test("redactTruncated: redacts first, then cuts; drops a secret's start left at the end by whoever cut it", () => {
    expect(redactTruncated(`${"x".repeat(3990)}${secret}`, 4000)).toBe(`${"x".repeat(3990)}${REDACTED}`);
    expect(redactTruncated(`${"x".repeat(3995)}${secret}`, 4000)).toBe(
      `${"x".repeat(3995)}${REDACTED.slice(0, 5)}`,
    );
    expect(redactTruncated(`cut by the service: ${secret.slice(0, 12)}`, 4000)).toBe(
      `cut by the service: ${REDACTED}`,
    );
    expect(redactTruncated("short and clean", 4000)).toBe("short and clean");
  });
});

describe("HttpClient timeouts", () => {
  test("a request that gets no answer is retried, then reported", async () => {
    const sockets: import("node:net").Socket[] = [];
    let hits = 0;
    const server = http.createServer(() => {
      hits++; // never answers
    });
    server.on("connection", (s) => sockets.push(s));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hang`;
    const cred: TokenCredential = {
      getToken: async () => ({ token: "t", expiresOnTimestamp: Date.now() + 3600_000 }),
    };
    const client = new HttpClient({
      token: new BearerToken(cred, "s"),
      retry: { baseDelayMs: 1, maxDelayMs: 1, maxAttempts: 2, maxRetryAfterMs: 1, requestTimeoutMs: 200 },
    });
    const stderr = jest.spyOn(process.stderr, "write").mockImplementation(() => true);
    try {
      await expect(client.request("GET", url)).rejects.toThrow(
        /failed after 2 attempts: no answer within 0\.2s/,
      );
    } finally {
      stderr.mockRestore();
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    }
    expect(hits).toBe(2);
  });
  test("a POST that gets no answer is not sent again (it may still be running)", async () => {
    let calls = 0;
    const client = new HttpClient({
      retry: { baseDelayMs: 1, maxDelayMs: 1, maxAttempts: 3, maxRetryAfterMs: 1, requestTimeoutMs: 100 },
      fetch: async () => {
        calls++;
        throw Object.assign(new Error("The operation was aborted due to timeout"), { name: "TimeoutError" });
      },
      log: () => undefined,
    });
    await expect(client.request("POST", "http://127.0.0.1:1/score", { body: "{}" })).rejects.toThrow(
      "POST http://127.0.0.1:1/score failed after 1 attempt: no answer within 0.1s",
    );
    expect(calls).toBe(1);
  });
});

describe("runCli", () => {
  /** Runs a CLI definition in-process and captures what it writes. */
  async function run(cli: Parameters<typeof cliExitCode>[0], argv: string[] = []) {
    const out: string[] = [];
    const err: string[] = [];
    const o = jest.spyOn(process.stdout, "write").mockImplementation((c) => out.push(String(c)) > 0);
    const e = jest.spyOn(process.stderr, "write").mockImplementation((c) => err.push(String(c)) > 0);
    try {
      const code = await cliExitCode(cli, argv);
      return { code, stdout: out.join(""), stderr: err.join("") };
    } finally {
      o.mockRestore();
      e.mockRestore();
    }
  }
  const main = jest.fn(async () => 0);
  const parse = (argv: string[]) => parseArgs(argv, { n: { type: "number", min: 0, max: 1 } });

  test("--help: the usage on stdout, exit 0, main not run", async () => {
    const r = await run({ name: "t", usage: "usage: t [--n F]", parse, main }, ["--help"]);
    expect(r).toEqual({ code: 0, stdout: "usage: t [--n F]\n", stderr: "" });
    expect(main).not.toHaveBeenCalled();
  });
  test("an unexpected error: exit 1 with its stack, no result line where none is wanted", async () => {
    const boom = async () => {
      throw new TypeError("x is undefined");
    };
    const r = await run({ name: "t", usage: "u", parse, main: boom, resultLine: false });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^t: internal error: x is undefined\nTypeError: x is undefined\n\s+at /);
    expect(r.stdout).toBe("");
  });
  test("a usage error: exit 2, message and usage on stderr, the JSON error line on stdout, main not run", async () => {
    const r = await run({ name: "t", usage: "usage: t [--n F]", parse, main }, ["--n", "2"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("t: --n must be a number in [0, 1], got '2'\n\nusage: t [--n F]\n");
    expect(JSON.parse(r.stdout)).toEqual({ error: "--n must be a number in [0, 1], got '2'" });
    expect(main).not.toHaveBeenCalled();
  });
});
