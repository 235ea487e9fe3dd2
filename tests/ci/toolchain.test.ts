/**
 * Deploy commands run with the project's toolchain: `npm run pulumi -- <command>` goes through scripts/env.sh (Node 22
 * first on PATH, packages installed), and docs/deploy.md documents no bare `pulumi` command.
 */
import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";

const ROOT = path.resolve(__dirname, "..", "..");
const scripts = (
  JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> }
).scripts;

/** The shell lines of docs/deploy.md's fenced code blocks, comments dropped. */
function codeLines(markdown: string): string[] {
  const blocks = markdown.match(/^```[^\n]*\n[\s\S]*?^```$/gm) ?? [];
  return blocks.flatMap((b) => b.split("\n").slice(1, -1)).map((l) => l.replace(/\s#.*$/, ""));
}

/** Where a line starts a command with `pulumi` itself (line start, `$(`, `&&`, `||`, `;`, `|`, after VAR=x). */
const BARE_PULUMI = /(?:^|\$\(|&&|\|\||;|\|)\s*(?:\w+=\S*\s+)*pulumi\b/;

test("package.json: pulumi and config:sync run through scripts/env.sh", () => {
  expect(scripts.pulumi).toBe("bash scripts/env.sh pulumi");
  expect(scripts["config:sync"]).toBe("bash scripts/env.sh tsx scripts/config-sync.ts");
});

test("docs/deploy.md: every documented pulumi command is `npm run pulumi -- ...`", () => {
  const lines = codeLines(readFileSync(path.join(ROOT, "docs", "deploy.md"), "utf8"));
  expect(lines.filter((l) => BARE_PULUMI.test(l))).toEqual([]);
  const commands = lines.join("\n");
  for (const c of ["preview", "up", "destroy"])
    expect(commands).toMatch(new RegExp(`npm run pulumi -- ${c}\\b`));
  // the pattern itself finds what it must
  expect(
    ["pulumi up", 'X="$(pulumi stack output x)"', "cd a && pulumi preview"].every((l) => BARE_PULUMI.test(l)),
  ).toBe(true);
});

test("npm run pulumi -- <args> runs pulumi with the project's Node and its arguments unchanged", () => {
  // a stand-in `pulumi` on PATH that reports what it was run with
  const bin = mkdtempSync(path.join(tmpdir(), "fake-pulumi-"));
  const fake = path.join(bin, "pulumi");
  writeFileSync(fake, '#!/usr/bin/env bash\necho "node=$(node --version) path=$PATH args=$*"\n');
  chmodSync(fake, 0o755);
  const out = execFileSync("npm", ["run", "-s", "pulumi", "--", "up", "--yes", "--stack", "dev"], {
    cwd: ROOT,
    env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
    encoding: "utf8",
  });
  expect(out).toMatch(/args=up --yes --stack dev$/m);
  expect(Number(/node=v(\d+)/.exec(out)?.[1])).toBeGreaterThanOrEqual(22);
  // scripts/env.sh put the project's tools first on PATH
  expect(out).toContain(`path=${ROOT}/.venv/bin:${ROOT}/node_modules/.bin:`);
});
