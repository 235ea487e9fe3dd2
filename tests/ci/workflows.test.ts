/** Static checks of the GitHub workflows: permissions, triggers, pinning, OIDC, concurrency. */
import { readFileSync, readdirSync } from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { githubOidc } from "../../lib/cli/credential";

const dir = path.join(__dirname, "..", "..", ".github", "workflows");
type Job = {
  permissions?: unknown;
  steps?: { uses?: string; run?: string; with?: Record<string, unknown>; env?: Record<string, string> }[];
  if?: string;
  needs?: string | string[];
  environment?: unknown;
  env?: Record<string, string>;
};
type Workflow = {
  on: Record<string, unknown>;
  permissions?: unknown;
  concurrency?: { group: string; "cancel-in-progress": boolean };
  jobs: Record<string, Job>;
};
const load = (name: string) => parse(readFileSync(path.join(dir, name), "utf8")) as Workflow;
const files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f));
const preview = load("pr-preview.yml");
const deploy = load("deploy.yml");

const ALLOWED: Record<string, string> = { "id-token": "write", contents: "read", "pull-requests": "write" };

/** A job's effective permissions: its own block, else the workflow's (a missing block = broad defaults). */
function effective(wf: Workflow, job: Job): Record<string, string> {
  const perms = job.permissions ?? wf.permissions;
  if (perms === undefined)
    throw new Error("no permissions block: the token would get the repository defaults");
  if (typeof perms === "string") throw new Error(`permissions: ${perms} is broader than allowed`);
  return perms as Record<string, string>;
}

const stepUsing = (job: Job, action: string) => job.steps?.find((s) => s.uses?.split("@")[0] === action);

test("every workflow pins its actions by version tag", () => {
  expect(files.sort()).toEqual(["deploy.yml", "pr-preview.yml"]);
  for (const file of files) {
    for (const job of Object.values(load(file).jobs)) {
      for (const step of job.steps ?? []) {
        if (step.uses) expect(step.uses).toMatch(/^[\w.-]+\/[\w.-]+@v\d+(\.\d+){0,2}$/);
      }
    }
  }
});

describe("pull-request workflow", () => {
  test("runs on pull_request and tests before previewing", () => {
    expect(Object.keys(preview.on)).toEqual(["pull_request"]);
    expect(preview.jobs.test.steps?.some((s) => s.run === "npm test")).toBe(true);
    expect(preview.jobs.preview.needs).toBe("test");
  });

  test("requests id-token: write and pull-requests: write and nothing broader", () => {
    const p = effective(preview, preview.jobs.preview);
    expect(p["id-token"]).toBe("write");
    expect(p["pull-requests"]).toBe("write");
    for (const [name, job] of Object.entries(preview.jobs)) {
      for (const [scope, level] of Object.entries(effective(preview, job))) {
        expect({ job: name, scope, level }).toEqual({
          job: name,
          scope,
          level: ALLOWED[scope] ?? "(not allowed)",
        });
      }
    }
    // the workflow-level default grants no write at all
    expect(preview.permissions).toEqual({ contents: "read" });
    expect(effective(preview, preview.jobs.test)).toEqual({ contents: "read" });
  });

  test("pulumi/actions previews the dev stack, comments on the PR in place, with the policy pack", () => {
    const step = stepUsing(preview.jobs.preview, "pulumi/actions")!;
    expect(step.uses).toBe("pulumi/actions@v7");
    expect(step.with).toMatchObject({
      command: "preview",
      "comment-on-pr": true,
      "edit-pr-comment": true,
      policyPacks: "policy",
    });
    expect(String(step.with!["stack-name"])).toContain("'dev'");
    expect(String(step.with!["cloud-url"])).toBe("${{ vars.PULUMI_BACKEND_URL }}");
    const steps = preview.jobs.preview.steps!;
    const npmCi = steps.findIndex((s) => s.run?.startsWith("npm ci"));
    expect(npmCi).toBeGreaterThanOrEqual(0);
    expect(npmCi).toBeLessThan(steps.indexOf(step));
  });

  test("skips fork pull requests and logs in by OIDC with the preview identity", () => {
    expect(preview.jobs.preview.if).toContain(
      "github.event.pull_request.head.repo.full_name == github.repository",
    );
    const login = stepUsing(preview.jobs.preview, "azure/login")!;
    expect(login.with).toEqual({
      "client-id": "${{ vars.AZURE_PREVIEW_CLIENT_ID }}",
      "tenant-id": "${{ vars.AZURE_TENANT_ID }}",
      "subscription-id": "${{ vars.AZURE_SUBSCRIPTION_ID }}",
    });
    expect(preview.jobs.preview.env?.ARM_USE_OIDC).toBe("true");
    expect(preview.jobs.preview.env?.ARM_CLIENT_ID).toBe("${{ vars.AZURE_PREVIEW_CLIENT_ID }}");
    // a preview job must not run in an environment: that would change its OIDC subject
    expect(preview.jobs.preview.environment).toBeUndefined();
  });
});

