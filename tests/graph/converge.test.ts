// The fault matrix: the real index.ts under Pulumi's mocks, against the subscription model (tests/graph/azureModel.ts:
// Azure, the Pulumi engine's state and its stop on a failed step, pulumi-command and azure-native as they behave,
// and the ops CLIs as their own tests show them against the fake ARM). For every step of `up` and each fault
// (the CLI fails after its own cleanup; SIGTERM: its handler runs; SIGKILL: nothing runs, a create is left
// pending), the `up` fails there, and then:
//   - `up` again with the same config converges;
//   - `up` with the previous config (a revert) converges, and the new config after it too;
//   - `destroy` leaves nothing that bills (no cluster, endpoint, deployment or running job).
// Throughout: traffic never rests on a deployment that failed its checks, an endpoint that had traffic never has
// none, no deployment with traffic and no model version a serving deployment names is deleted, and no create
// meets a name Azure already holds. A pending azure-native create (SIGKILL during its create) needs the runbook
// in docs/deploy.md (refresh --clear-pending-creates, then import): the cell says so.
// The matrix is printed, and docs/deploy.md carries it.
import * as pulumi from "@pulumi/pulumi";
import { Harness, devStackConfig, installMocks, unwrap } from "./harness";
import { SubscriptionModel, type FaultKind } from "./azureModel";
import { flagOf } from "../../lib/program/steps";
import { declareStack } from "../../program";

const KINDS: FaultKind[] = ["fail", "SIGTERM", "SIGKILL"];
const A: Record<string, string> = {};
const B: Record<string, string> = { epochs: "20" };
/** A change of the cluster too: its name holds the VM size, so going back reuses a cluster that still exists. */
const B_GPU: Record<string, string> = { gpuVmSize: "Standard_NC6s_v3" };

let h: Harness;
let model: SubscriptionModel;

beforeAll(() => process.setMaxListeners(200));
afterEach(() => jest.restoreAllMocks());

function fresh(): void {
  model = new SubscriptionModel();
  h = installMocks(false, model);
}

/** One simulated `pulumi up` with `config`; true when every step succeeded. */
async function up(config: Record<string, string>): Promise<boolean> {
  await h.settle();
  h.reset();
  pulumi.runtime.setAllConfig(devStackConfig(config));
  // the program as a function: declared again without reloading its modules (what makes the matrix fast)
  declareStack();
  await h.settle();
  return h.endRun();
}

