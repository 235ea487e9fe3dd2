/**
 * The credential every ops CLI uses.
 *
 * In GitHub Actions with OIDC (`permissions: id-token: write`): a `ClientAssertionCredential` whose assertion is a
 * FRESH GitHub ID token each time Entra is asked for an access token. The az CLI session `azure/login` leaves
 * behind cannot renew itself once its ID token (minutes) has expired, so an hour-long wait would die with it; the
 * runner's ID-token request token stays usable for the whole job, so asking GitHub again always works.
 *
 * Elsewhere: `DefaultAzureCredential` (environment variables incl. client secret or workload identity, managed
 * identity, `az login`, ...). `AZURE_TOKEN_CREDENTIALS`, when set, is an explicit choice of that chain and wins.
 * `AZURE_AUTHORITY_HOST` is honoured by both (sovereign clouds; the tests point it at their local fake).
 */
import { ClientAssertionCredential, DefaultAzureCredential, type TokenCredential } from "@azure/identity";
import { CliError } from "../toolkit/errors";
import { HttpClient, assertSafeForToken, jsonOf } from "./http";
import { registerSecret } from "../toolkit/redact";

export const ARM_SCOPE_SUFFIX = "/.default";

/** The audience Entra expects on a federated (GitHub) assertion. */
export const AZURE_AD_TOKEN_EXCHANGE = "api://AzureADTokenExchange";

/** What asking GitHub for an ID token and exchanging it at Entra needs. */
export interface GithubOidc {
  requestUrl: string;
  requestToken: string;
  tenantId: string;
  clientId: string;
}

/** The GitHub OIDC settings when all are present (AZURE_* ids, else the ARM_* ones the workflows set). */
export function githubOidc(env: NodeJS.ProcessEnv = process.env): GithubOidc | undefined {
  const requestUrl = env.ACTIONS_ID_TOKEN_REQUEST_URL;
  const requestToken = env.ACTIONS_ID_TOKEN_REQUEST_TOKEN;
  const tenantId = env.AZURE_TENANT_ID || env.ARM_TENANT_ID;
  const clientId = env.AZURE_CLIENT_ID || env.ARM_CLIENT_ID;
  if (env.AZURE_TOKEN_CREDENTIALS || !requestUrl || !requestToken || !tenantId || !clientId) return undefined;
  registerSecret(requestToken);
  return { requestUrl, requestToken, tenantId, clientId };
}

/** A new GitHub ID token for Entra's audience (actions/toolkit `OidcClient.getIDToken`), on every call. */
export async function githubIdToken(gh: GithubOidc, http: HttpClient = new HttpClient()): Promise<string> {
  const url = new URL(gh.requestUrl);
  url.searchParams.set("audience", AZURE_AD_TOKEN_EXCHANGE);
  assertSafeForToken(url.href);
  const res = await http.request("GET", url.href, {
    headers: { authorization: `Bearer ${gh.requestToken}` },
  });
  const value = jsonOf<{ value?: unknown }>(res).value;
  if (typeof value !== "string" || !value) throw new CliError("GitHub's ID-token endpoint returned no token");
  registerSecret(value);
  return value;
}

export function createCredential(env: NodeJS.ProcessEnv = process.env): TokenCredential {
  const authorityHost = env.AZURE_AUTHORITY_HOST;
  const publicCloud =
    !authorityHost ||
    /^https:\/\/login\.(microsoftonline\.com|microsoftonline\.us|chinacloudapi\.cn)\/?$/i.test(authorityHost);
  const options = {
    ...(authorityHost ? { authorityHost } : {}),
    // MSAL validates unknown authority hosts against login.microsoftonline.com; a private/sovereign authority
    // (and the tests' fake) must be used as given.
    ...(publicCloud ? {} : { disableInstanceDiscovery: true }),
  };
  const gh = githubOidc(env);
  // MSAL awaits getAssertion whenever it needs a new access token (expired, or a claims challenge).
  if (gh) return new ClientAssertionCredential(gh.tenantId, gh.clientId, () => githubIdToken(gh), options);
  return new DefaultAzureCredential(options);
}

/** ARM's token scope for a given management endpoint (`https://management.azure.com` → `.../.default`). */
export function armScope(armEndpoint: string): string {
  // Tokens for the public cloud are requested for management.azure.com; a custom endpoint (sovereign cloud, the
  // tests' fake) gets its own audience unless AZURE_ARM_SCOPE says otherwise.
  const fromEnv = process.env.AZURE_ARM_SCOPE;
  if (fromEnv) return fromEnv;
  const origin = new URL(armEndpoint).origin;
  return `${origin}${ARM_SCOPE_SUFFIX}`;
}
