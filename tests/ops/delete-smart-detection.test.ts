// ops/delete-smart-detection.ts as the graph runs it on destroy, against the fake ARM: the rule Azure added for the
// component and the Smart Detection action group go once the component is gone; the group stays while another rule in
// the resource group names it; nothing is deleted while the component still exists.
import { FakeAzure, SUB, type FakeReq, type FakeRes } from "./fake/fakeAzure";
import { runCli, type CliResult } from "./fake/runCli";

const RG = "rg-ci-shared";
const APPI = "appi-dev-x7k2p9";
const RG_PATH = `/subscriptions/${SUB}/resourceGroups/${RG}`;
const COMPONENT_ID = `${RG_PATH}/providers/Microsoft.Insights/components/${APPI}`;
const RULES = `${RG_PATH}/providers/Microsoft.AlertsManagement/smartDetectorAlertRules`;
const RULE = `Failure Anomalies - ${APPI}`;
const RULE_PATH = `${RULES}/${RULE}`;
const GROUP = "Application Insights Smart Detection";
const GROUP_PATH = `${RG_PATH}/providers/Microsoft.Insights/actionGroups/${GROUP}`;
// As ARM writes it in a rule (lower-case segments, as in examples/SmartDetectorAlertRule_List.json).
const GROUP_REF = `/subscriptions/${SUB}/resourcegroups/${RG}/providers/microsoft.insights/actiongroups/${GROUP.toLowerCase()}`;

const fake = new FakeAzure();
const outputs: CliResult[] = [];
beforeAll(() => fake.start());
afterAll(() => fake.stop());
beforeEach(() => fake.reset());

async function cleanup(id = COMPONENT_ID, extra: string[] = []): Promise<CliResult> {
  const r = await runCli(
    "delete-smart-detection",
    ["--app-insights-id", id, "--poll-seconds", "0.05", ...extra],
    fake.env(),
  );
  outputs.push(r);
  return r;
}

const notFound = (what: string): FakeRes => ({
  status: 404,
  body: { error: { code: "ResourceNotFound", message: `${what} was not found.` } },
});
const badVersion = (req: FakeReq): FakeRes => ({
  status: 400,
  body: {
    error: { code: "InvalidApiVersionParameter", message: `api-version ${req.query.get("api-version")}` },
  },
});

/** A handler that answers only for the given api-version (ARM answers 400 to any other). */
const at =
  (version: string, answer: FakeRes | ((req: FakeReq) => FakeRes)) =>
  (req: FakeReq): FakeRes =>
    req.query.get("api-version") !== version
      ? badVersion(req)
      : typeof answer === "function"
        ? answer(req)
        : answer;

/** A smart detector rule in the 2021-04-01 shape (SmartDetectorAlertRulesApi.json AlertRule). */
function ruleBody(name: string, scope: string, groups: string[]) {
  return {
    id: `${RULES}/${name}`,
    type: "Microsoft.AlertsManagement/smartDetectorAlertRules",
    name,
    location: "global",
    properties: {
      description:
        "Failure Anomalies notifies you of an unusual rise in the rate of failed HTTP requests or dependency calls.",
      state: "Enabled",
      severity: "Sev3",
      frequency: "PT1M",
      detector: { id: "FailureAnomaliesDetector" },
      scope: [scope],
      actionGroups: { groupIds: groups },
    },
  };
}

const groupBody = {
  id: GROUP_PATH,
  type: "Microsoft.Insights/ActionGroups",
  name: GROUP,
  location: "Global",
  properties: { groupShortName: "SmartDetect", enabled: true, emailReceivers: [], armRoleReceivers: [] },
};

/**
 * The resource group as Azure leaves it after the component's delete: `rules` (name → body) and the action group;
 * DELETEs remove them, GETs and the list answer from what is left. Returns the DELETE requests.
 */
