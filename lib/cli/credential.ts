/**
 * The credential every ops CLI uses: `DefaultAzureCredential` (environment variables incl. client secret or
 * workload identity/OIDC, managed identity, `az login`, ...). `AZURE_AUTHORITY_HOST` is honoured by
 * @azure/identity itself (sovereign clouds; the tests point it at their local fake).
 */
import { DefaultAzureCredential, type TokenCredential } from "@azure/identity";

export const ARM_SCOPE_SUFFIX = "/.default";

export function createCredential(env: NodeJS.ProcessEnv = process.env): TokenCredential {
  const authorityHost = env.AZURE_AUTHORITY_HOST;
  const publicCloud =
    !authorityHost ||
    /^https:\/\/login\.(microsoftonline\.com|microsoftonline\.us|chinacloudapi\.cn)\/?$/i.test(authorityHost);
  return new DefaultAzureCredential({
    // MSAL validates unknown authority hosts against login.microsoftonline.com; a private/sovereign authority
    // (and the tests' fake) must be used as given.
    ...(publicCloud ? {} : { disableInstanceDiscovery: true }),
  });
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
