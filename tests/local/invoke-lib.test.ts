import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { UsageError } from "../../lib/toolkit/errors";
import { retryDelayMs, type FetchLike } from "../../lib/azure/http";
import { REDACTED, redact, registerSecret } from "../../lib/toolkit/redact";
import {
  DEFAULT_EXPECTED,
  DEFAULT_REQUEST,
  EXIT_BELOW_ACCURACY,
  EXIT_ERROR,
  EXIT_OK,
  type InvokeOptions,
  formatTable,
  invokeRetryPolicy,
  jsonLine,
  loadInvokeInputs,
  parseInvokeArgs,
  postRequest,
  requestHeaders,
  runInvoke,
  scoreResponse,
  validateInputs,
} from "../../lib/azureml/invoke";

const KEY = "s3cr3t-KEY-value-0123456789";

describe("parseInvokeArgs", () => {
  test("defaults", () => {
    const o = parseInvokeArgs(["--uri", "http://127.0.0.1:5001/score"], {});
    expect(o).toEqual({
      uri: "http://127.0.0.1:5001/score",
      auth: "Key",
      endpointId: undefined,
      armEndpoint: undefined,
      key: undefined,
      requestFile: DEFAULT_REQUEST,
      expectedFile: DEFAULT_EXPECTED,
      minAccuracy: 1,
      deployment: undefined,
      json: false,
      timeoutSeconds: 60,
      retries: 3,
      retryDelaySeconds: 2,
    });
  });

  test("key from ENDPOINT_KEY, --key wins", () => {
    expect(parseInvokeArgs(["--uri", "https://x/score"], { ENDPOINT_KEY: "envkey" })?.key).toBe("envkey");
    expect(
      parseInvokeArgs(["--uri", "https://x/score", "--key", "flag"], { ENDPOINT_KEY: "envkey" })?.key,
    ).toBe("flag");
    expect(parseInvokeArgs(["--uri", "https://x/score"], { ENDPOINT_KEY: "" })?.key).toBeUndefined();
  });

  test("all flags", () => {
    const o = parseInvokeArgs(
      [
        "--uri=https://e.westeurope.inference.ml.azure.com/score",
        "--request",
        "r.json",
        "--expected",
        "e.json",
        "--min-accuracy",
        "0.9",
        "--deployment",
        "blue",
        "--json",
        "--timeout-seconds",
        "5",
        "--retries",
        "0",
        "--retry-delay-seconds",
        "0.5",
      ],
      {},
    );
    expect(o).toMatchObject({
      requestFile: "r.json",
      expectedFile: "e.json",
      minAccuracy: 0.9,
      deployment: "blue",
      json: true,
      timeoutSeconds: 5,
      retries: 0,
      retryDelaySeconds: 0.5,
    });
  });

  test("token auth: no key (ENDPOINT_KEY ignored), AMLToken needs the endpoint's id", () => {
    const ep =
      "/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/w/onlineEndpoints/e";
    expect(
      parseInvokeArgs(["--uri", "https://x/score", "--auth", "AMLToken", "--endpoint-id", ep], {
        ENDPOINT_KEY: "envkey",
      }),
    ).toMatchObject({ auth: "AMLToken", endpointId: ep, key: undefined });
    expect(parseInvokeArgs(["--uri", "https://x/score", "--auth", "AADToken"], {})?.auth).toBe("AADToken");
  });

  test("--help returns null", () => {
    expect(parseInvokeArgs(["--help"], {})).toBeNull();
    expect(parseInvokeArgs(["-h"], {})).toBeNull();
  });

  test.each([
    [[], /--uri is required/],
    [["--uri", "not a url"], /not a valid URL/],
    [["--uri", "ftp://x/score"], /http\(s\)/],
    [["--uri", "http://x/score", "--min-accuracy", "1.5"], /--min-accuracy/],
    [["--uri", "http://x/score", "--min-accuracy", "abc"], /--min-accuracy/],
    [["--uri", "http://x/score", "--timeout-seconds", "0"], /--timeout-seconds/],
    [["--uri", "http://x/score", "--bogus"], /bogus/],
    [["--uri", "http://x/score", "extra"], /positional|Unexpected argument/i],
    [["--uri", "http://x/score", "--request", "mine.json"], /without --expected/],
    [
      ["--uri", "http://x/score", "--auth", "Token"],
      /--auth must be one of Key, AMLToken, AADToken, got 'Token'/,
    ],
    [["--uri", "http://x/score", "--auth", "AMLToken"], /--auth AMLToken needs --endpoint-id/],
    [["--uri", "http://x/score", "--auth", "AADToken", "--key", "k"], /--key goes with --auth Key/],
    [["--uri", "http://x/score", "--endpoint-id", "/not/an/id"], /not an Azure ML resource id/],
  ])("usage error %j", (argv, msg) => {
    expect(() => parseInvokeArgs(argv as string[], {})).toThrow(UsageError);
    expect(() => parseInvokeArgs(argv as string[], {})).toThrow(msg);
  });

  test("custom --request without --expected is fine with --min-accuracy 0", () => {
    const o = parseInvokeArgs(
      ["--uri", "http://x/score", "--request", "mine.json", "--min-accuracy", "0"],
      {},
    );
    expect(o?.expectedFile).toBeUndefined();
  });

  test("a usage error never echoes the key", () => {
    // it must throw (a parse that accepted 2 would skip the check below without failing)
    expect.assertions(3);
    try {
      parseInvokeArgs(["--key", KEY, "--min-accuracy", "2", "--uri", "http://x/score"], {});
    } catch (err) {
      expect(err).toBeInstanceOf(UsageError);
      expect((err as Error).message).toContain("--min-accuracy");
      expect((err as Error).message).not.toContain(KEY);
    }
  });
});

