// A model of the subscription behind the mocks, and of the Pulumi engine's state, kept across a sequence of
// `pulumi up`/`destroy` runs, so graph tests see what a real stack meets: names Azure already holds, and what a
// failed or interrupted `up` leaves. It follows the engine, the providers and Azure ML as they behave:
//   - azure-native names a resource from its name input; without one, a top-level resource gets its logical name
//     plus a random suffix and a child resource (anything under workspaces/{ws}/…) an exact copy of the logical
//     name (provider source, resources.go AutoName); it refuses to create a resource whose ARM id already exists
//     (provider.go CanCreate: "cannot create already existing resource"): any such create is a violation;
//   - Pulumi state: a resource whose key (type + logical name) and id are unchanged is updated, not created; one
//     no longer declared (or replaced) is deleted unless it was retainOnDelete; a soft-deleted workspace or key
//     vault keeps its name;
//   - pulumi-command 1.2.1: `create` runs again when any input changed (an update without `update` re-runs
//     create); a `triggers` change is a replacement (create-before-delete: the old delete runs at the end of the
//     `up`); `delete` runs when the step is removed or replaced; a failed create leaves nothing in the state, a
//     failed update keeps the old state;
//   - a failed `up` (a step fails, or the run is interrupted): steps that depend on the failed one do not run,
//     nothing is deleted (deletes run only after every step), and replaced resources wait in the state for the
//     next successful `up` to delete them (pulumi/pulumi pkg/resource/deploy/step_generator.go, step.go);
//   - the CLIs the steps run behave as their own tests show them against the fake ARM (tests/ops), including
//     what each leaves behind when it fails, gets SIGTERM (its handler runs) or SIGKILL (nothing runs).
import { createHash } from "crypto";
import { splitCommand } from "../../lib/program/steps";

interface StateEntry {
  type: string;
  id: string;
  inputs: string;
  triggers: string;
  retainOnDelete: boolean;
  deleteCommand?: string;
  stdout?: string;
}

/** How a step is made to fail: the CLI exits 1 after its own cleanup, or the run is cut (SIGTERM / SIGKILL). */
export type FaultKind = "fail" | "SIGTERM" | "SIGKILL";

export interface Fault {
  /** the logical name of the step or resource that fails */
  step: string;
  kind: FaultKind;
}

/** Thrown inside the model when the faulted step runs: the harness stops the `up` there. */
export class StepFault extends Error {}

const SOFT_DELETED = new Set([
  "azure-native:machinelearningservices:Workspace",
  "azure-native:keyvault:Vault",
]);

type Traffic = Record<string, number>;

/** An online endpoint as Azure holds it: live and mirrored traffic, and the rollout's record (its tags). */
export interface EndpointState {
  traffic: Traffic;
  mirror: Traffic;
  /** it has held traffic: from then on it must never have none (until it is deleted) */
  served?: boolean;
  serving?: string;
  intent?: string;
}

/** A deployment as Azure holds it: the model version it serves and whether it passed its checks. */
export interface DeploymentState {
  model: string;
  /** "good" serves right answers; "bad" fails the smoke test; "flaky" passes it and breaks a canary/mirror watch */
  quality: "good" | "bad" | "flaky";
}

const nonZero = (t: Traffic): Traffic => Object.fromEntries(Object.entries(t).filter(([, v]) => v !== 0));

