// lib/config/objects.ts: the object-valued keys' field rules (bounds, strings a --path set stores, unknown fields).
import { Reader } from "../../lib/config/reader";
import {
  numberField,
  readAutoscale,
  readSweep,
  sweepFieldsGiven,
  unknownFields,
} from "../../lib/config/objects";

const reader = (values: Record<string, unknown>) =>
  new Reader((k) => (values[k] === undefined ? undefined : JSON.stringify(values[k])), "p");

describe("numberField", () => {
  const field = (v: unknown, bounds: [number, number], decimal = false) => {
    const r = reader({});
    const got = numberField(r, "k", { f: v }, "f", 99, bounds, decimal);
    return { got, problems: r.problems };
  };

  test("integers: both bounds inclusive; a string that is wholly an integer counts", () => {
    expect(field(1, [1, 10]).got).toBe(1);
    expect(field(10, [1, 10]).got).toBe(10);
    expect(field(" 7 ", [1, 10]).got).toBe(7);
    expect(field("+7", [1, 10]).got).toBe(7);
    expect(field(0, [1, 10])).toEqual({
      got: 99,
      problems: ["p:k.f = 0 is invalid: must be an integer in [1, 10]"],
    });
    expect(field(11, [1, 10]).got).toBe(99);
    expect(field(1.5, [1, 10]).got).toBe(99);
    expect(field("1.5", [1, 10]).problems).toEqual([
      'p:k.f = "1.5" is invalid: must be an integer in [1, 10]',
    ]);
    expect(field(true, [0, 10]).got).toBe(99);
  });

  test("decimals: (min, max]", () => {
    expect(field(1, [0, 1], true).got).toBe(1);
    expect(field("0.25", [0, 1], true).got).toBe(0.25);
    expect(field(".5", [0, 1], true).got).toBe(0.5);
    expect(field("1e-1", [0, 1], true).got).toBe(0.1);
    expect(field(0, [0, 1], true)).toEqual({
      got: 99,
      problems: ["p:k.f = 0 is invalid: must be a number in (0, 1]"],
    });
    expect(field(1.01, [0, 1], true).got).toBe(99);
    expect(field("x", [0, 1], true).got).toBe(99);
  });

  test("absent: the default, no problem", () => {
    const r = reader({});
    expect(numberField(r, "k", {}, "f", 5, [1, 10])).toBe(5);
    expect(r.problems).toEqual([]);
  });
});

test("unknownFields names each unknown field with the allowed ones", () => {
  const r = reader({});
  unknownFields(r, "k", { a: 1, zz: 2, yy: "x" }, ["a", "b"]);
  expect(r.problems).toEqual([
    "p:k.zz = 2 is invalid: unknown setting; allowed: a, b",
    'p:k.yy = "x" is invalid: unknown setting; allowed: a, b',
  ]);
});

describe("readAutoscale", () => {
  test("not set: none; set: defaults for what it leaves out", () => {
    expect(readAutoscale(reader({}))).toBeUndefined();
    expect(readAutoscale(reader({ autoscale: {} }))).toEqual({
      minInstances: 1,
      maxInstances: 3,
      cpuTarget: 70,
      cooldownMinutes: 5,
    });
  });

  test("each field's bounds; min above max is refused; min equal to max is fine", () => {
    const r = reader({ autoscale: { minInstances: 4, maxInstances: 4, cpuTarget: 95, cooldownMinutes: 60 } });
    expect(readAutoscale(r)).toEqual({
      minInstances: 4,
      maxInstances: 4,
      cpuTarget: 95,
      cooldownMinutes: 60,
    });
    expect(r.problems).toEqual([]);
    const bad = reader({
      autoscale: { minInstances: 5, maxInstances: 4, cpuTarget: 96, cooldownMinutes: 0, x: 1 },
    });
    readAutoscale(bad);
    expect(bad.problems).toEqual([
      "p:autoscale.x = 1 is invalid: unknown setting; allowed: minInstances, maxInstances, cpuTarget, cooldownMinutes",
      "p:autoscale.cpuTarget = 96 is invalid: must be an integer in [10, 95]",
      "p:autoscale.cooldownMinutes = 0 is invalid: must be an integer in [1, 60]",
      "p:autoscale.minInstances = 5 is invalid: must not exceed autoscale.maxInstances (4)",
    ]);
  });
});

