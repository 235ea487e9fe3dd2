// Writes the parts of the docs that restate the code, from the code, so they cannot drift: README.md's CLI table
// (the ops CLIs' own specs and header comments), its stack outputs (program.ts's returned object) and its test
// times (docs/test-times.json); docs/deploy.md's config table, Pulumi.yaml's config section and the header list of
// its mapping-valued keys (lib/config/schema.ts, through lib/config/render.ts as `npm run config:sync` does).
// The regions sit between `<!-- generated:NAME -->` and `<!-- /generated:NAME -->` (`# generated:NAME` in YAML).
// Everything but the file reading is pure and exported: tests/docs.test.ts fails while a region differs from what
// this would write, and on any broken relative link or anchor in README.md and docs/*.md.
// Usage: npm run docs
import * as fs from "fs";
import * as path from "path";
import ts from "typescript";
import { configTableMarkdown, pulumiYamlText, replaceBetweenMarkers } from "../lib/config/render";
import { allSettings, type Setting } from "../lib/config/schema";

export const ROOT = path.join(__dirname, "..");

// --- regions ------------------------------------------------------------------------------------------------------

type Style = "md" | "yaml";

function markers(name: string, style: Style): [string, string] {
  return style === "md"
    ? [`<!-- generated:${name} -->`, `<!-- /generated:${name} -->`]
    : [`# generated:${name}`, `# /generated:${name}`];
}

/** The text between a region's markers (without the newlines next to them). */
export function regionBody(text: string, name: string, style: Style = "md"): string {
  const [begin, end] = markers(name, style);
  const start = text.indexOf(begin);
  const stop = text.indexOf(end);
  // One region per name: a second copy would silently stay as it is.
  if (start < 0 || stop < start || text.indexOf(begin, start + 1) >= 0)
    throw new Error(`expected exactly one ${begin} … ${end} region`);
  return text
    .slice(start + begin.length, stop)
    .replace(/^\n/, "")
    .replace(/\n$/, "");
}

/** `text` with the region `name` holding `body`, markers kept, each on its own line. */
export function replaceRegion(text: string, name: string, body: string, style: Style = "md"): string {
  const [begin, end] = markers(name, style);
  regionBody(text, name, style);
  const start = text.indexOf(begin) + begin.length;
  return `${text.slice(0, start)}\n${body}\n${text.slice(text.indexOf(end))}`;
}

function cell(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/\s*\n\s*/g, " ");
}

// --- CLI table ----------------------------------------------------------------------------------------------------

/** What the table shows of one CLI in ops/: its spec's name and usage, and its header comment's first sentence. */
export interface CliDoc {
  /** path from the repository root, e.g. `ops/set-traffic.ts` */
  file: string;
  name: string;
  usage: string;
  purpose: string;
}

/**
 * When the graph runs each CLI: nothing in the code states it as one fact (it is where components/ use them), so
 * it is written here, and the table refuses a CLI missing from this map or an entry with no CLI.
 */
export const CLI_WHEN: Readonly<Record<string, string>> = {
  preflight: "`preview` and `up`, before anything",
  "ensure-code": "`up`, on a new content hash",
  "ensure-environment": "`up`, on a new content hash",
  "ensure-compute": "`up`",
  "run-job": "`up`, on a new job specification",
  "submit-job": "by hand (the first half of `run-job`)",
  "wait-for-job": "by hand (the second half of `run-job`)",
  "ensure-model": "`up`, after the job passed",
  "ensure-endpoint": "`up`; `destroy`",
  "ensure-deployment": "`up`, on a new deployment",
  "smoke-test": "`up`, before any traffic",
  rollout: "`up`, after the smoke test; `destroy`",
  "retire-deployments": "`up`, after the rollout",
  "set-traffic": "by hand",
  invoke: "`up`, once traffic is set; by hand (`npm run invoke`)",
  "delete-compute": "`destroy`",
  "delete-smart-detection": "`destroy`",
  "purge-workspace": "`destroy` with `purgeOnDestroy`",
  "promote-model": "`up`, after the sample invocation, when a registry is configured",
};

const ABBREVIATION = /\b(e\.g|i\.e|etc|vs|cf)$/;

