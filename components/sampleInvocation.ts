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
 * The credential the sample call sends, as a secret. Never fetched in preview: listKeys/token need more than
 * the Reader role a PR preview runs with, and preview must not show secrets. AADToken has none here: the step
 * gets an Entra token from the az CLI at run time.
 */
export function endpointCredential(
  authMode: EndpointAuthMode,
  target: {
    resourceGroupName: pulumi.Input<string>;
    workspaceName: pulumi.Input<string>;
    endpointName: pulumi.Input<string>;
  },
  opts: pulumi.InvokeOutputOptions,
): pulumi.Output<string> | undefined {
  if (authMode === "AADToken") return undefined;
  if (pulumi.runtime.isDryRun()) return pulumi.secret(pulumi.output(pulumi.unknown) as pulumi.Output<string>);
  if (authMode === "AMLToken") {
    return pulumi.secret(ml.getOnlineEndpointTokenOutput(target, opts).apply((t) => t.accessToken ?? ""));
  }
  return pulumi.secret(ml.listOnlineEndpointKeysOutput(target, opts).apply((k) => k.primaryKey ?? ""));
}

// Entra token for the Azure ML data plane, fetched inside the step so it is never on a command line.
const AAD_TOKEN =
  'ENDPOINT_KEY="$(az account get-access-token --resource https://ml.azure.com --query accessToken -o tsv)" ';

/**
 * Calls the live endpoint with real MNIST test digits through cli/invoke.ts once traffic is set, again whenever
 * the deployment changes; `pulumi up` fails unless the digits are classified correctly. The key travels in the
 * step's (secret) environment, never on its command line or in its output.
 */
export class SampleInvocation extends pulumi.ComponentResource {
  readonly credential?: pulumi.Output<string>;
  readonly invocation: command.local.Command;
  readonly result: pulumi.Output<SampleResult>;

  constructor(name: string, args: SampleInvocationArgs, opts?: pulumi.ComponentResourceOptions) {
    super("azure-ml-mnist:index:SampleInvocation", name, {}, opts);
    const ws = args.workspace;
    const svc = args.service;
    this.credential = endpointCredential(
      svc.authMode,
      {
        resourceGroupName: ws.resourceGroupName,
        workspaceName: ws.workspaceName,
        endpointName: svc.endpointName,
      },
      { parent: this },
    );
    const prefix = svc.authMode === "AADToken" ? AAD_TOKEN : "";

    this.invocation = new command.local.Command(
      childName(name, "invoke"),
      {
        // No --deployment header: the call must reach the deployment through the endpoint's traffic. Retries
        // ride out the 502s of a freshly started container.
        create: pulumi.interpolate`${prefix}${TSX} ops/invoke.ts --uri ${svc.scoringUri} --request ${REQUEST_FILE} --expected ${LABELS_FILE} --min-accuracy ${args.minAccuracy} --retries 6 --json`,
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
