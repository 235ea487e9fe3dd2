/**
 * `npm run test:times`: measures the two test tiers on this machine, once set up, and records them in
 * docs/test-times.json, the one place the README's test times come from (npm run docs renders them; tests/docs.test.ts
 * fails while the README states other numbers). Run it on an otherwise idle machine: it times wall seconds.
 *
 *   fast: `npm test`; full: `npm test` + `npm run test:heavy`, which is what `npm run test:full` (CI) runs.
 */
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const ROOT = path.resolve(__dirname, "..");
const FILE = path.join(ROOT, "docs", "test-times.json");

interface Counts {
  jestTests: number;
  jestSuites: number;
  pytestTests: number;
}

/** The test counts a run printed: jest's "Tests:" and "Test Suites:" lines and pytest's "N passed" lines, summed. */
export function countsOf(output: string): Counts {
  const sum = (re: RegExp) => [...output.matchAll(re)].reduce((n, m) => n + Number(m[1]), 0);
  return {
    jestTests: sum(/^Tests:\s+(?:\d+ \w+, )*?(\d+) passed/gm),
    jestSuites: sum(/^Test Suites:\s+(?:\d+ \w+, )*?(\d+) passed/gm),
    pytestTests: sum(/^(\d+) passed(?:,| in)/gm),
  };
}

function timed(command: string): { seconds: number; counts: Counts } {
  const started = process.hrtime.bigint();
  const r = spawnSync("bash", ["-c", command], { cwd: ROOT, encoding: "utf8", maxBuffer: 1 << 28 });
  const seconds = Number((process.hrtime.bigint() - started) / 1_000_000n) / 1000;
  const output = `${r.stdout}\n${r.stderr}`;
  if (r.status !== 0) {
    process.stderr.write(output.slice(-4000));
    throw new Error(`${command} failed (exit ${r.status}): nothing recorded`);
  }
  return { seconds: Math.round(seconds), counts: countsOf(output) };
}

function main(): void {
  const previous = JSON.parse(readFileSync(FILE, "utf8")) as { baseline: unknown };
  process.stderr.write("test:times: npm test (the fast tier)...\n");
  const fast = timed("npm test");
  process.stderr.write(`  ${fast.seconds} s\ntest:times: npm run test:heavy...\n`);
  const heavy = timed("npm run -s test:heavy");
  process.stderr.write(`  ${heavy.seconds} s\n`);
  const add = (a: Counts, b: Counts): Counts => ({
    jestTests: a.jestTests + b.jestTests,
    jestSuites: a.jestSuites + b.jestSuites,
    pytestTests: a.pytestTests + b.pytestTests,
  });
  const record = {
    cores: os.cpus().length,
    fast: { command: "npm test", seconds: fast.seconds, ...fast.counts },
    full: {
      command: "npm run test:full",
      seconds: fast.seconds + heavy.seconds,
      ...add(fast.counts, heavy.counts),
    },
    baseline: previous.baseline,
  };
  writeFileSync(FILE, `${JSON.stringify(record, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify(record)}\n`);
}

if (require.main === module) main();