/**
 * The gist of a paragraph for a table cell: its first sentence, up to a `.` outside parentheses, or already at a `:`
 * or `;` once 60 characters say enough (shorter, what follows the colon is the point: "a job: reuse or submit").
 */
export function firstSentence(text: string): string {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "(") depth++;
    else if (c === ")") depth = Math.max(0, depth - 1);
    else if (depth === 0 && ".:;".includes(c)) {
      const next = text[i + 1];
      const ends = next === undefined || /\s/.test(next);
      const enough = c === "." ? !ABBREVIATION.test(text.slice(0, i)) : i >= 60;
      if (ends && enough) return `${text.slice(0, i)}.`;
    }
  }
  return text.endsWith(".") ? text : `${text}.`;
}

/**
 * The purpose a CLI's header comment states: its first prose paragraph (usage lines, which start with a command or
 * are indented, are skipped), less a leading `name:`, first sentence only, one line.
 */
export function headerPurpose(source: string, name: string): string {
  const header = /^\s*\/\*\*([\s\S]*?)\*\//.exec(source);
  if (!header) throw new Error(`${name}: no header doc comment to take its purpose from`);
  const lines = header[1].split("\n").map((l) => l.replace(/^\s*\*( |$)/, ""));
  const isCommand = (l: string) => /^\s/.test(l) || /^([A-Z_]+=\S+ )?(npm run|tsx|bash) /.test(l);
  const prose: string[] = [];
  for (const line of lines) {
    if (line.trim() === "") {
      if (prose.length > 0) break;
    } else if (!isCommand(line)) prose.push(line.trim());
  }
  if (prose.length === 0) throw new Error(`${name}: its header comment has no prose line`);
  const text = prose.join("\n").replace(new RegExp(`^${name}:\\s*`), "");
  const sentence = firstSentence(text).replace(/\s*\n\s*/g, " ");
  return sentence[0].toUpperCase() + sentence.slice(1);
}

/**
 * Loads every CLI in ops/ for its spec. A module runs nothing on import (each runs under `require.main === module`),
 * and the usage is built from the flag specs at load time, so loading is the one way to show what `--help` prints.
 * Loaded by path at run time, from above, as a test would: tests/house.test.ts reads static imports only and does
 * not let scripts/ import ops/, and nothing in ops/ may come to depend on this generator.
 */
export function loadCliDocs(root: string = ROOT): CliDoc[] {
  const files = fs
    .readdirSync(path.join(root, "ops"))
    .filter((f) => f.endsWith(".ts"))
    .sort();
  return files.map((f) => {
    const file = `ops/${f}`;
    const full = path.join(root, file);
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- by path: the CLIs are whatever ops/ holds
    const mod = require(full) as { cli?: { name?: unknown; usage?: unknown } };
    const { name, usage } = mod.cli ?? {};
    if (typeof name !== "string" || typeof usage !== "string")
      throw new Error(`${file}: exports no \`cli = { name, usage, parse, main }\` (lib/toolkit/run.ts)`);
    return { file, name, usage, purpose: headerPurpose(fs.readFileSync(full, "utf8"), name) };
  });
}

/** One row per CLI: name (linked), when the graph runs it, its purpose, the first line of its usage. */
export function renderCliTable(
  clis: readonly CliDoc[],
  when: Readonly<Record<string, string>> = CLI_WHEN,
): string {
  const names = clis.map((c) => c.name);
  const unlisted = names.filter((n) => !(n in when));
  const stale = Object.keys(when).filter((n) => !names.includes(n));
  if (unlisted.length > 0 || stale.length > 0)
    throw new Error(
      `scripts/docs-gen.ts CLI_WHEN: add ${JSON.stringify(unlisted)}, remove ${JSON.stringify(stale)} (ops/ has ${JSON.stringify(names)})`,
    );
  const rows = [
    "| CLI | When | What it does | Usage (`--help` for all of it) |",
    "| --- | --- | --- | --- |",
  ];
  for (const c of clis) {
    const usage = c.usage.split("\n")[0].replace(/^usage:\s*/i, "");
    rows.push(`| [\`${c.name}\`](${c.file}) | ${when[c.name]} | ${cell(c.purpose)} | \`${cell(usage)}\` |`);
  }
  return rows.join("\n");
}

