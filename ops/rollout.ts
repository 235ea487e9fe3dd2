/**
 * rollout: gives a new online deployment (already smoke-tested, ops/smoke-test.ts) the endpoint's traffic: at once
 * (direct), or watched first under a share of the live traffic (canary) or a copy of it (mirror), with automatic
 * rollback to what served before when the new deployment breaks a limit.
 *
 *   tsx ops/rollout.ts --endpoint-id <ARM id> --deployment NAME [--mode direct|canary|mirror] [--percent 10]
 *     [--watch-minutes 10] [--max-error-rate 0.01] [--max-p95-ms 1000] [--min-requests 20] [--interval-seconds 30]
 *     [--uri URL --auth Key|AMLToken|AADToken --request FILE --expected FILE --min-accuracy F ...] [--delete]
 *     [--log-lines 50] [--timeout-minutes 30] [--poll-seconds 10] [--arm-endpoint URL]
 *
 * "Previous" = the deployments other than NAME that hold live traffic. None (a first deployment) or direct: 100 % to
 * NAME (set-traffic's write, lib/azureml/traffic.ts). Canary: NAME gets --percent of the live traffic; mirror: a copy of
 * --percent (at most 50, Azure's limit) while live traffic stays. Every --interval-seconds for --watch-minutes: one
 * sample call to NAME (deployment header) and a read of its Azure Monitor metrics (lib/azureml/metrics.ts). A breach
 * puts back what served before and exits 1 with the figures; a clean window gives NAME 100 %.
 * --delete (the graph's delete): moves traffic off NAME only if it still holds some, as set-traffic --delete.
 * stdout: RolloutResult (TrafficResult with --delete).
 */
import { ARM_FLAGS, ArmClient, armCliOptions, type ArmCliOptions } from "../lib/azure/arm";
import { usageLine, withFlags } from "../lib/toolkit/args";
import { CliError, UsageError, errorMessage } from "../lib/toolkit/errors";
import { azWorkspaceFlags, parseWorkspaceChildId, type ParsedId } from "../lib/azureml/ids";
import { log, writeResult } from "../lib/toolkit/log";
import {
  breachOf,
  formatFigures,
  metricsTimespan,
  readDeploymentMetrics,
  watchFigures,
  type WatchFigures,
  type WatchLimits,
} from "../lib/azureml/metrics";
import { runCli } from "../lib/toolkit/run";
import { formatDuration, since } from "../lib/toolkit/time";
import {
  formatTraffic,
  moveTraffic,
  rolloutPlan,
  rolloutStart,
  writeTraffic,
  type EndpointBody,
  type TrafficTarget,
} from "../lib/azureml/traffic";
import { leftInPlace, listDeployments, retireFailed } from "../lib/azureml/deployments";
import type { RolloutResult, RolloutWatch, TrafficResult } from "../lib/core/contracts";
import { failureDetails, SAMPLE_FLAGS, sampleCall, sampleOptions } from "../lib/azureml/deploymentCheck";
import type { InvokeOptions } from "../lib/azureml/invoke";
import { MAX_MIRROR_PERCENT, ROLLOUT_MODES, type RolloutMode } from "../lib/core/azureRules";

const FLAGS = {
  "endpoint-id": { type: "string", required: true, placeholder: "<ARM id>" },
  deployment: { type: "string", required: true, placeholder: "NAME" },
  mode: { type: "string", choices: ROLLOUT_MODES, default: "direct" },
  percent: { type: "number", integer: true, min: 1, max: 99, default: 10 },
  "watch-minutes": { type: "number", min: 0, max: 1440, default: 10 },
  "max-error-rate": { type: "number", min: 0, max: 1, default: 0.01 },
  "max-p95-ms": { type: "number", min: 1, max: 600000, default: 1000 },
  "min-requests": { type: "number", integer: true, min: 0, max: 1e9, default: 20 },
  "interval-seconds": { type: "number", min: 0.05, max: 3600, default: 30 },
  delete: { type: "boolean" },
  "retire-failed": { type: "boolean" },
  ...SAMPLE_FLAGS,
  "log-lines": { type: "number", integer: true, min: 0, max: 10000, default: 50 },
  ...ARM_FLAGS,
} as const;

const USAGE = usageLine("bash scripts/env.sh tsx ops/rollout.ts", FLAGS);