/** What bills or holds quota after a destroy: clusters, endpoints, deployments, jobs still running. */
function billing(): string[] {
  const left = [...model.existing].filter((id) => /\/(computes|onlineEndpoints)\//.test(id));
  const running = [...model.jobs].filter(([, j]) => j.status === "Running").map(([id]) => `running ${id}`);
  return [...left, ...running];
}

interface Cell {
  scenario: string;
  step: string;
  fault: FaultKind;
  /** what the faulted `up` did: failed at the step, or the step never ran (nothing to inject) */
  faulted: boolean;
  runbook: boolean;
  retry?: boolean;
  revert?: boolean;
  destroyClean: boolean;
  violations: string[];
}

const cells: Cell[] = [];

/** The faulted `up`, then the runbook if a create was left pending. */
async function faultedUp(config: Record<string, string>, step: string, fault: FaultKind) {
  model.fault = { step, kind: fault };
  const ok = await up(config);
  const faulted = !ok && model.fault === undefined;
  const runbook = model.importPendingCreates() > 0;
  model.fault = undefined;
  return { faulted, runbook };
}

function finish(cell: Omit<Cell, "destroyClean" | "violations">): Cell {
  model.destroy();
  const done: Cell = { ...cell, destroyClean: billing().length === 0, violations: [...model.violations] };
  cells.push(done);
  return done;
}

/** The steps a clean `up` of `config` runs after `before` (their logical names), in order. */
async function stepsOf(config: Record<string, string>, before?: Record<string, string>): Promise<string[]> {
  fresh();
  if (before) expect(await up(before)).toBe(true);
  const createdBefore = model.log.length;
  expect(await up(config)).toBe(true);
  // the azure-native resources this `up` created (a replacement included: a new id)
  const createdIds = model.log.slice(createdBefore).filter((l) => l.startsWith("create "));
  const created = h.registrations
    .filter((r) => r.custom && !r.type.startsWith("random:") && r.type !== "command:local:Command")
    .filter((r) => !before || createdIds.some((l) => l.includes(`/${r.name}`)))
    .map((r) => r.name);
  return [...created, ...model.ran];
}

let firstSteps: string[] = [];
let changeSteps: string[] = [];
let gpuSteps: string[] = [];

beforeAll(async () => {
  firstSteps = await stepsOf(A);
  changeSteps = await stepsOf(B, A);
  gpuSteps = await stepsOf(B_GPU, A);
}, 120_000);

test("the steps: every resource and step of a first `up`, and those a new training config runs", () => {
  expect(firstSteps).toEqual(
    expect.arrayContaining([
      "ml-workspace",
      "gpu-cluster",
      "training-run",
      "online-deployment",
      "sample-invoke",
    ]),
  );
  expect(changeSteps).toEqual([
    "training-run",
    "model-version",
    "online-deployment",
    "online-smoke",
    "online-traffic",
    "online-retire",
    "sample-invoke",
  ]);
  expect(gpuSteps).toEqual(["gpu-cluster", ...changeSteps]);
});

type Config = Record<string, string>;

/**
 * One cell: `serving` deployed (if given), the faulted `up` of `faulted`, then each of `then` in turn; all of them
 * must succeed, destroy must leave nothing billing, and no invariant may break.
 */
async function matrixCell(
  scenario: string,
  step: string,
  fault: FaultKind,
  o: { serving?: Config; faulted: Config; then: Config[]; outcome: "retry" | "revert" },
): Promise<void> {
  fresh();
  if (o.serving) expect(await up(o.serving)).toBe(true);
  const { faulted, runbook } = await faultedUp(o.faulted, step, fault);
  let converged = true;
  for (const c of o.then) converged = (await up(c)) && converged;
  const cell = finish({ scenario, step, fault, faulted, runbook, [o.outcome]: converged });
  expect([step, fault, cell.faulted, converged, cell.destroyClean, cell.violations]).toEqual([
    step,
    fault,
    true,
    true,
    true,
    [],
  ]);
}

describe("a fault in the first `up`", () => {
  test("every step × {fail, SIGTERM, SIGKILL}: the next `up` converges (after the runbook for a pending create); destroy leaves nothing billing", async () => {
    for (const step of firstSteps)
      for (const fault of KINDS)
        await matrixCell("first up", step, fault, { faulted: A, then: [A], outcome: "retry" });
  }, 600_000);
});

describe.each([
  ["a new training config (epochs)", B, () => changeSteps],
  ["a new GPU size (a new cluster too)", B_GPU, () => gpuSteps],
])("a fault while %s rolls out over a serving one", (what, next, steps) => {
  test("every step × {fail, SIGTERM, SIGKILL}: retrying the new config converges; destroy is clean", async () => {
    for (const step of steps())
      for (const fault of KINDS)
        await matrixCell(`${what}: retry`, step, fault, {
          serving: A,
          faulted: next,
          then: [next],
          outcome: "retry",
        });
  }, 600_000);

  test("every step × {fail, SIGTERM, SIGKILL}: reverting to the serving config converges, and the new one after it; destroy is clean", async () => {
    for (const step of steps())
      for (const fault of KINDS)
        await matrixCell(`${what}: revert`, step, fault, {
          serving: A,
          faulted: next,
          then: [A, next],
          outcome: "revert",
        });
  }, 600_000);
});

describe("a fault at the promotion (a dev stack with a registry)", () => {
  const REGISTRY =
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-shared/providers/Microsoft.MachineLearningServices/registries/mnist-models";
  const A_REG: Config = { ...A, modelRegistryId: REGISTRY };
  const B_REG: Config = { ...B, modelRegistryId: REGISTRY };

  test("the promotion step runs last, after the sample call", async () => {
    expect(await stepsOf(B_REG, A_REG)).toEqual([...changeSteps, "promotion-promote"]);
  });

  test("{fail, SIGTERM, SIGKILL} at promotion-promote: retrying converges, reverting converges; destroy is clean", async () => {
    for (const fault of KINDS) {
      await matrixCell("registry: retry", "promotion-promote", fault, {
        serving: A_REG,
        faulted: B_REG,
        then: [B_REG],
        outcome: "retry",
      });
      await matrixCell("registry: revert", "promotion-promote", fault, {
        serving: A_REG,
        faulted: B_REG,
        then: [A_REG, B_REG],
        outcome: "revert",
      });
    }
  }, 300_000);
});

describe("a model that fails its gate", () => {
  /** The model version (run hash) config `c` trains. */
  async function versionOf(c: Record<string, string>): Promise<string> {
    fresh();
    await up(c);
    const step = h.registrations.find((r) => r.name === "model-version")!;
    return flagOf(String(unwrap(step.object.create)), "version")!;
  }

  const withMode = (c: Record<string, string>, mode: string) => ({
    ...c,
    rolloutMode: mode,
    rolloutPercent: "10",
  });

  test.each([["direct"], ["canary"], ["mirror"]])(
    "rollout %s, B's model fails the smoke test: A keeps 100 %%, B's deployment goes, the retry fails the same way, reverting converges",
    async (mode) => {
      const bad = await versionOf(withMode(B, mode));
      fresh();
      model.badModels.add(bad);
      expect(await up(withMode(A, mode))).toBe(true);
      expect(await up(withMode(B, mode))).toBe(false);
      expect(h.failed.map((f) => f.name)).toEqual(["online-smoke"]);
      expect(await up(withMode(B, mode))).toBe(false);
      expect(await up(withMode(A, mode))).toBe(true);
      expect([...model.deployments.values()].map((d) => d.quality)).toEqual(["good"]);
      const cell = finish({
        scenario: `B's model fails its smoke test (${mode})`,
        step: "online-smoke",
        fault: "fail",
        faulted: true,
        runbook: false,
        revert: true,
      });
      expect([cell.violations, cell.destroyClean]).toEqual([[], true]);
    },
    120_000,
  );

  test.each([["canary"], ["mirror"]])(
    "rollout %s, B's model breaks the watch: rolled back to A, B's deployment goes; reverting converges",
    async (mode) => {
      const flaky = await versionOf(withMode(B, mode));
      fresh();
      model.flakyModels.add(flaky);
      expect(await up(withMode(A, mode))).toBe(true);
      expect(await up(withMode(B, mode))).toBe(false);
      expect(h.failed.map((f) => f.name)).toEqual(["online-traffic"]);
      const endpoint = [...model.endpoints.values()][0];
      expect(Object.values(endpoint.traffic)).toEqual([100]);
      expect(
        model.deployments.get(`${[...model.endpoints.keys()][0]}/deployments/${endpoint.serving}`)?.quality,
      ).toBe("good");
      expect(await up(withMode(A, mode))).toBe(true);
      const cell = finish({
        scenario: `B's model breaks the ${mode} watch`,
        step: "online-traffic",
        fault: "fail",
        faulted: true,
        runbook: false,
        revert: true,
      });
      expect([cell.violations, cell.destroyClean]).toEqual([[], true]);
    },
    120_000,
  );
});

afterAll(() => {
  if (cells.length === 0) return;
  const mark = (v: boolean | undefined) => (v === undefined ? "" : v ? "converges" : "STUCK");
  const rows = cells.map(
    (c) =>
      `| ${c.scenario} | ${c.step} | ${c.fault} | ${c.faulted ? "fails there" : "not reached"} | ${
        c.runbook ? "import the pending create, then " : ""
      }${mark(c.retry ?? c.revert)} | ${c.destroyClean ? "clean" : "LEAKS"} | ${c.violations.length || "none"} |`,
  );
  const table = [
    "| scenario | step | fault | the faulted up | the next up | destroy | invariant violations |",
    "| --- | --- | --- | --- | --- | --- | --- |",
    ...rows,
  ].join("\n");
  // The matrix, for the test output (and docs/deploy.md, which quotes it).
  process.stdout.write(`\nfault matrix: ${cells.length} cells\n${table}\n`);
});
