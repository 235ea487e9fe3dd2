// lib/config/reader.ts: every raw config value's rule, and the problems it collects.
import { ConfigError, Reader } from "../../lib/config/reader";

const reader = (values: Record<string, string>) => new Reader((k) => values[k], "proj");

describe("integer", () => {
  test("both bounds are inclusive", () => {
    const r = reader({ lo: "1", hi: "10", mid: " 5 " });
    expect(r.integer("lo", 3, 1, 10)).toBe(1);
    expect(r.integer("hi", 3, 1, 10)).toBe(10);
    expect(r.integer("mid", 3, 1, 10)).toBe(5);
    expect(r.problems).toEqual([]);
  });

  test("outside the range, not an integer, or unsafe: a problem naming the range, and the default", () => {
    const r = reader({ a: "0", b: "11", c: "1.5", d: "1e3", e: "9007199254740993", f: "-2" });
    expect(r.integer("a", 3, 1, 10)).toBe(3);
    expect(r.integer("b", 3, 1, 10)).toBe(3);
    expect(r.integer("c", 3, 1, 10)).toBe(3);
    expect(r.integer("d", 3, 1, 10000)).toBe(3);
    expect(r.integer("e", 3, 0, Number.MAX_VALUE)).toBe(3);
    expect(r.integer("f", 3, -5, 5)).toBe(-2);
    expect(r.problems).toEqual([
      'proj:a = "0" is invalid: must be an integer in [1, 10]',
      'proj:b = "11" is invalid: must be an integer in [1, 10]',
      'proj:c = "1.5" is invalid: must be an integer in [1, 10]',
      'proj:d = "1e3" is invalid: must be an integer in [1, 10000]',
      `proj:e = "9007199254740993" is invalid: must be an integer in [0, ${Number.MAX_VALUE}]`,
    ]);
  });

  test("not set: the default, no problem", () => {
    const r = reader({});
    expect(r.integer("x", 7, 1, 10)).toBe(7);
    expect(r.problems).toEqual([]);
  });
});

describe("decimal", () => {
  test("(min, max]: the minimum excluded, the maximum included", () => {
    const r = reader({ max: "1", min: "0", mid: " 0.5 " });
    expect(r.decimal("max", 0.3, 0, 1)).toBe(1);
    expect(r.decimal("mid", 0.3, 0, 1)).toBe(0.5);
    expect(r.decimal("min", 0.3, 0, 1)).toBe(0.3);
    expect(r.problems).toEqual(['proj:min = "0" is invalid: must be a number in (0, 1]']);
  });

  test("(min, max) with openMax", () => {
    const r = reader({ max: "1", below: "0.99" });
    expect(r.decimal("max", 0.3, 0, 1, true)).toBe(0.3);
    expect(r.decimal("below", 0.3, 0, 1, true)).toBe(0.99);
    expect(r.problems).toEqual(['proj:max = "1" is invalid: must be a number in (0, 1)']);
  });

  test("not a number, infinite, above: the default", () => {
    const r = reader({ a: "x", b: "Infinity", c: "2" });
    expect(r.decimal("a", 0.3, 0, 1)).toBe(0.3);
    expect(r.decimal("b", 0.3, 0, Infinity)).toBe(0.3);
    expect(r.decimal("c", 0.3, 0, 1)).toBe(0.3);
    expect(r.problems.length).toBe(3);
    expect(reader({}).decimal("x", 0.4, 0, 1)).toBe(0.4);
  });
});

