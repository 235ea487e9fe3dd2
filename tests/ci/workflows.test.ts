/**
 * Checks of the GitHub workflows: permissions, triggers, SHA pinning, OIDC, concurrency, where secrets go, the deploy
 * branch guard and the preview's config step (both executed with bash).
 */
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { parse } from "yaml";
import { githubOidc } from "../../lib/azure/credential";

const dir = path.join(__dirname, "..", "..", ".github", "workflows");
type Job = {
  permissions?: unknown;
  steps?: {
    name?: string;
    if?: string;
    uses?: string;
    run?: string;
    with?: Record<string, unknown>;
    env?: Record<string, string>;
  }[];
  if?: string;
  needs?: string | string[];
  environment?: unknown;
  env?: Record<string, string>;
  outputs?: Record<string, string>;
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

test("every workflow pins its actions by full commit SHA, the release tag kept as a comment", () => {
  expect(files.sort()).toEqual(["deploy.yml", "pr-preview.yml"]);
  for (const file of files) {
    for (const job of Object.values(load(file).jobs)) {
      for (const step of job.steps ?? []) {
        // a tag can be moved to other code; a commit cannot (GitHub docs, "Security hardening for GitHub Actions":
        // pinning to a full-length commit SHA is the only immutable reference)
        if (step.uses) expect(step.uses).toMatch(/^[\w.-]+\/[\w.-]+@[0-9a-f]{40}$/);
      }
    }
    const usesLines = readFileSync(path.join(dir, file), "utf8")
      .split("\n")
      .filter((l) => /^\s*(- )?uses:/.test(l));
    expect(usesLines.length).toBeGreaterThan(0);
    for (const line of usesLines) expect(line).toMatch(/@[0-9a-f]{40} # v\d+\.\d+\.\d+$/);
  }
});

test("no checkout leaves its token in the git config (persist-credentials: false)", () => {
  for (const file of files) {
    for (const job of Object.values(load(file).jobs)) {
      for (const step of (job.steps ?? []).filter((s) => s.uses?.startsWith("actions/checkout@"))) {
        expect(step.with?.["persist-credentials"]).toBe(false);
      }
    }
  }
});

describe("pull-request workflow", () => {
  test("runs on pull_request and runs every test (both tiers) before previewing", () => {
    expect(Object.keys(preview.on)).toEqual(["pull_request"]);
    expect(preview.jobs.test.steps?.some((s) => s.run === "npm run test:full")).toBe(true);
    expect(deploy.jobs.test.steps?.some((s) => s.run === "npm run test:full")).toBe(true);
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

  test("pulumi/actions previews the previews' own stack, comments on the PR in place, with the policy pack", () => {
    const step = stepUsing(preview.jobs.preview, "pulumi/actions")!;
    expect(step.with).toMatchObject({
      command: "preview",
      "comment-on-pr": true,
      "edit-pr-comment": true,
      upsert: true,
    });
    expect(String(step.with!["stack-name"])).toBe("${{ vars.PULUMI_PREVIEW_STACK_NAME || 'pr' }}");
    expect(String(step.with!["cloud-url"])).toBe("${{ vars.PULUMI_PREVIEW_BACKEND_URL }}");
    const steps = preview.jobs.preview.steps!;
    const npmCi = steps.findIndex((s) => s.run?.startsWith("npm ci"));
    expect(npmCi).toBeGreaterThanOrEqual(0);
    expect(npmCi).toBeLessThan(steps.indexOf(step));
  });

  test("nothing in the preview decrypts production: no production state, token, passphrase or key vault", () => {
    const text = readFileSync(path.join(dir, "pr-preview.yml"), "utf8");
    for (const production of [
      "secrets.PULUMI_ACCESS_TOKEN",
      "secrets.PULUMI_CONFIG_PASSPHRASE",
      "vars.PULUMI_BACKEND_URL",
      "AZURE_KEYVAULT_AUTH_VIA_CLI",
    ])
      expect(text).not.toContain(production);
    const step = stepUsing(preview.jobs.preview, "pulumi/actions")!;
    expect(step.env).toEqual({
      PULUMI_ACCESS_TOKEN: "${{ secrets.PULUMI_PREVIEW_ACCESS_TOKEN }}",
      PULUMI_CONFIG_PASSPHRASE: "${{ secrets.PULUMI_PREVIEW_CONFIG_PASSPHRASE }}",
    });
    // and no secret at all where `npm ci` (the pull request's install scripts) runs
    expect(JSON.stringify(preview.jobs.preview.env)).not.toContain("secrets.");
  });

  test("the policy pack comes from the base branch, checked out beside the pull request", () => {
    const steps = preview.jobs.preview.steps!;
    const base = steps.find((s) => s.with?.path === ".policy-base")!;
    expect(base.uses).toMatch(/^actions\/checkout@/);
    expect(base.with).toMatchObject({
      ref: "${{ github.event.pull_request.base.sha }}",
      "sparse-checkout": "policy",
      "persist-credentials": false,
    });
    const pulumi = stepUsing(preview.jobs.preview, "pulumi/actions")!;
    expect(pulumi.with!.policyPacks).toBe(".policy-base/policy");
    // after the pull request's own checkout (which would clean it away), before the preview
    const firstCheckout = steps.findIndex((s) => s.uses?.startsWith("actions/checkout@"));
    expect(firstCheckout).toBeLessThan(steps.indexOf(base));
    expect(steps.indexOf(base)).toBeLessThan(steps.indexOf(pulumi));
  });

  describe("the preview stack's config step", () => {
    const step = preview.jobs.preview.steps!.find((s) => s.run?.includes("PREVIEW_STACK"))!;
    let work = "";
    beforeEach(() => {
      work = mkdtempSync(path.join(tmpdir(), "preview-config-"));
    });
    afterEach(() => rmSync(work, { recursive: true, force: true }));
    const run = (env: Record<string, string>) =>
      spawnSync("bash", ["-c", step.run!], {
        cwd: work,
        env: { PATH: process.env.PATH, ...env },
        encoding: "utf8",
      });

    test("copies production's settings, never its secrets provider, keeps the preview stack's own", () => {
      writeFileSync(
        path.join(work, "Pulumi.dev.yaml"),
        "encryptionsalt: v1:PRODUCTION-SALT\nsecretsprovider: azurekeyvault://prod-vault/keys/pulumi\nconfig:\n  azure-native:location: westeurope\n",
      );
      expect(run({ PRODUCTION_STACK: "org/azure-ml-mnist/dev", PREVIEW_STACK: "pr" }).status).toBe(0);
      const first = readFileSync(path.join(work, "Pulumi.pr.yaml"), "utf8");
      expect(first).toBe("config:\n  azure-native:location: westeurope\n");
      writeFileSync(path.join(work, "Pulumi.pr.yaml"), "encryptionsalt: v1:PREVIEW-SALT\nconfig: {}\n");
      expect(run({ PRODUCTION_STACK: "dev", PREVIEW_STACK: "pr" }).status).toBe(0);
      expect(readFileSync(path.join(work, "Pulumi.pr.yaml"), "utf8")).toBe(
        "encryptionsalt: v1:PREVIEW-SALT\nconfig:\n  azure-native:location: westeurope\n",
      );
    });

    test("refuses to treat the production stack as the preview stack", () => {
      writeFileSync(path.join(work, "Pulumi.dev.yaml"), "config: {}\n");
      const r = run({ PRODUCTION_STACK: "dev", PREVIEW_STACK: "org/other/dev" });
      expect(r.status).toBe(1);
      expect(r.stdout).toContain("must name a stack other than the production one");
    });
  });

  describe("the pre-flight's cost lines", () => {
    const steps = preview.jobs.preview.steps!;
    const pulumi = stepUsing(preview.jobs.preview, "pulumi/actions")!;
    const toSummary = steps.find((s) => s.name === "Cost lines into the run summary")!;
    const toComment = steps.find((s) => s.name === "Cost lines into the preview comment")!;
    const HEADING = "#### :tropical_drink: `preview` on azure-ml-mnist/pr";
    const PULUMI_BODY = `${HEADING}\n\n<details>\n<summary>Pulumi report</summary>\n<pre>\n+ 3 to create\n</pre>\n</details>`;
    const COST =
      "#### Cost before anything runs: stack pr in westeurope (pre-flight)\n\n- **endpoint**: 0.15 USD/h\n";
    let work = "";
    beforeEach(() => {
      work = mkdtempSync(path.join(tmpdir(), "preview-cost-"));
      // a `gh` that answers from comments.json and keeps what a PATCH would send (`-F body=@file`)
      writeFileSync(
        path.join(work, "gh"),
        [
          "#!/usr/bin/env bash",
          'echo "$*" >> "$WORK/calls"',
          'if [ "$2" = "--paginate" ]; then cat "$WORK/comments.json"; exit 0; fi',
          'if [ "$2" = "-X" ]; then cp "${6#body=@}" "$WORK/patched.md"; echo "{}"; exit 0; fi',
          'id="${2##*/}"; jq -r --argjson id "$id" \'.[] | select(.id == $id) | .body\' "$WORK/comments.json"',
        ].join("\n"),
      );
      chmodSync(path.join(work, "gh"), 0o755);
    });
    afterEach(() => rmSync(work, { recursive: true, force: true }));
    const run = (comments: { id: number; body: string }[], summary: string | null) => {
      writeFileSync(path.join(work, "comments.json"), JSON.stringify(comments));
      const file = path.join(work, "cost.md");
      if (summary !== null) writeFileSync(file, summary);
      return spawnSync("bash", ["-c", toComment.run!], {
        cwd: work,
        env: {
          PATH: `${work}:${process.env.PATH}`,
          WORK: work,
          RUNNER_TEMP: work,
          GITHUB_REPOSITORY: "octo/azure-ml-mnist",
          PR_NUMBER: "7",
          PREVIEW_STACK: "pr",
          PREFLIGHT_COST_SUMMARY: file,
        },
        encoding: "utf8",
      });
    };
    const patched = () => readFileSync(path.join(work, "patched.md"), "utf8");

    test("the pre-flight's summary file is named in the job's env; the steps come after the preview, token scoped", () => {
      expect(preview.jobs.preview.env?.PREFLIGHT_COST_SUMMARY).toBe(
        "${{ github.workspace }}/.preflight-cost.md",
      );
      expect(steps.indexOf(pulumi)).toBeLessThan(steps.indexOf(toSummary));
      expect(steps.indexOf(toSummary)).toBeLessThan(steps.indexOf(toComment));
      // the run summary even when the preview failed (a maxHourlyCost refusal); the comment only with a fresh diff
      expect(toSummary.if).toBe("${{ !cancelled() }}");
      expect(toComment.if).toBeUndefined();
      expect(toComment.uses).toBeUndefined();
      expect(toComment.env).toEqual({
        GH_TOKEN: "${{ github.token }}",
        PR_NUMBER: "${{ github.event.pull_request.number }}",
      });
    });

    test("appends the cost lines under pulumi's diff in its own comment, and only there", () => {
      const other = {
        id: 11,
        body: "#### :tropical_drink: `preview` on azure-ml-mnist/staging\n<summary>Pulumi report</summary>",
      };
      const r = run([{ id: 10, body: "LGTM" }, other, { id: 12, body: PULUMI_BODY }], COST);
      expect(r.status).toBe(0);
      expect(patched()).toBe(`${PULUMI_BODY}\n\n<!-- preflight-cost -->\n${COST}`);
      expect(readFileSync(path.join(work, "calls"), "utf8")).toContain(
        "api -X PATCH repos/octo/azure-ml-mnist/issues/comments/12 -F",
      );
    });

    test("a re-run replaces its earlier cost section instead of adding a second", () => {
      const earlier = `${PULUMI_BODY}\n\n<!-- preflight-cost -->\n#### Cost before anything runs: old figures\n`;
      expect(run([{ id: 12, body: earlier }], COST).status).toBe(0);
      expect(patched()).toBe(`${PULUMI_BODY}\n\n<!-- preflight-cost -->\n${COST}`);
      expect(patched()).not.toContain("old figures");
    });

    test("no summary (pre-flight off) or no pulumi comment: nothing is edited, the job goes on", () => {
      const none = run([{ id: 12, body: PULUMI_BODY }], null);
      expect(none.status).toBe(0);
      expect(none.stdout).toContain("no cost lines from the pre-flight");
      expect(existsSync(path.join(work, "calls"))).toBe(false);
      const missing = run([{ id: 10, body: "LGTM" }], COST);
      expect(missing.status).toBe(0);
      expect(missing.stdout).toContain("::warning::no pulumi preview comment for stack pr");
      expect(existsSync(path.join(work, "patched.md"))).toBe(false);
    });
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
  const guard = deploy.jobs.deploy.steps![0];
  const runGuard = (ref: string) =>
    spawnSync("bash", ["-c", guard.run!], {
      env: { PATH: process.env.PATH, GITHUB_REF: ref },
      encoding: "utf8",
    });

  test("its first step fails unless the run is on refs/heads/main (a manual run can pick any branch)", () => {
    expect(guard.name).toBe("Deploy from main only");
    expect(runGuard("refs/heads/main").status).toBe(0);
    for (const ref of ["refs/heads/feature", "refs/heads/main-2", "refs/tags/v1", "refs/pull/1/merge"]) {
      const r = runGuard(ref);
      expect({ ref, status: r.status }).toEqual({ ref, status: 1 });
      expect(r.stdout).toContain(`not ${ref}`);
    }
  });

  test("production secrets: the pulumi step's only, never the job's (npm ci and its install scripts)", () => {
    const job = deploy.jobs.deploy;
    expect(JSON.stringify(job.env)).not.toContain("secrets.");
    for (const step of job.steps!) {
      if (step.uses?.startsWith("pulumi/actions@")) continue;
      expect(JSON.stringify(step)).not.toContain("secrets.");
    }
    expect(stepUsing(job, "pulumi/actions")!.env).toEqual({
      PULUMI_ACCESS_TOKEN: "${{ secrets.PULUMI_ACCESS_TOKEN }}",
      PULUMI_CONFIG_PASSPHRASE: "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}",
    });
  });

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

describe("deploy workflow: prod from the registry, after dev, behind production's approval", () => {
  const job = deploy.jobs["deploy-prod"];
  const promoted = job.steps!.find((s) => s.name === "The version dev promoted")!;
  const runPromoted = (id: string) => {
    const work = mkdtempSync(path.join(tmpdir(), "promoted-"));
    const out = path.join(work, "out");
    writeFileSync(out, "");
    const r = spawnSync("bash", ["-c", promoted.run!], {
      env: { PATH: process.env.PATH, REGISTRY_MODEL_ID: id, GITHUB_OUTPUT: out },
      encoding: "utf8",
    });
    const written = readFileSync(out, "utf8");
    rmSync(work, { recursive: true, force: true });
    return { status: r.status, stdout: r.stdout, written };
  };

  test("runs after dev, in the production environment, only when a prod stack is named", () => {
    expect(job.needs).toBe("deploy");
    expect(job.environment).toBe("production");
    expect(job.if).toContain("vars.PROD_STACK_NAME != ''");
    expect(job.steps![0].name).toBe("Deploy from main only");
    expect(job.steps![0].run).toBe(deploy.jobs.deploy.steps![0].run);
    expect(effective(deploy, job)).toEqual({ "id-token": "write", contents: "read" });
    // dev hands over the registry id it promoted; the dev job runs in its own environment when one is set
    expect(deploy.jobs.deploy.outputs?.registryModelId).toBe("${{ steps.up.outputs.registryModelId }}");
    expect(String(deploy.jobs.deploy.environment)).toContain("vars.DEV_ENVIRONMENT");
  });

  test("the version comes through env and must be a registry model id; only its version goes on", () => {
    expect(promoted.env).toEqual({ REGISTRY_MODEL_ID: "${{ needs.deploy.outputs.registryModelId }}" });
    expect(promoted.run).not.toContain("${{");
    const ok = runPromoted("azureml://registries/mnist-models/models/mnist-cnn/versions/0123456789ab");
    expect(ok).toMatchObject({ status: 0, written: "version=0123456789ab\n" });
    for (const bad of ["", "0123456789ab", "azureml://registries/r/models/m/versions/1;touch x", "$(id)"]) {
      const r = runPromoted(bad);
      expect({ bad, status: r.status, written: r.written }).toEqual({ bad, status: 1, written: "" });
    }
  });

  test("pulumi up of the prod stack with exactly that version, the policy pack, secrets on that step only", () => {
    const up = stepUsing(job, "pulumi/actions")!;
    expect(up.with).toMatchObject({
      command: "up",
      "stack-name": "${{ vars.PROD_STACK_NAME }}",
      policyPacks: "policy",
    });
    const configMap = JSON.parse(
      String(up.with!["config-map"]).replace("${{ steps.promoted.outputs.version }}", "V"),
    );
    expect(configMap).toEqual({ "azure-ml-mnist:registryModelVersion": { value: "V", secret: false } });
    for (const step of job.steps!) {
      if (step === up) continue;
      expect(JSON.stringify(step)).not.toContain("secrets.");
    }
    expect(JSON.stringify(job.env)).not.toContain("secrets.");
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