describe("validateInputs / loadInvokeInputs", () => {
  const req = JSON.stringify({ data: [[0], [1], [2]] });
  test("ok", () => {
    expect(validateInputs(req, "[1,2,3]")).toEqual({ body: req, count: 3, expected: [1, 2, 3] });
    expect(validateInputs(req, undefined)).toEqual({ body: req, count: 3 });
  });
  test.each([
    ["{", "[1]", /request is not valid JSON/],
    ['{"x": 1}', "[1]", /\{"data": \[image/],
    ['{"data": []}', "[]", /empty/],
    [req, "{", /expected is not valid JSON/],
    [req, '["a","b","c"]', /integer labels/],
    [req, "[1,2]", /3 images but expected has 2 labels/],
  ])("rejects %s / %s", (r, e, msg) => {
    expect(() => validateInputs(r, e)).toThrow(msg);
  });
  test("missing files name the file", () => {
    expect(() => loadInvokeInputs("/nonexistent/req.json", undefined)).toThrow(
      "file not found: /nonexistent/req.json",
    );
    const dir = mkdtempSync(path.join(tmpdir(), "invoke-"));
    writeFileSync(path.join(dir, "r.json"), req);
    expect(() => loadInvokeInputs(path.join(dir, "r.json"), path.join(dir, "nope.json"))).toThrow(
      /nope\.json/,
    );
  });
});

describe("scoreResponse", () => {
  const body = {
    predictions: [7, 2, 1],
    probabilities: [
      [0, 0, 0, 0, 0, 0, 0, 0.99, 0.01, 0],
      [0, 0, 0.8, 0.2, 0, 0, 0, 0, 0, 0],
      [0, 0.6, 0, 0, 0, 0, 0, 0.4, 0, 0],
    ],
  };
  test("all correct", () => {
    const s = scoreResponse(body, 3, [7, 2, 1]);
    expect(s).toMatchObject({ total: 3, correct: 3, accuracy: 1 });
    expect(s.rows[0]).toEqual({ index: 0, predicted: 7, expected: 7, confidence: 0.99, correct: true });
  });
  test("one wrong", () => {
    const s = scoreResponse(body, 3, [7, 2, 7]);
    expect(s.correct).toBe(2);
    expect(s.accuracy).toBeCloseTo(2 / 3);
    expect(s.rows[2].correct).toBe(false);
  });
  test("a JSON string body is accepted", () => {
    expect(scoreResponse(JSON.stringify(body), 3, [7, 2, 1]).correct).toBe(3);
  });
  test("no expected labels: no correct, no accuracy", () => {
    const s = scoreResponse(body, 3);
    expect(s.total).toBe(3);
    expect(s).not.toHaveProperty("correct");
    expect(s).not.toHaveProperty("accuracy");
  });
  test("probabilities are optional", () => {
    expect(scoreResponse({ predictions: [1] }, 1, [1]).rows[0].confidence).toBeUndefined();
  });
  test.each([
    [{ error: "bad" }, 3, /no "predictions"/],
    [{ predictions: [1, "x", 2] }, 3, /no "predictions"/],
    [{ predictions: [1] }, 3, /1 predictions for 3 images/],
    ["not json", 1, /not JSON/],
    [null, 1, /no "predictions"/],
  ])("rejects %j", (b, n, msg) => {
    expect(() => scoreResponse(b, n as number)).toThrow(msg);
  });
});

describe("formatTable / jsonLine / redaction", () => {
  test("table", () => {
    const t = formatTable([
      { index: 0, predicted: 7, expected: 7, confidence: 0.9987, correct: true },
      { index: 10, predicted: 3, expected: 5, confidence: 0.5, correct: false },
      { index: 11, predicted: 1 },
    ]);
    expect(t.split("\n")).toEqual([
      " #  predicted  expected  confidence  ok",
      "--  ---------  --------  ----------  --",
      " 0          7         7      99.87%   ✓",
      "10          3         5      50.00%   ✗",
      "11          1         -           -   -",
    ]);
  });
  test("json line has exactly the contract's keys, on one line", () => {
    const l = jsonLine({ total: 20, correct: 19, accuracy: 0.95, latencyMs: 12.345, passed: false });
    expect(l).toBe('{"total":20,"correct":19,"accuracy":0.95,"latencyMs":12.3,"passed":false}');
  });
  test("json line without labels has no correct/accuracy", () => {
    expect(jsonLine({ total: 2, latencyMs: 1.04, passed: true })).toBe(
      '{"total":2,"latencyMs":1,"passed":true}',
    );
  });
  test("redact (the toolkit's marker)", () => {
    registerSecret(KEY);
    expect(redact(`a ${KEY} b ${KEY}`)).toBe(`a ${REDACTED} b ${REDACTED}`);
    expect(REDACTED).toBe("[REDACTED]");
    expect(redact("abc")).toBe("abc");
  });
  test("headers", () => {
    expect(requestHeaders(KEY, "blue")).toMatchObject({
      Authorization: `Bearer ${KEY}`,
      "Content-Type": "application/json",
      "azureml-model-deployment": "blue",
    });
    expect(requestHeaders()).not.toHaveProperty("Authorization");
  });
  test("retry delay: exponential (the toolkit's policy with the flags' numbers), Retry-After wins (capped)", () => {
    const policy = (retryDelaySeconds: number) =>
      invokeRetryPolicy({ retryDelaySeconds, retries: 3, timeoutSeconds: 60 });
    const mid = () => 0.5; // the jitter's midpoint
    expect([1, 2, 3].map((r) => retryDelayMs(r, policy(2), undefined, mid))).toEqual([2000, 4000, 8000]);
    expect(retryDelayMs(1, policy(2), new Headers({ "retry-after": "5" }))).toBe(5000);
    expect(retryDelayMs(1, policy(2), new Headers({ "retry-after": "9999" }))).toBe(60000);
    // a date in the past means "now"
    expect(retryDelayMs(2, policy(1), new Headers({ "retry-after": "Wed, 21 Oct 2015 07:28:00 GMT" }))).toBe(
      0,
    );
    expect(policy(2)).toMatchObject({ maxAttempts: 4, requestTimeoutMs: 60000 });
  });
});

function fakeFetch(responses: Array<Response | Error>): FetchLike & { calls: RequestInit[] } {
  const calls: RequestInit[] = [];
  const f = (async (_url: string, init: RequestInit) => {
    calls.push(init);
    const r = responses.shift();
    if (!r) throw new Error("no more responses");
    if (r instanceof Error) throw r;
    return r;
  }) as FetchLike & { calls: RequestInit[] };
  f.calls = calls;
  return f;
}
const jsonRes = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });

