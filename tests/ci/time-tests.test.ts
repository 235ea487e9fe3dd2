// scripts/time-tests.ts reads the test counts from what the runners print: the numbers the README quotes come from it.
import { countsOf } from "../../scripts/time-tests";

test("jest's and pytest's closing lines, summed over the runs of a tier", () => {
  const output = [
    "206 passed, 13 deselected in 71.20s (0:01:11)",
    "Test Suites: 73 passed, 73 total",
    "Tests:       1037 passed, 1037 total",
    "13 passed, 206 deselected in 80.00s",
    "Test Suites: 4 passed, 4 total",
    "Tests:       21 passed, 21 total",
  ].join("\n");
  expect(countsOf(output)).toEqual({ jestTests: 1058, jestSuites: 77, pytestTests: 219 });
});

test("skipped or failed counts are not passed ones", () => {
  expect(
    countsOf("Tests:       2 failed, 1 skipped, 30 passed, 33 total\n4 failed, 10 passed in 1.0s"),
  ).toEqual({
    jestTests: 30,
    jestSuites: 0,
    pytestTests: 0,
  });
});
