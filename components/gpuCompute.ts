import * as pulumi from "@pulumi/pulumi";
import * as ml from "@pulumi/azure-native/machinelearningservices";
import { MlWorkspace } from "./mlWorkspace";
import type { GpuSettings } from "../lib/config/schema";
import { computeName } from "../lib/naming";
import { childName, legacyAliases } from "../lib/children";
import { isoSeconds } from "../lib/steps";

export interface GpuComputeArgs extends GpuSettings {
  /** The workspace the cluster belongs to (its location, tags, name suffix and destroy order). */
  readonly workspace: MlWorkspace;
}

/** An AmlCompute GPU cluster that scales from zero: it costs nothing while no job runs. */
export class GpuCompute extends pulumi.ComponentResource {
  readonly cluster: ml.Compute;
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
            enableNodePublicIp: true,
            remoteLoginPortPublicAccess: "Disabled",
          },
        },
        tags: ws.tags,
      },
      ws.childOptions(this, { aliases: legacyAliases(name, "gpu", "cluster") }),
    );
    this.computeId = this.cluster.id;
    this.computeName = this.cluster.name;
    this.registerOutputs({ computeName: this.computeName });
  }
}
