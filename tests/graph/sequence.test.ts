// Sequences of `pulumi up` against one subscription, with mocks that name resources as azure-native does and keep
// what exists across runs (tests/graph/azureModel.ts): up A, up B, up A, destroy, up A. B changes a hyperparameter,
// a file in training/, the inference environment, or the GPU size. No create may meet a name Azure already holds,
// and the second A reuses the first A's job and assets: no submission, no upload, no registration.
import type * as fsTypes from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { Harness, ROOT, devStackConfig, installMocks } from "./harness";
import { SubscriptionModel } from "./azureModel";

const fs = jest.requireActual<typeof fsTypes>("fs");

interface Variant {
  config?: Record<string, string>;
  /** Files whose content differs in this variant (absolute path → appended text). */
  edits?: Record<string, string>;
}

let h: Harness;
let model: SubscriptionModel;

beforeAll(() => {
  process.setMaxListeners(100);
});

beforeEach(() => {
  model = new SubscriptionModel();
  h = installMocks(false, model);
});

afterEach(() => jest.restoreAllMocks());

async function up(variant: Variant = {}): Promise<void> {
  await h.settle();
  h.reset();
  const read = fs.readFileSync;
  const spy = jest.spyOn(fs, "readFileSync").mockImplementation(((
    p: fsTypes.PathOrFileDescriptor,
    o?: unknown,
  ) => {
    const data = read(p, o as BufferEncoding);
    const extra = typeof p === "string" ? variant.edits?.[p] : undefined;
    if (extra === undefined) return data;
    return typeof data === "string" ? data + extra : Buffer.concat([data, Buffer.from(extra)]);
  }) as typeof fsTypes.readFileSync);
  pulumi.runtime.setAllConfig(devStackConfig(variant.config ?? {}));
  jest.isolateModules(() => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded after the mocks, so its resources register against them
    require("../../index");
  });
  await h.settle();
  h.endRun();
  spy.mockRestore();
}

const counts = () => ({
  submissions: model.submissions,
  uploads: model.uploads,
  registrations: model.registrations,
});

const B: [string, Variant][] = [
  ["a hyperparameter (epochs 15 → 20)", { config: { epochs: "20" } }],
  [
    "a file in training/",
    { edits: { [path.join(ROOT, "training", "app.py")]: "\n# an edit, later undone\n" } },
  ],
  [
    "the inference environment",
    { edits: { [path.join(ROOT, "scoring", "environment.yml")]: "\n# rebuilt\n" } },
  ],
  ["the GPU size", { config: { gpuVmSize: "Standard_NC6s_v3" } }],
];

test.each(B)("A → B → A → destroy → A, where B changes %s", async (_what, b) => {
  await up();
  const afterA = counts();
  // One job; training/ and scoring/ uploaded; 2 code, 2 environment and 1 model version registered.
  expect(afterA).toEqual({ submissions: 1, uploads: 2, registrations: 5 });

  await up(b);
  const afterB = counts();
  expect(model.violations).toEqual([]);

  await up();
  expect(model.violations).toEqual([]);
  // Back to A: its job, code and environments exist; nothing is submitted, uploaded or registered again.
  expect(counts()).toEqual(afterB);

  model.destroy();
  await up();
  expect(model.violations).toEqual([]);
  // A new stack (new name suffix, new workspace): everything once more.
  expect(counts()).toEqual({
    submissions: afterB.submissions + 1,
    uploads: afterB.uploads + 2,
    registrations: afterB.registrations + 5,
  });
});

test("what each B costs: a hyperparameter or training/ edit trains again; the inference environment does not", async () => {
  const cost = async (b: Variant) => {
    model = new SubscriptionModel();
    h = installMocks(false, model);
    await up();
    const before = counts();
    await up(b);
    return {
      submissions: model.submissions - before.submissions,
      uploads: model.uploads - before.uploads,
      registrations: model.registrations - before.registrations,
    };
  };
  // A new run registers a new model version (its version is the run hash).
  expect(await cost(B[0][1])).toEqual({ submissions: 1, uploads: 0, registrations: 1 });
  expect(await cost(B[1][1])).toEqual({ submissions: 1, uploads: 1, registrations: 2 });
  // scoring/environment.yml is part of scoring/ too: a new scoring code version besides the environment.
  expect(await cost(B[2][1])).toEqual({ submissions: 0, uploads: 1, registrations: 2 });
  expect(await cost(B[3][1])).toEqual({ submissions: 1, uploads: 0, registrations: 1 });
});

test("the model catches what azure-native would refuse: a create that meets an existing name", async () => {
  await up();
  // A job resource named by its logical name (as azure-native names child resources), kept after delete, then
  // declared again: the create meets the retained job.
  const jobId = `/subscriptions/x/jobs/train-abc`;
  model.resource("azure-native:machinelearningservices:Job", "train-abc", jobId, {});
  model.endRun(new Map([["azure-native:machinelearningservices:Job::train-abc", { retainOnDelete: true }]]));
  model.endRun(new Map());
  expect(() => model.resource("azure-native:machinelearningservices:Job", "train-abc", jobId, {})).toThrow(
    "cannot create already existing resource",
  );
  expect(model.violations).toEqual([
    `create of azure-native:machinelearningservices:Job::train-abc meets an existing ${jobId}`,
  ]);
});

test("a replaced GPU cluster is removed by the cluster step once the new one exists, so the same size can come back", async () => {
  await up();
  const cluster = [...model.existing].find((id) => id.includes("/computes/gnc4ast4v3d"));
  expect(cluster).toBeDefined();
  await up({ config: { gpuVmSize: "Standard_NC6s_v3" } });
  expect(model.existing.has(cluster!)).toBe(false);
  expect(model.log).toContain(`delete ${cluster}`);
});
