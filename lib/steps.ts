// Shared bits of the local.Command steps that run this repository's CLIs (ops/).

/**
 * The CLIs run with the project's tsx, relative to the working directory Pulumi gives the program (the project
 * root). A relative path keeps machine-specific paths out of the state: a different checkout is not a change.
 */
export const TSX = "node_modules/.bin/tsx";

/** The ops/ CLIs and cli/invoke.ts print exactly one JSON line on stdout; progress goes to stderr. */
export function parseJsonLine<T>(stdout: string, what: string): T {
  const line = stdout
    .trim()
    .split(/\r?\n/)
    .reverse()
    .find((l) => l.trim().startsWith("{"));
  if (!line) throw new Error(`${what} printed no JSON result line on stdout`);
  return JSON.parse(line) as T;
}

/** ISO 8601 duration from seconds (Azure ML durations: PT120S, PT0.5S). */
export function isoSeconds(seconds: number): string {
  return `PT${seconds}S`;
}