export interface RolloutOptions extends ArmCliOptions {
  endpoint: ParsedId;
  deployment: string;
  mode: RolloutMode;
  percent: number;
  watchMs: number;
  intervalMs: number;
  limits: WatchLimits;
  /** the sample call of the watch (canary, mirror) */
  sample?: InvokeOptions;
  logLines: number;
  /** --delete: move traffic off the deployment if it still holds some */
  removing: boolean;
  /** --retire-failed: delete a rolled-back deployment now instead of leaving it for the next `up` */
  retireFailed: boolean;
}

/** Checks across flags: the mirror's limit, and the sample call a watch needs. */
function checkWatchFlags(mode: RolloutMode, percent: number, uri: string | undefined): void {
  if (mode === "mirror" && percent > MAX_MIRROR_PERCENT) {
    throw new UsageError(
      `--percent must be at most ${MAX_MIRROR_PERCENT} with --mode mirror (Azure mirrors at most ${MAX_MIRROR_PERCENT} % of the traffic), got '${percent}'`,
    );
  }
  if (mode !== "direct" && uri === undefined) {
    throw new UsageError(`--mode ${mode} needs --uri: the watch calls the new deployment itself`);
  }
}

export const parseRolloutArgs = withFlags(FLAGS, (a): RolloutOptions => {
  const endpoint = parseWorkspaceChildId(a["endpoint-id"], ["onlineEndpoints"]);
  const arm = armCliOptions(a);
  if (!a.delete) checkWatchFlags(a.mode, a.percent, a.uri);
  const target = { endpointId: endpoint.id, deployment: a.deployment, armEndpoint: arm.armEndpoint };
  return {
    endpoint,
    deployment: a.deployment,
    mode: a.mode,
    percent: a.percent,
    watchMs: a["watch-minutes"] * 60_000,
    intervalMs: a["interval-seconds"] * 1000,
    limits: { maxErrorRate: a["max-error-rate"], maxP95Ms: a["max-p95-ms"], minRequests: a["min-requests"] },
    sample: a.uri !== undefined && !a.delete ? sampleOptions({ ...a, uri: a.uri }, target) : undefined,
    logLines: a["log-lines"],
    removing: a.delete,
    retireFailed: a["retire-failed"],
    ...arm,
  };
});

const CLI = "rollout";

/** What the watch ended with: the figures, and the breach (or the watch's own failure) if any. */
interface WatchOutcome {
  watched: RolloutWatch;
  breach?: string;
}

/** The result's figures: minutes and the error rate rounded for reading (the verdict used the exact ones). */
const toWatch = (f: WatchFigures, startedMs: number): RolloutWatch => ({
  ...f,
  minutes: Math.round((Date.now() - startedMs) / 600) / 100,
  errorRate: Math.round(f.errorRate * 10_000) / 10_000,
});

/** One round of the watch: a sample call to the deployment, then its metrics over the window so far. */
async function watchRound(
  arm: ArmClient,
  o: RolloutOptions,
  started: number,
  tally: { calls: number; failures: number },
) {
  const call = await sampleCall(o.sample!);
  tally.calls++;
  if (call.failure !== undefined) {
    tally.failures++;
    for (const l of call.lines) log(l);
    log(`${CLI}: sample call ${tally.calls} failed: ${call.failure}`);
  }
  const m = await readDeploymentMetrics(
    arm,
    o.endpoint.id,
    o.deployment,
    metricsTimespan(started, Date.now()),
  );
  return watchFigures(m, tally.calls, tally.failures);
}

/**
 * SIGINT/SIGTERM while a split is staged: what a cancelled CI job or a cancelled `pulumi up` sends. The watch stops
 * at its next turn and the rollback runs before the process exits (130/143). A SIGKILL leaves the split and the
 * intent tag, and the next rollout settles them first (rolloutStart).
 */
class Interruption {
  signal?: NodeJS.Signals;
  private wake?: () => void;
  private readonly handlers: Array<[NodeJS.Signals, () => void]> = [];

  arm(): void {
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      const h = () => {
        if (this.signal) return;
        this.signal = signal;
        log(`${CLI}: ${signal} received: ending the watch and putting back what served before`);
        this.wake?.();
      };
      process.on(signal, h);
      this.handlers.push([signal, h]);
    }
  }

  disarm(): void {
    for (const [signal, h] of this.handlers.splice(0)) process.off(signal, h);
  }

  get exitCode(): number {
    return this.signal === "SIGINT" ? 130 : 143;
  }

  /** sleeps `ms`, or less when a signal arrives (the timer is cleared: a pending one would hold the exit) */
  async sleep(ms: number): Promise<void> {
    if (this.signal) return;
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
      this.wake = resolve;
    });
    clearTimeout(timer);
    this.wake = undefined;
  }
}

