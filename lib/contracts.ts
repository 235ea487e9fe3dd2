// The one JSON line each CLI the graph runs prints on stdout: the CLIs write these shapes and the components
// parse them, both from this file, so the two cannot drift apart.

/** What ops/wait-for-job.ts prints when the job is accepted. */
export interface WaitResult {
  jobName: string;
  status: string;
  testAccuracy: number;
  studioUrl?: string;
  elapsedSeconds?: number;
}

/** What the invocation client (`--json`) prints. */
export interface SampleResult {
  total: number;
  correct: number;
  accuracy: number;
  latencyMs: number;
  passed: boolean;
}
