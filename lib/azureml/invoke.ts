/**
 * The invocation client: posts a scoring request to an Azure ML online endpoint (or a local azmlinfsrv) the way
 * `az ml online-endpoint invoke` does and checks the predictions against expected labels. Pure (or injectable)
 * functions, tested without processes; ops/invoke.ts is the CLI, local/run-local.ts calls runInvoke() in-process.
 * HTTP, retries, redaction and flags come from the CLI toolkit (lib/toolkit, lib/azure).
 *
 *   --uri URL [--auth Key|AMLToken|AADToken] [--endpoint-id ID] [--key KEY] [--request FILE] [--expected FILE]
 *   [--min-accuracy F] [--deployment NAME] [--json]
 *   key also from env ENDPOINT_KEY; Authorization: Bearer <key or token>; exit 0 pass, 1 below min accuracy,
 *   2 usage/transport.
 */
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { parseArgs, type FlagValues } from "../toolkit/args";
import { ArmClient, armEndpointFrom } from "../azure/arm";
import { createCredential } from "../azure/credential";
import { CliError, UsageError, errorMessage } from "../toolkit/errors";
import {
  assertSafeForToken,
  BearerToken,
  HttpClient,
  HttpError,
  jsonOf,
  shortUrl,
  type FetchLike,
  type RetryPolicy,
} from "../azure/http";
import { parseWorkspaceChildId } from "./ids";
import { redact, redactTruncated, registerSecret } from "../toolkit/redact";
import type { SampleResult } from "../core/contracts";
import { ENDPOINT_AUTH_MODES, endpointAuthModeOf, type EndpointAuthMode } from "../core/azureRules";

/** The repo root: the default files are found from any working directory. */
const REPO = path.resolve(__dirname, "..", "..");
export const DEFAULT_REQUEST = path.join(REPO, "scoring", "sample-request.json");
export const DEFAULT_EXPECTED = path.join(REPO, "scoring", "sample-labels.json");

export const EXIT_OK = 0;
export const EXIT_BELOW_ACCURACY = 1;
export const EXIT_ERROR = 2;

/** The Entra scope of the Azure ML data plane (what `az account get-access-token --resource https://ml.azure.com` asks for). */
export const ML_DATA_PLANE_SCOPE = "https://ml.azure.com/.default";

export interface InvokeOptions {
  uri: string;
  /** Key: `key` as given; AMLToken/AADToken: a token asked for when the client runs (see endpointCredential). */
  auth: EndpointAuthMode;
  /** The endpoint's ARM id: AMLToken tokens come from it. */
  endpointId?: string;
  /** ARM endpoint for AMLToken (another cloud, the tests' fake). */
  armEndpoint?: string;
  /** Never printed. Undefined: no Authorization header (local azmlinfsrv needs none). */
  key?: string;
  requestFile: string;
  /** Undefined: predictions are printed but not checked (only allowed with minAccuracy 0). */
  expectedFile?: string;
  minAccuracy: number;
  deployment?: string;
  json: boolean;
  timeoutSeconds: number;
  /** Extra attempts after the first, on the toolkit's retryable statuses and connection errors. */
  retries: number;
  /** First retry delay; doubles each retry (a Retry-After header wins, capped at 60 s). */
  retryDelaySeconds: number;
}