/** Rounds every --interval-seconds until --watch-minutes have passed within the limits, the first breach, or a signal. */
async function watch(arm: ArmClient, o: RolloutOptions, stop: Interruption): Promise<WatchOutcome> {
  const started = Date.now();
  const end = started + o.watchMs;
  const tally = { calls: 0, failures: 0 };
  const total = formatDuration(o.watchMs / 1000);
  for (;;) {
    const f = await watchRound(arm, o, started, tally);
    log(`${CLI}: watch ${since(started)}/${total}: ${formatFigures(f, o.limits.minRequests)}`);
    if (stop.signal) return { watched: toWatch(f, started), breach: `interrupted by ${stop.signal}` };
    const breach = breachOf(f, o.limits);
    if (breach) return { watched: toWatch(f, started), breach };
    const left = end - Date.now();
    if (left <= 0) return { watched: toWatch(f, started) };
    await stop.sleep(Math.min(o.intervalMs, left));
    if (stop.signal) return { watched: toWatch(f, started), breach: `interrupted by ${stop.signal}` };
  }
}

/** Writes `target` onto the endpoint as it reads now (a watch takes minutes: never PUT a stale body). */
async function writeNow(arm: ArmClient, o: RolloutOptions, target: TrafficTarget): Promise<EndpointBody> {
  const current = await arm.get<EndpointBody>(o.endpoint.id);
  return writeTraffic(arm, o.endpoint, current, target, { ...o, cli: CLI });
}

/** The result line's traffic fields from the endpoint as it reads after the last write. */
function trafficOf(ep: EndpointBody): Pick<RolloutResult, "traffic" | "mirrorTraffic"> {
  return { traffic: ep.properties?.traffic ?? {}, mirrorTraffic: ep.properties?.mirrorTraffic ?? {} };
}

/** Nothing to compare with, or --mode direct: 100 % at once, exactly as set-traffic does. */
async function direct(
  arm: ArmClient,
  o: RolloutOptions,
  current: EndpointBody,
  previous: string[],
): Promise<void> {
  if (o.mode !== "direct") {
    log(`${CLI}: nothing serves besides ${o.deployment}: no ${o.mode} to watch; it takes 100 % at once`);
  }
  const moved = await moveTraffic(arm, o.endpoint, o.deployment, false, { ...o, cli: CLI, current });
  writeResult({
    endpoint: o.endpoint.name,
    deployment: o.deployment,
    mode: "direct",
    ...(previous.length ? { previous: previous.join(",") } : {}),
    traffic: moved.traffic,
    rolledBack: false,
  } satisfies RolloutResult);
}

/** How to put the traffic back by hand, should the rollback itself fail. */
function manualRollback(o: RolloutOptions, target: TrafficTarget): string {
  const pairs = (t: Record<string, number>) =>
    Object.entries(t)
      .map(([k, v]) => `${k}=${v}`)
      .join(" ");
  const mirror = target.mirrorTraffic ? ` --mirror-traffic "${o.deployment}=0"` : "";
  return `az ml online-endpoint update -n ${o.endpoint.name} ${azWorkspaceFlags(o.endpoint)} --traffic "${pairs(target.traffic)}"${mirror}`;
}

/**
 * After a breach, a failed watch or a signal: what served before gets it all back; the rolled-back deployment stays
 * at 0 % until the next successful `up` retires it (--retire-failed deletes it now). Exits 1 (or 130/143 after a
 * signal) with why, the figures and the log tail.
 */
async function rollBack(
  arm: ArmClient,
  o: RolloutOptions,
  target: TrafficTarget,
  why: string,
  base: Omit<RolloutResult, "traffic" | "rolledBack">,
  exitCode = 1,
): Promise<never> {
  log(`${CLI}: ${why}: rolling back to ${formatTraffic(target.traffic)}`);
  const more = exitCode === 1 ? await failureDetails(arm, o.endpoint, o.deployment, o.logLines) : [];
  let after: EndpointBody;
  try {
    after = await writeNow(arm, o, target);
  } catch (err) {
    throw new CliError(
      `rollout of ${o.deployment} failed (${why}) and so did the rollback: ${errorMessage(err)}`,
      [
        `Put the traffic back by hand: ${manualRollback(o, target)}`,
        "Or run `pulumi up` again: the next rollout puts back the deployment that last passed first.",
      ],
      exitCode,
      { ...base, rolledBack: false },
    );
  }
  const result = { ...base, ...trafficOf(after), rolledBack: true } satisfies RolloutResult;
  // Left in place by default: the deployment and smoke steps stay in the state, so a deleted deployment would not be
  // created again by a retry, whose rollout would then fail for good. The next successful `up` retires it.
  const left = o.retireFailed
    ? await retireFailed(arm, o.endpoint, o.deployment, { ...o, cli: CLI })
    : leftInPlace(o.endpoint, o.deployment);
  throw new CliError(
    `rollout of ${o.deployment} rolled back: ${why}`,
    [`${base.previous} serves again. ${left}`, ...more],
    exitCode,
    result,
  );
}