export class SubscriptionModel {
  /** ARM ids that exist (soft-deleted ones too: their names stay taken). */
  readonly existing = new Set<string>();
  /** Training jobs by id: run hash and status. */
  readonly jobs = new Map<string, { runHash: string; status: string; jobType: string; computeId?: string }>();
  readonly endpoints = new Map<string, EndpointState>();
  readonly deployments = new Map<string, DeploymentState>();
  readonly violations: string[] = [];
  readonly log: string[] = [];
  /** steps that ran (their CLI) in the current run, in order */
  ran: string[] = [];
  submissions = 0;
  uploads = 0;
  registrations = 0;
  /** the next `up`'s fault, if any; cleared once it fired */
  fault?: Fault;
  /** model versions whose deployments fail the smoke test */
  readonly badModels = new Set<string>();
  /** model versions whose deployments pass the smoke test and break the watch of a canary or mirror */
  readonly flakyModels = new Set<string>();
  /** training jobs of these run hashes end Failed (once each) */
  readonly failingRuns = new Set<string>();
  private prev = new Map<string, StateEntry>();
  private current = new Map<string, StateEntry>();
  /** replaced or removed entries of failed runs: the next successful `up` deletes them */
  private pendingDeletes: StateEntry[] = [];
  /** azure-native creates cut by SIGKILL: exist in Azure, not in the state (a pending create) */
  readonly pendingCreates: Array<{ key: string; entry: StateEntry }> = [];
  private counter = 0;
  private readonly issued = new Set<string>();

  private fresh(seed: string): string {
    this.counter += 1;
    return createHash("sha256")
      .update(`${seed}:${this.counter}`)
      .digest("hex")
      .replace(/[^a-z]/g, "")
      .slice(0, 6);
  }

  beginRun(): void {
    this.current = new Map();
    this.ran = [];
  }

  /** The random suffix: kept while the RandomString is in state, new after it was destroyed. */
  random(key: string, firstValue?: string): string {
    const old = this.prev.get(key) ?? this.current.get(key);
    const value = old?.id ?? (firstValue && !this.issued.has(firstValue) ? firstValue : this.fresh(key));
    this.issued.add(value);
    this.current.set(key, { type: "random", id: value, inputs: "", triggers: "", retainOnDelete: false });
    return value;
  }

  /** Physical name of a resource without a name input, as azure-native autonames it. */
  autoName(logical: string, child: boolean, type?: string, inputs?: unknown): string {
    if (child) return logical;
    // Pulumi keeps an auto-named resource's name while its inputs do not force a replacement: here, while they are
    // unchanged (a change of an auto-named resource's inputs is a replacement in this program: role assignments)
    const old = type ? this.prev.get(`${type}::${logical}`) : undefined;
    if (old && old.inputs === JSON.stringify(inputs)) return old.id.split("/").pop()!;
    return `${logical}-${this.fresh(logical)}`;
  }

  /** The fault for `name`, once: consumed when it fires. */
  private takeFault(name: string): FaultKind | undefined {
    if (this.fault?.step !== name) return undefined;
    const kind = this.fault.kind;
    this.fault = undefined;
    return kind;
  }

  /** A custom (non-Command) resource registered in this run; throws StepFault when it is the faulted one. */
  resource(type: string, name: string, id: string, inputs: unknown): void {
    const key = `${type}::${name}`;
    const old = this.prev.get(key);
    const creating = !old || old.id !== id;
    const kind = this.takeFault(name);
    if (creating && this.existing.has(id)) {
      this.violations.push(`create of ${key} meets an existing ${id}`);
      throw new StepFault(`cannot create already existing resource '${id}'`);
    }
    if (kind) {
      // fail: the PUT is refused, nothing exists. SIGTERM: the provider is cancelled during its LRO and reports a
      // partial failure with the id (kept in state). SIGKILL: the create is pending: Azure holds it, the state not.
      if (kind === "SIGKILL" && creating) {
        this.existing.add(id);
        const entry = { type, id, inputs: JSON.stringify(inputs), triggers: "", retainOnDelete: false };
        this.pendingCreates.push({ key, entry });
      }
      if (kind === "SIGTERM" && creating) {
        this.existing.add(id);
        this.current.set(key, {
          type,
          id,
          inputs: JSON.stringify(inputs),
          triggers: "",
          retainOnDelete: false,
        });
      }
      throw new StepFault(`${name}: ${kind}`);
    }
    if (creating) {
      this.existing.add(id);
      this.log.push(`create ${id}`);
    }
    this.current.set(key, { type, id, inputs: JSON.stringify(inputs), triggers: "", retainOnDelete: false });
  }

