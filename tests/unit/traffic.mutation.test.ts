// lib/azureml/traffic.ts's pure decisions: the PUT body, the splits, the rollout plan and where a rollout starts.
import {
  INTENT_TAG,
  SERVING_TAG,
  canaryTraffic,
  decideTraffic,
  formatTraffic,
  nonZero,
  putBody,
  rollbackTraffic,
  rolloutPlan,
  rolloutStart,
  sameTraffic,
  scaleShares,
  servingBesides,
  trafficAllTo,
  trafficWithout,
  withRolloutTags,
  type EndpointBody,
} from "../../lib/azureml/traffic";

describe("putBody", () => {
  const endpoint: EndpointBody = {
    id: "/x/onlineEndpoints/e",
    name: "e",
    type: "Microsoft.MachineLearningServices/workspaces/onlineEndpoints",
    location: "westeurope",
    kind: "Managed",
    tags: { owner: "me" },
    sku: { name: "Default", capacity: 1 },
    identity: { type: "SystemAssigned", principalId: "p", tenantId: "t" },
    systemData: { createdBy: "x" },
    properties: {
      authMode: "Key",
      description: "d",
      traffic: { old: 100 },
      provisioningState: "Succeeded",
      scoringUri: "https://s",
      swaggerUri: "https://w",
    },
  };

  test("keeps every writable field (sku included), drops the read-only ones, sets the traffic", () => {
    expect(putBody(endpoint, { old: 0, new: 100 })).toEqual({
      location: "westeurope",
      kind: "Managed",
      tags: { owner: "me" },
      sku: { name: "Default", capacity: 1 },
      identity: { type: "SystemAssigned" },
      properties: { authMode: "Key", description: "d", traffic: { new: 100 } },
    });
  });

  test("fields the GET did not have are not invented", () => {
    const body = putBody({ location: "l", properties: {} }, { a: 100 });
    expect(body).toEqual({ location: "l", properties: { traffic: { a: 100 } } });
    expect("sku" in body).toBe(false);
    expect("kind" in body).toBe(false);
    expect("tags" in body).toBe(false);
    expect("identity" in body).toBe(false);
    expect(putBody({ location: "l" }, {}).properties).toEqual({ traffic: {} });
  });

  test("user-assigned identities are sent as their ids with empty objects", () => {
    const body = putBody(
      {
        location: "l",
        identity: { type: "UserAssigned", userAssignedIdentities: { "/id/1": { clientId: "c" } } },
      },
      {},
    );
    expect(body.identity).toEqual({ type: "UserAssigned", userAssignedIdentities: { "/id/1": {} } });
  });

  test("a given mirror loses the deployments going live and its zeroes", () => {
    const body = putBody(endpoint, { a: 90, b: 10 }, { b: 20, c: 10, d: 0 });
    expect(body.properties?.mirrorTraffic).toEqual({ c: 10 });
  });

  test("the endpoint's own mirror is kept, minus the deployments going live", () => {
    const ep = { ...endpoint, properties: { ...endpoint.properties, mirrorTraffic: { b: 10, c: 20, z: 0 } } };
    expect(putBody(ep, { a: 100, b: 0 }).properties?.mirrorTraffic).toEqual({ b: 10, c: 20 });
    expect(putBody(ep, { c: 100 }).properties?.mirrorTraffic).toEqual({ b: 10 });
    const notObject = { ...endpoint, properties: { ...endpoint.properties, mirrorTraffic: "x" as never } };
    expect(putBody(notObject, { a: 100 }).properties?.mirrorTraffic).toBe("x");
  });

  test("rollout tags are set and removed in the same body", () => {
    const ep = { ...endpoint, tags: { owner: "me", [INTENT_TAG]: "d canary 10" } };
    expect(putBody(ep, { d: 100 }, undefined, { [SERVING_TAG]: "d", [INTENT_TAG]: undefined }).tags).toEqual({
      owner: "me",
      [SERVING_TAG]: "d",
    });
    expect(putBody({ location: "l" }, {}, undefined, { [SERVING_TAG]: "d" }).tags).toEqual({
      [SERVING_TAG]: "d",
    });
  });
});

test("withRolloutTags: no change keeps the tags as they are (undefined included)", () => {
  const tags = { a: "1" };
  expect(withRolloutTags(tags, undefined)).toBe(tags);
  expect(withRolloutTags(undefined, undefined)).toBeUndefined();
  expect(withRolloutTags(undefined, {})).toEqual({});
  expect(tags).toEqual({ a: "1" });
});

