/**
 * smoke-test: calls a new online deployment directly, before any traffic moves to it, with the sample digits; all
 * (or --min-accuracy of them) must come back right. Run by the graph between the deployment and the rollout.
 *
 *   tsx ops/smoke-test.ts --endpoint-id <ARM id> --deployment NAME --uri URL [--auth Key|AMLToken|AADToken]
 *     [--request FILE] [--expected FILE] [--min-accuracy 1] [--timeout-seconds 60] [--retries 3]
 *     [--retry-delay-seconds 2] [--log-lines 50] [--arm-endpoint URL]      (Key auth: key in env ENDPOINT_KEY)
 *
 * The `azureml-model-deployment: NAME` header reaches the deployment at 0 % traffic (Learn:
 * how-to-safely-rollout-online-endpoints). Never touches traffic: a failure leaves the deployments serving now as
 * they are. On failure: the invocation's table (digits, answers, latency), the deployment's log tail, and what the
 * deployment costs until the next successful `up` retires it (--retire-failed deletes it now); exit 1.
 * stdout: {"total","correct","accuracy","latencyMs","passed","deployment"} (SmokeResult).
 */
import { ARM_FLAGS, ArmClient, armCliOptions } from "../lib/azure/arm";
import { leftInPlace, retireFailed } from "../lib/azureml/deployments";
import { usageLine, withFlags } from "../lib/toolkit/args";
import { CliError } from "../lib/toolkit/errors";
import { parseWorkspaceChildId, type ParsedId } from "../lib/azureml/ids";
import { log, writeResult } from "../lib/toolkit/log";
import { runCli } from "../lib/toolkit/run";
import type { SmokeFailure, SmokeResult } from "../lib/core/contracts";
import { failureDetails, SAMPLE_FLAGS, sampleCall, sampleOptions } from "../lib/azureml/deploymentCheck";
import type { InvokeOptions } from "../lib/azureml/invoke";

const FLAGS = {
  "endpoint-id": { type: "string", required: true, placeholder: "<ARM id>" },
  deployment: { type: "string", required: true, placeholder: "NAME" },
  ...SAMPLE_FLAGS,
  uri: { type: "string", required: true, placeholder: "URL" },
  "log-lines": { type: "number", integer: true, min: 0, max: 10000, default: 50 },
  "retire-failed": { type: "boolean" },
  ...ARM_FLAGS,
} as const;

const USAGE = usageLine("bash scripts/env.sh tsx ops/smoke-test.ts", FLAGS);

export interface SmokeOptions {
  endpoint: ParsedId;
  deployment: string;
  /** the invocation client's options, with the deployment header */
  invoke: InvokeOptions;
  logLines: number;
  /** --retire-failed: delete the failed deployment (unless it serves) instead of leaving it for the next `up` */
  retireFailed: boolean;
  armEndpoint: string;
  pollMs: number;
  timeoutMs: number;
}

export const parseSmokeArgs = withFlags(FLAGS, (a): SmokeOptions => {
  const endpoint = parseWorkspaceChildId(a["endpoint-id"], ["onlineEndpoints"]);
  const arm = armCliOptions(a);
  return {
    endpoint,
    deployment: a.deployment,
    invoke: sampleOptions(a, {
      endpointId: endpoint.id,
      deployment: a.deployment,
      armEndpoint: arm.armEndpoint,
    }),
    logLines: a["log-lines"],
    retireFailed: a["retire-failed"],
    ...arm,
  };
});

const round1 = (ms: number) => Math.round(ms * 10) / 10;

/** Sample call to the deployment alone → pass: the result line; fail: table, log tail, exit 1. */
export async function smokeTest(o: SmokeOptions): Promise<void> {
  const { deployment, endpoint } = o;
  log(
    `smoke-test: calling deployment ${deployment} of endpoint ${endpoint.name} directly ` +
      `(azureml-model-deployment header; traffic is not touched)`,
  );
  const { outcome, lines, failure } = await sampleCall(o.invoke);
  for (const l of lines) log(l);
  const r = outcome.result;
  if (failure === undefined && r) {
    log(`smoke-test: deployment ${deployment} passed; it may take traffic`);
    writeResult({ ...r, latencyMs: round1(r.latencyMs), deployment } satisfies SmokeResult);
    return;
  }
  const arm = new ArmClient(o.armEndpoint);
  const more = await failureDetails(arm, endpoint, deployment, o.logLines);
  // Left in place by default: the deployment step succeeded and stays in the state, so a deleted deployment would
  // not be created again by the next `up`, whose smoke test would then fail for good. The next successful `up`
  // (a retry, or a revert) retires it.
  const left = o.retireFailed
    ? await retireFailed(arm, endpoint, deployment, { ...o, cli: "smoke-test" })
    : leftInPlace(endpoint, deployment);
  const known = {
    ...r,
    ...(r ? { latencyMs: round1(r.latencyMs) } : {}),
    deployment,
    passed: false,
  } as const;
  throw new CliError(
    `smoke test of deployment ${deployment} failed: ${failure}`,
    ["No traffic was moved: whatever served before keeps serving.", left, ...more],
    1,
    known satisfies Omit<SmokeFailure, "error">,
  );
}

export const cli = { name: "smoke-test", usage: USAGE, parse: parseSmokeArgs, main: smokeTest };

if (require.main === module) runCli(cli);