  /**
   * A Command registered in this run: its stdout, from state when unchanged, else from running `create`; throws
   * StepFault when it is the faulted one (after what its CLI leaves behind for that fault).
   */
  command(
    name: string,
    inputs: Record<string, unknown>,
    run: (create: string, inputs: Record<string, unknown>) => string,
  ): string {
    const key = `command:local:Command::${name}`;
    const old = this.prev.get(key);
    const text = JSON.stringify({ ...inputs, stdout: undefined, stderr: undefined });
    const triggers = JSON.stringify(inputs.triggers ?? null);
    const unchanged = old && old.inputs === text && old.stdout !== undefined;
    let stdout: string;
    if (unchanged) stdout = old.stdout!;
    else {
      this.ran.push(name);
      const kind = this.takeFault(name);
      if (kind) {
        this.partial(String(inputs.create), kind, inputs);
        throw new StepFault(`${name}: ${kind}`);
      }
      stdout = run(String(inputs.create), inputs);
    }
    this.current.set(key, {
      type: "command:local:Command",
      id: `${name}-cmd`,
      inputs: text,
      triggers,
      retainOnDelete: false,
      deleteCommand: typeof inputs.delete === "string" ? inputs.delete : undefined,
      stdout,
    });
    return stdout;
  }

  /** The script and flags of a step's command string. */
  private argv(create: string): { script: string; flag: (f: string) => string; has: (f: string) => boolean } {
    const words = splitCommand(create);
    const script = words.find((w) => w.startsWith("ops/")) ?? "";
    return {
      script,
      flag: (f) => {
        const i = words.indexOf(`--${f}`);
        return i >= 0 ? (words[i + 1] ?? "") : "";
      },
      has: (f) => words.includes(`--${f}`),
    };
  }

  /**
   * The runbook for a pending create (docs/deploy.md): `pulumi refresh --clear-pending-creates`, then `pulumi
   * import` of each resource Azure holds: afterwards the state has them, and the next `up` updates instead of
   * creating.
   */
  importPendingCreates(): number {
    const n = this.pendingCreates.length;
    for (const { key, entry } of this.pendingCreates.splice(0)) this.prev.set(key, entry);
    return n;
  }

  /** What a CLI leaves behind when it fails or is cut at its most harmful point. */
  private partial(create: string, kind: FaultKind, inputs: Record<string, unknown>): void {
    const { script, flag } = this.argv(create);
    if (script === "ops/run-job.ts") {
      // fail: the job ends Failed; a signal: the job was submitted (or followed) and keeps running
      const r = this.runJob(flag, inputs, "Running");
      if (kind === "fail") this.jobs.get(r.jobId)!.status = "Failed";
      return;
    }
    if (script === "ops/ensure-deployment.ts") {
      const id = `${flag("endpoint-id")}/deployments/${flag("deployment")}`;
      // a signal: PUT accepted, provisioning goes on in Azure; fail: provisioning failed and the step deleted it
      if (kind !== "fail") this.putDeployment(id, inputs);
      return;
    }
    if (script === "ops/ensure-endpoint.ts" && kind !== "fail" && !create.includes("--delete")) {
      this.ensureEndpoint(flag("endpoint-id"), false);
      return;
    }
    if (script === "ops/ensure-compute.ts" && kind !== "fail") {
      // PUT accepted (the sweep of the owner's other clusters may not have run)
      const id = flag("compute-id");
      if (!this.existing.has(id)) this.existing.add(id);
      const spec = JSON.parse(
        String((inputs.environment as Record<string, string>)?.COMPUTE_SPEC ?? "{}"),
      ) as {
        tags?: Record<string, string>;
      };
      this.clusterOwner.set(id, spec.tags?.clusterOf ?? "");
      return;
    }
    if (/^ops\/ensure-(code|environment|model)\.ts$/.test(script) && kind === "SIGKILL") {
      this.runCli(create, inputs);
      return;
    }
    if (script === "ops/rollout.ts" && flag("mode") !== "direct") {
      const ep = this.endpoints.get(flag("endpoint-id"));
      const dep = flag("deployment");
      if (!ep || !ep.serving || ep.serving === dep) return;
      if (kind === "SIGKILL") {
        // staged and watching when the process died: the split and the intent stay
        const pct = Number(flag("percent") || 10);
        if (flag("mode") === "mirror") ep.mirror = { [dep]: pct };
        else ep.traffic = { [ep.serving]: 100 - pct, [dep]: pct };
        ep.intent = `${dep} ${flag("mode")} ${pct}`;
      }
      // a breach or a signal: the rollback ran (the split above was never written, or was put back); the
      // deployment stays at 0 % for the next successful `up` to retire
      return;
    }
    // smoke-test: never touches traffic; a failed deployment stays for the next successful `up` to retire
  }

