// lib/azureml/deployments.ts: which deployment must stay, and the retirement of the others (an in-process fake ARM).
import {
  leftInPlace,
  listDeployments,
  mustKeep,
  retireFailed,
  retireStale,
} from "../../lib/azureml/deployments";
import { SERVING_TAG, type EndpointBody } from "../../lib/azureml/traffic";
import { parseWorkspaceChildId } from "../../lib/azureml/ids";
import { fakeArm, type FakeAnswer, type FakeRequest } from "./support/fakeArm";
import { ENDPOINT_ID } from "./support/env";

const EP = parseWorkspaceChildId(ENDPOINT_ID, ["onlineEndpoints"]);
const O = { pollMs: 0, timeoutMs: 60_000, cli: "test" };

describe("mustKeep", () => {
  const ep = (
    traffic: Record<string, number>,
    mirror: Record<string, number> = {},
    serving?: string,
  ): EndpointBody => ({
    tags: serving ? { [SERVING_TAG]: serving } : {},
    properties: { traffic, mirrorTraffic: mirror },
  });

  test("live traffic, mirrored traffic, or the serving record keep a deployment", () => {
    expect(mustKeep(ep({ a: 30, b: 70 }), "a")).toBe("it holds 30 % of the traffic");
    expect(mustKeep(ep({ a: 100 }, { b: 10 }), "b")).toBe("it mirrors 10 %");
    expect(mustKeep(ep({ a: 100 }, {}, "b"), "b")).toBe("it is recorded as the deployment that serves");
  });

  test("0 %, another's record, or no endpoint: it may go", () => {
    expect(mustKeep(ep({ a: 100, b: 0 }, { b: 0 }, "a"), "b")).toBeUndefined();
    expect(mustKeep(undefined, "b")).toBeUndefined();
    expect(mustKeep({}, "b")).toBeUndefined();
  });
});

test("leftInPlace: it bills, and the command that deletes it", () => {
  expect(leftInPlace(EP, "d-1")).toBe(
    "d-1 stays at 0 % for inspection and bills its instances until the next successful `pulumi up` retires it; " +
      "to stop that now: az ml online-deployment delete -n d-1 -e ep-1 -g rg-a -w mlw-a --yes",
  );
});

/** An endpoint with deployments; a DELETE removes one (202 + Location the first time it is polled). */
function world(endpoint: EndpointBody | undefined, deployments: string[], refuse: string[] = []) {
  const alive = new Set(deployments);
  return fakeArm((req: FakeRequest): FakeAnswer | undefined => {
    if (req.path === ENDPOINT_ID && req.method === "GET")
      return endpoint ? { status: 200, body: endpoint } : undefined;
    if (req.path === `${ENDPOINT_ID}/deployments` && req.method === "GET") {
      const names = [...alive];
      // two pages: the first names a nextLink on the ARM endpoint
      if (!req.query.get("page"))
        return {
          status: 200,
          body: {
            value: names.slice(0, 1).map((name) => ({ name })),
            nextLink: `https://arm.test${ENDPOINT_ID}/deployments?page=2`,
          },
        };
      return { status: 200, body: { value: names.slice(1).map((name) => ({ name })) } };
    }
    const m = new RegExp(`^${ENDPOINT_ID}/deployments/([^/]+)$`).exec(req.path);
    if (m && req.method === "DELETE") {
      if (refuse.includes(m[1])) return { status: 400, body: { error: { code: "Bad", message: "refused" } } };
      if (!alive.has(m[1])) return undefined;
      alive.delete(m[1]);
      return { status: 200 };
    }
    if (m && req.method === "GET")
      return alive.has(m[1]) ? { status: 200, body: { properties: {} } } : undefined;
    return undefined;
  });
}

test("listDeployments: every page; a missing endpoint lists none", async () => {
  expect(await listDeployments(world({}, ["a", "b", "c"]).arm, EP)).toEqual(["a", "b", "c"]);
  const none = fakeArm(() => undefined);
  expect(await listDeployments(none.arm, EP)).toEqual([]);
});

