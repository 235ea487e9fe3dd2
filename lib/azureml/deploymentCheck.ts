/**
 * Checking one online deployment on its own, before and while it takes traffic (ops/smoke-test.ts, ops/rollout.ts):
 * a sample call with the `azureml-model-deployment` header, which reaches a deployment whatever its share of the
 * traffic, 0 % included (Learn: how-to-safely-rollout-online-endpoints, "Test the new deployment"), through the
 * invocation client (lib/azureml/invoke.ts); and the tail of the deployment's inference-server log.
 */
import type { ArmClient } from "../azure/arm";
import type { FlagValues } from "../toolkit/args";
import { errorMessage } from "../toolkit/errors";
import { jsonOf } from "../azure/http";
import { AUTH_FLAG, invokeOptions, runInvoke, type InvokeOptions, type InvokeOutcome } from "./invoke";
import { azWorkspaceFlags, type ParsedId } from "./ids";
import { log } from "../toolkit/log";
import { tail } from "./runHistory";

/** The sample call's flags (the key comes from env ENDPOINT_KEY only: a key on a command line ends up in logs). */
export const SAMPLE_FLAGS = {
  uri: { type: "string", placeholder: "URL" },
  auth: AUTH_FLAG,
  request: { type: "string", placeholder: "FILE" },
  expected: { type: "string", placeholder: "FILE" },
  "min-accuracy": { type: "number", min: 0, max: 1, default: 1 },
  "timeout-seconds": { type: "number", min: 0.001, max: 86400, default: 60 },
  retries: { type: "number", integer: true, min: 0, max: 100, default: 3 },
  "retry-delay-seconds": { type: "number", min: 0, max: 600, default: 2 },
} as const;

export type SampleFlagValues = FlagValues<typeof SAMPLE_FLAGS>;

/**
 * The invocation client's options for a call to `deployment` alone, checked by the client's own rules (URI, auth
 * mode, endpoint id, request/expected pairing: invokeOptions) so both CLIs accept exactly what ops/invoke.ts accepts.
 */
export function sampleOptions(
  a: SampleFlagValues & { uri: string },
  target: { endpointId: string; deployment: string; armEndpoint: string },
  env: NodeJS.ProcessEnv = process.env,
): InvokeOptions {
  return invokeOptions(
    {
      ...a,
      "endpoint-id": target.endpointId,
      "arm-endpoint": target.armEndpoint,
      deployment: target.deployment,
      key: undefined,
      json: false,
    },
    env,
  );
}

export interface SampleCall {
  outcome: InvokeOutcome;
  /** what the client printed: the request line, the table (digits, answers, confidence), latency, PASSED/FAILED */
  lines: string[];
  /** why it failed, in one line; undefined when it passed */
  failure?: string;
}

/** One sample call; the client's lines are kept for the caller to print (all of them, or only on failure). */
export async function sampleCall(opts: InvokeOptions): Promise<SampleCall> {
  const lines: string[] = [];
  const keep = (line: string) => lines.push(line);
  const outcome = await runInvoke({ ...opts, json: false }, { out: keep, info: keep, err: keep });
  const passed = outcome.exitCode === 0 && outcome.result !== undefined;
  return { outcome, lines, failure: passed ? undefined : sampleFailure(outcome, opts.minAccuracy) };
}

/** Why a sample call failed, in one line: the client's error, or the accuracy against its minimum. */
function sampleFailure(outcome: InvokeOutcome, minAccuracy: number): string {
  if (outcome.error) return outcome.error;
  const r = outcome.result;
  if (!r || r.accuracy === undefined) return "no result";
  const pct = (x: number) => `${(x * 100).toFixed(2)} %`;
  return `accuracy ${pct(r.accuracy)} (${r.correct}/${r.total} right) is below the minimum ${pct(minAccuracy)}`;
}

/**
 * The last `lines` lines of the deployment's inference-server log (`az ml online-deployment get-logs`):
 * `POST <endpoint>/deployments/<d>/getLogs` with DeploymentLogsRequest {containerType, tail} → {content}
 * (ML 2025-12-01, OnlineDeployments_GetLogs). A log that cannot be read is said in its place, never fatal.
 */
export async function deploymentLogTail(
  arm: ArmClient,
  endpointId: string,
  deployment: string,
  lines: number,
): Promise<string[]> {
  try {
    const res = await arm.send(
      "POST",
      `${endpointId}/deployments/${encodeURIComponent(deployment)}/getLogs`,
      {
        body: { containerType: "InferenceServer", tail: lines },
      },
    );
    const content = jsonOf<{ content?: string }>(res).content ?? "";
    return content.trim() ? tail(content, lines) : ["(the log is empty)"];
  } catch (err) {
    return [`(could not read the log: ${errorMessage(err)})`];
  }
}

/**
 * For a failed check: prints the deployment's log tail under a heading (stderr) and returns where to read more
 * (the az commands), for the error's hints.
 */
export async function failureDetails(
  arm: ArmClient,
  endpoint: ParsedId,
  deployment: string,
  lines: number,
): Promise<string[]> {
  if (lines > 0) {
    const got = await deploymentLogTail(arm, endpoint.id, deployment, lines);
    log(`last ${lines} lines of deployment ${deployment}'s inference-server log:`);
    for (const l of got) log(`  | ${l}`);
  }
  const az = `az ml online-deployment get-logs -n ${deployment} -e ${endpoint.name} ${azWorkspaceFlags(endpoint)}`;
  return [
    `More of the log: ${az} --lines 200`,
    `Model or code download errors: ${az} --container storage-initializer`,
  ];
}