/** canary or mirror: the staged split, the watch, then 100 % or the rollback. */
async function watched(
  arm: ArmClient,
  o: RolloutOptions,
  current: EndpointBody,
  start: { previous: string[]; base: Record<string, number> },
): Promise<void> {
  const mode = o.mode as "canary" | "mirror";
  const plan = rolloutPlan(mode, start.base, o.deployment, o.percent);
  const base = {
    endpoint: o.endpoint.name,
    deployment: o.deployment,
    mode,
    previous: start.previous.join(","),
  };
  log(`${CLI}: endpoint ${o.endpoint.name} serves ${formatTraffic(start.base)}; ${mode} of ${o.deployment}`);
  const stop = new Interruption();
  stop.arm();
  try {
    await writeTraffic(arm, o.endpoint, current, plan.stage, { ...o, cli: CLI });
    log(`${CLI}: watching ${o.deployment} for ${formatDuration(o.watchMs / 1000)} (${mode}, ${o.percent} %)`);
    let outcome: WatchOutcome;
    try {
      outcome = await watch(arm, o, stop);
    } catch (err) {
      return await rollBack(arm, o, plan.rollback, `the watch failed: ${errorMessage(err)}`, base);
    }
    const { watched: w, breach } = outcome;
    if (breach) {
      const figures = formatFigures(w, o.limits.minRequests);
      const code = stop.signal ? stop.exitCode : 1;
      return await rollBack(arm, o, plan.rollback, `${breach} [${figures}]`, { ...base, watched: w }, code);
    }
    await passWatch(arm, o, plan.pass, base, w);
  } finally {
    stop.disarm();
  }
}

/** A clean watch: the deployment takes 100 % and is recorded as serving. */
async function passWatch(
  arm: ArmClient,
  o: RolloutOptions,
  pass: TrafficTarget,
  base: Omit<RolloutResult, "traffic" | "rolledBack">,
  w: RolloutWatch,
): Promise<void> {
  log(
    `${CLI}: ${o.deployment} stayed within the limits for ${formatDuration(w.minutes * 60)}: it takes 100 %`,
  );
  const after = await writeNow(arm, o, pass);
  writeResult({ ...base, ...trafficOf(after), watched: w, rolledBack: false } satisfies RolloutResult);
}

/** Reads the endpoint, finds what serves now, and rolls the deployment out (or, with --delete, moves traffic off). */
export async function rollout(o: RolloutOptions): Promise<void> {
  const arm = new ArmClient(o.armEndpoint);
  if (o.removing) {
    const moved = await moveTraffic(arm, o.endpoint, o.deployment, true, { ...o, cli: CLI });
    writeResult({ endpoint: o.endpoint.name, ...moved } satisfies TrafficResult);
    return;
  }
  let current = await arm.tryGet<EndpointBody>(o.endpoint.id);
  if (!current) throw new CliError(`endpoint ${o.endpoint.name} not found (${o.endpoint.id})`);
  const existing = new Set(await listDeployments(arm, o.endpoint));
  if (!existing.has(o.deployment)) {
    throw new CliError(`deployment ${o.deployment} is not on endpoint ${o.endpoint.name}`, [
      `Deployments found: ${[...existing].join(", ") || "(none)"}`,
    ]);
  }
  const start = rolloutStart(current, o.deployment, existing);
  if (start.restore) {
    log(`${CLI}: ${start.note}`);
    current = await writeTraffic(arm, o.endpoint, current, start.restore, { ...o, cli: CLI });
  }
  if (o.mode === "direct" || start.previous.length === 0) return direct(arm, o, current, start.previous);
  return watched(arm, o, current, start);
}

export const cli = { name: CLI, usage: USAGE, parse: parseRolloutArgs, main: rollout };

if (require.main === module) runCli(cli);