describe("retireFailed", () => {
  test("deleted when nothing needs it", async () => {
    const { arm, requests } = world({ properties: { traffic: { a: 100 } } }, ["a", "b"]);
    expect(await retireFailed(arm, EP, "b", O)).toBe(
      "b was deleted (it would bill while it stands); the next `pulumi up` creates it again if it is still wanted.",
    );
    expect(requests.filter((r) => r.method === "DELETE").map((r) => r.path)).toEqual([
      `${ENDPOINT_ID}/deployments/b`,
    ]);
  });

  test("kept when it serves; said when it was gone; said with the manual command when the delete fails", async () => {
    const serving = world({ properties: { traffic: { b: 100 } } }, ["b"]);
    expect(await retireFailed(serving.arm, EP, "b", O)).toBe("b stays: it holds 100 % of the traffic.");
    expect(serving.requests.some((r) => r.method === "DELETE")).toBe(false);
    expect(await retireFailed(world({}, []).arm, EP, "b", O)).toBe("b was already gone.");
    const said = await retireFailed(world({}, ["b"], ["b"]).arm, EP, "b", O);
    expect(said).toMatch(
      /^b could not be deleted \(.*refused.*\); it bills until deleted: az ml online-deployment delete -n b/,
    );
  });
});

test("retireStale: every deployment but the kept one and those with traffic or the record; failures said and left", async () => {
  const ep: EndpointBody = {
    tags: { [SERVING_TAG]: "rec" },
    properties: { traffic: { live: 100 }, mirrorTraffic: { mir: 10 } },
  };
  const { arm, requests } = world(ep, ["keep", "live", "mir", "rec", "old1", "old2", "stuck"], ["stuck"]);
  expect(await retireStale(arm, EP, "keep", O)).toEqual(["old1", "old2"]);
  expect(requests.filter((r) => r.method === "DELETE").map((r) => r.path.split("/").pop())).toEqual([
    "old1",
    "old2",
    "stuck",
  ]);
  const empty = world(undefined, []);
  expect(await retireStale(empty.arm, EP, "keep", O)).toEqual([]);
});

/**
 * A deployment `b` whose DELETE is answered by `onDelete` (in turn), whose async operation answers `ops` statuses
 * in turn, and whose GET after the delete answers `reads` provisioning states in turn (then 404).
 */
function slowDelete(o: {
  onDelete: FakeAnswer[];
  ops?: Array<{ status: string; error?: { code: string; message: string } }>;
  reads?: string[];
}) {
  const deletes = [...o.onDelete];
  const ops = [...(o.ops ?? [])];
  const reads = [...(o.reads ?? [])];
  const DEP = `${ENDPOINT_ID}/deployments/b`;
  return fakeArm((req) => {
    if (req.path === ENDPOINT_ID && req.method === "GET") return { status: 200, body: {} };
    if (req.path === DEP && req.method === "DELETE") return deletes.shift() ?? { status: 200 };
    if (req.path === "/ops/1" && req.method === "GET")
      return { status: 200, body: ops.shift() ?? { status: "Succeeded" } };
    if (req.path === DEP && req.method === "GET") {
      const state = reads.shift();
      return state === undefined
        ? undefined
        : { status: 200, body: { properties: { provisioningState: state } } };
    }
    return undefined;
  });
}
const ASYNC = { status: 202, headers: { "azure-asyncoperation": "https://arm.test/ops/1" } };
const DELETED =
  "b was deleted (it would bill while it stands); the next `pulumi up` creates it again if it is still wanted.";

