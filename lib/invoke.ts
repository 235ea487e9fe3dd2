/**
 * The invocation client's logic, kept in pure (or injectable) functions so it can be tested without processes.
 * cli/invoke.ts is a thin wrapper; local/run-local.ts calls runInvoke() in-process.
 *
 * Contract (docs/CONTRACTS.md, "cli/invoke.ts"):
 *   --uri URL [--key KEY] [--request FILE] [--expected FILE] [--min-accuracy F] [--deployment NAME] [--json]
 *   key also from env ENDPOINT_KEY; Authorization: Bearer <key>; exit 0 pass, 1 below min accuracy, 2 usage/transport.
 */
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";

/** The repo root: the default files are found from any working directory. */
const REPO = path.resolve(__dirname, "..");
export const DEFAULT_REQUEST = path.join(REPO, "scoring", "sample-request.json");
export const DEFAULT_EXPECTED = path.join(REPO, "scoring", "sample-labels.json");
/** Statuses worth retrying: a fresh deployment answers 502 for a short while; 503/504 while it scales; 429 throttling. */
export const RETRYABLE_STATUSES: readonly number[] = [429, 502, 503, 504];

export const EXIT_OK = 0;
export const EXIT_BELOW_ACCURACY = 1;
export const EXIT_ERROR = 2;

export interface InvokeOptions {
  uri: string;
  /** Never printed. Undefined: no Authorization header (local azmlinfsrv needs none). */
  key?: string;
  requestFile: string;
  /** Undefined: predictions are printed but not checked (only allowed with minAccuracy 0). */
  expectedFile?: string;
  minAccuracy: number;
  deployment?: string;
  json: boolean;
  timeoutSeconds: number;
  /** Extra attempts after the first for retryable statuses and connection errors. */
  retries: number;
  /** First retry delay; doubles each retry (a Retry-After header wins, capped at 60 s). */
  retryDelaySeconds: number;
}

export class UsageError extends Error {}

export const INVOKE_USAGE = `Usage: npm run invoke -- --uri URL [options]

Posts a scoring request to an Azure ML online endpoint (or a local azmlinfsrv) the way
\`az ml online-endpoint invoke\` does and checks the predictions against the expected labels.

  --uri URL                 scoring URI, e.g. https://<endpoint>.<region>.inference.ml.azure.com/score
  --key KEY                 endpoint key (prefer env ENDPOINT_KEY: a key on a command line ends up in shell history)
  --request FILE            request body {"data": [image, ...]} (default scoring/sample-request.json)
  --expected FILE           expected labels [int, ...], same order (default scoring/sample-labels.json when --request is
                            not given; with a custom --request and no --expected, pass --min-accuracy 0)
  --min-accuracy F          pass threshold in [0, 1] (default 1.0)
  --deployment NAME         send azureml-model-deployment: NAME (bypasses the traffic split)
  --json                    stdout = one JSON line {"total","correct","accuracy","latencyMs","passed"};
                            the table goes to stderr
  --timeout-seconds N       per-attempt timeout (default 60)
  --retries N               retries on 429/502/503/504 and connection errors (default 3)
  --retry-delay-seconds F   first retry delay, doubled each retry (default 2)
  -h, --help                this text

Exit codes: 0 accuracy >= min, 1 accuracy below min, 2 usage, file, HTTP or transport error.`;

function parseNumber(
  name: string,
  raw: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(value) || value < min || value > max) {
    throw new UsageError(`--${name} must be a number in [${min}, ${max}], got '${raw}'`);
  }
  return value;
}

/**
 * Parses the CLI arguments (without node/script). Returns null when --help was asked for.
 * Throws UsageError with a readable message on bad input. Files are checked by loadInvokeInputs().
 */
