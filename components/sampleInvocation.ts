import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { SAMPLE_LABELS, SAMPLE_REQUEST, type ServiceRef } from "./onlineService";
import type { SampleSettings } from "../lib/config/schema";
import type { SampleResult } from "../lib/core/contracts";
import { childName } from "../lib/program/children";
import { parseJsonLine, stepCommand } from "../lib/program/steps";

export interface SampleInvocationArgs extends SampleSettings {
  /** The live service to call (its scoring URI, auth mode, key and deployment). */
  readonly service: ServiceRef;
}

/**
 * Calls the live endpoint with real MNIST test digits through ops/invoke.ts once traffic is set, again whenever
 * the deployment changes; `pulumi up` fails unless the digits are classified correctly. The step reads the key
 * (listKeys) or a token itself when it runs: no credential is an input, an output or in the state.
 */
export class SampleInvocation extends pulumi.ComponentResource {
  readonly invocation: command.local.Command;
  readonly result: pulumi.Output<SampleResult>;

  constructor(name: string, args: SampleInvocationArgs, opts?: pulumi.ComponentResourceOptions) {
    super("azure-ml-mnist:index:SampleInvocation", name, {}, opts);
    const svc = args.service;

    this.invocation = new command.local.Command(
      childName(name, "invoke"),
      {
        // No --deployment header: the call must reach the deployment through the endpoint's traffic. Retries
        // ride out the 502s of a freshly started container.
        create: stepCommand("ops/invoke.ts", [
          ...["--uri", svc.scoringUri, "--auth", svc.authMode, "--endpoint-id", svc.endpointId],
          ...["--request", SAMPLE_REQUEST, "--expected", SAMPLE_LABELS],
          ...["--min-accuracy", String(args.minAccuracy), "--retries", "6", "--json"],
        ]),
        logging: "stderr",
        triggers: [svc.deploymentId, svc.live.id],
      },
      { parent: this, dependsOn: [svc.live] },
    );
    this.result = this.invocation.stdout.apply((out) => parseJsonLine<SampleResult>(out, "ops/invoke.ts"));
    this.registerOutputs({ result: this.result });
  }
}
