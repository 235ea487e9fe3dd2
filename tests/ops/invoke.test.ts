/**
 * ops/invoke.ts with token auth, as the graph runs it, against the fake Azure: the token is asked for inside the
 * step (AMLToken from the endpoint, AADToken from Entra), sent as the bearer, and never printed.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { FakeAzure } from "./fake/fakeAzure";
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
  installScoring((a) => fake.issued.some((t) => a === `Bearer ${t.token}`));
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

test("no secret (client secret, tokens) appears in any output", () => {
  expect(outputs.length).toBe(3);
  for (const o of outputs) for (const s of fake.secrets()) expect(o.stdout + o.stderr).not.toContain(s);
});