test("nonZero drops the 0 % entries only", () => {
  expect(nonZero({ a: 0, b: 5, c: 100 })).toEqual({ b: 5, c: 100 });
  expect(nonZero(undefined)).toEqual({});
});

describe("splits", () => {
  test("trafficAllTo: the deployment at 100, every other named at 0", () => {
    expect(trafficAllTo({ a: 60, b: 40 }, "c")).toEqual({ a: 0, b: 0, c: 100 });
    expect(trafficAllTo(undefined, "c")).toEqual({ c: 100 });
  });

  test("scaleShares: largest remainder, ties to the earlier entry, sums to the total", () => {
    expect(
      scaleShares(
        [
          ["a", 1],
          ["b", 1],
          ["c", 1],
        ],
        100,
      ),
    ).toEqual({ a: 34, b: 33, c: 33 });
    expect(
      scaleShares(
        [
          ["a", 1],
          ["b", 2],
        ],
        100,
      ),
    ).toEqual({ a: 33, b: 67 });
    expect(
      scaleShares(
        [
          ["a", 50],
          ["b", 50],
        ],
        90,
      ),
    ).toEqual({ a: 45, b: 45 });
    expect(
      scaleShares(
        [
          ["a", 0],
          ["b", -5],
        ],
        100,
      ),
    ).toEqual({ a: 0, b: 0 });
    expect(
      scaleShares(
        [
          ["a", -5],
          ["b", 5],
        ],
        100,
      ),
    ).toEqual({ a: 0, b: 100 });
    expect(scaleShares([], 100)).toEqual({});
    expect(
      scaleShares(
        [
          ["a", 2],
          ["b", 1],
          ["c", 1],
          ["d", 1],
          ["e", 1],
          ["f", 1],
        ],
        10,
      ),
    ).toEqual({
      a: 3,
      b: 2,
      c: 2,
      d: 1,
      e: 1,
      f: 1,
    });
  });

  test("trafficWithout: the others scaled back to 100, or all 0", () => {
    expect(trafficWithout({ a: 50, b: 25, c: 25 }, "a")).toEqual({ b: 50, c: 50 });
    expect(trafficWithout({ a: 100, b: 0 }, "a")).toEqual({ b: 0 });
    expect(trafficWithout(undefined, "a")).toEqual({});
  });

  test("servingBesides: the others with live traffic", () => {
    expect(servingBesides({ a: 50, b: 50, c: 0, d: 0 }, "a")).toEqual(["b"]);
    expect(servingBesides(undefined, "a")).toEqual([]);
  });

  test("canaryTraffic and rollbackTraffic", () => {
    expect(canaryTraffic({ a: 75, b: 25 }, "n", 20)).toEqual({ a: 60, b: 20, n: 20 });
    expect(canaryTraffic(undefined, "n", 10)).toEqual({ n: 10 });
    expect(rollbackTraffic({ a: 75, b: 15, n: 10 }, "n")).toEqual({ a: 83, b: 17, n: 0 });
  });

  test("sameTraffic: absent is 0", () => {
    expect(sameTraffic({ a: 100, b: 0 }, { a: 100 })).toBe(true);
    expect(sameTraffic(undefined, { a: 0 })).toBe(true);
    expect(sameTraffic({ a: 90 }, { a: 100 })).toBe(false);
    expect(sameTraffic({ a: 100 }, { a: 100, b: 1 })).toBe(false);
    expect(sameTraffic({ b: 1 }, {})).toBe(false);
  });

  test("formatTraffic", () => {
    expect(formatTraffic({ a: 90, b: 10 })).toBe("a=90, b=10");
    expect(formatTraffic({})).toBe("(none)");
    expect(formatTraffic(undefined)).toBe("(none)");
  });
});

