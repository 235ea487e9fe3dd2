import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import * as ml from "@pulumi/azure-native/machinelearningservices";
import { MlWorkspace } from "./mlWorkspace";
import type { GpuSettings } from "../lib/config/schema";
import { computeName } from "../lib/naming";
import { childName, legacyAliases } from "../lib/children";
import { isoSeconds, stepCommand } from "../lib/steps";

export interface GpuComputeArgs extends GpuSettings {
  /** The workspace the cluster belongs to (its location, tags, name suffix and destroy order). */
  readonly workspace: MlWorkspace;
}

/**
 * An AmlCompute GPU cluster that scales from zero: it costs nothing while no job runs.
 *
 * Removal is explicit: the 2025-12-01 Compute_Delete takes `underlyingResourceAction=Delete|Detach` and azure-native's
 * generic delete sends none (terraform azurerm had to switch to Delete; a cluster re-created under the same name
 * kept its old VM size). So Pulumi never deletes the cluster itself (retainOnDelete) and a removal step, deleted
 * first, runs ops/delete-compute.ts with `underlyingResourceAction=Delete` and waits until it is gone.
 */
export class GpuCompute extends pulumi.ComponentResource {
  readonly cluster: ml.Compute;
  /** Its delete removes the cluster (and its VMs) for good. */
  readonly removal: command.local.Command;
  /** The cluster's ARM id (what a job's `computeId` names). */
  readonly computeId: pulumi.Output<string>;
  readonly computeName: pulumi.Output<string>;
  readonly vmSize: string;
  readonly maxNodes: number;
  readonly lowPriority: boolean;

  constructor(name: string, args: GpuComputeArgs, opts?: pulumi.ComponentResourceOptions) {
    super("azure-ml-mnist:index:GpuCompute", name, {}, opts);
    const ws = args.workspace;
    this.vmSize = args.vmSize;
    this.maxNodes = args.maxNodes;
    this.lowPriority = args.lowPriority;

    this.cluster = new ml.Compute(
      childName(name, "cluster"),
      {
        resourceGroupName: ws.resourceGroupName,
        workspaceName: ws.workspaceName,
        location: ws.location,
        // VM size and priority are immutable: they are part of the name, so changing them makes a new cluster.
        // A second cluster of the same size adds its own name, so the two never share one.
        computeName: ws.nameSuffix.apply((s) =>
          computeName(args.vmSize, args.lowPriority, s, name === "gpu" ? undefined : name),
        ),
        identity: { type: "SystemAssigned" },
        properties: {
          computeType: "AmlCompute",
          description: `GPU training cluster (${args.vmSize})`,
          disableLocalAuth: true,
          properties: {
            vmSize: args.vmSize,
            vmPriority: args.lowPriority ? "LowPriority" : "Dedicated",
            osType: "Linux",
            scaleSettings: {
              minNodeCount: 0,
              maxNodeCount: args.maxNodes,
              nodeIdleTimeBeforeScaleDown: isoSeconds(args.idleSeconds),
            },
            // Nodes keep a public IP: without one the cluster needs a VNet (yours or the workspace's managed
            // network), which this program does not declare (docs/security.md).
            enableNodePublicIp: true,
            // The enum, not a string: azure-native types this input `string | RemoteLoginPortPublicAccess`, so a
            // misspelt string ("Disable") passes tsc and fails only in Azure (types/enums/machinelearningservices:
            // Enabled | Disabled | NotSpecified). Disabled closes the nodes' SSH port.
            remoteLoginPortPublicAccess: ml.RemoteLoginPortPublicAccess.Disabled,
          },
        },
        tags: ws.tags,
      },
      ws.childOptions(this, { retainOnDelete: true, aliases: legacyAliases(name, "gpu", "cluster") }),
    );
    this.removal = new command.local.Command(
      childName(name, "removal"),
      {
        create: pulumi.interpolate`echo 'removing the cluster deletes ${this.cluster.name} with underlyingResourceAction=Delete' >&2`,
        delete: stepCommand("ops/delete-compute.ts", ["--compute-id", this.cluster.id]),
        logging: "stderr",
        // A new cluster (new size, new name) replaces the step, so the old step's delete removes the old cluster;
        // a plain input change would only re-run create.
        triggers: [this.cluster.id],
      },
      { parent: this, dependsOn: [this.cluster] },
    );
    this.computeId = this.cluster.id;
    this.computeName = this.cluster.name;
    this.registerOutputs({ computeName: this.computeName });
  }
}