function azure(rules: Map<string, object>, group: { exists: boolean }): FakeReq[] {
  const deletes: FakeReq[] = [];
  fake.on(
    "GET",
    COMPONENT_ID,
    at("2020-02-02", notFound(`The Resource 'Microsoft.Insights/components/${APPI}'`)),
  );
  fake.on(
    "GET",
    RULES,
    at("2021-04-01", () => ({ status: 200, body: { value: [...rules.values()], nextLink: null } })),
  );
  fake.on(
    "GET",
    /\/smartDetectorAlertRules\/[^/]+$/i,
    at("2021-04-01", (req) => {
      const body = rules.get(req.path.split("/").pop()!);
      return body ? { status: 200, body } : notFound("Alert rule");
    }),
  );
  fake.on(
    "DELETE",
    /\/smartDetectorAlertRules\/[^/]+$/i,
    at("2021-04-01", (req) => {
      deletes.push(req);
      // 204: "The Smart Detector alert rule does not exist. It may have already been deleted."
      return { status: rules.delete(req.path.split("/").pop()!) ? 200 : 204 };
    }),
  );
  fake.on(
    "GET",
    GROUP_PATH,
    at("2023-01-01", () => (group.exists ? { status: 200, body: groupBody } : notFound("ActionGroup"))),
  );
  fake.on(
    "DELETE",
    GROUP_PATH,
    at("2023-01-01", (req) => {
      deletes.push(req);
      const was = group.exists;
      group.exists = false;
      return { status: was ? 200 : 204 };
    }),
  );
  return deletes;
}

test("the component gone: the rule and the unused action group are deleted, each with its provider's api-version", async () => {
  const rules = new Map<string, object>([[RULE, ruleBody(RULE, COMPONENT_ID, [GROUP_REF])]]);
  const group = { exists: true };
  const deletes = azure(rules, group);
  const r = await cleanup();
  expect(r.code).toBe(0);
  expect(r.json).toEqual({
    rule: RULE,
    ruleDeleted: true,
    actionGroup: GROUP,
    actionGroupDeleted: true,
    actionGroupKeptFor: [],
  });
  expect(deletes.map((d) => [d.path, d.query.get("api-version")])).toEqual([
    [RULE_PATH, "2021-04-01"],
    [GROUP_PATH, "2023-01-01"],
  ]);
  expect(rules.size).toBe(0);
  expect(group.exists).toBe(false);
  // Nothing was answered 400 for a wrong api-version.
  expect(r.stderr).not.toContain("InvalidApiVersionParameter");
  expect(r.stderr).toContain(`rule '${RULE}': deleted`);
});

test("another rule in the resource group still names the action group: the rule goes, the group stays", async () => {
  const other = "Failure Anomalies - appi-pr42-k3m9q1";
  const rules = new Map<string, object>([
    [RULE, ruleBody(RULE, COMPONENT_ID, [GROUP_REF])],
    [
      other,
      ruleBody(other, `${RG_PATH}/providers/microsoft.insights/components/appi-pr42-k3m9q1`, [GROUP_REF]),
    ],
  ]);
  const group = { exists: true };
  const deletes = azure(rules, group);
  const r = await cleanup();
  expect(r.code).toBe(0);
  expect(r.json).toMatchObject({ ruleDeleted: true, actionGroupDeleted: false, actionGroupKeptFor: [other] });
  expect(deletes.map((d) => d.path)).toEqual([RULE_PATH]);
  expect(group.exists).toBe(true);
  expect([...rules.keys()]).toEqual([other]);
  expect(r.stderr).toContain(`kept, still used by '${other}'`);
});

test("a rule pointed at another action group does not keep ours; that other group is never touched", async () => {
  const mine = `${RG_PATH}/providers/Microsoft.Insights/actionGroups/ops-oncall`;
  const rules = new Map<string, object>([[RULE, ruleBody(RULE, COMPONENT_ID, [mine])]]);
  const group = { exists: true };
  const deletes = azure(rules, group);
  const r = await cleanup();
  expect(r.code).toBe(0);
  expect(r.json).toMatchObject({ ruleDeleted: true, actionGroupDeleted: true });
  expect(deletes.map((d) => d.path)).toEqual([RULE_PATH, GROUP_PATH]);
  expect(fake.count("DELETE", /ops-oncall/)).toBe(0);
});

