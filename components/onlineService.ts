import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import * as ml from "@pulumi/azure-native/machinelearningservices";
import { MlWorkspace } from "./mlWorkspace";
import { RegisteredModel } from "./registeredModel";
import { CodeAsset } from "./codeAsset";
import { EnvironmentAsset } from "./environmentAsset";
import type { DeploymentSettings, ServingSettings } from "../lib/config/schema";
import { deploymentName, endpointName } from "../lib/naming";
import { hashValues } from "../lib/hashing";
import { childName, legacyAliases } from "../lib/children";
import { TSX, isoSeconds } from "../lib/steps";

export interface OnlineServiceArgs extends ServingSettings {
  readonly workspace: MlWorkspace;
  /** The model version the deployment serves. */
  readonly model: RegisteredModel;
  /** scoring/ as a code asset (score.py). */
  readonly scoringCode: CodeAsset;
  /** The inference environment the deployment runs in. */
  readonly environment: EnvironmentAsset;
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
  readonly authMode: ServingSettings["authMode"];
  readonly endpoint: ml.OnlineEndpoint;
  readonly deployment: ml.OnlineDeployment;
  readonly deploymentName: string;
  /** The deployment's ARM id: a new one means a new deployment. */
  readonly deploymentId: pulumi.Output<string>;
  /** Done once the deployment holds 100 % of the endpoint's traffic: what a caller of the endpoint waits for. */
  readonly live: pulumi.CustomResource;
  readonly endpointName: pulumi.Output<string>;
  /** The endpoint's ARM id. */
  readonly endpointId: pulumi.Output<string>;
  readonly scoringUri: pulumi.Output<string>;
  readonly swaggerUri: pulumi.Output<string>;

  constructor(name: string, args: OnlineServiceArgs, opts?: pulumi.ComponentResourceOptions) {
    super("azure-ml-mnist:index:OnlineService", name, {}, opts);
    const ws = args.workspace;
    const rg = ws.resourceGroupName;
    this.authMode = args.authMode;
    const legacy = (child: string) => legacyAliases(name, "online", child);

    const endpointProperties = {
      authMode: args.authMode,
      publicNetworkAccess: "Enabled",
      description: "MNIST digit classifier (Keras CNN)",
    };
    this.endpoint = new ml.OnlineEndpoint(
      childName(name, "endpoint"),
      {
        resourceGroupName: rg,
        workspaceName: ws.workspaceName,
        location: ws.location,
        // Unique within the Azure region across all subscriptions.
        // A second service in the stack adds its own name, so the two never share one.
        endpointName: ws.nameSuffix.apply((s) =>
          endpointName(ws.stack, s, name === "online" ? undefined : name),
        ),
        kind: "Managed",
        identity: { type: "SystemAssigned" },
        properties: endpointProperties,
        tags: ws.tags,
      },
      ws.childOptions(this, {
        // Owned by the traffic step; an endpoint PUT from state must not fight it.
        ignoreChanges: ["properties.traffic", "properties.mirrorTraffic"],
        aliases: legacy("endpoint"),
      }),
    );
    this.endpointName = this.endpoint.name;
    this.endpointId = this.endpoint.id;
    this.scoringUri = this.endpoint.properties.apply((p) => p.scoringUri ?? "");
    this.swaggerUri = this.endpoint.properties.apply((p) => p.swaggerUri ?? "");

    const s: DeploymentSettings = args.settings;
    this.deploymentName = deploymentName(
      deploymentHash({
        model: `${args.model.modelName}:${args.model.modelVersion}`,
        scoringCodeVersion: args.scoringCode.version,
        environmentVersion: args.environment.version,
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
      childName(name, "deployment"),
      {
        resourceGroupName: rg,
        workspaceName: ws.workspaceName,
        location: ws.location,
        endpointName: this.endpoint.name,
        deploymentName: this.deploymentName,
        sku: { name: "Default", capacity: args.instanceCount },
        properties: {
          endpointComputeType: "Managed",
          description: `${args.model.modelName}:${args.model.modelVersion}`,
          model: args.model.modelId,
          // custom_model needs both, else MissingDriverProgram.
          codeConfiguration: { codeId: args.scoringCode.codeId, scoringScript: "score.py" },
          environmentId: args.environment.environmentId,
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
        tags: ws.tags,
      },
      {
        parent: this,
        dependsOn: [this.endpoint, args.model.model],
        // Every change has a new name, so the new deployment is created beside the old one (no delete first).
        deleteBeforeReplace: false,
        // Image build on first use + container start.
        customTimeouts: { create: "60m", update: "60m", delete: "30m" },
        aliases: legacy("deployment"),
      },
    );
    this.deploymentId = this.deployment.id;

    // A new deployment (new id) replaces this step: the new step moves traffic to it, then the old step's delete
    // finds its deployment without traffic and does nothing. Any endpoint PUT from state zeroes traffic, so a
    // change of the endpoint's inputs must re-run the step too, but as an update (create runs again, delete does
    // not): a replacement would let the old step's delete clear the traffic of the same, still current deployment.
    const endpointInputsHash = hashValues({ endpointProperties, tags: ws.tags, kind: "Managed" });
    this.live = new command.local.Command(
      childName(name, "traffic"),
      {
        create: pulumi.interpolate`${TSX} ops/set-traffic.ts --endpoint-id ${this.endpoint.id} --deployment ${this.deployment.name}`,
        // Moves traffic off only if this deployment still holds it (a newer step may already have moved it).
        delete: pulumi.interpolate`${TSX} ops/set-traffic.ts --endpoint-id ${this.endpoint.id} --deployment ${this.deployment.name} --delete`,
        environment: { ENDPOINT_INPUTS_HASH: endpointInputsHash },
        logging: "stderr",
        triggers: [this.deployment.id],
      },
      { parent: this, dependsOn: [this.deployment, this.endpoint], aliases: legacy("traffic") },
    );

    this.registerOutputs({
      endpointName: this.endpointName,
      scoringUri: this.scoringUri,
      swaggerUri: this.swaggerUri,
      deploymentName: this.deploymentName,
    });
  }
}
