/** Where the local run keeps its state. */
import * as path from "node:path";

export const ROOT = path.resolve(__dirname, "..");

/**
 * The state folder: <repo>/.local, or $MNIST_LOCAL_DIR (tests point it at a temp folder so they never touch the
 * user's registry or summary). Layout: data/, runs/<timestamp>/, mlruns/, registry/<model>/<version>/,
 * summary.json, server.json, serve/.
 */
export function localDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.MNIST_LOCAL_DIR ? path.resolve(env.MNIST_LOCAL_DIR) : path.join(ROOT, ".local");
}
