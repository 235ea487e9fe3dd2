/**
 * The docs say what the code says: every generated region (README's CLI table, stack outputs and test times,
 * docs/deploy.md's config table and outputs, Pulumi.yaml's config section and header) is what `npm run docs` would
 * write now, and every relative link and #anchor in README.md and docs/*.md resolves.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import {
  CLI_WHEN,
  OUTPUT_DESCRIPTIONS,
  ROOT,
  anchorsOf,
  brokenLinks,
  firstSentence,
  docEdits,
  generatedDocs,
  headerPurpose,
  loadCliDocs,
  markdownFiles,
  outputDescriptionGaps,
  parseTestTimes,
  readRepoFile,
  regionBody,
  relativeLinks,
  renderCliTable,
  renderOutputs,
  replaceRegion,
  slug,
  stackOutputNames,
  testTimesNumbers,
  type TestTimes,
} from "../scripts/docs-gen";

const read = (file: string) => fs.readFileSync(path.join(ROOT, file), "utf8");

describe("links", () => {
  test("every relative link and #anchor in README.md and docs/*.md resolves", () => {
    const files = markdownFiles();
    const checked = files.flatMap((f) => relativeLinks(read(f)));
    // The checker must see the links at all: README alone links docs/ and its own sections many times.
    expect(checked.length).toBeGreaterThan(40);
    expect(checked.filter((t) => t.includes("#")).length).toBeGreaterThan(10);
    expect(brokenLinks(files, readRepoFile())).toEqual([]);
  });

  test("the checker reports a broken anchor, a missing file and a missing heading in another file", () => {
    const repo: Record<string, string> = {
      "README.md": [
        "# Top",
        "## Operations: the CLIs the graph runs",
        "[ok](#operations-the-clis-the-graph-runs) [bad](#operations-wait-traffic-purge-download)",
        "[ok](docs/a.md#real-heading) [bad](docs/a.md#gone) [bad](docs/missing.md)",
        "`[not a link](#in-code)`",
        "```",
        "[not a link](#in-a-fence)",
        "```",
      ].join("\n"),
      "docs/a.md": "# A\n## Real heading\n[ok](../README.md#top) [bad](../README.md#nope)",
    };
    expect(brokenLinks(["README.md", "docs/a.md"], (f) => repo[f])).toEqual([
      "README.md: #operations-wait-traffic-purge-download (no heading #operations-wait-traffic-purge-download in README.md)",
      "README.md: docs/a.md#gone (no heading #gone in docs/a.md)",
      "README.md: docs/missing.md (no file docs/missing.md)",
      "docs/a.md: ../README.md#nope (no heading #nope in README.md)",
    ]);
  });

  test("anchors follow GitHub's slugs: lowercase, punctuation but - and _ dropped, spaces to -, repeats numbered", () => {
    expect(slug("Operations: the CLIs the graph runs")).toBe("operations-the-clis-the-graph-runs");
    expect(slug("`ensure-code` and ensure_environment (v2)!")).toBe("ensure-code-and-ensure_environment-v2");
    expect(slug("Scale out: several nodes, a sweep, an autoscaled endpoint")).toBe(
      "scale-out-several-nodes-a-sweep-an-autoscaled-endpoint",
    );
    expect([...anchorsOf("# Tests\n## Tests\n```\n# not a heading\n```\n")]).toEqual(["tests", "tests-1"]);
  });
});

describe("generated regions", () => {
  // Read inside the test: an input the generator refuses (an undescribed output) fails this test, not the suite.
  test("README.md, docs/deploy.md and Pulumi.yaml are what `npm run docs` writes", () => {
    const docs = generatedDocs();
    expect(docs.map((d) => d.file)).toEqual(["README.md", "docs/deploy.md", "Pulumi.yaml"]);
    for (const doc of docs)
      expect({ file: doc.file, text: doc.before }).toEqual({ file: doc.file, text: doc.after });
  });

  test("a region edited by hand is not what the generator writes, and the generator puts it back", () => {
    const edit = docEdits()["README.md"];
    const current = edit(read("README.md"));
    for (const region of ["cli-table", "outputs", "test-times"]) {
      const tampered = replaceRegion(current, region, "hand-written");
      expect(tampered).not.toBe(current);
      expect(edit(tampered)).toBe(current);
    }
  });

  test("a region must exist exactly once", () => {
    expect(() => replaceRegion("no markers", "outputs", "x")).toThrow(/exactly one/);
    const twice = "<!-- generated:a -->\n<!-- /generated:a -->\n<!-- generated:a -->\n<!-- /generated:a -->";
    expect(() => regionBody(twice, "a")).toThrow(/exactly one/);
  });
});

describe("stack outputs", () => {
  const names = stackOutputNames(read("program.ts"));

  test("every output program.ts returns has a description, and every description an output", () => {
    expect(names.length).toBeGreaterThan(10);
    expect(outputDescriptionGaps(names)).toEqual({ undescribed: [], stale: [] });
  });

  test("an output added to program.ts without a description stops the table", () => {
    const source = read("program.ts").replace(/return \{\n/, "return {\n    brandNewOutput: 1,\n");
    const withNew = stackOutputNames(source);
    expect(withNew).toContain("brandNewOutput");
    expect(() => renderOutputs(withNew)).toThrow(/brandNewOutput/);
    expect(() => renderOutputs(names.slice(1))).toThrow(new RegExp(names[0]));
    expect(Object.keys(OUTPUT_DESCRIPTIONS).sort()).toEqual([...names].sort());
  });

  test("a spread in the returned object is refused rather than half listed", () => {
    const source = "export function declareStack() {\n  const a = {};\n  return { x: 1, ...a };\n}\n";
    expect(() => stackOutputNames(source)).toThrow(/not a plain key/);
  });
});

describe("CLI table", () => {
  const clis = loadCliDocs();
  const opsFiles = fs.readdirSync(path.join(ROOT, "ops")).filter((f) => f.endsWith(".ts"));

  test("one row per CLI in ops/, with a when, a purpose and the first line of the spec's usage", () => {
    expect(clis.map((c) => c.file).sort()).toEqual(opsFiles.map((f) => `ops/${f}`).sort());
    const table = regionBody(read("README.md"), "cli-table");
    for (const c of clis) {
      const row = table.split("\n").find((l) => l.startsWith(`| [\`${c.name}\`](${c.file})`));
      expect(row).toContain(c.purpose.replace(/\|/g, "\\|"));
      expect(row).toContain(
        c.usage
          .split("\n")[0]
          .replace(/^usage:\s*/i, "")
          .replace(/\|/g, "\\|"),
      );
    }
    expect(Object.keys(CLI_WHEN).sort()).toEqual(clis.map((c) => c.name).sort());
  });

  test("a CLI missing from CLI_WHEN, or an entry for a CLI that is gone, stops the table", () => {
    const extra = {
      file: "ops/new-step.ts",
      name: "new-step",
      usage: "usage: tsx ops/new-step.ts",
      purpose: "X.",
    };
    expect(() => renderCliTable([...clis, extra])).toThrow(/new-step/);
    expect(() => renderCliTable(clis.slice(1))).toThrow(new RegExp(clis[0].name));
  });

  test("docs/operations.md's table names every CLI in ops/ too", () => {
    // Its first column, where a row may name two CLIs (`ensure-code`, `ensure-environment`).
    const firstCells = read("docs/operations.md")
      .split("\n")
      .filter((l) => l.startsWith("| `"))
      .map((l) => l.split("|")[1]);
    const unnamed = clis.filter((c) => !firstCells.some((cell) => cell.includes(`\`${c.name}\``)));
    expect(unnamed.map((c) => c.name)).toEqual([]);
  });

  test("the purpose is the header's first sentence, after its usage lines and without the `name:`", () => {
    const header = [
      "/**",
      " * npm run thing -- --uri URL",
      " *                 [--json]",
      " * thing: does one thing (e.g. this. and that), well. Then more.",
      " */",
    ].join("\n");
    expect(headerPurpose(header, "thing")).toBe("Does one thing (e.g. this. and that), well.");
    expect(firstSentence("resolves a hash to a job: reuse or submit. More.")).toBe(
      "resolves a hash to a job: reuse or submit.",
    );
    expect(() => headerPurpose("const x = 1;", "thing")).toThrow(/no header/);
  });
});

describe("test times", () => {
  /** Every number a test-times text states, in order. */
  const numbersIn = (text: string) => [...text.matchAll(/\d+(?:\.\d+)?/g)].map((m) => Number(m[0]));
  /** The numbers the region must state: the recorded ones, nothing else. */
  const recorded = (t: TestTimes) => testTimesNumbers(t).sort((a, b) => a - b);
  const times = parseTestTimes(JSON.parse(read("docs/test-times.json")));

  test("README's test-times region states exactly the numbers of docs/test-times.json", () => {
    const region = regionBody(read("README.md"), "test-times");
    expect(numbersIn(region).sort((a, b) => a - b)).toEqual(recorded(times));
  });

  test("a number edited by hand in the region no longer matches", () => {
    const region = regionBody(read("README.md"), "test-times").replace(`${times.fast.seconds} s`, "99999 s");
    expect(numbersIn(region).sort((a, b) => a - b)).not.toEqual(recorded(times));
  });

  test("a malformed docs/test-times.json is refused", () => {
    expect(() => parseTestTimes({ ...times, fast: { ...times.fast, jestTests: undefined } })).toThrow(/fast/);
  });
});