  /** PUT of a deployment: it exists (Creating → Succeeded in this model). */
  private putDeployment(id: string, inputs: Record<string, unknown>): void {
    const spec = JSON.parse(
      String((inputs.environment as Record<string, string>)?.DEPLOYMENT_SPEC ?? "{}"),
    ) as {
      properties?: { model?: string };
    };
    const model = spec.properties?.model ?? "";
    // a registry's version exists before the stack runs (dev promoted it)
    if (model && !model.startsWith("azureml://registries/") && !this.existing.has(model))
      this.violations.push(`deployment ${id} names a missing model ${model}`);
    if (!this.existing.has(id)) {
      this.existing.add(id);
      this.log.push(`create ${id}`);
    }
    const of = (set: Set<string>) => [...set].some((m) => model.endsWith(`/versions/${m}`));
    const quality = of(this.badModels) ? "bad" : of(this.flakyModels) ? "flaky" : "good";
    this.deployments.set(id, { model, quality });
  }

  private deleteDeployment(id: string): void {
    const endpointId = id.split("/deployments/")[0];
    const dep = id.split("/").pop()!;
    const ep = this.endpoints.get(endpointId);
    if (ep && ((ep.traffic[dep] ?? 0) > 0 || (ep.mirror[dep] ?? 0) > 0)) {
      this.violations.push(`delete of deployment ${dep} while it holds traffic`);
      return;
    }
    if (this.existing.delete(id)) this.log.push(`delete ${id}`);
    this.deployments.delete(id);
  }

  /** run-job's resolution: reuse a Completed job, follow an active one, else submit; `end` is where it stops. */
  private runJob(
    flag: (f: string) => string,
    inputs: Record<string, unknown>,
    end: "Completed" | "Running",
  ): { jobName: string; jobId: string; reused: boolean; status: string; submitStatus: string } {
    const ws = flag("workspace-id");
    const runHash = flag("run-hash");
    const mine = [...this.jobs].filter(([id, j]) => id.startsWith(`${ws}/jobs/`) && j.runHash === runHash);
    const done = mine.find(([, j]) => j.status === "Completed");
    const active = mine.find(([, j]) => j.status === "Running");
    let jobId: string;
    let reused = true;
    if (done) jobId = done[0];
    else if (active) jobId = active[0];
    else {
      jobId = `${ws}/jobs/${flag("name-prefix")}-${runHash}-${this.fresh(runHash)}`;
      if (this.existing.has(jobId)) this.violations.push(`submit meets an existing job ${jobId}`);
      this.existing.add(jobId);
      const spec = (inputs.environment as { JOB_SPEC?: string } | undefined)?.JOB_SPEC;
      const parsed = spec ? (JSON.parse(spec) as { jobType?: string; computeId?: string }) : {};
      const jobType = String(parsed.jobType ?? "Command");
      this.jobs.set(jobId, { runHash, status: "Running", jobType, computeId: parsed.computeId });
      this.submissions += 1;
      this.log.push(`submit ${jobId}`);
      reused = false;
    }
    const job = this.jobs.get(jobId)!;
    // submit-job's `status` (run-job's submitStatus): the job's status when the run hash was resolved; a new job is
    // NotStarted (tests/graph/model-contract.test.ts compares it with the real CLI's)
    const submitStatus = reused ? job.status : "NotStarted";
    if (end === "Completed" && job.status === "Running") {
      job.status = this.failingRuns.delete(runHash) ? "Failed" : "Completed";
    }
    return { jobName: jobId.split("/").pop()!, jobId, reused, status: job.status, submitStatus };
  }