describe("postRequest", () => {
  const base = { uri: "https://x/score", key: KEY, timeoutSeconds: 5, retries: 2, retryDelaySeconds: 0 };
  test("retries 502 then succeeds", async () => {
    const f = fakeFetch([
      jsonRes(502, { m: "bad gateway" }),
      jsonRes(503, {}),
      jsonRes(200, { predictions: [1] }),
    ]);
    const logs: string[] = [];
    const r = await postRequest(base, "{}", (m) => logs.push(m), f);
    expect(r.attempts).toBe(3);
    expect(r.body).toEqual({ predictions: [1] });
    expect(logs.join("\n")).toMatch(/HTTP 502.*\n.*HTTP 503/);
    expect((f.calls[0].headers as Record<string, string>).Authorization).toBe(`Bearer ${KEY}`);
  });
  test("gives up after the retries", async () => {
    const f = fakeFetch([jsonRes(502, {}), jsonRes(502, {}), jsonRes(502, { last: true })]);
    await expect(postRequest(base, "{}", () => undefined, f)).rejects.toMatchObject({ status: 502 });
    expect(f.calls).toHaveLength(3);
  });
  test("400 is not retried", async () => {
    const f = fakeFetch([jsonRes(400, { error: "bad shape" })]);
    await expect(postRequest(base, "{}", () => undefined, f)).rejects.toMatchObject({
      status: 400,
      body: '{"error":"bad shape"}',
    });
    expect(f.calls).toHaveLength(1);
  });
  test("connection errors are retried", async () => {
    const refused = Object.assign(new TypeError("fetch failed"), { cause: { code: "ECONNREFUSED" } });
    const f = fakeFetch([refused, jsonRes(200, { predictions: [] })]);
    const r = await postRequest(base, "{}", () => undefined, f);
    expect(r.attempts).toBe(2);
  });
  test("a key never goes over plain http, except to the loopback interface", async () => {
    const f = fakeFetch([jsonRes(200, { predictions: [1] }), jsonRes(200, { predictions: [1] })]);
    for (const uri of ["http://192.0.2.2:38403/score", "http://x/score", "http://127.0.0.2.example/score"]) {
      await expect(postRequest({ ...base, uri }, "{}", () => undefined, f)).rejects.toThrow(
        /refusing to send the endpoint key or token to http:\/\/.* \(https required\)/,
      );
    }
    expect(f.calls).toHaveLength(0);
    await postRequest({ ...base, uri: "http://127.0.0.1:5001/score" }, "{}", () => undefined, f);
    await postRequest({ ...base, uri: "http://x/score", key: undefined }, "{}", () => undefined, f);
    expect(f.calls).toHaveLength(2);
    expect((f.calls[1].headers as Record<string, string>).Authorization).toBeUndefined();
  });
  test("a timeout is reported and not retried", async () => {
    const timeout = Object.assign(new Error("The operation was aborted due to timeout"), {
      name: "TimeoutError",
    });
    const f = fakeFetch([timeout]);
    await expect(postRequest(base, "{}", () => undefined, f)).rejects.toThrow(/no answer within 5\.0s/);
    expect(f.calls).toHaveLength(1);
  });
});

