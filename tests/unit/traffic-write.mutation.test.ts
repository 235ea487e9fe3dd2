// lib/azureml/traffic.ts's writes (writeTraffic, moveTraffic) against an in-process fake ARM: the PUT, the 409
// retry that re-reads, the re-reads until the endpoint reports the target, and the failures.
import {
  INTENT_TAG,
  SERVING_TAG,
  moveTraffic,
  writeTraffic,
  type EndpointBody,
} from "../../lib/azureml/traffic";
import { parseWorkspaceChildId } from "../../lib/azureml/ids";
import { fakeArm, type FakeRequest } from "./support/fakeArm";
import { ENDPOINT_ID } from "./support/env";

const EP = parseWorkspaceChildId(ENDPOINT_ID, ["onlineEndpoints"]);
const O = { pollMs: 0, timeoutMs: 60_000, cli: "test" };

/**
 * An endpoint that takes PUTs: `conflicts` 409s first, then the body is stored; the GET shows the stored traffic
 * only after `lag` more reads, in `state` (Succeeded unless told).
 */
function endpoint(initial: EndpointBody, o: { conflicts?: number; lag?: number; state?: string } = {}) {
  let current: EndpointBody = structuredClone(initial);
  let conflicts = o.conflicts ?? 0;
  let lag = 0;
  let shown: EndpointBody = current;
  const puts: EndpointBody[] = [];
  const world = fakeArm((req: FakeRequest) => {
    if (req.path !== ENDPOINT_ID) return undefined;
    if (req.method === "PUT") {
      if (conflicts-- > 0) return { status: 409, body: { error: { code: "Conflict", message: "busy" } } };
      puts.push(req.body as EndpointBody);
      current = { ...current, ...(req.body as EndpointBody) };
      lag = o.lag ?? 0;
      return { status: 200, body: current };
    }
    if (req.method === "GET") {
      if (lag-- <= 0) shown = current;
      const state = o.state ?? "Succeeded";
      return {
        status: 200,
        body: { ...shown, properties: { ...shown.properties, provisioningState: state } },
      };
    }
    return undefined;
  });
  return { ...world, puts, now: () => current };
}

const settled = (traffic: Record<string, number>, tags: Record<string, string> = {}): EndpointBody => ({
  location: "westeurope",
  tags,
  properties: { authMode: "Key", traffic, provisioningState: "Succeeded" },
});

describe("writeTraffic", () => {
  test("PUTs the target and returns the endpoint once it reports it, after lagging reads", async () => {
    const e = endpoint(settled({ a: 100 }), { lag: 2 });
    const after = await writeTraffic(e.arm, EP, settled({ a: 100 }), { traffic: { a: 0, b: 100 } }, O);
    expect(after.properties?.traffic).toEqual({ b: 100 });
    expect(e.puts).toEqual([
      { location: "westeurope", tags: {}, properties: { authMode: "Key", traffic: { b: 100 } } },
    ]);
    expect(e.requests.filter((r) => r.method === "GET").length).toBe(3);
  });

  test("a mirror target is awaited too", async () => {
    const e = endpoint(settled({ a: 100 }));
    const after = await writeTraffic(
      e.arm,
      EP,
      settled({ a: 100 }),
      { traffic: { a: 100 }, mirrorTraffic: { b: 20 } },
      O,
    );
    expect(after.properties?.mirrorTraffic).toEqual({ b: 20 });
  });

  test("409: re-reads the endpoint and PUTs again, keeping what another writer changed", async () => {
    const e = endpoint(settled({ a: 100 }, { other: "x" }), { conflicts: 1 });
    await writeTraffic(e.arm, EP, settled({ a: 100 }), { traffic: { b: 100 } }, O);
    expect(e.puts.length).toBe(1);
    expect(e.puts[0].tags).toEqual({ other: "x" });
  });

  test("an endpoint that ends Failed is an error naming its traffic", async () => {
    const e = endpoint(settled({ a: 100 }), { state: "Failed" });
    await expect(writeTraffic(e.arm, EP, settled({ a: 100 }), { traffic: { b: 100 } }, O)).rejects.toThrow(
      "endpoint ep-1 is Failed after the traffic update (traffic b=100)",
    );
  });

  test("an endpoint that never reports the target fails at the deadline", async () => {
    const e = endpoint(settled({ a: 100 }), { lag: 1_000_000 });
    const started = Date.now() - 120_000;
    await expect(
      writeTraffic(e.arm, EP, settled({ a: 100 }), { traffic: { b: 100 } }, { ...O, started }),
    ).rejects.toThrow("endpoint ep-1 still reports a=100 (Succeeded) after 1m00s");
  });
});

describe("moveTraffic", () => {
  test("100 % to the deployment, recording it as serving and ending any mirror", async () => {
    const e = endpoint({
      ...settled({ a: 100 }),
      properties: { traffic: { a: 100 }, mirrorTraffic: { c: 10 } },
    });
    const r = await moveTraffic(e.arm, EP, "b", false, O);
    expect(r).toEqual({ traffic: { b: 100 }, changed: true });
    expect(e.puts[0].tags).toEqual({ [SERVING_TAG]: "b" });
    expect(e.puts[0].properties?.mirrorTraffic).toEqual({});
  });

  test("already there: nothing written", async () => {
    const e = endpoint(settled({ b: 100 }, { [SERVING_TAG]: "b" }));
    expect(await moveTraffic(e.arm, EP, "b", false, O)).toEqual({ traffic: { b: 100 }, changed: false });
    expect(e.puts).toEqual([]);
  });

  test("removing: the others scaled up, the mirror kept as it is, the record dropped when it names it", async () => {
    const e = endpoint({
      ...settled({ a: 50, b: 50 }, { [SERVING_TAG]: "b", [INTENT_TAG]: "x" }),
      properties: { traffic: { a: 50, b: 50 }, mirrorTraffic: { c: 10 } },
    });
    expect(await moveTraffic(e.arm, EP, "b", true, O)).toEqual({ traffic: { a: 100 }, changed: true });
    expect(e.puts[0].tags).toEqual({ [INTENT_TAG]: "x" });
    expect(e.puts[0].properties?.mirrorTraffic).toEqual({ c: 10 });
  });

  test("a gone endpoint: nothing to move when removing, an error otherwise; a given endpoint is not read", async () => {
    const gone = fakeArm(() => undefined);
    expect(await moveTraffic(gone.arm, EP, "b", true, O)).toEqual({ traffic: {}, changed: false });
    await expect(moveTraffic(gone.arm, EP, "b", false, O)).rejects.toThrow(
      `endpoint ep-1 not found (${ENDPOINT_ID})`,
    );
    const e = endpoint(settled({ b: 100 }, { [SERVING_TAG]: "b" }));
    const r = await moveTraffic(e.arm, EP, "b", true, { ...O, current: settled({ a: 100 }) });
    expect(r).toEqual({ traffic: { a: 100 }, changed: false });
    expect(e.requests).toEqual([]);
  });
});