  /** What the ops CLIs do when a step runs them; undefined when the step runs some other command. */
  runCli(create: string, inputs: Record<string, unknown> = {}): string | undefined {
    const { script, flag, has } = this.argv(create);
    if (
      script === "ops/ensure-code.ts" ||
      script === "ops/ensure-environment.ts" ||
      script === "ops/ensure-model.ts"
    ) {
      const kinds: Record<string, string> = {
        "ops/ensure-code.ts": "codes",
        "ops/ensure-environment.ts": "environments",
      };
      const kind = kinds[script] ?? "models";
      const id = `${flag("workspace-id")}/${kind}/${flag("name")}/versions/${flag("version")}`;
      const reused = this.existing.has(id);
      if (!reused) {
        this.existing.add(id);
        this.registrations += 1;
        if (kind === "codes") this.uploads += 1;
        this.log.push(`register ${id}`);
      }
      return JSON.stringify({ id, name: flag("name"), version: flag("version"), reused });
    }
    if (script === "ops/promote-model.ts") {
      // ops/promote-model.ts: the registry keeps every version it was given (never deleted, reused when there)
      const [, name, version] = /\/models\/([^/]+)\/versions\/([^/]+)$/.exec(flag("model-id")) ?? [];
      const registry = flag("registry-id").split("/").pop();
      const registryModelId = `azureml://registries/${registry}/models/${name}/versions/${version}`;
      const reused = this.existing.has(registryModelId);
      this.existing.add(registryModelId);
      this.log.push(`promote ${registryModelId}`);
      const minGain = Number(flag("min-gain") || 0);
      return JSON.stringify({ promoted: true, reused, registry, name, version, registryModelId, minGain });
    }
    if (script === "ops/ensure-endpoint.ts") return this.ensureEndpoint(flag("endpoint-id"), has("delete"));
    if (script === "ops/ensure-compute.ts") return this.ensureCompute(flag("compute-id"), inputs);
    if (script === "ops/ensure-deployment.ts") {
      const id = `${flag("endpoint-id")}/deployments/${flag("deployment")}`;
      const reused = this.existing.has(id);
      if (!reused) this.putDeployment(id, inputs);
      // lib/azureml/deployments.ts retireStale: the others with no traffic, not serving, go
      const endpointId = flag("endpoint-id");
      const ep = this.endpoints.get(endpointId);
      const retired: string[] = [];
      for (const other of [...this.deployments.keys()].filter((d) =>
        d.startsWith(`${endpointId}/deployments/`),
      )) {
        const dep = other.split("/").pop()!;
        if (other === id || !ep) continue;
        if ((ep.traffic[dep] ?? 0) > 0 || (ep.mirror[dep] ?? 0) > 0 || ep.serving === dep) continue;
        this.deleteDeployment(other);
        if (!this.existing.has(other)) retired.push(dep);
      }
      return JSON.stringify({
        id,
        name: flag("deployment"),
        endpoint: flag("endpoint-id").split("/").pop(),
        provisioningState: "Succeeded",
        reused,
        retired,
      });
    }
    if (script === "ops/smoke-test.ts") return this.smoke(flag("endpoint-id"), flag("deployment"));
    if (script === "ops/rollout.ts")
      return this.rollout(flag("endpoint-id"), flag("deployment"), flag("mode"));
    if (script === "ops/retire-deployments.ts") return this.retire(flag("endpoint-id"), flag("keep"));
    if (script === "ops/run-job.ts") {
      const r = this.runJob(flag, inputs, "Completed");
      if (r.status !== "Completed") {
        throw new StepFault(`job ${r.jobName} is ${r.status}: the next up submits a new one`);
      }
      const sweep = this.jobs.get(r.jobId)?.jobType === "Sweep";
      return JSON.stringify({
        jobName: r.jobName,
        jobId: r.jobId,
        status: "Completed",
        reused: r.reused,
        submitStatus: r.submitStatus,
        testAccuracy: sweep ? 0.9931 : 0.9912,
        ...(sweep
          ? {
              bestTrial: `${r.jobName}_3`,
              trials: [1, 2, 3].map((i) => ({
                name: `${r.jobName}_${i}`,
                status: "Completed",
                metric: 0.98 + i / 1000,
              })),
            }
          : {}),
      });
    }
    return undefined;
  }

