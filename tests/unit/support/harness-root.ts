// The mutation tier's stand-in for tests/graph/harness.ts (jest.mutation.config.js moduleNameMapper): the pure config
// tests take only ROOT from it, and the real harness loads the Pulumi runtime, seconds per mutant run.
import * as path from "path";

export const ROOT = path.resolve(__dirname, "..", "..", "..");