describe("runInvoke", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "invoke-run-"));
  const reqFile = path.join(dir, "req.json");
  const expFile = path.join(dir, "exp.json");
  writeFileSync(reqFile, JSON.stringify({ data: [[0.1], [0.2]] }));
  writeFileSync(expFile, "[3, 4]");
  const opts: InvokeOptions = {
    uri: "https://x/score",
    auth: "Key",
    key: KEY,
    requestFile: reqFile,
    expectedFile: expFile,
    minAccuracy: 1,
    json: true,
    timeoutSeconds: 5,
    retries: 0,
    retryDelaySeconds: 0,
  };
  const capture = () => {
    const out: string[] = [];
    const info: string[] = [];
    const err: string[] = [];
    return {
      out,
      info,
      err,
      io: {
        out: (l: string) => out.push(l),
        info: (l: string) => info.push(l),
        err: (l: string) => err.push(l),
      },
    };
  };
  test("pass", async () => {
    const c = capture();
    const r = await runInvoke(opts, c.io, fakeFetch([jsonRes(200, { predictions: [3, 4] })]));
    expect(r.exitCode).toBe(EXIT_OK);
    expect(c.out).toHaveLength(1);
    expect(JSON.parse(c.out[0])).toMatchObject({ total: 2, correct: 2, accuracy: 1, passed: true });
    expect(c.info.join("\n")).toMatch(/latency: .* ms for 2 images/);
  });
  test("below accuracy", async () => {
    const c = capture();
    const r = await runInvoke(
      { ...opts, minAccuracy: 0.9 },
      c.io,
      fakeFetch([jsonRes(200, { predictions: [3, 5] })]),
    );
    expect(r.exitCode).toBe(EXIT_BELOW_ACCURACY);
    expect(JSON.parse(c.out[0])).toMatchObject({ correct: 1, accuracy: 0.5, passed: false });
  });
  test("HTTP error shows status and body, never the key (even if echoed)", async () => {
    const c = capture();
    const r = await runInvoke(opts, c.io, fakeFetch([jsonRes(401, { error: `bad key ${KEY}` })]));
    expect(r.exitCode).toBe(EXIT_ERROR);
    const all = [...c.out, ...c.info, ...c.err].join("\n");
    expect(all).toMatch(/HTTP 401/);
    expect(all).toContain(`bad key ${REDACTED}`);
    expect(all).not.toContain(KEY);
    expect(JSON.parse(c.out[0])).toMatchObject({ passed: false });
  });
  test.each([
    ["a 500 whose body puts the key across the 4,000-character cut", 3990, 500],
    ["a 200 of the wrong shape that puts the key across the 500-character cut", 480, 200],
  ])("%s: no prefix of the key is printed", async (_what, pad, status) => {
    const c = capture();
    const body = status === 200 ? { result: `${"x".repeat(pad)}${KEY}` } : `${"x".repeat(pad)}${KEY}`;
    const res =
      typeof body === "string"
        ? new Response(body, { status, headers: { "content-type": "text/plain" } })
        : jsonRes(status, body);
    const r = await runInvoke({ ...opts, retries: 0 }, c.io, fakeFetch([res]));
    expect(r.exitCode).toBe(EXIT_ERROR);
    const all = [...c.out, ...c.info, ...c.err].join("\n");
    expect(all).toMatch(status === 200 ? /unexpected response/ : /HTTP 500/);
    expect(all).not.toContain(KEY.slice(0, 6));
  });
  test("length mismatch is a usage error before any request", async () => {
    writeFileSync(path.join(dir, "short.json"), "[3]");
    const f = fakeFetch([]);
    const c = capture();
    const r = await runInvoke({ ...opts, expectedFile: path.join(dir, "short.json") }, c.io, f);
    expect(r.exitCode).toBe(EXIT_ERROR);
    expect(c.err.join("\n")).toMatch(/2 images but .* has 1 labels/);
    expect(f.calls).toHaveLength(0);
  });
  test("a response of the wrong shape", async () => {
    const c = capture();
    const r = await runInvoke(opts, c.io, fakeFetch([jsonRes(200, { result: "?" })]));
    expect(r.exitCode).toBe(EXIT_ERROR);
    expect(c.err.join("\n")).toMatch(/unexpected response/);
  });
});
