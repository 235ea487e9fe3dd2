import { readFileSync } from "node:fs";
import * as path from "node:path";
import { formatFinding, lintFiles, lintSource, loadLinter, workflowFiles } from "../../scripts/actionlint";

const dir = path.join(__dirname, "..", "..", ".github", "workflows");

test("actionlint passes on every workflow", async () => {
  const files = workflowFiles([dir]);
  expect(files.length).toBeGreaterThanOrEqual(2);
  const findings = await lintFiles(files);
  expect(findings.map(formatFinding)).toEqual([]);
});

test("the wrapper catches planted errors (it is not a no-op)", async () => {
  const good = readFileSync(path.join(dir, "pr-preview.yml"), "utf8");
  const planted = good
    .replace("runs-on: ubuntu-latest", "runs-on: ubuntu-latest\n    timeout-minutes: soon")
    .replace("${{ github.event.pull_request.number }}", "${{ github.event.pull_request.number }");
  const findings = await lintSource(planted, "planted.yml");
  expect(findings.length).toBeGreaterThanOrEqual(1);
  expect(findings.every((f) => f.file === "planted.yml" && f.line > 0)).toBe(true);
  expect(formatFinding(findings[0])).toMatch(/^planted\.yml:\d+:\d+: .+ \[[\w-]+\]$/);
});

test("an undefined context and a job needing an unknown job are reported", async () => {
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
  const kinds = (await lintSource(wf, "bad.yml")).map((f) => f.message);
  expect(kinds.some((m) => m.includes("nope"))).toBe(true);
  expect(kinds.some((m) => m.includes("secretz"))).toBe(true);
  expect((await loadLinter()).backend).toMatch(/actionlint/);
});
