/**
 * ops/invoke.ts as a real process against a small Node HTTP server started here, which plays the endpoint:
 * it records each request and answers from a queue.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { runTsx } from "./helpers";

const KEY = "tEsT-kEy-9f8e7d6c5b4a-never-print-me";
const LABELS = [7, 2, 1, 0];

interface Seen {
  method?: string;
  url?: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}
type Answer = { status: number; body: unknown; headers?: Record<string, string> };

let server: http.Server;
let uri: string;
let answers: Answer[] = [];
let seen: Seen[] = [];
const dir = mkdtempSync(path.join(tmpdir(), "invoke-cli-"));
const requestFile = path.join(dir, "request.json");
const labelsFile = path.join(dir, "labels.json");

const probs = (pred: number[]) =>
  pred.map((p) => Array.from({ length: 10 }, (_, i) => (i === p ? 0.91 : 0.01)));
const ok = (pred: number[]): Answer => ({
  status: 200,
  body: { predictions: pred, probabilities: probs(pred) },
});

beforeAll(async () => {
  writeFileSync(requestFile, JSON.stringify({ data: LABELS.map(() => new Array(784).fill(0)) }));
  writeFileSync(labelsFile, JSON.stringify(LABELS));
  server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      seen.push({ method: req.method, url: req.url, headers: req.headers, body });
      const a = answers.shift() ?? { status: 500, body: { message: "no answer queued" } };
      res.writeHead(a.status, { "content-type": "application/json", ...a.headers });
      res.end(JSON.stringify(a.body));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  uri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/score`;
});

afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
});

beforeEach(() => {
  answers = [];
  seen = [];
});

const invoke = (extra: string[], env: NodeJS.ProcessEnv = { ENDPOINT_KEY: KEY }) =>
  runTsx("ops/invoke.ts", ["--uri", uri, "--request", requestFile, "--expected", labelsFile, ...extra], env);

function expectNoKey(r: { stdout: string; stderr: string }) {
  expect(r.stdout).not.toContain(KEY);
  expect(r.stderr).not.toContain(KEY);
}

test("all correct: exit 0, one JSON line on stdout, Bearer key sent but never printed", async () => {
  answers = [ok(LABELS)];
  const r = await invoke(["--json", "--deployment", "blue"]);
  expect(r.code).toBe(0);
  const lines = r.stdout.trim().split("\n");
  expect(lines).toHaveLength(1);
  const j = JSON.parse(lines[0]);
  expect(Object.keys(j)).toEqual(["total", "correct", "accuracy", "latencyMs", "passed"]);
  expect(j).toMatchObject({ total: 4, correct: 4, accuracy: 1, passed: true });
  expect(j.latencyMs).toBeGreaterThan(0);
  // the table and latency went to stderr
  expect(r.stderr).toMatch(/predicted\s+expected\s+confidence/);
  expect(r.stderr).toMatch(/91\.00%\s+✓/);
  expect(r.stderr).toMatch(/latency: [\d.]+ ms for 4 images \([\d.]+ ms\/image\)/);
  expect(seen).toHaveLength(1);
  expect(seen[0].method).toBe("POST");
  expect(seen[0].url).toBe("/score");
  expect(seen[0].headers.authorization).toBe(`Bearer ${KEY}`);
  expect(seen[0].headers["content-type"]).toBe("application/json");
  expect(seen[0].headers["azureml-model-deployment"]).toBe("blue");
  expect(JSON.parse(seen[0].body).data).toHaveLength(4);
  expectNoKey(r);
});

test("without --json the table goes to stdout; --key works and is not printed either", async () => {
  answers = [ok(LABELS)];
  const r = await invoke(["--key", KEY], {});
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/ok\n/);
  expect(r.stdout).toMatch(/PASSED/);
  expect(seen[0].headers.authorization).toBe(`Bearer ${KEY}`);
  expectNoKey(r);
});

test("wrong predictions: exit 1 with the ✗ rows", async () => {
  answers = [ok([7, 2, 1, 6])];
  const r = await invoke(["--json"]);
  expect(r.code).toBe(1);
  expect(JSON.parse(r.stdout)).toMatchObject({ total: 4, correct: 3, accuracy: 0.75, passed: false });
  expect(r.stderr).toMatch(/3\s+6\s+0\s+91\.00%\s+✗/);
  expectNoKey(r);
});

test("--min-accuracy lowers the bar", async () => {
  answers = [ok([7, 2, 1, 6])];
  const r = await invoke(["--json", "--min-accuracy", "0.75"]);
  expect(r.code).toBe(0);
  expect(JSON.parse(r.stdout).passed).toBe(true);
});

test("400: exit 2, status and JSON error body shown, not retried", async () => {
  answers = [{ status: 400, body: { error: "data[0]: expected 784 numbers, got 3" } }];
  const r = await invoke(["--json", "--retry-delay-seconds", "0"]);
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(/HTTP 400/);
  expect(r.stderr).toContain('{"error":"data[0]: expected 784 numbers, got 3"}');
  expect(seen).toHaveLength(1);
  expect(JSON.parse(r.stdout.trim())).toMatchObject({ passed: false });
  expectNoKey(r);
});

test("502 then 200: retried and passes", async () => {
  answers = [{ status: 502, body: { message: "upstream not ready" } }, ok(LABELS)];
  const r = await invoke(["--json", "--retry-delay-seconds", "0.1"]);
  expect(r.code).toBe(0);
  expect(seen).toHaveLength(2);
  expect(r.stderr).toMatch(/HTTP 502 from 127\.0\.0\.1:\d+\/score; retrying in [\d.]+s \(attempt 1\/4\)/);
  expect(JSON.parse(r.stdout)).toMatchObject({ correct: 4, passed: true });
  expectNoKey(r);
});

test("429 with Retry-After, then 200", async () => {
  answers = [{ status: 429, body: {}, headers: { "retry-after": "0" } }, ok(LABELS)];
  const r = await invoke(["--json", "--retry-delay-seconds", "5"]);
  expect(r.code).toBe(0);
  expect(seen).toHaveLength(2);
});

test("503 forever: gives up after --retries, exit 2", async () => {
  answers = [503, 503, 503].map((s) => ({ status: s, body: { message: "busy" } }));
  const r = await invoke(["--retries", "2", "--retry-delay-seconds", "0"]);
  expect(r.code).toBe(2);
  expect(seen).toHaveLength(3);
  expect(r.stderr).toMatch(/HTTP 503/);
});

test("a timeout: exit 2 with a clear message", async () => {
  const slow = http.createServer(() => undefined); // never answers
  await new Promise<void>((r) => slow.listen(0, "127.0.0.1", () => r()));
  const port = (slow.address() as AddressInfo).port;
  try {
    const r = await runTsx(
      "ops/invoke.ts",
      [
        "--uri",
        `http://127.0.0.1:${port}/score`,
        "--request",
        requestFile,
        "--expected",
        labelsFile,
        "--timeout-seconds",
        "1",
      ],
      { ENDPOINT_KEY: KEY },
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no answer within 1\.0s/);
    expectNoKey(r);
  } finally {
    slow.closeAllConnections();
    await new Promise<void>((r) => slow.close(() => r()));
  }
});

test("usage and file errors: exit 2 before any request", async () => {
  const short = path.join(dir, "short.json");
  writeFileSync(short, "[7]");
  let r = await runTsx("ops/invoke.ts", ["--uri", uri, "--request", requestFile, "--expected", short], {
    ENDPOINT_KEY: KEY,
  });
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(/4 images but .*short\.json has 1 labels/);
  r = await runTsx("ops/invoke.ts", [
    "--uri",
    uri,
    "--request",
    path.join(dir, "missing.json"),
    "--expected",
    labelsFile,
  ]);
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(/file not found: .*missing\.json/);
  r = await runTsx("ops/invoke.ts", ["--key", KEY]);
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(/--uri is required/);
  expectNoKey(r);
  expect(seen).toHaveLength(0);
});

test("--json: a usage error is still one JSON line on stdout (exit 2, before any request)", async () => {
  const r = await invoke(["--json", "--min-accuracy", "2"]);
  expect(r.code).toBe(2);
  expect(JSON.parse(r.stdout)).toEqual({
    passed: false,
    error: "--min-accuracy must be a number in [0, 1], got '2'",
  });
  expect(r.stderr).toContain("Usage: npm run invoke");
  expect(seen).toHaveLength(0);
  expectNoKey(r);
});