// --- stack outputs ------------------------------------------------------------------------------------------------

/** The keys of the object `declareStack` returns in program.ts's source, in order (read with the TS parser). */
export function stackOutputNames(programSource: string): string[] {
  const sf = ts.createSourceFile("program.ts", programSource, ts.ScriptTarget.ES2022, true);
  const fn = sf.statements.find(
    (s): s is ts.FunctionDeclaration => ts.isFunctionDeclaration(s) && s.name?.text === "declareStack",
  );
  const returns = fn?.body?.statements.filter(ts.isReturnStatement) ?? [];
  const value = returns[0]?.expression;
  if (returns.length !== 1 || !value || !ts.isObjectLiteralExpression(value))
    throw new Error("program.ts: declareStack must end in one `return { ... }` of the stack outputs");
  return value.properties.map((p) => {
    // A spread or computed key would hide outputs from the docs: refuse it rather than list a part.
    if ((ts.isPropertyAssignment(p) || ts.isShorthandPropertyAssignment(p)) && ts.isIdentifier(p.name))
      return p.name.text;
    throw new Error(`program.ts: stack output \`${p.getText(sf)}\` is not a plain key`);
  });
}

/** What each stack output is; program.ts has no comments beside its keys, so the words live here. */
export const OUTPUT_DESCRIPTIONS: Readonly<Record<string, string>> = {
  resourceGroupName: "the resource group the stack deploys into (created, or `resourceGroupName`)",
  workspaceName: "the Azure ML workspace",
  studioUrl: "the workspace in Azure ML studio",
  computeName: "the GPU training cluster (a stack that trains; none on one that serves a registry model)",
  jobName: "the training job the run hash resolved to (reused or new; for a sweep, the sweep job)",
  jobReused: "`true` when a job of the same run hash was reused instead of submitting one (no GPU time)",
  jobStudioUrl: "the training job in the studio",
  runHash:
    "the hash over code, environment, cluster, hyperparameters, data and `retrainNonce` that names the job and the model version",
  testAccuracy: "the job's test accuracy (`up` fails below `minTestAccuracy`)",
  modelName: "the model the deployment serves",
  modelVersion: "its version (the run hash when trained here)",
  endpointName: "the managed online endpoint",
  endpointAuthMode: "its auth mode: `Key`, `AMLToken` or `AADToken`",
  scoringUri: 'where to POST `{"data": [...]}`',
  swaggerUri: "the endpoint's OpenAPI document (`/swagger.json`, behind the same auth as `/score`)",
  deploymentName: "the deployment that holds 100 % of the traffic (named after a hash of what it runs)",
  sampleResult:
    "the sample invocation's `SampleResult`: `total`, `correct`, `accuracy`, `latencyMs`, `passed`",
  registryModelId:
    "`azureml://registries/…/versions/…`: the version promoted into the registry, or the one a registry-served stack deploys",
};

/** Names in program.ts that the map lacks, and map entries program.ts no longer returns. */
export function outputDescriptionGaps(
  names: readonly string[],
  descriptions: Readonly<Record<string, string>> = OUTPUT_DESCRIPTIONS,
): { undescribed: string[]; stale: string[] } {
  return {
    undescribed: names.filter((n) => !(n in descriptions)),
    stale: Object.keys(descriptions).filter((n) => !names.includes(n)),
  };
}

export function renderOutputs(
  names: readonly string[],
  descriptions: Readonly<Record<string, string>> = OUTPUT_DESCRIPTIONS,
): string {
  const gaps = outputDescriptionGaps(names, descriptions);
  if (gaps.undescribed.length > 0 || gaps.stale.length > 0)
    throw new Error(
      `scripts/docs-gen.ts OUTPUT_DESCRIPTIONS is not program.ts's outputs: ${JSON.stringify(gaps)}`,
    );
  const rows = ["| Output | What it is |", "| --- | --- |"];
  for (const n of names) rows.push(`| \`${n}\` | ${cell(descriptions[n])} |`);
  return rows.join("\n");
}

// --- test times ---------------------------------------------------------------------------------------------------

/** One tier as `npm run test:times` (scripts/time-tests.ts) measured it on an already set-up checkout. */
export interface TierTimes {
  command: string;
  seconds: number;
  jestTests: number;
  jestSuites: number;
  pytestTests: number;
}