export const INVOKE_USAGE = `Usage: npm run invoke -- --uri URL [options]

Posts a scoring request to an Azure ML online endpoint (or a local azmlinfsrv) the way
\`az ml online-endpoint invoke\` does and checks the predictions against the expected labels.

  --uri URL                 scoring URI, e.g. https://<endpoint>.<region>.inference.ml.azure.com/score
  --auth MODE               Key (default): the endpoint key, if any; AMLToken: a token from the endpoint
                            (needs --endpoint-id); AADToken: an Entra token for https://ml.azure.com
  --endpoint-id ID          the endpoint's ARM id (.../onlineEndpoints/<name>)
  --arm-endpoint URL        Azure Resource Manager for AMLToken (default https://management.azure.com)
  --key KEY                 endpoint key (prefer env ENDPOINT_KEY: a key on a command line ends up in shell history)
  --request FILE            request body {"data": [image, ...]} (default scoring/sample-request.json)
  --expected FILE           expected labels [int, ...], same order (default scoring/sample-labels.json when --request is
                            not given; with a custom --request and no --expected, pass --min-accuracy 0)
  --min-accuracy F          pass threshold in [0, 1] (default 1.0)
  --deployment NAME         send azureml-model-deployment: NAME (bypasses the traffic split)
  --json                    stdout = one JSON line {"total","correct","accuracy","latencyMs","passed"};
                            the table goes to stderr
  --timeout-seconds N       per-attempt timeout (default 60; a timed-out call is not retried)
  --retries N               retries on HTTP 429/500/502/503/504 and connection errors (default 3)
  --retry-delay-seconds F   first retry delay, doubled each retry with ±25 % jitter (default 2)
  -h, --help                this text

Exit codes: 0 accuracy >= min, 1 accuracy below min, 2 usage, file, HTTP or transport error.`;

/** `--auth`: the ARM spellings, or the Azure ML CLI YAML's (key, aml_token, aad_token), in any case. */
export const AUTH_FLAG = {
  type: "string",
  placeholder: ENDPOINT_AUTH_MODES.join("|"),
  default: "Key",
} as const;

export const INVOKE_FLAGS = {
  uri: { type: "string", required: true },
  auth: AUTH_FLAG,
  "endpoint-id": { type: "string" },
  "arm-endpoint": { type: "string" },
  key: { type: "string", secret: true },
  request: { type: "string" },
  expected: { type: "string" },
  "min-accuracy": { type: "number", min: 0, max: 1, default: 1 },
  deployment: { type: "string" },
  json: { type: "boolean" },
  "timeout-seconds": { type: "number", min: 0.001, max: 86400, default: 60 },
  retries: { type: "number", integer: true, min: 0, max: 100, default: 3 },
  "retry-delay-seconds": { type: "number", min: 0, max: 600, default: 2 },
} as const;

/** The scoring URI must be an http(s) URL. */
function checkUri(uri: string): void {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new UsageError(`--uri is not a valid URL: '${uri}'`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new UsageError(`--uri must be http(s), got '${url.protocol}'`);
  }
}

/** A token mode takes no key; AMLToken needs the endpoint's id (checked for shape here, before any call). */
function checkAuth(auth: EndpointAuthMode, endpointId: string | undefined, key: string | undefined): void {
  if (auth !== "Key" && key !== undefined)
    throw new UsageError(`--key goes with --auth Key, not --auth ${auth}`);
  if (auth === "AMLToken" && endpointId === undefined) {
    throw new UsageError("--auth AMLToken needs --endpoint-id (the token comes from the endpoint)");
  }
  if (endpointId !== undefined) parseWorkspaceChildId(endpointId, ["onlineEndpoints"]);
}

/**
 * Parses the CLI arguments (without node/script). Returns null when --help was asked for.
 * Throws UsageError with a readable message on bad input. Files are checked by loadInvokeInputs().
 */
export function parseInvokeArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): InvokeOptions | null {
  const v = parseArgs(argv, INVOKE_FLAGS);
  return v === null ? null : invokeOptions(v, env);
}

/**
 * The client's options from flag values (as parseArgs gives them, ranges already checked): the URI, the auth mode
 * against the key and endpoint id, the request/expected pairing. Other CLIs that call the client (the smoke test,
 * the rollout's sample calls) hand their values here, so they accept exactly what ops/invoke.ts accepts.
 */
