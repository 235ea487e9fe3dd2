/**
 * The two jest tiers of jest.config.js: every test file is in exactly one of "fast" (`npm test`) and "heavy" (added by
 * `npm run test:full`, which CI runs), and the heavy list names only test files that exist. Matching is jest's own
 * (jest-util's globsToMatcher for testMatch, regular expressions for testPathIgnorePatterns).
 */
import { existsSync, readdirSync } from "node:fs";
import * as path from "node:path";
import { globsToMatcher } from "jest-util";

const ROOT = path.resolve(__dirname, "..");

interface Project {
  displayName: string;
  roots: string[];
  testMatch: string[];
  testPathIgnorePatterns?: string[];
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const config = require(path.join(ROOT, "jest.config.js")) as { projects: Project[] };

const withRoot = (p: string) => p.replace("<rootDir>", ROOT);

/** Whether jest would run `file` (absolute) in `project`. */
function runsIn(project: Project, file: string): boolean {
  const inRoots = project.roots.some((r) => file.startsWith(withRoot(r) + path.sep));
  const matched = globsToMatcher(project.testMatch.map(withRoot))(file);
  const ignored = (project.testPathIgnorePatterns ?? []).some((p) => new RegExp(p).test(file));
  return inRoots && matched && !ignored;
}

/** Every `*.test.ts` under tests/, absolute paths. */
function testFiles(dir = path.join(ROOT, "tests")): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === "node_modules" ? [] : testFiles(p);
    return e.name.endsWith(".test.ts") ? [p] : [];
  });
}

const project = (name: string): Project => {
  const found = config.projects.find((p) => p.displayName === name);
  if (!found) throw new Error(`jest.config.js has no project "${name}"`);
  return found;
};
const fast = project("fast");
const heavy = project("heavy");

test("jest.config.js has exactly the two tiers", () => {
  expect(config.projects.map((p) => p.displayName).sort()).toEqual(["fast", "heavy"]);
});

test("every test file is in exactly one tier", () => {
  const files = testFiles();
  expect(files.length).toBeGreaterThan(40);
  const wrong = files
    .map((f) => ({ file: path.relative(ROOT, f), fast: runsIn(fast, f), heavy: runsIn(heavy, f) }))
    .filter((t) => t.fast === t.heavy);
  expect(wrong).toEqual([]);
  // this file itself is in the fast tier
  expect(runsIn(fast, __filename)).toBe(true);
});

test("the heavy tier names only test files that exist, each once, and none is in the fast tier", () => {
  const heavyFiles = heavy.testMatch.map(withRoot);
  expect(heavyFiles.length).toBeGreaterThan(0);
  expect(new Set(heavyFiles).size).toBe(heavyFiles.length);
  for (const f of heavyFiles) {
    expect({ file: f, glob: /[*?[\]{}]/.test(f) }).toEqual({ file: f, glob: false });
    expect({ file: f, exists: existsSync(f), isTest: f.endsWith(".test.ts") }).toEqual({
      file: f,
      exists: true,
      isTest: true,
    });
    expect({ file: f, fast: runsIn(fast, f), heavy: runsIn(heavy, f) }).toEqual({
      file: f,
      fast: false,
      heavy: true,
    });
  }
});

test("a file that does not exist is in neither tier, and a new test file lands in the fast tier", () => {
  expect(runsIn(heavy, path.join(ROOT, "tests", "graph", "no-such.test.ts"))).toBe(false);
  expect(runsIn(fast, path.join(ROOT, "tests", "graph", "no-such.test.ts"))).toBe(true);
  expect(runsIn(fast, path.join(ROOT, "tests", "graph", "converge.test.ts.bak"))).toBe(false);
});
