// The pre-flight as the program runs it: ops/preflight.ts (reads only) before anything is declared in Azure, in
// preview too. The workspace's resources wait for `done`; the check needs the deployment's name, which is known once
// the graph is built, so `start` is called at the end of index.ts.
import * as authorization from "@pulumi/azure-native/authorization";
import type { StackConfig } from "../config/stack";
import type { PreflightResult } from "../core/contracts";
import { resourceGroupName } from "../core/naming";
import { preflightArgs, servingNeed } from "../core/preflightRules";
import { runCliStep } from "./steps";

export interface PreflightGate {
  /** Settles once the check passed (or is off); rejects with the CLI's message when the stack does not fit. */
  readonly done: Promise<PreflightResult | undefined>;
  start(deploymentName: string): void;
}

export function preflightGate(cfg: StackConfig): PreflightGate {
  let start: (deploymentName: string) => void = () => undefined;
  const done = new Promise<PreflightResult | undefined>((resolve, reject) => {
    start = (deploymentName) => {
      if (!cfg.preflight.checks) return resolve(undefined);
      authorization
        .getClientConfig()
        .then((client) =>
          runCliStep<PreflightResult>(
            "ops/preflight.ts",
            preflightArgs({
              subscriptionId: client.subscriptionId,
              location: cfg.location,
              gpu: cfg.gpu,
              serving: servingNeed(cfg.serving),
              resourceGroupName: cfg.workspace.resourceGroupName ?? resourceGroupName(cfg.project, cfg.stack),
              stack: cfg.stack,
              deploymentName,
            }),
          ),
        )
        .then(resolve, reject);
    };
  });
  return { done, start: (name) => start(name) };
}