export function invokeOptions(
  v: FlagValues<typeof INVOKE_FLAGS>,
  env: NodeJS.ProcessEnv = process.env,
): InvokeOptions {
  checkUri(v.uri);
  const auth = endpointAuthModeOf(v.auth);
  if (auth === undefined)
    throw new UsageError(
      `--auth must be one of ${ENDPOINT_AUTH_MODES.join(", ")}, got '${v.auth}' (the Azure ML CLI's key, aml_token, aad_token work too)`,
    );
  checkAuth(auth, v["endpoint-id"], v.key);
  const expectedFile = v.expected ?? (v.request === undefined ? DEFAULT_EXPECTED : undefined);
  if (expectedFile === undefined && v["min-accuracy"] > 0) {
    throw new UsageError(
      "--request was given without --expected: pass --expected FILE (labels), or --min-accuracy 0 to only print predictions",
    );
  }
  return {
    uri: v.uri,
    auth,
    endpointId: v["endpoint-id"],
    armEndpoint: v["arm-endpoint"],
    key: auth !== "Key" ? undefined : (v.key ?? (env.ENDPOINT_KEY ? env.ENDPOINT_KEY : undefined)),
    requestFile: v.request ?? DEFAULT_REQUEST,
    expectedFile,
    minAccuracy: v["min-accuracy"],
    deployment: v.deployment,
    json: v.json,
    timeoutSeconds: v["timeout-seconds"],
    retries: v.retries,
    retryDelaySeconds: v["retry-delay-seconds"],
  };
}

export interface InvokeInputs {
  /** The request body exactly as read from the file (sent unchanged). */
  body: string;
  /** Number of images in request.data. */
  count: number;
  expected?: number[];
}

/** Validates the request/expected pair held in memory (file names only for messages). */
export function validateInputs(
  requestText: string,
  expectedText: string | undefined,
  requestName = "request",
  expectedName = "expected",
): InvokeInputs {
  let request: unknown;
  try {
    request = JSON.parse(requestText);
  } catch (err) {
    throw new UsageError(`${requestName} is not valid JSON: ${(err as Error).message}`);
  }
  if (
    typeof request !== "object" ||
    request === null ||
    !Array.isArray((request as { data?: unknown }).data)
  ) {
    throw new UsageError(`${requestName} must be a JSON object {"data": [image, ...]}`);
  }
  const count = (request as { data: unknown[] }).data.length;
  if (count === 0) throw new UsageError(`${requestName} has an empty "data" array`);
  if (expectedText === undefined) return { body: requestText, count };
  let expected: unknown;
  try {
    expected = JSON.parse(expectedText);
  } catch (err) {
    throw new UsageError(`${expectedName} is not valid JSON: ${(err as Error).message}`);
  }
  if (!Array.isArray(expected) || !expected.every((x) => Number.isInteger(x))) {
    throw new UsageError(`${expectedName} must be a JSON array of integer labels [int, ...]`);
  }
  if (expected.length !== count) {
    throw new UsageError(
      `${requestName} has ${count} images but ${expectedName} has ${expected.length} labels: they must agree`,
    );
  }
  return { body: requestText, count, expected: expected as number[] };
}

/** Reads and validates the request and expected files with clear errors. */
export function loadInvokeInputs(requestFile: string, expectedFile?: string): InvokeInputs {
  for (const f of [requestFile, expectedFile]) {
    if (f !== undefined && !existsSync(f)) throw new UsageError(`file not found: ${f}`);
  }
  const requestText = readFileSync(requestFile, "utf8");
  const expectedText = expectedFile === undefined ? undefined : readFileSync(expectedFile, "utf8");
  return validateInputs(requestText, expectedText, requestFile, expectedFile);
}

export interface Row {
  index: number;
  predicted: number;
  expected?: number;
  confidence?: number;
  correct?: boolean;
}

export interface Scored {
  rows: Row[];
  total: number;
  /** Absent without expected labels (as in SampleResult). */
  correct?: number;
  accuracy?: number;
}