/** docs/test-times.json: both tiers, and the single `npm test` of before the tiers, for comparison. */
export interface TestTimes {
  cores: number;
  fast: TierTimes;
  full: TierTimes;
  baseline: { seconds: number; jestTests: number; pytestTests: number };
}

export function parseTestTimes(json: unknown): TestTimes {
  const t = json as TestTimes;
  const tier = (x: TierTimes | undefined) => [x?.seconds, x?.jestTests, x?.jestSuites, x?.pytestTests];
  const numbers = [
    t?.cores,
    ...tier(t?.fast),
    ...tier(t?.full),
    t?.baseline?.seconds,
    t?.baseline?.jestTests,
    t?.baseline?.pytestTests,
  ];
  if (!numbers.every((n) => typeof n === "number" && Number.isFinite(n) && n > 0))
    throw new Error(
      "docs/test-times.json: expected positive numbers cores, fast and full.{seconds,jestTests,jestSuites,pytestTests}, " +
        "baseline.{seconds,jestTests,pytestTests} (npm run test:times writes it)",
    );
  return t;
}

/** Every number the region states, for the test that holds it to the recorded ones. */
export function testTimesNumbers(t: TestTimes): number[] {
  const tier = (x: TierTimes) => [x.seconds, x.jestTests, x.jestSuites, x.pytestTests];
  return [
    t.cores,
    ...tier(t.fast),
    ...tier(t.full),
    t.baseline.seconds,
    t.baseline.jestTests,
    t.baseline.pytestTests,
  ];
}

export function renderTestTimes(t: TestTimes): string {
  const tier = (x: TierTimes) =>
    `${x.seconds} s (${x.jestTests} jest tests in ${x.jestSuites} suites, ${x.pytestTests} pytest tests)`;
  return (
    `On ${t.cores} CPU cores, once set up, \`npm test\` (the fast tier) takes ${tier(t.fast)}; ` +
    `\`npm run test:full\`, what CI runs, takes ${tier(t.full)}. Before the tiers, \`npm test\` ran everything ` +
    `in ${t.baseline.seconds} s (${t.baseline.jestTests} jest and ${t.baseline.pytestTests} pytest tests). ` +
    "Measured by `npm run test:times`, recorded in `docs/test-times.json`."
  );
}

// --- Pulumi.yaml header -------------------------------------------------------------------------------------------

/** Word-wraps `text` into comment lines of at most `width` characters, the first after `first`. */
function wrapComment(first: string, rest: string, text: string, width = 118): string[] {
  const lines: string[] = [];
  let line = first;
  for (const word of text.split(/\s+/)) {
    const prefix = line === first || line === rest ? line : `${line} `;
    if ((prefix + word).length > width && line !== first && line !== rest) {
      lines.push(line);
      line = rest + word;
    } else line = prefix + word;
  }
  lines.push(line);
  return lines;
}

/** The mapping-valued keys (Pulumi's typed config has none) with their schema descriptions, as YAML comments. */
export function renderObjectConfigComment(settings: readonly Setting<unknown>[] = allSettings()): string {
  return settings
    .filter((s) => s.type === "object")
    .flatMap((s) => wrapComment(`#   ${s.key}: `, "#     ", s.description))
    .join("\n");
}

// --- the files ----------------------------------------------------------------------------------------------------

/** Per file with generated parts: its text → the text with every region as the code says now. */
export function docEdits(root: string = ROOT): Record<string, (text: string) => string> {
  const read = (f: string) => fs.readFileSync(path.join(root, f), "utf8");
  const times = parseTestTimes(JSON.parse(read("docs/test-times.json")));
  const outputs = stackOutputNames(read("program.ts"));
  const clis = loadCliDocs(root);
  return {
    "README.md": (text) =>
      [
        (t: string) => replaceRegion(t, "cli-table", renderCliTable(clis)),
        (t: string) => replaceRegion(t, "outputs", renderOutputs(outputs)),
        (t: string) => replaceRegion(t, "test-times", renderTestTimes(times)),
      ].reduce((t, f) => f(t), text),
    "docs/deploy.md": (text) =>
      replaceRegion(replaceBetweenMarkers(text, configTableMarkdown()), "outputs", renderOutputs(outputs)),
    "Pulumi.yaml": (text) =>
      pulumiYamlText(replaceRegion(text, "object-config", renderObjectConfigComment(), "yaml")),
  };
}

