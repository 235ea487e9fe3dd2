import * as pulumi from "@pulumi/pulumi";
import * as ml from "@pulumi/azure-native/machinelearningservices";
import { MlWorkspace } from "./workspace";
import { computeName } from "./naming";
import { isoSeconds } from "./commands";

export interface GpuComputeArgs {
  workspace: MlWorkspace;
  location: string;
  vmSize: string;
  maxNodes: number;
  lowPriority: boolean;
  /** Idle time before a node is released (the cluster scales to zero). */
  idleSeconds: number;
  tags: Record<string, string>;
}

/** An AmlCompute GPU cluster that scales from zero: it costs nothing while no job runs. */
export class GpuCompute extends pulumi.ComponentResource {
  readonly compute: ml.Compute;
  readonly computeName: pulumi.Output<string>;
  readonly vmSize: string;
  readonly lowPriority: boolean;

  constructor(name: string, args: GpuComputeArgs, opts?: pulumi.ComponentResourceOptions) {
    super("azure-ml-mnist:index:GpuCompute", name, {}, opts);
    const ws = args.workspace;
    this.vmSize = args.vmSize;
    this.lowPriority = args.lowPriority;

    this.compute = new ml.Compute(
      "cluster",
      {
        resourceGroupName: ws.resourceGroupName,
        workspaceName: ws.workspaceName,
        location: args.location,
        // VM size and priority are immutable: they are part of the name, so changing them makes a new cluster.
        computeName: ws.suffix.result.apply((s) => computeName(args.vmSize, args.lowPriority, s)),
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
        tags: args.tags,
      },
      { parent: this, dependsOn: [ws.deletionAnchor] },
    );
    this.computeName = this.compute.name;
    this.registerOutputs({ computeName: this.computeName });
  }
}