/**
 * Checks a scoring response {"predictions": [int], "probabilities": [[10]]} against the expected labels.
 * Accepts a body that is a JSON string holding that JSON (some scoring scripts return json.dumps(...)).
 * Throws Error when the response is not of that shape or its length differs from the request.
 */
export function scoreResponse(body: unknown, count: number, expected?: number[]): Scored {
  let obj = body;
  if (typeof obj === "string") {
    try {
      obj = JSON.parse(obj);
    } catch {
      throw new Error("the response is a string that is not JSON");
    }
  }
  const predictions = (obj as { predictions?: unknown } | null)?.predictions;
  if (!Array.isArray(predictions) || !predictions.every((p) => Number.isInteger(p))) {
    throw new Error('the response has no "predictions": [int, ...]');
  }
  if (predictions.length !== count) {
    throw new Error(`the response has ${predictions.length} predictions for ${count} images`);
  }
  const probsRaw = (obj as { probabilities?: unknown }).probabilities;
  const probs = Array.isArray(probsRaw) && probsRaw.length === count ? (probsRaw as unknown[]) : undefined;
  const rows: Row[] = predictions.map((p: number, i: number) => {
    const row: Row = { index: i, predicted: p };
    const pr = probs?.[i];
    if (Array.isArray(pr) && typeof pr[p] === "number") row.confidence = pr[p] as number;
    if (expected) {
      row.expected = expected[i];
      row.correct = p === expected[i];
    }
    return row;
  });
  if (!expected) return { rows, total: count };
  const correct = rows.filter((r) => r.correct).length;
  return { rows, total: count, correct, accuracy: correct / count };
}

/** The table: index, predicted, expected, confidence, ✓/✗. */
export function formatTable(rows: Row[]): string {
  const header = ["#", "predicted", "expected", "confidence", "ok"];
  const cells = rows.map((r) => [
    String(r.index),
    String(r.predicted),
    r.expected === undefined ? "-" : String(r.expected),
    r.confidence === undefined ? "-" : `${(r.confidence * 100).toFixed(2)}%`,
    r.correct === undefined ? "-" : r.correct ? "✓" : "✗",
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...cells.map((row) => row[c].length)));
  const line = (row: string[]) =>
    row
      .map((cell, c) => (c === 0 ? cell.padStart(widths[c]) : cell.padStart(widths[c])))
      .join("  ")
      .trimEnd();
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...cells.map(line)].join("\n");
}

export function formatSummary(
  scored: Scored,
  latencyMs: number,
  attempts: number,
  minAccuracy: number,
): string {
  const perImage = latencyMs / scored.total;
  const acc =
    scored.accuracy === undefined
      ? "not checked (no expected labels)"
      : `${scored.correct}/${scored.total} correct = ${(scored.accuracy * 100).toFixed(2)}% (min ${(minAccuracy * 100).toFixed(2)}%)`;
  const tries = attempts > 1 ? ` after ${attempts} attempts` : "";
  return `accuracy: ${acc}\nlatency: ${latencyMs.toFixed(1)} ms for ${scored.total} images (${perImage.toFixed(2)} ms/image)${tries}`;
}

/** The single stdout line of --json (latency rounded to 0.1 ms; no correct/accuracy without labels). */
export function jsonLine(r: SampleResult): string {
  const line: SampleResult = {
    total: r.total,
    correct: r.correct,
    accuracy: r.accuracy,
    latencyMs: Math.round(r.latencyMs * 10) / 10,
    passed: r.passed,
  };
  return JSON.stringify(line);
}

export function requestHeaders(key?: string, deployment?: string): Record<string, string> {
  const headers: Record<string, string> = { "Content-Type": "application/json", Accept: "application/json" };
  if (key) headers.Authorization = `Bearer ${key}`;
  if (deployment) headers["azureml-model-deployment"] = deployment;
  return headers;
}

