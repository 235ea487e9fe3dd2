/**
 * Redaction of secrets from any text the CLIs print. Every line that reaches stderr or stdout goes through
 * `redact`, so a token in an error body, a SAS signature in a log URL or an account key never leaves the process.
 */

/** One marker for every CLI: it says what happened, where `***` reads like a masked value of some length. */
export const REDACTED = "[REDACTED]";
const REPLACEMENT = REDACTED;

/**
 * Values registered at runtime (tokens we obtained, keys we read, secret flags): replaced wherever they appear.
 * Values under 8 characters are not registered: replacing them would mangle ordinary text, and no key or token
 * is that short.
 */
const knownSecrets = new Set<string>();

export function registerSecret(value: string | undefined | null): void {
  if (value && value.length >= 8) knownSecrets.add(value);
}

const PATTERNS: Array<[RegExp, string]> = [
  // JWTs (AAD access tokens, GitHub OIDC ID tokens): header.payload.signature, base64url.
  [/eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g, REPLACEMENT],
  // Authorization headers and bearer tokens quoted in messages.
  [/(\bBearer\s+)[A-Za-z0-9._~+/=-]{8,}/gi, `$1${REPLACEMENT}`],
  [/(\bSharedKey\s+[^:\s]+:)[A-Za-z0-9+/=]{8,}/gi, `$1${REPLACEMENT}`],
  // SAS query parameters (signature and the token blob of a user delegation SAS).
  [/([?&](?:sig|skoid|sktid|skt|ske|sks|skv|skdutid)=)[^&\s"'<>]+/gi, `$1${REPLACEMENT}`],
  // key=value forms: storage connection strings, JSON fields named like secrets.
  [
    /((?:AccountKey|SharedAccessSignature|AccessKey|client_secret|password)\s*=\s*)[^;&\s"']+/gi,
    `$1${REPLACEMENT}`,
  ],
  [
    /("(?:key|primaryKey|secondaryKey|accountKey|sasToken|accessToken|access_token|refresh_token|id_token|client_secret|password|token|secret)"\s*:\s*")[^"]*(")/gi,
    `$1${REPLACEMENT}$2`,
  ],
];

export function redact(text: string): string {
  let out = text;
  for (const secret of knownSecrets) {
    if (out.includes(secret)) out = out.split(secret).join(REPLACEMENT);
  }
  for (const [re, rep] of PATTERNS) out = out.replace(re, rep);
  return out;
}

/** Shortest tail of a registered secret that is dropped when a text ends with it (a secret cut short upstream). */
const MIN_PARTIAL = 6;

/**
 * Text to print, cut to `max` characters: redacted FIRST, then cut. Cutting first would split a secret that
 * straddles the cut, and its first characters would no longer match the whole value or any pattern. A text that
 * already ends in the start of a registered secret (cut by whoever sent it) has that start replaced by the marker.
 */
export function redactTruncated(text: string, max: number): string {
  let out = redact(text);
  if (out.length > max) out = out.slice(0, max);
  for (const secret of knownSecrets) {
    for (let n = Math.min(secret.length - 1, out.length); n >= MIN_PARTIAL; n--) {
      if (out.endsWith(secret.slice(0, n))) {
        out = `${out.slice(0, out.length - n)}${REPLACEMENT}`;
        break;
      }
    }
  }
  return out;
}

/** Environment variables whose values are secrets: registered at start-up so they can never be echoed. */
export function registerSecretsFromEnv(env: NodeJS.ProcessEnv = process.env): void {
  for (const name of [
    "AZURE_CLIENT_SECRET",
    "AZURE_CLIENT_CERTIFICATE_PASSWORD",
    "AZURE_PASSWORD",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    "ARM_CLIENT_SECRET",
    "ARM_OIDC_TOKEN",
    "ARM_OIDC_REQUEST_TOKEN",
    "ENDPOINT_KEY",
  ]) {
    registerSecret(env[name]);
  }
}
