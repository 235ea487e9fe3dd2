// The pre-flight as the program runs it: ops/preflight.ts (reads only) before anything is declared in Azure, in
// preview too. The workspace's resources wait for `done`. It starts at once: the deployment's name it needs is a pure
// function of the config and the files (program.ts planStack), known before any component exists. Its cost lines go to Pulumi's log (so they show in
// `pulumi preview`), and as markdown to the file PREFLIGHT_COST_SUMMARY names (the pull-request workflow's comment).
import * as pulumi from "@pulumi/pulumi";
import * as authorization from "@pulumi/azure-native/authorization";
import type { StackConfig } from "../config/stack";
import type { PreflightResult } from "../core/contracts";
import { resourceGroupName } from "../core/naming";
import { type PreflightStack, preflightArgs, servingNeed } from "../core/preflightRules";
import { runCliStep } from "./steps";

/** The environment variable naming the file the pre-flight writes its cost lines to, as markdown. */
export const COST_SUMMARY_ENV = "PREFLIGHT_COST_SUMMARY";

/**
 * What the pre-flight is told of the stack: quota needs, what the cost estimate prices, the cost limit; whether it
 * trains at all (a stack with modelSource registry has no GPU cluster and no training run to check or price).
 */
export function preflightStack(
  cfg: StackConfig,
  subscriptionId: string,
  deploymentName: string,
  env: Record<string, string | undefined> = process.env,
): PreflightStack {
  const { sweep } = cfg.training;
  return {
    subscriptionId,
    location: cfg.location,
    // modelSource registry declares no GPU cluster and no job: the pre-flight is told --no-training
    trains: cfg.registry.modelSource === "train",
    gpu: cfg.gpu,
    serving: {
      ...servingNeed(cfg.serving),
      ...(cfg.serving.autoscale ? { minInstances: cfg.serving.autoscale.minInstances } : {}),
    },
    training: {
      nodes: cfg.training.nodes,
      timeoutMinutes: cfg.training.timeoutMinutes,
      ...(sweep ? { sweep: { trials: sweep.trials, concurrency: sweep.concurrency } } : {}),
    },
    resourceGroupName: cfg.workspace.resourceGroupName ?? resourceGroupName(cfg.project, cfg.stack),
    stack: cfg.stack,
    deploymentName,
    ...(cfg.preflight.maxHourlyCost !== undefined ? { maxHourlyCost: cfg.preflight.maxHourlyCost } : {}),
    ...(env[COST_SUMMARY_ENV] ? { costSummaryFile: env[COST_SUMMARY_ENV] } : {}),
  };
}

/**
 * Runs the pre-flight for the stack whose deployment will be `deploymentName`; settles once the check passed (or is
 * off), rejects with the CLI's message when the stack does not fit.
 */
export async function preflightGate(
  cfg: StackConfig,
  deploymentName: string,
): Promise<PreflightResult | undefined> {
  if (!cfg.preflight.checks) return undefined;
  const client = await authorization.getClientConfig();
  const result = await runCliStep<PreflightResult>(
    "ops/preflight.ts",
    preflightArgs(preflightStack(cfg, client.subscriptionId, deploymentName)),
  );
  for (const line of result.cost?.lines ?? []) void pulumi.log.info(`cost: ${line}`);
  return result;
}