/** The toolkit's retry policy with the flags' numbers: `retries` extra attempts, Retry-After capped at 60 s. */
export function invokeRetryPolicy(
  opts: Pick<InvokeOptions, "timeoutSeconds" | "retries" | "retryDelaySeconds">,
): RetryPolicy {
  return {
    baseDelayMs: opts.retryDelaySeconds * 1000,
    maxDelayMs: 60_000,
    maxAttempts: opts.retries + 1,
    maxRetryAfterMs: 60_000,
    requestTimeoutMs: opts.timeoutSeconds * 1000,
  };
}

export interface PostResult {
  status: number;
  body: unknown;
  /** Wall time of the successful attempt. */
  latencyMs: number;
  attempts: number;
}

/**
 * POSTs the body (sent as read) with the toolkit's retry policy. Throws HttpError for a final non-2xx answer,
 * CliError for transport failures and a body that is not JSON (messages never hold the key: it is only in a header).
 */
export async function postRequest(
  opts: Pick<
    InvokeOptions,
    "uri" | "key" | "deployment" | "timeoutSeconds" | "retries" | "retryDelaySeconds"
  >,
  body: string,
  log: (msg: string) => void,
  fetchImpl: FetchLike = fetch,
): Promise<PostResult> {
  // The key (or AMLToken/AADToken) rides in a header the client does not manage: the same TLS rule as its tokens.
  if (opts.key) assertSafeForToken(opts.uri, "the endpoint key or token");
  const http = new HttpClient({ retry: invokeRetryPolicy(opts), log, fetch: fetchImpl });
  const res = await http.request("POST", opts.uri, {
    body,
    headers: requestHeaders(opts.key, opts.deployment),
  });
  return { status: res.status, body: jsonOf(res), latencyMs: res.latencyMs, attempts: res.attempts };
}

/**
 * What goes into `Authorization: Bearer ...`: the key (Key auth; none for a local server), or a token asked for
 * now, inside the step: tokens expire within hours, so the Pulumi program does not store them. AMLToken:
 * `POST <endpoint id>/token` (the Online Endpoints "Get Token" operation; unverified against a live workspace);
 * AADToken: an Entra token for the ML data plane from the same credential the other CLIs use.
 */
export async function endpointCredential(opts: InvokeOptions): Promise<string | undefined> {
  if (opts.auth === "Key" && (opts.key !== undefined || opts.endpointId === undefined)) return opts.key;
  if (opts.auth === "Key") return endpointKey(opts.endpointId!, opts.armEndpoint);
  if (opts.auth === "AADToken") return new BearerToken(createCredential(), ML_DATA_PLANE_SCOPE).get();
  const arm = new ArmClient(armEndpointFrom(opts.armEndpoint));
  const res = await arm.send("POST", `${opts.endpointId}/token`, { body: {} });
  const token = jsonOf<{ accessToken?: string }>(res).accessToken;
  if (!token) throw new CliError(`the endpoint's token operation returned no accessToken`);
  registerSecret(token);
  return token;
}

/**
 * Key auth inside a step: the key is read when the step runs (`POST <endpoint id>/listKeys`, OnlineEndpoints_ListKeys,
 * ML 2025-12-01: {primaryKey, secondaryKey}), so it is never an input of a Pulumi resource and never in the state,
 * where anything that can decrypt the state (a pull request's preview included) could read it.
 */
export async function endpointKey(endpointId: string, armEndpoint?: string): Promise<string> {
  const arm = new ArmClient(armEndpointFrom(armEndpoint));
  const res = await arm.send("POST", `${endpointId}/listKeys`, { body: {} });
  const key = jsonOf<{ primaryKey?: string }>(res).primaryKey;
  if (!key) throw new CliError("the endpoint's listKeys returned no primaryKey");
  registerSecret(key);
  return key;
}

export interface InvokeIO {
  /** Machine output (stdout). */
  out: (line: string) => void;
  /** Human output: stdout normally, stderr with --json. */
  info: (line: string) => void;
  /** Errors and progress (stderr). */
  err: (line: string) => void;
}

