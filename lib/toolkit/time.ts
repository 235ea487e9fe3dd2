/** Time helpers of the CLIs: the one sleep, durations for humans, seconds since start. */

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const started = Date.now();

/** Whole seconds since this process loaded the toolkit (the `elapsedSeconds` of result lines). */
export function elapsedSeconds(): number {
  return Math.round((Date.now() - started) / 1000);
}

/** 5s, 5m03s, 1h02m03s. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  if (h > 0) return `${h}h${String(m).padStart(2, "0")}m${String(r).padStart(2, "0")}s`;
  if (m > 0) return `${m}m${String(r).padStart(2, "0")}s`;
  return `${r}s`;
}

/** formatDuration of the time since `startMs`. */
export function since(startMs: number): string {
  return formatDuration((Date.now() - startMs) / 1000);
}