/** Every file with generated parts, as it is and as it should be. */
export function generatedDocs(root: string = ROOT): Array<{ file: string; before: string; after: string }> {
  return Object.entries(docEdits(root)).map(([file, edit]) => {
    const before = fs.readFileSync(path.join(root, file), "utf8");
    return { file, before, after: edit(before) };
  });
}

// --- links --------------------------------------------------------------------------------------------------------

/** GitHub's heading anchor: lowercase, punctuation other than `-` and `_` dropped, each space a `-`. */
export function slug(heading: string): string {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1")
    .replace(/<[^>]+>/g, "")
    .replace(/[`*]/g, "")
    .trim()
    .toLowerCase();
  return text.replace(/[^\p{L}\p{M}\p{N}_\- ]/gu, "").replace(/ /g, "-");
}

/** Markdown without fenced code blocks and inline code, where links are not links. */
function proseOf(markdown: string): string {
  return markdown.replace(/^(```|~~~)[\s\S]*?^\1/gm, "").replace(/`[^`\n]*`/g, "");
}

/** The anchors a markdown file has: its headings' slugs (repeats get -1, -2, ...), and explicit ids. */
export function anchorsOf(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  const noFences = markdown.replace(/^(```|~~~)[\s\S]*?^\1/gm, "");
  for (const m of noFences.matchAll(/^#{1,6}\s+(.*?)\s*#*\s*$/gm)) {
    const base = slug(m[1]);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  for (const m of markdown.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) out.add(m[1]);
  return out;
}

/** The link targets of a markdown text that point into the repository (a path, an `#anchor`, or both). */
export function relativeLinks(markdown: string): string[] {
  return [...proseOf(markdown).matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)]
    .map((m) => m[1])
    .filter((target) => !/^[a-z][a-z0-9+.-]*:/i.test(target)); // https:, mailto: ...
}

/**
 * Every relative link and `#anchor` in the given markdown files that does not resolve: a missing file, or an
 * anchor that no heading of the target markdown file makes. `read` returns a file's text, or undefined when it does
 * not exist (a directory is an empty string).
 */
export function brokenLinks(files: readonly string[], read: (file: string) => string | undefined): string[] {
  const broken: string[] = [];
  for (const file of files) {
    for (const target of relativeLinks(read(file) ?? "")) {
      const [pathPart, anchor] = target.split("#", 2);
      const resolved =
        pathPart === "" ? file : path.posix.normalize(path.posix.join(path.posix.dirname(file), pathPart));
      const content = read(resolved);
      if (content === undefined) broken.push(`${file}: ${target} (no file ${resolved})`);
      else if (anchor !== undefined && resolved.endsWith(".md") && !anchorsOf(content).has(anchor))
        broken.push(`${file}: ${target} (no heading #${anchor} in ${resolved})`);
    }
  }
  return broken;
}

/** README.md and docs/*.md, the files whose links are checked. */
export function markdownFiles(root: string = ROOT): string[] {
  const docs = fs
    .readdirSync(path.join(root, "docs"))
    .filter((f) => f.endsWith(".md"))
    .sort()
    .map((f) => `docs/${f}`);
  return ["README.md", ...docs];
}

/** A repository file's text; "" for a directory; undefined when absent. */
export function readRepoFile(root: string = ROOT): (file: string) => string | undefined {
  return (file) => {
    const full = path.join(root, file);
    if (!fs.existsSync(full)) return undefined;
    return fs.statSync(full).isDirectory() ? "" : fs.readFileSync(full, "utf8");
  };
}

function main(): void {
  for (const { file, before, after } of generatedDocs()) {
    if (after !== before) fs.writeFileSync(path.join(ROOT, file), after);
    process.stderr.write(`${file}: ${after === before ? "up to date" : "written"}\n`);
  }
  const broken = brokenLinks(markdownFiles(), readRepoFile());
  for (const b of broken) process.stderr.write(`broken link: ${b}\n`);
  if (broken.length > 0) process.exitCode = 1;
}

if (require.main === module) main();
