import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import * as ml from "@pulumi/azure-native/machinelearningservices";
import * as monitor from "@pulumi/azure-native/monitor";
import type * as azureInputs from "@pulumi/azure-native/types/input";
import { MlWorkspace } from "./mlWorkspace";
import { RegisteredModel } from "./registeredModel";
import { CodeAsset } from "./codeAsset";
import { EnvironmentAsset } from "./environmentAsset";
import type {
  DeploymentSettings,
  EndpointAuthMode,
  RolloutSettings,
  ServingSettings,
} from "../lib/config/schema";
import type { AutoscaleSettings } from "../lib/config/objects";
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
  /** How a new deployment takes the traffic once its smoke test passed. */
  readonly rollout: RolloutSettings;
  /** Share of the sample digits the smoke test (and a canary's sample calls) must classify correctly. */
  readonly smokeMinAccuracy: number;
}

/** Real MNIST test digits and their labels (relative to the project root, where the steps run). */
export const SAMPLE_REQUEST = "scoring/sample-request.json";
export const SAMPLE_LABELS = "scoring/sample-labels.json";

/**
 * The endpoint key (Key auth) as a secret, for the steps that call the endpoint and for the stack output. Never
 * fetched in preview: listKeys needs more than the Reader role a PR preview runs with, and preview must not show
 * secrets. Tokens (AMLToken, AADToken) are not fetched here: they expire within hours and would change the steps'
 * inputs on every run (so `up` would never be a no-op); each step asks for one itself when it runs.
 */