describe("rolloutPlan", () => {
  test("canary: stage a share, pass 100 %, roll back to what served; tags record each", () => {
    expect(rolloutPlan("canary", { old: 100 }, "new", 10)).toEqual({
      stage: { traffic: { old: 90, new: 10 }, tags: { [INTENT_TAG]: "new canary 10" } },
      pass: {
        traffic: { new: 100 },
        mirrorTraffic: {},
        tags: { [SERVING_TAG]: "new", [INTENT_TAG]: undefined },
      },
      rollback: { traffic: { old: 100 }, mirrorTraffic: {}, tags: { [INTENT_TAG]: undefined } },
    });
  });

  test("mirror: live traffic stays, the new one gets a copy", () => {
    expect(rolloutPlan("mirror", { old: 100, new: 0 }, "new", 20)).toEqual({
      stage: { traffic: { old: 100 }, mirrorTraffic: { new: 20 }, tags: { [INTENT_TAG]: "new mirror 20" } },
      pass: {
        traffic: { new: 100 },
        mirrorTraffic: {},
        tags: { [SERVING_TAG]: "new", [INTENT_TAG]: undefined },
      },
      rollback: { traffic: { old: 100 }, mirrorTraffic: {}, tags: { [INTENT_TAG]: undefined } },
    });
  });
});

describe("decideTraffic", () => {
  const settled = (traffic: Record<string, number>, tags: Record<string, string> = {}): EndpointBody => ({
    tags,
    properties: { traffic, provisioningState: "Succeeded" },
  });

  test("removing a deployment without traffic: nothing to do", () => {
    expect(decideTraffic(settled({ a: 100, b: 0 }), "b", true)).toEqual({
      unchanged: "deployment b holds no traffic; leaving the endpoint as it is",
    });
    expect(decideTraffic({}, "b", true)).toHaveProperty("unchanged");
  });

  test("removing one that serves: the others scaled up; the record dropped only when it names it", () => {
    expect(decideTraffic(settled({ a: 50, b: 50 }, { [SERVING_TAG]: "b" }), "b", true)).toEqual({
      target: { a: 100 },
      tags: { [SERVING_TAG]: undefined },
    });
    expect(decideTraffic(settled({ a: 50, b: 50 }, { [SERVING_TAG]: "a" }), "b", true)).toEqual({
      target: { a: 100 },
      tags: {},
    });
  });

  test("100 % already, recorded, no intent, no mirror, Succeeded: unchanged", () => {
    expect(decideTraffic(settled({ a: 100 }, { [SERVING_TAG]: "a" }), "a", false)).toEqual({
      unchanged: "a already has 100 %",
    });
  });

  test("any of those missing: written again, recording the deployment", () => {
    const write = { target: { a: 100 }, tags: { [SERVING_TAG]: "a", [INTENT_TAG]: undefined } };
    expect(decideTraffic(settled({ a: 100 }), "a", false)).toEqual(write);
    expect(
      decideTraffic(settled({ a: 100 }, { [SERVING_TAG]: "a", [INTENT_TAG]: "a canary 10" }), "a", false),
    ).toEqual(write);
    const mirrored: EndpointBody = {
      tags: { [SERVING_TAG]: "a" },
      properties: { traffic: { a: 100 }, mirrorTraffic: { b: 10 }, provisioningState: "Succeeded" },
    };
    expect(decideTraffic(mirrored, "a", false)).toEqual(write);
    const updating: EndpointBody = {
      tags: { [SERVING_TAG]: "a" },
      properties: { traffic: { a: 100 }, provisioningState: "Updating" },
    };
    expect(decideTraffic(updating, "a", false)).toEqual(write);
    expect(decideTraffic(settled({ a: 90, b: 10 }, { [SERVING_TAG]: "a" }), "a", false)).toEqual(write);
    expect(decideTraffic({}, "a", false)).toEqual(write);
  });
});

