/**
 * ops/invoke.ts with token auth, as the graph runs it, against the fake Azure: the token is asked for inside the
 * step (AMLToken from the endpoint, AADToken from Entra), sent as the bearer, and never printed; never over plain
 * http to a host other than the loopback interface.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { networkInterfaces } from "node:os";
import * as path from "node:path";
import { FakeAzure, ML_AUDIENCE } from "./fake/fakeAzure";
import { REPO, runCli, type CliResult } from "./fake/runCli";
import { WS_ID } from "./scenarios";

const fake = new FakeAzure();
const outputs: CliResult[] = [];
beforeAll(() => fake.start());
afterAll(() => fake.stop());
beforeEach(() => fake.reset());

const ENDPOINT_ID = `${WS_ID}/onlineEndpoints/mnist-dev`;
const LABELS: number[] = JSON.parse(readFileSync(path.join(REPO, "scoring", "sample-labels.json"), "utf8"));
const AML_TOKEN = `aml-token-${randomBytes(16).toString("hex")}`;

/** The scoring route: 200 with every label right when `accept` likes the Authorization header, else 401. */
function installScoring(accept: (authorization: string | undefined) => boolean): void {
  fake.on(
    "POST",
    "/score",
    (req) =>
      accept(req.headers.authorization)
        ? { status: 200, body: { predictions: LABELS } }
        : { status: 401, body: { message: "invalid token" } },
    { open: true },
  );
}

async function invoke(args: string[]): Promise<CliResult> {
  const r = await runCli(
    "invoke",
    ["--uri", `${fake.url}/score`, "--json", "--retries", "0", ...args],
    fake.env(),
  );
  outputs.push(r);
  return r;
}

test("AMLToken: the token comes from the endpoint's token operation, inside the step", async () => {
  fake.extraSecrets.push(AML_TOKEN);
  fake.on("POST", `${ENDPOINT_ID}/token`, {
    status: 200,
    body: {
      accessToken: AML_TOKEN,
      tokenType: "Bearer",
      expiryTimeUtc: 1764187200,
      refreshAfterTimeUtc: 1764180000,
    },
  });
  installScoring((a) => a === `Bearer ${AML_TOKEN}`);
  const r = await invoke(["--auth", "AMLToken", "--endpoint-id", ENDPOINT_ID]);
  expect(r.code).toBe(0);
  expect(r.json).toEqual({
    total: LABELS.length,
    correct: LABELS.length,
    accuracy: 1,
    latencyMs: expect.any(Number),
    passed: true,
  });
  expect(r.stderr).toContain("AMLToken: fetched");
  expect(fake.count("POST", `${ENDPOINT_ID}/token`)).toBe(1);
});

test("AADToken: an Entra token for the Azure ML data plane", async () => {
  // the token must be one Entra issued for the ML data plane (https://ml.azure.com), not ARM's
  installScoring((a) => fake.issued.some((t) => a === `Bearer ${t.token}` && t.aud === ML_AUDIENCE));
  const r = await invoke(["--auth", "AADToken"]);
  expect(r.code).toBe(0);
  expect(r.json).toMatchObject({ passed: true });
  const tokenRequests = fake.requests.filter((q) => q.path.endsWith("/oauth2/v2.0/token"));
  expect(tokenRequests.map((q) => new URLSearchParams(q.body).get("scope"))).toEqual([
    "https://ml.azure.com/.default",
  ]);
});

test("no token to be had: exit 2 with the JSON error line, and nothing is posted", async () => {
  fake.on("POST", `${ENDPOINT_ID}/token`, {
    status: 403,
    body: { error: { code: "AuthorizationFailed", message: "no listKeys/token rights on the endpoint" } },
  });
  installScoring(() => true);
  const r = await invoke(["--auth", "AMLToken", "--endpoint-id", ENDPOINT_ID]);
  expect(r.code).toBe(2);
  expect(r.json).toMatchObject({ passed: false });
  expect(String(r.json!.error)).toMatch(
    /HTTP 403 from .*\/onlineEndpoints\/mnist-dev\/token: .*AuthorizationFailed/,
  );
  expect(fake.count("POST", "/score")).toBe(0);
});

/** A non-loopback IPv4 address of this machine (undefined on a machine with loopback only). */
function lanAddress(): string | undefined {
  return Object.values(networkInterfaces())
    .flat()
    .find((a) => a && a.family === "IPv4" && !a.internal)?.address;
}

const lan = lanAddress();
(lan ? test : test.skip)(
  "plain http to a non-loopback host: refused before the key is sent (probe L1)",
  async () => {
    const seen: Array<string | undefined> = [];
    const server = http.createServer((req, res) => {
      seen.push(req.headers.authorization);
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ predictions: LABELS }));
    });
    await new Promise<void>((r) => server.listen(0, lan, r));
    try {
      const uri = `http://${lan}:${(server.address() as AddressInfo).port}/score`;
      const key = `plain-http-key-${randomBytes(12).toString("hex")}`;
      fake.extraSecrets.push(key);
      const r = await runCli(
        "invoke",
        ["--uri", uri, "--json", "--retries", "0"],
        fake.env({ ENDPOINT_KEY: key }),
      );
      outputs.push(r);
      expect(r.code).toBe(2);
      expect(String(r.json!.error)).toContain(`refusing to send the endpoint key or token to http://${lan}:`);
      expect(seen).toEqual([]);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  },
);

test("no secret (client secret, tokens) appears in any output", () => {
  expect(outputs.length).toBe(lan ? 4 : 3);
  for (const o of outputs) for (const s of fake.secrets()) expect(o.stdout + o.stderr).not.toContain(s);
});
