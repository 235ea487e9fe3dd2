// The resource graph before and after the "one house" redesign: tests/graph/fixtures/graph-before-redesign.json was
// recorded from the program as it was (same dev stack, same mocks). Every resource then still exists now, under its
// old URN or under a new one whose aliases include the old, with the same inputs and the same dependencies, except
// for the changes listed here on purpose. So an existing stack's next `up` replaces nothing.
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { Harness, Registration, devStackConfig, installMocks, unwrap, valueOf } from "./harness";

interface Recorded {
  urn: string;
  parent: string;
  dependencies: string[];
  ignoreChanges: string[];
  retainOnDelete: boolean;
  deleteBeforeReplace: boolean;
  inputs: Record<string, unknown>;
}

const before = JSON.parse(
  fs.readFileSync(path.join(__dirname, "fixtures", "graph-before-redesign.json"), "utf8"),
) as Recorded[];

let h: Harness;
beforeAll(async () => {
  h = installMocks(false);
  pulumi.runtime.setAllConfig(devStackConfig());
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- the program registers against the mocks set above
  const prog = require("../../index");
  await valueOf(prog.sampleResult);
  await h.settle();
  const recorded = (type: string, name: string, field: string) =>
    String(before.find((b) => b.urn.endsWith(`${type}::${name}`))?.inputs[field]);
  const current = (type: string, name: string, field: string) =>
    String(unwrap(h.registrations.find((r) => r.type === type && r.name === name)?.object[field]));
  const ML = "azure-native:machinelearningservices";
  const job = before
    .find((b) => b.urn.includes(`${ML}:Job::`))!
    .urn.split("::")
    .pop()!
    .replace("train-", "");
  contentNames = [
    // The mocks derive physical names and ids from logical names; a real stack keeps the recorded ones (aliases).
    [`training-${prog.runHash as string}`, `train-${job}`],
    ["online-traffic-cmd", "traffic-cmd"],
    [
      current(`${ML}:CodeVersion`, "train-code-version", "version"),
      recorded(`${ML}:CodeVersion`, "train-code-version", "version"),
    ],
    [
      current(`${ML}:CodeVersion`, "score-code-version", "version"),
      recorded(`${ML}:CodeVersion`, "score-code-version", "version"),
    ],
    [prog.runHash as string, job],
    [prog.deploymentName as string, recorded(`${ML}:OnlineDeployment`, "deployment", "deploymentName")],
  ];
});

/**
 * training/ and scoring/ change with their content (code versions, run hash, model version, deployment name, the
 * set of uploaded files); these are content, not design. Current content-derived names are rewritten to the recorded
 * ones before comparing, and blobs of files that exist only before or only now are left out.
 */
let contentNames: [current: string, recorded: string][] = [];
function recordedForm<T>(value: T): T {
  let text = JSON.stringify(value);
  for (const [current, recorded] of contentNames) text = text.split(current).join(recorded);
  return JSON.parse(text) as T;
}
function isContentOnlyBlob(urn: string): boolean {
  return urn.includes("azure-native:storage:Blob::") && !h.registrations.some((r) => r.urn === urn);
}

/** The registration that now answers to an old URN: its own URN or an alias. */
function now(oldUrn: string): Registration | undefined {
  return h.registrations.find(
    (r) => recordedForm(r.urn) === oldUrn || recordedForm(r.aliases).includes(oldUrn),
  );
}

/** Old URN → new URN, for every resource recorded before. */
function urnMap(): Map<string, string> {
  return new Map(before.map((b) => [b.urn, now(b.urn)?.urn ?? "(missing)"]));
}

// Changed on purpose: the invocation client moved from cli/ to ops/ (ops/ holds every CLI the graph runs).
const INTENDED: Record<string, (inputs: Record<string, unknown>) => Record<string, unknown>> = {
  "sample-invoke": (i) => ({ ...i, create: String(i.create).replace(" cli/invoke.ts ", " ops/invoke.ts ") }),
};

test("every resource of the old graph answers to its old URN, and nothing new appeared", () => {
  const missing = before.filter((b) => !now(b.urn) && !isContentOnlyBlob(b.urn)).map((b) => b.urn);
  expect(missing).toEqual([]);
  const claimed = new Set(before.map((b) => now(b.urn)?.urn));
  const added = h.registrations
    .filter((r) => !claimed.has(r.urn) && !r.type.endsWith(":Blob"))
    .map((r) => r.urn);
  expect(added).toEqual([]);
});

test("custom resources keep their inputs, options and dependencies", () => {
  const map = urnMap();
  for (const b of before.filter((x) => !x.urn.split("::")[2].endsWith("Stack"))) {
    const r = now(b.urn);
    if (!r || !r.custom) continue;
    const fix = INTENDED[r.name] ?? ((i: Record<string, unknown>) => i);
    expect([b.urn, recordedForm(unwrap(r.object))]).toEqual([b.urn, fix(b.inputs)]);
    const deps = [...new Set([...r.dependencies, ...Object.values(r.propertyDependencies).flat()])]
      .filter((u) => !(u.includes("azure-native:storage:Blob::") && !before.some((x) => x.urn === u)))
      .sort();
    const expected = b.dependencies.filter((u) => !isContentOnlyBlob(u)).map((u) => map.get(u));
    expect([b.urn, deps.sort()]).toEqual([b.urn, expected.sort()]);
    expect([r.urn, r.parent]).toEqual([r.urn, map.get(b.parent) ?? b.parent]);
    expect([r.urn, r.ignoreChanges, r.retainOnDelete, r.deleteBeforeReplace]).toEqual([
      r.urn,
      b.ignoreChanges,
      b.retainOnDelete,
      b.deleteBeforeReplace,
    ]);
  }
});