  /** Which component owns each cluster (its `clusterOf` tag). */
  private readonly clusterOwner = new Map<string, string>();

  /** ops/ensure-compute.ts: reuse or create, then remove the owner's other clusters (their jobs canceled first). */
  private ensureCompute(id: string, inputs: Record<string, unknown>): string {
    const spec = JSON.parse(String((inputs.environment as Record<string, string>)?.COMPUTE_SPEC ?? "{}")) as {
      tags?: Record<string, string>;
      properties?: { properties?: { vmSize?: string } };
    };
    const owner = spec.tags?.clusterOf ?? "";
    const created = !this.existing.has(id);
    if (created) {
      this.existing.add(id);
      this.log.push(`create ${id}`);
    }
    this.clusterOwner.set(id, owner);
    const retired = this.removeOwned(id.split("/computes/")[0], owner, id);
    return JSON.stringify({
      id,
      name: id.split("/").pop(),
      vmSize: spec.properties?.properties?.vmSize,
      principalId: `principal-of-${id.split("/").pop()}`,
      created,
      updated: false,
      retired,
    });
  }

  /** ops/delete-compute.ts: active jobs on it canceled, then it goes. */
  private removeCompute(id: string): boolean {
    for (const j of this.jobs.values())
      if (j.status === "Running" && j.computeId === id) j.status = "Canceled";
    this.clusterOwner.delete(id);
    if (!this.existing.delete(id)) return false;
    this.log.push(`delete ${id}`);
    return true;
  }

  /** The owner's clusters in the workspace other than `keep`, removed. */
  private removeOwned(workspaceId: string, owner: string, keep: string): string[] {
    const others = [...this.clusterOwner]
      .filter(([id, o]) => o === owner && id !== keep && id.startsWith(`${workspaceId}/computes/`))
      .map(([id]) => id);
    return others.filter((id) => this.removeCompute(id)).map((id) => id.split("/").pop()!);
  }

  private ensureEndpoint(id: string, removing: boolean): string {
    const name = id.split("/").pop()!;
    if (removing) {
      const deleted = this.existing.delete(id);
      for (const d of [...this.existing]) if (d.startsWith(`${id}/deployments/`)) this.existing.delete(d);
      for (const d of [...this.deployments.keys()]) if (d.startsWith(`${id}/`)) this.deployments.delete(d);
      this.endpoints.delete(id);
      if (deleted) this.log.push(`delete ${id}`);
      return JSON.stringify({ name, deleted });
    }
    const created = !this.existing.has(id);
    if (created) {
      this.existing.add(id);
      this.endpoints.set(id, { traffic: {}, mirror: {} });
      this.log.push(`create ${id}`);
    }
    return JSON.stringify({
      id,
      name,
      scoringUri: `https://${name}.westeurope.inference.ml.azure.com/score`,
      swaggerUri: `https://${name}.westeurope.inference.ml.azure.com/swagger.json`,
      authMode: "Key",
      created,
      updated: false,
    });
  }