export interface InvokeOutcome {
  exitCode: number;
  result?: SampleResult;
  scored?: Scored;
  error?: string;
}

/** How much of an error body a failure message shows, and of a response that is not a prediction. */
export const SHOWN_BODY_CHARS = 4000;
export const UNEXPECTED_BODY_CHARS = 500;

/** The message for a failure before an answer: an HTTP error names who answered, its status and whole body. */
function failureText(err: unknown): string {
  if (!(err instanceof HttpError)) return errorMessage(err);
  let shown = err.body;
  try {
    shown = JSON.stringify(JSON.parse(err.body));
  } catch {
    /* not JSON: show as is */
  }
  // Redacted before the cut: a key straddling character 4,000 must not leave its first characters behind.
  return `HTTP ${err.status} from ${shortUrl(err.url)}: ${redactTruncated(shown, SHOWN_BODY_CHARS) || "(empty body)"}`;
}

/** The table, the summary and PASSED/FAILED for humans; the JSON line for machines. */
function report(opts: InvokeOptions, io: InvokeIO, scored: Scored, post: PostResult): SampleResult {
  const passed = scored.accuracy === undefined ? opts.minAccuracy <= 0 : scored.accuracy >= opts.minAccuracy;
  const result: SampleResult = {
    total: scored.total,
    correct: scored.correct,
    accuracy: scored.accuracy,
    latencyMs: post.latencyMs,
    passed,
  };
  for (const l of formatTable(scored.rows).split("\n")) io.info(l);
  for (const l of formatSummary(scored, post.latencyMs, post.attempts, opts.minAccuracy).split("\n"))
    io.info(l);
  io.info(passed ? "PASSED" : `FAILED: accuracy below ${opts.minAccuracy}`);
  if (opts.json) io.out(jsonLine(result));
  return result;
}

/** The whole client: load files → post → check → print. Never throws; never prints the key. */
export async function runInvoke(
  opts: InvokeOptions,
  io: InvokeIO,
  fetchImpl: FetchLike = fetch,
): Promise<InvokeOutcome> {
  registerSecret(opts.key);
  const fail = (msg: string): InvokeOutcome => {
    io.err(redact(`invoke: error: ${msg}`));
    // Automation reads stdout: keep it one JSON line even on failure.
    if (opts.json) io.out(redact(JSON.stringify({ passed: false, error: msg })));
    return { exitCode: EXIT_ERROR, error: redact(msg) };
  };
  let inputs: InvokeInputs;
  let post: PostResult;
  try {
    inputs = loadInvokeInputs(opts.requestFile, opts.expectedFile);
    const key = await endpointCredential(opts);
    const from = path.relative(process.cwd(), opts.requestFile) || opts.requestFile;
    const credential = opts.auth === "Key" ? (key ? "key: set" : "no key") : `${opts.auth}: fetched`;
    io.err(
      redact(
        `invoke: POST ${opts.uri} (${inputs.count} images from ${from}, ${credential}` +
          `${opts.deployment ? `, deployment ${opts.deployment}` : ""})`,
      ),
    );
    const log = (m: string) => io.err(redact(`invoke: ${m.trim()}`));
    post = await postRequest({ ...opts, key }, inputs.body, log, fetchImpl);
  } catch (err) {
    return fail(failureText(err));
  }
  let scored: Scored;
  try {
    scored = scoreResponse(post.body, inputs.count, inputs.expected);
  } catch (err) {
    return fail(
      `unexpected response (HTTP ${post.status}): ${errorMessage(err)}: ${redactTruncated(JSON.stringify(post.body), UNEXPECTED_BODY_CHARS)}`,
    );
  }
  const result = report(opts, io, scored, post);
  return { exitCode: result.passed ? EXIT_OK : EXIT_BELOW_ACCURACY, result, scored };
}
