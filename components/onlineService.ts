import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import * as monitor from "@pulumi/azure-native/monitor";
import type * as azureInputs from "@pulumi/azure-native/types/input";
import type { WorkspaceRef } from "./mlWorkspace";
import type { ModelRef } from "./registeredModel";
import type { CodeRef } from "./codeAsset";
import type { EnvironmentRef } from "./environmentAsset";
import type { DeploymentSettings, RolloutSettings, ServingSettings } from "../lib/config/schema";
import type { AutoscaleSettings } from "../lib/config/objects";
import type { DeploymentResult, EndpointResult } from "../lib/core/contracts";
import { deploymentName, endpointName } from "../lib/core/naming";
import { hashValues } from "../lib/core/hashing";
import { childName } from "../lib/program/children";
import { isoSeconds, parseJsonLine, stepCommand } from "../lib/program/steps";

export interface OnlineServiceArgs extends ServingSettings {
  readonly workspace: WorkspaceRef;
  /** The model version the deployment serves: the workspace's own, or one from a registry. */
  readonly model: ModelRef;
  /** scoring/ as a code asset (score.py). */
  readonly scoringCode: CodeRef;
  /** The inference environment the deployment runs in. */
  readonly environment: EnvironmentRef;
  /**
   * Set on a second service in the stack: it goes into the endpoint's Azure name (shortened with a hash of the whole,
   * so two qualifiers never meet) to keep the two apart.
   */
  readonly nameQualifier?: string;
  /** How a new deployment takes the traffic once its smoke test passed. */
  readonly rollout: RolloutSettings;
  /** Share of the sample digits the smoke test (and a canary's sample calls) must classify correctly. */
  readonly smokeMinAccuracy: number;
}

/** Real MNIST test digits and their labels (relative to the project root, where the steps run). */
export const SAMPLE_REQUEST = "scoring/sample-request.json";
export const SAMPLE_LABELS = "scoring/sample-labels.json";

/**
 * Azure Monitor autoscale profile for a deployment on its CPU utilisation (Azure ML docs how-to-autoscale-endpoints;
 * azure-rest-api-specs Microsoft.Insights examples/createOrUpdateAutoscaleSetting.json: capacities and scale
 * values are strings). Out by one instance above the target over 5 minutes, in by one below half of it.
 */
export function autoscaleProfile(
  a: AutoscaleSettings,
  start: number,
  deploymentId: pulumi.Input<string>,
): azureInputs.monitor.AutoscaleProfileArgs {
  const rule = (
    direction: "Increase" | "Decrease",
    operator: "GreaterThan" | "LessThan",
    threshold: number,
  ) => ({
    metricTrigger: {
      metricName: "CpuUtilizationPercentage",
      metricResourceUri: deploymentId,
      timeGrain: "PT1M",
      statistic: "Average" as const,
      timeWindow: "PT5M",
      timeAggregation: "Average" as const,
      operator,
      threshold,
    },
    scaleAction: { direction, type: "ChangeCount" as const, value: "1", cooldown: `PT${a.cooldownMinutes}M` },
  });
  return {
    name: "cpu",
    capacity: { minimum: String(a.minInstances), maximum: String(a.maxInstances), default: String(start) },
    rules: [
      rule("Increase", "GreaterThan", a.cpuTarget),
      rule("Decrease", "LessThan", Math.floor(a.cpuTarget / 2)),
    ],
  };
}

