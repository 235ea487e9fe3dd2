// Runs `fn` with environment variables set, restoring them after (the ops parsers read their specs from the env).
export function withEnv<T>(vars: Record<string, string | undefined>, fn: () => T): T {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  const set = (v: Record<string, string | undefined>) => {
    for (const [k, x] of Object.entries(v)) {
      if (x === undefined) delete process.env[k];
      else process.env[k] = x;
    }
  };
  set(vars);
  try {
    return fn();
  } finally {
    set(saved);
  }
}

export const SUB = "00000000-0000-0000-0000-000000000001";
export const WS_ID = `/subscriptions/${SUB}/resourceGroups/rg-a/providers/Microsoft.MachineLearningServices/workspaces/mlw-a`;
export const ENDPOINT_ID = `${WS_ID}/onlineEndpoints/ep-1`;
