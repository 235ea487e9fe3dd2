/**
 * A CLI's usage line runs as printed: from the repository root, in a shell whose PATH has neither node_modules/.bin
 * nor the venv (a newcomer's shell, not an npm script's), its command words with --help exit 0 and print that same
 * usage. A bare `tsx ops/...` did not: tsx is only on PATH inside npm scripts and scripts/env.sh.
 */
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

const ROOT = path.resolve(__dirname, "..", "..");

/** Every `const USAGE = usageLine("<command>", ...)` of ops/ and local/: [file, command]. */
function usageCommands(): [string, string][] {
  const out: [string, string][] = [];
  for (const dir of ["ops", "local"]) {
    for (const name of fs.readdirSync(path.join(ROOT, dir)).filter((n) => n.endsWith(".ts"))) {
      const file = `${dir}/${name}`;
      const m = /^const USAGE = usageLine\("([^"]+)"/m.exec(fs.readFileSync(path.join(ROOT, file), "utf8"));
      if (m) out.push([file, m[1]]);
    }
  }
  return out;
}

/** The PATH of a plain shell: the project's tool folders, which npm scripts and scripts/env.sh add, left out. */
function shellPath(): string {
  const project = [path.join(ROOT, "node_modules"), path.join(ROOT, ".venv")];
  return (process.env.PATH ?? "")
    .split(":")
    .filter((p) => !project.some((dir) => p.startsWith(dir)))
    .join(":");
}

/** The command words of a usage line: everything before its first flag. */
function commandOf(usage: string): string {
  const m = /^usage: (.+?)(?= \[?--|$)/m.exec(usage);
  if (!m) throw new Error(`no usage line in ${JSON.stringify(usage)}`);
  return m[1];
}

test("every CLI's usage runs its own file through scripts/env.sh, the way the npm scripts do", () => {
  const commands = usageCommands();
  expect(commands.length).toBeGreaterThanOrEqual(18);
  for (const [file, command] of commands) {
    const own = new RegExp(
      `^(?:[A-Z_]+='<JSON>' )?bash scripts/env\\.sh tsx ${file.replace(/[.]/g, "\\.")}$`,
    );
    expect({ file, command }).toEqual({ file, command: expect.stringMatching(own) });
  }
});

test.each(["ops/set-traffic.ts", "ops/ensure-code.ts"])(
  "%s --help: the command it prints runs as printed in a plain shell",
  (file) => {
    // what it prints, run the way the graph runs it
    const printed = execFileSync(process.execPath, ["--import", "tsx", file, "--help"], {
      cwd: ROOT,
      encoding: "utf8",
    });
    const command = commandOf(printed);
    const r = spawnSync("bash", ["-c", `${command} --help`], {
      cwd: ROOT,
      encoding: "utf8",
      env: { ...process.env, PATH: shellPath() },
    });
    expect({ command, code: r.status, stderr: r.stderr }).toEqual({ command, code: 0, stderr: "" });
    expect(r.stdout).toBe(printed);
  },
);
