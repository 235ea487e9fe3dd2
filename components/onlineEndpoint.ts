import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import * as ml from "@pulumi/azure-native/machinelearningservices";
import { MlWorkspace } from "./workspace";
import { RegisteredModel } from "./model";
import { CodeAsset } from "./codeAsset";
import { Environments } from "./environments";
import { DeploymentSettings, EndpointAuthMode } from "./config";
import { deploymentName, endpointName } from "./naming";
import { hashValues } from "./hashing";
import { TSX, isoSeconds } from "./commands";

export interface OnlineServiceArgs {
  workspace: MlWorkspace;
  location: string;
  stack: string;
  authMode: EndpointAuthMode;
  model: RegisteredModel;
  scoringCode: CodeAsset;
  environments: Environments;
  instanceType: string;
  instanceCount: number;
  workerCount: number;
  maxBatchSize: number;
  settings: DeploymentSettings;
  tags: Record<string, string>;
}

/** What defines a deployment: any change rolls out as a new deployment (blue/green), never an in-place edit. */
export function deploymentHash(parts: {
  model: string;
  scoringCodeVersion: string;
  environmentVersion: string;
  instanceType: string;
  instanceCount: number;
  workerCount: number;
  maxBatchSize: number;
  settings: DeploymentSettings;
}): string {
  return hashValues(parts);
}

/**
 * A managed online endpoint, a deployment of the registered model with the scoring code and inference
 * environment, and a traffic step giving that deployment 100 %. The endpoint is declared without traffic: it
 * cannot name a deployment that does not exist yet, and a plain endpoint PUT would reset traffic to 0.
 */
export class OnlineService extends pulumi.ComponentResource {
  readonly endpoint: ml.OnlineEndpoint;
  readonly deployment: ml.OnlineDeployment;
  readonly deploymentName: string;
  readonly trafficStep: command.local.Command;
  readonly endpointName: pulumi.Output<string>;
  readonly scoringUri: pulumi.Output<string>;
  readonly swaggerUri: pulumi.Output<string>;

  constructor(name: string, args: OnlineServiceArgs, opts?: pulumi.ComponentResourceOptions) {
    super("azure-ml-mnist:index:OnlineService", name, {}, opts);
    const ws = args.workspace;
    const rg = ws.resourceGroupName;

    const endpointProperties = {
      authMode: args.authMode,
      publicNetworkAccess: "Enabled",
      description: "MNIST digit classifier (Keras CNN)",
    };
    this.endpoint = new ml.OnlineEndpoint(
      "endpoint",
      {
        resourceGroupName: rg,
        workspaceName: ws.workspaceName,
        location: args.location,
        // Unique within the Azure region across all subscriptions.
        endpointName: ws.suffix.result.apply((s) => endpointName(args.stack, s)),
        kind: "Managed",
        identity: { type: "SystemAssigned" },
        properties: endpointProperties,
        tags: args.tags,
      },
      {
        parent: this,
        // Destroy order: the endpoint goes before the versions its deployment used. Not the model version: that
        // would hold the endpoint back until training ends (the deployment alone depends on it).
        dependsOn: [ws.deletionAnchor, args.environments.inference, args.scoringCode.codeVersion],
        // Owned by the traffic step; an endpoint PUT from state must not fight it.
        ignoreChanges: ["properties.traffic", "properties.mirrorTraffic"],
      },
    );
    this.endpointName = this.endpoint.name;
    this.scoringUri = this.endpoint.properties.apply((p) => p.scoringUri ?? "");
    this.swaggerUri = this.endpoint.properties.apply((p) => p.swaggerUri ?? "");

    const s = args.settings;
    this.deploymentName = deploymentName(
      deploymentHash({
        model: `${args.model.modelName}:${args.model.modelVersion}`,
        scoringCodeVersion: args.scoringCode.version,
        environmentVersion: args.environments.inferenceVersion,
        instanceType: args.instanceType,
        instanceCount: args.instanceCount,
        workerCount: args.workerCount,
        maxBatchSize: args.maxBatchSize,
        settings: s,
      }),
    );
    const probe = (initialDelaySeconds: number) => ({
      initialDelay: isoSeconds(initialDelaySeconds),
      period: isoSeconds(s.probePeriodSeconds),
      timeout: isoSeconds(s.probeTimeoutSeconds),
      failureThreshold: s.probeFailureThreshold,
      successThreshold: 1,
    });

    this.deployment = new ml.OnlineDeployment(
      "deployment",
      {
        resourceGroupName: rg,
        workspaceName: ws.workspaceName,
        location: args.location,
        endpointName: this.endpoint.name,
        deploymentName: this.deploymentName,
        sku: { name: "Default", capacity: args.instanceCount },
        properties: {
          endpointComputeType: "Managed",
          description: `${args.model.modelName}:${args.model.modelVersion}`,
          model: args.model.model.id,
          // custom_model needs both, else MissingDriverProgram.
          codeConfiguration: { codeId: args.scoringCode.codeVersion.id, scoringScript: "score.py" },
          environmentId: args.environments.inference.id,
          instanceType: args.instanceType,
          scaleSettings: { scaleType: "Default" },
          requestSettings: {
            maxConcurrentRequestsPerInstance: s.maxConcurrentRequestsPerInstance,
            requestTimeout: isoSeconds(s.requestTimeoutMs / 1000),
          },
          // TensorFlow import + model load + warm-up take tens of seconds before the server answers.
          livenessProbe: probe(s.livenessInitialDelaySeconds),
          readinessProbe: probe(s.readinessInitialDelaySeconds),
          appInsightsEnabled: true,
          egressPublicNetworkAccess: "Enabled",
          environmentVariables: {
            WORKER_COUNT: String(args.workerCount),
            MAX_BATCH_SIZE: String(args.maxBatchSize),
          },
        },
        tags: args.tags,
      },
      {
        parent: this,
        dependsOn: [this.endpoint, args.model.model],
        // Every change has a new name, so the new deployment is created beside the old one (no delete first).
        deleteBeforeReplace: false,
        // Image build on first use + container start.
        customTimeouts: { create: "60m", update: "60m", delete: "30m" },
      },
    );

    // A new deployment (new id) replaces this step: the new step moves traffic to it, then the old step's delete
    // finds its deployment without traffic and does nothing. Any endpoint PUT from state zeroes traffic, so a
    // change of the endpoint's inputs must re-run the step too, but as an update (create runs again, delete does
    // not): a replacement would let the old step's delete clear the traffic of the same, still current deployment.
    const endpointInputsHash = hashValues({ endpointProperties, tags: args.tags, kind: "Managed" });
    this.trafficStep = new command.local.Command(
      "traffic",
      {
        create: pulumi.interpolate`${TSX} ops/set-traffic.ts --endpoint-id ${this.endpoint.id} --deployment ${this.deployment.name}`,
        // Moves traffic off only if this deployment still holds it (a newer step may already have moved it).
        delete: pulumi.interpolate`${TSX} ops/set-traffic.ts --endpoint-id ${this.endpoint.id} --deployment ${this.deployment.name} --delete`,
        environment: { ENDPOINT_INPUTS_HASH: endpointInputsHash },
        logging: "stderr",
        triggers: [this.deployment.id],
      },
      { parent: this, dependsOn: [this.deployment, this.endpoint] },
    );

    this.registerOutputs({
      endpointName: this.endpointName,
      scoringUri: this.scoringUri,
      swaggerUri: this.swaggerUri,
      deploymentName: this.deploymentName,
    });
  }
}