/** The rollout step's flags: the mode, and the watch's limits when a canary or mirror watches. */
export function rolloutFlags(r: RolloutSettings): string[] {
  if (r.mode === "direct") return ["--mode", "direct"];
  return [
    ...["--mode", r.mode, "--percent", String(r.percent), "--watch-minutes", String(r.watchMinutes)],
    ...["--max-error-rate", String(r.maxErrorRate), "--max-p95-ms", String(r.maxP95Ms)],
    ...["--min-requests", String(r.minRequests), "--interval-seconds", String(r.intervalSeconds)],
  ];
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
 * The name an OnlineService of these inputs gives its deployment: a hash of everything that defines it, so a new
 * model, code, environment, size or setting rolls out as a new deployment. Known before anything is declared (the
 * pre-flight needs it).
 */
export function deploymentNameOf(
  a: ServingSettings & {
    readonly model: { readonly modelName: string; readonly modelVersion: string };
    readonly scoringCodeVersion: string;
    readonly environmentVersion: string;
  },
): string {
  return deploymentName(
    deploymentHash({
      model: `${a.model.modelName}:${a.model.modelVersion}`,
      scoringCodeVersion: a.scoringCodeVersion,
      environmentVersion: a.environmentVersion,
      instanceType: a.instanceType,
      instanceCount: a.instanceCount,
      workerCount: a.workerCount,
      maxBatchSize: a.maxBatchSize,
      settings: a.settings,
    }),
  );
}

/** What a caller of a live service takes from it: where to call, how to authenticate, and when it is live. */
export interface ServiceRef {
  readonly scoringUri: pulumi.Output<string>;
  readonly authMode: ServingSettings["authMode"];
  /** The endpoint's ARM id (where the caller reads the key with listKeys when it runs). */
  readonly endpointId: pulumi.Output<string>;
  /** The deployment's ARM id: a new one means a new deployment. */
  readonly deploymentId: pulumi.Output<string>;
  /** Done once the deployment holds 100 % of the traffic. */
  readonly live: pulumi.CustomResource;
}

/**
 * A managed online endpoint and a safe rollout of each new deployment of the registered model:
 *   1. the endpoint's own inputs are written by a step that carries its live traffic (ops/ensure-endpoint.ts);
 *   2. the deployment is created beside the one serving, or reused when it exists (ops/ensure-deployment.ts: its
 *      name is a hash of what defines it, so a revert finds the deployment that still serves);
 *   3. a smoke step sends the sample digits to it directly (`azureml-model-deployment` header): if it answers
 *      wrongly or fails, `up` fails with the table and the deployment's log tail, no traffic moves, and the failed
 *      deployment is deleted;
 *   4. the rollout step gives it the traffic: at once (direct), or as a watched canary (a share of live traffic) or
 *      mirror (a copy of it), rolled back automatically when error rate or latency break the limits; it records on
 *      the endpoint which deployment passed, so the next `up` settles an interrupted rollout first;
 *   5. a retirement step deletes the previous deployments once the new one holds 100 % and has passed.
 * Nothing here deletes a deployment that holds traffic, and no step ever holds the endpoint key: the steps that call
 * the endpoint read it (listKeys) or a token when they run.
 */
export class OnlineService extends pulumi.ComponentResource implements ServiceRef {
  readonly authMode: ServingSettings["authMode"];
  /** Its delete is never needed: done once the new deployment answered the sample digits correctly. */
  readonly smoke: command.local.Command;
  /** Done once the previous deployments are gone. */
  readonly retirement: command.local.Command;
  /** The deployment's autoscale setting, when configured; it moves with the deployment on a rollout. */
  readonly autoscale?: monitor.AutoscaleSetting;
  /** The step that creates the endpoint or writes its inputs (its delete removes the endpoint). */
  readonly endpoint: command.local.Command;
  /** The step that makes the deployment exist and be Succeeded. */
  readonly deployment: command.local.Command;
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

    // Unique within the Azure region across all subscriptions; a second service in the stack adds its own name.
    const physicalName = ws.nameSuffix.apply((s) => endpointName(ws.stack, s, args.nameQualifier));
    const endpointId = pulumi.interpolate`${ws.workspaceId}/onlineEndpoints/${physicalName}`;
    // OnlineEndpointTrackedResource (2025-12-01) without traffic: the rollout steps own it.
    const endpointSpec = {
      location: ws.location,
      kind: "Managed",
      identity: { type: "SystemAssigned" },
      properties: {
        authMode: args.authMode,
        publicNetworkAccess: "Enabled",
        description: "MNIST digit classifier (Keras CNN)",
      },
      tags: ws.tags,
    };
    this.endpoint = new command.local.Command(
      childName(name, "endpoint"),
      {
        create: stepCommand("ops/ensure-endpoint.ts", ["--endpoint-id", endpointId]),
        // `destroy`, or a new endpoint name (a replacement: the new endpoint is created first, this runs at the end)
        delete: stepCommand("ops/ensure-endpoint.ts", ["--endpoint-id", endpointId, "--delete"]),
        environment: { ENDPOINT_SPEC: JSON.stringify(endpointSpec) },
        logging: "stderr",
        triggers: [endpointId],
      },
      ws.childOptions(this),
    );
    const ep = this.endpoint.stdout.apply((out) =>
      parseJsonLine<EndpointResult>(out, "ops/ensure-endpoint.ts"),
    );
    this.endpointName = ep.apply((r) => r.name);
    this.endpointId = ep.apply((r) => r.id);
    this.scoringUri = ep.apply((r) => r.scoringUri);
    this.swaggerUri = ep.apply((r) => r.swaggerUri);
    const s: DeploymentSettings = args.settings;
    this.deploymentName = deploymentNameOf({
      ...args,
      scoringCodeVersion: args.scoringCode.version,
      environmentVersion: args.environment.version,
    });
    const probe = (initialDelaySeconds: number) => ({
      initialDelay: isoSeconds(initialDelaySeconds),
      period: isoSeconds(s.probePeriodSeconds),
      timeout: isoSeconds(s.probeTimeoutSeconds),
      failureThreshold: s.probeFailureThreshold,
      successThreshold: 1,
    });

    // OnlineDeploymentTrackedResource (2025-12-01), typed with azure-native's own input shape.
    const properties: azureInputs.machinelearningservices.ManagedOnlineDeploymentArgs = {
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
      // the legacy isolation switch; with a workspace managed network it is left out (Learn how-to-managed-network:
      // not combined with egress_public_network_access)
      ...(ws.isolated ? {} : { egressPublicNetworkAccess: "Enabled" }),
      environmentVariables: {
        WORKER_COUNT: String(args.workerCount),
        MAX_BATCH_SIZE: String(args.maxBatchSize),
      },
    };
    const deploymentSpec = pulumi.output({
      location: ws.location,
      kind: "Managed",
      sku: { name: "Default", capacity: args.instanceCount },
      properties,
      tags: ws.tags,
    });
    this.deployment = new command.local.Command(
      childName(name, "deployment"),
      {
        // Reuses a Succeeded deployment of this name without a PUT (a PUT of a live deployment is a rolling update
        // and would reset an autoscaled capacity), follows one still provisioning, creates it otherwise. No delete:
        // the retirement step removes old deployments once the new one serves; the endpoint's delete takes the last.
        create: stepCommand("ops/ensure-deployment.ts", [
          ...["--endpoint-id", this.endpointId, "--deployment", this.deploymentName],
          ...["--timeout-minutes", "60"],
        ]),
        environment: { DEPLOYMENT_SPEC: pulumi.jsonStringify(deploymentSpec) },
        logging: "stderr",
      },
      {
        parent: this,
        dependsOn: [this.endpoint, ...(args.model.ready ? [args.model.ready] : [])],
      },
    );
    const dep = this.deployment.stdout.apply((out) =>
      parseJsonLine<DeploymentResult>(out, "ops/ensure-deployment.ts"),
    );
    this.deploymentId = dep.apply((r) => r.id);

    // The steps that call the endpoint read its key (listKeys) or a token themselves, when they run.
    const call: pulumi.Input<string>[] = [
      ...["--uri", this.scoringUri, "--auth", args.authMode],
      ...["--request", SAMPLE_REQUEST, "--expected", SAMPLE_LABELS],
      ...["--min-accuracy", String(args.smokeMinAccuracy)],
    ];
    const target = ["--endpoint-id", this.endpointId, "--deployment", this.deploymentName];

    // Before any traffic moves: the new deployment alone. Retries ride out the 502s of a freshly started container.
    this.smoke = new command.local.Command(
      childName(name, "smoke"),
      {
        create: stepCommand("ops/smoke-test.ts", [...target, ...call, "--retries", "6"]),
        logging: "stderr",
        triggers: [this.deploymentId],
      },
      { parent: this, dependsOn: [this.deployment] },
    );

    // A new deployment (new id) replaces this step: the new step moves traffic to it. No delete: the old step's
    // delete would run at the end of the next successful `up`, and after a failed `up` and a revert that is an `up`
    // in which the old step's deployment serves again (a stale delete would take its traffic away). The endpoint's
    // own writes carry the live traffic (ops/ensure-endpoint.ts), so an endpoint input change needs no re-run here.
    this.live = new command.local.Command(
      childName(name, "traffic"),
      {
        create: stepCommand("ops/rollout.ts", [...target, ...rolloutFlags(args.rollout), ...call]),
        logging: "stderr",
        triggers: [this.deploymentId],
      },
      { parent: this, dependsOn: [this.smoke, this.endpoint] },
    );

    // Only after the new deployment holds 100 % and has passed: the previous ones go (never one with traffic).
    this.retirement = new command.local.Command(
      childName(name, "retire"),
      {
        create: stepCommand("ops/retire-deployments.ts", [
          ...["--endpoint-id", this.endpointId, "--keep", this.deploymentName],
        ]),
        logging: "stderr",
        triggers: [this.deploymentId],
      },
      { parent: this, dependsOn: [this.live] },
    );

    // Named after the deployment, so a rollout creates the new deployment's setting once it serves and deletes the
    // old one's; `enabled` defaults to false in the SDK.
    if (args.autoscale) {
      this.autoscale = new monitor.AutoscaleSetting(
        childName(name, "autoscale"),
        {
          resourceGroupName: rg,
          location: ws.location,
          autoscaleSettingName: pulumi.interpolate`${this.endpointName}-${this.deploymentName}-cpu`,
          targetResourceUri: this.deploymentId,
          enabled: true,
          profiles: [autoscaleProfile(args.autoscale, args.instanceCount, this.deploymentId)],
          tags: ws.tags,
        },
        { parent: this, dependsOn: [this.live] },
      );
    }

    this.registerOutputs({
      endpointName: this.endpointName,
      scoringUri: this.scoringUri,
      swaggerUri: this.swaggerUri,
      deploymentName: this.deploymentName,
    });
  }
}