describe("deploy workflow", () => {
  test("manual dispatch and push to main, behind an environment, never overlapping", () => {
    expect(Object.keys(deploy.on).sort()).toEqual(["push", "workflow_dispatch"]);
    expect(deploy.on.push).toEqual({ branches: ["main"] });
    expect(deploy.jobs.deploy.environment).toBeDefined();
    expect(deploy.concurrency?.["cancel-in-progress"]).toBe(false);
    expect(deploy.concurrency?.group).toContain("dev");
  });

  test("pulumi up with the deploy identity, OIDC, no client secret", () => {
    const job = deploy.jobs.deploy;
    expect(stepUsing(job, "pulumi/actions")?.with).toMatchObject({ command: "up" });
    expect(stepUsing(job, "azure/login")?.with?.["client-id"]).toBe("${{ vars.AZURE_DEPLOY_CLIENT_ID }}");
    expect(effective(deploy, job)).toEqual({ "id-token": "write", contents: "read" });
    for (const file of files) {
      const text = readFileSync(path.join(dir, file), "utf8");
      expect(text).not.toMatch(/client-secret|ARM_CLIENT_SECRET|AZURE_CREDENTIALS/);
    }
  });
});

describe.each([
  ["pr-preview.yml", "preview"],
  ["deploy.yml", "deploy"],
])("%s: the ops CLIs re-mint their tokens from GitHub OIDC", (file, name) => {
  const wf = load(file);
  const job = wf.jobs[name];
  const login = stepUsing(job, "azure/login")!.with!;
  const pulumi = stepUsing(job, "pulumi/actions")!;
  // what the runner adds to every step of a job with id-token: write
  const runner = {
    ACTIONS_ID_TOKEN_REQUEST_URL: "https://pipelines.actions.githubusercontent.com/x/idtoken?api-version=2.0",
    ACTIONS_ID_TOKEN_REQUEST_TOKEN: "runner-request-token",
  };

  test("the pulumi step's environment selects the client-assertion credential with the login's identity", () => {
    expect(effective(wf, job)["id-token"]).toBe("write");
    expect(githubOidc({ ...job.env, ...pulumi.env, ...runner })).toMatchObject({
      clientId: login["client-id"],
      tenantId: login["tenant-id"],
    });
  });

  test("nothing overrides that choice (AZURE_TOKEN_CREDENTIALS) or feeds AZURE_CLIENT_ID to Pulumi's own chains", () => {
    for (const env of [wf as { env?: Record<string, string> }, job, pulumi].map((x) => x.env ?? {})) {
      expect(Object.keys(env)).not.toContain("AZURE_TOKEN_CREDENTIALS");
      expect(Object.keys(env)).not.toContain("AZURE_CLIENT_ID");
      expect(Object.keys(env)).not.toContain("ACTIONS_ID_TOKEN_REQUEST_TOKEN");
    }
  });
});
