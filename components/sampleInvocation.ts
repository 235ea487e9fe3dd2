import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import * as ml from "@pulumi/azure-native/machinelearningservices";
import { MlWorkspace } from "./workspace";
import { OnlineService } from "./onlineEndpoint";
import { EndpointAuthMode } from "./config";
import { TSX, parseJsonLine } from "./commands";

export interface SampleInvocationArgs {
  workspace: MlWorkspace;
  service: OnlineService;
  authMode: EndpointAuthMode;
  /** Share of the sample digits that must be classified correctly. */
  minAccuracy: number;
  requestFile?: string;
  labelsFile?: string;
}

/** What cli/invoke.ts --json prints. */
export interface SampleResult {
  total: number;
  correct: number;
  accuracy: number;
  latencyMs: number;
  passed: boolean;
}

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
      args.authMode,
      {
        resourceGroupName: ws.resourceGroupName,
        workspaceName: ws.workspaceName,
        endpointName: svc.endpointName,
      },
      { parent: this },
    );
    const request = args.requestFile ?? "scoring/sample-request.json";
    const labels = args.labelsFile ?? "scoring/sample-labels.json";
    const prefix = args.authMode === "AADToken" ? AAD_TOKEN : "";

    this.invocation = new command.local.Command(
      "invoke",
      {
        // No --deployment header: the call must reach the deployment through the endpoint's traffic. Retries
        // ride out the 502s of a freshly started container.
        create: pulumi.interpolate`${prefix}${TSX} cli/invoke.ts --uri ${svc.scoringUri} --request ${request} --expected ${labels} --min-accuracy ${args.minAccuracy} --retries 6 --json`,
        environment: this.credential ? pulumi.secret({ ENDPOINT_KEY: this.credential }) : undefined,
        logging: "stderr",
        triggers: [svc.deployment.id, svc.trafficStep.id],
      },
      {
        parent: this,
        dependsOn: [svc.trafficStep],
        // The stored environment holds the key.
        additionalSecretOutputs: ["environment"],
      },
    );
    this.result = this.invocation.stdout.apply((out) => parseJsonLine<SampleResult>(out, "cli/invoke.ts"));
    this.registerOutputs({ result: this.result });
  }
}
