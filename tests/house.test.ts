/**
 * The layout's own rules, read from the source as text (no module is loaded):
 * - imports go down the rooms, never back up (README: Layout);
 * - every fact in lib/core/azureRules.ts is defined once: its value is written nowhere else, and no regular
 *   expression or list of choices is written in two source files.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as ts from "typescript";
import * as azureRules from "../lib/core/azureRules";

const REPO = path.resolve(__dirname, "..");
const SOURCE_DIRS = ["components", "lib", "ops", "local", "policy", "bootstrap", "scripts", "bench"];

function sourceFiles(): string[] {
  const out = ["index.ts", "program.ts"];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(path.join(REPO, dir), { withFileTypes: true })) {
      const rel = path.join(dir, e.name);
      if (e.isDirectory()) walk(rel);
      else if (e.name.endsWith(".ts")) out.push(rel);
    }
  };
  for (const d of SOURCE_DIRS) if (fs.existsSync(path.join(REPO, d))) walk(d);
  return out;
}

const FILES = sourceFiles();
const TEXT = new Map(FILES.map((f) => [f, fs.readFileSync(path.join(REPO, f), "utf8")]));

/** The room a file lives in: its wing of lib/, or its top-level folder. */
export function roomOf(file: string): string {
  const parts = file.split(path.sep);
  if (parts[0] === "lib") return `lib/${parts[1]}`;
  if (parts.length === 1) return file === "index.ts" ? "index" : "program";
  return parts[0];
}

/** Which rooms each room may import from (itself always allowed). Top of the house first. */
const MAY_IMPORT: Record<string, string[]> = {
  index: ["program"],
  program: ["components", "lib/program", "lib/config", "lib/core"],
  components: ["lib/program", "lib/config", "lib/core"],
  "lib/program": ["lib/config", "lib/core"],
  "lib/config": ["lib/core"],
  "lib/core": [],
  ops: ["lib/azureml", "lib/azure", "lib/toolkit", "lib/config", "lib/core"],
  local: ["lib/azureml", "lib/azure", "lib/toolkit", "lib/config", "lib/core"],
  "lib/azureml": ["lib/azure", "lib/toolkit", "lib/core"],
  "lib/azure": ["lib/toolkit"],
  "lib/toolkit": [],
  policy: ["lib/core"],
  bootstrap: ["lib/core"],
  scripts: ["lib/config", "lib/core", "lib/toolkit"],
  bench: ["lib/azureml", "lib/azure", "lib/toolkit", "lib/config", "lib/core"],
};

export function relativeImports(file: string, text: string): string[] {
  const specs = [...text.matchAll(/(?:from|import)\s*\(?\s*"(\.{1,2}\/[^"]+)"/g)].map((m) => m[1]);
  return specs.map((s) => path.normalize(path.join(path.dirname(file), s)));
}

describe("the house", () => {
  test("every source file lives in a known room", () => {
    const unknown = FILES.filter((f) => !(roomOf(f) in MAY_IMPORT));
    expect(unknown).toEqual([]);
  });

  test("imports go down the rooms, never sideways or back up", () => {
    const wrong: string[] = [];
    let edges = 0;
    for (const [file, text] of TEXT) {
      for (const target of relativeImports(file, text)) {
        edges++;
        const from = roomOf(file);
        const to = roomOf(target);
        if (to !== from && !MAY_IMPORT[from].includes(to))
          wrong.push(`${file} -> ${target} (${from} -> ${to})`);
      }
    }
    expect(edges).toBeGreaterThan(200);
    expect(wrong).toEqual([]);
  });

  test("the rule itself refuses a back-up import (a component reaching for the ARM client)", () => {
    const imports = relativeImports(
      "components/codeAsset.ts",
      'import { armRequest } from "../lib/azure/arm";',
    );
    expect(imports).toEqual([path.join("lib", "azure", "arm")]);
    expect(MAY_IMPORT[roomOf("components/codeAsset.ts")]).not.toContain(roomOf(imports[0]));
  });
});

const parsed = new Map<string, ts.Node[]>();

/** Every node of a source text, depth first (parsed once per text). */
function nodes(text: string): ts.Node[] {
  const cached = parsed.get(text);
  if (cached) return cached;
  const out: ts.Node[] = [];
  parsed.set(text, out);
  const visit = (n: ts.Node) => {
    out.push(n);
    n.forEachChild(visit);
  };
  visit(ts.createSourceFile("x.ts", text, ts.ScriptTarget.Latest, true));
  return out;
}

/** The regular expression literals of a source text (their pattern), read by the TypeScript parser. */
export function regexLiterals(text: string): string[] {
  return nodes(text)
    .filter(ts.isRegularExpressionLiteral)
    .map((n) => n.text.slice(1, n.text.lastIndexOf("/")))
    .filter((r) => r.length >= 12);
}

/** A child process's stdio setting: a Node idiom, not a fact. */
const STDIO = /^("(ignore|pipe|inherit)"(, )?)+$/;

/** Array literals of two or more strings, normalised (`"a", "b"`). */
export function stringLists(text: string): string[] {
  return nodes(text)
    .filter(ts.isArrayLiteralExpression)
    .filter((a) => a.elements.length >= 2 && a.elements.every(ts.isStringLiteral))
    .map((a) => a.elements.map((e) => JSON.stringify((e as ts.StringLiteral).text)).join(", "))
    .filter((l) => !STDIO.test(l));
}

describe("one definition for every fact", () => {
  test("no regular expression is written in two source files", () => {
    const where = new Map<string, Set<string>>();
    for (const [file, text] of TEXT) {
      for (const r of regexLiterals(text)) where.set(r, (where.get(r) ?? new Set()).add(file));
    }
    expect(where.size).toBeGreaterThan(20);
    const twice = [...where]
      .filter(([, files]) => files.size > 1)
      .map(([r, files]) => `/${r}/ in ${[...files]}`);
    expect(twice).toEqual([]);
  });

  test("no list of choices is written in two source files", () => {
    const where = new Map<string, Set<string>>();
    for (const [file, text] of TEXT) {
      for (const l of stringLists(text)) where.set(l, (where.get(l) ?? new Set()).add(file));
    }
    expect(where.size).toBeGreaterThan(10);
    const twice = [...where]
      .filter(([, files]) => files.size > 1)
      .map(([l, files]) => `[${l}] in ${[...files]}`);
    expect(twice).toEqual([]);
  });

  test("the facts of lib/core/azureRules.ts are written only there", () => {
    const rulesFile = path.join("lib", "core", "azureRules.ts");
    const literals: string[] = [];
    for (const value of Object.values(azureRules)) {
      if (value instanceof RegExp) literals.push(value.source);
      else if (Array.isArray(value)) literals.push(value.map((v) => JSON.stringify(v)).join(", "));
    }
    expect(literals.length).toBeGreaterThanOrEqual(5);
    const copies: string[] = [];
    for (const [file, text] of TEXT) {
      if (file === rulesFile) continue;
      const flat = text.replace(/\s+/g, " ");
      for (const lit of literals) if (flat.includes(lit)) copies.push(`${lit} in ${file}`);
    }
    expect(copies).toEqual([]);
  });

  test("the scanners find what they look for (a copied fact would be seen)", () => {
    const copy = 'const X = /^[a-z][a-z0-9]{2,39}$/;\nconst M = ["Key", "AMLToken", "AADToken"];';
    expect(regexLiterals(copy)).toEqual([azureRules.LOCATION.source]);
    expect(stringLists(copy)).toEqual(['"Key", "AMLToken", "AADToken"']);
  });
});
