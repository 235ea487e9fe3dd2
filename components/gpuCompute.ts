import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import * as ml from "@pulumi/azure-native/machinelearningservices";
import type { WorkspaceRef } from "./mlWorkspace";
import type { GpuSettings } from "../lib/config/schema";
import { CLUSTER_OWNER_TAG, computeName } from "../lib/core/naming";
import type * as azureInputs from "@pulumi/azure-native/types/input";
import type { ComputeResult } from "../lib/core/contracts";
import { childName } from "../lib/program/children";
import { isoSeconds, parseJsonLine, stepCommand } from "../lib/program/steps";

export interface GpuComputeArgs extends GpuSettings {
  /** The workspace the cluster belongs to (its location, tags, name suffix and destroy order). */
  readonly workspace: WorkspaceRef;
  /**
   * Set on a second cluster of the same size in the workspace: it goes into the cluster's Azure name (shortened with
   * a hash of the whole, so two qualifiers never meet) to keep the two apart.
   */
  readonly nameQualifier?: string;
}

/** What a job takes from a cluster: its id, what its name encodes, and the step that makes it exist. */
export interface ComputeRef {
  readonly computeId: pulumi.Output<string>;
  readonly vmSize: string;
  readonly lowPriority: boolean;
  /** Done once the cluster exists. */
  readonly ready: pulumi.Resource;
}

/**
 * An AmlCompute GPU cluster that scales from zero: it costs nothing while no job runs.
 *
 * Made to exist by a step (ops/ensure-compute.ts) rather than an azure-native Compute: VM size and priority are part
 * of the name, so a revert to an earlier size after a failed `up` would create a cluster that still exists (the
 * provider refuses) while the old cluster's pending removal would delete the one in use. The step is updated in
 * place, reuses what exists, and removes the component's other clusters (tag `clusterOf`). Its delete runs
 * ops/delete-compute.ts: jobs still active are canceled, then the cluster goes with `underlyingResourceAction=Delete`
 * (the 2025-12-01 Compute_Delete takes Delete|Detach; azure-native's generic delete sends none, and a cluster
 * re-created under the same name after a detach kept its old VM size: Azure/azure-rest-api-specs#18889).
 */
export class GpuCompute extends pulumi.ComponentResource implements ComputeRef {
  /** The step that makes the cluster exist (its delete removes it, and any other of this component's). */
  readonly cluster: command.local.Command;
  readonly ready: pulumi.Resource;
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

    // VM size and priority are immutable: they are part of the name, so changing them makes a new cluster.
    const physical = ws.nameSuffix.apply((s) =>
      computeName(args.vmSize, args.lowPriority, s, args.nameQualifier),
    );
    const computeId = pulumi.interpolate`${ws.workspaceId}/computes/${physical}`;
    // The Compute body (2025-12-01), typed with azure-native's own input shape.
    const properties: azureInputs.machinelearningservices.AmlComputeArgs = {
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
        // Nodes keep a public IP unless the workspace has a managed network: without one the cluster needs a VNet
        // (yours or the workspace's managed network; Learn how-to-managed-network, "compute without public IP").
        enableNodePublicIp: !ws.isolated,
        // The enum, not a string: azure-native types this input `string | RemoteLoginPortPublicAccess`, so a
        // misspelt string ("Disable") passes tsc and fails only in Azure (types/enums/machinelearningservices:
        // Enabled | Disabled | NotSpecified). Disabled closes the nodes' SSH port.
        remoteLoginPortPublicAccess: ml.RemoteLoginPortPublicAccess.Disabled,
      },
    };
    const spec = {
      location: ws.location,
      identity: { type: "SystemAssigned" },
      properties,
      // clusterOf: what finds this component's clusters that the program no longer declares
      tags: { ...ws.tags, [CLUSTER_OWNER_TAG]: name },
    };
    this.cluster = new command.local.Command(
      childName(name, "cluster"),
      {
        // --storage-account-id: the cluster's identity gets Storage Blob Data Contributor on the workspace's account
        // (no account keys there; jobs run as that identity), as an idempotent grant inside the step
        create: stepCommand("ops/ensure-compute.ts", [
          ...["--compute-id", computeId, "--storage-account-id", ws.storageAccountId],
        ]),
        // the stored (current) cluster and any other of this component's
        delete: stepCommand("ops/delete-compute.ts", ["--compute-id", computeId, "--owner", name]),
        environment: { COMPUTE_SPEC: JSON.stringify(spec) },
        logging: "stderr",
      },
      ws.childOptions(this),
    );
    this.ready = this.cluster;
    const result = this.cluster.stdout.apply((out) =>
      parseJsonLine<ComputeResult>(out, "ops/ensure-compute.ts"),
    );
    this.computeId = result.apply((r) => r.id);
    this.computeName = result.apply((r) => r.name);
    this.registerOutputs({ computeName: this.computeName });
  }
}
