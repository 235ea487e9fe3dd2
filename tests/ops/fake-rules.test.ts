/**
 * The fakes refuse what Azure refuses: one named test per rule, each with its source. The rules themselves live in
 * the fakes (tests/ops/fake/*), where every CLI test meets them; these tests pin them down so that a fake cannot
 * quietly become lenient again.
 */
import { FakeEndpoint } from "./fake/endpoints";
import { FakeAzure } from "./fake/fakeAzure";
import { WS_ID } from "./scenarios";

const fake = new FakeAzure();
const ep = () =>
  new FakeEndpoint(fake, WS_ID, "mnist-rules", {
    traffic: { a: 100 },
    deployments: { a: "right", b: "right" },
  });

test("traffic: a deployment named in both maps is refused, at 0 % too (Learn how-to-safely-rollout-online-endpoints: live or mirror, not both; azure-ai-ml strips zeroes)", () => {
  expect(ep().refusal({ a: 100, b: 0 }, { b: 10 })).toContain("cannot receive both live and mirror traffic");
  expect(ep().refusal({ a: 100 }, { b: 10 })).toBeUndefined();
});

test("traffic: live sums to 0 or 100, mirror to at most 50, only known deployments (the service's messages)", () => {
  expect(ep().refusal({ a: 90 }, {})).toBe("Traffic values need to sum to 0 or 100");
  expect(ep().refusal({ a: 100 }, { b: 60 })).toBe("Traffic values need to sum to utmost 50");
  expect(ep().refusal({ zz: 100 }, {})).toContain("Deployment zz not found");
  expect(ep().refusal({}, {})).toBeUndefined();
});

test("GET shows no zero entries (azure-ai-ml get() treats absent as 0)", () => {
  const e = new FakeEndpoint(fake, WS_ID, "mnist-rules", {
    traffic: { a: 100, b: 0 },
    mirrorTraffic: { b: 0 },
    deployments: { a: "right", b: "right" },
  });
  expect(e.body().properties.traffic).toEqual({ a: 100 });
  expect(e.body().properties.mirrorTraffic).toEqual({});
});