  private smoke(endpointId: string, dep: string): string {
    const d = this.deployments.get(`${endpointId}/deployments/${dep}`);
    if (!d) throw new StepFault(`smoke: deployment ${dep} is missing`);
    if (d.quality === "bad") throw new StepFault(`smoke test of ${dep} failed`);
    return JSON.stringify({
      total: 20,
      correct: 20,
      accuracy: 1,
      latencyMs: 40.1,
      passed: true,
      deployment: dep,
    });
  }

  /** ops/rollout.ts: settle a half-done rollout (back to the recorded serving one), then roll `dep` out. */
  private rollout(endpointId: string, dep: string, mode: string): string {
    const ep = this.endpoints.get(endpointId);
    if (!ep) throw new StepFault(`endpoint ${endpointId} not found`);
    const id = `${endpointId}/deployments/${dep}`;
    if (!this.deployments.has(id)) throw new StepFault(`deployment ${dep} is not on the endpoint`);
    const halfDone =
      ep.intent !== undefined ||
      Object.keys(nonZero(ep.mirror)).length > 0 ||
      (ep.serving !== undefined && ep.traffic[ep.serving] !== 100);
    if (ep.serving && this.deployments.has(`${endpointId}/deployments/${ep.serving}`) && halfDone) {
      ep.traffic = { [ep.serving]: 100 };
      ep.mirror = {};
      ep.intent = undefined;
    }
    const watched =
      mode !== "direct" &&
      ep.serving !== undefined &&
      ep.serving !== dep &&
      (ep.traffic[ep.serving] ?? 0) > 0;
    if (watched && this.deployments.get(id)!.quality !== "good") {
      // breach: rolled back (already the serving split); the deployment stays at 0 %
      throw new StepFault(`rollout of ${dep} rolled back`);
    }
    ep.traffic = { [dep]: 100 };
    ep.mirror = {};
    ep.serving = dep;
    ep.intent = undefined;
    ep.served = true;
    return JSON.stringify({
      endpoint: endpointId.split("/").pop(),
      deployment: dep,
      mode,
      traffic: ep.traffic,
      rolledBack: false,
    });
  }

  private retire(endpointId: string, keep: string): string {
    const ep = this.endpoints.get(endpointId);
    const deleted: string[] = [];
    const skipped: string[] = [];
    for (const id of [...this.existing].filter((i) => i.startsWith(`${endpointId}/deployments/`))) {
      const dep = id.split("/").pop()!;
      if (dep === keep) continue;
      if (ep && ((ep.traffic[dep] ?? 0) > 0 || (ep.mirror[dep] ?? 0) > 0)) skipped.push(dep);
      else {
        this.deleteDeployment(id);
        deleted.push(dep);
      }
    }
    return JSON.stringify({ endpoint: endpointId.split("/").pop(), kept: keep, deleted, skipped });
  }

  /** Invariants that must hold after every step, whatever failed. */
  check(when: string): void {
    for (const [id, ep] of this.endpoints) {
      const live = Object.entries(nonZero(ep.traffic));
      for (const [dep] of live) {
        const d = this.deployments.get(`${id}/deployments/${dep}`);
        if (!d) this.violations.push(`${when}: ${dep} holds traffic but does not exist`);
        else if (d.quality === "bad")
          this.violations.push(`${when}: traffic rests on ${dep}, whose model failed its smoke test`);
        else if (d.quality === "flaky" && ep.serving !== dep && ep.intent === undefined)
          this.violations.push(`${when}: traffic rests on ${dep}, which never passed its watch`);
        else if (d.model && !this.existing.has(d.model))
          this.violations.push(`${when}: ${dep} serves a model version that was deleted (${d.model})`);
      }
      if (live.length > 0) ep.served = true;
      else if (ep.served) this.violations.push(`${when}: endpoint ${id} had traffic and has none`);
    }
  }

