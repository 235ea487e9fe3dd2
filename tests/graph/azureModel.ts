// A model of the subscription behind the mocks, kept across a sequence of `pulumi up`/`destroy` runs, so graph tests
// see what a real stack meets: names Azure already holds. It follows azure-native and Azure ML as they behave:
//   - azure-native names a resource from its name input; without one, a top-level resource gets its logical name
//     plus a random suffix and a child resource (anything under workspaces/{ws}/…) an exact copy of the logical
//     name (provider source, resources.go AutoName);
//   - azure-native refuses to create a resource whose ARM id already exists: any such create is recorded as a
//     violation;
//   - Pulumi state: a resource whose key (type + logical name) and id are unchanged is updated, not created; one
//     no longer declared (or replaced) is deleted unless it was retainOnDelete; a soft-deleted workspace or key
//     vault keeps its name; a Command re-runs `create` only when its inputs changed, and runs `delete` when it is
//     removed or its triggers change;
//   - the CLIs the steps run behave as specified and tested against the fake ARM (tests/ops): ensure-code/-environment
//     reuse an existing version and otherwise register it (uploading files for code), submit-job reuses a Completed
//     job of the same run hash and otherwise submits one under a fresh name, retire-deployments deletes the
//     endpoint's other deployments, delete-compute and purge-workspace remove what they name.
import { createHash } from "crypto";

interface StateEntry {
  type: string;
  id: string;
  inputs: string;
  triggers: string;
  retainOnDelete: boolean;
  deleteCommand?: string;
  stdout?: string;
}

const SOFT_DELETED = new Set([
  "azure-native:machinelearningservices:Workspace",
  "azure-native:keyvault:Vault",
]);

export class SubscriptionModel {
  /** ARM ids that exist (soft-deleted ones too: their names stay taken). */
  readonly existing = new Set<string>();
  /** Training jobs by id: run hash and status. */
  readonly jobs = new Map<string, { runHash: string; status: string; jobType: string }>();
  readonly violations: string[] = [];
  readonly log: string[] = [];
  submissions = 0;
  uploads = 0;
  registrations = 0;
  private prev = new Map<string, StateEntry>();
  private current = new Map<string, StateEntry>();
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
  autoName(logical: string, child: boolean): string {
    return child ? logical : `${logical}-${this.fresh(logical)}`;
  }

  /** A custom (non-Command) resource registered in this run. */
  resource(type: string, name: string, id: string, inputs: unknown): void {
    const key = `${type}::${name}`;
    const old = this.prev.get(key);
    if (!old || old.id !== id) {
      if (this.existing.has(id)) this.violations.push(`create of ${key} meets an existing ${id}`);
      this.existing.add(id);
      this.log.push(`create ${id}`);
    }
    this.current.set(key, { type, id, inputs: JSON.stringify(inputs), triggers: "", retainOnDelete: false });
  }

