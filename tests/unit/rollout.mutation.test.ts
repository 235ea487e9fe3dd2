// ops/rollout.ts's option checks: the mirror's limit, the sample call a watch needs, the limits it judges by.
import { parseRolloutArgs } from "../../ops/rollout";
import { MAX_MIRROR_PERCENT } from "../../lib/core/azureRules";
import { ENDPOINT_ID } from "./support/env";

const base = ["--endpoint-id", ENDPOINT_ID, "--deployment", "d-new"];
const uri = ["--uri", "https://ep-1.westeurope.inference.ml.azure.com/score", "--auth", "AMLToken"];

test("direct: no sample call needed; every limit and period converted", () => {
  const o = parseRolloutArgs([
    ...base,
    ...["--watch-minutes", "2", "--interval-seconds", "3", "--max-error-rate", "0.2"],
    ...["--max-p95-ms", "700", "--min-requests", "5", "--log-lines", "9", "--retire-failed"],
  ])!;
  expect(o).toMatchObject({
    deployment: "d-new",
    mode: "direct",
    percent: 10,
    watchMs: 120_000,
    intervalMs: 3000,
    limits: { maxErrorRate: 0.2, maxP95Ms: 700, minRequests: 5 },
    logLines: 9,
    removing: false,
    retireFailed: true,
    sample: undefined,
  });
  expect(o.endpoint.name).toBe("ep-1");
});

test("canary and mirror need --uri; the sample call goes to the new deployment alone", () => {
  expect(() => parseRolloutArgs([...base, "--mode", "canary"])).toThrow(
    "--mode canary needs --uri: the watch calls the new deployment itself",
  );
  expect(() => parseRolloutArgs([...base, "--mode", "mirror"])).toThrow(/--mode mirror needs --uri/);
  const o = parseRolloutArgs([...base, "--mode", "canary", "--percent", "20", ...uri])!;
  expect(o.mode).toBe("canary");
  expect(o.percent).toBe(20);
  expect(o.sample).toMatchObject({ deployment: "d-new" });
});

test("mirror: at most Azure's limit; canary may go above it", () => {
  expect(MAX_MIRROR_PERCENT).toBe(50);
  expect(parseRolloutArgs([...base, "--mode", "mirror", "--percent", "50", ...uri])!.percent).toBe(50);
  expect(() => parseRolloutArgs([...base, "--mode", "mirror", "--percent", "51", ...uri])).toThrow(
    "--percent must be at most 50 with --mode mirror (Azure mirrors at most 50 % of the traffic), got '51'",
  );
  expect(parseRolloutArgs([...base, "--mode", "canary", "--percent", "60", ...uri])!.percent).toBe(60);
});

test("--delete skips the watch's checks and takes no sample call", () => {
  const o = parseRolloutArgs([...base, "--delete", "--mode", "mirror", "--percent", "90", ...uri])!;
  expect(o.removing).toBe(true);
  expect(o.sample).toBeUndefined();
  expect(parseRolloutArgs([...base, "--delete", "--mode", "canary"])!.removing).toBe(true);
});

test("an id that is not an endpoint's is refused", () => {
  expect(() =>
    parseRolloutArgs([
      "--endpoint-id",
      ENDPOINT_ID.replace("onlineEndpoints", "computes"),
      "--deployment",
      "d",
    ]),
  ).toThrow(/onlineEndpoints/);
});