describe("raw values and empties", () => {
  test("an explicit empty value is a problem unless empty means 'unset'", () => {
    const r = reader({ a: "  ", b: "" });
    expect(r.raw("a")).toBeUndefined();
    expect(r.raw("b", "unset")).toBeUndefined();
    expect(r.problems).toEqual([
      'proj:a = "  " is invalid: must not be empty (remove the key to use the default)',
    ]);
    expect(r.raw("missing")).toBeUndefined();
    expect(reader({ c: " v " }).raw("c")).toBe(" v ");
  });

  test("fq: project keys get the project, namespaced keys stay", () => {
    const r = reader({});
    expect(r.fq("epochs")).toBe("proj:epochs");
    expect(r.fq("azure-native:location")).toBe("azure-native:location");
  });

  test("fail shows non-strings as JSON and undefined as null; problem adds a line as it is", () => {
    const r = reader({});
    r.fail("k", { a: 1 }, "rule");
    r.fail("k", undefined, "rule");
    r.problem("free text");
    expect(r.problems).toEqual([
      'proj:k = {"a":1} is invalid: rule',
      "proj:k = null is invalid: rule",
      "free text",
    ]);
  });
});

describe("text, optionalText, flag, choice", () => {
  test("text: the value or the default, checked against the pattern with its rule", () => {
    const r = reader({ a: "abc", b: "ABC" });
    expect(r.text("a", "d", /^[a-z]+$/, "lowercase")).toBe("abc");
    expect(r.text("b", "d", /^[a-z]+$/, "lowercase")).toBe("ABC");
    expect(r.text("c", "DEF", /^[a-z]+$/)).toBe("DEF");
    expect(r.text("c", "xyz")).toBe("xyz");
    expect(r.problems).toEqual([
      'proj:b = "ABC" is invalid: lowercase',
      'proj:c = "DEF" is invalid: must match /^[a-z]+$/',
    ]);
  });

  test("optionalText: empty is unset; a value must match", () => {
    const r = reader({ a: "", b: "ok", c: "NO" });
    expect(r.optionalText("a", /^[a-z]+$/, "rule")).toBeUndefined();
    expect(r.optionalText("b", /^[a-z]+$/, "rule")).toBe("ok");
    expect(r.optionalText("c", /^[a-z]+$/, "lowercase")).toBe("NO");
    expect(r.optionalText("none", /^[a-z]+$/, "rule")).toBeUndefined();
    expect(r.problems).toEqual(['proj:c = "NO" is invalid: lowercase']);
  });

  test("flag: exactly true or false", () => {
    const r = reader({ t: "true", f: "false", x: "yes" });
    expect(r.flag("t", false)).toBe(true);
    expect(r.flag("f", true)).toBe(false);
    expect(r.flag("x", true)).toBe(true);
    expect(r.flag("none", false)).toBe(false);
    expect(r.problems).toEqual(['proj:x = "yes" is invalid: must be true or false']);
  });

  test("choice: one of the options, else the default and a problem listing them", () => {
    const r = reader({ a: "b", z: "zz" });
    expect(r.choice("a", "a", ["a", "b"] as const)).toBe("b");
    expect(r.choice("z", "a", ["a", "b"] as const)).toBe("a");
    expect(r.choice("none", "b", ["a", "b"] as const)).toBe("b");
    expect(r.problems).toEqual(['proj:z = "zz" is invalid: must be one of a, b']);
  });
});

describe("object", () => {
  test("a JSON object, or a problem", () => {
    const r = reader({ o: '{"a":1}', bad: "{", arr: "[1]", nul: "null", num: "3", empty: "" });
    expect(r.object("o")).toEqual({ a: 1 });
    expect(r.object("bad")).toBeUndefined();
    expect(r.object("arr")).toBeUndefined();
    expect(r.object("nul")).toBeUndefined();
    expect(r.object("num")).toBeUndefined();
    expect(r.object("empty")).toBeUndefined();
    expect(r.object("none")).toBeUndefined();
    expect(r.problems).toEqual([
      'proj:bad = "{" is invalid: must be an object (YAML mapping)',
      "proj:arr = [1] is invalid: must be an object (YAML mapping)",
      "proj:nul = null is invalid: must be an object (YAML mapping)",
      "proj:num = 3 is invalid: must be an object (YAML mapping)",
    ]);
  });
});

test("ConfigError lists every problem", () => {
  const e = new ConfigError(["a", "b"]);
  expect(e.message).toBe("Invalid configuration:\n  - a\n  - b");
  expect(e.problems).toEqual(["a", "b"]);
  expect(e.name).toBe("ConfigError");
});
