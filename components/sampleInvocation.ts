import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import * as ml from "@pulumi/azure-native/machinelearningservices";
import { MlWorkspace } from "./mlWorkspace";
import { OnlineService } from "./onlineService";
import type { EndpointAuthMode, SampleSettings } from "../lib/config/schema";
import type { SampleResult } from "../lib/contracts";
import { childName, legacyAliases } from "../lib/children";
import { TSX, parseJsonLine } from "../lib/steps";

export interface SampleInvocationArgs extends SampleSettings {
  readonly workspace: MlWorkspace;
  /** The live service to call (its scoring URI, auth mode and deployment). */
  readonly service: OnlineService;
}

/** Real MNIST test digits and their labels, sent by the smoke test (relative to the project root). */
const REQUEST_FILE = "scoring/sample-request.json";
const LABELS_FILE = "scoring/sample-labels.json";

/**
 * The endpoint key (Key auth) as a secret, for the step and the stack output. Never fetched in preview: listKeys
 * needs more than the Reader role a PR preview runs with, and preview must not show secrets. Tokens (AMLToken,
 * AADToken) are not fetched here: they expire within hours and would change the step's inputs on every run (so
 * `up` would never be a no-op); the step asks for one itself when it runs.
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
 * Calls the live endpoint with real MNIST test digits through ops/invoke.ts once traffic is set, again whenever
 * the deployment changes; `pulumi up` fails unless the digits are classified correctly. The key travels in the
 * step's (secret) environment, never on its command line or in its output; tokens are fetched inside the step.
 */
export class SampleInvocation extends pulumi.ComponentResource {
  /** The endpoint key (Key auth only), secret. */
  readonly credential?: pulumi.Output<string>;
  readonly invocation: command.local.Command;
  readonly result: pulumi.Output<SampleResult>;

  constructor(name: string, args: SampleInvocationArgs, opts?: pulumi.ComponentResourceOptions) {
    super("azure-ml-mnist:index:SampleInvocation", name, {}, opts);
    const ws = args.workspace;
    const svc = args.service;
    this.credential = endpointKey(
      svc.authMode,
      {
        resourceGroupName: ws.resourceGroupName,
        workspaceName: ws.workspaceName,
        endpointName: svc.endpointName,
      },
      { parent: this },
    );

    this.invocation = new command.local.Command(
      childName(name, "invoke"),
      {
        // No --deployment header: the call must reach the deployment through the endpoint's traffic. Retries
        // ride out the 502s of a freshly started container.
        create: pulumi.interpolate`${TSX} ops/invoke.ts --uri ${svc.scoringUri} --auth ${svc.authMode} --endpoint-id ${svc.endpointId} --request ${REQUEST_FILE} --expected ${LABELS_FILE} --min-accuracy ${args.minAccuracy} --retries 6 --json`,
        environment: this.credential ? pulumi.secret({ ENDPOINT_KEY: this.credential }) : undefined,
        logging: "stderr",
        triggers: [svc.deploymentId, svc.live.id],
      },
      {
        parent: this,
        dependsOn: [svc.live],
        aliases: legacyAliases(name, "sample", "invoke"),
        // The stored environment holds the key.
        additionalSecretOutputs: ["environment"],
      },
    );
    this.result = this.invocation.stdout.apply((out) => parseJsonLine<SampleResult>(out, "ops/invoke.ts"));
    this.registerOutputs({ result: this.result });
  }
}