  /** A Command registered in this run: its stdout, from state when unchanged, else from running `create`. */
  command(
    name: string,
    inputs: Record<string, unknown>,
    run: (create: string, inputs: Record<string, unknown>) => string,
  ): string {
    const key = `command:local:Command::${name}`;
    const old = this.prev.get(key);
    const text = JSON.stringify({ ...inputs, stdout: undefined, stderr: undefined });
    const triggers = JSON.stringify(inputs.triggers ?? null);
    const stdout =
      old && old.inputs === text && old.stdout !== undefined
        ? old.stdout
        : run(String(inputs.create), inputs);
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

  /** What the ops CLIs do when a step runs them; undefined when the step runs some other command. */
  runCli(create: string, inputs: Record<string, unknown> = {}): string | undefined {
    const arg = (flag: string) => new RegExp(`--${flag} (\\S+)`).exec(create)?.[1] ?? "";
    if (create.includes("ops/ensure-code.ts") || create.includes("ops/ensure-environment.ts")) {
      const kind = create.includes("ensure-code") ? "codes" : "environments";
      const id = `${arg("workspace-id")}/${kind}/${arg("name")}/versions/${arg("version")}`;
      const reused = this.existing.has(id);
      if (!reused) {
        this.existing.add(id);
        this.registrations += 1;
        if (kind === "codes") this.uploads += 1;
        this.log.push(`register ${id}`);
      }
      return JSON.stringify({ id, name: arg("name"), version: arg("version"), reused });
    }
    if (create.includes("ops/retire-deployments.ts")) {
      const endpoint = arg("endpoint-id");
      const keep = `${endpoint}/deployments/${arg("keep")}`;
      const retired = [...this.existing].filter(
        (id) => id.startsWith(`${endpoint}/deployments/`) && id !== keep,
      );
      for (const id of retired) {
        this.existing.delete(id);
        this.log.push(`delete ${id}`);
      }
      return JSON.stringify({
        endpoint,
        kept: arg("keep"),
        deleted: retired.map((id) => id.split("/").pop()),
        skipped: [],
      });
    }
    if (create.includes("ops/wait-for-job.ts")) {
      // A sweep's wait names its best trial, whose output becomes the model.
      const jobId = arg("job-id");
      const job = this.jobs.get(jobId);
      if (job?.jobType !== "Sweep") return undefined;
      const jobName = jobId.split("/").pop()!;
      return JSON.stringify({
        jobName,
        status: "Completed",
        testAccuracy: 0.9931,
        bestTrial: `${jobName}_3`,
        trials: [1, 2, 3].map((i) => ({
          name: `${jobName}_${i}`,
          status: "Completed",
          metric: 0.98 + i / 1000,
        })),
      });
    }
    if (create.includes("ops/submit-job.ts")) {
      const ws = arg("workspace-id");
      const runHash = arg("run-hash");
      const done = [...this.jobs].find(
        ([id, j]) => id.startsWith(`${ws}/jobs/`) && j.runHash === runHash && j.status === "Completed",
      );
      if (done)
        return JSON.stringify({
          jobName: done[0].split("/").pop(),
          jobId: done[0],
          status: "Completed",
          reused: true,
        });
      const jobName = `${arg("name-prefix")}-${runHash}-${this.fresh(runHash)}`;
      const jobId = `${ws}/jobs/${jobName}`;
      if (this.existing.has(jobId)) this.violations.push(`submit meets an existing job ${jobId}`);
      this.existing.add(jobId);
      // The mocks' wait step always finds it Completed.
      const spec = (inputs.environment as { JOB_SPEC?: string } | undefined)?.JOB_SPEC;
      const jobType = spec ? String((JSON.parse(spec) as { jobType?: string }).jobType) : "Command";
      this.jobs.set(jobId, { runHash, status: "Completed", jobType });
      this.submissions += 1;
      this.log.push(`submit ${jobId}`);
      return JSON.stringify({ jobName, jobId, status: "Queued", reused: false });
    }
    return undefined;
  }

  /** After the program registered everything: options the mocks cannot see, then deletes of what went away. */
  endRun(options: Map<string, { retainOnDelete: boolean }>): void {
    for (const [key, entry] of this.current) entry.retainOnDelete = options.get(key)?.retainOnDelete ?? false;
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
  }

  /** `pulumi destroy`: commands' deletes first (they depend on the rest), then every resource. */
  destroy(): void {
    const all = [...this.prev.values()];
    for (const e of all.filter((x) => x.type === "command:local:Command")) this.runDelete(e.deleteCommand);
    for (const e of all.filter((x) => x.type !== "command:local:Command")) this.remove(e);
    this.prev = new Map();
  }

  private remove(entry: StateEntry): void {
    if (entry.type === "random" || entry.retainOnDelete || SOFT_DELETED.has(entry.type)) return;
    this.existing.delete(entry.id);
    this.log.push(`delete ${entry.id}`);
  }

  private runDelete(cmd: string | undefined): void {
    if (!cmd) return;
    const computeId = /ops\/delete-compute\.ts --compute-id (\S+)/.exec(cmd)?.[1];
    if (computeId) {
      this.existing.delete(computeId);
      this.log.push(`delete ${computeId}`);
    }
    const workspaceId = /ops\/purge-workspace\.ts --workspace-id (\S+)/.exec(cmd)?.[1];
    if (workspaceId) {
      for (const id of [...this.existing])
        if (id === workspaceId || id.startsWith(`${workspaceId}/`)) this.existing.delete(id);
      for (const id of [...this.jobs.keys()]) if (id.startsWith(`${workspaceId}/`)) this.jobs.delete(id);
      this.log.push(`purge ${workspaceId}`);
    }
  }
}
