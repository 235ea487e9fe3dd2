/**
 * run-job: resolves a training run hash to a job and waits for it, as ONE step: ops/submit-job.ts's reuse / follow /
 * submit (a Completed job of the run hash is reused, an active one followed, else a new one submitted), then
 * ops/wait-for-job.ts's wait and accuracy gate on that job.
 *
 *   JOB_SPEC='<CommandJob or SweepJob properties JSON>' tsx ops/run-job.ts --workspace-id <ARM id>
 *     --run-hash HEX12 --name-prefix PREFIX [--min-accuracy F] [--stuck-timeout-minutes 30]
 *     [--preparing-timeout-minutes 90] [--metric test_accuracy] [--log-lines 60] [--not-found-seconds 120]
 *     [--timeout-minutes 180] [--poll-seconds 15] [--arm-endpoint URL]
 *
 * Why one step: a pulumi-command create that fails leaves nothing in the state and the next `up` runs it again
 * (pulumi-command commandController.go Create; pulumi-go-provider infer/resource.go). With a separate submit step,
 * a Failed job's submit stayed in the state and every later `up` re-ran only the wait, on the same failed job. Here a
 * failed or canceled job fails the step, so the next `up` resolves the run hash again: chooseJob then finds only
 * Failed/Canceled jobs and submits a new one.
 *
 * stderr: both steps' progress. stdout: one JSON line, the wait's result plus {"jobId","reused","submitStatus"}
 * (lib/core/contracts.ts RunJobResult); on failure the fields known so far plus "error". Exit 0 only when the job
 * Completed and passed the gate; 1 on failure; 2 on a usage error; 130/143 on SIGINT/SIGTERM (the job is never
 * canceled by this step).
 */
import { ArmClient } from "../lib/azure/arm";
import { usageLine, withFlags } from "../lib/toolkit/args";
import { CliError } from "../lib/toolkit/errors";
import { parseWorkspaceChildId } from "../lib/azureml/ids";
import { log, writeResult } from "../lib/toolkit/log";
import { runCli } from "../lib/toolkit/run";
import type { RunJobResult, SubmitResult } from "../lib/core/contracts";
import { JOB_FLAGS, resolveJob, submitOptionsFrom, type SubmitOptions } from "./submit-job";
import {
  WAIT_LIMIT_FLAGS,
  WaitError,
  followJob,
  waitLimitsFrom,
  type WaitFailure,
  type WaitLimits,
} from "./wait-for-job";

const NAME = "run-job";

const FLAGS = { ...JOB_FLAGS, ...WAIT_LIMIT_FLAGS } as const;

const USAGE = usageLine("JOB_SPEC='<JSON>' bash scripts/env.sh tsx ops/run-job.ts", FLAGS);

export interface RunJobOptions {
  /** what resolves the run hash to a job (workspace, hash, name prefix, JOB_SPEC) */
  submit: SubmitOptions;
  /** how to wait for it and what to accept */
  wait: WaitLimits;
}

/** argv (and JOB_SPEC) → options; every check that needs no network happens here. */
export const parseRunJobArgs = withFlags(FLAGS, (a): RunJobOptions => ({
  submit: submitOptionsFrom(a),
  wait: waitLimitsFrom(a),
}));

/** What the next `pulumi up` does after each kind of failure (this step leaves nothing in the state). */
export const NEXT_UP: Record<WaitFailure | "interrupted", string[]> = {
  failed: [
    "The next `pulumi up` submits a new job of this run hash (a Failed or Canceled job is never reused).",
  ],
  gate: [
    "A Completed job of this run hash is reused by the next `pulumi up`, so running it again fails the same way:",
    "change the hyperparameters (e.g. `epochs`, `learningRate`) or set `retrainNonce` to train anew.",
  ],
  stuck: [
    "The job is still active: the next `pulumi up` follows it (same run hash) instead of submitting another.",
    "Cancel it (command above) to make the next `up` submit a new one.",
  ],
  preparing: [
    "The job is still active: the next `pulumi up` follows it (same run hash), so its image build goes on counting.",
    "Cancel it (command above) to make the next `up` submit a new one.",
  ],
  timeout: [
    "The job is still active: the next `pulumi up` follows it (same run hash) instead of submitting another.",
    "Cancel it (command above) to make the next `up` submit a new one.",
  ],
  interrupted: [
    "The next `pulumi up` follows this job (still active, same run hash) instead of submitting another.",
  ],
};

/**
 * SIGINT/SIGTERM before the wait has started (while listing or submitting): stop, say what the next `up` does,
 * exit 130/143. Returns what removes the handlers (the wait installs its own).
 */
function interruptBeforeWait(o: SubmitOptions): () => void {
  const stop = (signal: NodeJS.Signals, code: number) => {
    log("");
    log(`${NAME}: ${signal} received before the wait began — stopped. Nothing was canceled.`);
    log(
      `  A job submitted just now keeps running; the next \`pulumi up\` follows it (run hash ${o.runHash}).`,
    );
    writeResult({
      status: "Interrupted",
      error: `${signal} before the job of run hash ${o.runHash} was resolved`,
    });
    process.exit(code);
  };
  const onInt = () => stop("SIGINT", 130);
  const onTerm = () => stop("SIGTERM", 143);
  process.once("SIGINT", onInt);
  process.once("SIGTERM", onTerm);
  return () => {
    process.removeListener("SIGINT", onInt);
    process.removeListener("SIGTERM", onTerm);
  };
}

/** The resolution's fields every result line of the step carries. */
function resolved(job: SubmitResult): Pick<RunJobResult, "jobId" | "reused" | "submitStatus"> {
  return { jobId: job.jobId, reused: job.reused, submitStatus: job.status };
}

/** A failure of the wait, with what the next `up` does and the resolution's fields in its result line. */
function withNextUp(err: unknown, extra: Record<string, unknown>): unknown {
  if (err instanceof WaitError) {
    return new CliError(err.message, [...err.hints, ...NEXT_UP[err.failure]], err.exitCode, {
      ...extra,
      ...err.result,
    });
  }
  if (err instanceof CliError) {
    return new CliError(
      err.message,
      [...err.hints, "Nothing was canceled: if the job is still active, the next `pulumi up` follows it."],
      err.exitCode,
      { ...extra, ...err.result },
    );
  }
  return err;
}

/** Resolve the run hash to a job (reuse / follow / submit) → wait for it and gate it → print the result line. */
export async function runJob(o: RunJobOptions): Promise<void> {
  const arm = new ArmClient(o.submit.armEndpoint);
  const removeEarlyHandlers = interruptBeforeWait(o.submit);
  const job = await resolveJob(o.submit, NAME, arm);
  removeEarlyHandlers();
  const extra = resolved(job);
  let result;
  try {
    result = await followJob(
      { ...o.wait, job: parseWorkspaceChildId(job.jobId, ["jobs"]) },
      { cli: NAME, extra, arm, interruptHints: NEXT_UP.interrupted },
    );
  } catch (err) {
    throw withNextUp(err, extra);
  }
  writeResult({ ...result, ...extra } satisfies RunJobResult);
}

export const cli = { name: NAME, usage: USAGE, parse: parseRunJobArgs, main: runJob };

if (require.main === module) runCli(cli);
