/**
 * Integer settings at their bounds: the maximum itself is accepted (a `<` written as `<=` in the reader would
 * refuse it), one past it is refused naming the range. The ranges are lib/config/schema.ts's.
 */
import { ConfigError, readStackConfig, type StackConfig } from "../../lib/config/stack";
import { SCHEMA } from "../../lib/config/schema";

const P = "azure-ml-mnist";
function read(values: Record<string, string>): StackConfig {
  return readStackConfig((key) => (key === "azure-native:location" ? "westeurope" : values[key]), P, "dev");
}

const BOUNDS: Array<[string, number, number, (c: StackConfig) => number]> = [
  [SCHEMA.training.epochs.key, 1, 200, (c) => c.training.epochs],
  [SCHEMA.serving.instanceCount.key, 1, 50, (c) => c.serving.instanceCount],
  [SCHEMA.rollout.percent.key, 1, 99, (c) => c.rollout.percent],
];

describe.each(BOUNDS)("%s in [%p, %p]", (key, min, max, value) => {
  test("the maximum is accepted and read as given", () => {
    expect(value(read({ [key]: String(max) }))).toBe(max);
  });
  test("the minimum is accepted and read as given", () => {
    expect(value(read({ [key]: String(min) }))).toBe(min);
  });
  test("one past either end is refused with a ConfigError naming the key", () => {
    for (const bad of [max + 1, min - 1]) {
      expect(() => read({ [key]: String(bad) })).toThrow(ConfigError);
      expect(() => read({ [key]: String(bad) })).toThrow(key);
    }
  });
});
