import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import type { WorkspaceRef } from "./mlWorkspace";
import type { ModelRef } from "./registeredModel";
import type { PromotionResult } from "../lib/core/contracts";
import { childName } from "../lib/program/children";
import { parseJsonLine, stepCommand } from "../lib/program/steps";

export interface ModelPromotionArgs {
  readonly workspace: WorkspaceRef;
  /** The workspace model version that passed every gate of this stack (accuracy, smoke test, sample call). */
  readonly model: ModelRef;
  /** The Azure ML registry's ARM id (declared once, by the bootstrap project). */
  readonly registryId: string;
  /** The challenger's test accuracy must be at least the champion's plus this (negative: allow a small drop). */
  readonly minGain: number;
  /** What must have passed before anything is promoted: the live deployment's sample call. */
  readonly after: pulumi.Resource[];
}

/**
 * Promotes the model version this stack trained and gated into the registry, where the prod stack deploys it from:
 * ops/promote-model.ts compares it with the registry's champion (the version prod serves) on the same held-out
 * digits (MNIST's test set, the `testAccuracy` tag of each version), refuses a worse challenger with both scores,
 * copies the files into the registry and names the new champion. A step, not an azure-native RegistryModelVersion:
 * the ARM route from a workspace model to a registry is startPendingUpload + upload + PUT (the SDK's `share` is a
 * data-plane import ARM 2025-12-01 does not have), and a registry never takes back a deleted version
 * (Azure/azureml-assets#2919), so nothing here may ever delete one: the step has no delete.
 */
export class ModelPromotion extends pulumi.ComponentResource {
  readonly step: command.local.Command;
  readonly result: pulumi.Output<PromotionResult>;
  /** `azureml://registries/R/models/NAME/versions/V`: what the prod stack's config `registryModelVersion` names. */
  readonly registryModelId: pulumi.Output<string>;

  constructor(name: string, args: ModelPromotionArgs, opts?: pulumi.ComponentResourceOptions) {
    super("azure-ml-mnist:index:ModelPromotion", name, {}, opts);
    this.step = new command.local.Command(
      childName(name, "promote"),
      {
        create: stepCommand("ops/promote-model.ts", [
          ...["--model-id", args.model.modelId, "--registry-id", args.registryId],
          ...["--min-gain", String(args.minGain)],
        ]),
        logging: "stderr",
        // A new model version, registry or margin is a new promotion; the registry keeps every earlier one.
        triggers: [args.model.modelId, args.registryId, String(args.minGain)],
      },
      args.workspace.childOptions(this, {
        dependsOn: [...args.after, ...(args.model.ready ? [args.model.ready] : [])],
      }),
    );
    this.result = this.step.stdout.apply((out) =>
      parseJsonLine<PromotionResult>(out, "ops/promote-model.ts"),
    );
    this.registryModelId = this.result.apply((r) => r.registryModelId);
    this.registerOutputs({ registryModelId: this.registryModelId });
  }
}