export function endpointKey(
  authMode: EndpointAuthMode,
  target: {
    resourceGroupName: pulumi.Input<string>;
    workspaceName: pulumi.Input<string>;
    endpointName: pulumi.Input<string>;
  },
  opts: pulumi.InvokeOutputOptions,
): pulumi.Output<string> | undefined {
  if (authMode !== "Key") return undefined;
  if (pulumi.runtime.isDryRun()) return pulumi.secret(pulumi.output(pulumi.unknown) as pulumi.Output<string>);
  return pulumi.secret(ml.listOnlineEndpointKeysOutput(target, opts).apply((k) => k.primaryKey ?? ""));
}

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
export function rolloutFlags(r: RolloutSettings): string {
  if (r.mode === "direct") return "--mode direct";
  return [
    `--mode ${r.mode}`,
    `--percent ${r.percent}`,
    `--watch-minutes ${r.watchMinutes}`,
    `--max-error-rate ${r.maxErrorRate}`,
    `--max-p95-ms ${r.maxP95Ms}`,
    `--min-requests ${r.minRequests}`,
    `--interval-seconds ${r.intervalSeconds}`,
  ].join(" ");
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
 * A managed online endpoint and a safe rollout of each new deployment of the registered model:
 *   1. the deployment is created beside the one serving (0 % traffic);
 *   2. a smoke step sends the sample digits to it directly (`azureml-model-deployment` header): if it answers
 *      wrongly or fails, `up` fails with the table and the deployment's log tail, and no traffic moves;
 *   3. the rollout step gives it the traffic: at once (direct), or as a watched canary (a share of live traffic) or
 *      mirror (a copy of it), rolled back automatically when error rate or latency break the limits;
 *   4. a retirement step deletes the previous deployments once the new one holds 100 % and has passed.
 * The endpoint is declared without traffic: it cannot name a deployment that does not exist yet, and a plain
 * endpoint PUT would reset traffic to 0.
 */
export class OnlineService extends pulumi.ComponentResource {
  readonly authMode: ServingSettings["authMode"];
  /** The endpoint key (Key auth only), secret. */
  readonly key?: pulumi.Output<string>;
  /** Its delete is never needed: done once the new deployment answered the sample digits correctly. */
  readonly smoke: command.local.Command;
  /** Done once the previous deployments are gone. */
  readonly retirement: command.local.Command;
  /** The deployment's autoscale setting, when configured; it moves with the deployment on a rollout. */
  readonly autoscale?: monitor.AutoscaleSetting;
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
    this.key = endpointKey(
      args.authMode,
      { resourceGroupName: rg, workspaceName: ws.workspaceName, endpointName: this.endpointName },
      { parent: this },
    );

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
        // Pulumi never deletes a deployment: the retirement step does, once the new one serves (a plain replace
        // would delete the old one at the end of `up` even after a failed rollout, and a deployment with traffic
        // cannot be deleted: Azure ML docs, how-to-safely-rollout-online-endpoints). The endpoint's delete takes the last
        // one with it.
        retainOnDelete: true,
        // Image build on first use + container start.
        customTimeouts: { create: "60m", update: "60m", delete: "30m" },
        aliases: legacy("deployment"),
      },
    );
    this.deploymentId = this.deployment.id;

    // The steps that call the endpoint: key in their (secret) environment, tokens fetched inside.
    const call = pulumi.interpolate`--uri ${this.scoringUri} --auth ${args.authMode} --request ${SAMPLE_REQUEST} --expected ${SAMPLE_LABELS} --min-accuracy ${args.smokeMinAccuracy}`;
    const key = this.key;
    const env = (extra: Record<string, string> = {}): pulumi.Input<Record<string, pulumi.Input<string>>> =>
      key
        ? (pulumi.secret({ ...extra, ENDPOINT_KEY: key }) as unknown as pulumi.Output<Record<string, string>>)
        : extra;
    const target = pulumi.interpolate`--endpoint-id ${this.endpoint.id} --deployment ${this.deployment.name}`;

    // Before any traffic moves: the new deployment alone. Retries ride out the 502s of a freshly started container.
    this.smoke = new command.local.Command(
      childName(name, "smoke"),
      {
        create: pulumi.interpolate`${TSX} ops/smoke-test.ts ${target} ${call} --retries 6`,
        environment: env(),
        logging: "stderr",
        triggers: [this.deployment.id],
      },
      { parent: this, dependsOn: [this.deployment], additionalSecretOutputs: ["environment"] },
    );

    // A new deployment (new id) replaces this step: the new step moves traffic to it, then the old step's delete
    // finds its deployment without traffic and does nothing. Any endpoint PUT from state zeroes traffic, so a
    // change of the endpoint's inputs must re-run the step too, but as an update (create runs again, delete does
    // not): a replacement would let the old step's delete clear the traffic of the same, still current deployment.
    const endpointInputsHash = hashValues({ endpointProperties, tags: ws.tags, kind: "Managed" });
    this.live = new command.local.Command(
      childName(name, "traffic"),
      {
        create: pulumi.interpolate`${TSX} ops/rollout.ts ${target} ${rolloutFlags(args.rollout)} ${call}`,
        // Moves traffic off only if this deployment still holds it (a newer step may already have moved it).
        delete: pulumi.interpolate`${TSX} ops/rollout.ts ${target} --delete`,
        environment: env({ ENDPOINT_INPUTS_HASH: endpointInputsHash }),
        logging: "stderr",
        triggers: [this.deployment.id],
      },
      {
        parent: this,
        dependsOn: [this.smoke, this.endpoint],
        aliases: legacy("traffic"),
        additionalSecretOutputs: ["environment"],
      },
    );

    // Only after the new deployment holds 100 % and has passed: the previous ones go (never one with traffic).
    this.retirement = new command.local.Command(
      childName(name, "retire"),
      {
        create: pulumi.interpolate`${TSX} ops/retire-deployments.ts --endpoint-id ${this.endpoint.id} --keep ${this.deployment.name}`,
        logging: "stderr",
        triggers: [this.deployment.id],
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
          autoscaleSettingName: pulumi.interpolate`${this.endpoint.name}-${this.deployment.name}-cpu`,
          targetResourceUri: this.deployment.id,
          enabled: true,
          profiles: [autoscaleProfile(args.autoscale, args.instanceCount, this.deployment.id)],
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