  /**
   * After the program registered everything: options the mocks cannot see, then deletes of what went away. After
   * a failed run nothing is deleted: replaced and removed entries wait for the next successful run.
   */
  endRun(options: Map<string, { retainOnDelete: boolean }>, failed = false): void {
    for (const [key, entry] of this.current) entry.retainOnDelete = options.get(key)?.retainOnDelete ?? false;
    if (failed) {
      const next = new Map(this.prev);
      for (const [key, now] of this.current) {
        const old = this.prev.get(key);
        if (old && (old.type === "command:local:Command" ? old.triggers !== now.triggers : old.id !== now.id))
          this.pendingDeletes.push(old);
        next.set(key, now);
      }
      this.prev = next;
      this.current = new Map();
      this.check("after the failed up");
      return;
    }
    for (const old of this.pendingDeletes.splice(0)) this.deleteEntry(old);
    for (const [key, old] of this.prev) {
      const now = this.current.get(key);
      if (old.type === "command:local:Command") {
        if (!now || now.triggers !== old.triggers) this.runDelete(old.deleteCommand);
      } else if (!now || now.id !== old.id) {
        this.remove(old);
      }
    }
    this.prev = this.current;
    this.current = new Map();
    this.check("after the up");
  }

  private deleteEntry(e: StateEntry): void {
    if (e.type === "command:local:Command") this.runDelete(e.deleteCommand);
    else this.remove(e);
  }

  /** `pulumi destroy`: commands' deletes first (they depend on the rest), then every resource. */
  destroy(): void {
    const all = [...this.pendingDeletes.splice(0), ...this.prev.values()];
    for (const e of all.filter((x) => x.type === "command:local:Command")) this.runDelete(e.deleteCommand);
    for (const e of all.filter((x) => x.type !== "command:local:Command")) this.remove(e);
    this.prev = new Map();
  }

  /** The entries in the state (for tests: what a failed `up` left). */
  stateKeys(): string[] {
    return [...this.prev.keys()];
  }

  private remove(entry: StateEntry): void {
    if (entry.type === "random" || entry.retainOnDelete || SOFT_DELETED.has(entry.type)) return;
    this.existing.delete(entry.id);
    this.log.push(`delete ${entry.id}`);
  }

  private runDelete(cmd: string | undefined): void {
    if (!cmd) return;
    const { script, flag, has } = this.argv(cmd);
    if (script === "ops/delete-compute.ts") {
      const computeId = flag("compute-id");
      this.removeCompute(computeId);
      if (has("owner")) this.removeOwned(computeId.split("/computes/")[0], flag("owner"), computeId);
    }
    if (script === "ops/ensure-endpoint.ts" && has("delete")) this.ensureEndpoint(flag("endpoint-id"), true);
    if (script === "ops/rollout.ts" && has("delete")) {
      // rollout --delete: traffic off the deployment if it still holds some (the others scaled up, or none left)
      const ep = this.endpoints.get(flag("endpoint-id"));
      const dep = flag("deployment");
      if (ep && (ep.traffic[dep] ?? 0) > 0) {
        const rest = Object.entries(ep.traffic).filter(([k, v]) => k !== dep && v > 0);
        const total = rest.reduce((n, [, v]) => n + v, 0);
        ep.traffic = Object.fromEntries(rest.map(([k, v]) => [k, Math.round((v * 100) / total)]));
        if (ep.serving === dep) ep.serving = undefined;
        this.check(`after the delete of the traffic step of ${dep}`);
      }
    }
    if (script === "ops/purge-workspace.ts") {
      const workspaceId = flag("workspace-id");
      for (const id of [...this.existing])
        if (id === workspaceId || id.startsWith(`${workspaceId}/`)) this.existing.delete(id);
      for (const id of [...this.jobs.keys()]) if (id.startsWith(`${workspaceId}/`)) this.jobs.delete(id);
      for (const id of [...this.endpoints.keys()])
        if (id.startsWith(`${workspaceId}/`)) this.endpoints.delete(id);
      for (const id of [...this.deployments.keys()])
        if (id.startsWith(`${workspaceId}/`)) this.deployments.delete(id);
      this.log.push(`purge ${workspaceId}`);
    }
  }
}