export function parseInvokeArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): InvokeOptions | null {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        uri: { type: "string" },
        key: { type: "string" },
        request: { type: "string" },
        expected: { type: "string" },
        "min-accuracy": { type: "string" },
        deployment: { type: "string" },
        json: { type: "boolean", default: false },
        "timeout-seconds": { type: "string" },
        retries: { type: "string" },
        "retry-delay-seconds": { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (err) {
    // parseArgs messages never contain option values, so a --key value cannot leak through them.
    throw new UsageError((err as Error).message);
  }
  const v = parsed.values;
  if (v.help) return null;
  if (!v.uri) throw new UsageError("--uri is required (the endpoint's scoring URI)");
  let url: URL;
  try {
    url = new URL(v.uri);
  } catch {
    throw new UsageError(`--uri is not a valid URL: '${v.uri}'`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new UsageError(`--uri must be http(s), got '${url.protocol}'`);
  }
  const key = v.key ?? (env.ENDPOINT_KEY ? env.ENDPOINT_KEY : undefined);
  const minAccuracy = parseNumber("min-accuracy", v["min-accuracy"], 1.0, 0, 1);
  let expectedFile = v.expected;
  if (expectedFile === undefined && v.request === undefined) expectedFile = DEFAULT_EXPECTED;
  if (expectedFile === undefined && minAccuracy > 0) {
    throw new UsageError(
      "--request was given without --expected: pass --expected FILE (labels), or --min-accuracy 0 to only print predictions",
    );
  }
  return {
    uri: v.uri,
    key,
    requestFile: v.request ?? DEFAULT_REQUEST,
    expectedFile,
    minAccuracy,
    deployment: v.deployment,
    json: v.json ?? false,
    timeoutSeconds: parseNumber("timeout-seconds", v["timeout-seconds"], 60, 0.001, 86400),
    retries: Math.floor(parseNumber("retries", v.retries, 3, 0, 100)),
    retryDelaySeconds: parseNumber("retry-delay-seconds", v["retry-delay-seconds"], 2, 0, 600),
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
  /** null when there are no expected labels. */
  correct: number | null;
  accuracy: number | null;
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
  if (!expected) return { rows, total: count, correct: null, accuracy: null };
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

export interface InvokeResult {
  total: number;
  correct: number | null;
  accuracy: number | null;
  latencyMs: number;
  passed: boolean;
}

export function formatSummary(
  scored: Scored,
  latencyMs: number,
  attempts: number,
  minAccuracy: number,
): string {
  const perImage = latencyMs / scored.total;
  const acc =
    scored.accuracy === null
      ? "not checked (no expected labels)"
      : `${scored.correct}/${scored.total} correct = ${(scored.accuracy * 100).toFixed(2)}% (min ${(minAccuracy * 100).toFixed(2)}%)`;
  const tries = attempts > 1 ? ` after ${attempts} attempts` : "";
  return `accuracy: ${acc}\nlatency: ${latencyMs.toFixed(1)} ms for ${scored.total} images (${perImage.toFixed(2)} ms/image)${tries}`;
}

/** The single stdout line of --json. */
export function jsonLine(r: InvokeResult): string {
  return JSON.stringify({
    total: r.total,
    correct: r.correct,
    accuracy: r.accuracy,
    latencyMs: Math.round(r.latencyMs * 10) / 10,
    passed: r.passed,
  });
}

/** Replaces every occurrence of the key (if any) so it can never reach the output. */
export function redactKey(text: string, key?: string): string {
  if (!key) return text;
  return text.split(key).join("***");
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly statusText: string,
    readonly body: string,
  ) {
    super(`HTTP ${status} ${statusText}`);
  }
}

export type FetchLike = (url: string, init: RequestInit) => Promise<Response>;

export interface PostResult {
  status: number;
  body: unknown;
  /** Wall time of the successful attempt. */
  latencyMs: number;
  /** Wall time of all attempts, waits included. */
  totalMs: number;
  attempts: number;
}

export function requestHeaders(key?: string, deployment?: string): Record<string, string> {
  const headers: Record<string, string> = { "Content-Type": "application/json", Accept: "application/json" };
  if (key) headers.Authorization = `Bearer ${key}`;
  if (deployment) headers["azureml-model-deployment"] = deployment;
  return headers;
}

/** Delay before retry number `retry` (1-based): Retry-After (seconds) if given, else base * 2^(retry-1). */
export function retryDelayMs(retry: number, baseSeconds: number, retryAfter?: string | null): number {
  if (retryAfter) {
    const s = Number(retryAfter);
    if (Number.isFinite(s) && s >= 0) return Math.min(s, 60) * 1000;
  }
  return baseSeconds * 1000 * 2 ** (retry - 1);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * POSTs the body with timeout and retries. Throws HttpError for a final non-2xx answer, Error for transport
 * failures (messages never contain the key: it is only in a header).
 */
export async function postWithRetries(
  opts: Pick<
    InvokeOptions,
    "uri" | "key" | "deployment" | "timeoutSeconds" | "retries" | "retryDelaySeconds"
  >,
  body: string,
  log: (msg: string) => void,
  fetchImpl: FetchLike = fetch,
): Promise<PostResult> {
  const headers = requestHeaders(opts.key, opts.deployment);
  const started = performance.now();
  for (let attempt = 1; ; attempt++) {
    const t0 = performance.now();
    let retryReason: string;
    let retryAfter: string | null = null;
    try {
      const res = await fetchImpl(opts.uri, {
        method: "POST",
        headers,
        body,
        signal: AbortSignal.timeout(opts.timeoutSeconds * 1000),
      });
      const text = await res.text();
      const latencyMs = performance.now() - t0;
      if (res.ok) {
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          throw new HttpError(res.status, `${res.statusText} (body is not JSON)`, text.slice(0, 2000));
        }
        return {
          status: res.status,
          body: parsed,
          latencyMs,
          totalMs: performance.now() - started,
          attempts: attempt,
        };
      }
      if (!RETRYABLE_STATUSES.includes(res.status) || attempt > opts.retries) {
        throw new HttpError(res.status, res.statusText, text.slice(0, 4000));
      }
      retryReason = `HTTP ${res.status}`;
      retryAfter = res.headers.get("retry-after");
    } catch (err) {
      if (err instanceof HttpError) throw err;
      const e = err as Error & { cause?: { code?: string; message?: string } };
      const isTimeout = e.name === "TimeoutError" || e.name === "AbortError";
      const detail = isTimeout
        ? `timed out after ${opts.timeoutSeconds} s`
        : `${e.message}${e.cause ? ` (${e.cause.code ?? e.cause.message ?? ""})` : ""}`;
      // A timeout is not retried: the scoring call may still be running and the budget is the user's.
      if (isTimeout || attempt > opts.retries) throw new Error(`request to ${opts.uri} failed: ${detail}`);
      retryReason = detail;
    }
    const wait = retryDelayMs(attempt, opts.retryDelaySeconds, retryAfter);
    log(`attempt ${attempt} failed (${retryReason}); retrying in ${(wait / 1000).toFixed(1)} s`);
    await sleep(wait);
  }
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
  result?: InvokeResult;
  scored?: Scored;
  error?: string;
}

/** The whole client: load files, post, check, print. Never throws; never prints the key. */
export async function runInvoke(
  opts: InvokeOptions,
  io: InvokeIO,
  fetchImpl: FetchLike = fetch,
): Promise<InvokeOutcome> {
  const safe = (s: string) => redactKey(s, opts.key);
  const fail = (msg: string): InvokeOutcome => {
    io.err(safe(`invoke: error: ${msg}`));
    // Automation reads stdout: keep it one JSON line even on failure.
    if (opts.json) io.out(JSON.stringify({ passed: false, error: safe(msg) }));
    return { exitCode: EXIT_ERROR, error: safe(msg) };
  };
  let inputs: InvokeInputs;
  try {
    inputs = loadInvokeInputs(opts.requestFile, opts.expectedFile);
  } catch (err) {
    return fail((err as Error).message);
  }
  io.err(
    safe(
      `invoke: POST ${opts.uri} (${inputs.count} images from ${path.relative(process.cwd(), opts.requestFile) || opts.requestFile}${opts.key ? ", key: set" : ", no key"}` +
        `${opts.deployment ? `, deployment ${opts.deployment}` : ""})`,
    ),
  );
  let post: PostResult;
  try {
    post = await postWithRetries(opts, inputs.body, (m) => io.err(safe(`invoke: ${m}`)), fetchImpl);
  } catch (err) {
    if (err instanceof HttpError) {
      let shown = err.body;
      try {
        shown = JSON.stringify(JSON.parse(err.body));
      } catch {
        /* not JSON: show as is */
      }
      return fail(`${err.message}: ${shown || "(empty body)"}`);
    }
    return fail((err as Error).message);
  }
  let scored: Scored;
  try {
    scored = scoreResponse(post.body, inputs.count, inputs.expected);
  } catch (err) {
    return fail(
      `unexpected response (HTTP ${post.status}): ${(err as Error).message}: ${JSON.stringify(post.body).slice(0, 500)}`,
    );
  }
  const passed = scored.accuracy === null ? opts.minAccuracy <= 0 : scored.accuracy >= opts.minAccuracy;
  const result: InvokeResult = {
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
  return { exitCode: passed ? EXIT_OK : EXIT_BELOW_ACCURACY, result, scored };
}
