/**
 * scripts/env.sh on a machine that lacks what the project cannot install itself (the Pulumi CLI, Python 3.11): it
 * says what to install, in one error, instead of a bare "not found". Each case runs the real script in a sandbox
 * copy of the checkout's setup files, with a PATH of only the tools it needs (and stand-ins for what is tested).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";

const ROOT = path.resolve(__dirname, "..", "..");
const TOOLS = ["bash", "node", "cat", "sha256sum", "cut", "tr", "mkdir", "flock", "dirname", "rm"];
const BASH = execFileSync("bash", ["-c", "command -v bash"], { encoding: "utf8" }).trim();

let sandbox: string;
let bin: string;

/** A checkout whose npm packages count as installed (stamp matches); the venv too when `venv` is set. */
function checkout(venv: boolean): void {
  const write = (rel: string, text: string) => {
    fs.mkdirSync(path.dirname(path.join(sandbox, rel)), { recursive: true });
    fs.writeFileSync(path.join(sandbox, rel), text);
  };
  fs.copyFileSync(path.join(ROOT, "scripts", "env.sh"), path.join(sandbox, "scripts", "env.sh"));
  // Node 1: any node on PATH is new enough, so nothing is downloaded.
  write(".nvmrc", "1.0.0\n");
  write("package-lock.json", "{}\n");
  const stamp = (...files: string[]) =>
    createHash("sha256")
      .update(Buffer.concat(files.map((f) => fs.readFileSync(path.join(sandbox, f)))))
      .digest("hex")
      .slice(0, 16);
  write("node_modules/.setup-stamp", `${stamp("package-lock.json", ".nvmrc")}\n`);
  for (const f of ["requirements-dev.txt", "training/requirements.txt", "scoring/requirements.txt"])
    write(f, "\n");
  if (venv) {
    const py = stamp("requirements-dev.txt", "training/requirements.txt", "scoring/requirements.txt");
    write(".venv/.setup-stamp", `${py}\n`);
  }
}

/** A stand-in command on the sandbox PATH. */
function fake(name: string, script: string): void {
  const file = path.join(bin, name);
  fs.writeFileSync(file, `#!${BASH}\n${script}\n`);
  fs.chmodSync(file, 0o755);
}

function envSh(...args: string[]) {
  return spawnSync(BASH, [path.join(sandbox, "scripts", "env.sh"), ...args], {
    encoding: "utf8",
    env: { PATH: bin, HOME: sandbox },
  });
}

beforeEach(() => {
  sandbox = fs.mkdtempSync(path.join(tmpdir(), "env-sh-"));
  bin = path.join(sandbox, "bin");
  fs.mkdirSync(bin);
  fs.mkdirSync(path.join(sandbox, "scripts"));
  for (const tool of TOOLS) {
    const at = execFileSync(BASH, ["-c", `command -v ${tool}`], { encoding: "utf8" }).trim();
    fs.symlinkSync(at, path.join(bin, tool));
  }
});

afterEach(() => fs.rmSync(sandbox, { recursive: true, force: true }));

describe("npm run pulumi without the Pulumi CLI", () => {
  test("says how to install it and exits 127, before installing anything", () => {
    checkout(true);
    const r = envSh("pulumi", "up");
    expect(r.status).toBe(127);
    expect(r.stdout).toBe("");
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain("the Pulumi CLI is not on PATH");
    expect(r.stderr).toContain("curl -fsSL https://get.pulumi.com | sh");
    expect(r.stderr).toContain("brew install pulumi/tap/pulumi");
    expect(fs.existsSync(path.join(sandbox, ".tools"))).toBe(false);
  });

  test("with the CLI on PATH, runs it with its arguments", () => {
    checkout(true);
    fake("pulumi", 'echo "pulumi $*"');
    const r = envSh("pulumi", "up", "--yes");
    expect({ code: r.status, stdout: r.stdout }).toEqual({ code: 0, stdout: "pulumi up --yes\n" });
  });
});

describe("setup without Python 3.11 says what to install on this machine", () => {
  beforeEach(() => {
    checkout(false);
    fake("python3", 'case "$1" in -c) echo 3.10 ;; --version) echo "Python 3.10.12" ;; esac');
  });

  test("uv, apt-get: their commands, with the venv module apt ships apart", () => {
    fake("uv", '[ "$*" = "python dir --bin" ] && echo /home/me/.local/bin');
    fake("apt-get", "exit 0");
    const r = envSh("true");
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("Python 3.11 is required for training/ and scoring/ (found: Python 3.10.12)");
    expect(r.stderr).toContain("uv python install 3.11        (puts python3.11 in /home/me/.local/bin");
    expect(r.stderr).toContain("sudo apt-get install python3.11 python3.11-venv");
    expect(r.stderr).not.toContain("brew");
    expect(fs.existsSync(path.join(sandbox, ".venv"))).toBe(false);
  });

  test("brew: brew install python@3.11", () => {
    fake("brew", "exit 0");
    const r = envSh("true");
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("brew install python@3.11");
    expect(r.stderr).not.toContain("apt-get");
  });

  test("no package manager it knows: python.org, or uv", () => {
    const r = envSh("true");
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("https://www.python.org/downloads/");
    expect(r.stderr).toContain("uv python install 3.11");
  });

  test("a python3.11 without its venv module (Debian, Ubuntu): install python3.11-venv", () => {
    fake(
      "python3.11",
      'case "$1" in -c) echo 3.11 ;; --version) echo "Python 3.11.2" ;; -m) echo "ensurepip is not available" >&2; mkdir -p .venv; exit 1 ;; esac',
    );
    const r = envSh("true");
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("'python3.11 -m venv' failed");
    expect(r.stderr).toContain("sudo apt-get install python3.11-venv");
    // no half-made venv left to look set up
    expect(fs.existsSync(path.join(sandbox, ".venv"))).toBe(false);
  });
});