describe("rolloutStart", () => {
  const ep = (
    traffic: Record<string, number>,
    tags: Record<string, string> = {},
    mirror?: Record<string, number>,
  ) => ({ tags, properties: { traffic, ...(mirror ? { mirrorTraffic: mirror } : {}) } }) as EndpointBody;
  const all = new Set(["old", "new", "other"]);

  test("a settled endpoint: what serves besides the new one, no restore", () => {
    expect(rolloutStart(ep({ old: 100 }, { [SERVING_TAG]: "old" }), "new", all)).toEqual({
      previous: ["old"],
      base: { old: 100 },
    });
    expect(rolloutStart({}, "new", all)).toEqual({ previous: [], base: {} });
  });

  test("an interrupted canary: the recorded deployment gets 100 % back first", () => {
    const s = rolloutStart(
      ep({ old: 90, new: 10 }, { [SERVING_TAG]: "old", [INTENT_TAG]: "new canary 10" }),
      "new",
      all,
    );
    expect(s).toEqual({
      previous: ["old"],
      base: { old: 100 },
      restore: { traffic: { old: 100 }, mirrorTraffic: {}, tags: { [INTENT_TAG]: undefined } },
      note: "an earlier rollout (new canary 10) did not finish (old=90, new=10): old, which last passed, gets 100 % back first",
    });
  });

  test("a stale mirror with the record: restored; retrying the serving one has no previous", () => {
    const s = rolloutStart(ep({ old: 100 }, { [SERVING_TAG]: "old" }, { new: 20 }), "old", all);
    expect(s.previous).toEqual([]);
    expect(s.restore).toEqual({
      traffic: { old: 100 },
      mirrorTraffic: {},
      tags: { [INTENT_TAG]: undefined },
    });
    expect(s.note).toBe(
      "an earlier rollout did not finish (old=100, mirror new=20): old, which last passed, gets 100 % back first",
    );
  });

  test("a split left without intent or mirror but with the record: restored too", () => {
    const s = rolloutStart(ep({ old: 50, other: 50 }, { [SERVING_TAG]: "old" }), "new", all);
    expect(s.base).toEqual({ old: 100 });
    expect(s.restore?.traffic).toEqual({ old: 100 });
  });

  test("a recorded deployment that no longer exists is not restored", () => {
    const s = rolloutStart(ep({ other: 100 }, { [SERVING_TAG]: "gone" }), "new", all);
    expect(s).toEqual({ previous: ["other"], base: { other: 100 } });
  });

  test("no record: a stale mirror or intent is ended, the live split kept", () => {
    expect(rolloutStart(ep({ old: 100 }, {}, { new: 10 }), "new", all)).toEqual({
      previous: ["old"],
      base: { old: 100 },
      restore: { traffic: { old: 100 }, mirrorTraffic: {}, tags: { [INTENT_TAG]: undefined } },
      note: "a stale mirror or intent (new=10) is ended first",
    });
    expect(rolloutStart(ep({ old: 100 }, { [INTENT_TAG]: "new canary 5" }), "new", all).note).toBe(
      "a stale mirror or intent ((none); new canary 5) is ended first",
    );
  });
});

describe("what the tags and splits do on the wire (undefined removes a tag: strict equality)", () => {
  test("a rollback clears the intent tag; a pass records the deployment and clears it", () => {
    const plan = rolloutPlan("canary", { old: 100 }, "new", 10);
    expect(plan.rollback.tags).toStrictEqual({ [INTENT_TAG]: undefined });
    const staged: EndpointBody = {
      location: "l",
      tags: { [SERVING_TAG]: "old", [INTENT_TAG]: "new canary 10" },
    };
    expect(
      putBody(staged, plan.rollback.traffic, plan.rollback.mirrorTraffic, plan.rollback.tags).tags,
    ).toEqual({
      [SERVING_TAG]: "old",
    });
  });

  test("removing a deployment leaves another deployment's serving record alone", () => {
    const d = decideTraffic(
      {
        tags: { [SERVING_TAG]: "a" },
        properties: { traffic: { a: 50, b: 50 }, provisioningState: "Succeeded" },
      },
      "b",
      true,
    );
    expect(d).toStrictEqual({ target: { a: 100 }, tags: {} });
  });

  test("a restore always clears the intent", () => {
    const all = new Set(["old", "new"]);
    const intentOnly: EndpointBody = {
      tags: { [SERVING_TAG]: "old", [INTENT_TAG]: "new canary 10" },
      properties: { traffic: { old: 100 } },
    };
    const s = rolloutStart(intentOnly, "new", all);
    expect(s.restore).toStrictEqual({
      traffic: { old: 100 },
      mirrorTraffic: {},
      tags: { [INTENT_TAG]: undefined },
    });
    expect(s.note).toBe(
      "an earlier rollout (new canary 10) did not finish (old=100): old, which last passed, gets 100 % back first",
    );
    const noRecord: EndpointBody = { properties: { traffic: { old: 100 }, mirrorTraffic: { new: 5 } } };
    expect(rolloutStart(noRecord, "new", all).restore).toStrictEqual({
      traffic: { old: 100 },
      mirrorTraffic: {},
      tags: { [INTENT_TAG]: undefined },
    });
  });

  test("canaryTraffic rescales the others without the deployment's own old share", () => {
    expect(canaryTraffic({ a: 50, n: 50 }, "n", 20)).toEqual({ a: 80, n: 20 });
  });
});
