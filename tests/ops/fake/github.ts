/**
 * GitHub Actions' ID-token endpoint (what `ACTIONS_ID_TOKEN_REQUEST_URL` points at), served by the fake, and
 * Entra's check of a federated assertion made from it: issued here, for `api://AzureADTokenExchange`, unexpired.
 */
import { randomBytes } from "node:crypto";
import type { FakeAzure } from "./fakeAzure";

const b64url = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
const PATH = "/_apis/distributedtask/idtoken";
const AUDIENCE = "api://AzureADTokenExchange";

export class FakeGithubOidc {
  readonly requestToken = `fake-gh-request-token-${randomBytes(12).toString("hex")}`;
  /** GitHub's ID tokens live about 5 minutes */
  lifetimeSec = 300;
  readonly issued: Array<{ token: string; expiresAt: number }> = [];

  constructor(private readonly fake: FakeAzure) {}

  install(): void {
    this.fake.on(
      "GET",
      PATH,
      (req) => {
        if (req.token !== this.requestToken) return { status: 401, body: { message: "Bad credentials" } };
        const audience = req.query.get("audience") ?? "";
        const now = Math.floor(Date.now() / 1000);
        const token = [
          b64url({ alg: "RS256", typ: "JWT" }),
          b64url({
            iss: "https://token.actions.githubusercontent.com",
            aud: audience,
            iat: now,
            n: this.issued.length,
          }),
          randomBytes(24).toString("base64url"),
        ].join(".");
        this.issued.push({ token, expiresAt: Date.now() + this.lifetimeSec * 1000 });
        return { status: 200, body: { count: 1, value: token } };
      },
      { open: true },
    );
  }

  /** A GitHub Actions job with `id-token: write`: the ARM_* ids the workflows set, no client secret. */
  env(): Record<string, string> {
    return {
      ACTIONS_ID_TOKEN_REQUEST_URL: `${this.fake.url}${PATH}?api-version=2.0`,
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: this.requestToken,
      ARM_CLIENT_ID: this.fake.clientId,
      ARM_TENANT_ID: this.fake.tenant,
      AZURE_CLIENT_ID: "",
      AZURE_TENANT_ID: "",
      AZURE_CLIENT_SECRET: "",
      AZURE_TOKEN_CREDENTIALS: "",
    };
  }

  /** Entra's verdict on a client assertion: an AADSTS error description, or undefined when it is good. */
  verify(assertion: string): string | undefined {
    const known = this.issued.find((t) => t.token === assertion);
    if (!known)
      return "AADSTS700211: No matching federated identity record found for presented assertion issuer.";
    const payload = JSON.parse(Buffer.from(assertion.split(".")[1], "base64url").toString()) as {
      aud?: string;
    };
    if (payload.aud !== AUDIENCE)
      return "AADSTS700212: No matching federated identity record found for presented assertion audience.";
    if (known.expiresAt <= Date.now())
      return "AADSTS700024: Client assertion is not within its valid time range.";
    return undefined;
  }

  secrets(): string[] {
    return [this.requestToken, ...this.issued.map((t) => t.token)];
  }
}