describe("readSweep", () => {
  test("not set: none; {} : the defaults, nothing marked as given", () => {
    expect(readSweep(reader({}))).toBeUndefined();
    const s = readSweep(reader({ sweep: {} }))!;
    expect(s).toMatchObject({
      trials: 8,
      concurrency: 2,
      sampling: "random",
      earlyTermination: "bandit",
      slackFactor: 0.1,
      evaluationInterval: 1,
      delayEvaluation: 3,
    });
    expect([...sweepFieldsGiven(s)]).toEqual([]);
  });

  test("concurrency and batchSize as given (strings too) are marked given", () => {
    const s = readSweep(reader({ sweep: { concurrency: "3", batchSize: ["64", 128] } }))!;
    expect(s.concurrency).toBe(3);
    expect(s.searchSpace.batchSize).toEqual([64, 128]);
    expect([...sweepFieldsGiven(s)].sort()).toEqual(["batchSize", "concurrency"]);
  });

  test("grid: ranges refused, choices kept (deduplicated); bayesian: uniform learning rate, no early termination", () => {
    const r = reader({
      sweep: { sampling: "grid", learningRate: [0.001, 0.01], dropout: { choice: [0.2, 0.2, 0.4] } },
    });
    const g = readSweep(r)!;
    expect(g.searchSpace.learningRate).toEqual({ choice: [0.001, 0.003, 0.01] });
    expect(g.searchSpace.dropout).toEqual({ choice: [0.2, 0.4] });
    expect(r.problems).toEqual([
      "p:sweep.learningRate = [0.001,0.01] is invalid: must be a choice of values with sweep.sampling grid (Azure ML's grid takes only choice hyperparameters): write {choice: [0.001, 0.01]}, or leave it out for {choice: [0.001, 0.003, 0.01]}",
    ]);
    const b = readSweep(reader({ sweep: { sampling: "bayesian" } }))!;
    expect(b.earlyTermination).toBe("none");
    expect(b.searchSpace).toMatchObject({ learningRateUniform: true });
    const rb = reader({ sweep: { sampling: "bayesian", earlyTermination: "median" } });
    readSweep(rb);
    expect(rb.problems[0]).toMatch(
      /^p:sweep.earlyTermination = "median" is invalid: must be none with sweep.sampling bayesian/,
    );
  });

  test("values outside (0, 1), empty choices and unknown samplings are refused with the defaults kept", () => {
    const r = reader({
      sweep: { sampling: "sobol", learningRate: [0.5, 0.1], dropout: { choice: [] }, batchSize: [0] },
    });
    const s = readSweep(r)!;
    expect(s.sampling).toBe("random");
    expect(r.problems).toEqual([
      'p:sweep.sampling = "sobol" is invalid: must be one of random, grid, bayesian',
      "p:sweep.learningRate = [0.5,0.1] is invalid: must be [min, max] with 0 < min < max < 1, or {choice: [values]} with each value in (0, 1)",
      "p:sweep.batchSize = [0] is invalid: must be a non-empty list of integers in [1, 4096]",
      'p:sweep.dropout = {"choice":[]} is invalid: must be [min, max] with 0 < min < max < 1, or {choice: [values]} with each value in (0, 1)',
    ]);
  });
});

