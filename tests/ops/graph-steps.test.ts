/**
 * The serving steps exactly as the graph writes them, run for real. index.ts runs under Pulumi's mocks (the graph
 * harness); each step's command string (split as /bin/sh splits it) and its environment then run the real CLI, in
 * the graph's order, against the fake ARM holding an endpoint with the graph's own ARM id: the model version, the
 * endpoint, the deployment, the smoke test, the traffic, the retirement and the sample call. A renamed flag, a
 * changed result line or a spec the fake (as strict as the service) refuses fails here, not in a real `up`. Then a
 * second configuration rolls out over the first, and a revert brings the first back without a collision.
 * What is substituted: the scoring URI (the fake's), and `--poll-seconds` so that the polls take milliseconds.
 */
import * as pulumi from "@pulumi/pulumi";
import { devStackConfig, installMocks, unwrap, type Harness, type Registration } from "../graph/harness";
import { SubscriptionModel } from "../graph/azureModel";
import { declareStack } from "../../program";
import { splitCommand } from "../../lib/program/steps";
import type {
  AssetResult,
  DeploymentResult,
  EndpointResult,
  RolloutResult,
  SampleResult,
} from "../../lib/core/contracts";
import { FakeEndpoint } from "./fake/endpoints";
import { MODEL_VERSION, check } from "./fake/schemas";
import { FakeAzure } from "./fake/fakeAzure";
import { runCli, type CliResult } from "./fake/runCli";
import { installJobs, jobStore, JOBS_PATH } from "./fake/jobs";
import { MLFLOW_RUN_PATH, WS_ID, installWorkspace } from "./scenarios";
import type { RunJobResult } from "../../lib/core/contracts";

const fake = new FakeAzure();
const outputs: CliResult[] = [];
let h: Harness;

beforeAll(async () => {
  process.setMaxListeners(100);
  await fake.start();
});
afterAll(() => fake.stop());
afterEach(() => jest.restoreAllMocks());

/** The program's registrations for `config` (a fresh subscription model: every step runs). */
async function declare(config: Record<string, string> = {}): Promise<Registration[]> {
  h = installMocks(false, new SubscriptionModel());
  pulumi.runtime.setAllConfig(devStackConfig(config));
  declareStack();
  await h.settle();
  return [...h.registrations];
}

const step = (regs: Registration[], name: string) => {
  const r = regs.find((x) => x.type === "command:local:Command" && x.name === name);
  if (!r) throw new Error(`no step ${name}`);
  return unwrap(r.object) as { create: string; environment?: Record<string, string> };
};

/** Runs a step's create as the graph wrote it; `--uri` points at the fake, polls are fast. */
async function run(regs: Registration[], name: string, ep: FakeEndpoint, poll = true): Promise<CliResult> {
  const s = step(regs, name);
  const words = splitCommand(s.create);
  expect(words.slice(0, 4)).toEqual(["exec", "node", "--import", "tsx"]);
  const [script, ...args] = words.slice(4);
  const i = args.indexOf("--uri");
  if (i >= 0) args[i + 1] = ep.scoringUri;
  if (poll) args.push("--poll-seconds", "0.05");
  const r = await runCli(script.replace(/\.ts$/, ""), args, fake.env(s.environment ?? {}));
  outputs.push(r);
  if (r.code !== 0) throw new Error(`${name} exited ${r.code}:\n${r.stderr}`);
  return r;
}

/** The model version the graph names: GET/PUT of `<ws>/models/<name>/versions/<v>` (ModelVersions, 2025-12-01). */
function installModels(): string[] {
  const models = new Set<string>();
  const re = /\/models\/[^/]+\/versions\/[^/]+$/;
  fake.on("GET", re, (req) =>
    models.has(req.path) ? { status: 200, body: { id: req.path } } : { status: 404, body: {} },
  );
  fake.on("PUT", re, (req) => {
    // ModelVersions_CreateOrUpdate takes a ModelVersionResource of 2025-12-01 (fake/schemas.ts)
    const refused = check(MODEL_VERSION, JSON.parse(req.body));
    if (refused) return refused;
    models.add(req.path);
    return { status: 201, body: { id: req.path } };
  });
  return [...models];
}

/** One `up` of the serving steps; returns what each printed, parsed as the components parse it. */
async function serve(regs: Registration[], ep: FakeEndpoint) {
  const model = JSON.parse((await run(regs, "model-version", ep, false)).stdout) as AssetResult;
  const endpoint = JSON.parse((await run(regs, "online-endpoint", ep)).stdout) as EndpointResult;
  const deployment = JSON.parse((await run(regs, "online-deployment", ep)).stdout) as DeploymentResult;
  await run(regs, "online-smoke", ep);
  const traffic = JSON.parse((await run(regs, "online-traffic", ep)).stdout) as RolloutResult;
  await run(regs, "online-retire", ep);
  const sample = JSON.parse((await run(regs, "sample-invoke", ep, false)).stdout) as SampleResult;
  return { model, endpoint, deployment, traffic, sample };
}