describe("retireFailed: the delete as ARM answers it", () => {
  test("a long-running delete is followed to its end", async () => {
    const { arm, requests } = slowDelete({
      onDelete: [ASYNC],
      ops: [{ status: "InProgress" }, { status: "InProgress" }],
    });
    expect(await retireFailed(arm, EP, "b", O)).toBe(DELETED);
    expect(requests.filter((r) => r.path === "/ops/1").length).toBe(3);
  });

  test("a long-running delete that fails: said with the operation's name and the manual command", async () => {
    const { arm } = slowDelete({
      onDelete: [ASYNC],
      ops: [{ status: "Failed", error: { code: "Busy", message: "the node is draining" } }],
    });
    expect(await retireFailed(arm, EP, "b", O)).toBe(
      "b could not be deleted (delete of b failed: Busy: the node is draining); it bills until deleted: " +
        "az ml online-deployment delete -n b -e ep-1 -g rg-a -w mlw-a --yes",
    );
  });

  test("a long-running delete still running at the deadline: said, with the operation's name", async () => {
    const { arm } = slowDelete({ onDelete: [ASYNC], ops: Array(50).fill({ status: "InProgress" }) });
    const said = await retireFailed(arm, EP, "b", { ...O, pollMs: 5, timeoutMs: 20 });
    expect(said).toMatch(/^b could not be deleted \(delete of b: the operation did not finish within /);
  });

  test("a 409 (busy) is retried until the delete goes through", async () => {
    const busy: FakeAnswer = { status: 409, body: { error: { code: "Conflict", message: "busy" } } };
    const { arm, requests } = slowDelete({ onDelete: [busy, busy] });
    expect(await retireFailed(arm, EP, "b", O)).toBe(DELETED);
    expect(requests.filter((r) => r.method === "DELETE").length).toBe(3);
  });

  test("a 409 past the deadline stands: said", async () => {
    const busy: FakeAnswer = { status: 409, body: { error: { code: "Conflict", message: "busy" } } };
    const { arm, requests } = slowDelete({ onDelete: [busy, busy, busy] });
    const said = await retireFailed(arm, EP, "b", { ...O, timeoutMs: -1 });
    expect(said).toMatch(/^b could not be deleted \(.*409.*busy.*\); it bills until deleted: /);
    expect(requests.filter((r) => r.method === "DELETE").length).toBe(1);
  });

  test("still there after the delete: read again until it is gone", async () => {
    const { arm, requests } = slowDelete({ onDelete: [{ status: 200 }], reads: ["Deleting", "Deleting"] });
    expect(await retireFailed(arm, EP, "b", O)).toBe(DELETED);
    expect(requests.filter((r) => r.method === "GET" && r.path.endsWith("/deployments/b")).length).toBe(3);
  });

  test("still there past the deadline: said, with its state", async () => {
    const { arm } = slowDelete({ onDelete: [{ status: 200 }], reads: ["Deleting", "Deleting"] });
    expect(await retireFailed(arm, EP, "b", { ...O, timeoutMs: -1 })).toBe(
      "b could not be deleted (deployment b is still Deleting after its delete); it bills until deleted: " +
        "az ml online-deployment delete -n b -e ep-1 -g rg-a -w mlw-a --yes",
    );
  });
});

describe("retireStale: the endpoint as it reads at each delete", () => {
  test("a deployment that took traffic since the listing is kept, said, and not counted as retired", async () => {
    let reads = 0;
    const logged: string[] = [];
    const write = jest.spyOn(process.stderr, "write").mockImplementation((s) => {
      logged.push(String(s));
      return true;
    });
    try {
      const { arm, requests } = fakeArm((req) => {
        if (req.path === ENDPOINT_ID && req.method === "GET")
          // the first read (the listing's) has no traffic on b; b takes 10 % before its delete
          return {
            status: 200,
            body: { properties: { traffic: reads++ === 0 ? { a: 100 } : { a: 90, b: 10 } } },
          };
        if (req.path === `${ENDPOINT_ID}/deployments` && req.method === "GET")
          return { status: 200, body: { value: [{ name: "a" }, { name: "b" }] } };
        return undefined;
      });
      expect(await retireStale(arm, EP, "keep", O)).toEqual([]);
      expect(requests.some((r) => r.method === "DELETE")).toBe(false);
      expect(logged.join("")).toContain("  b stays: it holds 10 % of the traffic.");
      expect(logged.join("")).not.toMatch(/\ba holds no traffic/);
    } finally {
      write.mockRestore();
    }
  });
});