describe("readSweep: malformed lists in the search space", () => {
  const RANGE_RULE =
    "must be [min, max] with 0 < min < max < 1, or {choice: [values]} with each value in (0, 1)";
  /** What `dropout: value` reads to (random sampling) and the problems it raises. */
  const dropout = (value: unknown) => {
    const r = reader({ sweep: { dropout: value } });
    return { got: readSweep(r)!.searchSpace.dropout, problems: r.problems };
  };

  test.each<[string, unknown]>([
    ["a nested list", [[0.2], [0.5]]],
    ["a string among numbers", [0.2, "x"]],
    ["a boolean among numbers", [true, 0.5]],
    ["an object among numbers", [{ a: 0.2 }, 0.5]],
    ["null among numbers", [null, 0.5]],
    ["a bound at 0", [0, 0.5]],
    ["a bound at 1", [0.5, 1]],
    ["one value out of (0, 1)", [0.5, 2]],
    ["min equal to max", [0.5, 0.5]],
    ["three values", [0.1, 0.2, 0.3]],
    ["one value", [0.1]],
    ["null", null],
    ["a number", 0.5],
    ["a string", "0.2"],
    ["a choice of nested lists", { choice: [[0.5]] }],
    ["a choice with a string", { choice: [0.5, "x"] }],
    ["a choice with a value out of (0, 1)", { choice: [0.5, 2] }],
    ["a choice with 0", { choice: [0, 0.5] }],
    ["a choice with 1", { choice: [0.5, 1] }],
    ["a choice that is a string", { choice: "ab" }],
    ["a choice that is a number", { choice: 0.5 }],
    ["a choice of null", { choice: null }],
    ["a choice with another field", { choice: [0.5], extra: 1 }],
    ["a choice with a length field", { choice: [0.2], length: 2 }],
    ["an object without a choice", { values: [0.2, 0.5] }],
  ])("%s is refused and the default kept", (_what, value) => {
    expect(dropout(value)).toEqual({
      got: [0.25, 0.5],
      problems: [`p:sweep.dropout = ${JSON.stringify(value)} is invalid: ${RANGE_RULE}`],
    });
  });

  test("inside (0, 1) just off each bound, and strings a --path set stores, are taken", () => {
    expect(dropout([0.001, 0.999])).toEqual({ got: [0.001, 0.999], problems: [] });
    expect(dropout(["0.1", "0.3"])).toEqual({ got: [0.1, 0.3], problems: [] });
    expect(dropout({ choice: ["0.1", 0.3, 0.999] })).toEqual({
      got: { choice: [0.1, 0.3, 0.999] },
      problems: [],
    });
  });

  test("grid: a malformed list is refused and the grid's choices kept", () => {
    const r = reader({ sweep: { sampling: "grid", learningRate: [0.5, "x"] } });
    expect(readSweep(r)!.searchSpace.learningRate).toEqual({ choice: [0.001, 0.003, 0.01] });
    expect(r.problems).toEqual([`p:sweep.learningRate = [0.5,"x"] is invalid: ${RANGE_RULE}`]);
  });

  const BATCH_RULE = "must be a non-empty list of integers in [1, 4096]";
  const batch = (value: unknown) => {
    const r = reader({ sweep: { batchSize: value } });
    const s = readSweep(r)!;
    return {
      got: s.searchSpace.batchSize,
      given: sweepFieldsGiven(s).has("batchSize"),
      problems: r.problems,
    };
  };

  test.each<[string, unknown]>([
    ["an empty list", []],
    ["0", [64, 0]],
    ["4097", [4097]],
    ["a fraction", [64, 1.5]],
    ["a decimal string", ["64.0"]],
    ["a string", [64, "x"]],
    ["a boolean", [true]],
    ["a nested list", [[64]]],
    ["null in the list", [null]],
    ["a number, not a list", 64],
    ["a string, not a list", "64"],
    ["a choice", { choice: [64] }],
    ["null", null],
  ])("batchSize: %s is refused and the default kept", (_what, value) => {
    expect(batch(value)).toEqual({
      got: [64, 128, 256],
      given: false,
      problems: [`p:sweep.batchSize = ${JSON.stringify(value)} is invalid: ${BATCH_RULE}`],
    });
  });

  test("batchSize: both bounds inclusive; integer strings count", () => {
    expect(batch([1, 4096])).toEqual({ got: [1, 4096], given: true, problems: [] });
    expect(batch(["1", " 4096 "])).toEqual({ got: [1, 4096], given: true, problems: [] });
  });

  test("values that are not integers as written never count as given, even when they equal the default", () => {
    const r = reader({ sweep: { concurrency: "2.0", batchSize: ["64.0", "128.0", "256.0"] } });
    const s = readSweep(r)!;
    expect(s.concurrency).toBe(2);
    expect(s.searchSpace.batchSize).toEqual([64, 128, 256]);
    expect([...sweepFieldsGiven(s)]).toEqual([]);
    expect(r.problems).toEqual([
      'p:sweep.batchSize = ["64.0","128.0","256.0"] is invalid: must be a non-empty list of integers in [1, 4096]',
      'p:sweep.concurrency = "2.0" is invalid: must be an integer in [1, 100]',
    ]);
  });

  test("the default values written out count as given", () => {
    const s = readSweep(reader({ sweep: { concurrency: 2, batchSize: [64, 128, 256] } }))!;
    expect([...sweepFieldsGiven(s)].sort()).toEqual(["batchSize", "concurrency"]);
  });

  test("an unknown sweep field is named with the allowed ones", () => {
    const r = reader({ sweep: { trails: 3 } });
    expect(readSweep(r)!.trials).toBe(8);
    expect(r.problems).toEqual([
      "p:sweep.trails = 3 is invalid: unknown setting; allowed: trials, concurrency, sampling, learningRate, batchSize, dropout, earlyTermination, slackFactor, evaluationInterval, delayEvaluation",
    ]);
  });

  test("each number field's bounds", () => {
    const ok = reader({
      sweep: { trials: 1000, concurrency: 100, slackFactor: 1, evaluationInterval: 100, delayEvaluation: 0 },
    });
    expect(readSweep(ok)).toMatchObject({
      trials: 1000,
      concurrency: 100,
      slackFactor: 1,
      evaluationInterval: 100,
      delayEvaluation: 0,
    });
    expect(ok.problems).toEqual([]);
    const bad = reader({
      sweep: { trials: 0, concurrency: 101, slackFactor: 0, evaluationInterval: 0, delayEvaluation: 101 },
    });
    expect(readSweep(bad)).toMatchObject({
      trials: 8,
      concurrency: 2,
      slackFactor: 0.1,
      evaluationInterval: 1,
      delayEvaluation: 3,
    });
    expect(bad.problems).toEqual([
      "p:sweep.trials = 0 is invalid: must be an integer in [1, 1000]",
      "p:sweep.concurrency = 101 is invalid: must be an integer in [1, 100]",
      "p:sweep.slackFactor = 0 is invalid: must be a number in (0, 1]",
      "p:sweep.evaluationInterval = 0 is invalid: must be an integer in [1, 100]",
      "p:sweep.delayEvaluation = 101 is invalid: must be an integer in [0, 100]",
    ]);
  });
});

test("readSweep: earlyTermination none, bandit or median as written; anything else refused with the default kept", () => {
  for (const policy of ["none", "bandit", "median"]) {
    const r = reader({ sweep: { earlyTermination: policy } });
    expect(readSweep(r)!.earlyTermination).toBe(policy);
    expect(r.problems).toEqual([]);
  }
  const bad = reader({ sweep: { earlyTermination: "truncation" } });
  expect(readSweep(bad)!.earlyTermination).toBe("bandit");
  expect(bad.problems).toEqual([
    'p:sweep.earlyTermination = "truncation" is invalid: must be one of none, bandit, median',
  ]);
});