test("the graph's serving steps run for real: first up, a new deployment, a revert; contracts hold, nothing collides", async () => {
  fake.reset();
  installModels();
  const first = await declare();
  const endpointId = splitCommand(step(first, "online-endpoint").create).at(-1)!;
  const name = endpointId.split("/").pop()!;
  const workspaceId = endpointId.split("/onlineEndpoints/")[0];
  const ep = new FakeEndpoint(fake, workspaceId, name, {
    traffic: {},
    absent: true,
    identityType: "SystemAssigned",
    provisioningPolls: 1,
  }).install();

  const a = await serve(first, ep);
  expect(a.endpoint).toMatchObject({ id: endpointId, name, created: true, authMode: "Key" });
  expect(a.model.id).toMatch(/\/models\/mnist-cnn\/versions\/[0-9a-f]{12}$/);
  const depA = a.deployment.name;
  expect(a.deployment).toMatchObject({ reused: false, provisioningState: "Succeeded", retired: [] });
  expect(a.traffic).toMatchObject({ deployment: depA, traffic: { [depA]: 100 }, rolledBack: false });
  expect(a.sample).toMatchObject({ passed: true, accuracy: 1 });
  expect(ep.tags).toMatchObject({ rolloutServing: depA, stack: "dev" });
  // the deployment PUT is the graph's spec, accepted by a fake as strict as the service
  expect(ep.deploymentPuts[0].body).toMatchObject({
    sku: { name: "Default", capacity: 1 },
    location: "westeurope",
  });

  // B: a new model (epochs) → a new deployment beside A, 100 % to it, A retired
  const second = await declare({ epochs: "20" });
  const b = await serve(second, ep);
  const depB = b.deployment.name;
  expect(depB).not.toBe(depA);
  expect(b.endpoint).toMatchObject({ created: false, updated: false });
  expect(b.traffic).toMatchObject({ previous: depA, traffic: { [depB]: 100 } });
  expect(ep.deleted).toEqual([depA]);

  // back to A: its deployment is created again under the same name (no azure-native create to collide), B retired
  const third = await declare();
  const back = await serve(third, ep);
  expect(back.deployment.name).toBe(depA);
  expect(back.traffic).toMatchObject({ traffic: { [depA]: 100 } });
  expect(ep.deleted).toEqual([depA, depB]);
  expect(ep.traffic).toEqual({ [depA]: 100 });
}, 180_000);

test("the graph's training step runs for real: its JOB_SPEC is accepted, a job is submitted and waited for, and the result line is what the component reads", async () => {
  fake.reset();
  const regs = await declare();
  const s = step(regs, "training-run");
  // the fake's workspace stands in for the graph's (the same shape of id)
  const graphWs = splitCommand(s.create)[splitCommand(s.create).indexOf("--workspace-id") + 1];
  const swap = (text: string) => text.split(graphWs).join(WS_ID);
  const [script, ...args] = splitCommand(swap(s.create)).slice(4);
  installWorkspace(fake);
  const store = { ...jobStore(), createdNext: ["Preparing", "Queued", "Running", "Completed"] };
  installJobs(fake, store);
  fake.on("GET", MLFLOW_RUN_PATH, (req) => ({
    status: 200,
    body: {
      run: {
        info: { run_id: req.query.get("run_id"), status: "FINISHED" },
        data: { metrics: [{ key: "test_accuracy", value: 0.9912, step: 0 }] },
      },
    },
  }));
  const env = Object.fromEntries(Object.entries(s.environment ?? {}).map(([k, v]) => [k, swap(v)]));
  const r = await runCli(script.replace(/\.ts$/, ""), [...args, "--poll-seconds", "0.05"], fake.env(env));
  outputs.push(r);
  expect([r.code, r.stderr.slice(-300)]).toEqual([0, expect.any(String)]);
  // the job PUT is the component's typed spec, as the service takes it (Jobs_CreateOrUpdate: {properties})
  expect(store.puts).toHaveLength(1);
  const put = JSON.parse(store.puts[0].body) as { properties: Record<string, unknown> };
  expect(put.properties).toMatchObject({ jobType: "Command", identity: { identityType: "Managed" } });
  const result = JSON.parse(r.stdout) as RunJobResult;
  expect(result).toMatchObject({ status: "Completed", testAccuracy: 0.9912, reused: false });
  expect(result.jobId).toBe(`${JOBS_PATH}/${result.jobName}`);
  expect(result.jobName).toMatch(/^training-[0-9a-f]{12}-[a-z0-9]{6}$/);
}, 120_000);

test("no secret appears in any output", () => {
  expect(outputs.length).toBeGreaterThan(15);
  for (const r of outputs) for (const s of fake.secrets()) expect(r.stdout + r.stderr).not.toContain(s);
});