test("already clean (a second destroy, or Azure never added them): success with nothing deleted", async () => {
  const deletes = azure(new Map(), { exists: false });
  const r = await cleanup();
  expect(r.code).toBe(0);
  expect(r.json).toEqual({
    rule: RULE,
    ruleDeleted: false,
    actionGroup: GROUP,
    actionGroupDeleted: false,
    actionGroupKeptFor: [],
  });
  expect(deletes).toEqual([]);
  expect(r.stderr).toContain("not there");
});

test("the component still exists: it waits for its delete before touching the rule", async () => {
  const rules = new Map<string, object>([[RULE, ruleBody(RULE, COMPONENT_ID, [GROUP_REF])]]);
  const deletes = azure(rules, { exists: true });
  const live: FakeRes = {
    status: 200,
    body: { id: COMPONENT_ID, name: APPI, kind: "web", location: "westeurope" },
  };
  let gets = 0;
  fake.on(
    "GET",
    COMPONENT_ID,
    at("2020-02-02", () => (++gets < 3 ? live : notFound("component"))),
  );
  const r = await cleanup();
  expect(r.code).toBe(0);
  expect(gets).toBe(3);
  expect(r.stderr).toContain("still exists; waiting for its delete");
  // The rule's DELETE came after the component's last GET.
  const order = fake.requests.map((q) => `${q.method} ${q.path}`);
  expect(order.lastIndexOf(`GET ${COMPONENT_ID}`)).toBeLessThan(order.indexOf(`DELETE ${RULE_PATH}`));
  expect(deletes).toHaveLength(2);
});

test("the component never goes: it fails at the deadline, having deleted nothing", async () => {
  const deletes = azure(new Map([[RULE, ruleBody(RULE, COMPONENT_ID, [GROUP_REF])]]), { exists: true });
  fake.on("GET", COMPONENT_ID, at("2020-02-02", { status: 200, body: { id: COMPONENT_ID, name: APPI } }));
  const r = await cleanup(COMPONENT_ID, ["--timeout-minutes", "0.005"]);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain(`App Insights ${APPI} still exists`);
  expect(r.stderr).toContain("Delete the component first");
  expect(String(r.json?.error)).toContain("would come back");
  expect(deletes).toEqual([]);
});

test("a subscription that never registered Microsoft.AlertsManagement has no rule: not an error", async () => {
  const deletes = azure(new Map(), { exists: false });
  fake.on("GET", RULE_PATH, {
    status: 409,
    body: {
      error: {
        code: "MissingSubscriptionRegistration",
        message: "The subscription is not registered to use namespace 'Microsoft.AlertsManagement'.",
      },
    },
  });
  const r = await cleanup();
  expect(r.code).toBe(0);
  expect(r.json).toMatchObject({ ruleDeleted: false, actionGroupDeleted: false });
  expect(deletes).toEqual([]);
});

test("an id that is not a component's is a usage error before any request", async () => {
  const r = await cleanup(`${RG_PATH}/providers/Microsoft.Insights/actionGroups/${APPI}`);
  expect(r.code).toBe(2);
  expect(r.stderr).toContain("providers/Microsoft.Insights/components/<name>");
  expect(r.stderr).toContain(
    "usage: bash scripts/env.sh tsx ops/delete-smart-detection.ts --app-insights-id <ARM id>",
  );
  expect(fake.requests.filter((q) => q.path.startsWith("/subscriptions/"))).toHaveLength(0);
});

test("no secret appears in any output", () => {
  expect(outputs.length).toBeGreaterThan(5);
  for (const o of outputs) for (const s of fake.secrets()) expect(o.stdout + o.stderr).not.toContain(s);
});
